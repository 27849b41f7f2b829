#!/usr/bin/env bash
# Crash safety: `kill -9` of register, check and scan at random moments, K times in a row (default 100).
# After every kill: the store passes SQLite's integrity_check, every machine it lists has all its packages
# (no half-written machine is visible), and every stored answer has the reference's counts. At the end one
# uninterrupted `scan` finishes the work, and its answer equals that of a store that was never killed.
# The machines are hard-linked copies of one 912-package Debian 12 machine; the real bookworm-updates and
# -security indexes are served on 127.0.0.1 (scripts/fixture-mirror.sh).
#   scripts/kill-test.sh [K] [MACHINES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kills=${1:-100}
n=${2:-40}
cd "$here/.."
. "$here/lib.sh"
imgsec_apt_install sqlite3 python3 gpgv debian-archive-keyring >/dev/null
bin=$(imgsec_build)
work=$(mktemp -d /var/tmp/imgsec-kill-test.XXXXXX)
server=""
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$work"' EXIT
imgsec_fixture_server "$work"

template="$work/template"
imgsec_template_root "$template" "$base"
roots=()
for i in $(seq 1 "$n"); do
  r="$work/m/$i"; mkdir -p "$r"; cp -al "$template/." "$r/"; roots+=(--root "$r")
done
common=(--ignore-valid-until -q)

# What each machine's answer is when nothing is killed: counts per significance and the total.
answers() { python3 -c '
import json, sys
d = json.load(sys.stdin)
for m in sorted(d["machines"], key=lambda m: m["machine"]):
    print(m["machine"], "ERR" if m["errors"] else m["total"], " ".join("%s=%s" % kv for kv in sorted(m["counts"].items())))
'; }
t0=${EPOCHREALTIME/./}
"$bin" scan "${roots[@]}" --store "$work/reference.sqlite" "${common[@]}" --format json | answers > "$work/reference.txt" || true
# Kills land at a random moment within half the time an uninterrupted scan takes (a register or a check is
# shorter), so that most of them hit a command at work.
window=$(( (${EPOCHREALTIME/./} - t0) / 2000 ))
[ "$window" -ge 100 ] || window=100
[ "$(wc -l < "$work/reference.txt")" -eq "$n" ] || { echo "kill-test: the reference scan did not answer for $n machines" >&2; exit 1; }
packages=$(grep -c '^Package: ' "$template/var/lib/dpkg/status" || true)

store="$work/store.sqlite"
verify() {
  local what=$1
  local integrity
  integrity=$(sqlite3 "$store" 'PRAGMA integrity_check;' 2>&1 || true)
  [ "$integrity" = ok ] || { echo "kill-test: after $what the store fails integrity_check: $integrity" >&2; exit 1; }
  # Every machine listed is whole (its package count as imported), and every stored answer is the reference's.
  "$bin" machines --store "$store" --format json > "$work/machines.json"
  python3 - "$work/machines.json" "$packages" "$what" <<'EOP'
import json, sys
machines = json.load(open(sys.argv[1]))
broken = [m["name"] for m in machines if m.get("packageCount") != int(sys.argv[2])]
if broken:
    sys.exit("kill-test: after %s, machines with a partial package list are visible: %s" % (sys.argv[3], broken[:5]))
EOP
  if [ -s "$work/machines.json" ] && [ "$(cat "$work/machines.json")" != "[]" ]; then
    "$bin" check --all --store "$store" --offline "${common[@]}" --format json 2>/dev/null | answers > "$work/now.txt" || true
    # Every answer must be the reference's. A machine registered but not yet checked is computed offline from
    # the cached indexes, and fails (ERR) when they are not cached yet: that is fine; a wrong count is not.
    python3 - "$work/reference.txt" "$work/now.txt" "$what" <<'EOP'
import sys
ref = dict(l.split(" ", 1) for l in open(sys.argv[1]).read().splitlines())
for line in open(sys.argv[2]).read().splitlines():
    name, rest = line.split(" ", 1)
    if not rest.startswith("ERR") and ref.get(name) != rest:
        sys.exit("kill-test: after %s, %s answers %r, not %r" % (sys.argv[3], name, rest, ref.get(name)))
EOP
  fi
}

start=$(date +%s)
live=0
for k in $(seq 1 "$kills"); do
  case $((RANDOM % 3)) in
    0) cmd=(register "${roots[@]}") ;;
    1) cmd=(scan "${roots[@]}") ;;
    2) cmd=(check --all --refresh) ;;
  esac
  "$bin" "${cmd[@]}" --store "$store" "${common[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v r="$RANDOM" -v w="$window" 'BEGIN { printf "%.3f", (r % w) / 1000 }')"
  # Counted only when the process was still at work when the signal came.
  if kill -9 "$pid" 2>/dev/null; then live=$((live + 1)); fi
  wait "$pid" 2>/dev/null || true
  verify "kill $k (${cmd[0]})"
done
# Not vacuous: most kills must have hit a running process.
[ "$live" -ge $((kills / 2)) ] || { echo "kill-test: only $live of $kills kills hit a running process" >&2; exit 1; }
# The next run finishes the work with the full, correct answer.
"$bin" scan "${roots[@]}" --store "$store" "${common[@]}" --format json | answers > "$work/final.txt" || true
diff -u "$work/reference.txt" "$work/final.txt" >&2 || { echo "kill-test: the final scan's answer differs from the reference" >&2; exit 1; }
verify "the final scan"
# A killed process cannot remove its gpgv directory; the next one removes those of dead processes.
for d in "${TMPDIR:-/tmp}"/imgsec-gpgv-*; do
  [ -e "$d" ] || continue
  pid=${d##*/imgsec-gpgv-}; pid=${pid%%-*}
  case $pid in *[!0-9]*|"") continue ;; esac
  kill -0 "$pid" 2>/dev/null || { echo "kill-test: $d of a dead process is left behind" >&2; exit 1; }
done
echo "kill-test: $kills random kill -9 of register/scan/check over $n machines ($live while at work) in $(( $(date +%s) - start )) s: the store stayed whole and the final scan gave the reference answer for all $n"
