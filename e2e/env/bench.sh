#!/usr/bin/env bash
# make bench: installs and configures podman (runc, ulimits that work here, the local registry
# as docker.io's mirror), builds the benchmark driver (e2e/bench) and the floor
# (e2e/bench/floor) and runs them: kplay against podman 4.3 and the floor, up and down at 1, 10
# and 50 pods, ps with 50, memory per pod with 10; see docs/benchmarks.md. Not part of
# `make test`. RUNS=N sets the rounds (default 5); BENCH_JSON and BENCH_MD the output files
# (empty: none); further arguments go to the driver (bin/bench -h lists them).
set -euo pipefail

cd "$(dirname "$0")/../.."
KPLAY=${KPLAY_BIN:-bin/kplay}
RUNS=${RUNS:-5}
REGISTRY=127.0.0.1:5731
E2E_ROOT=/var/lib/kplay-e2e

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$KPLAY" ] || die "$KPLAY is missing; run make build"

setup_podman() {
	# podman builds its pause image from catatonit. No recommends, so crun (which fails on
	# these hybrid cgroups) stays out.
	local missing=() p
	for p in podman catatonit; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		command -v apt-get >/dev/null || die "podman is missing and this is not Debian/Ubuntu"
		echo "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	local marker="# written by kplay e2e/env/bench.sh" conf=/etc/containers/containers.conf
	if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
		# Someone else's configuration: leave it alone and point podman at ours.
		conf=$E2E_ROOT/podman/containers.conf
		export CONTAINERS_CONF=$conf
	fi
	mkdir -p "$(dirname "$conf")" /etc/containers/registries.conf.d
	cat >"$conf" <<-TOML
	$marker
	[containers]
	# The hard nofile limit is 20000 here; podman's defaults ask for more and fail.
	default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

	[engine]
	runtime = "runc"
	TOML
	cat >/etc/containers/registries.conf.d/50-kplay-e2e.conf <<-TOML
	$marker
	unqualified-search-registries = ["docker.io"]
	short-name-mode = "permissive"

	[[registry]]
	prefix = "docker.io"
	location = "docker.io"

	[[registry.mirror]]
	location = "$REGISTRY"
	insecure = true
	TOML
}

main() {
	setup_podman
	# The driver and the floor are built here, not by make build: they are no part of kplay.
	"${GO:-go}" build -o bin/bench ./e2e/bench
	"${GO:-go}" build -o bin/bench-floor ./e2e/bench/floor
	exec bin/bench -kplay "$KPLAY" -floor bin/bench-floor -runs "$RUNS" -hosts-dir "$E2E_ROOT/certs.d" \
		-json "${BENCH_JSON-docs/benchmarks.json}" -md "${BENCH_MD-docs/benchmarks.md}" \
		-command "${BENCH_COMMAND:-make bench RUNS=$RUNS}" "$@"
}

main "$@"
