#!/usr/bin/env bash
# The main job: installs what is needed, builds a Debian 12 demo image (once), and inspects it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/setup.sh"
image=$("$here/build-test-images.sh" --demo-only | tail -1)
cd "$here/.."
bin=$(swift build -c release --show-bin-path)/imgsec
echo "\$ imgsec inspect $image" >&2
"$bin" inspect "$image"
