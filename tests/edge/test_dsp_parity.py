"""tonecue.edge.dsp against librosa, the reference, in the style of torchaudio's librosa tests.

One grid of cases (sample rate, n_fft, hop, mel bands, MFCCs, top_db, filterbank edges, signal)
is built as a cover, not a Cartesian product: every axis is varied through all its values with
the other axes at their defaults, plus a few seeded random combinations. Each feature runs on
the cases that differ in the axes it depends on. Every case runs on the float64 path (inputs
float64) and the float32 path (inputs float32; dsp then computes in float32).

References. float64 inputs are compared with librosa's *default* call (what the seed ran: its
mel filters and its RMS are float32) and with librosa's float64 call (`dtype=np.float64`).
float32 inputs are compared with librosa's float64 computation on the same (float32-rounded)
samples and with librosa's own float32 computation.

Tolerances are the named constants below. A relative tolerance `Rel(rtol, floor)` asserts
|ours - ref| <= rtol * (|ref| + floor * peak), peak being max |ref|: `floor` keeps bins many
orders of magnitude below the peak (where only absolute error is meaningful) from dominating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest
from helpers.signals import SIGNAL_KINDS, SPEECH_CLIPS, make_signal, speech_window

from tonecue.edge import dsp


@dataclass(frozen=True)
class Rel:
    """|ours - ref| <= rtol * (|ref| + floor * max|ref|)."""

    rtol: float
    floor: float = 0.0

    def __str__(self) -> str:
        return f"rtol {self.rtol:.2g}" + (f", floor {self.floor:.2g} × peak" if self.floor else "")


@dataclass(frozen=True)
class Abs:
    """|ours - ref| <= atol (in `unit`)."""

    atol: float
    unit: str = ""

    def __str__(self) -> str:
        return f"atol {self.atol:.2g}{' ' + self.unit if self.unit else ''}" if self.atol else "exact"


# --- tolerances: float64 path (float64 inputs) ------------------------------------------------
# Against librosa's float64 computation only float64 rounding separates the two.
F64_WINDOW = Abs(1e-15)  # periodic Hann vs scipy.signal.get_window / librosa; measured 8e-16
F64_MEL_FILTERS = Rel(1e-12, floor=1e-6)  # vs librosa.filters.mel(dtype=np.float64); measured 0
# librosa's default float32 filters are rounded twice (weights, then the Slaney scaling, in float32)
F64_MEL_FILTERS_F32 = Rel(2.5e-7, floor=1e-6)  # measured 1.1e-7
F64_DCT = Abs(1e-14)  # vs scipy.fftpack.dct(norm='ortho'); measured 7e-15
F64_DCT_APPLIED = Abs(1e-12)  # dct_matrix @ x vs scipy.fftpack.dct(x); measured 7e-14
F64_POWER = Rel(1e-9, floor=1e-9)  # |STFT|^2; near-zero bins judged against 1e-9 × peak; measured 4e-12
# librosa's default melspectrogram uses float32 filter weights (rounded by ~6e-8 relative): the
# seed's numbers. Against float64 filters (dtype=np.float64) only float64 rounding remains.
F64_MEL_LIBROSA = Rel(1e-6, floor=1e-9)  # measured 1.1e-7
F64_MEL = Rel(1e-9, floor=1e-9)  # measured 1.6e-12
F64_DB = Abs(1e-4, "dB")  # log-mel: measured 4.7e-7 dB (librosa's float32 filters), 6e-10 dB (float64)
F64_MFCC = Abs(1e-4, "dB")  # measured 2.2e-6 dB (librosa's float32 filters), 2e-10 dB (float64)
F64_DB_SAME_INPUT = Abs(1e-9, "dB")  # power_to_db on the very same array: float64 rounding only
# librosa.feature.rms defaults to dtype=np.float32 (the seed's RMS is float32-rounded);
# rms(dtype=np.float64) is the float64 computation.
F64_RMS_LIBROSA = Rel(5e-7)  # measured 1.2e-7
# dsp.rms sums each frame on its own in float64, so quiet frames after loud ones stay exact.
F64_RMS = Rel(1e-12)
ZCR = Abs(0.0)  # zero-crossing rate: counts of sign changes, exact on both paths
# Burg LPC, error relative to the largest |coefficient|. dsp.lpc takes Burg's coefficients from
# the autocorrelation (Vos 2013), twice as fast as librosa's recursion over the errors, at the cost
# of some cancellation in float64: measured 4e-10 here (order 16 on speech), up to 2.7e-9 over 40
# dev clips; the recursion itself reached 1e-11.
F64_LPC = Abs(1e-8, "× max|a|")

# --- tolerances: float32 path (float32 inputs, float32 arithmetic in dsp) ---------------------
# What float32 arithmetic actually reaches, measured over the whole grid, real speech included
# (PARITY.md lists the maxima); each bound is about 3-4x the largest error measured.
F32_WINDOW = Abs(1e-7)  # the float64 window rounded to float32 (half an ulp: measured 3e-8)
F32_MEL_FILTERS = Rel(1.2e-7, floor=1e-6)  # vs float64 filters: one float32 rounding (2^-24)
F32_MEL_FILTERS_LIBROSA = Rel(2.5e-7, floor=1e-6)  # vs librosa's twice-rounded float32 filters
F32_DCT = Abs(1e-7)  # measured 1.3e-8
F32_DCT_APPLIED = Abs(1e-6)  # the float32 matrix applied to float64 x; measured 9e-8
# Power and mel power: float32 rounding of the frames leaves a noise floor ~140 dB under the
# peak, so bins far below it only mean something in absolute terms: floor 1e-6 x peak (-60 dB).
F32_POWER = Rel(5e-5, floor=1e-6)  # measured 1.2e-5
F32_MEL = Rel(2e-5, floor=1e-6)  # measured 4.5e-6
# log-mel with top_db (40 or 80): every value lies within top_db of the peak.
F32_DB = Abs(5e-4, "dB")  # measured 1.5e-4 dB (top_db 80), 8e-6 dB (top_db 40)
# log-mel without top_db: compared where the reference lies within F32_DB_RANGE of its peak;
# lower, float32's own rounding floor decides (a chirp's far bands reach 1e-2 dB of error).
F32_DB_RANGE = 100.0
F32_DB_NO_TOP = Abs(3e-3, "dB")  # measured 9e-4 dB
# MFCCs sum every band: the error scales with |c0| (~1000 dB for silence at -100 dB), ~1e-6 of it.
F32_MFCC = Abs(5e-3, "dB")  # measured 2e-3 dB, with or without top_db
F32_DB_SAME_INPUT = Abs(5e-5, "dB")  # power_to_db on the same float32 array as librosa
F32_RMS = Rel(5e-7, floor=1e-6)  # measured 1.4e-7 (librosa's float32 mean) / 6e-8 (float64)
# dsp.lpc runs Burg's recursion in float64 for float32 input too, so against librosa's float64
# result only the output's float32 rounding remains. librosa's own float32 lpc is much further
# off on speech and tonal signals (reflection coefficients near +-1 amplify float32 rounding), so
# against it the bound is librosa's own error: tight on broadband signals, loose on speech.
F32_LPC = Abs(1e-6, "× max|a|")  # vs librosa f64
F32_LPC_BROADBAND = Abs(1e-5, "× max|a|")  # vs librosa f32, noise/chirps/impulse
F32_LPC_VS_F32 = Abs(2.5e-1, "× max|a|")  # vs librosa f32: its float32 recursion; measured 9.6e-2 (speech, order 16)

TOLERANCES = {
    # feature: {(dtype, reference): tolerance}
    "power": {
        ("float64", "librosa"): F64_POWER,
        ("float32", "librosa f64"): F32_POWER,
        ("float32", "librosa f32"): F32_POWER,
    },
    "mel": {
        ("float64", "librosa"): F64_MEL_LIBROSA,
        ("float64", "librosa f64"): F64_MEL,
        ("float32", "librosa f64"): F32_MEL,
        ("float32", "librosa f32"): F32_MEL,
    },
    "rms": {
        ("float64", "librosa"): F64_RMS_LIBROSA,
        ("float64", "librosa f64"): F64_RMS,
        ("float32", "librosa f64"): F32_RMS,
        ("float32", "librosa f32"): F32_RMS,
    },
}

DTYPES = ("float64", "float32")

# --- the grid -----------------------------------------------------------------------------------

SAMPLE_RATES = (8000, 16000, 22050, 44100, 48000)
N_FFTS = (256, 512, 1024, 2048)
HOPS = (64, 128, 256, 512, 1024)
N_MELS = (20, 40, 64, 128)
N_MFCCS = (13, 20, 40, 50)
TOP_DBS = (None, 40.0, 80.0)
BANDS = ((0.0, None), (50.0, None), (300.0, 4000.0))  # (fmin, fmax); 4000 Hz <= every Nyquist here
SPEECH_NAMES = tuple(f"{p.split('/')[0]}/{p.rsplit('/', 1)[1].removesuffix('.flac')}" for p in SPEECH_CLIPS)


@dataclass(frozen=True)
class Case:
    sr: int = 22050
    n_fft: int = 2048
    hop: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    top_db: float | None = 80.0
    band: tuple[float, float | None] = (0.0, None)
    signal: str = "noise"

    @property
    def id(self) -> str:
        fmin, fmax = self.band
        return (
            f"{self.signal}-sr{self.sr}-fft{self.n_fft}-hop{self.hop}-mel{self.n_mels}-mfcc{self.n_mfcc}"
            f"-top{self.top_db}-f{fmin:g}-{fmax}"
        )


def _cover() -> list[Case]:
    base = Case()
    cases = [base]
    cases += [Case(sr=sr) for sr in SAMPLE_RATES]
    cases += [Case(n_fft=n, hop=min(base.hop, n // 2)) for n in N_FFTS]
    cases += [Case(hop=h) for h in HOPS]
    cases += [Case(n_mels=m) for m in N_MELS]
    cases += [Case(n_mfcc=k) for k in N_MFCCS]
    cases += [Case(top_db=t) for t in TOP_DBS]
    cases += [Case(band=b) for b in BANDS]
    cases += [Case(signal=s) for s in SIGNAL_KINDS]
    # Signals that stress a setting: short ones at a small n_fft, tones at other rates.
    cases += [Case(signal="very_short", n_fft=512, hop=128), Case(signal="short", n_fft=256, hop=64)]
    cases += [Case(signal="tone_bin", n_fft=1024, hop=256), Case(signal="tone_quarter", sr=8000)]
    # Without top_db every band counts, however far below the peak: the float32 path's hardest case.
    hard = ("tone", "tone_bin", "clipped_hard", "chirp_log", "impulse", "dc")
    cases += [Case(top_db=None, n_mfcc=40, signal=s) for s in hard]
    rng = random.Random(20240611)
    for _ in range(10):
        n_fft = rng.choice(N_FFTS)
        n_mels = rng.choice(N_MELS)
        cases.append(
            Case(
                sr=rng.choice(SAMPLE_RATES),
                n_fft=n_fft,
                hop=rng.choice([h for h in HOPS if h <= n_fft]),
                n_mels=n_mels,
                n_mfcc=rng.choice([k for k in N_MFCCS if k <= n_mels]),
                top_db=rng.choice(TOP_DBS),
                band=rng.choice(BANDS),
                signal=rng.choice(SIGNAL_KINDS),
            )
        )
    # Real speech: every clip at the defaults, each other rate once, and two random settings.
    cases += [Case(signal=f"speech:{name}") for name in SPEECH_NAMES]
    cases += [Case(sr=sr, signal=f"speech:{SPEECH_NAMES[i]}") for i, sr in enumerate(SAMPLE_RATES) if sr != 22050]
    cases += [
        Case(sr=16000, n_fft=1024, hop=256, n_mels=64, n_mfcc=40, top_db=None, signal=f"speech:{SPEECH_NAMES[2]}"),
        Case(
            sr=44100, n_fft=512, hop=128, n_mels=40, n_mfcc=13, top_db=40.0, band=(50.0, None),
            signal=f"speech:{SPEECH_NAMES[4]}",
        ),
    ]
    return cases


CASES = _cover()


def cases_for(*axes: str) -> list:
    """The cover projected onto `axes` (what a feature depends on), without repeats, as params."""
    seen, params = set(), []
    for case in CASES:
        key = tuple(getattr(case, a) for a in axes) + (case.signal,)
        if key in seen:
            continue
        seen.add(key)
        marks = [pytest.mark.data] if case.signal.startswith("speech:") else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.fixture
def signal_of(request):
    """signal_of(case, dtype): the case's signal, speech read (and resampled) on demand."""

    def get(case: Case, dtype: str) -> np.ndarray:
        if case.signal.startswith("speech:"):
            y = request.getfixturevalue("speech_at")(case.signal.removeprefix("speech:"), case.sr)
            y = y[: int(1.5 * case.sr)] if len(y) > 1.5 * case.sr else y  # 1.5 s keeps the grid fast
        else:
            y = make_signal(case.signal, case.sr, n_fft=case.n_fft)
        return np.array(y, dtype=dtype)

    return get


