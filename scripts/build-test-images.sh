#!/usr/bin/env bash
# Builds imgsec's test images from debootstrap (never committed), once: later runs reuse them.
#
#   scripts/build-test-images.sh [--demo-only]
#
# Output directory: $IMGSEC_TEST_IMAGES (default /var/tmp/imgsec-test-images). Each image comes with the
# real tool's answer for its root filesystem, computed here from the rootfs and not by imgsec:
#   NAME.expected.tsv   dpkg-query -W (name, version, arch) of the rootfs, or the rpm golden list
#   NAME.os             the OS facts from the rootfs's os-release (ID, VERSION_ID)
# Images:
#   deb12.qcow2      Debian 12 minbase + openssh-server, GPT-partitioned disk, qcow2
#   deb12.raw        the same root filesystem as a bare ext4 (no partition table), raw
#   deb12-nosec.qcow2  deb12.raw with the security archive removed from its apt sources, qcow2
#   deb11.qcow2      Debian 11 minbase, MBR-partitioned, qcow2
#   deb12-lvm.qcow2  Debian 12 with its root on an LVM logical volume
#   mariner.qcow2    rpm family: a CBL-Mariner 2.0 root with its real rpmdb.sqlite
#   centos7.raw      rpm family: a CentOS 7 root with its real Berkeley DB Packages
#   cs9.qcow2        rpm family: a CentOS Stream 9 root whose SQLite rpmdb rpm 4.18 wrote (rpmbuild + rpm --justdb)
#   two-roots.qcow2  two operating systems on one disk (Debian 12 and CentOS 7)
#   luks.qcow2       an encrypted (LUKS) volume only
#   empty.qcow2      a blank disk
#   backing.qcow2    a qcow2 overlay whose backing file is deb12.qcow2
#   notimage.img     a text file
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

demo_only=0
[ "${1:-}" = "--demo-only" ] && demo_only=1

imgsec_apt_install debootstrap qemu-utils e2fsprogs fdisk xz-utils dpkg libguestfs-tools libguestfs-xfs linux-image-amd64 cryptsetup-bin lvm2 rpm
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg   # KVM hangs on this kind of machine; guestfish is only a builder here

out=$(imgsec_images_dir)
mkdir -p "$out"
cd "$out"
mirror=$(imgsec_debian_mirror)

# debootstrap SUITE DIR [extra --include]
rootfs() {
  local suite=$1 dir=$2 include=${3:-}
  if [ ! -f "$dir/.imgsec-complete" ]; then
    rm -rf "$dir"
    echo "imgsec: debootstrap $suite into $dir (a few minutes)" >&2
    debootstrap --variant=minbase ${include:+--include=$include} "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 \
      || { tail -20 "$dir.log" >&2; return 1; }
    touch "$dir/.imgsec-complete"
  fi
  echo "$(hostname -s 2>/dev/null || echo imgsec)-$suite" > "$dir/etc/hostname"
  # The archives a real installation configures: the release, its updates and its security archive.
  # bookworm gets deb822 sources (Debian 12's default), bullseye the one-line format.
  local security
  security=$(imgsec_debian_security_mirror | head -1)
  if [ "$suite" = bookworm ]; then
    rm -f "$dir/etc/apt/sources.list"
    {
      printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$suite" "$suite"
      if [ -n "$security" ]; then printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security" "$suite"; fi
    } > "$dir/etc/apt/sources.list.d/debian.sources"
  else
    {
      printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite"
      if [ -n "$security" ]; then printf 'deb %s %s-security main\n' "$security" "$suite"; fi
    } > "$dir/etc/apt/sources.list"
  fi
}

# The real answers for a Debian rootfs: dpkg-query on its own database.
deb_expected() {
  local dir=$1 name=$2
  dpkg-query --admindir="$dir/var/lib/dpkg" -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n' \
    | awk -F'\t' '$1 ~ /^[ih]i/ { print $2 "\t" $3 "\t" $4 }' | sort > "$name.expected.tsv.tmp"
  publish "$name.expected.tsv"
  os_facts "$dir" > "$name.os.tmp"
  publish "$name.os"
}

