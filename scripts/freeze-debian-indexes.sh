#!/usr/bin/env bash
# Downloads, once, a frozen copy of the Debian indexes the test images use (InRelease + main amd64
# Packages.xz, also under by-hash/) from the mirrors this machine's apt configuration names:
#   OUT/debian/dists/{bookworm,bookworm-updates,bullseye,bullseye-updates}/...
#   OUT/debian-security/dists/{bookworm-security,bullseye-security}/...
# Tests serve OUT on 127.0.0.1, so they never need the network themselves.
#   scripts/freeze-debian-indexes.sh OUT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
out=${1:?usage: freeze-debian-indexes.sh OUT}
[ -f "$out/.complete" ] && { echo "$out"; exit 0; }
mirror=$(imgsec_debian_mirror)
security=$(imgsec_debian_security_mirror | head -1)
fetch() {  # fetch URL FILE
  mkdir -p "$(dirname "$2")"
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
PY
}
freeze() {  # freeze BASE-URL ARCHIVE-DIR SUITE
  local dists="$out/$2/dists/$3" sum try
  for try in 1 2 3; do  # the mirror may change between the two downloads: the index must match the InRelease
    fetch "$1/dists/$3/InRelease" "$dists/InRelease"
    fetch "$1/dists/$3/main/binary-amd64/Packages.xz" "$dists/main/binary-amd64/Packages.xz"
    sum=$(sha256sum "$dists/main/binary-amd64/Packages.xz" | cut -d' ' -f1)
    grep -q "$sum" "$dists/InRelease" && break
    [ "$try" = 3 ] && { echo "freeze: $1 $3: Packages.xz does not match its InRelease" >&2; return 1; }
  done
  mkdir -p "$dists/main/binary-amd64/by-hash/SHA256"
  cp "$dists/main/binary-amd64/Packages.xz" "$dists/main/binary-amd64/by-hash/SHA256/$sum"
}
rm -rf "$out"
for suite in bookworm bookworm-updates bullseye bullseye-updates; do freeze "$mirror" debian "$suite"; done
for suite in bookworm-security bullseye-security; do freeze "$security" debian-security "$suite"; done
printf '%s\n%s\n' "$mirror" "$security" > "$out/origins"
touch "$out/.complete"
echo "$out"
