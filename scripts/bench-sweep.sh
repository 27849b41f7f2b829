#!/usr/bin/env bash
# Benchmark of `imgsec sweep`, each figure next to a peer measured in the same run:
#   1. a first sweep of the store scripts/build-sweep-store.sh makes (23 images: the test images, 12 qcow2 clones
#      of deb12, four broken ones) against virt-inspector once per image. virt-inspector is timed on SAMPLE of
#      the images (clones, other releases, rpm, a blank disk) and its mean is counted for every image;
#   2. a re-sweep of the unchanged store, per 100 images (no appliance may start);
#   3. the peak RSS of a sweep of BIG qcow2 overlays of deb12.qcow2 (clones: one computed answer for all).
# Repositories are the frozen indexes the test images use, served on 127.0.0.1. Both sides run under TCG.
#   scripts/bench-sweep.sh [SAMPLE] [BIG]      (defaults 4 and 200)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
sample=${1:-4}
big=${2:-200}
"$here/setup.sh" --no-build >/dev/null
dir=$("$here/build-test-images.sh" | tail -1)
cd "$here/.."
bin=$(imgsec_build)
work=$(mktemp -d /var/tmp/imgsec-bench-sweep.XXXXXX)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
python3 fixtures/tools/test_http_server.py --root "$dir/frozen-mirror" --port 0 --port-file "$work/port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"
origin=$(sed -n 1p "$dir/frozen-mirror/origins")
security=$(sed -n 2p "$dir/frozen-mirror/origins")
opts=(--allow-backing-file --ignore-valid-until --mirror "$origin=$base/debian" --mirror "$security=$base/debian-security" -q)
now() { echo "${EPOCHREALTIME/./}"; }           # microseconds
secs() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }
count() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d["images"]), sum(1 for i in d["images"] if i["unchanged"]))' "$1"; }

# 1. First sweep.
"$here/build-sweep-store.sh" "$work/store" 12
t0=$(now)
"$bin" sweep "$work/store" --store "$work/sweep.sqlite" "${opts[@]}" --format json > "$work/first.json" || true
t1=$(now)
read -r images _ < <(count "$work/first.json")
sweep_us=$((t1 - t0))

# 2. Re-sweep, unchanged: every image must be reported unchanged, no appliance.
t2=$(now)
"$bin" sweep "$work/store" --store "$work/sweep.sqlite" "${opts[@]}" -v --format json > "$work/second.json" 2> "$work/second.log" || true
t3=$(now)
read -r again unchanged < <(count "$work/second.json")
if [ "$again" != "$images" ] || [ "$unchanged" != "$images" ] || grep -q "inspecting images" "$work/second.log"; then
  echo "bench-sweep: the re-sweep reopened images ($unchanged of $again unchanged)" >&2; exit 1
fi
resweep_us=$((t3 - t2))

# The peer: virt-inspector, once per image, on a sample of the kinds of image in the store.
picks=(linux/debian/clone-1.qcow2 linux/debian/deb11.qcow2 linux/rpm/mariner.qcow2 broken/empty.qcow2 linux/rpm/cs9.qcow2 linux/debian/two-roots.qcow2)
vi_us=0
n=0
for p in "${picks[@]:0:$sample}"; do
  s=$(now)
  LIBGUESTFS_BACKEND_SETTINGS=force_tcg virt-inspector -a "$work/store/$p" >/dev/null 2>&1 || true
  e=$(now)
  echo "virt-inspector $p: $(secs $((e - s))) s"
  vi_us=$((vi_us + e - s)); n=$((n + 1))
done
vi_total_us=$((vi_us / n * images))

# 3. BIG clones: peak RSS.
mkdir -p "$work/big"
ln "$dir/deb12.qcow2" "$work/big/deb12.qcow2" 2>/dev/null || cp --reflink=auto "$dir/deb12.qcow2" "$work/big/deb12.qcow2"
for i in $(seq 2 "$big"); do qemu-img create -q -f qcow2 -F qcow2 -b deb12.qcow2 "$work/big/clone-$i.qcow2"; done
# imgsec's own peak (VmHWM of its process, sampled to its end), and the largest appliance's: GNU time's %M would
# report the largest waited-for descendant, which is an appliance's qemu (its TCG translation buffer included).
b0=$(now)
"$bin" sweep "$work/big" --store "$work/big.sqlite" "${opts[@]}" --format json > "$work/big.json" &
pid=$!
rss_kb=0 qemu_kb=0
while kill -0 "$pid" 2>/dev/null; do
  h=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$h" ] && [ "$h" -gt "$rss_kb" ] && rss_kb=$h
  for q in $(pgrep -f "qemu-system.*$work/big" || true); do
    r=$(awk '/^VmHWM/ { print $2 }' "/proc/$q/status" 2>/dev/null || true)
    [ -n "$r" ] && [ "$r" -gt "$qemu_kb" ] && qemu_kb=$r
  done
  sleep 0.5
done
wait "$pid" || true
big_s=$(secs $(( $(now) - b0 )))
read -r big_images _ < <(count "$work/big.json")

echo
echo "first sweep of $images images:          $(secs "$sweep_us") s"
echo "virt-inspector, mean of $n × $images images: $(secs "$vi_total_us") s"
awk -v a="$vi_total_us" -v b="$sweep_us" 'BEGIN { printf "ratio virt-inspector / sweep:        %.1f×\n", a / b }'
awk -v us="$resweep_us" -v n="$images" 'BEGIN { printf "re-sweep of %d unchanged images:     %.3f s (%.3f s per 100 images)\n", n, us / 1e6, us / 1e6 / n * 100 }'
awk -v kb="$rss_kb" -v q="$qemu_kb" -v n="$big_images" -v s="$big_s" 'BEGIN { printf "sweep of %d clones: imgsec peak RSS %.0f MB (largest appliance qemu %.0f MB), %.0f s\n", n, kb / 1024, q / 1024, s }'
