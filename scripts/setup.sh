#!/usr/bin/env bash
# Sets up tonecue on a fresh Debian/Ubuntu machine or Raspberry Pi OS.
#   scripts/setup.sh edge   the device side only: .venv-edge (numpy 2, onnxruntime, sounddevice)
#   scripts/setup.sh full   everything: .venv-edge, and .venv with training, export and test tools
#   scripts/setup.sh system the system packages alone (what the other two install first)
# Safe to re-run: it installs only what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-full}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- system packages -------------------------------------------------------------------------
# libportaudio2: sounddevice's microphone access. alsa-utils: ALSA configs for the capture tests.
# systemd: systemd-analyze, which checks the service unit.
apt_packages=(libportaudio2 libsndfile1 alsa-utils systemd)
# pythonX.Y-venv: stock Debian and Ubuntu ship Python without ensurepip, so `python3 -m venv`
# fails until it is installed (python3-venv is the same package for the default python3).
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_packages+=("python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else sudo="unavailable"; fi
  if [ "$sudo" = unavailable ] || ! command -v apt-get >/dev/null; then
    say "please install these system packages yourself: ${missing[*]}"
  else
    say "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

[ "$what" = system ] && exit 0

# --- virtual environments --------------------------------------------------------------------
make_env() {  # make_env DIR EXTRAS
  local dir="$1" extras="$2" stamp="$1/.tonecue-installed"
  local want; want="$extras $(sha256sum pyproject.toml | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "$dir is up to date ($extras)"
    return
  fi
  say "creating $dir with tonecue[$extras] (a few minutes the first time)"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  # pip's and the build backend's chatter goes to a log, shown only if the install fails.
  if ! { "$dir/bin/python" -m pip install --upgrade pip && "$dir/bin/python" -m pip install -e ".[$extras]"; } >"$dir/install.log" 2>&1; then
    tail -n 40 "$dir/install.log"
    say "installing into $dir failed; the whole log is $dir/install.log"
    exit 1
  fi
  echo "$want" > "$stamp"
}

make_env .venv-edge "edge,test"
# The default model's speech detector (Silero VAD, MIT) comes from its PyPI wheel, not from this
# repository: placed beside the model once, checked against the SHA-256 in the model's contract.
if ! .venv-edge/bin/python scripts/detector.py edge/assets/model.onnx 2>.venv-edge/detector.log; then
  cat .venv-edge/detector.log
  say "could not place the speech detector beside the default model"
  exit 1
fi
if [ "$what" = full ]; then
  make_env .venv "edge,train,dev"
fi
say "ready"
