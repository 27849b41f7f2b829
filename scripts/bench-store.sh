#!/bin/sh
# Times the store at the scale of the Update Checker benchmark (1,000 machines × 900 packages sharing
# repositories): import, result storage, and counts for all machines from the result cache.
# Release build in its own scratch directory, so it does not disturb the debug build.
set -eu
cd "$(dirname "$0")/.."
IMGSEC_BENCH=1 exec swift test -c release --scratch-path .build-bench --filter StoreBenchmark "$@"
