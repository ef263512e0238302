"""A voice from a corpus the model never heard, judged without knowing the speaker (issue 11):
from the prior alone, or from what one device has learnt of its channel.

    python -m tonecue.benchmarks.channel_study --out benchmarks/results/channel-study

Windows: the shipped recipe's (ser-en-dev + crema-d without the speakers of benchmarks/heldout.json,
16 kHz, 2 s windows, Silero-gated, `paraling-mfcc-upper`; from the feature cache a training run
fills), its first augmented copy, and the clean windows with ESC-10 fold 5 mixed in at 10 dB (the
held-out test noise; reported, never chosen on).

Training, as `tonecue-train --normalize speaker --augment 1` builds it for the shipped kernel
model (`klr-paraling-mfcc-upper`): each training speaker (an augmented copy is a speaker of its
own) standardized by its own statistics, plus the same windows standardized by the prior alone.
`--recipe corpus-centred` adds a third copy, each training corpus centred on its own mean (what a
device that knows its channel would give). Scaler and Nyström kernel logistic regression as the
registry's kind; `--landmarks` sets its size (the shipped model has 2000).

Test clips, each a new voice, heard through the device's own code (`SpeakerNormalizer`,
`ChannelEstimate`; clip-level decision: the mean of its windows' probabilities):

- **alone**: every clip from the prior (`tonecue classify --alone`);
- **one device**: the test set's clips in a seeded random order through one device, whose channel
  estimate carries over from clip to clip. Leave one corpus out: the held-out corpus is one
  recording set-up, as a device with its microphone is. Speaker-grouped: a fold mixes corpora,
  the hardest case for the estimate.
- **together**: the test set's clips given to `tonecue classify` at once (its default): the
  channel learnt from all of them first (every window weighed alike), then each clip judged
  against it; **together per corpus**: each corpus's clips given at once (in leave one corpus
  out, the same as together).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from tonecue.benchmarks.nonspeech import DATA
from tonecue.benchmarks.report import write_report

KIND = "paraling-mfcc-upper"
RECIPES = ("shipped", "corpus-centred")
HEARINGS = ("alone", "one device", "together", "together per corpus")


def windows(data: Path):
    """(clean windows, clean + augmented copy, copy mask, the clean clips at 10 dB of fold 5)."""
    from tonecue.edge.spec import FrontendSpec
    from tonecue.edge.speech import DetectorSettings
    from tonecue.train.augment import Augmenter
    from tonecue.train.cli import read_speaker_list
    from tonecue.train.conditions import conditions
    from tonecue.train.corpus import LabelMap, build_index_of, without_speakers
    from tonecue.train.noise import TRAIN_FOLDS, NoiseBank
    from tonecue.train.windows import extract_windows, with_copies

    heldout = Path(__file__).resolve().parent / "heldout.json"
    index = build_index_of([data / "ser-en-dev", data / "crema-d"], LabelMap())
    index, _ = without_speakers(index, read_speaker_list(heldout))
    spec = FrontendSpec.at_rate(16000, window_seconds=2, level_dbfs=-25)
    noise = data / "noise" / "esc10"

    def cut(transform=None, variant=0):
        return extract_windows(index, spec=spec, kinds=(KIND,), detector=DetectorSettings(), progress=True,
                               transform=transform, variant=variant)

    ws = cut()
    train_ws, copies = with_copies(ws, [cut(Augmenter(NoiseBank(noise, TRAIN_FOLDS)), 1)])
    noisy = cut(conditions(noise, (10.0,), False)["snr-10"])
    where = {os.fspath(c.path): i for i, c in enumerate(ws.clips)}
    noisy.clip_ids = np.array([where.get(os.fspath(c.path), -1) for c in noisy.clips])[noisy.clip_ids]
    return ws, train_ws, copies, noisy


def fit(train_ws, rows: np.ndarray, recipe: str, landmarks: int, seed: int):
    """The model and the prior of one split's training rows."""
    from sklearn.preprocessing import StandardScaler

    from tonecue.edge.normalize import NormalizationSettings, cold_normalize, normalize_per_speaker, speaker_statistics
    from tonecue.train.kernel import NystroemLogisticRegression

    X = train_ws.features[KIND][rows].astype(np.float64)
    mean, std = speaker_statistics(X, train_ws.speakers[rows])
    prior = NormalizationSettings(kind="speaker", mean=tuple(mean), std=tuple(std))
    parts = [normalize_per_speaker(X, train_ws.speakers[rows]), cold_normalize(X, prior)]
    if recipe == "corpus-centred":
        corpora = train_ws.corpora[rows]
        centred = np.empty_like(parts[1])
        for corpus in np.unique(corpora):
            centred[corpora == corpus] = parts[1][corpora == corpus] - parts[1][corpora == corpus].mean(axis=0)
        parts.append(centred)
    labels = np.concatenate([train_ws.labels[rows]] * len(parts))
    fit_x = np.vstack(parts)
    scaler = StandardScaler().fit(fit_x)
    model = NystroemLogisticRegression(n_components=landmarks, C=10.0, random_state=seed).fit(scaler.transform(fit_x), labels)
    return (lambda z: model.predict_proba(scaler.transform(z))), prior