# --- comparison helpers -------------------------------------------------------------------------


def relative_error(ours, ref, floor: float) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference shape {ref.shape}"
    if ref.size == 0:
        return 0.0
    assert np.all(np.isfinite(ours)), "non-finite output"
    diff = np.abs(ours - ref)
    scale = np.abs(ref) + floor * np.abs(ref).max()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / scale)
    return float(ratio.max())


def absolute_error(ours, ref, mask=None) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference shape {ref.shape}"
    assert np.all(np.isfinite(ours)), "non-finite output"
    diff = np.abs(ours - ref)
    if mask is not None:
        diff = diff[mask]
    return float(diff.max()) if diff.size else 0.0


def check(parity, feature: str, dtype: str, reference: str, ours, ref, tol, mask=None) -> None:
    """Measure, log and assert one comparison."""
    if isinstance(tol, Rel):
        err = relative_error(ours, ref, tol.floor)
        ok = err <= tol.rtol
    else:
        err = absolute_error(ours, ref, mask)
        ok = err <= tol.atol
    parity(feature, dtype, reference, err, str(tol))
    assert ok, f"{feature} [{dtype}] vs {reference}: max error {err:.3e} exceeds {tol}"


def _ref_input(y: np.ndarray, reference: str) -> np.ndarray:
    """librosa's input: the same samples, as float64 for the "librosa f64" computation."""
    return y.astype(np.float64) if reference == "librosa f64" else y


