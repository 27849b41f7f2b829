#!/usr/bin/env bash
# Benchmark: imgsec inspects N images in one batch vs. virt-inspector run once per image, in the same run.
#
#   scripts/bench-inspect.sh [N]     (default N=8; images are the test images plus qcow2 clones of deb12)
#
# Prints both wall-clock times and their ratio. Both sides run under TCG on this kind of machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
n=${1:-8}
"$here/setup.sh" >/dev/null
dir=$("$here/build-test-images.sh" | tail -1)
cd "$here/.."
bin=$(imgsec_build)

# The images: the real test images first, then overlays of deb12.qcow2 (clones share UUIDs, as real clones do).
base=(deb12.qcow2 deb11.qcow2 deb12-lvm.qcow2 mariner.qcow2 centos7.raw deb12.raw two-roots.qcow2)
images=()
formats=()
for i in $(seq 0 $((n - 1))); do
  if [ "$i" -lt ${#base[@]} ]; then
    images+=("$dir/${base[$i]}")
  else
    clone="$dir/bench-clone-$i.qcow2"
    [ -f "$clone" ] || qemu-img create -q -f qcow2 -b deb12.qcow2 -F qcow2 "$clone"
    images+=("$clone")
  fi
  case "${images[-1]}" in *.raw) formats+=(raw) ;; *) formats+=(qcow2) ;; esac
done

now() { date +%s.%N; }
echo "imgsec: inspecting ${#images[@]} images in one batch..." >&2
t0=$(now)
"$bin" inspect --allow-backing-file --format json "${images[@]}" > /tmp/imgsec-bench-inspect.json
t1=$(now)
echo "virt-inspector: one run per image..." >&2
for i in "${!images[@]}"; do
  LIBGUESTFS_BACKEND_SETTINGS=force_tcg virt-inspector --format="${formats[$i]}" -a "${images[$i]}" > /dev/null 2>&1 || echo "virt-inspector failed on ${images[$i]}" >&2
done
t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="${#images[@]}" 'BEGIN {
  ours = b - a; theirs = c - b
  printf "images:                        %d\n", n
  printf "imgsec inspect (one batch):    %.1f s  (%.1f s per image)\n", ours, ours / n
  printf "virt-inspector (one per image): %.1f s  (%.1f s per image)\n", theirs, theirs / n
  printf "ratio virt-inspector / imgsec: %.1fx\n", theirs / ours
}'
