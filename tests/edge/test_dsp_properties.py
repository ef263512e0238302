"""Properties of tonecue.edge.dsp and FrontendSpec that hold for any input (hypothesis).

No librosa here: these run on the device-only install too.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tonecue.edge import dsp
from tonecue.edge.spec import FORMAT_VERSION, FrontendSpec, SpecError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.sampled_from(["float32", "float64"])


@st.composite
def signals(draw, min_size: int = 1, max_size: int = 3000):
    """Finite 1-D signals: random ones by a seed (fast), special shapes, and small drawn arrays."""
    dtype = draw(DTYPES)
    kind = draw(st.sampled_from(["normal", "zeros", "constant", "impulses", "alternating", "drawn"]))
    if kind == "drawn":
        return draw(
            arrays(
                dtype,
                st.integers(min_size, max(min_size, min(max_size, 64))),
                elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32),
            )
        )
    n = draw(st.integers(min_size, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-6, 1e-3, 1.0, 1e3]))
    if kind == "normal":
        y = rng.standard_normal(n) * scale
    elif kind == "zeros":
        y = np.zeros(n)
    elif kind == "constant":
        y = np.full(n, scale * draw(st.sampled_from([-1.0, 0.5, 1.0])))
    elif kind == "impulses":
        y = np.zeros(n)
        y[rng.integers(0, n, size=max(1, n // 500))] = scale
    else:
        y = scale * (-1.0) ** np.arange(n)
    return y.astype(dtype)


def n_frames(n: int, n_fft: int, hop: int) -> int:
    """Frames of a centred framing: the signal padded by n_fft // 2 on both sides."""
    return 1 + (n + 2 * (n_fft // 2) - n_fft) // hop


n_ffts = st.integers(16, 1024)


# --- shapes and finiteness -----------------------------------------------------------------------


@SETTINGS
@given(y=signals(), n_fft=n_ffts, data=st.data())
def test_spectral_shapes_and_finiteness(y, n_fft, data):
    hop = data.draw(st.integers(max(1, n_fft // 16), n_fft), label="hop")
    frames = n_frames(len(y), n_fft, hop)
    window = dsp.hann_window(n_fft, y.dtype.name)
    assert window.shape == (n_fft,) and window.dtype == y.dtype
    assert dsp.frame_signal(y, n_fft, hop).shape == (frames, n_fft)

    power = dsp.power_spectrogram(y, n_fft, hop)
    assert power.shape == (1 + n_fft // 2, frames) and power.dtype == y.dtype
    assert np.all(np.isfinite(power)) and np.all(power >= 0)

    sr = data.draw(st.sampled_from([8000, 16000, 22050, 44100, 48000]), label="sr")
    n_mels = data.draw(st.integers(1, 128), label="n_mels")
    mel = dsp.melspectrogram(y, sr, n_fft, hop, n_mels)
    assert mel.shape == (n_mels, frames) and mel.dtype == y.dtype
    assert np.all(np.isfinite(mel)) and np.all(mel >= 0)

    top_db = data.draw(st.one_of(st.none(), st.floats(0, 120)), label="top_db")
    db = dsp.power_to_db(mel, top_db=top_db)
    assert db.shape == mel.shape and db.dtype == y.dtype and np.all(np.isfinite(db))

    n_mfcc = data.draw(st.integers(1, n_mels), label="n_mfcc")
    mfcc = dsp.mfcc(y, sr, n_mfcc, n_fft, hop, n_mels, top_db=top_db)
    assert mfcc.shape == (n_mfcc, frames) and mfcc.dtype == y.dtype and np.all(np.isfinite(mfcc))


@SETTINGS
@given(y=signals(), n_fft=n_ffts, data=st.data())
def test_time_domain_shapes_and_ranges(y, n_fft, data):
    hop = data.draw(st.integers(max(1, n_fft // 16), n_fft), label="hop")
    frames = n_frames(len(y), n_fft, hop)
    rms = dsp.rms(y, n_fft, hop)
    assert rms.shape == (1, frames) and rms.dtype == y.dtype
    assert np.all(np.isfinite(rms)) and np.all(rms >= 0)
    assert rms.max() <= np.abs(y.astype(np.float64)).max() * (1 + 1e-6)

    zcr = dsp.zero_crossing_rate(y, n_fft, hop)
    assert zcr.shape == (1, frames) and zcr.dtype == y.dtype
    assert np.all(zcr >= 0) and np.all(zcr <= 1)
    assert np.all(zcr <= (n_fft - 1) / n_fft + 1e-7)  # a frame's first sample is never a crossing


@SETTINGS
@given(y=signals(min_size=20), order=st.integers(1, 16))
def test_lpc_shape_and_finiteness(y, order):
    a = dsp.lpc(y, order)
    assert a.shape == (order + 1,) and a.dtype == y.dtype
    assert a[0] == 1
    assert np.all(np.isfinite(a))


def test_lpc_of_silence_is_trivial():
    np.testing.assert_array_equal(dsp.lpc(np.zeros(100), 8), np.r_[1.0, np.zeros(8)])


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_lpc_rejects_bad_orders(bad):
    with pytest.raises(ValueError):
        dsp.lpc(np.ones(100), bad)


def test_lpc_rejects_short_or_non_finite_input():
    with pytest.raises(ValueError):
        dsp.lpc(np.ones(4), 4)
    with pytest.raises(ValueError):
        dsp.lpc(np.r_[np.ones(50), np.nan], 4)


# --- power_to_db ---------------------------------------------------------------------------------


@SETTINGS
@given(
    S=arrays(
        st.sampled_from([np.float32, np.float64]),
        st.tuples(st.integers(1, 40), st.integers(1, 40)),
        elements=st.floats(0, 1e6, allow_nan=False, width=32),
    ),
    top_db=st.one_of(st.none(), st.floats(0, 150)),
    amin=st.sampled_from([1e-10, 1e-5, 1e-3]),
    ref=st.sampled_from([1.0, 1e-12, 0.5, 1e4]),
)
def test_power_to_db_range(S, top_db, amin, ref):
    db = dsp.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    assert db.shape == S.shape and db.dtype == S.dtype and np.all(np.isfinite(db))
    slack = 1e-3 if S.dtype == np.float32 else 1e-9
    # The peak is 10 log10(max(S, amin) / max(ref, amin)); nothing is above it ...
    peak = 10 * math.log10(max(float(S.max()), amin)) - 10 * math.log10(max(ref, amin))
    assert abs(float(db.max()) - peak) <= slack * max(1.0, abs(peak))
    # ... nothing is below amin's level, and with top_db nothing is more than top_db below the peak.
    assert db.min() >= 10 * math.log10(amin) - 10 * math.log10(max(ref, amin)) - slack * 100
    if top_db is not None:
        assert float(db.max() - db.min()) <= top_db + slack * max(1.0, abs(peak))


@pytest.mark.parametrize("kwargs", [{"amin": 0.0}, {"amin": -1.0}, {"top_db": -1.0}])
def test_power_to_db_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        dsp.power_to_db(np.ones((2, 2)), **kwargs)


# --- builders ------------------------------------------------------------------------------------


@st.composite
def filterbank_settings(draw):
    sr = draw(st.integers(1000, 96000))
    n_fft = draw(st.integers(16, 4096))
    n_mels = draw(st.integers(1, 256))
    nyquist = sr / 2
    fmin = draw(st.floats(0, nyquist * 0.9))
    fmax = draw(st.one_of(st.none(), st.floats(fmin + nyquist * 0.05, nyquist)))
    return sr, n_fft, n_mels, fmin, fmax


@SETTINGS
@given(settings_=filterbank_settings(), dtype=DTYPES)
def test_mel_filterbank_is_non_negative(settings_, dtype):
    sr, n_fft, n_mels, fmin, fmax = settings_
    weights = dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, dtype)
    assert weights.shape == (n_mels, 1 + n_fft // 2) and weights.dtype == dtype
    assert np.all(np.isfinite(weights))
    assert np.all(weights >= 0)
    # No weight outside [fmin, fmax]: the triangles' outer corners are the band edges.
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    top = sr / 2 if fmax is None else fmax
    outside = (freqs < fmin * (1 - 1e-9)) | (freqs > top * (1 + 1e-9))
    assert np.all(weights[:, outside] == 0)


@SETTINGS
@given(n_in=st.integers(1, 256), data=st.data(), dtype=DTYPES)
def test_dct_matrix_is_orthonormal(n_in, data, dtype):
    n_out = data.draw(st.integers(1, n_in), label="n_out")
    D = dsp.dct_matrix(n_out, n_in, dtype).astype(np.float64)
    assert D.shape == (n_out, n_in)
    tol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(D @ D.T, np.eye(n_out), atol=tol)  # orthonormal rows
    square = dsp.dct_matrix(n_in, n_in, dtype).astype(np.float64)
    np.testing.assert_allclose(square @ square.T, np.eye(n_in), atol=tol)
    np.testing.assert_allclose(square.T @ square, np.eye(n_in), atol=tol)
    np.testing.assert_array_equal(D, square[:n_out])  # fewer coefficients: the leading rows


@SETTINGS
@given(n=st.integers(1, 4096), dtype=DTYPES)
def test_hann_window_is_periodic(n, dtype):
    w = dsp.hann_window(n, dtype).astype(np.float64)
    assert w.shape == (n,) and w[0] == 0
    assert np.all(w >= 0) and np.all(w <= 1)
    # Periodic: the symmetric window of n + 1 points, without its last point.
    np.testing.assert_allclose(w[1:], w[1:][::-1], atol=1e-7 if dtype == "float32" else 1e-15)


# --- time-domain features on known signals -------------------------------------------------------


@SETTINGS
@given(
    # |c| >= 1e-30 keeps float32 results out of the subnormal range (fewer mantissa bits there).
    c=st.floats(1e-30, 10).flatmap(lambda v: st.sampled_from([v, -v])),
    n=st.integers(1, 5000),
    n_fft=n_ffts,
    data=st.data(),
    dtype=DTYPES,
)
def test_rms_of_a_constant(c, n, n_fft, data, dtype):
    """Zero padding: a frame's RMS is |c| sqrt(samples of the frame inside the signal / n_fft)."""
    hop = data.draw(st.integers(max(1, n_fft // 16), n_fft), label="hop")
    y = np.full(n, c, dtype=dtype)
    rms = dsp.rms(y, n_fft, hop)[0].astype(np.float64)
    starts = np.arange(n_frames(n, n_fft, hop)) * hop - n_fft // 2
    inside = np.minimum(starts + n_fft, n) - np.maximum(starts, 0)
    expected = abs(float(y[0])) * np.sqrt(np.maximum(inside, 0) / n_fft)
    np.testing.assert_allclose(rms, expected, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)


@SETTINGS
@given(n=st.integers(1, 5000), n_fft=n_ffts, data=st.data(), dtype=DTYPES)
def test_zcr_of_constant_and_alternating_signals(n, n_fft, data, dtype):
    hop = data.draw(st.integers(max(1, n_fft // 16), n_fft), label="hop")
    assert np.all(dsp.zero_crossing_rate(np.full(n, -0.5, dtype=dtype), n_fft, hop) == 0)
    alternating = ((-1.0) ** np.arange(n)).astype(dtype)
    zcr = dsp.zero_crossing_rate(alternating, n_fft, hop)[0]
    starts = np.arange(n_frames(n, n_fft, hop)) * hop - n_fft // 2
    interior = (starts >= 0) & (starts + n_fft <= n)
    np.testing.assert_allclose(zcr[interior], (n_fft - 1) / n_fft, rtol=1e-6)


# --- FrontendSpec ------------------------------------------------------------------------------


@st.composite
def valid_specs(draw):
    sr = draw(st.one_of(st.sampled_from([8000, 16000, 22050, 44100, 48000]), st.integers(1000, 96000)))
    n_fft = draw(st.integers(16, 4096))
    n_mels = draw(st.integers(1, 256))
    nyquist = sr / 2
    fmin = draw(st.floats(0, nyquist * 0.9, allow_nan=False))
    fmax = draw(st.one_of(st.none(), st.floats(fmin + nyquist * 0.05, nyquist)))
    image_n = draw(st.integers(0, n_mels))
    return FrontendSpec(
        sample_rate=sr,
        n_fft=n_fft,
        hop_length=draw(st.integers(1, n_fft)),
        window_frames=draw(st.integers(1, 200)),
        n_mels=n_mels,
        n_mfcc=draw(st.integers(0, n_mels)),
        n_stats_mels=draw(st.integers(0, n_mels)),
        lpc_order=draw(st.integers(1, 32)),
        image_n_mfcc=image_n,
        image_n_mels=draw(st.one_of(st.just(image_n), st.integers(0, 256))),
        fmin=fmin,
        fmax=fmax,
        top_db=draw(st.one_of(st.none(), st.floats(0, 200, allow_nan=False))),
        amin=draw(st.floats(1e-20, 1.0, exclude_min=False)),
        dtype=draw(DTYPES),
    )


@SETTINGS
@given(spec=valid_specs())
def test_spec_json_round_trip(spec):
    text = spec.to_json()
    assert json.loads(text)["format_version"] == FORMAT_VERSION
    again = FrontendSpec.from_json(text)
    assert again == spec
    assert hash(again) == hash(spec)
    assert again.to_json() == text
    assert spec.stats_size == len(spec.stats_feature_names())


def test_default_spec_is_the_seeds():
    spec = FrontendSpec()
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.window_frames) == (22050, 2048, 512, 50)
    assert spec.stats_size == 50 + 50 + 12 + 2
    assert spec.image_shape == (2, 20, 50) and spec.sequence_shape == (50, 40)
    assert FrontendSpec.from_json(spec.to_json()) == spec


def _breakers(spec: FrontendSpec):
    """(name, change to the spec's dict) pairs that must each make it invalid."""
    nyquist = spec.sample_rate / 2
    return [
        ("n_mfcc > n_mels", {"n_mfcc": spec.n_mels + 1}),
        ("n_stats_mels > n_mels", {"n_stats_mels": spec.n_mels + 1}),
        ("image_n_mfcc > n_mels", {"image_n_mfcc": spec.n_mels + 3}),
        ("fmax > Nyquist", {"fmax": nyquist * 1.01 + 1}),
        ("fmin >= fmax", {"fmin": spec.effective_fmax}),
        ("negative fmin", {"fmin": -1.0}),
        ("hop > n_fft", {"hop_length": spec.n_fft + 1}),
        ("bad dtype", {"dtype": "float16"}),
        ("int dtype", {"dtype": "int16"}),
        ("unknown key", {"n_chroma": 12}),
        ("format_version 2", {"format_version": FORMAT_VERSION + 1}),
        ("format_version as text", {"format_version": str(FORMAT_VERSION)}),
        ("sample_rate 0", {"sample_rate": 0}),
        ("float sample_rate", {"sample_rate": float(spec.sample_rate)}),
        ("bool window_frames", {"window_frames": True}),
        ("negative n_mfcc", {"n_mfcc": -1}),
        ("lpc_order 0", {"lpc_order": 0}),
        ("negative top_db", {"top_db": -1.0}),
        ("NaN top_db", {"top_db": float("nan")}),
        ("amin 0", {"amin": 0.0}),
        ("NaN amin", {"amin": float("nan")}),
    ]


@SETTINGS
@given(spec=valid_specs(), data=st.data())
def test_invalid_specs_raise_spec_error(spec, data):
    name, change = data.draw(st.sampled_from(_breakers(spec)), label="breaker")
    broken = {**spec.to_dict(), **change}
    with pytest.raises(SpecError):
        FrontendSpec.from_json(json.dumps(broken))
    assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"spec"', "null"])
def test_spec_json_that_is_not_an_object(text):
    with pytest.raises(SpecError):
        FrontendSpec.from_json(text)


def test_every_breaker_breaks_the_default_spec():
    base = FrontendSpec().to_dict()
    for name, change in _breakers(FrontendSpec()):
        with pytest.raises(SpecError):
            FrontendSpec.from_dict({**base, **change})
        if set(change) <= FrontendSpec.__dataclass_fields__.keys():  # the constructor checks as much
            with pytest.raises(SpecError):
                FrontendSpec(**{k: v for k, v in {**base, **change}.items() if k != "format_version"})


def test_image_needs_equal_channels():
    with pytest.raises(SpecError):
        FrontendSpec(image_n_mfcc=13, image_n_mels=20).image_shape
