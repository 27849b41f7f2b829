#!/usr/bin/env bash
# The main job: installs what is needed, builds a Debian 12 demo image (once), and sweeps an image store made of
# it and three qcow2 clones of it (one appliance; the clones share one computed answer): which packages need
# updates, of which significance, against the Debian mirror this machine's apt configuration names. Then the
# pre-start gate of the image (answered from the store), and its pending updates in detail. When that mirror
# cannot be reached, the real fixture indexes are served on 127.0.0.1 instead. Run again, nothing is reopened.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
"$here/setup.sh"
image=$("$here/build-test-images.sh" --demo-only | tail -1)
cd "$here/.."
bin=$(imgsec_build)
export IMGSEC_STORE=${IMGSEC_STORE:-/var/tmp/imgsec-demo/imgsec.sqlite}
mirror=$(imgsec_debian_mirror)
security=$(imgsec_debian_security_mirror | head -1)
args=()
if ! python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$mirror/dists/bookworm/InRelease" 2>/dev/null; then
  echo "demo: the mirror cannot be reached; serving the fixture indexes on 127.0.0.1 instead" >&2
  tree=$(mktemp -d)
  "$here/fixture-mirror.sh" "$tree" >/dev/null
  python3 fixtures/tools/test_http_server.py --root "$tree" --port 0 --port-file "$tree/port" >/dev/null 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$tree"' EXIT
  for _ in $(seq 50); do [ -s "$tree/port" ] && break; sleep 0.1; done
  port=$(cat "$tree/port")
  args+=(--mirror "$mirror=http://127.0.0.1:$port/debian" --ignore-valid-until)
  [ -n "$security" ] && args+=(--mirror "$security=http://127.0.0.1:$port/debian-security")
fi
# The image store: the demo image and three clones of it (overlays; the image is linked, never written).
demo=$(dirname "$IMGSEC_STORE")/images
mkdir -p "$demo"
[ -e "$demo/deb12.qcow2" ] || ln "$image" "$demo/deb12.qcow2" 2>/dev/null || cp --reflink=auto "$image" "$demo/deb12.qcow2"
# Made under a hidden name (a sweep skips hidden files) and renamed: an interrupted run leaves no half clone.
rm -f "$demo"/.clone-*.tmp
for i in 1 2 3; do
  [ -e "$demo/clone-$i.qcow2" ] && continue
  qemu-img create -q -f qcow2 -F qcow2 -b deb12.qcow2 "$demo/.clone-$i.tmp"
  mv "$demo/.clone-$i.tmp" "$demo/clone-$i.qcow2"
done
# 100 means "updates pending", 2 "the gate fails the image": the demo ran as it should.
expect() { local rc=0; "$@" || rc=$?; for ok in 0 100 2; do [ $rc = $ok ] && return 0; done; exit $rc; }
echo "\$ imgsec sweep $demo --allow-backing-file" >&2
expect "$bin" sweep "$demo" --allow-backing-file "${args[@]}"
echo "\$ imgsec gate $demo/deb12.qcow2" >&2
expect "$bin" gate "$demo/deb12.qcow2" "${args[@]}"
echo "\$ imgsec check --details $demo/deb12.qcow2" >&2
expect "$bin" check --details "${args[@]}" "$demo/deb12.qcow2"
