#!/usr/bin/env bash
# Benchmark of the Update Checker, each number next to a peer measured in the same run:
#  1. one registered 912-package Debian 12 machine checked from warm caches vs `apt list --upgradable` on the
#     same root (after `apt-get update` against the same indexes);
#  2. N registered machines (default 1000) sharing repositories: register, first check, cached check;
#  3. the repository import of the first check vs `xz -dc` of the same indexes.
# The real bookworm-updates/-security indexes are served on 127.0.0.1 (scripts/fixture-mirror.sh).
#   scripts/bench-check.sh [N]     (N=0: part 1 only)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000}
cd "$here/.."
. "$here/lib.sh"
bin=$(imgsec_build)
work=$(mktemp -d /var/tmp/imgsec-bench-check.XXXXXX)
trap 'kill -9 $server 2>/dev/null; rm -rf "$work"' EXIT
imgsec_fixture_server "$work"

template="$work/template"
imgsec_template_root "$template" "$base"
# apt's own directories, for the apt run beside imgsec's.
mkdir -p "$template/var/lib/apt/lists/partial" "$template/var/cache/apt/archives/partial" "$template/etc/apt/preferences.d" "$template/etc/apt/apt.conf.d"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
store="$work/store.sqlite"

# 1. One machine, warm caches, vs apt: 31 runs of each, interleaved so that both see the same machine load;
#    the medians are compared.
"$bin" scan --root "$template" --store "$store" -q >/dev/null || [ $? = 100 ]
cat > "$work/apt.conf" <<EOS
Dir "$template/";
Dir::State::status "$template/var/lib/dpkg/status";
APT::Architecture "amd64";
Debug::NoLocking "true";
Acquire::Languages "none";
APT::Sandbox::User "root";
EOS
APT_CONFIG="$work/apt.conf" apt-get -qq update >/dev/null
ours_runs=(); apt_runs=()
for _ in $(seq 31); do
  # bash's own clock (no `date` process inside the measured time), in microseconds.
  a=${EPOCHREALTIME/./}; "$bin" check "$template" --store "$store" -q >/dev/null || [ $? = 100 ]; b=${EPOCHREALTIME/./}
  APT_CONFIG="$work/apt.conf" apt list --upgradable >/dev/null 2>&1; c=${EPOCHREALTIME/./}
  ours_runs+=($(( b - a ))); apt_runs+=($(( c - b )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'; }
ours=$(median "${ours_runs[@]}"); apt=$(median "${apt_runs[@]}")
echo "1. one 912-package machine, warm caches, median of 31: imgsec check ${ours} ms (whole process) vs apt list --upgradable ${apt} ms; ratio apt/imgsec $(awk -v a="$apt" -v b="$ours" 'BEGIN { printf "%.2f", a / b }')x"

# 2. N machines sharing repositories (hard links: no extra disk).
[ "$n" -gt 0 ] || exit 0
roots=()
for i in $(seq 1 "$n"); do
  r="$work/m/$i"; mkdir -p "$r"; cp -al "$template/." "$r/"; roots+=(--root "$r")
done
store2="$work/store2.sqlite"
t0=$(now); "$bin" register "${roots[@]}" --store "$store2" -q >/dev/null; t1=$(now)
"$bin" check --all --store "$store2" -q --format json > "$work/first.json" || [ $? = 100 ]; t2=$(now)
"$bin" check --all --store "$store2" -q --format json > "$work/second.json" || [ $? = 100 ]; t3=$(now)
echo "2. $n machines: register $(elapsed "$t0" "$t1") s; first check (repositories fetched once, every machine computed) $(elapsed "$t1" "$t2") s; cached check $(elapsed "$t2" "$t3") s (whole process)"

# 3. Repository import vs decompression of the same indexes.
rm -f "$work/store3.sqlite"*
t0=$(now); "$bin" scan --root "$template" --store "$work/store3.sqlite" -q >/dev/null || [ $? = 100 ]; t1=$(now)
t2=$(now); xz -dc fixtures/repo-metadata/debian-apt-indexes/bookworm-security_main_binary-amd64_Packages.xz >/dev/null; cat fixtures/repo-metadata/debian-apt-indexes/bookworm-updates_main_binary-amd64_Packages >/dev/null; t3=$(now)
echo "3. first scan of one machine (fetch over HTTP, gpgv, checksums, parse, decide, store) $(elapsed "$t0" "$t1") s vs xz -dc of the same indexes $(elapsed "$t2" "$t3") s"
