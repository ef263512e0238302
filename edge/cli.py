"""`tonecue` command line: the device-side entry points.

    tonecue run       the device loop: microphone (or --input FILE) to light and vibration cues
    tonecue demo      the same loop on the bundled clip of real speech, cues in the terminal
    tonecue classify  whole files, as the device would hear them: one JSON line per file
"""

from __future__ import annotations

import os

# The frontend's matrices are small: extra BLAS threads only add start-up (the first matmul takes
# 50 ms with numpy 2's threaded OpenBLAS) and busy-waiting. One thread, like one core of a Pi,
# unless the environment says otherwise. This must run before numpy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from .audio import AudioError  # noqa: E402
from .model import DEFAULT_MODEL, ModelError  # noqa: E402

# Exit codes: 1 some input could not be read; 2 usage (argparse); 3 the model cannot be used;
# 4 the config file is wrong. Distinct, so that systemd's logs and scripts can tell them apart.
EXIT_INPUT, EXIT_MODEL, EXIT_CONFIG = 1, 3, 4

DEMO_CLIP = Path(__file__).with_name("assets") / "demo.wav"


def _fail(message: object, code: int) -> int:
    print(f"tonecue: {message}", file=sys.stderr)
    return code


def run_live(args: argparse.Namespace) -> int:
    """The device loop on the microphone, or on a replayed file."""
    import logging

    from .capture import FileSource, MicrophoneSource
    from .config import ConfigError, load_config
    from .indicators import IndicatorSettings, make_indicator
    from .model import EmotionModel
    from .service import Service

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(exc, EXIT_CONFIG)
    logging.basicConfig(level=config.service.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        model = EmotionModel(args.model or config.model.model_path)
    except ModelError as exc:
        return _fail(exc, EXIT_MODEL)
    rate = model.contract.spec.sample_rate
    input_file = args.input or config.audio.input_file
    if input_file:
        try:
            replay = FileSource(input_file, rate, realtime=not args.fast, block_seconds=config.audio.block_seconds)
        except AudioError as exc:
            return _fail(exc, EXIT_INPUT)

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

    indicators = IndicatorSettings(kinds=("terminal",)) if args.terminal else config.indicators
    service = Service(config, model, make_indicator(indicators, config.cues), open_source)
    service.install_signal_handlers()
    return service.run()


def run_demo(args: argparse.Namespace) -> int:
    print(
        f"tonecue demo: {DEMO_CLIP.name}, real speech (RAVDESS actor 04: neutral, happy, sad, angry), "
        f"through the live loop and {Path(args.model or DEFAULT_MODEL).name}; cues below.",
        flush=True,
    )
    args.input, args.terminal = DEMO_CLIP, True
    return run_live(args)


def run_classify(args: argparse.Namespace) -> int:
    from .classify import classify_file
    from .model import EmotionModel

    try:
        model = EmotionModel(args.model)
    except ModelError as exc:
        return _fail(exc, EXIT_MODEL)
    failed = False
    for path in args.files:
        try:
            print(json.dumps(classify_file(model, path)), flush=True)
        except AudioError as exc:
            print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            failed = True
    return EXIT_INPUT if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tonecue", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the device loop: microphone (or --input FILE) to light and vibration cues")
    run.add_argument("--config", type=Path, default=None,
                     help="TOML config (default /etc/tonecue/tonecue.toml if it exists, else built-in defaults)")
    run.add_argument("--input", type=Path, default=None, help="replay this audio file instead of the microphone")
    run.set_defaults(handler=run_live, terminal=False)

    demo = commands.add_parser("demo", help="the device loop on the bundled clip of real speech, cues in the terminal")
    demo.set_defaults(handler=run_demo, config=None)

    for sub in (run, demo):
        sub.add_argument("--model", type=Path, default=None, help="an exported tonecue ONNX model (default: the shipped one)")
        sub.add_argument("--fast", action="store_true", help="replay files as fast as possible, not in real time")

    classify = commands.add_parser(
        "classify", help="classify audio files as the device would hear them: one JSON line per file"
    )
    classify.add_argument("files", nargs="+", help="WAV, FLAC or AIFF files, any rate, mono or stereo")
    classify.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="an exported tonecue ONNX model")
    classify.set_defaults(handler=run_classify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
