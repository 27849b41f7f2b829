#!/usr/bin/env bash
# Installs imgsec's libvirt qemu hook: before libvirt starts any domain it runs the gate on the domain's file
# and block disks, and refuses to start one that fails, the reason in libvirt's error.
#
#   scripts/install-libvirt-hook.sh [--hooks-dir DIR] [--imgsec PATH] [-- OPTION...]
#
#   --hooks-dir DIR  where libvirt looks for hooks (default /etc/libvirt/hooks)
#   --imgsec PATH    the imgsec binary the hook runs (default: imgsec on PATH, else this checkout's release build)
#   OPTION...        given to `imgsec libvirt-hook`, e.g. --store /var/lib/imgsec/imgsec.sqlite --fail-on security
#                    --max-age 1d --on-undecided allow  (the hook runs with libvirtd's environment: name the store)
#
# An existing qemu hook that imgsec did not install is left alone (the script stops). libvirtd looks for hooks
# when it starts: restart it after the first install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hooks=/etc/libvirt/hooks
imgsec=
while [ $# -gt 0 ]; do
  case $1 in
    --hooks-dir) hooks=${2:?--hooks-dir DIR}; shift 2 ;;
    --imgsec) imgsec=${2:?--imgsec PATH}; shift 2 ;;
    --) shift; break ;;
    *) echo "install-libvirt-hook.sh: unknown argument $1 (options for imgsec go after --)" >&2; exit 64 ;;
  esac
done
if [ -z "$imgsec" ]; then
  imgsec=$(command -v imgsec || true)
  [ -n "$imgsec" ] || imgsec="$here/../.build/x86_64-unknown-linux-gnu/release/imgsec"
fi
[ -x "$imgsec" ] || { echo "install-libvirt-hook.sh: $imgsec is not an executable imgsec" >&2; exit 1; }
imgsec=$(cd "$(dirname "$imgsec")" && pwd)/$(basename "$imgsec")
# The options must be ones libvirt-hook takes: a wrong one would make libvirt refuse every domain.
"$imgsec" libvirt-hook "$@" -q -- check-only prepare-test end - </dev/null \
  || { echo "install-libvirt-hook.sh: imgsec libvirt-hook rejects these options: $*" >&2; exit 64; }

marker="# installed by imgsec's scripts/install-libvirt-hook.sh"
hook="$hooks/qemu"
if [ -e "$hook" ] && ! grep -qF "$marker" "$hook"; then
  echo "install-libvirt-hook.sh: $hook exists and is not imgsec's; add a call to imgsec libvirt-hook to it by hand" >&2
  exit 1
fi
mkdir -p "$hooks"
tmp=$(mktemp "$hooks/.qemu.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "#!/bin/bash"
  echo "$marker"
  echo "# libvirt runs it as: qemu DOMAIN OPERATION SUB-OPERATION EXTRA, with the domain XML on stdin."
  printf 'exec %q libvirt-hook' "$imgsec"
  for o in "$@"; do printf ' %q' "$o"; done
  echo ' -q -- "$@"'
} > "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$hook"
trap - EXIT
echo "$hook"
