"""Test signals for the librosa parity suite, in numpy alone (no librosa, no scipy).

`make_signal(kind, sr, ...)` returns a deterministic 1-D float64 signal; callers cast to float32
where they test the float32 path. `speech_clips(dev_corpus)` reads a few real clips per corpus.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

#: Every synthetic kind `make_signal` knows. "short" is shorter than n_fft, "very_short" shorter
#: than n_fft / 2; "tone_bin" sits exactly on an FFT bin, "tone_quarter" at Nyquist / 2.
SIGNAL_KINDS = (
    "noise",
    "chirp_linear",
    "chirp_log",
    "tone",
    "tone_bin",
    "tone_quarter",
    "silence",
    "clipped_soft",
    "clipped_hard",
    "short",
    "very_short",
    "dc",
    "impulse",
    "loud_then_quiet",
)

#: The clips read from ser-en-dev: two per corpus, different speakers and emotions.
SPEECH_CLIPS = (
    "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.flac",  # angry, male
    "Ravdess/audio_speech_actors_01-24/Actor_02/03-01-04-01-02-01-02.flac",  # sad, female
    "Savee/DC_a01.flac",  # angry, male
    "Savee/JK_n01.flac",  # neutral, male
    "Tess/OAF_angry/OAF_bean_angry.flac",  # angry, older female
    "Tess/YAF_sad/YAF_bath_sad.flac",  # sad, younger female
)
SPEECH_RATE = 22050


def make_signal(kind: str, sr: int = 22050, seconds: float = 0.75, n_fft: int = 2048, seed: int = 0) -> np.ndarray:
    """A deterministic float64 test signal of `kind` (see SIGNAL_KINDS)."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return 0.3 * rng.standard_normal(n)
    if kind == "chirp_linear":
        f0, f1 = 50.0, 0.45 * sr
        return 0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    if kind == "chirp_log":
        f0, f1 = 50.0, 0.45 * sr
        k = np.log(f1 / f0) / seconds
        return 0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1.0) / k)
    if kind == "tone":
        return 0.5 * np.sin(2 * np.pi * 440.0 * t + 0.3)
    if kind == "tone_bin":  # exactly on FFT bin 37 of n_fft
        return 0.5 * np.cos(2 * np.pi * 37 * np.arange(n) / n_fft)
    if kind == "tone_quarter":  # sr / 4 = Nyquist / 2: samples cycle through 0, 1, 0, -1
        return 0.5 * np.sin(2 * np.pi * np.arange(n) / 4.0)
    if kind == "silence":
        return np.zeros(n)
    if kind == "clipped_soft":  # a loud sine clipped at +-0.5
        return np.clip(2.0 * np.sin(2 * np.pi * 220.0 * t), -0.5, 0.5)
    if kind == "clipped_hard":  # a sine driven far past full scale, hard clipped at +-1
        return np.clip(3.0 * np.sin(2 * np.pi * 330.0 * t + 0.1), -1.0, 1.0)
    if kind == "short":  # shorter than n_fft
        m = (3 * n_fft) // 4 + 1
        return 0.3 * rng.standard_normal(m) + 0.2 * np.sin(2 * np.pi * 300.0 * np.arange(m) / sr)
    if kind == "very_short":  # shorter than n_fft / 2
        m = n_fft // 2 - 7
        return 0.3 * rng.standard_normal(m)
    if kind == "dc":  # a DC offset under a quiet tone and a little noise
        return 0.4 + 0.05 * np.sin(2 * np.pi * 200.0 * t) + 0.01 * rng.standard_normal(n)
    if kind == "impulse":
        y = np.zeros(n)
        y[n // 3] = 1.0
        return y
    if kind == "loud_then_quiet":  # full-scale noise, then a 16-bit-floor hiss
        y = rng.uniform(-1.0, 1.0, n)
        y[n // 2 :] *= 3e-5
        return y
    raise ValueError(f"unknown signal kind {kind!r}")


@lru_cache(maxsize=None)
def _read(path: str) -> np.ndarray:
    import soundfile

    audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    assert rate == SPEECH_RATE, f"{path}: expected {SPEECH_RATE} Hz, got {rate}"
    audio = audio.mean(axis=1)
    audio.flags.writeable = False
    return audio


def speech_clips(dev_corpus: Path) -> dict[str, np.ndarray]:
    """The SPEECH_CLIPS as float64 mono at 22,050 Hz, keyed by a short name (corpus/stem)."""
    clips = {}
    for relative in SPEECH_CLIPS:
        path = Path(dev_corpus) / relative
        clips[f"{relative.split('/')[0]}/{path.stem}"] = _read(str(path))
    return clips


def speech_window(clip: np.ndarray, n: int) -> np.ndarray:
    """The `n` samples around the clip's loudest stretch (zero-padded if the clip is shorter)."""
    if len(clip) <= n:
        return np.pad(np.asarray(clip, dtype=np.float64), (0, n - len(clip)))
    energy = np.convolve(np.square(clip), np.ones(1024), mode="same")
    centre = int(np.argmax(energy))
    start = min(max(centre - n // 2, 0), len(clip) - n)
    return np.array(clip[start : start + n])
