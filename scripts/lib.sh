# Shared helpers for imgsec's scripts. Source it; do not run it.
# shellcheck shell=bash

# Installs Debian packages that are missing, without upgrading what the host already has.
# apt-get update runs once per machine (a stamp remembers it) and only when something is missing.
imgsec_apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "imgsec: installing ${missing[*]}" >&2
  if [ ! -f /var/lib/apt/periodic/imgsec-update-stamp ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
    apt-get update -q >&2
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/imgsec-update-stamp
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-upgrade --no-install-recommends "${missing[@]}" >&2
}

# Puts Swift on PATH (/opt/swift or /usr/share/swift) if it is not there yet.
imgsec_swift_path() {
  if ! command -v swift >/dev/null; then
    local d
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH" && break; done
  fi
  command -v swift >/dev/null || { echo "imgsec: Swift 6 is not installed (expected /opt/swift/usr/bin/swift)" >&2; return 1; }
}

# Builds the imgsec executable as it ships and prints its path: release, with the Swift runtime and Foundation
# linked in (--static-swift-stdlib), which takes ~10 ms off the start-up of every run. Every script builds imgsec
# through here: a build of the same .build directory with other flags would recompile everything.
imgsec_build() {
  imgsec_swift_path
  swift build -c release --static-swift-stdlib --product imgsec >&2
  echo "$(swift build -c release --static-swift-stdlib --show-bin-path)/imgsec"
}

# Prints the Debian mirror this machine's own apt configuration names (first non-security URI),
# read at run time so no host name is written into the repository.
imgsec_debian_mirror() {
  local uri=""
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'BEGIN{IGNORECASE=1} /^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($i !~ /security/) { print $i; exit } } }' "$f")
      [ -n "$uri" ] && break
    done
  fi
  [ -n "$uri" ] || { echo "imgsec: no Debian mirror found in /etc/apt" >&2; return 1; }
  echo "${uri%/}"
}

# The directory holding test images (built once, reused): IMGSEC_TEST_IMAGES or /var/tmp/imgsec-test-images.
imgsec_images_dir() {
  echo "${IMGSEC_TEST_IMAGES:-/var/tmp/imgsec-test-images}"
}

# Prints the Debian security mirror this machine's apt configuration names (the URI whose path mentions
# security), or nothing.
imgsec_debian_security_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{IGNORECASE=1} /^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /security/) { print $i; exit } }' "$f"
  done | head -1 | sed 's#/$##'
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/ && $i ~ /security/) { print $i; exit } }' "$f"
  done | head -1 | sed 's#/$##'
}

# Makes DIR the root of a benchmark machine: the dpkg status of a real 912-package Debian 12 machine, Debian's
# archive keyring, and deb822 sources for bookworm-updates and bookworm-security at BASE (a fixture mirror).
imgsec_template_root() {
  local dir=$1 base=$2
  mkdir -p "$dir/var/lib/dpkg" "$dir/etc/apt/sources.list.d" "$dir/usr/share/keyrings"
  cp fixtures/dpkg-status/this-machine_debian-12.status "$dir/var/lib/dpkg/status"
  cp /usr/share/keyrings/debian-archive-keyring.gpg "$dir/usr/share/keyrings/"
  printf 'ID=debian\nVERSION_ID="12"\n' > "$dir/etc/os-release"
  cat > "$dir/etc/apt/sources.list.d/debian.sources" <<EOS
Types: deb
URIs: $base/debian
Suites: bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $base/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
}

# Lays out the fixture mirror (scripts/fixture-mirror.sh) in WORK/mirror and serves it on 127.0.0.1; sets
# `server` (its PID, for the caller's trap) and `base` (its URL).
imgsec_fixture_server() {
  local work=$1
  "$(dirname "${BASH_SOURCE[0]}")/fixture-mirror.sh" "$work/mirror" >/dev/null
  python3 fixtures/tools/test_http_server.py --root "$work/mirror" --port 0 --port-file "$work/port" >/dev/null 2>&1 &
  server=$!
  disown "$server"
  local _
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  base="http://127.0.0.1:$(cat "$work/port")"
}
