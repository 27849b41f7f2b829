#!/usr/bin/env bash
# Lays out the real Debian indexes in fixtures/repo-metadata/debian-apt-indexes as a mirror tree:
#   DIR/debian/dists/bookworm-updates/{InRelease, main/binary-amd64/Packages}
#   DIR/debian-security/dists/bookworm-security/{InRelease, main/binary-amd64/Packages}
# each index also under by-hash/SHA256/ (the InRelease files say Acquire-By-Hash: yes).
#   scripts/fixture-mirror.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../fixtures/repo-metadata/debian-apt-indexes"
out=${1:?usage: fixture-mirror.sh DIR}
place() {  # place ARCHIVE SUITE FILE-IN-FIXTURES NAME
  local base="$out/$1/dists/$2"
  mkdir -p "$base/main/binary-amd64/by-hash/SHA256"
  cp "$src/$2_InRelease" "$base/InRelease"
  # The fixture's .xz was recompressed (see its PROVENANCE): serve what the InRelease lists, the plain index.
  case "$3" in *.xz) xz -dc "$src/$3" ;; *) cat "$src/$3" ;; esac > "$base/main/binary-amd64/$4"
  cp "$base/main/binary-amd64/$4" "$base/main/binary-amd64/by-hash/SHA256/$(sha256sum "$base/main/binary-amd64/$4" | cut -d' ' -f1)"
}
place debian bookworm-updates bookworm-updates_main_binary-amd64_Packages Packages
place debian-security bookworm-security bookworm-security_main_binary-amd64_Packages.xz Packages
echo "$out"
