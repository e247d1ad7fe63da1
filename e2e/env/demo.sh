#!/usr/bin/env bash
# make demo: run the user's apache Pod and show the page it serves on 127.0.0.1:45678.
# Expects `make build` and `make deps` (the Makefile runs both first).
set -euo pipefail

cd "$(dirname "$0")/../.."
KPLAY=${KPLAY_BIN:-bin/kplay}
HOSTS_DIR=/var/lib/kplay-e2e/certs.d

pod=../shared/examples/pod.yaml
[ -f "$pod" ] || pod=testdata/examples/pod.yaml
pod=$(realpath "$pod")

# The pod's hostPath volume has type Directory: it must exist.
mkdir -p /home/volumes/data

"$KPLAY" --hosts-dir "$HOSTS_DIR" up -f "$pod"

page=
for _ in $(seq 100); do
	page=$(curl -fsS http://127.0.0.1:45678/ 2>/dev/null) && break
	sleep 0.1
done
if [ -z "$page" ]; then
	echo "demo: the pod runs but http://127.0.0.1:45678/ does not answer" >&2
	"$KPLAY" ps >&2 || true
	exit 1
fi

echo
echo "\$ curl http://127.0.0.1:45678/"
echo "$page"
echo
"$KPLAY" ps
echo
echo "The pod keeps running. Stop it with:"
echo "  $KPLAY down -f $pod"
