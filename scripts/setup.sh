#!/usr/bin/env bash
# Installs what imgsec needs on Debian 12 and prepares libguestfs's appliance. Idempotent.
#
#   scripts/setup.sh            system packages + appliance + a release build of imgsec
#   scripts/setup.sh --no-build system packages + appliance only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (it installs Debian packages)" >&2; exit 1; }

imgsec_apt_install \
  libguestfs-dev libguestfs-tools libguestfs-xfs linux-image-amd64 supermin qemu-system-x86 qemu-utils \
  libsqlite3-dev libxml2 zlib1g-dev liblzma-dev libzstd-dev libbz2-dev libssl3 libcurl4 pkg-config \
  debootstrap gpgv gpg debian-archive-keyring nmap xz-utils zstd bzip2 fdisk e2fsprogs lvm2 cryptsetup-bin dpkg-dev rpm dnf python3-rpm python3-apt sqlite3 \
  libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients

# libvirt's qemu driver will not start without the user its guests run as (libvirt-daemon-system, which also
# installs init scripts and the default NAT network, would create it; imgsec needs neither).
getent passwd libvirt-qemu >/dev/null || useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt \
  --shell /usr/sbin/nologin libvirt-qemu

# libguestfs builds its appliance (supermin) on first use: do it now, under TCG, so the first inspection
# is not slowed down (and a host whose KVM cannot run guests does not hang here).
cache=${LIBGUESTFS_CACHEDIR:-/var/tmp}
if ! ls "$cache"/.guestfs-"$(id -u)"/appliance.d/kernel >/dev/null 2>&1; then
  echo "setup.sh: preparing the libguestfs appliance in $cache (about 30 s)" >&2
  log=$(mktemp)
  LIBGUESTFS_BACKEND_SETTINGS=force_tcg LIBGUESTFS_CACHEDIR="$cache" timeout 600 libguestfs-test-tool >"$log" 2>&1 \
    || { tail -30 "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi

imgsec_swift_path

if [ "${1:-}" != "--no-build" ]; then
  cd "$here/.."
  imgsec_build >/dev/null
fi
