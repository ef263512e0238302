#!/usr/bin/env bash
# Sets up the device side (scripts/setup.sh edge) and runs the main job on what ships with
# tonecue: the bundled demo clip of real speech.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh edge
exec .venv-edge/bin/tonecue demo "$@"
