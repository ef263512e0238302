"""Held-out clips: every clip of the speakers no shipped model trains on, one at a time.

    python -m tonecue.benchmarks.heldout_clips [MODEL.onnx ...] --out benchmarks/results/heldout-clips

Each clip goes through `EmotionModel.classify`, as `tonecue classify` hears a file: a new stream
per clip, so a speaker-normalized model judges it by its prior alone ("cold"). A clip with no
voiced window counts as wrong ("none"). Reported: UAR over the four classes, per corpus and in
all, with per-class recall, for each model given (default: the two shipped ones), side by side.
The speakers are those of `benchmarks/heldout.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tonecue.edge.model import DEFAULT_MODEL, EmotionModel
from tonecue.benchmarks.nonspeech import DATA, held_out_speakers
from tonecue.benchmarks.report import write_report

LABELS = ("angry", "happy", "sad", "neutral")
#: Emotions as the corpora name them in files, to the four labels.
EMOTION = {"anger": "angry", "angry": "angry", "happiness": "happy", "happy": "happy",
           "sadness": "sad", "sad": "sad", "neutral": "neutral"}
SHIPPED = (DEFAULT_MODEL, DEFAULT_MODEL.with_name("model-crema-d.onnx"))


def uar(truth: list[str], said: list[str]) -> tuple[float, dict[str, float]]:
    """Unweighted average recall over LABELS (a label never said counts 0), and each recall."""
    recall = {}
    for label in LABELS:
        rows = [s for t, s in zip(truth, said) if t == label]
        recall[label] = sum(s == label for s in rows) / len(rows) if rows else float("nan")
    return float(np.nanmean(list(recall.values()))), recall


def clips() -> list[tuple[str, Path, str]]:
    """(corpus, path, label) of every held-out clip of the four emotions."""
    from tonecue.train.corpus import parse_name

    out = []
    for speaker in held_out_speakers():
        for path in sorted((DATA / speaker["folder"]).glob(speaker["glob"])):
            label = EMOTION.get(parse_name(path).emotion)
            if label is not None:
                out.append((speaker["id"].split(":")[0], path, label))
    return out


def evaluate(model_path: Path, items: list[tuple[str, Path, str]]) -> dict:
    model = EmotionModel(model_path)
    said = [model.classify(str(path)).label or "none" for _, path, _ in items]
    result = {"model": str(model_path), "name": model.contract.model_name,
              "trained_on": sorted(model.contract.training.get("data", {}).get("corpora", {})), "corpora": {}}
    for corpus in sorted({c for c, _, _ in items}):
        rows = [i for i, (c, _, _) in enumerate(items) if c == corpus]
        value, recall = uar([items[i][2] for i in rows], [said[i] for i in rows])
        result["corpora"][corpus] = {"clips": len(rows), "uar": value, "recall": recall}
    result["uar"], result["recall"] = uar([t for _, _, t in items], said)
    result["clips"] = len(items)
    return result


def to_markdown(results: list[dict]) -> str:
    corpora = sorted({c for r in results for c in r["corpora"]})
    lines = ["# Held-out clips, one at a time (cold)", "",
             "Every clip of the speakers in `benchmarks/heldout.json`, classified on its own as `tonecue classify` "
             "does; `python -m tonecue.benchmarks.heldout_clips`. UAR over angry, happy, sad, neutral; chance 0.25.", "",
             "| model | trained on | clips | UAR | " + " | ".join(corpora) + " | recall angry / happy / sad / neutral |",
             "|---|---|---:|---:|" + "---:|" * len(corpora) + "---|"]
    for r in results:
        lines.append(f"| `{Path(r['model']).name}` | {', '.join(r['trained_on'])} | {r['clips']} | **{r['uar']:.3f}** | "
                     + " | ".join(f"{r['corpora'][c]['uar']:.3f}" if c in r["corpora"] else "–" for c in corpora)
                     + " | " + " / ".join(f"{r['recall'][label]:.2f}" for label in LABELS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.heldout_clips", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="exported models (default: the two shipped ones)")
    parser.add_argument("--out", type=Path, help="also write PATH.md and PATH.json")
    args = parser.parse_args(argv)
    items = clips()
    results = [evaluate(path, items) for path in (args.models or [p for p in SHIPPED if p.is_file()])]
    text = to_markdown(results)
    print(text)
    write_report(args.out, text, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
