#!/usr/bin/env bash
# The main job: installs what is needed, builds a Debian 12 demo image (once), and scans it: which of its
# packages need updates, of which significance, against the Debian mirror this machine's apt configuration
# names. When that mirror cannot be reached, the real fixture indexes are served on 127.0.0.1 instead.
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
echo "\$ imgsec scan --details $image" >&2
set +e
"$bin" scan --details "${args[@]}" "$image"
rc=$?
set -e
# 100 means "updates pending": the demo ran as it should.
[ $rc = 0 ] || [ $rc = 100 ] || exit $rc
