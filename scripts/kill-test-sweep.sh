#!/usr/bin/env bash
# Crash safety of `imgsec sweep`: kill -9 at a random moment, K times in a row (default 20), each sweep resuming
# what the killed ones left (one in three with --reinspect, so that there is work to kill). After every kill:
# the store passes integrity_check, every machine it lists has exactly the packages the reference sweep found
# (nothing half-written is visible), and no appliance of the killed sweep is left running. At the end one
# uninterrupted sweep gives the reference answer for every image.
# The store: deb12, deb11, mariner, two qcow2 clones of deb12, a blank disk and a text file, swept in rounds of two
# images (--max-drives 2 --jobs 1) so that a kill can land between rounds. Repositories: the frozen indexes on
# 127.0.0.1.
#   scripts/kill-test-sweep.sh [K]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kills=${1:-20}
cd "$here/.."
. "$here/lib.sh"
imgsec_apt_install sqlite3 python3 >/dev/null
dir=$(imgsec_images_dir)
bin=$(imgsec_build)
work=$(mktemp -d /var/tmp/imgsec-kill-sweep.XXXXXX)
server=""
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$work"' EXIT
python3 fixtures/tools/test_http_server.py --root "$dir/frozen-mirror" --port 0 --port-file "$work/port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")"
opts=(--allow-backing-file --ignore-valid-until --max-drives 2 --jobs 1 -q
      --mirror "$(sed -n 1p "$dir/frozen-mirror/origins")=$base/debian"
      --mirror "$(sed -n 2p "$dir/frozen-mirror/origins")=$base/debian-security")

mkdir -p "$work/images"
for f in deb12.qcow2 deb11.qcow2 mariner.qcow2 empty.qcow2 notimage.img; do
  ln "$dir/$f" "$work/images/$f" 2>/dev/null || cp --reflink=auto "$dir/$f" "$work/images/$f"
done
for i in 1 2; do qemu-img create -q -f qcow2 -F qcow2 -b deb12.qcow2 "$work/images/clone-$i.qcow2"; done

# Per image: its machines with their package counts, totals and counts, and its error codes.
answers() { python3 -c '
import json, sys
d = json.load(sys.stdin)
for i in sorted(d["images"], key=lambda i: i["image"]):
    codes = sorted(e["code"] for e in i["errors"] if e["severity"] == "error")
    ms = sorted("%s:%s:%s:%s" % (m["machine"], i["packageCounts"].get(m["machine"]), m["total"],
                ",".join("%s=%s" % kv for kv in sorted(m["counts"].items()))) for m in i["machines"])
    print(i["image"], " ".join(ms) or "-", " ".join(codes) or "-")
'; }
qemus() { pgrep -f "qemu-system.*$work" || true; }

t0=${EPOCHREALTIME/./}
"$bin" sweep "$work/images" --store "$work/reference.sqlite" "${opts[@]}" --format json | answers > "$work/reference.txt" || true
window=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
[ "$(wc -l < "$work/reference.txt")" -eq 7 ] || { echo "kill-test-sweep: the reference sweep did not report 7 images" >&2; cat "$work/reference.txt" >&2; exit 1; }
grep -q "deb12.qcow2 .*:[0-9]*:[0-9]" "$work/reference.txt" || { echo "kill-test-sweep: the reference has no answer for deb12" >&2; exit 1; }
# Package count of every machine, from the reference.
"$bin" machines --store "$work/reference.sqlite" --format json \
  | python3 -c 'import json, sys; [print(m["name"], m.get("packageCount")) for m in json.load(sys.stdin)]' > "$work/reference-packages.txt"

store="$work/store.sqlite"
verify() {
  local what=$1 integrity
  integrity=$(sqlite3 "$store" 'PRAGMA integrity_check;' 2>&1 || true)
  [ "$integrity" = ok ] || { echo "kill-test-sweep: after $what the store fails integrity_check: $integrity" >&2; exit 1; }
  "$bin" machines --store "$store" --format json > "$work/machines.json"
  python3 - "$work/machines.json" "$work/reference-packages.txt" "$what" <<'EOP'
import json, sys
ref = dict(l.rsplit(" ", 1) for l in open(sys.argv[2]).read().splitlines())
for m in json.load(open(sys.argv[1])):
    if str(m.get("packageCount")) != ref.get(m["name"]):
        sys.exit("kill-test-sweep: after %s, %s lists %s packages, not %s" % (sys.argv[3], m["name"], m.get("packageCount"), ref.get(m["name"])))
EOP
}

start=$(date +%s)
live=0
orphans=0
for k in $(seq 1 "$kills"); do
  extra=()
  [ $((RANDOM % 3)) -eq 0 ] && extra=(--reinspect)
  "$bin" sweep "$work/images" --store "$store" "${opts[@]}" "${extra[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v r="$RANDOM$RANDOM" -v w="$window" 'BEGIN { printf "%.3f", (r % w) / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then live=$((live + 1)); fi
  wait "$pid" 2>/dev/null || true
  # The appliance of a killed sweep stops by itself (its daemon loses the host side of its channel).
  for _ in $(seq 1 150); do [ -z "$(qemus)" ] && break; sleep 0.2; done
  if [ -n "$(qemus)" ]; then
    orphans=$((orphans + 1))
    echo "kill-test-sweep: after kill $k an appliance of the killed sweep still runs: $(qemus | tr '\n' ' ')" >&2
    qemus | xargs -r kill -9
  fi
  verify "kill $k"
done
[ "$live" -ge $((kills / 2)) ] || { echo "kill-test-sweep: only $live of $kills kills hit a running sweep" >&2; exit 1; }
[ "$orphans" -eq 0 ] || { echo "kill-test-sweep: $orphans kills left an appliance running" >&2; exit 1; }
"$bin" sweep "$work/images" --store "$store" "${opts[@]}" --format json | answers > "$work/final.txt" || true
diff -u "$work/reference.txt" "$work/final.txt" >&2 || { echo "kill-test-sweep: the final sweep's answer differs from the reference" >&2; exit 1; }
verify "the final sweep"
echo "kill-test-sweep: $kills random kill -9 of sweep over 7 images ($live while at work, window $((window / 1000)) s) in $(( $(date +%s) - start )) s: the store stayed whole, no appliance was left, and the final sweep gave the reference answer"
