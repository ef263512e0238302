"""`tonecue` command line: the device-side entry points.

    tonecue run       the device loop: microphone (or --input FILE) to light and vibration cues
    tonecue demo      the same loop on the bundled clip of real speech, cues in the terminal
    tonecue classify  whole files, as the device would hear them: one JSON line per file

An error tonecue means to report ends the command with one line on stderr and the exit status
`tonecue.edge.errors.exit_status` gives it (the same table for every tonecue command). Output
read by a program that stops early (`tonecue classify *.wav | head -1`) ends the command quietly.
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
from .errors import EXIT_STATUS, TonecueError, exit_status  # noqa: E402
from .model import DEFAULT_MODEL  # noqa: E402

# The codes by name, for scripts and tests; `tonecue.edge.errors.EXIT_STATUS` is their one source.
EXIT_INPUT, EXIT_MODEL, EXIT_CONFIG = (EXIT_STATUS[name] for name in ("AudioError", "ModelError", "ConfigError"))

DEMO_CLIP = Path(__file__).with_name("assets") / "demo.wav"


def run_live(args: argparse.Namespace, observers: tuple = ()) -> int:
    """The device loop on the microphone, or on a replayed file; `observers` see every step."""
    import logging

    from .capture import FileSource, MicrophoneSource
    from .config import load_config
    from .indicators import IndicatorSettings, make_indicator
    from .model import EmotionModel
    from .service import Service

    config = load_config(args.config)
    logging.basicConfig(level=config.service.log_level, format="%(levelname)s %(name)s: %(message)s")
    model = EmotionModel(args.model or config.model.model_path)
    rate = model.contract.spec.sample_rate
    input_file = args.input or config.audio.input_file
    if input_file:
        replay = FileSource(input_file, rate, realtime=not args.fast, block_seconds=config.audio.block_seconds)

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
    service.pipeline.observers.extend(observers)
    events = None
    if getattr(args, "events", None):
        from .events import EventWriter

        events = EventWriter.open(args.events)
        service.pipeline.observers.append(events)
    service.install_signal_handlers()
    try:
        return service.run()
    finally:
        if events is not None:
            events.close()


def run_demo(args: argparse.Namespace) -> int:
    script = json.loads(DEMO_CLIP.with_suffix(".json").read_text())
    said = ", ".join(u["label"] for u in script["utterances"])
    print(
        f"tonecue demo: {DEMO_CLIP.name}, real speech ({script['speaker']}: {said}), a voice the shipped model "
        f"never heard in training, through the live loop and {Path(args.model or DEFAULT_MODEL).name}; cues below.",
        flush=True,
    )
    args.input, args.terminal = DEMO_CLIP, True
    steps: list = []
    status = run_live(args, observers=(steps.append,))
    print(demo_summary(script["utterances"], steps), flush=True)
    return status


def demo_summary(utterances: list[dict], steps: list) -> str:
    """What was said beside what was shown, per utterance: the newcomer sees the real accuracy.

    What was shown for an utterance is the emotion the display held longest from its start to one
    second after its end (the loop needs about a second to hear a window); "nothing" when it held
    none."""
    lines = ["", "said       shown"]
    right = 0
    for u in utterances:
        start, end = u["start"], u["end"] + 1.0
        shown: dict[str, float] = {}
        previous_time, previous_label = start, None
        for step in steps:
            t, label = step.decision.time, step.decision.label
            if t <= start:
                previous_label = label
                continue
            if t > end:
                break
            shown[previous_label or "nothing"] = shown.get(previous_label or "nothing", 0.0) + t - previous_time
            previous_time, previous_label = t, label
        shown[previous_label or "nothing"] = shown.get(previous_label or "nothing", 0.0) + max(end - previous_time, 0.0)
        emotions = {label: t for label, t in shown.items() if label != "nothing" and t > 0}
        top = max(emotions, key=emotions.get) if emotions else "nothing"
        right += top == u["label"]
        lines.append(f"{u['label']:<10} {top}{'' if top == u['label'] else '   (wrong)' if top != 'nothing' else ''}")
    lines.append(f"{right} of {len(utterances)} utterances shown as said.")
    return "\n".join(lines)


def run_classify(args: argparse.Namespace) -> int:
    from .classify import channel_of_recordings, classify_file
    from .model import EmotionModel

    model = EmotionModel(args.model)
    channel = None if args.alone else channel_of_recordings(model, args.files)
    status = 0
    for path in args.files:
        try:
            print(json.dumps(classify_file(model, path, channel)), flush=True)
        except AudioError as exc:  # one bad file does not stop the others
            print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            status = exit_status(exc)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tonecue", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tonecue {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the device loop: microphone (or --input FILE) to light and vibration cues")
    run.add_argument("--config", type=Path, default=None,
                     help="TOML config (default /etc/tonecue/tonecue.toml if it exists, else built-in defaults)")
    run.add_argument("--input", type=Path, default=None, help="replay this audio file instead of the microphone")
    run.add_argument("--events", default=None, metavar="FILE",
                     help="write one JSON line per change of what is shown to FILE ('-': standard output); "
                          "see tonecue.edge.events")
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
    classify.add_argument("--alone", action="store_true",
                          help="judge each file by itself, from the model's prior (for files from different "
                               "microphones); by default the files given together are taken as one microphone's, "
                               "as a device learns its own: their channel is learnt from all of them first")
    classify.set_defaults(handler=run_classify)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tonecue")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except TonecueError as exc:
        print(f"tonecue: {exc}", file=sys.stderr)
        return exit_status(exc)
    except BrokenPipeError as exc:
        # Whoever read our output stopped (`| head`): stop too, without a traceback. stdout goes
        # to /dev/null so that Python's flush at exit does not hit the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