# Every image, golden and intermediate is written to NAME.tmp and renamed when complete, the image last:
# an interrupted build never leaves a file that a later run (`fresh`) takes as finished.
publish() { mv -f "$1.tmp" "$1"; }

os_facts() {
  ( . "$1/etc/os-release"; printf 'ID=%s\nVERSION_ID=%s\n' "$ID" "${VERSION_ID:-}" )
}

# ext4 filesystem image of a directory: mkfs_dir DIR FILE (size from du + headroom).
mkfs_dir() {
  local dir=$1 file=$2
  local kb
  kb=$(du -sk --exclude=.imgsec-complete "$dir" | cut -f1)
  rm -f "$file" "$file.tmp"
  truncate -s $(( (kb * 13 / 10 + 65536) * 1024 )) "$file.tmp"
  mkfs.ext4 -q -F -L root -d "$dir" "$file.tmp"
  publish "$file"
}

# Partitioned disk holding filesystem images: disk_with LABELTYPE OUT FS...
disk_with() {
  local label=$1 outfile=$2; shift 2
  local total=4 f sizes=()
  for f in "$@"; do sizes+=( $(( ($(stat -c %s "$f") + 1048575) / 1048576 )) ); total=$(( total + ${sizes[-1]} + 1 )); done
  rm -f "$outfile"; truncate -s "${total}M" "$outfile"
  local script="label: $label"$'\n' i=0
  for f in "$@"; do script+="size=${sizes[$i]}MiB, type=linux"$'\n'; i=$((i+1)); done
  echo "$script" | sfdisk -q "$outfile"
  local start
  i=0
  for f in "$@"; do
    start=$(sfdisk -J "$outfile" | awk -v n=$((i+1)) '/"start"/ { c++; if (c == n) { gsub(/[^0-9]/, "", $0); print; exit } }')
    dd if="$f" of="$outfile" bs=512 seek="$start" conv=notrunc,sparse status=none
    i=$((i+1))
  done
}

