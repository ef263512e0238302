"""The "paraling-mfcc" input: the paraling vector, then functionals over time of the sequence; and
"paraling-mfcc-upper", which adds functionals of each log-mel band's upper half."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.cli import DEMO_CLIP
from tonecue.edge.frontend import FRAME_FUNCTIONALS, UPPER_FUNCTIONALS, Frontend, _percentiles_of_sorted, featurize_clip, frame_functionals, upper_functionals
from tonecue.edge.spec import FrontendSpec, SpecError

SPEC = FrontendSpec.at_rate(16000, window_seconds=2, level_dbfs=-25)


def test_frame_functionals_of_known_rows():
    t = np.arange(11, dtype=np.float64)
    rows = np.stack([3.0 * t + 1.0, np.where(t % 2 == 0, 1.0, -1.0)], axis=1)  # a ramp, an alternation
    got = dict(zip(FRAME_FUNCTIONALS, frame_functionals(rows).reshape(len(FRAME_FUNCTIONALS), 2)))
    np.testing.assert_allclose(got["mean"], [16.0, 1 / 11])
    np.testing.assert_allclose(got["std"], rows.std(axis=0))
    np.testing.assert_allclose(got["p50"], [16.0, 1.0])
    np.testing.assert_allclose(got["p20"], np.percentile(rows, 20, axis=0))
    np.testing.assert_allclose(got["p20_p80_range"], got["p80"] - got["p20"])
    np.testing.assert_allclose(got["slope"], [3.0, 0.0], atol=1e-12)  # the alternation has no trend
    np.testing.assert_allclose(got["mean_abs_delta"], [3.0, 2.0])


@pytest.mark.parametrize("functionals, which", [(frame_functionals, "frame"), (upper_functionals, "upper")], ids=["frame", "upper"])
@pytest.mark.parametrize("shape", [(1, 4), (7,), (2, 3, 4)])
def test_functionals_over_frames_refuse_what_is_not_rows_of_frames(functionals, which, shape):
    with pytest.raises(ValueError, match=rf"{which} functionals need \(frames >= 2, columns\) rows"):
        functionals(np.zeros(shape))


def test_the_vector_is_the_paraling_vector_then_the_sequence_functionals():
    frontend = Frontend(SPEC)
    window = load_audio(DEMO_CLIP, 16000)[: SPEC.window_samples]
    vector = frontend.features(window, "paraling-mfcc")
    paraling, sequence = frontend.features(window, "paraling"), frontend.features(window, "sequence")
    n = len(paraling)
    assert vector.shape == frontend.output_shape("paraling-mfcc") == (n + 8 * sequence.shape[1],) == (387,)
    assert vector.dtype == np.float32 and np.isfinite(vector).all()
    np.testing.assert_array_equal(vector[:n], paraling)
    np.testing.assert_allclose(vector[n:], frame_functionals(sequence), rtol=1e-6, atol=1e-5)
    names = frontend.feature_names("paraling-mfcc")
    assert len(names) == len(vector) == len(set(names))
    assert names[:n] == frontend.feature_names("paraling")
    assert names[n] == "mfcc_0_mean" and names[-1] == f"logmel_{SPEC.image_n_mels - 1}_mean_abs_delta"


def test_upper_functionals_of_known_rows():
    # A ramp 0..10 (upper half 5..10), and a column loud on alternate frames (no two upper frames
    # in a row), and one that is constant (every frame is in its upper half).
    t = np.arange(11, dtype=np.float64)
    rows = np.stack([t, np.where(t % 2 == 0, 6.0, 0.0), np.full(11, 2.0)], axis=1)
    got = dict(zip(UPPER_FUNCTIONALS, upper_functionals(rows).reshape(len(UPPER_FUNCTIONALS), 3)))
    np.testing.assert_allclose(got["upper_mean"], [7.5, 6.0, 2.0])
    np.testing.assert_allclose(got["upper_std"], [np.arange(5, 11).std(), 0.0, 0.0])
    np.testing.assert_allclose(got["p95"], np.percentile(rows, 95, axis=0))
    np.testing.assert_allclose(got["p50_p95_range"], [4.5, 0.0, 0.0])
    np.testing.assert_allclose(got["p80_p95_range"], got["p95"] - np.percentile(rows, 80, axis=0))
    np.testing.assert_allclose(got["upper_mean_abs_delta"], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("n", [1, 2, 11, 87, 88])
def test_percentiles_from_one_sort_are_numpys_to_the_bit(n):
    # The functionals over frames sort once instead of calling np.percentile and np.median: the
    # features a shipped model was trained on must not move by a bit. Ties, NaN and both parities.
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 6)) * 10.0 ** rng.uniform(-6, 6, size=6)
    x[:, 1] = np.round(x[:, 1], 1)
    x[rng.integers(n), 2] = np.nan
    ordered = np.sort(x, axis=0)
    for qs in ((20, 50, 80), (50, 80, 95)):
        np.testing.assert_array_equal(_percentiles_of_sorted(ordered, qs), np.percentile(x, list(qs), axis=0))
    rows = np.concatenate([x, x[::-1] + 1.0])  # an even count of rows: the median is a mean
    got = upper_functionals(rows)
    upper = rows >= np.median(rows, axis=0)
    np.testing.assert_array_equal(got[: rows.shape[1]], np.where(upper, rows, 0.0).sum(axis=0) / upper.sum(axis=0))


def test_the_upper_vector_is_the_paraling_mfcc_vector_then_the_log_mel_upper_halves():
    frontend = Frontend(SPEC)
    window = load_audio(DEMO_CLIP, 16000)[: SPEC.window_samples]
    vector = frontend.features(window, "paraling-mfcc-upper")
    base, sequence = frontend.features(window, "paraling-mfcc"), frontend.features(window, "sequence")
    assert vector.shape == frontend.output_shape("paraling-mfcc-upper") == (387 + 6 * SPEC.image_n_mels,) == (507,)
    np.testing.assert_array_equal(vector[:387], base)
    np.testing.assert_allclose(vector[387:], upper_functionals(sequence[:, SPEC.image_n_mfcc :]), rtol=1e-6, atol=1e-5)
    names = frontend.feature_names("paraling-mfcc-upper")
    assert len(names) == len(vector) == len(set(names)) and names[:387] == frontend.feature_names("paraling-mfcc")
    assert names[387] == "logmel_0_upper_mean" and names[-1] == f"logmel_{SPEC.image_n_mels - 1}_upper_mean_abs_delta"


@pytest.mark.parametrize("kind", ["paraling-mfcc", "paraling-mfcc-upper"])
def test_a_quieter_recording_gives_the_same_vector(kind):
    speech = load_audio(DEMO_CLIP, 16000)[: 5 * 16000]
    loud, quiet = featurize_clip(speech, SPEC, kind), featurize_clip(speech * 0.03, SPEC, kind)
    np.testing.assert_allclose(quiet, loud, rtol=2e-3, atol=2e-3 * np.abs(loud).max())


@pytest.mark.parametrize("kind", ["paraling-mfcc", "paraling-mfcc-upper"])
def test_a_window_of_one_frame_has_no_functionals_over_time(kind):
    with pytest.raises(SpecError, match=f"the {kind} input takes functionals over frames: a window needs at least 2"):
        Frontend(FrontendSpec(window_frames=1)).output_shape(kind)
