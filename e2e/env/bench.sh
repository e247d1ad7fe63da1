#!/usr/bin/env bash
# make bench: time kplay against podman 4.3 (`podman play kube`) on the same manifests:
# a 10-replica Deployment (up, ps, down) and a single pod (up, down). Installs and configures
# podman for this (runc, ulimits that work here, the local registry as docker.io's mirror).
# Not part of `make test`. RUNS=N sets the rounds per measurement (median is printed).
set -euo pipefail

cd "$(dirname "$0")/../.."
KPLAY=${KPLAY_BIN:-bin/kplay}
RUNS=${RUNS:-3}
REGISTRY=127.0.0.1:5731
E2E_ROOT=/var/lib/kplay-e2e
KPLAY_FLAGS=(--hosts-dir "$E2E_ROOT/certs.d" --containerd-namespace kplay-bench)

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

write_manifests() {
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	cat >"$dir/deploy.yaml" <<-YAML
	apiVersion: apps/v1
	kind: Deployment
	metadata:
	  name: bench
	spec:
	  replicas: 10
	  selector:
	    matchLabels: {app: bench}
	  template:
	    metadata:
	      labels: {app: bench}
	    spec:
	      containers:
	      - name: nginx
	        image: docker.io/library/nginx:latest
	        imagePullPolicy: IfNotPresent
	YAML
	cat >"$dir/pod.yaml" <<-YAML
	apiVersion: v1
	kind: Pod
	metadata:
	  name: single
	spec:
	  containers:
	  - name: httpd
	    image: docker.io/library/httpd:latest
	    imagePullPolicy: IfNotPresent
	YAML
}

# ms CMD... runs CMD quietly and prints how many milliseconds it took; fails if CMD does.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>"$dir/last.err" || { cat "$dir/last.err" >&2; die "failed: $*"; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kplay() { "$KPLAY" "${KPLAY_FLAGS[@]}" "$@"; }

declare -A result
measure() { # measure TOOL up|ps|down... fills result[TOOL,STEP] with medians of RUNS rounds
	local tool=$1 i step
	local -A samples=()
	for i in $(seq "$RUNS"); do
		if [ "$tool" = kplay ]; then
			samples[deploy-up]+=" $(ms kplay up -q -f "$dir/deploy.yaml")"
			samples[deploy-ps]+=" $(ms kplay ps)"
			samples[deploy-down]+=" $(ms kplay down -f "$dir/deploy.yaml")"
			samples[pod-up]+=" $(ms kplay up -q -f "$dir/pod.yaml")"
			samples[pod-down]+=" $(ms kplay down -f "$dir/pod.yaml")"
		else
			samples[deploy-up]+=" $(ms podman play kube "$dir/deploy.yaml")"
			samples[deploy-ps]+=" $(ms podman pod ps)"
			samples[deploy-down]+=" $(ms podman play kube --down "$dir/deploy.yaml")"
			samples[pod-up]+=" $(ms podman play kube "$dir/pod.yaml")"
			samples[pod-down]+=" $(ms podman play kube --down "$dir/pod.yaml")"
		fi
	done
	for step in "${!samples[@]}"; do
		# shellcheck disable=SC2086
		result[$tool,$step]=$(median ${samples[$step]})
	done
}

main() {
	setup_podman
	write_manifests
	# One unmeasured round each pulls the images and creates the networks.
	echo "warming up (pulls, networks)"
	ms kplay up -q -f "$dir/deploy.yaml" >/dev/null
	ms kplay up -q -f "$dir/pod.yaml" >/dev/null
	ms kplay down -f "$dir/deploy.yaml" -f "$dir/pod.yaml" >/dev/null
	ms podman pull docker.io/library/nginx:latest >/dev/null
	ms podman pull docker.io/library/httpd:latest >/dev/null
	ms podman play kube "$dir/pod.yaml" >/dev/null
	ms podman play kube --down "$dir/pod.yaml" >/dev/null

	echo "measuring, median of $RUNS rounds"
	measure kplay
	measure podman

	local pv
	pv=$(podman version --format '{{.Client.Version}}' 2>/dev/null || echo '?')
	printf '\n%-28s %10s %14s\n' "" "kplay" "podman $pv"
	local step label
	for step in deploy-up deploy-ps deploy-down pod-up pod-down; do
		case $step in
		deploy-up) label="10-replica Deployment up" ;;
		deploy-ps) label="ps with 10 pods" ;;
		deploy-down) label="10-replica Deployment down" ;;
		pod-up) label="1 pod up" ;;
		pod-down) label="1 pod down" ;;
		esac
		awk -v l="$label" -v k="${result[kplay,$step]}" -v p="${result[podman,$step]}" \
			'BEGIN {printf "%-28s %8.2f s %12.2f s\n", l, k / 1000, p / 1000}'
	done
}

main "$@"
