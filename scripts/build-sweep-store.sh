#!/bin/bash
# Builds an image store to sweep, in DIR (made fresh): links to the test images, qcow2 overlays of deb12.qcow2
# (clones of one template), a corrupt qcow2, a blank disk, an encrypted disk, a text file named like an image,
# and a file that is no image at all. Usage: scripts/build-sweep-store.sh DIR [CLONES]
# The test images come from scripts/build-test-images.sh; nothing here writes to them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# A hard link where the store and the test images share a filesystem, else a symbolic link (the sweep follows it).
# The clones' template is copied instead: a backing file must lie inside the clone's own folder.
link() { ln "$1" "$2" 2>/dev/null || ln -s "$1" "$2"; }
template() { ln "$1" "$2" 2>/dev/null || cp --reflink=auto "$1" "$2"; }
dir=$1
clones=${2:-12}
images=$(imgsec_images_dir)
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp/linux/debian" "$dir.tmp/linux/rpm" "$dir.tmp/broken"
template "$images/deb12.qcow2" "$dir.tmp/linux/debian/deb12.qcow2"
for f in deb11.qcow2 deb12-lvm.qcow2 two-roots.qcow2; do link "$images/$f" "$dir.tmp/linux/debian/$f"; done
for f in mariner.qcow2 cs9.qcow2 centos7.raw; do link "$images/$f" "$dir.tmp/linux/rpm/$f"; done
for f in luks.qcow2 empty.qcow2 notimage.img; do link "$images/$f" "$dir.tmp/broken/$f"; done
i=1
while [ "$i" -le "$clones" ]; do
  qemu-img create -q -f qcow2 -F qcow2 -b deb12.qcow2 "$dir.tmp/linux/debian/clone-$i.qcow2"
  i=$((i + 1))
done
# A qcow2 whose header length (offset 100) is no multiple of 8: refused on the host, before any appliance.
head -c 65536 "$images/deb12.qcow2" > "$dir.tmp/broken/corrupt.qcow2"
printf '\000\000\000\145' | dd of="$dir.tmp/broken/corrupt.qcow2" bs=1 seek=100 conv=notrunc 2>/dev/null
echo "inventory notes, not a disk" > "$dir.tmp/README.txt"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
