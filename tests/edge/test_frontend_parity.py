"""The frontend against the seed's librosa calls, and streaming against per-window featurization.

`Frontend(spec).features(window, kind)` must equal, on the same window, what the seed computed
with librosa:

- "stats":    concat(mean over frames of librosa.feature.mfcc(y, sr, n_mfcc=spec.n_mfcc),
              mean of librosa.feature.melspectrogram(y, sr)[:spec.n_stats_mels],
              librosa.lpc(y, order=spec.lpc_order)[1:], mean librosa.feature.rms,
              mean librosa.feature.zero_crossing_rate);
- "image":    stack(librosa.feature.mfcc(y, sr, n_mfcc=20),
              librosa.power_to_db(librosa.feature.melspectrogram(y, sr, n_mels=20)));
- "sequence": the same two, transposed and concatenated per frame: (frames, 40).

For a non-default spec the same calls get the spec's settings. Both dtypes: a float32 spec is
compared with librosa's float64 computation on the float32-rounded window ("librosa f64") and
with librosa's own float32 computation ("librosa f32"); a float64 spec with librosa's default
call ("librosa") and its float64 call (float64 filters and RMS: "librosa f64").

`StreamingFeaturizer` and `featurize_clip` reuse frames between windows; they must give what
`Frontend.features` gives on each window alone, up to the rounding of a matrix product over a
different number of rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.signals import SPEECH_CLIPS, make_signal, speech_window

from tonecue.edge.frontend import INPUTS, KINDS, Frontend, StreamingFeaturizer, clip_windows, featurize_clip, frontend_for
from tonecue.edge.spec import FrontendSpec

# --- tolerances ----------------------------------------------------------------------------------
# (part of the model input) -> {(spec dtype, reference): tolerance}. "dB" parts are MFCCs and
# log-mel bands (absolute dB); "mel" is the mean mel power (relative, with an absolute floor of
# `floor` x the largest mean band); "lpc" is relative to the largest |coefficient|; "rms" relative;
# "zcr" absolute. Float64 values are float64 rounding (or librosa's float32 filters / float32 RMS in
# its default call); float32 values are ~3x the largest error measured (see PARITY.md).
DB_F64 = 1e-4  # dB, both references (measured ~2e-6 dB vs librosa's float32 filters)
DB_F32 = 5e-3  # dB, MFCCs (measured 1.3e-3 dB: MFCCs of silence, ~1e-6 x |c0|)
DB_F32_LOG_MEL = 1e-3  # dB, the image's log-mel rows (measured 2.2e-4 dB)
MEL_F64_LIBROSA = (1e-6, 1e-9)  # (rtol, floor): librosa's float32 mel filters (measured 7.5e-8)
MEL_F64 = (1e-9, 1e-9)  # measured 5e-15
MEL_F32 = (2e-6, 1e-6)  # measured 4.8e-7
LPC_F64 = 1e-8  # x max|a|: autocorrelation-based Burg (see test_dsp_parity.F64_LPC); measured 2.3e-10
LPC_F32 = 1e-6  # x max|a| vs librosa f64: the recursion runs in float64, output rounded (measured 5.3e-8)
LPC_F32_VS_F32 = 2.5e-1  # x max|a| vs librosa's float32 lpc (measured 6.8e-2)
# Burg LPC of order 16 on 48 kHz audio resampled from 22.05 kHz (nothing above 11 kHz) is so
# ill-conditioned that two float64 implementations agree to ~1.6e-2 only, and float32 diverges
# (coefficients up to 1e9, in librosa's float32 lpc too): there float64 gets this bound and
# float32 is not compared. A pure tone's LPC beyond order 2 is rounding noise in any precision:
# not compared either.
# Measured 1.6e-2 alone and 6.1e-2 in the full suite (the BLAS's summation order changes once
# torch is loaded): the problem, not the code, is this ill-conditioned; librosa's recursion against
# another float64 one: 4.2e-3.
LPC_F64_BANDLIMITED = 2.5e-1  # x max|a|
RMS_F64_LIBROSA = 5e-7  # librosa.feature.rms is float32 by default (measured 1.3e-7)
RMS_F64 = 1e-9  # measured 2e-14
RMS_F32 = 5e-7  # measured 1.3e-7
ZCR_F64 = 1e-15
ZCR_F32 = 3e-8  # the float32 mean of exact per-frame rates (measured 7e-9)
# Streaming vs per-window: the same numbers up to the rounding of the matrix products, which see
# a different number of rows. LPC, RMS and ZCR come from the window itself and must be identical.
STREAM_DB = {"float64": 1e-10, "float32": 1e-4}  # dB; measured 6e-14 / 3e-5 (MFCCs, ~1000 dB c0)
STREAM_REL = {"float64": 1e-12, "float32": 2e-6}  # mel means, relative; measured 0 / 0

SPECS = {
    "default": FrontendSpec(),
    "16k-fft1024-hop256-w32": FrontendSpec(sample_rate=16000, n_fft=1024, hop_length=256, window_frames=32),
    "8k-fft512-hop128-mel64": FrontendSpec(
        sample_rate=8000, n_fft=512, hop_length=128, window_frames=40, n_mels=64, n_mfcc=40,
        n_stats_mels=30, lpc_order=8, image_n_mfcc=13, image_n_mels=13, fmin=50.0, fmax=3800.0, top_db=None,
    ),
    "48k-fft2048-hop1024-top60": FrontendSpec(
        sample_rate=48000, n_fft=2048, hop_length=1024, window_frames=24, n_mels=40, n_mfcc=20,
        n_stats_mels=40, lpc_order=16, top_db=60.0, amin=1e-8,
    ),
}
DTYPES = ("float64", "float32")
SYNTHETIC = ("noise", "chirp_log", "tone_bin", "silence", "clipped_hard", "dc", "impulse")
SPEECH_NAMES = tuple(f"{p.split('/')[0]}/{p.rsplit('/', 1)[1].removesuffix('.flac')}" for p in SPEECH_CLIPS)


def with_dtype(spec: FrontendSpec, dtype: str) -> FrontendSpec:
    return FrontendSpec.from_dict({**spec.to_dict(), "dtype": dtype})


# --- the seed's computation, in librosa ----------------------------------------------------------


def seed_features(librosa, spec: FrontendSpec, y: np.ndarray, reference: str) -> dict[str, np.ndarray]:
    """Every part of the three model inputs, computed with librosa calls on the window `y`.

    "librosa" / "librosa f32": librosa's default calls on `y` as given (the seed's numbers);
    "librosa f64": on y as float64, with float64 mel filters and float64 RMS.
    """
    f64 = reference == "librosa f64"
    if f64:
        y = y.astype(np.float64)
    sr, n_fft, hop = spec.sample_rate, spec.n_fft, spec.hop_length
    kw = dict(sr=sr, n_fft=n_fft, hop_length=hop, fmin=spec.fmin, fmax=spec.fmax)
    if f64:
        kw["dtype"] = np.float64
    mel = librosa.feature.melspectrogram(y=y, n_mels=spec.n_mels, **kw)
    image_mel = librosa.feature.melspectrogram(y=y, n_mels=spec.image_n_mels, **kw)

    def mfcc(n):
        if spec.top_db == 80.0 and spec.amin == 1e-10:  # librosa's defaults: the seed's literal call
            return librosa.feature.mfcc(y=y, n_mfcc=n, n_mels=spec.n_mels, **kw)
        return librosa.feature.mfcc(S=librosa.power_to_db(mel, amin=spec.amin, top_db=spec.top_db), n_mfcc=n)

    rms_kw = {"dtype": np.float64} if f64 else {}
    return {
        "mfcc_mean": mfcc(spec.n_mfcc).mean(axis=1),
        "mel_mean": mel[: spec.n_stats_mels].mean(axis=1),
        "lpc": librosa.lpc(y, order=spec.lpc_order)[1:],
        "rms_mean": np.atleast_1d(librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, **rms_kw).mean()),
        "zcr_mean": np.atleast_1d(librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop).mean()),
        "image_mfcc": mfcc(spec.image_n_mfcc),
        "image_log_mel": librosa.power_to_db(image_mel, amin=spec.amin, top_db=spec.top_db),
    }


def split_stats(spec: FrontendSpec, v: np.ndarray) -> dict[str, np.ndarray]:
    bounds = np.cumsum([spec.n_mfcc, spec.n_stats_mels, spec.lpc_order, 1, 1])
    parts = np.split(np.asarray(v), bounds[:-1], axis=-1)
    return dict(zip(["mfcc_mean", "mel_mean", "lpc", "rms_mean", "zcr_mean"], parts))


def rel_err(ours, ref, floor=0.0) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != {ref.shape}"
    if ref.size == 0:
        return 0.0
    diff = np.abs(ours - ref)
    scale = np.abs(ref) + floor * np.abs(ref).max()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(diff == 0, 0.0, diff / scale).max())


def abs_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != {ref.shape}"
    return float(np.abs(ours - ref).max()) if ref.size else 0.0


def check_part(parity, part: str, dtype: str, reference: str, ours, ref, lpc: str = "normal") -> None:
    """Compare one part of a model input with its tolerance, and log the error.

    lpc: "normal", "bandlimited" (LPC_F64_BANDLIMITED; float32 only checked finite) or "skip".
    """
    f64 = dtype == "float64"
    if part == "lpc" and (lpc == "skip" or (lpc == "bandlimited" and not f64)):
        assert np.all(np.isfinite(ours))
        return
    if part in ("mfcc_mean", "image_mfcc", "image_log_mel"):
        err, label = abs_err(ours, ref), "dB"
        tol = DB_F64 if f64 else (DB_F32_LOG_MEL if part == "image_log_mel" else DB_F32)
    elif part == "mel_mean":
        rtol, floor = (MEL_F64_LIBROSA if reference == "librosa" else MEL_F64) if f64 else MEL_F32
        err, tol, label = rel_err(ours, ref, floor), rtol, f"rel (floor {floor:g} × peak)"
    elif part == "lpc":
        scale = max(float(np.abs(ref).max()), 1.0)  # the leading 1 is left out of the vector
        err = abs_err(ours, ref) / scale
        tol = LPC_F64 if f64 else (LPC_F32 if reference == "librosa f64" else LPC_F32_VS_F32)
        label = "× max|a|"
        if lpc == "bandlimited":
            part, tol = "lpc (48 kHz, band-limited)", LPC_F64_BANDLIMITED
    elif part == "rms_mean":
        err = rel_err(ours, ref)
        tol, label = (RMS_F64_LIBROSA if reference == "librosa" else RMS_F64) if f64 else RMS_F32, "rel"
    elif part == "zcr_mean":
        err, tol, label = abs_err(ours, ref), ZCR_F64 if f64 else ZCR_F32, "abs"
    else:  # pragma: no cover
        raise AssertionError(part)
    parity(f"frontend {part}", dtype, reference, err, f"{tol:.2g} {label}")
    assert err <= tol, f"{part} [{dtype}] vs {reference}: {err:.3e} > {tol:.2g} {label}"


def check_frontend(librosa, parity, spec: FrontendSpec, window: np.ndarray, lpc: str = "normal") -> None:
    frontend = Frontend(spec)
    y = window.astype(spec.dtype)
    stats = frontend.features(y, "stats")
    image = frontend.features(y, "image")
    sequence = frontend.features(y, "sequence")
    assert stats.dtype == spec.dtype and image.dtype == spec.dtype and sequence.dtype == spec.dtype
    assert stats.shape == (spec.stats_size,)
    assert image.shape == spec.image_shape
    assert sequence.shape == spec.sequence_shape
    references = ("librosa", "librosa f64") if spec.dtype == "float64" else ("librosa f64", "librosa f32")
    n = spec.image_n_mfcc
    for reference in references:
        ref = seed_features(librosa, spec, y, reference)
        for part, value in split_stats(spec, stats).items():
            check_part(parity, part, spec.dtype, reference, value, ref[part], lpc)
        check_part(parity, "image_mfcc", spec.dtype, reference, image[0], ref["image_mfcc"])
        check_part(parity, "image_log_mel", spec.dtype, reference, image[1], ref["image_log_mel"])
        # The sequence is the image's two channels, transposed and side by side, per frame.
        seq_ref = np.concatenate([ref["image_mfcc"].T, ref["image_log_mel"].T], axis=1)
        check_part(parity, "image_mfcc", spec.dtype, reference, sequence[:, :n], seq_ref[:, :n])
        check_part(parity, "image_log_mel", spec.dtype, reference, sequence[:, n:], seq_ref[:, n:])
    np.testing.assert_array_equal(sequence, np.concatenate([image[0].T, image[1].T], axis=1))


# --- frontend vs librosa -------------------------------------------------------------------------


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("signal", SYNTHETIC)
@pytest.mark.parametrize("spec_name", list(SPECS))
def test_frontend_matches_librosa_synthetic(librosa, parity, spec_name, signal, dtype):
    spec = with_dtype(SPECS[spec_name], dtype)
    y = make_signal(signal, spec.sample_rate, seconds=spec.window_seconds + 0.01, n_fft=spec.n_fft)
    check_frontend(librosa, parity, spec, y[: spec.window_samples], lpc="skip" if signal == "tone_bin" else "normal")


@pytest.mark.librosa
@pytest.mark.data
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "spec_name, name",
    # Every clip with the default spec; one clip per corpus with each other spec.
    [("default", name) for name in SPEECH_NAMES] + [(s, name) for s in list(SPECS)[1:] for name in SPEECH_NAMES[::2]],
)
def test_frontend_matches_librosa_speech(librosa, parity, speech_at, spec_name, name, dtype):
    spec = with_dtype(SPECS[spec_name], dtype)
    clip = speech_at(name, spec.sample_rate)
    lpc = "bandlimited" if spec.sample_rate > 22050 else "normal"
    check_frontend(librosa, parity, spec, speech_window(clip, spec.window_samples), lpc)


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
def test_short_clip_is_zero_padded_to_one_window(librosa, parity, dtype):
    spec = with_dtype(SPECS["default"], dtype)
    short = make_signal("chirp_log", spec.sample_rate, seconds=0.4)
    assert len(short) < spec.window_samples
    padded = np.pad(short, (0, spec.window_samples - len(short)))
    frontend = Frontend(spec)
    for kind in KINDS:
        out = featurize_clip(short, spec, kind, hop_frames=10)
        assert out.shape == (1, *frontend.output_shape(kind))
        np.testing.assert_array_equal(out[0], frontend.features(padded, kind))
    check_frontend(librosa, parity, spec, padded)


# --- streaming vs per-window ---------------------------------------------------------------------


def assert_same_features(spec: FrontendSpec, kind: str, got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Streaming and direct results agree up to matmul rounding (dB parts absolutely)."""
    assert got.shape == want.shape and got.dtype == want.dtype, what
    db, rel = STREAM_DB[spec.dtype], STREAM_REL[spec.dtype]
    if kind == "stats":
        g, w = split_stats(spec, got), split_stats(spec, want)
        np.testing.assert_allclose(g["mfcc_mean"], w["mfcc_mean"], rtol=0, atol=db, err_msg=what)
        peak = float(np.abs(w["mel_mean"]).max()) if w["mel_mean"].size else 0.0
        np.testing.assert_allclose(g["mel_mean"], w["mel_mean"], rtol=rel, atol=rel * 1e-6 * peak, err_msg=what)
        for part in ("lpc", "rms_mean", "zcr_mean"):  # computed from the window itself: identical
            np.testing.assert_array_equal(g[part], w[part], err_msg=f"{what}: {part}")
    elif kind == "paraling":  # float32 descriptors, whatever the spec's dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
    elif INPUTS[kind].over_frames:  # the paraling part, then functionals of dB rows (a delta: two)
        n = Frontend(spec).output_shape("paraling")[0]
        np.testing.assert_allclose(got[..., :n], want[..., :n], rtol=1e-5, atol=1e-6, err_msg=what)
        np.testing.assert_allclose(got[..., n:], want[..., n:], rtol=0, atol=2 * db, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=db, err_msg=what)