def _references(dtype: str) -> tuple[str, ...]:
    return ("librosa", "librosa f64") if dtype == "float64" else ("librosa f64", "librosa f32")


def _librosa_mel(librosa, y, case: Case, reference: str) -> np.ndarray:
    fmin, fmax = case.band
    kwargs = {} if reference in ("librosa", "librosa f32") else {"dtype": np.float64}
    return librosa.feature.melspectrogram(
        y=_ref_input(y, reference), sr=case.sr, n_fft=case.n_fft, hop_length=case.hop,
        n_mels=case.n_mels, fmin=fmin, fmax=fmax, **kwargs,
    )


def _ours_mel(y, case: Case) -> np.ndarray:
    fmin, fmax = case.band
    return dsp.melspectrogram(y, case.sr, case.n_fft, case.hop, case.n_mels, fmin, fmax)


# --- builders -----------------------------------------------------------------------------------


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_fft", N_FFTS + (400, 1023))
def test_hann_window(librosa, parity, n_fft, dtype):
    signal = pytest.importorskip("scipy.signal")
    ours = dsp.hann_window(n_fft, dtype)
    assert ours.dtype == dtype and ours.shape == (n_fft,)
    tol = F64_WINDOW if dtype == "float64" else F32_WINDOW
    check(parity, "hann_window", dtype, "scipy get_window", ours, signal.get_window("hann", n_fft, fftbins=True), tol)
    check(parity, "hann_window", dtype, "librosa", ours, librosa.filters.get_window("hann", n_fft, fftbins=True), tol)