def heard(ws, rows: np.ndarray, prior, hearing: str, seed: int) -> np.ndarray:
    """The rows' features as the device standardizes them, clip by clip (each clip a new voice)."""
    from tonecue.edge.normalize import ChannelEstimate, SpeakerNormalizer

    hop = ws.spec.hop_seconds(ws.hop_frames)
    X = ws.features[KIND]
    out = np.empty((len(rows), X.shape[1]), dtype=np.float32)
    # Alone, each clip's normalizer makes a channel of its own, fresh from the prior.
    channel = ChannelEstimate(prior, hop) if hearing == "one device" else None
    clip_of = ws.clip_ids[rows]
    channels = {}
    if hearing.startswith("together"):  # the channel of the clips heard together, learnt first
        groups = ws.corpora[rows] if hearing == "together per corpus" else np.zeros(len(rows), dtype=int)
        for group in np.unique(groups):
            together = ChannelEstimate(prior, hop, remember_all=True)
            for i in np.flatnonzero(groups == group):
                together.learn(X[rows[i]])
            channels.update({clip: together.frozen() for clip in np.unique(clip_of[groups == group])})
    for clip in np.random.default_rng(seed).permutation(np.unique(clip_of)):
        normalizer = SpeakerNormalizer(prior, hop, channels.get(clip, channel))
        for i in np.flatnonzero(clip_of == clip):  # in stream order
            out[i] = normalizer(X[rows[i]], i * hop)
    return out


def clip_uar(ws, rows: np.ndarray, proba: np.ndarray) -> tuple[float, dict[str, float]]:
    """Clip UAR of the rows' window probabilities, overall and per corpus."""
    from tonecue.train.evaluate import evaluate_predictions

    clip = evaluate_predictions(proba, ws.labels[rows], ws.clip_ids[rows], ws.corpora[rows], ws.classes)["clip"]
    return clip["overall"]["uar"], {corpus: m["uar"] for corpus, m in clip["per_corpus"].items()}


def study(recipe: str, landmarks: int, seed: int, data: Path) -> dict:
    from tonecue.train import evaluate as ev

    ws, train_ws, copies, noisy = windows(data)
    table = ev.clip_table(ws)
    protocols = {"leave one corpus out": ev.corpus_protocol(table, 0, ev.VALIDATION_FRACTION),
                 "speaker-grouped": ev.speaker_protocol(table, 5, 0, ev.VALIDATION_FRACTION)}
    out = {"recipe": recipe, "landmarks": landmarks, "seed": seed, "protocols": {}}
    for protocol, splits in protocols.items():
        pooled: dict[str, list] = {}
        for split in splits:
            train_rows = np.flatnonzero(np.isin(train_ws.clip_ids, split.train))
            predict, prior = fit(train_ws, train_rows, recipe, landmarks, seed)
            for condition, source in (("clean", ws), ("10 dB", noisy)):
                rows = np.flatnonzero(np.isin(source.clip_ids, split.test))
                for hearing in HEARINGS:
                    proba = predict(heard(source, rows, prior, hearing, seed))
                    pooled.setdefault(f"{condition}|{hearing}", []).append((source, rows, proba))
            print(f"{recipe} {protocol} {split.name} done", file=sys.stderr, flush=True)
        result = {}
        for key, parts in pooled.items():
            source = parts[0][0]
            rows = np.concatenate([r for _, r, _ in parts])
            proba = np.concatenate([p for _, _, p in parts])
            overall, per = clip_uar(source, rows, proba)
            result[key] = {"uar": overall, "corpus_mean": float(np.mean(list(per.values()))), "per_corpus": per}
        out["protocols"][protocol] = result
    return out


def to_markdown(results: list[dict]) -> str:
    lines = ["# A new corpus judged cold: the prior alone, or one device's channel estimate", "",
             "`python -m tonecue.benchmarks.channel_study` (see its docstring for the protocol). Clip UAR over "
             "angry, happy, sad, neutral (chance 0.25); every test clip is a new voice, none normalized by its "
             "speaker. *alone*: from the prior; *one device*: the test set heard by one device whose channel "
             "estimate carries over from clip to clip; *together*: the test set given to `tonecue classify` at once (the "
             "channel learnt from all of it first, then each clip judged against it); *together per corpus*: each "
             "corpus's test clips given at once. Leave-one-corpus-out figures are the mean over the four "
             "held-out corpora; speaker-grouped ones pool the folds.", ""]
    for protocol in ("leave one corpus out", "speaker-grouped"):
        corpora = sorted(results[0]["protocols"][protocol]["clean|alone"]["per_corpus"])
        lines += [f"## {protocol.capitalize()}", "",
                  "| training recipe | heard | clean | " + " | ".join(corpora) + " | 10 dB (fold 5) |",
                  "|---|---|---:|" + "---:|" * len(corpora) + "---:|"]
        for r in results:
            for hearing in (h for h in HEARINGS if f"clean|{h}" in r["protocols"][protocol]):  # an older run has fewer
                clean, noisy = (r["protocols"][protocol][f"{c}|{hearing}"] for c in ("clean", "10 dB"))
                key = "corpus_mean" if protocol == "leave one corpus out" else "uar"
                lines.append(f"| {r['recipe']} ({r['landmarks']} landmarks) | {hearing} | **{clean[key]:.3f}** | "
                             + " | ".join(f"{clean['per_corpus'][c]:.3f}" for c in corpora) + f" | {noisy[key]:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.channel_study", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=RECIPES, action="append", help="training recipes (default: both)")
    parser.add_argument("--landmarks", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, help="also write PATH.md and PATH.json")
    args = parser.parse_args(argv)
    results = [study(recipe, args.landmarks, args.seed, args.data) for recipe in (args.recipe or RECIPES)]
    text = to_markdown(results)
    print(text)
    write_report(args.out, text, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
