"""WindowStream cuts a stream exactly as frontend.clip_windows cuts the same audio as one clip."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tonecue.edge.frontend import clip_windows
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.stream import WindowStream

SPEC = FrontendSpec(hop_length=64, n_fft=256, window_frames=10, n_mels=20, n_mfcc=13, n_stats_mels=13, image_n_mfcc=13, image_n_mels=13)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3000),
    hop_frames=st.integers(1, 25),
    blocks=st.lists(st.integers(1, 700), min_size=1, max_size=40),
)
def test_blocks_give_the_windows_of_the_whole_clip(n, hop_frames, blocks):
    signal = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    stream = WindowStream(SPEC, hop_frames)
    got, position = [], 0
    for size in blocks * (n // max(sum(blocks), 1) + 1):
        if position >= n:
            break
        got += stream.push(signal[position : position + size])
        position += size
    got += stream.flush()
    starts, windows = clip_windows(signal, SPEC, hop_frames)
    assert [s for s, _ in got] == starts
    for (_, a), b in zip(got, windows):
        np.testing.assert_array_equal(a, b)


def test_buffer_stays_small_on_a_long_stream():
    stream = WindowStream(SPEC, 3)
    for _ in range(2000):
        stream.push(np.zeros(100, dtype=np.float32))
    assert len(stream._buffer) <= SPEC.window_samples + 3 * SPEC.hop_length + 100
    assert stream.position == 200_000


def test_reset_starts_a_new_stream():
    stream = WindowStream(SPEC, 2)
    stream.push(np.ones(SPEC.window_samples, dtype=np.float32))
    stream.reset()
    assert stream.position == 0 and stream.flush() == []
    assert [s for s, _ in stream.push(np.ones(SPEC.window_samples, dtype=np.float32))] == [0]


def test_rejects_a_zero_hop():
    with pytest.raises(ValueError):
        WindowStream(SPEC, 0)
