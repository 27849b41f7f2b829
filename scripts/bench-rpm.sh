#!/usr/bin/env bash
# Prints primary.xml parse time next to zcat of the same file, and rpmdb read time per package.
set -euo pipefail
cd "$(dirname "$0")/.."
IMGSEC_BENCH=1 swift test -c release --scratch-path .build-bench --filter RPMBenchmark 2>&1 | grep -E "primary.xml|rpmdb|passed|failed"