# Every rate x n_fft x bands with the full band; the other edges at n_fft 2048, 20 and 128 bands.
FILTERBANKS = [(sr, n, m, BANDS[0]) for sr in SAMPLE_RATES for n in N_FFTS for m in N_MELS] + [
    (sr, 2048, m, band) for sr in SAMPLE_RATES for m in (20, 128) for band in BANDS[1:]
]


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "sr, n_fft, n_mels, band", FILTERBANKS, ids=[f"sr{a}-fft{b}-mel{c}-f{d[0]:g}-{d[1]}" for a, b, c, d in FILTERBANKS]
)
@pytest.mark.filterwarnings("ignore:Empty filters:UserWarning")
def test_mel_filterbank(librosa, parity, sr, n_fft, n_mels, band, dtype):
    fmin, fmax = band
    ours = dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, dtype)
    assert ours.dtype == dtype and ours.shape == (n_mels, 1 + n_fft // 2)
    f64 = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
    f32 = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    if dtype == "float64":
        check(parity, "mel_filterbank", dtype, "librosa f64", ours, f64, F64_MEL_FILTERS)
        check(parity, "mel_filterbank", dtype, "librosa", ours, f32, F64_MEL_FILTERS_F32)
    else:
        check(parity, "mel_filterbank", dtype, "librosa f64", ours, f64, F32_MEL_FILTERS)
        check(parity, "mel_filterbank", dtype, "librosa f32", ours, f32, F32_MEL_FILTERS_LIBROSA)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "n_out, n_in", [(k, n) for n in N_MELS for k in N_MFCCS + (n,) if k <= n], ids=lambda v: str(v)
)
def test_dct_matrix(parity, n_out, n_in, dtype):
    fftpack = pytest.importorskip("scipy.fftpack")
    ours = dsp.dct_matrix(n_out, n_in, dtype)
    assert ours.dtype == dtype and ours.shape == (n_out, n_in)
    tol = F64_DCT if dtype == "float64" else F32_DCT
    reference = fftpack.dct(np.eye(n_in), type=2, norm="ortho", axis=0)[:n_out]
    check(parity, "dct_matrix", dtype, "scipy.fftpack.dct", ours, reference, tol)
    x = np.random.default_rng(n_in).standard_normal((n_in, 7))
    check(parity, "dct_matrix @ x", dtype, "scipy.fftpack.dct", ours.astype(np.float64) @ x,
          fftpack.dct(x, type=2, norm="ortho", axis=0)[:n_out],
          F64_DCT_APPLIED if dtype == "float64" else F32_DCT_APPLIED)


