"""`tonecue-train`: reproduce the seed's six models on a corpus folder and evaluate them honestly.

    tonecue-train --data ../shared/data/ser-en-dev
    tonecue-train --data DIR --models rf,cnn2d --folds 5 --seed 0 --out runs/mine
    tonecue-train --data DIR --quick          # a smoke run: tiny epochs, numbers mean nothing
    tonecue-train --data ../shared/data/ser-en-dev --data ../shared/data/crema-d \
        --exclude-speakers benchmarks/heldout.json --level-dbfs -25 --normalize speaker
    tonecue-train ... --sample-rate 16000 --window-seconds 2 --models svm-paraling --normalize speaker \
        --noise ../shared/data/noise/esc10 --augment 1 --snr 20,10,5 --gain-guard

Everything happens in `tonecue.train.run.run_training`; this module parses arguments, prints
progress on stderr and turns an error into its message and the exit status of
`tonecue.edge.errors.exit_status`: 0 done, 1 a step failed (featurewiz), 2 an unusable corpus
folder or bad settings, 130 interrupted.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while idle starve featurewiz's XGBoost next to torch's threads (4-14x
# slower on two cores); passive waiting changes timing only, never results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Sequence  # noqa: E402

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from tonecue.train import models

    titles = "; ".join(f"{k.name}: {k.title}" for k in models.kinds())
    parser = argparse.ArgumentParser(
        prog="tonecue-train",
        description=(
            f"Train the models ({titles}) on a speech emotion corpus and evaluate them with a random "
            "80/20 clip split (the seed's) and speaker-grouped folds (the honest one). Writes a run folder "
            "with the final models, run.json (the training configuration, labels, frontend and selected "
            "features), results.md/results.json, reports and confusion plots."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, action="append",
                        help="corpus folder (the Kaggle speech-emotion-recognition-en layout, or original corpora); "
                             "repeat it to train on several")
    parser.add_argument("--exclude-speakers", type=Path, default=None, metavar="FILE",
                        help="leave out the speakers a JSON file lists ({\"speakers\": [{\"id\": \"crema:1003\"}, ...]}, "
                             "as benchmarks/heldout.json) or a text file names one per line")
    parser.add_argument("--sample-rate", type=int, default=22050,
                        help="the rate every clip is resampled to, with the seed's timing (FrontendSpec.at_rate); "
                             "16000 keeps out the band above 8 kHz that only some corpora have (default: 22050)")
    parser.add_argument("--window-seconds", type=float, default=None,
                        help="window length (default: the seed's 50 frames, about 1.14 s); the paralinguistic "
                             "model (svm-paraling) wants 2")
    parser.add_argument("--level-dbfs", type=float, default=None,
                        help="scale every window to this RMS level before its features (default: as recorded, "
                             "the seed); -25 makes no feature carry the recording level")
    parser.add_argument("--normalize", choices=("none", "speaker"), default="none",
                        help="speaker: standardize the vector input (statistics or paralinguistic functionals) per speaker in training, online on the device "
                             "(default: none)")
    parser.add_argument("--noise", type=Path, default=None, metavar="DIR",
                        help="the ESC-10 folder (../shared/data/noise/esc10) that --augment and --snr mix in")
    parser.add_argument("--augment", type=int, default=0, metavar="N",
                        help="N augmented copies of every training clip: speed, pitch, rooms, ESC-10 folds 1-3 at "
                             "5-20 dB, band-limits, gains that clip (tonecue.train.augment; default: 0)")
    parser.add_argument("--snr", default="", metavar="DB,DB,...",
                        help="also test every protocol with ESC-10 fold 5 (held out) mixed in at these SNRs, e.g. 20,10,5")
    parser.add_argument("--gain-guard", action="store_true",
                        help="also test every protocol with each clip 10-20 dB louder or quieter (clipped at full scale)")
    parser.add_argument("--no-detector", action="store_true",
                        help="choose voiced windows by the level gate alone, not the Silero speech detector")
    parser.add_argument("--models", default="all",
                        help=f"comma-separated subset of {','.join(models.names())}; all: the seed's "
                             f"{','.join(models.all_names())} (default: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder to create (default: runs/<timestamp>/); must be new or empty")
    parser.add_argument("--folds", type=int, default=5, help="speaker-grouped folds (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of splits, featurewiz and models (default: 0)")
    parser.add_argument("--cache", type=str, default=None,
                        help="feature cache folder (default: ~/.cache/tonecue/features; 'none' disables it)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes that cut and featurize clips (default: the cores available)")
    parser.add_argument("--calm-as-neutral", action="store_true", help="count RAVDESS calm as neutral")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1-2 epochs per net, featurewiz on 400 windows (numbers mean nothing)")
    return parser


def read_speaker_list(path: Path) -> tuple[str, ...]:
    """Speaker ids from a JSON file ({"speakers": [{"id": ...}, ...]}) or a text file, one per line."""
    from tonecue.train.run import RunError

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise RunError(f"--exclude-speakers: cannot read {path}: {exc.strerror or exc}") from None
    if Path(path).suffix == ".json":
        import json

        try:
            return tuple(str(s["id"]) for s in json.loads(text)["speakers"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError(f"--exclude-speakers: {path} is not a speaker list ({{\"speakers\": [{{\"id\": ...}}]}}): {exc}") from None
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def parse_snrs(text: str) -> tuple[float, ...]:
    """"20,10,5" -> (20.0, 10.0, 5.0); "" -> ()."""
    from tonecue.train.run import RunError

    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise RunError(f"--snr takes numbers of dB separated by commas, e.g. 20,10,5; got {text!r}") from None
    if any(not -20 <= v <= 60 for v in values):
        raise RunError(f"--snr values must lie between -20 and 60 dB, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from tonecue.edge.errors import TonecueError, exit_status
    from tonecue.train.run import RunConfig, parse_models, run_training

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    cache: object = None
    if args.cache is not None:
        cache = False if args.cache.strip().lower() in ("none", "off", "false", "") else Path(args.cache)
    words = ["tonecue-train", *(sys.argv[1:] if argv is None else list(argv))]
    try:
        from tonecue.edge.spec import FrontendSpec
        from tonecue.edge.speech import LEVEL_ONLY, DetectorSettings

        config = RunConfig(
            data=args.data,
            spec=FrontendSpec.at_rate(args.sample_rate, window_seconds=args.window_seconds, level_dbfs=args.level_dbfs),
            detector=LEVEL_ONLY if args.no_detector else DetectorSettings(),
            normalization=args.normalize,
            exclude_speakers=read_speaker_list(args.exclude_speakers) if args.exclude_speakers else (),
            noise=args.noise,
            augment=args.augment,
            snr=parse_snrs(args.snr),
            gain_guard=args.gain_guard,
            out=args.out,
            models=parse_models(args.models),
            folds=args.folds,
            seed=args.seed,
            cache=cache,
            workers=args.workers,
            calm_as_neutral=args.calm_as_neutral,
            quick=args.quick,
            command=shlex.join(words),
        )
        results = run_training(config, log=say)
    except TonecueError as err:
        say(f"tonecue-train: error: {err}")
        return exit_status(err)
    except KeyboardInterrupt:
        say("tonecue-train: interrupted")
        return 130
    print(Path(results["run_folder"]) / "results.md")
    return 0


if __name__ == "__main__":  # python -m tonecue.train.cli (spawned feature workers need the guard)
    sys.exit(main())
