#!/usr/bin/env bash
# Starts virtlogd and libvirtd (qemu:///system) for a test, with a configuration of its own: in a private mount
# namespace, DIR/etc is bound over /etc/libvirt, so the daemons read DIR/etc/libvirtd.conf, qemu.conf and
# DIR/etc/hooks/ and nothing of the host's /etc changes. Guests run as root with no relabelling (dynamic_ownership
# off, no security driver), so images are never chowned. No network is defined, so libvirt's default NAT network
# never starts.
#
#   scripts/private-libvirtd.sh DIR     # prints the PIDs of libvirtd and virtlogd; stop them by PID
#
# Put hooks into DIR/etc/hooks before: libvirtd looks for them when it starts.
# Refuses to run when a libvirtd is already running on this machine (they would share /run/libvirt).
set -euo pipefail
dir=${1:?usage: private-libvirtd.sh DIR}
dir=$(cd "$dir" && pwd)
[ "$(id -u)" = 0 ] || { echo "private-libvirtd.sh: run as root" >&2; exit 1; }
command -v libvirtd >/dev/null || { echo "private-libvirtd.sh: libvirtd is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
running=$( (ps -C libvirtd -o pid=,stat= || true) | awk '$2 !~ /^Z/ { print $1 }' | tr '\n' ' ')
if [ -n "$running" ]; then
  echo "private-libvirtd.sh: a libvirtd is already running (pid $running); stop it first" >&2
  exit 1
fi
mkdir -p "$dir/etc/hooks"
[ -f "$dir/etc/libvirt.conf" ] || cp /etc/libvirt/libvirt.conf "$dir/etc/libvirt.conf" 2>/dev/null || : > "$dir/etc/libvirt.conf"
cat > "$dir/etc/libvirtd.conf" <<EOF
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$dir/libvirtd.log"
EOF
cat > "$dir/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
EOF
cat > "$dir/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:$dir/virtlogd.log"
EOF
rm -f "$dir/libvirtd.pid" "$dir/virtlogd.pid"
unshare --mount --propagation private bash -c "
  mount --bind '$dir/etc' /etc/libvirt
  virtlogd --daemon --pid-file '$dir/virtlogd.pid'
  libvirtd --daemon --pid-file '$dir/libvirtd.pid'
" </dev/null >>"$dir/daemons.out" 2>&1
# (The daemons keep what they inherit open: a caller reading this script's output would wait for them.)
# Up when its pid file is written and virsh gets an answer.
for _ in $(seq 1 300); do
  if [ -s "$dir/libvirtd.pid" ] && virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "$(cat "$dir/libvirtd.pid") $(cat "$dir/virtlogd.pid")"
    exit 0
  fi
  sleep 0.1
done
echo "private-libvirtd.sh: libvirtd did not answer within 30 s; its log:" >&2
tail -20 "$dir/libvirtd.log" "$dir/daemons.out" >&2 || true
for f in libvirtd virtlogd; do [ -s "$dir/$f.pid" ] && kill "$(cat "$dir/$f.pid")" 2>/dev/null; done
exit 1