# --- spectra ------------------------------------------------------------------------------------


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases_for("sr", "n_fft", "hop"))
@pytest.mark.filterwarnings("ignore:n_fft=.*is too large:UserWarning")
def test_power_spectrogram(librosa, parity, signal_of, case, dtype):
    y = signal_of(case, dtype)
    ours = dsp.power_spectrogram(y, case.n_fft, case.hop)
    assert ours.dtype == dtype
    assert ours.shape == (1 + case.n_fft // 2, 1 + len(y) // case.hop)
    for reference in _references(dtype):
        if reference == "librosa f64" and dtype == "float64":
            continue  # librosa's stft of float64 input is its float64 computation
        ref = np.abs(librosa.stft(_ref_input(y, reference), n_fft=case.n_fft, hop_length=case.hop)) ** 2
        check(parity, "power_spectrogram", dtype, reference, ours, ref, TOLERANCES["power"][dtype, reference])


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases_for("sr", "n_fft", "hop", "n_mels", "band"))
@pytest.mark.filterwarnings("ignore:Empty filters:UserWarning", "ignore:n_fft=.*is too large:UserWarning")
def test_melspectrogram(librosa, parity, signal_of, case, dtype):
    y = signal_of(case, dtype)
    ours = _ours_mel(y, case)
    assert ours.dtype == dtype and ours.shape[0] == case.n_mels
    for reference in _references(dtype):
        ref = _librosa_mel(librosa, y, case, reference)
        check(parity, "melspectrogram", dtype, reference, ours, ref, TOLERANCES["mel"][dtype, reference])


