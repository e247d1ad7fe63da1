#!/usr/bin/env bash
# make deps: install and start what kplay's e2e tests, demo and bench need on Debian/Ubuntu:
# containerd, runc, the CNI plugins, a local registry on 127.0.0.1 serving look-alikes of the
# official httpd, nginx and busybox images built offline from busybox-static, and a hosts
# directory that makes that registry a mirror of docker.io. Idempotent and quick when done.
set -euo pipefail

E2E_ROOT=/var/lib/kplay-e2e
REGISTRY=127.0.0.1:5731
HOSTS_DIR=$E2E_ROOT/certs.d
IMAGES_DIR=$E2E_ROOT/images
CONTAINERD_LOG=/var/log/kplay-e2e-containerd.log
REGISTRY_LOG=/var/log/kplay-e2e-registry.log
PACKAGES=(containerd runc containernetworking-plugins iptables busybox-static docker-registry skopeo curl jq)

say() { printf '%s\n' "$*"; }
die() { printf 'deps: %s\n' "$*" >&2; exit 1; }

check_machine() {
	[ "$(id -u)" = 0 ] || die "must run as root (try: sudo make deps)"
	command -v apt-get >/dev/null && command -v dpkg-query >/dev/null ||
		die "only Debian and Ubuntu (apt-get) are supported; install by hand: ${PACKAGES[*]}"
}

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	say "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for CMD... retries CMD for up to 10 s.
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

start_containerd() {
	ctr version >/dev/null 2>&1 && return
	say "starting containerd (log: $CONTAINERD_LOG)"
	setsid containerd >>"$CONTAINERD_LOG" 2>&1 </dev/null &
	wait_for ctr version || die "containerd did not start; see $CONTAINERD_LOG"
}

registry_serves() { curl -fsS -o /dev/null "http://$REGISTRY/v2/"; }

start_registry() {
	registry_serves 2>/dev/null && return
	mkdir -p "$E2E_ROOT/registry"
	cat >"$E2E_ROOT/registry.yml" <<-YAML
	version: 0.1
	log:
	  level: warn
	storage:
	  filesystem:
	    rootdirectory: $E2E_ROOT/registry
	  delete:
	    enabled: true
	http:
	  addr: $REGISTRY
	YAML
	say "starting docker-registry on $REGISTRY (log: $REGISTRY_LOG)"
	setsid docker-registry serve "$E2E_ROOT/registry.yml" >>"$REGISTRY_LOG" 2>&1 </dev/null &
	wait_for registry_serves || die "docker-registry did not start; see $REGISTRY_LOG"
}

write_hosts_dir() {
	mkdir -p "$HOSTS_DIR/docker.io" "$HOSTS_DIR/$REGISTRY"
	cat >"$HOSTS_DIR/docker.io/hosts.toml" <<-TOML
	# The local e2e registry mirrors docker.io (written by kplay's e2e/env/deps.sh).
	server = "https://registry-1.docker.io"

	[host."http://$REGISTRY"]
	  capabilities = ["pull", "resolve"]
	TOML
	cat >"$HOSTS_DIR/$REGISTRY/hosts.toml" <<-TOML
	server = "http://$REGISTRY"

	[host."http://$REGISTRY"]
	  capabilities = ["pull", "resolve", "push"]
	TOML
}

# --- images -------------------------------------------------------------------------------
# Each image is a busybox root filesystem plus a few files, saved as a docker-save archive
# with a deterministic layer, so the same inputs always give the same digests.

base_rootfs() {
	local root=$1
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/tmp}
	chmod 1777 "$root/tmp" "$root/var/tmp"
	chmod 0700 "$root/root"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	chroot "$root" /bin/busybox --install -s
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

build_httpd() {
	local root=$1
	mkdir -p "$root/usr/local/apache2/htdocs" "$root/usr/local/apache2/bin"
	printf '<html><body><h1>It works!</h1></body></html>\n' >"$root/usr/local/apache2/htdocs/index.html"
	# busybox sh as PID 1 ignores signals without a handler, hence the trap.
	cat >"$root/usr/local/apache2/bin/httpd-foreground" <<-'SH'
	#!/bin/sh
	trap 'exit 0' WINCH TERM
	httpd -f -p 80 -h /usr/local/apache2/htdocs &
	wait
	SH
	chmod 0755 "$root/usr/local/apache2/bin/httpd-foreground"
	jq -n '{
		Cmd: ["httpd-foreground"],
		WorkingDir: "/usr/local/apache2",
		Env: ["PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HTTPD_PREFIX=/usr/local/apache2"],
		StopSignal: "SIGWINCH",
		ExposedPorts: {"80/tcp": {}}
	}'
}