def long_signal(kind: str, spec: FrontendSpec, seconds: float = 3.0) -> np.ndarray:
    if kind == "noise+chirp":
        sr = spec.sample_rate
        return 0.3 * make_signal("noise", sr, seconds) + make_signal("chirp_log", sr, seconds)
    return make_signal(kind, spec.sample_rate, seconds, n_fft=spec.n_fft)


STREAM_SPECS = {
    "default": SPECS["default"],
    "16k-fft1024-hop256-w32": SPECS["16k-fft1024-hop256-w32"],
    # Windows shorter than a frame: no frame is interior, so nothing is ever reused.
    "no-interior-w4": FrontendSpec(window_frames=4),
}


def _direct(spec: FrontendSpec, signal: np.ndarray, kind: str, hop_frames: int) -> np.ndarray:
    frontend = Frontend(spec)
    _, windows = clip_windows(signal, spec, hop_frames)
    return np.stack([frontend.features(w, kind) for w in windows])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hop_frames", [1, 7, 25, 49, 50, 64])  # 50+ frames apart: no frame is shared
@pytest.mark.parametrize("spec_name", list(STREAM_SPECS))
def test_featurize_clip_matches_per_window(spec_name, hop_frames, kind, dtype):
    spec = with_dtype(STREAM_SPECS[spec_name], dtype)
    signal = long_signal("noise+chirp", spec).astype(dtype)
    got = featurize_clip(signal, spec, kind, hop_frames)
    want = _direct(spec, signal, kind, hop_frames)
    expected_windows = 1 + (len(signal) - spec.window_samples) // (hop_frames * spec.hop_length)
    assert got.shape == (expected_windows, *Frontend(spec).output_shape(kind))
    assert_same_features(spec, kind, got, want, f"{spec_name} hop_frames={hop_frames}")