def _db_tolerance(dtype: str, top_db, feature: str):
    if dtype == "float64":
        return F64_DB if feature == "log-mel" else F64_MFCC
    if feature == "mfcc":
        return F32_MFCC
    return F32_DB_NO_TOP if top_db is None else F32_DB


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases_for("sr", "n_fft", "hop", "n_mels", "band", "top_db"))
@pytest.mark.filterwarnings("ignore:Empty filters:UserWarning", "ignore:n_fft=.*is too large:UserWarning")
def test_log_mel(librosa, parity, signal_of, case, dtype):
    """power_to_db(melspectrogram): the whole path from samples to dB."""
    y = signal_of(case, dtype)
    ours = dsp.power_to_db(_ours_mel(y, case), top_db=case.top_db)
    assert ours.dtype == dtype
    tol = _db_tolerance(dtype, case.top_db, "log-mel")
    for reference in _references(dtype):
        ref = librosa.power_to_db(_librosa_mel(librosa, y, case, reference), top_db=case.top_db)
        mask = None
        if dtype == "float32" and case.top_db is None:
            mask = ref >= ref.max() - F32_DB_RANGE
        check(parity, f"log-mel (top_db {case.top_db})", dtype, reference, ours, ref, tol, mask)


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases_for("sr", "n_fft", "hop", "n_mels", "band", "top_db", "n_mfcc"))
@pytest.mark.filterwarnings("ignore:Empty filters:UserWarning", "ignore:n_fft=.*is too large:UserWarning")
def test_mfcc(librosa, parity, signal_of, case, dtype):
    y = signal_of(case, dtype)
    fmin, fmax = case.band
    ours = dsp.mfcc(y, case.sr, case.n_mfcc, case.n_fft, case.hop, case.n_mels, fmin, fmax, case.top_db)
    assert ours.dtype == dtype and ours.shape[0] == case.n_mfcc
    tol = _db_tolerance(dtype, case.top_db, "mfcc")
    for reference in _references(dtype):
        log_mel = librosa.power_to_db(_librosa_mel(librosa, y, case, reference), top_db=case.top_db)
        ref = librosa.feature.mfcc(S=log_mel, n_mfcc=case.n_mfcc)
        check(parity, f"mfcc (top_db {case.top_db})", dtype, reference, ours, ref, tol)
        if reference in ("librosa", "librosa f32") and case.top_db == 80.0:
            # The seed's own call, straight from samples.
            direct = librosa.feature.mfcc(
                y=y, sr=case.sr, n_mfcc=case.n_mfcc, n_fft=case.n_fft, hop_length=case.hop,
                n_mels=case.n_mels, fmin=fmin, fmax=fmax,
            )
            np.testing.assert_allclose(direct, ref, rtol=0, atol=1e-9)


POWER_TO_DB_VARIANTS = [
    # (ref, amin, top_db); ref "max" is the array's peak, 1e-12 lies below amin
    (1.0, 1e-10, 80.0),
    (1.0, 1e-10, None),
    (1.0, 1e-10, 40.0),
    (1.0, 1e-10, 0.0),
    ("max", 1e-10, 80.0),
    ("max", 1e-10, None),
    (0.25, 1e-10, 80.0),
    (1e-12, 1e-10, None),
    (1.0, 1e-5, 80.0),
    (1.0, 1e-5, None),
    ("max", 1e-3, 40.0),
]


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("signal", ["noise", "tone_bin", "silence", "impulse", "clipped_hard"])
@pytest.mark.parametrize("ref_value, amin, top_db", POWER_TO_DB_VARIANTS, ids=lambda v: str(v))
def test_power_to_db(librosa, parity, signal, ref_value, amin, top_db, dtype):
    """power_to_db alone, on the same mel power for both, through ref, amin and top_db."""
    S = dsp.melspectrogram(make_signal(signal).astype(dtype))
    ref = float(S.max()) if ref_value == "max" else ref_value
    ours = dsp.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    theirs = librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    assert ours.dtype == dtype and ours.shape == S.shape
    tol = F64_DB_SAME_INPUT if dtype == "float64" else F32_DB_SAME_INPUT
    check(parity, "power_to_db (same input)", dtype, "librosa", ours, theirs, tol)
    if top_db is not None:
        assert ours.min() >= ours.max() - top_db - tol.atol


# --- time-domain features -----------------------------------------------------------------------


