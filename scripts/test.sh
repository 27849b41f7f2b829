#!/usr/bin/env bash
# Runs imgsec's whole test suite: installs what it needs, builds the test images (once), then swift test and
# a short run of the kill script.
# The image tests launch real libguestfs appliances (under TCG here) and are required, not skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/setup.sh" --no-build
"$here/build-test-images.sh" >/dev/null
export IMGSEC_TEST_IMAGES=${IMGSEC_TEST_IMAGES:-/var/tmp/imgsec-test-images}
export IMGSEC_REQUIRE_IMAGES=1
cd "$here/.."
# shellcheck source=lib.sh
source "$here/lib.sh"
# The command-line tests run imgsec as it ships (Tests/imgsecTests/CLI.swift takes IMGSEC_BIN).
export IMGSEC_BIN=${IMGSEC_BIN:-$(imgsec_build)}
swift build --build-tests
swift test --skip-build "$@"
# Crash safety, a short run (scripts/kill-test.sh 100 is the long one): random kill -9 of register/scan/check.
[ $# -eq 0 ] && "$here/kill-test.sh" 10 20
