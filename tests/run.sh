#!/usr/bin/env bash
# The test command (README quick start, and what CI runs): dependencies, build, whole suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tests/build.sh"
cd "$root/build"
ctest --output-on-failure -j2 "$@"