RMS_CASES = cases_for("n_fft", "hop")


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", RMS_CASES)
def test_rms(librosa, parity, signal_of, case, dtype):
    y = signal_of(case, dtype)
    ours = dsp.rms(y, case.n_fft, case.hop)
    assert ours.dtype == dtype and ours.shape == (1, 1 + len(y) // case.hop)
    for reference in _references(dtype):
        kwargs = {"dtype": np.float64} if reference == "librosa f64" else {}
        ref = librosa.feature.rms(y=_ref_input(y, reference), frame_length=case.n_fft, hop_length=case.hop, **kwargs)
        check(parity, "rms", dtype, reference, ours, ref, TOLERANCES["rms"][dtype, reference])


def _loud_then_quiet(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "10 s full scale, then 1e-6 noise":
        return np.concatenate([rng.uniform(-1.0, 1.0, 10 * 22050), 1e-6 * rng.standard_normal(22050)])
    return make_signal("loud_then_quiet")  # 0.375 s full scale, then 0.375 s at the 16-bit floor


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["10 s full scale, then 1e-6 noise", "loud_then_quiet"])
def test_rms_after_a_loud_stretch(librosa, kind, dtype):
    y = _loud_then_quiet(kind).astype(dtype)
    ours = dsp.rms(y)
    ref = librosa.feature.rms(y=y.astype(np.float64), dtype=np.float64)
    tol = F64_RMS if dtype == "float64" else F32_RMS
    assert relative_error(ours, ref, tol.floor) <= tol.rtol


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", cases_for("n_fft", "hop"))
def test_zero_crossing_rate(librosa, parity, signal_of, case, dtype):
    y = signal_of(case, dtype)
    ours = dsp.zero_crossing_rate(y, case.n_fft, case.hop)
    assert ours.dtype == dtype and ours.shape == (1, 1 + len(y) // case.hop)
    for reference in _references(dtype):
        ref = librosa.feature.zero_crossing_rate(_ref_input(y, reference), frame_length=case.n_fft, hop_length=case.hop)
        check(parity, "zero_crossing_rate", dtype, reference, ours, ref, ZCR)


# LPC: Burg's recursion (Marple) on well-conditioned signals for orders 1..16. A pure tone is
# predicted exactly by order 2; beyond that the residual is rounding noise and both
# implementations' coefficients are arbitrary, so tones run orders 1..2 only.
LPC_ORDERS = range(1, 17)
LPC_SIGNALS = {
    "noise": LPC_ORDERS,
    "chirp_linear": LPC_ORDERS,
    "chirp_log": LPC_ORDERS,
    "clipped_soft": LPC_ORDERS,
    "clipped_hard": LPC_ORDERS,
    "dc": LPC_ORDERS,
    "impulse": LPC_ORDERS,
    "silence": LPC_ORDERS,
    "short": LPC_ORDERS,
    "tone": range(1, 3),
    "tone_bin": range(1, 3),
    "tone_quarter": range(1, 3),
}
_BROADBAND = ("noise", "chirp_linear", "chirp_log", "impulse", "silence", "short")


def _check_lpc(librosa, parity, y, orders, dtype, label, broadband=False):
    for order in orders:
        ours = dsp.lpc(y, order)
        assert ours.dtype == dtype and ours.shape == (order + 1,) and ours[0] == 1
        for reference in _references(dtype):
            ref = librosa.lpc(_ref_input(y, reference), order=order)
            if dtype == "float64":
                tol = F64_LPC
            elif reference == "librosa f64":
                tol = F32_LPC
            else:
                tol = F32_LPC_BROADBAND if broadband else F32_LPC_VS_F32
            err = absolute_error(ours, ref) / np.abs(ref).max()
            parity(f"lpc ({label})", dtype, reference, err, str(tol))
            assert err <= tol.atol, f"lpc order {order} [{dtype}] vs {reference}: {err:.3e} > {tol}"


@pytest.mark.librosa
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("signal", sorted(LPC_SIGNALS))
def test_lpc(librosa, parity, signal, dtype):
    y = make_signal(signal, 22050, seconds=0.5).astype(dtype)
    broadband = signal in _BROADBAND
    label = "broadband synthetic" if broadband else "tonal/clipped/DC synthetic"
    _check_lpc(librosa, parity, y, LPC_SIGNALS[signal], dtype, label, broadband)


@pytest.mark.librosa
@pytest.mark.data
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SPEECH_NAMES)
def test_lpc_speech(librosa, parity, speech, name, dtype):
    """On a 50-frame window of each clip (what the frontend feeds it) and on the whole clip."""
    clip = np.asarray(speech[name])
    for y, label in ((speech_window(clip, 512 * 49), "speech window"), (clip, "speech clip")):
        _check_lpc(librosa, parity, y.astype(dtype), LPC_ORDERS, dtype, label)