@pytest.mark.data
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, hop_frames",  # every clip 13 and 50 frames apart; one clip per corpus frame by frame
    [(n, h) for n in SPEECH_NAMES for h in (13, 50)] + [(n, 1) for n in SPEECH_NAMES[::2]],
)
def test_featurize_clip_matches_per_window_speech(speech, name, hop_frames, dtype):
    spec = with_dtype(SPECS["default"], dtype)
    signal = np.asarray(speech[name]).astype(dtype)
    for kind in KINDS:
        got = featurize_clip(signal, spec, kind, hop_frames)
        want = _direct(spec, signal, kind, hop_frames)
        assert_same_features(spec, kind, got, want, f"{name} {kind} hop_frames={hop_frames}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_streaming_positions_jumps_and_reset(kind, dtype):
    """Hops that do and do not reuse frames, off-grid starts, jumps both ways, and reset()."""
    spec = with_dtype(SPECS["default"], dtype)
    hop, n = spec.hop_length, spec.window_samples
    signal = long_signal("noise+chirp", spec, seconds=6.0).astype(dtype)
    frontend = Frontend(spec)
    featurizer = StreamingFeaturizer(frontend, kind)
    starts = [
        0, hop, 2 * hop,  # one frame on: reuse all but one interior frame
        12 * hop,  # ten frames on: partial reuse
        12 * hop + 100,  # not on the hop grid: computes everything, forgets the cache
        13 * hop,  # back on the grid after the forgetting
        13 * hop,  # the same window twice
        14 * hop + 0,  # and on
        150 * hop,  # a jump forward past the cache
        151 * hop,
        20 * hop,  # a jump backwards
        19 * hop,  # one frame back: cache offset negative
        19 * hop + 60 * hop,  # past everything cached
    ]
    for start in starts:
        window = signal[start : start + n]
        assert len(window) == n
        assert_same_features(spec, kind, featurizer(window, start), frontend.features(window, kind), f"start {start}")

    # A different stream at overlapping positions: frames are cached by position only, so
    # without reset() the featurizer would reuse the old stream's frames; reset() forgets them.
    other = long_signal("chirp_log", spec, seconds=2.0).astype(dtype)
    featurizer(signal[20 * hop : 20 * hop + n], 20 * hop)
    featurizer.reset()
    for start in (21 * hop, 22 * hop, 30 * hop):
        window = other[start - 20 * hop : start - 20 * hop + n]
        assert_same_features(spec, kind, featurizer(window, start), frontend.features(window, kind), "after reset")


@pytest.mark.parametrize("kind", KINDS)
def test_streaming_without_reset_reuses_stale_frames(kind):
    """The documented contract: start positions identify frames, so a new stream needs reset()."""
    spec = SPECS["default"]
    hop, n = spec.hop_length, spec.window_samples
    a = long_signal("noise", spec, seconds=2.0).astype(spec.dtype)
    b = long_signal("chirp_log", spec, seconds=2.0).astype(spec.dtype)
    featurizer = StreamingFeaturizer(frontend_for(spec), kind)
    featurizer(a[:n], 0)
    stale = featurizer(b[hop : hop + n], hop)
    assert not np.allclose(stale, frontend_for(spec).features(b[hop : hop + n], kind))
    featurizer.reset()
    np.testing.assert_allclose(
        featurizer(b[hop : hop + n], hop), frontend_for(spec).features(b[hop : hop + n], kind), rtol=0, atol=0
    )
