#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh full) and runs every test, twice over the device side:
#   1. .venv       the host stack (training pins, librosa as the reference): all tests;
#   2. .venv-edge  only what a device installs (numpy 2, onnxruntime) and pytest: tests/edge.
# Any failure, or a run that collects no test (pytest's exit 5), fails the whole script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh full

say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
say "host environment: all tests"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
say "device environment (edge extra only, $(.venv-edge/bin/python -c 'import numpy; print("numpy", numpy.__version__)')): tests/edge"
.venv-edge/bin/python -m pytest -p no:cacheprovider tests/edge "$@"
say "all tests passed"