build_nginx() {
	local root=$1
	mkdir -p "$root/usr/share/nginx/html" "$root/usr/local/sbin"
	printf '<html><body><h1>Welcome to nginx!</h1></body></html>\n' >"$root/usr/share/nginx/html/index.html"
	cat >"$root/usr/local/sbin/nginx" <<-'SH'
	#!/bin/sh
	# Accepts nginx's usual arguments ("-g 'daemon off;'") and serves in the foreground.
	trap 'exit 0' QUIT TERM
	httpd -f -p 80 -h /usr/share/nginx/html &
	wait
	SH
	chmod 0755 "$root/usr/local/sbin/nginx"
	jq -n '{
		Cmd: ["nginx", "-g", "daemon off;"],
		Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0"],
		StopSignal: "SIGQUIT",
		ExposedPorts: {"80/tcp": {}}
	}'
}

build_busybox() {
	jq -n '{Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}'
}

# kplay-cmdargs has both ENTRYPOINT and CMD, so tests can tell the four command/args cases apart.
build_kplay_cmdargs() {
	jq -n '{Entrypoint: ["echo", "from-entrypoint"], Cmd: ["from-cmd"],
		Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}'
}

# kplay-noenv sets no environment at all, as some images built from scratch do.
build_kplay_noenv() {
	jq -n '{Cmd: ["sh"]}'
}

# archive NAME writes $IMAGES_DIR/NAME.tar unless its inputs are unchanged.
archive() {
	local name=$1 fn=build_${1//-/_}
	local inputs stamp=$IMAGES_DIR/$name.inputs tarball=$IMAGES_DIR/$name.tar
	inputs=$( { sha256sum /bin/busybox; declare -f base_rootfs "$fn" archive; } | sha256sum | cut -d' ' -f1)
	if [ -f "$tarball" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
		return
	fi
	say "building image $name"
	local work
	work=$(mktemp -d)
	base_rootfs "$work/rootfs"
	"$fn" "$work/rootfs" >"$work/container-config.json"
	mkdir "$work/out"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/out/layer.tar" .
	local diff_id config_digest
	diff_id=sha256:$(sha256sum "$work/out/layer.tar" | cut -d' ' -f1)
	jq -c --arg diff "$diff_id" '{
		architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
		config: .,
		rootfs: {type: "layers", diff_ids: [$diff]},
		history: [{created: "1970-01-01T00:00:00Z", created_by: "kplay e2e/env/deps.sh"}]
	}' "$work/container-config.json" >"$work/config.json"
	config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/out/$config_digest.json"
	jq -n -c --arg cfg "$config_digest.json" --arg tag "docker.io/library/$name:latest" \
		'[{Config: $cfg, RepoTags: [$tag], Layers: ["layer.tar"]}]' >"$work/out/manifest.json"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/out" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	echo "$inputs" >"$stamp"
	rm -rf "$work"
}

# config_digest_of_archive NAME prints the sha256 of the image config inside NAME.tar.
config_digest_of_archive() {
	tar -xOf "$IMAGES_DIR/$1.tar" ./manifest.json | jq -r '.[0].Config' | sed 's/\.json$//'
}

push() {
	local name=$1 want have
	want=sha256:$(config_digest_of_archive "$name")
	have=$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/library/$name/manifests/latest" 2>/dev/null | jq -r '.config.digest' 2>/dev/null || true)
	[ "$have" = "$want" ] && return
	say "pushing $name to $REGISTRY"
	skopeo copy -q --dest-tls-verify=false "docker-archive:$IMAGES_DIR/$name.tar" "docker://$REGISTRY/library/$name:latest"
}

main() {
	check_machine
	install_packages
	start_containerd
	start_registry
	write_hosts_dir
	mkdir -p "$IMAGES_DIR"
	local name
	for name in httpd nginx busybox kplay-cmdargs kplay-noenv; do
		archive "$name"
		push "$name"
	done
	cat <<-EOF
	deps ready:
	  containerd   $(ctr version 2>/dev/null | awk '/Server:/{s=1} s&&/Version:/{print $2; exit}') on /run/containerd/containerd.sock (log: $CONTAINERD_LOG)
	  registry     http://$REGISTRY (data: $E2E_ROOT/registry, log: $REGISTRY_LOG)
	  images       httpd nginx busybox kplay-cmdargs kplay-noenv (archives: $IMAGES_DIR)
	  hosts dir    $HOSTS_DIR (docker.io is mirrored by the local registry; use --hosts-dir $HOSTS_DIR)
	  CNI plugins  /usr/lib/cni
	EOF
}

main "$@"
