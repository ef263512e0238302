"""Test conditions: the protocols' models heard through noise and gains they never trained on.

A condition is a clip transform applied to every clip before it is cut (the same windows, gate
and speech detector as the device: noise also changes which windows count as voice):

- `snr-20`, `snr-10`, `snr-5`: ESC-10 **fold 5** (held out from every training and augmentation
  bank) mixed in at that speech-to-noise ratio (`tonecue.train.noise.NoiseMix`);
- `gain`: every clip scaled by a random gain of 10-20 dB up or down, clipped at full scale
  (`RandomGain`): the guard of issue 11 against features that carry the recording level.

Each split's models (the speaker-grouped folds, leave-one-corpus-out) predict the condition's
windows of their own test clips, normalized as on the device (online from the split's prior, and
cold, from the prior alone); the results pool like the clean ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["RandomGain", "conditions", "evaluate_condition"]

GAIN_VERSION = 1


@dataclass(frozen=True)
class RandomGain:
    """A clip transform: the clip scaled by a gain drawn from +-[low_db, high_db] (sign and size
    from the seed), then clipped at full scale as a converter would."""

    low_db: float = 10.0
    high_db: float = 20.0

    def __call__(self, signal: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        gain_db = rng.uniform(self.low_db, self.high_db) * rng.choice((-1.0, 1.0))
        return np.clip(np.asarray(signal, dtype=np.float32) * np.float32(10 ** (gain_db / 20)), -1.0, 1.0)

    def describe(self) -> dict[str, Any]:
        return {"kind": "random-gain", "version": GAIN_VERSION, "low_db": self.low_db, "high_db": self.high_db}


def conditions(noise: Path | None, snrs: Sequence[float], gain: bool) -> dict[str, Any]:
    """{name: clip transform} of the conditions a run was asked for."""
    from tonecue.train.noise import HELD_OUT_FOLD, NoiseMix

    out: dict[str, Any] = {}
    for snr in snrs:
        out[f"snr-{snr:g}"] = NoiseMix(noise, folds=(HELD_OUT_FOLD,), snr_db=float(snr))
    if gain:
        out["gain"] = RandomGain()
    return out


def evaluate_condition(ws, heard, splits, fitted, models: Sequence[str], normalized: str | None, seed: int) -> dict[str, Any]:
    """Pooled metrics of every model on `heard` (the windows of a condition) over `splits`, each
    split's models on its own test clips. `ws` holds the clean windows the splits index; a clip is
    matched by its path. Returns {model: {"online": metrics, "cold": metrics}} ("cold" only under
    speaker normalization; without it "online" is the plain result)."""
    from tonecue.edge.normalize import cold_normalize
    from tonecue.train import evaluate as ev
    from tonecue.train import models as registry
    from tonecue.train.run import online_normalized, predict

    if not splits:
        return {}
    paths = np.array([os.fspath(clip.path) for clip in heard.clips])[heard.clip_ids]
    rows_of = {}
    for split in splits:
        test_paths = {os.fspath(ws.clips[i].path) for i in split.test}
        rows_of[split.name] = np.flatnonzero(np.isin(paths, list(test_paths)))
    windows = np.concatenate([rows_of[s.name] for s in splits])
    out = {}
    for m in models:
        kind = registry.get(m)
        X = heard.features[kind.input_kind]
        probas: dict[str, list[np.ndarray]] = {"online": [], "cold": []}
        for split in splits:
            rows, part = rows_of[split.name], fitted[split.name]
            variants = {"online": X[rows]}
            if kind.input_kind == normalized:
                variants = {"online": online_normalized(heard, X, rows, part.prior, seed),
                            "cold": cold_normalize(X[rows], part.prior)}
            for name, x in variants.items():
                probas[name].append(predict(kind, part.models[m], x, part.selected, heard.spec))
        out[m] = {name: _summary(ev.evaluate_predictions(np.concatenate(p), heard.labels[windows],
                                                        heard.clip_ids[windows], heard.corpora[windows], heard.classes))
                  for name, p in probas.items() if p}
    return out


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "clip_uar": metrics["clip"]["overall"]["uar"],
        "window_uar": metrics["window"]["overall"]["uar"],
        "clips": metrics["clip"]["overall"]["n"],
        "per_corpus_clip_uar": {c: m["uar"] for c, m in metrics["clip"]["per_corpus"].items()},
    }
