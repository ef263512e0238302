"""Held-out clips: every clip of the speakers no shipped model trains on, one at a time.

    python -m tonecue.benchmarks.heldout_clips [MODEL.onnx ...] --out benchmarks/results/heldout-clips

Each clip goes through `EmotionModel.classify`, as `tonecue classify` hears a file: a new stream
and a new voice per clip, so a speaker-normalized model judges it without knowing the speaker.
Three hearings (`HEARINGS`):

- alone: every clip from the model's prior ("cold", `tonecue classify --alone`);
- together per corpus: each corpus's clips given to `tonecue classify` at once (its default): the
  channel learnt from all of them first (a corpus is one recording set-up, as a device with its
  microphone), then each clip judged against it;
- together for all: every clip, of every corpus, given at once: channels mixed, the hardest case
  for the estimate.

A clip with no voiced window counts as wrong ("none"). Reported: UAR over the four classes, per
corpus and in all, with per-class recall, for each model given (default: the two shipped ones).
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


HEARINGS = ("alone", "together per corpus", "together for all")


def hear(model: EmotionModel, items: list[tuple[str, Path, str]], hearing: str) -> list[str]:
    """The label said for each item (in the items' order), heard as `hearing` says."""
    from tonecue.edge.classify import channel_of_recordings

    if hearing == "alone":
        groups = [[i] for i in range(len(items))]
    elif hearing == "together per corpus":
        groups = [[i for i, item in enumerate(items) if item[0] == c] for c in sorted({c for c, _, _ in items})]
    elif hearing == "together for all":
        groups = [list(range(len(items)))]
    else:
        raise ValueError(f"hearing must be one of {HEARINGS}, got {hearing!r}")
    said = [""] * len(items)
    for group in groups:
        channel = None if hearing == "alone" else channel_of_recordings(model, [items[i][1] for i in group])
        for i in group:
            said[i] = model.classify(str(items[i][1]), channel=channel).label or "none"
    return said


def evaluate(model_path: Path, items: list[tuple[str, Path, str]], hearing: str = "alone") -> dict:
    model = EmotionModel(model_path)
    said = hear(model, items, hearing)
    result = {"model": str(model_path), "name": model.contract.model_name, "hearing": hearing,
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
    lines = ["# Held-out clips, one at a time", "",
             "Every clip of the speakers in `benchmarks/heldout.json`, classified as `tonecue classify` does, each a "
             "new voice; `python -m tonecue.benchmarks.heldout_clips`. *alone*: each clip from the model's prior "
             "(`tonecue classify --alone`); *together per corpus*: each corpus's clips given to `tonecue classify` at once "
             "(its default: the channel, the microphone and room, learnt from all of them first, then each clip judged "
             "against it); *together for all*: every clip of every corpus given at once. UAR over angry, happy, "
             "sad, neutral; chance 0.25.", "",
             "| model | trained on | heard | clips | UAR | " + " | ".join(corpora) + " | recall angry / happy / sad / neutral |",
             "|---|---|---|---:|---:|" + "---:|" * len(corpora) + "---|"]
    for r in results:
        lines.append(f"| `{Path(r['model']).name}` | {', '.join(r['trained_on'])} | {r['hearing']} | {r['clips']} | **{r['uar']:.3f}** | "
                     + " | ".join(f"{r['corpora'][c]['uar']:.3f}" if c in r["corpora"] else "–" for c in corpora)
                     + " | " + " / ".join(f"{r['recall'][label]:.2f}" for label in LABELS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.heldout_clips", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="exported models (default: the two shipped ones)")
    parser.add_argument("--out", type=Path, help="also write PATH.md and PATH.json")
    args = parser.parse_args(argv)
    items = clips()
    results = [evaluate(path, items, hearing) for path in (args.models or [p for p in SHIPPED if p.is_file()])
               for hearing in HEARINGS]
    text = to_markdown(results)
    print(text)
    write_report(args.out, text, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
