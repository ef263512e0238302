"""The frontend from several threads gives, bit for bit, what it gives on one.

A researcher featurizing a corpus with a thread pool must get the features the device computes
(the design's one invariant). Each round featurizes real speech (the bundled demo clip) from eight
threads at once and compares every window with the serial result, exactly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.cli import DEMO_CLIP
from tonecue.edge.frontend import KINDS, Frontend, StreamingFeaturizer, clip_windows, featurize_clip, frontend_for
from tonecue.edge.spec import FrontendSpec

SPEC = FrontendSpec()
THREADS = 8
ROUNDS = 3


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(DEMO_CLIP, SPEC.sample_rate)


@pytest.fixture(scope="module")
def windows(speech) -> list[np.ndarray]:
    """64 windows of real speech at odd offsets (none share frames with another)."""
    step = (len(speech) - SPEC.window_samples) // 64
    return [speech[i * step + 7 * i : i * step + 7 * i + SPEC.window_samples] for i in range(64)]


def _in_threads(function, items) -> list[np.ndarray]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(function, items))


def _assert_identical(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if not np.array_equal(a, b)]
    assert not wrong, f"{len(wrong)} of {len(expected)} results differ from the serial ones: {wrong}"


@pytest.mark.parametrize("kind", KINDS)
def test_one_shared_frontend_from_many_threads(windows, kind):
    frontend = frontend_for(SPEC)
    expected = [Frontend(SPEC).features(w, kind) for w in windows]
    for _ in range(ROUNDS):
        _assert_identical(_in_threads(lambda w: frontend.features(w, kind), windows), expected)
        _assert_identical(_in_threads(lambda w: frontend_for(SPEC).features(w, kind), windows), expected)


@pytest.mark.parametrize("kind", ["stats", "image"])
def test_clips_featurized_in_threads(speech, kind):
    # Eight different stretches of the clip, each featurized window by window with frame reuse.
    clips = [speech[i * 9000 : i * 9000 + 3 * SPEC.sample_rate] for i in range(THREADS)]
    expected = [featurize_clip(c, SPEC, kind, 22) for c in clips]
    for _ in range(ROUNDS):
        _assert_identical(_in_threads(lambda c: featurize_clip(c, SPEC, kind, 22), clips), expected)


def test_streaming_featurizers_of_one_frontend_in_threads(speech):
    # train/windows.py's pattern: one frontend, one featurizer per clip, clips on a pool.
    frontend = frontend_for(SPEC)
    clips = [speech[i * 9000 : i * 9000 + 3 * SPEC.sample_rate] for i in range(THREADS)]

    def featurize(clip):
        featurizer = StreamingFeaturizer(frontend, "stats")
        starts, cut = clip_windows(clip, SPEC, 22)
        return np.stack([featurizer(w, s) for s, w in zip(starts, cut)])

    expected = [featurize(c) for c in clips]
    for _ in range(ROUNDS):
        _assert_identical(_in_threads(featurize, clips), expected)
