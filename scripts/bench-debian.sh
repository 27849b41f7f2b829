#!/bin/sh
# Times the Debian Packages parser against `xz -dc` of the same file, and the version-compare throughput.
# The mirror is the one this machine's own apt configuration names (first deb822 URIs: or sources.list
# line, excluding security); the file is cached under /var/tmp.
set -eu
cd "$(dirname "$0")/.."
suite=${SUITE:-bookworm}
cache=/var/tmp/imgsec-bench/${suite}_main_binary-amd64_Packages.xz
if [ ! -s "$cache" ]; then
    uri=$( (grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
            grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/\[[^]]*\]//' | awk '{print $2}') \
           | grep -v security | head -n 1)
    [ -n "$uri" ] || { echo "bench-debian: no mirror URI in this machine's apt sources" >&2; exit 1; }
    mkdir -p "$(dirname "$cache")"
    echo "fetching ${uri%/}/dists/$suite/main/binary-amd64/Packages.xz" >&2
    curl -fsSL -o "$cache.tmp" "${uri%/}/dists/$suite/main/binary-amd64/Packages.xz"
    mv "$cache.tmp" "$cache"
fi
IMGSEC_BENCH=1 IMGSEC_BENCH_PACKAGES="$cache" \
    swift test -c release --scratch-path "${SCRATCH:-.build-bench-apt}" --filter AptBenchmarkTests 2>&1 | grep 'BENCH'