# Images are rebuilt when RECIPE changes (bump it when this script makes different images).
RECIPE=6
if [ "$(cat .imgsec-recipe 2>/dev/null)" != "$RECIPE" ]; then
  rm -f ./*.qcow2 ./*.raw ./*.img ./*.tsv ./*.os ./*.ext4 ./*.tmp
  echo "$RECIPE" > .imgsec-recipe
fi
fresh() { [ -s "$1" ]; }

rootfs bookworm rootfs-deb12 openssh-server
if ! fresh deb12.qcow2; then
  mkfs_dir rootfs-deb12 fs-deb12.ext4
  disk_with gpt disk-deb12.img fs-deb12.ext4
  deb_expected rootfs-deb12 deb12
  qemu-img convert -O qcow2 disk-deb12.img deb12.qcow2.tmp
  rm -f disk-deb12.img
  publish deb12.qcow2
fi
[ $demo_only = 1 ] && { rm -f fs-deb12.ext4; echo "$out/deb12.qcow2"; exit 0; }

if ! fresh deb12.raw; then
  [ -f fs-deb12.ext4 ] || mkfs_dir rootfs-deb12 fs-deb12.ext4
  cp --sparse=always fs-deb12.ext4 deb12.raw.tmp
  publish deb12.raw
  cp deb12.expected.tsv deb12-raw.expected.tsv 2>/dev/null || true
fi

# deb12 whose apt sources name no security archive (its security stanza removed with debugfs, no mount): the
# image the gate passes and libvirt starts, since none of its pending updates can be a security one.
if ! fresh deb12-nosec.qcow2; then
  cp --sparse=always deb12.raw fs-nosec.ext4.tmp
  nosec=$(mktemp)
  awk 'BEGIN { RS = ""; ORS = "\n\n" } !/debian-security/' rootfs-deb12/etc/apt/sources.list.d/debian.sources > "$nosec"
  grep -q debian-security "$nosec" && { echo "build-test-images.sh: security stanza still in $nosec" >&2; exit 1; }
  printf 'rm /etc/apt/sources.list.d/debian.sources\nwrite %s /etc/apt/sources.list.d/debian.sources\n' "$nosec" \
    | debugfs -w -f - fs-nosec.ext4.tmp >/dev/null 2>&1
  rm -f "$nosec"
  written=$(debugfs -R 'cat /etc/apt/sources.list.d/debian.sources' fs-nosec.ext4.tmp 2>/dev/null)
  if ! grep -q '^URIs:' <<<"$written" || grep -q debian-security <<<"$written"; then
    echo "build-test-images.sh: debugfs did not rewrite the sources of deb12-nosec" >&2; exit 1
  fi
  qemu-img convert -O qcow2 fs-nosec.ext4.tmp deb12-nosec.qcow2.tmp
  rm -f fs-nosec.ext4.tmp
  cp deb12.expected.tsv deb12-nosec.expected.tsv
  publish deb12-nosec.qcow2
fi
rm -f fs-deb12.ext4
cp deb12.expected.tsv deb12-lvm.expected.tsv; cp deb12.os deb12-lvm.os; cp deb12.expected.tsv deb12-raw.expected.tsv; cp deb12.os deb12-raw.os

rootfs bullseye rootfs-deb11
if ! fresh deb11.qcow2; then
  mkfs_dir rootfs-deb11 fs-deb11.ext4
  disk_with dos disk-deb11.img fs-deb11.ext4
  deb_expected rootfs-deb11 deb11
  qemu-img convert -O qcow2 disk-deb11.img deb11.qcow2.tmp
  rm -f disk-deb11.img fs-deb11.ext4
  publish deb11.qcow2
fi

# rpm family: real rpm databases from fixtures/rpmdb with a matching release and repositories.
rpm_root() {
  local dir=$1 osrel=$2 dbsrc=$3 dbdest=$4 repos=$5
  rm -rf "$dir"; mkdir -p "$dir/etc/yum.repos.d" "$dir/$(dirname "$dbdest")" "$dir/usr/lib" "$dir/bin" "$dir/tmp"
  cp "$osrel" "$dir/usr/lib/os-release"; ln -s ../usr/lib/os-release "$dir/etc/os-release"
  case "$dbsrc" in *.xz) xz -dc "$dbsrc" > "$dir/$dbdest" ;; *) cp "$dbsrc" "$dir/$dbdest" ;; esac
  cp "$repos"/*.repo "$dir/etc/yum.repos.d/"
  # A real ELF executable so that libguestfs can tell the architecture, and the files libguestfs's
  # inspection wants to see in a Linux root.
  cp /bin/true "$dir/bin/sh"
  printf 'LABEL=root / ext4 defaults 1 1\n' > "$dir/etc/fstab"
  printf '127.0.0.1 localhost\n' > "$dir/etc/hosts"
}
if ! fresh mariner.qcow2; then
  rpm_root rootfs-mariner "$repo/fixtures/images/mariner/os-release" \
    "$repo/fixtures/rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite.xz" var/lib/rpm/rpmdb.sqlite "$repo/fixtures/images/mariner"
  echo "CBL-Mariner release 2.0.20220226 (Mariner)" > rootfs-mariner/etc/mariner-release
  mkfs_dir rootfs-mariner fs-mariner.ext4
  disk_with gpt disk-mariner.img fs-mariner.ext4
  grep -v '^#' "$repo/fixtures/rpmdb/sqlite/cbl-mariner-2.0/listed.rpm418.tsv" | awk -F'\t' '$1 != "gpg-pubkey" {
    v = ($2 != "" ? $2 ":" : "") $3 "-" $4; print $1 "\t" v "\t" $5 }' | sort > mariner.expected.tsv.tmp
  publish mariner.expected.tsv
  os_facts rootfs-mariner > mariner.os.tmp; publish mariner.os
  qemu-img convert -O qcow2 disk-mariner.img mariner.qcow2.tmp
  rm -f disk-mariner.img fs-mariner.ext4
  publish mariner.qcow2
fi
if ! fresh centos7.raw; then
  rpm_root rootfs-centos7 "$repo/fixtures/images/centos7/os-release" \
    "$repo/fixtures/rpmdb/bdb/centos7-plain/Packages.xz" var/lib/rpm/Packages "$repo/fixtures/images/centos7"
  echo "CentOS Linux release 7.9.2009 (Core)" > rootfs-centos7/etc/centos-release
  ln -s centos-release rootfs-centos7/etc/redhat-release
  mkfs_dir rootfs-centos7 fs-centos7.ext4
  grep -v '^#' "$repo/fixtures/rpmdb/bdb/centos7-plain/listed.rpm418.tsv" | awk -F'\t' '$1 != "gpg-pubkey" {
    v = ($2 != "" ? $2 ":" : "") $3 "-" $4; print $1 "\t" v "\t" $5 }' | sort > centos7.expected.tsv.tmp
  publish centos7.expected.tsv
  os_facts rootfs-centos7 > centos7.os.tmp; publish centos7.os
  disk_with dos centos7.raw.tmp fs-centos7.ext4
  rm -f fs-centos7.ext4
  publish centos7.raw
fi
# CentOS Stream 9: tiny packages built with rpmbuild, installed into the root's database with rpm --justdb.
if ! fresh cs9.qcow2; then
  rm -rf rootfs-cs9 cs9-build; mkdir -p rootfs-cs9/etc/yum.repos.d rootfs-cs9/etc/dnf/modules.d rootfs-cs9/usr/lib rootfs-cs9/bin \
    cs9-build/home cs9-build/specs
  printf '%%_dbpath /var/lib/rpm\n' > cs9-build/home/.rpmmacros
  rpms=()
  # Tabs are white space to `read`, which would merge an empty epoch column away: split on '|' instead.
  while IFS='|' read -r name epoch version release arch; do
    case "$name" in ''|'#'*) continue ;; esac
    { echo "Name: $name"; [ -n "$epoch" ] && echo "Epoch: $epoch"
      printf 'Version: %s\nRelease: %s\nSummary: stand-in for %s\nLicense: MIT\nBuildArch: %s\n%%description\nStand-in.\n%%files\n' "$version" "$release" "$name" "$arch"
    } > "cs9-build/specs/$name.spec"
    HOME="$PWD/cs9-build/home" rpmbuild -bb --quiet --define "_topdir $PWD/cs9-build/top" --define "_build_id_links none" "cs9-build/specs/$name.spec" >/dev/null
    rpms+=("cs9-build/top/RPMS/$arch/$name-$version-$release.$arch.rpm")
  done < <(tr '\t' '|' < "$repo/fixtures/images/cs9/packages.tsv")
  HOME="$PWD/cs9-build/home" rpm --root "$PWD/rootfs-cs9" --dbpath /var/lib/rpm --initdb
  HOME="$PWD/cs9-build/home" rpm --root "$PWD/rootfs-cs9" --dbpath /var/lib/rpm -i --justdb --nodeps --noscripts --ignorearch "${rpms[@]}"
  cp "$repo/fixtures/images/cs9/os-release" rootfs-cs9/usr/lib/os-release; ln -s ../usr/lib/os-release rootfs-cs9/etc/os-release
  cp "$repo/fixtures/images/cs9/appstream.repo" rootfs-cs9/etc/yum.repos.d/
  cp "$repo/fixtures/images/cs9/mariadb.module" rootfs-cs9/etc/dnf/modules.d/
  mkdir -p rootfs-cs9/etc/dnf && cp "$repo/fixtures/images/cs9/dnf.conf" rootfs-cs9/etc/dnf/dnf.conf
  cp /bin/true rootfs-cs9/bin/sh
  printf 'LABEL=root / ext4 defaults 1 1\n' > rootfs-cs9/etc/fstab
  echo "CentOS Stream release 9" > rootfs-cs9/etc/centos-release
  HOME="$PWD/cs9-build/home" rpm --root "$PWD/rootfs-cs9" --dbpath /var/lib/rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n' \
    | sed 's/\t0:/\t/' | sort > cs9.expected.tsv.tmp
  publish cs9.expected.tsv
  os_facts rootfs-cs9 > cs9.os.tmp; publish cs9.os
  mkfs_dir rootfs-cs9 fs-cs9.ext4
  disk_with gpt disk-cs9.img fs-cs9.ext4
  qemu-img convert -O qcow2 disk-cs9.img cs9.qcow2.tmp
  rm -rf disk-cs9.img fs-cs9.ext4 cs9-build
  publish cs9.qcow2
fi

if ! fresh two-roots.qcow2; then
  mkfs_dir rootfs-deb11 fs-a.ext4
  mkfs_dir rootfs-centos7 fs-b.ext4
  disk_with gpt two-roots.img fs-a.ext4 fs-b.ext4
  qemu-img convert -O qcow2 two-roots.img two-roots.qcow2.tmp
  rm -f two-roots.img fs-a.ext4 fs-b.ext4
  publish two-roots.qcow2
fi

# LVM needs device-mapper: libguestfs's appliance builds it.
if ! fresh deb12-lvm.qcow2; then
  tar -C rootfs-deb12 --exclude=./.imgsec-complete -cf rootfs-deb12.tar .
  size_mb=$(( $(stat -c %s rootfs-deb12.tar) / 1048576 * 14 / 10 + 256 ))
  rm -f deb12-lvm.qcow2
  qemu-img create -q -f qcow2 deb12-lvm.qcow2.tmp "$((size_mb + 64))M"
  cat > build-lvm.gf <<EOF_GF
add-drive deb12-lvm.qcow2.tmp format:qcow2
run
part-disk /dev/sda mbr
pvcreate /dev/sda1
vgcreate vgimgsec /dev/sda1
lvcreate root vgimgsec ${size_mb}
mkfs ext4 /dev/vgimgsec/root
mount /dev/vgimgsec/root /
tar-in rootfs-deb12.tar /
umount-all
EOF_GF
  guestfish -f build-lvm.gf
  rm -f build-lvm.gf
  publish deb12-lvm.qcow2
  rm -f rootfs-deb12.tar
fi

# An encrypted volume: cryptsetup formats a file directly (no loop device, no key worth keeping).
if ! fresh luks.qcow2; then
  rm -f luks.fs; truncate -s 32M luks.fs
  printf 'imgsec-test' | cryptsetup luksFormat --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 luks.fs -
  disk_with gpt luks.img luks.fs
  qemu-img convert -O qcow2 luks.img luks.qcow2.tmp
  rm -f luks.fs luks.img
  publish luks.qcow2
fi

fresh empty.qcow2 || { qemu-img create -q -f qcow2 empty.qcow2.tmp 256M && publish empty.qcow2; }
# Made once: rewritten on every run, their mtimes would change under a test that is reading them.
fresh backing.qcow2 || { qemu-img create -q -f qcow2 -b deb12.qcow2 -F qcow2 backing.qcow2.tmp && publish backing.qcow2; }
fresh notimage.img || { echo "this is not a disk image" > notimage.img.tmp && publish notimage.img; }
# A frozen copy of the indexes the Debian images use, served on 127.0.0.1 by the end-to-end tests.
"$here/freeze-debian-indexes.sh" "$out/frozen-mirror" >/dev/null
echo "$out"
