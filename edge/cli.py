"""`tonecue` command line: the device-side entry points.

`tonecue demo` runs the frontend over the bundled clip of real speech and prints what each window
looks like; `tonecue features FILE...` prints one JSON line per file with its windows' model inputs
summarised. (The live loop and the classifier arrive with the exported model.)
"""

from __future__ import annotations

import os

# The frontend's matrices are small: extra BLAS threads only add start-up (the first matmul takes
# 50 ms with numpy 2's threaded OpenBLAS) and busy-waiting. One thread, like one core of a Pi,
# unless the environment says otherwise. This must run before numpy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np  # noqa: E402

from .audio import AudioError, load_audio
from .frontend import KINDS, featurize_clip, frontend_for
from .model import DEFAULT_MODEL, ModelError
from .spec import FrontendSpec

# Exit codes: 1 some input could not be read; 2 usage (argparse); 3 the model cannot be used;
# 4 the config file is wrong. Distinct, so that systemd's logs and scripts can tell them apart.
EXIT_INPUT, EXIT_MODEL, EXIT_CONFIG = 1, 3, 4

DEMO_CLIP = Path(__file__).with_name("assets") / "demo.wav"
# The device re-decides every 22 frames (0.51 s): a whole number of frames keeps the frames that
# successive windows share reusable.
DEFAULT_HOP_FRAMES = 22


def _summarise(path: Path, spec: FrontendSpec, hop_frames: int) -> dict:
    signal = load_audio(path, spec.sample_rate)
    summary = {"file": str(path), "seconds": round(len(signal) / spec.sample_rate, 3)}
    for kind in KINDS:
        started = time.perf_counter()
        features = featurize_clip(signal, spec, kind, hop_frames)
        elapsed = time.perf_counter() - started
        summary[kind] = {
            "shape": list(features.shape),
            "ms_per_window": round(1e3 * elapsed / len(features), 3),
        }
    return summary


def run_demo(args: argparse.Namespace) -> int:
    spec = FrontendSpec()
    frontend_for(spec)
    signal = load_audio(DEMO_CLIP, spec.sample_rate)
    print(f"tonecue demo: {DEMO_CLIP.name}, {len(signal) / spec.sample_rate:.1f} s of real speech (RAVDESS actor 04)")
    print(f"frontend: {spec.sample_rate} Hz, n_fft {spec.n_fft}, hop {spec.hop_length}, "
          f"{spec.window_frames}-frame windows ({spec.window_seconds:.2f} s) every {args.hop_frames} frames")
    started = time.perf_counter()
    stats = featurize_clip(signal, spec, "stats", args.hop_frames)
    elapsed = time.perf_counter() - started
    names = spec.stats_feature_names()
    rms_column, zcr_column = names.index("rms_mean"), names.index("zcr_mean")
    print(f"{'time':>6}  {'level':>9}  {'ZCR':>5}  {'MFCC0':>7}  loudness")
    for i, row in enumerate(stats):
        seconds = i * args.hop_frames * spec.hop_length / spec.sample_rate
        level = 20 * np.log10(max(float(row[rms_column]), 1e-6))
        bar = "#" * max(0, int((level + 60) / 2))
        print(f"{seconds:5.2f}s  {level:6.1f} dBFS  {row[zcr_column]:5.3f}  {row[0]:7.1f}  {bar}")
    per_window = 1e3 * elapsed / len(stats)
    print(f"{len(stats)} windows, {per_window:.2f} ms each "
          f"({per_window / (1e3 * args.hop_frames * spec.hop_length / spec.sample_rate):.4f} of real time)")
    return 0


def run_features(args: argparse.Namespace) -> int:
    spec = FrontendSpec()
    failed = False
    for path in args.files:
        try:
            print(json.dumps(_summarise(Path(path), spec, args.hop_frames)), flush=True)
        except AudioError as exc:
            print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            failed = True
    return EXIT_INPUT if failed else 0


def run_classify(args: argparse.Namespace) -> int:
    from .classify import classify_file
    from .model import EmotionModel

    try:
        model = EmotionModel(args.model)
    except ModelError as exc:
        print(f"tonecue: {exc}", file=sys.stderr)
        return EXIT_MODEL
    failed = False
    for path in args.files:
        try:
            print(json.dumps(classify_file(model, path)), flush=True)
        except AudioError as exc:
            print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            failed = True
    return EXIT_INPUT if failed else 0


def run_live(args: argparse.Namespace) -> int:
    """The device loop on the microphone, or on a replayed file."""
    import logging

    from .capture import FileSource, MicrophoneSource
    from .config import ConfigError, load_config
    from .indicators import make_indicator
    from .model import EmotionModel
    from .service import Service

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"tonecue: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(level=config.service.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        model = EmotionModel(args.model or config.model.model_path)
    except ModelError as exc:
        print(f"tonecue: {exc}", file=sys.stderr)
        return EXIT_MODEL
    rate = model.contract.spec.sample_rate
    input_file = args.input or config.audio.input_file
    if input_file:
        try:
            replay = FileSource(input_file, rate, realtime=not args.fast, block_seconds=config.audio.block_seconds)
        except AudioError as exc:
            print(f"tonecue: {exc}", file=sys.stderr)
            return EXIT_INPUT

        def open_source():
            return replay

    else:

        def open_source():
            return MicrophoneSource(
                rate,
                device=config.audio.sounddevice_device,
                block_seconds=config.audio.block_seconds,
                device_rate=config.audio.sample_rate or None,
            )

    service = Service(config, model, make_indicator(config.indicators, config.cues), open_source)
    service.install_signal_handlers()
    return service.run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tonecue", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the frontend over the bundled clip of real speech")
    demo.set_defaults(handler=run_demo)
    features = commands.add_parser("features", help="summarise the model inputs of audio files as JSON lines")
    features.add_argument("files", nargs="+", help="WAV, FLAC or AIFF files, any rate, mono or stereo")
    features.set_defaults(handler=run_features)
    run = commands.add_parser("run", help="the device loop: microphone (or --input FILE) to light and vibration cues")
    run.add_argument("--config", type=Path, default=None,
                     help="TOML config (default /etc/tonecue/tonecue.toml if it exists, else built-in defaults)")
    run.add_argument("--model", type=Path, default=None, help="an exported tonecue ONNX model (overrides the config)")
    run.add_argument("--input", type=Path, default=None, help="replay this audio file instead of the microphone")
    run.add_argument("--fast", action="store_true", help="with --input: replay as fast as possible, not in real time")
    run.set_defaults(handler=run_live)
    classify = commands.add_parser(
        "classify", help="classify audio files as the device would hear them: one JSON line per file"
    )
    classify.add_argument("files", nargs="+", help="WAV, FLAC or AIFF files, any rate, mono or stereo")
    classify.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="an exported tonecue ONNX model")
    classify.set_defaults(handler=run_classify)
    for sub in (demo, features):
        sub.add_argument("--hop-frames", type=int, default=DEFAULT_HOP_FRAMES,
                         help=f"frames between window starts (default {DEFAULT_HOP_FRAMES}, about 0.5 s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
