"""Fixtures of the edge tests: test signals, real speech at any rate, and a parity log.

The signals come from `helpers.signals` (tests/helpers). The `parity` fixture collects the largest error each parity test measured;
with TONECUE_PARITY_REPORT=path set, the session writes them there as a markdown table (that is
how tests/edge/PARITY.md was made).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers.signals import SPEECH_RATE, speech_clips


@pytest.fixture(scope="session")
def speech(dev_corpus) -> dict[str, np.ndarray]:
    """A few real clips per corpus of ser-en-dev, float64 mono at 22,050 Hz (read-only)."""
    return speech_clips(dev_corpus)


@pytest.fixture(scope="session")
def speech_at(speech, librosa):
    """speech_at(name, sr): a clip at `sr`, resampled by librosa (the reference) when needed."""
    cache: dict[tuple[str, int], np.ndarray] = {}

    def get(name: str, sr: int) -> np.ndarray:
        if (name, sr) not in cache:
            clip = speech[name]
            if sr != SPEECH_RATE:
                clip = librosa.resample(np.asarray(clip), orig_sr=SPEECH_RATE, target_sr=sr)
            clip = np.asarray(clip, dtype=np.float64)
            clip.flags.writeable = False
            cache[name, sr] = clip
        return cache[name, sr]

    return get


class ParityLog:
    """The largest error measured per (feature, dtype, reference), with the tolerance asserted."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], list] = {}

    def __call__(self, feature: str, dtype: str, reference: str, error: float, tolerance: str) -> None:
        key = (feature, dtype, reference)
        row = self.rows.setdefault(key, [0.0, tolerance])
        row[0] = max(row[0], float(error))
        row[1] = tolerance

    def markdown(self) -> str:
        lines = [
            "| feature | dtype | reference | measured max error | asserted tolerance |",
            "|---|---|---|---|---|",
        ]
        for (feature, dtype, reference), (error, tolerance) in sorted(self.rows.items()):
            lines.append(f"| {feature} | {dtype} | {reference} | {error:.2e} | {tolerance} |")
        return "\n".join(lines) + "\n"


_LOG = ParityLog()


@pytest.fixture(scope="session")
def parity() -> ParityLog:
    return _LOG


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("TONECUE_PARITY_REPORT")
    if target and _LOG.rows:
        Path(target).write_text(_LOG.markdown())
