"""Corpora and run folders for the train and export tests, the run folders written by `tonecue-train`
itself (no hand-made imitation), once per test session.

- `synthetic_corpus(root)`: speech-like audio (harmonic tones with a syllable envelope, a pitch,
  level and rate per class) under real RAVDESS names, three actors x four emotions x two statements:
  the real index, windows and frontend run on it, and no corpus needs to be present;
- `real_corpus(dev, root)`: real clips copied from ser-en-dev (3 RAVDESS actors, 3 SAVEE speakers,
  4 clips per class each: 96 clips) and one corrupt file that the run must skip;
- `train(corpus, out, *flags)`: `tonecue-train --quick` on it, with its exit status and output;
- `synthetic_run(tmp_path_factory)` / `real_run(tmp_path_factory, dev)`: that run, made once per
  session whichever test package asks first; the fixtures `synthetic` and `real` return them.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.spec import FrontendSpec

SPEC = FrontendSpec()
LABELS = ("angry", "happy", "sad", "neutral")
SEED_MODELS = ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn")
# RAVDESS emotion codes, and a pitch / level / syllable rate per class so that the classes differ.
EMOTIONS = {"angry": ("05", 220.0, -12.0, 7.0), "happy": ("03", 300.0, -16.0, 5.0),
            "sad": ("04", 140.0, -28.0, 2.5), "neutral": ("01", 120.0, -20.0, 4.0)}
RAVDESS = "Ravdess/audio_speech_actors_01-24"
SAVEE_CODES = {"angry": "a", "happy": "h", "sad": "sa", "neutral": "n"}
CORRUPT = "Savee/JK_sa05.wav"


def _speech(f0: float, level_db: float, rate: float, seconds: float, rng) -> np.ndarray:
    sr = SPEC.sample_rate
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 1.3 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(h * phase) / h for h in range(1, 10))
    envelope = np.clip(np.sin(2 * np.pi * rate / 2 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    x = voice * envelope / 2 + 0.02 * rng.standard_normal(len(t))
    return (10 ** (level_db / 20) * x / np.sqrt(np.mean(x**2) + 1e-12)).astype(np.float32)


def write_wav(path: Path, signal: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def synthetic_corpus(root: Path, actors=(1, 2, 3), statements=(1, 2), seconds: float = 2.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for actor in actors:
        for code, f0, level, rate in EMOTIONS.values():
            for statement in statements:
                f = f0 * (1.0 + 0.1 * (actor % 2))
                name = f"03-01-{code}-01-{statement:02d}-01-{actor:02d}.wav"
                path = root / RAVDESS / f"Actor_{actor:02d}" / name
                write_wav(path, _speech(f, level + rng.uniform(-2, 2), rate, seconds, rng), SPEC.sample_rate)
    return root


def real_corpus(dev: Path, root: Path, per_class: int = 4) -> Path:
    """A Kaggle-like corpus of real clips: 3 RAVDESS actors and 3 SAVEE speakers, `per_class`
    clips per class each, copied from the dev corpus, and one corrupt file (CORRUPT)."""
    for actor in ("01", "02", "03"):
        folder = dev / RAVDESS / f"Actor_{actor}"
        for code, *_ in EMOTIONS.values():
            clips = sorted(folder.glob(f"03-01-{code}-*.flac"))[:per_class]
            assert len(clips) == per_class, (actor, code)
            for clip in clips:
                target = root / RAVDESS / f"Actor_{actor}" / clip.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, target)
    (root / "Savee").mkdir(parents=True)
    for speaker in ("DC", "JE", "JK"):
        for code in SAVEE_CODES.values():
            for i in range(1, per_class + 1):
                name = f"{speaker}_{code}{i:02d}.flac"
                shutil.copyfile(dev / "Savee" / name, root / "Savee" / name)
    (root / CORRUPT).write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot audio")
    return root


@dataclass(frozen=True)
class Trained:
    """A tonecue-train call: its corpus, run folder, exit status and what it printed."""

    corpus: Path
    run: Path
    code: int
    out: str
    err: str


def train(corpus: Path, out: Path, *flags: str) -> Trained:
    """`tonecue-train --data corpus --out out --quick --folds 3 --workers 1 --cache none *flags`."""
    from tonecue.train.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--data", str(corpus), "--out", str(out), "--quick", "--folds", "3",
                     "--workers", "1", "--cache", "none", *flags])
    return Trained(corpus, out, code, stdout.getvalue(), stderr.getvalue())


_RUNS: dict[tuple[str, Path], Trained] = {}


def _once(key: str, tmp_path_factory, make) -> Trained:
    slot = (key, tmp_path_factory.getbasetemp())
    if slot not in _RUNS:
        _RUNS[slot] = make(tmp_path_factory.mktemp(key))
    return _RUNS[slot]


def synthetic_run(tmp_path_factory) -> Trained:
    """The six seed models trained (--quick) on the synthetic corpus: 24 clips, 3 speakers. Its
    "voices" are harmonic tones, which the speech detector rightly refuses: the level gate picks
    its windows (--no-detector)."""
    def make(base: Path) -> Trained:
        trained = train(synthetic_corpus(base / "corpus"), base / "synthetic-run", "--no-detector")
        assert trained.code == 0, trained.err
        return trained

    return _once("synthetic", tmp_path_factory, make)


def real_run(tmp_path_factory, dev: Path) -> Trained:
    """The six seed models trained (--quick) on 96 real clips of 6 speakers (and a corrupt file)."""
    return _once("real", tmp_path_factory, lambda base: train(real_corpus(dev, base / "corpus"), base / "real-run"))


# The fixtures the train and export conftests import (each registers its own copy; the runs above
# are made once all the same).


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> Trained:
    return synthetic_run(tmp_path_factory)


@pytest.fixture(scope="session")
def real(tmp_path_factory, dev_corpus) -> Trained:
    return real_run(tmp_path_factory, dev_corpus)
