"""`tonecue-train`: reproduce the seed's six models on a corpus folder and evaluate them honestly.

    tonecue-train --data ../shared/data/ser-en-dev
    tonecue-train --data DIR --models rf,cnn2d --folds 5 --seed 0 --out runs/mine
    tonecue-train --data DIR --quick          # a smoke run: tiny epochs, numbers mean nothing

Everything happens in `tonecue.train.run.run_training`; this module parses arguments, prints
progress on stderr and turns a bad folder or bad settings into a message and exit status 2.
Exit status: 0 done, 1 failure (featurewiz or another error, with its message), 2 bad input.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from tonecue.train.run import MODEL_NAMES

    parser = argparse.ArgumentParser(
        prog="tonecue-train",
        description=(
            "Train the seed's six models (random forest, SVM, decision tree, 1D CNN, 2D CNN, CNN-BiLSTM) "
            "on a speech emotion corpus and evaluate them with a random 80/20 clip split (the seed's) and "
            "speaker-grouped folds (the honest one). Writes a run folder with the final models, the "
            "frontend spec, labels, selected features, reports, results.md/results.json and confusion plots."
        ),
    )
    parser.add_argument("--data", required=True, type=Path,
                        help="corpus folder (the Kaggle speech-emotion-recognition-en layout, or original corpora)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help=f"comma-separated subset of {','.join(MODEL_NAMES)} (default: all)")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from tonecue.train.classic import FeatureSelectionError
    from tonecue.train.corpus import CorpusError
    from tonecue.train.run import RunConfig, RunError, parse_models, run_training

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if args.workers is not None and args.workers < 1:
        say(f"tonecue-train: error: --workers must be at least 1, got {args.workers}")
        return 2
    cache: object = None
    if args.cache is not None:
        cache = False if args.cache.strip().lower() in ("none", "off", "false", "") else Path(args.cache)
    words = ["tonecue-train", *(sys.argv[1:] if argv is None else list(argv))]
    try:
        config = RunConfig(
            data=args.data,
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
    except (CorpusError, RunError) as err:
        say(f"tonecue-train: error: {err}")
        return 2
    except FeatureSelectionError as err:
        say(f"tonecue-train: featurewiz failed: {err}")
        return 1
    except KeyboardInterrupt:
        say("tonecue-train: interrupted")
        return 130
    print(Path(results["run_folder"]) / "results.md")
    return 0


if __name__ == "__main__":  # python -m tonecue.train.cli (spawned feature workers need the guard)
    sys.exit(main())
