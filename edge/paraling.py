"""Paralinguistic descriptors per frame and their functionals over a context, in numpy alone.

In the spirit of eGeMAPS and ComParE (what openSMILE computes), but built for a device that hears a
stream and for training data whose recording level is a hidden corpus label:

* **Low-level descriptors** (LLDs), one row per 10 ms frame, each computed once from a bounded
  stretch of samples around the frame: loudness, F0 by YIN with its periodicity, jitter and shimmer
  over the glottal periods near the frame, harmonics-to-noise ratio from the normalised
  autocorrelation at the period, formants F1-F3 from the roots of a selective LPC, spectral slopes
  (0-500 and 500-1500 Hz), alpha ratio, Hammarberg index, spectral flux and MFCC 1-4.
* **Functionals** over a context of frames (a window, a clip, or the last seconds of a stream):
  mean, coefficient of variation or standard deviation, percentiles 20/50/80 and their range,
  mean rising and falling slopes, and voiced/unvoiced segment statistics.

**Level.** Multiplying the input by a gain changes no output (up to float rounding), because
nothing is compared with an absolute level: loudness leaves only as a ratio to the context's own
loud frames (its 95th percentile), silence is judged relative to the context's loud frames, log
spectra are floored relative to each frame's own peak, MFCC 0 is left out, and every other
descriptor is a ratio (F0, jitter, shimmer in dB, HNR, formants, slopes, alpha ratio, Hammarberg,
flux of normalised spectra). What still depends on level: clipping at full scale, a noise floor
that does not scale with the speech, and frames below about -120 dBFS (digital silence), which are
unvoiced whatever their shape. See `tests/edge/PARALING.md`.

**Streaming.** A frame's descriptors depend only on the samples within `ParalingSettings.reach`
of its centre, so `ParalinguisticStream` computes each frame once as audio arrives and takes the
functionals over its last `context_seconds`; the result equals `ParalinguisticFrontend.llds` on the
whole signal. Arithmetic runs in float64 (numpy's float64 FFT is the faster one, and the LPC and
YIN ratios need it); descriptors and functionals are returned as float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import dsp
from .errors import TonecueError
from .settings import VersionedSettings

__all__ = [
    "LLD_NAMES",
    "ParalingError",
    "ParalingSettings",
    "ParalinguisticFrontend",
    "ParalinguisticStream",
    "ParalinguisticWindows",
]

FORMAT_VERSION = 1


class ParalingError(TonecueError, ValueError):
    """Paralinguistic settings that are inconsistent, or a signal that cannot be analysed."""


@dataclass(frozen=True)
class ParalingSettings(VersionedSettings):
    """Every setting of the paralinguistic frontend.

    sample_rate: audio rate (Hz); 16,000 and 22,050 are the tested ones. Spectral descriptors never
        look above `band_top`, so both rates give comparable numbers.
    hop_ms: time between frame centres. Frames are centred at multiples of the hop.
    frame_ms: Hann frame of the spectral descriptors, formants and MFCCs.
    pitch_frame_ms: rectangular frame of YIN; it must hold two periods of `f0_min`.
    f0_min, f0_max: F0 search range (Hz).
    trough_threshold: YIN's absolute threshold: the first trough of the cumulative mean normalised
        difference below it gives the period, else the deepest trough does (librosa.yin's rule;
        accepting a trough near the deepest one instead made more octave errors against pyin).
    voicing_threshold: a frame is voiced when that trough is below this (aperiodicity).
    max_formant: ceiling of the formant analysis (Hz; Praat's default 5500); the LPC sees the band
        below it only, as a signal resampled to twice this rate would.
    lpc_order: LPC order of the formant analysis (two per formant sought: 10 finds 5).
    pre_emphasis_hz: corner of the first-order pre-emphasis before the formant LPC (Praat's 50).
    n_mels: mel bands behind loudness and MFCC 1-4.
    band_top: upper edge (Hz) of the mel bands and the spectral flux (capped at Nyquist).
    pulse_window_ms: jitter and shimmer of a frame use the glottal periods within +-half of it.
    silence_db: frames this far below the context's loud frames (95th percentile of frame energy)
        are silence: neither voiced nor unvoiced speech in the functionals.
    min_voiced_ms: the functionals count shorter voiced runs (blips at a vowel's ring-down) as
        unvoiced.
    context_seconds: the stream's sliding context for functionals.
    """

    sample_rate: int = 16000
    hop_ms: float = 10.0
    frame_ms: float = 25.0
    pitch_frame_ms: float = 40.0
    f0_min: float = 60.0
    f0_max: float = 600.0
    trough_threshold: float = 0.1
    voicing_threshold: float = 0.3
    max_formant: float = 5500.0
    lpc_order: int = 10
    pre_emphasis_hz: float = 50.0
    n_mels: int = 26
    band_top: float = 8000.0
    pulse_window_ms: float = 60.0
    silence_db: float = 50.0
    min_voiced_ms: float = 30.0
    context_seconds: float = 2.0

    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    DESCRIPTION: ClassVar[str] = "paralinguistic settings"
    ERROR: ClassVar[type[ValueError]] = ParalingError

    def __post_init__(self) -> None:
        problems = []
        for name in ("sample_rate", "lpc_order", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        for name in (
            "hop_ms", "frame_ms", "pitch_frame_ms", "f0_min", "f0_max", "trough_threshold",
            "voicing_threshold", "max_formant", "band_top", "pulse_window_ms", "silence_db",
            "min_voiced_ms", "context_seconds",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
                problems.append(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.pre_emphasis_hz, (int, float)) or not 0 <= self.pre_emphasis_hz < 1000:
            problems.append(f"pre_emphasis_hz must be in [0, 1000), got {self.pre_emphasis_hz!r}")
        if problems:
            raise ParalingError("; ".join(problems))
        nyquist = self.sample_rate / 2
        if self.hop_length < 1:
            problems.append(f"hop_ms={self.hop_ms} is under one sample at {self.sample_rate} Hz")
        if self.frame_length < 16:
            problems.append(f"frame_ms={self.frame_ms} gives fewer than 16 samples")
        if not self.f0_min < self.f0_max <= nyquist / 4:
            problems.append(f"need f0_min < f0_max <= {nyquist / 4:g} Hz, got {self.f0_min} and {self.f0_max}")
        elif 2 * self.max_period > self.pitch_frame_length:
            needed = 2 * math.ceil(self.sample_rate / self.f0_min) / self.sample_rate * 1000
            problems.append(
                f"pitch_frame_ms={self.pitch_frame_ms} holds fewer than two periods of f0_min={self.f0_min} Hz "
                f"(needs at least {needed:.1f} ms)"
            )
        if not self.voicing_threshold < 1 or not self.trough_threshold < 1:
            problems.append("voicing_threshold and trough_threshold must be below 1")
        if self.max_formant + 50 > nyquist:
            problems.append(f"max_formant={self.max_formant} Hz needs a sample rate above {2 * (self.max_formant + 50):g} Hz")
        if nyquist < 5000:
            problems.append(f"the alpha ratio and Hammarberg index need 0-5 kHz: sample_rate must be >= 10000, got {self.sample_rate}")
        if self.lpc_order < 6:
            problems.append(f"lpc_order={self.lpc_order} cannot resolve three formants (needs >= 6)")
        if problems:
            raise ParalingError("; ".join(problems))

    # --- derived sizes, in samples ---------------------------------------------------------------

    @property
    def hop_length(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def frame_length(self) -> int:
        return int(round(self.frame_ms * self.sample_rate / 1000))

    @property
    def pitch_frame_length(self) -> int:
        return int(round(self.pitch_frame_ms * self.sample_rate / 1000))

    @property
    def min_period(self) -> int:
        return int(math.floor(self.sample_rate / self.f0_max))

    @property
    def max_period(self) -> int:
        return int(math.ceil(self.sample_rate / self.f0_min))

    @property
    def n_fft(self) -> int:
        """FFT size of the spectral frames: the frame's length rounded up to a fast FFT size.
        (Twice the frame, free of circular wrap-around in the formant LPC's autocorrelation, gave
        the same formants to the Hz on the synthetic vowels: the Hann taper leaves the few short
        lags it needs intact.)"""
        return _fft_size(self.frame_length)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def context_frames(self) -> int:
        return max(1, int(round(self.context_seconds * self.frame_rate)))

    @property
    def margin_frames(self) -> int:
        """Frames beyond each end that a block of frames needs analysed first: those nearest to
        any sample within `_pulse_reach`, since every waveform peak there asks its nearest frame
        for the local period."""
        reach = self._pulse_reach + self.hop_length
        return int(math.ceil(reach / self.hop_length)) + 1

    @property
    def _pulse_reach(self) -> float:
        """Samples beyond a frame's centre that its jitter and shimmer can depend on. The frame
        takes the cycles anchored within half a pulse window; a cycle's pair reaches the next two
        anchors (each within 1.4 periods), an anchor is a peak that beat the peaks within 0.6
        periods, and a cycle's waveform match reads 1.65 periods past its anchor: under 4 of
        the longest periods in all."""
        return self.pulse_window_ms / 2000 * self.sample_rate + 4 * (self.max_period + 1)

    @property
    def local_span(self) -> tuple[int, int]:
        """Samples before and after a frame's centre that its own descriptors (all but jitter and
        shimmer) read: its YIN frame, its spectral frame and the one before it (the flux)."""
        before = max(self.frame_length // 2 + self.hop_length, self.pitch_frame_length // 2)
        after = max(self.frame_length - self.frame_length // 2, self.pitch_frame_length - self.pitch_frame_length // 2)
        return before, after

    @property
    def reach(self) -> int:
        """Samples either side of a frame's centre that its descriptors can depend on."""
        half = max(self.frame_length, self.pitch_frame_length) // 2 + 1
        return self.margin_frames * self.hop_length + half


# --- the descriptors ---------------------------------------------------------------------------

#: Names of the LLD columns returned by `ParalinguisticFrontend.llds`. NaN where a descriptor is
#: undefined (F0, jitter, shimmer, HNR and formants in unvoiced frames). `loudness` and
#: `energy_db` are absolute (they scale with the input level); the functionals use them only as
#: ratios to the context's own loud frames.
LLD_NAMES = (
    "loudness",
    "energy_db",
    "voiced",
    "periodicity",
    "f0_semitones",
    "jitter_local",
    "shimmer_local_db",
    "hnr_db",
    "f1_hz",
    "f2_hz",
    "f3_hz",
    "slope_0_500",
    "slope_500_1500",
    "alpha_ratio_db",
    "hammarberg_db",
    "spectral_flux",
    "mfcc1",
    "mfcc2",
    "mfcc3",
    "mfcc4",
)
_COL = {name: i for i, name in enumerate(LLD_NAMES)}
_SLICE = 64  # frames or glottal cycles analysed at once
_ENERGY_FLOOR = 1e-12  # mean square per sample (-120 dBFS): below it a frame is digital silence
_SEMITONE_REF = 27.5  # Hz, as eGeMAPS's F0semitoneFrom27.5Hz


def _fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n: numpy's FFT is about as fast there as at a power of two,
    and the power of two can be almost twice as long."""
    best = 1 << (int(n) - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def _regular_frames(x: np.ndarray, first_start: int, hop: int, n: int, length: int) -> np.ndarray:
    """n frames of `length` samples, the first starting at `first_start`, `hop` apart (a view)."""
    if first_start < 0 or first_start + (n - 1) * hop + length > len(x):
        raise AssertionError("frames reach outside the analysed samples")  # a bug, never input
    base = x[first_start:]
    return np.lib.stride_tricks.as_strided(base, shape=(n, length), strides=(base.strides[0] * hop, base.strides[0]), writeable=False)


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(values[lo[i]:hi[i]]) for every i (each range non-empty), by a sparse table."""
    n = len(values)
    widths = hi - lo
    levels = max(1, int(widths.max()).bit_length())
    table = np.full((levels, n), -np.inf)
    table[0] = values
    for k in range(1, levels):
        step = 1 << (k - 1)
        table[k, : n - step] = np.maximum(table[k - 1, : n - step], table[k - 1, step:])
    k = np.floor(np.log2(widths)).astype(np.intp)
    return np.maximum(table[k, lo], table[k, hi - (1 << k)])


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """LPC polynomials [1, a1, ..., a_order] from autocorrelations r (n, order + 1), all rows at once."""
    n = len(r)
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("ij,ij->i", a[:, 1:i], r[:, i - 1 : 0 : -1])
        with np.errstate(divide="ignore", invalid="ignore"):  # unsolvable rows: `_formants` drops them
            k = -acc / error
        reversed_ = a[:, i - 1 : 0 : -1].copy()
        a[:, 1:i] += k[:, None] * reversed_
        a[:, i] = k
        error *= 1.0 - k * k
    return a


class ParalinguisticFrontend:
    """The descriptors and functionals of one settings, with every matrix built once."""

    def __init__(self, settings: ParalingSettings | None = None):
        if settings is None:
            settings = ParalingSettings()
        if not isinstance(settings, ParalingSettings):
            raise ParalingError(f"expected ParalingSettings, got {type(settings).__name__}")
        self.settings = s = settings
        sr, n_fft = s.sample_rate, s.n_fft
        self._window = dsp.hann_window(s.frame_length, "float64")
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        top = min(s.band_top, sr / 2)
        self._n_top = int(np.searchsorted(freqs, top, side="right"))
        self._mel = dsp.FilterbankProduct(dsp.mel_filterbank(sr, n_fft, s.n_mels, 20.0, top)[:, : self._n_top])
        self._dct = np.ascontiguousarray(dsp.dct_matrix(5, s.n_mels)[1:5].T)

        def band(lo: float, hi: float) -> slice:
            return slice(int(np.searchsorted(freqs, lo)), int(np.searchsorted(freqs, hi)))

        self._band_alpha_low, self._band_alpha_high = band(50, 1000), band(1000, 5000)
        self._band_hb_low, self._band_hb_high = band(0, 2000), band(2000, 5000)
        # Spectral slopes: least-squares slope of dB over Hz is a fixed weighting of the bins.
        self._slopes = []
        for lo, hi in ((0, 500), (500, 1500)):
            bins = band(lo, hi)
            f = freqs[bins]
            self._slopes.append((bins, (f - f.mean()) / np.sum((f - f.mean()) ** 2)))
        # Selective LPC (Makhoul 1975): the autocorrelation of the band below max_formant, as if the
        # signal were resampled to twice that rate, is a cosine transform of that band's power.
        k_top = int(round(s.max_formant * n_fft / sr))
        self._k_top = k_top
        self._lpc_rate = 2.0 * k_top * sr / n_fft
        bins = np.arange(k_top + 1)
        weights = np.ones(k_top + 1)
        weights[[0, -1]] = 0.5
        lags = np.arange(s.lpc_order + 1)
        self._lpc_cos = np.cos(np.pi * np.outer(bins, lags) / k_top) * weights[:, None]
        alpha = math.exp(-2 * math.pi * s.pre_emphasis_hz / sr)
        omega = 2 * np.pi * freqs[: k_top + 1] / sr
        self._pre_emphasis = 1 + alpha * alpha - 2 * alpha * np.cos(omega)
        self._companion_ones = np.eye(s.lpc_order, k=-1, dtype=bool)
        self._pitch_fft = _fft_size(s.pitch_frame_length + s.max_period + 2)
        self._pad = s.reach + s.hop_length

    # --- public API --------------------------------------------------------------------------

    def feature_names(self) -> list[str]:
        """Names of the functionals vector's entries, in order."""
        return list(_FUNCTIONAL_NAMES)

    @property
    def n_features(self) -> int:
        return len(_FUNCTIONAL_NAMES)

    def check_signal(self, signal: np.ndarray) -> np.ndarray:
        signal = np.asarray(signal)
        if signal.ndim != 1 or signal.size == 0:
            raise ParalingError(f"expected a non-empty 1-D (mono) signal, got shape {signal.shape}")
        if not np.issubdtype(signal.dtype, np.floating):
            raise ParalingError(f"expected float samples in [-1, 1], got dtype {signal.dtype}")
        signal = signal.astype(np.float64, copy=False)
        if not np.all(np.isfinite(signal)):
            raise ParalingError("signal holds NaN or infinite samples")
        return signal

    def llds(self, signal: np.ndarray) -> np.ndarray:
        """Descriptors of every frame, shape (1 + len // hop, len(LLD_NAMES)), float32.

        Frame i is centred on sample i * hop; the signal is taken as zero beyond its ends.
        """
        x = self.check_signal(signal)
        hop = self.settings.hop_length
        n = 1 + len(x) // hop
        padded = np.zeros(self._pad + len(x) + self._pad + hop)
        padded[self._pad : self._pad + len(x)] = x
        return self._analyze(padded, self._pad, n).astype(np.float32)

    def functionals(self, signal: np.ndarray) -> np.ndarray:
        """Functionals over the whole signal (a window or a clip is the context), (n_features,) float32."""
        return self.functionals_of(self.llds(signal))

    def functionals_of(self, llds: np.ndarray) -> np.ndarray:
        """Functionals over a context given as LLD rows (from `llds` or a stream), float32."""
        llds = np.asarray(llds)
        if llds.ndim != 2 or llds.shape[1] != len(LLD_NAMES) or len(llds) == 0:
            raise ParalingError(f"expected LLD rows of shape (n >= 1, {len(LLD_NAMES)}), got {llds.shape}")
        return _functionals(llds.astype(np.float64), self.settings)

    # --- the analysis ------------------------------------------------------------------------

    def _pitch(self, x: np.ndarray, first_centre: int, n: int) -> tuple[np.ndarray, ...]:
        """YIN's (period, aperiodicity, rho) of n frames centred at first_centre + i * hop."""
        s = self.settings
        frames = _regular_frames(x, first_centre - s.pitch_frame_length // 2, s.hop_length, n, s.pitch_frame_length)
        # Digital silence (a window's zero padding) is unvoiced whatever YIN would find in it, and
        # nothing reads an unvoiced frame's period or correlation: such frames skip the analysis.
        sound = np.flatnonzero(np.einsum("ij,ij->i", frames, frames) > _ENERGY_FLOOR * s.pitch_frame_length)
        period, aperiodicity, rho = np.full(n, float(s.min_period)), np.ones(n), np.zeros(n)
        # In slices of frames (and of cycles below): each frame's and each cycle's numbers are its
        # own, and the FFT scratch of a whole 2 s window at once (7 MB) would set the device's
        # peak memory.
        for i in range(0, len(sound), _SLICE):
            rows = sound[i : i + _SLICE]
            period[rows], aperiodicity[rows], rho[rows] = self._yin(frames[rows])
        return period, aperiodicity, rho

    def _analyze(
        self, x: np.ndarray, first_centre: int, n: int, pitch: tuple[np.ndarray, ...] | None = None, local: np.ndarray | None = None
    ) -> np.ndarray:
        """Descriptors of n frames centred at first_centre + i * hop of the float64 array x, which
        must hold `reach` samples beyond either end frame's centre. `pitch`: the `_pitch` of the
        n + 2 * margin_frames frames around them, and `local`: their `_local` rows (filled in
        here), where the caller has them already (a stream, a window's frame store)."""
        s = self.settings
        hop, m = s.hop_length, s.margin_frames
        n_ext = n + 2 * m  # YIN also runs on the margin frames: the pulses ask them for periods
        c0 = first_centre - m * hop
        if pitch is None:
            pitch = self._pitch(x, c0, n_ext)
        inner = slice(m, m + n)
        out = self._local(x, first_centre, n, tuple(a[inner] for a in pitch)) if local is None else local
        period, aperiodicity, _ = pitch
        voiced = aperiodicity < s.voicing_threshold
        period = np.where(voiced, period, np.nan)
        v = voiced[inner]
        if np.any(v):
            jitter, shimmer = self._voice_quality(x, c0, n_ext, period, inner)
            out[:, _COL["jitter_local"]] = np.where(v, jitter, np.nan)
            out[:, _COL["shimmer_local_db"]] = np.where(v, shimmer, np.nan)
        return out

    def _local(self, x: np.ndarray, first_centre: int, n: int, pitch: tuple[np.ndarray, ...]) -> np.ndarray:
        """Every descriptor but jitter and shimmer (left NaN) of n frames centred at first_centre +
        i * hop, from their own `_pitch`: each reads only its `local_span` of samples."""
        s = self.settings
        hop = s.hop_length
        out = np.full((n, len(LLD_NAMES)), np.nan)
        # Spectra of the Hann frames, and of the frame before the first for the flux.
        frames = _regular_frames(x, first_centre - hop - s.frame_length // 2, hop, n + 1, s.frame_length)
        power = np.fft.rfft(frames * self._window, n=s.n_fft, axis=1)
        power = power.real**2 + power.imag**2
        self._spectral(power, out)
        period, aperiodicity, rho = pitch
        v = aperiodicity < s.voicing_threshold
        out[:, _COL["voiced"]] = v
        out[:, _COL["periodicity"]] = np.clip(1.0 - aperiodicity, 0.0, 1.0)
        out[v, _COL["f0_semitones"]] = 12 * np.log2(s.sample_rate / period[v] / _SEMITONE_REF)
        rho_v = np.clip(rho[v], 1e-3, 1 - 1e-4)
        out[v, _COL["hnr_db"]] = 10 * np.log10(rho_v / (1 - rho_v))
        if np.any(v):
            out[v, _COL["f1_hz"] : _COL["f3_hz"] + 1] = self._formants(power[1:][v])
        return out

    def _spectral(self, power: np.ndarray, out: np.ndarray) -> None:
        """Loudness, energy, slopes, alpha ratio, Hammarberg, flux and MFCC 1-4 into `out`, from
        the power spectra of the output frames preceded by one more frame."""
        p = power[1:]
        tiny = np.finfo(np.float64).tiny
        peak = p.max(axis=1, keepdims=True)
        # Floors relative to each frame's own peak keep every log-spectral descriptor level-free.
        floor = np.maximum(peak * 1e-10, tiny)
        out[:, _COL["energy_db"]] = 10 * np.log10(p.sum(axis=1) + tiny)
        for (bins, w), name in zip(self._slopes, ("slope_0_500", "slope_500_1500")):
            out[:, _COL[name]] = 10 * np.log10(np.maximum(p[:, bins], floor)) @ w
        low = p[:, self._band_alpha_low].sum(axis=1)
        high = p[:, self._band_alpha_high].sum(axis=1)
        out[:, _COL["alpha_ratio_db"]] = 10 * np.log10((low + floor[:, 0]) / (high + floor[:, 0]))
        low = p[:, self._band_hb_low].max(axis=1)
        high = p[:, self._band_hb_high].max(axis=1)
        out[:, _COL["hammarberg_db"]] = 10 * np.log10(np.maximum(low, floor[:, 0]) / np.maximum(high, floor[:, 0]))
        # Flux between L2-normalised magnitude spectra (0 to 2): frame i against frame i - 1.
        magnitude = np.sqrt(power[:, : self._n_top])
        norm = np.linalg.norm(magnitude, axis=1, keepdims=True)
        magnitude /= np.maximum(norm, tiny)
        out[:, _COL["spectral_flux"]] = np.sum(np.diff(magnitude, axis=0) ** 2, axis=1)
        mel = self._mel(p[:, : self._n_top])
        out[:, _COL["loudness"]] = np.sum(mel**0.3, axis=1)
        mel_floor = np.maximum(mel.max(axis=1, keepdims=True) * 1e-8, tiny)
        log_mel = 10 * np.log10(np.maximum(mel, mel_floor))
        out[:, _COL["mfcc1"] : _COL["mfcc4"] + 1] = log_mel @ self._dct

    def _yin(self, frames: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per frame: YIN period (samples, fractional), its aperiodicity (the cumulative mean
        normalised difference at that period), and the normalised cross-correlation there.

        The difference function is YIN's over the full overlap of the frame with itself shifted by
        the lag (de Cheveigne & Kawahara 2002, eq. 6, with the window shrinking as the lag grows):
        d(k) = sum_{m < N-k} (x[m] - x[m+k])^2, from one FFT autocorrelation and energy sums.
        """
        s = self.settings
        n_frames, length = frames.shape
        lo, hi = s.min_period, s.max_period
        spectrum = np.fft.rfft(frames, n=self._pitch_fft, axis=1)
        acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=self._pitch_fft, axis=1)[:, : hi + 2]
        # Energies of the overlap at lag k: head(k) = sum x[m]^2 for m < N - k, tail(k) for m >= k,
        # from running sums over the first and the last hi + 1 samples only.
        total = np.einsum("ij,ij->i", frames, frames)[:, None]
        zero = np.zeros((n_frames, 1))
        first = np.cumsum(frames[:, : hi + 1] ** 2, axis=1)
        last = np.cumsum(frames[:, : length - hi - 2 : -1] ** 2, axis=1)
        tail = total - np.concatenate([zero, first], axis=1)
        head = total - np.concatenate([zero, last], axis=1)
        diff = head + tail - 2.0 * acf
        diff[:, 0] = 0.0
        np.maximum(diff, 0.0, out=diff)
        tiny = np.finfo(np.float64).tiny
        cumulative = np.cumsum(diff[:, 1 : hi + 1], axis=1) / np.arange(1, hi + 1)
        cmnd = diff[:, lo : hi + 1] / (cumulative[:, lo - 1 : hi] + tiny)
        # The first trough under the threshold, else the deepest (librosa.yin's rule).
        trough = np.zeros(cmnd.shape, dtype=bool)
        trough[:, 1:-1] = (cmnd[:, 1:-1] < cmnd[:, :-2]) & (cmnd[:, 1:-1] <= cmnd[:, 2:])
        trough[:, 0] = cmnd[:, 0] < cmnd[:, 1]
        below = trough & (cmnd < s.trough_threshold)
        idx = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(cmnd, axis=1))
        rows = np.arange(n_frames)
        left = cmnd[rows, np.maximum(idx - 1, 0)]
        centre = cmnd[rows, idx]
        right = cmnd[rows, np.minimum(idx + 1, cmnd.shape[1] - 1)]
        a = right + left - 2 * centre
        b = (right - left) / 2
        inside = (idx > 0) & (idx < cmnd.shape[1] - 1) & (np.abs(b) < np.abs(a))
        shift = np.where(inside, -b / np.where(inside, a, 1.0), 0.0)
        period = lo + idx + shift
        aperiodicity = np.where(inside, centre - b * b / (2 * np.where(inside, a, 1.0)), centre)
        aperiodicity = np.clip(aperiodicity, 0.0, None)
        # Normalised cross-correlation r(k) / sqrt(head(k) tail(k)) near the period, parabolic peak.
        k = lo + idx
        ks = np.stack([np.maximum(k - 1, 1), k, k + 1], axis=1)
        rr = acf[rows[:, None], ks] / np.sqrt(np.maximum(head[rows[:, None], ks] * tail[rows[:, None], ks], 0.0) + tiny)
        curvature = rr[:, 2] + rr[:, 0] - 2 * rr[:, 1]
        peak_shift = np.where(curvature < 0, (rr[:, 0] - rr[:, 2]) / (2 * np.where(curvature < 0, curvature, -1.0)), 0.0)
        rho = rr[:, 1] - 0.25 * (rr[:, 0] - rr[:, 2]) * np.clip(peak_shift, -1, 1)
        return period, aperiodicity, rho

    def _formants(self, power: np.ndarray) -> np.ndarray:
        """F1-F3 (Hz) of voiced frames from the roots of an LPC of the pre-emphasised band below
        max_formant (NaN where fewer than three roots fall in (50, max_formant - 50) Hz)."""
        s = self.settings
        band = power[:, : self._k_top + 1] * self._pre_emphasis
        r = band @ self._lpc_cos
        r[:, 0] *= 1.0 + 1e-9  # a whisker of white noise keeps near-singular frames solvable
        a = _levinson(r, s.lpc_order)
        companion = np.zeros((len(a), s.lpc_order, s.lpc_order))
        companion[:, 0, :] = -a[:, 1:]
        companion[:, self._companion_ones] = 1.0
        # A frame the recursion cannot solve (a pure tone: its prediction error reaches zero and
        # the next reflection divides by it) has no formants, like a frame with too few roots.
        solved = np.all(np.isfinite(companion), axis=(1, 2))
        roots = np.full((len(a), s.lpc_order), np.nan, dtype=complex)
        roots[solved] = np.linalg.eigvals(companion[solved])
        freq = np.angle(roots) * self._lpc_rate / (2 * np.pi)
        with np.errstate(invalid="ignore"):
            freq = np.where((roots.imag > 0) & (freq > 50.0) & (freq < s.max_formant - 50.0), freq, np.inf)
        freq = np.sort(freq, axis=1)[:, :3]
        return np.where(np.isfinite(freq), freq, np.nan)

    def _voice_quality(self, x, c0, n_ext, period, inner) -> tuple[np.ndarray, np.ndarray]:
        """Jitter (local) and shimmer (local, dB) of the output frames, from glottal cycles.

        Cycles are anchored at waveform peaks: a peak that is the largest within +-0.6 local
        periods (the YIN period of its nearest voiced frame). Each cycle's length is then measured
        by waveform matching, as Praat's cross-correlation pulses are: the lag within +-15 % of the
        local period that best correlates the one-period stretch around the anchor with the
        stretch one lag later (normalised cross-correlation, parabolic peak). Peak positions alone
        wander by samples on real speech; the match uses the whole cycle. A cycle counts when the
        next anchor lies 0.7-1.4 local periods away in the same voiced run and the match peaks
        inside the search range. Jitter pairs consecutive cycles whose lengths differ by at most a
        factor 1.3, shimmer consecutive peak-to-peak amplitudes within a factor 1.6 (Praat's
        "maximum period factor" and "maximum amplitude factor"). A frame takes the cycles whose
        anchors fall within +-pulse_window_ms/2 of its centre: jitter = mean |T[i+1] - T[i]| /
        mean T, shimmer = mean |20 log10(A[i+1] / A[i])| of the anchor peaks' heights (which agree
        with Praat better than each cycle's peak-to-peak range).
        """
        s = self.settings
        hop = s.hop_length
        half_window = s.pulse_window_ms / 2000 * s.sample_rate
        centres = c0 + hop * np.arange(inner.start, inner.stop)
        nan = np.full(len(centres), np.nan)
        lo = int(centres[0] - s._pulse_reach)
        hi = int(math.ceil(centres[-1] + s._pulse_reach))
        y = x[lo:hi]
        mid = y[1:-1]
        cand = np.flatnonzero((mid > y[:-2]) & (mid >= y[2:]) & (mid > 0)) + 1
        # The nearest frame, a tie (a peak halfway between two centres) going to the later one:
        # rint's round-half-to-even would send it to either, by the parity of the block's first
        # frame, and a frame's jitter would depend on where its block began.
        frame = np.clip(np.floor((cand + lo - c0) / hop + 0.5).astype(np.intp), 0, n_ext - 1)
        local = period[frame]
        keep = np.isfinite(local)
        cand, frame, local = cand[keep], frame[keep], local[keep]
        if len(cand) < 3:
            return nan, nan.copy()
        value = y[cand]
        left = np.searchsorted(cand, cand - 0.6 * local, side="left")
        right = np.searchsorted(cand, cand + 0.6 * local, side="right")
        anchor = value >= _range_max(value, left, right)
        p, frame, local = cand[anchor], frame[anchor], local[anchor]
        length = np.concatenate([self._match_cycles(y, p[i : i + _SLICE], local[i : i + _SLICE])
                                 for i in range(0, len(p), _SLICE)]) if len(p) else np.empty(0)
        amplitude = y[p]
        voiced = np.isfinite(period)
        run = np.cumsum(np.diff(voiced.astype(np.int8), prepend=0) == 1)  # voiced-run id per frame
        spacing = np.diff(p)
        valid = np.zeros(len(p), dtype=bool)
        valid[:-1] = (run[frame[1:]] == run[frame[:-1]]) & (spacing >= 0.7 * local[:-1]) & (spacing <= 1.4 * local[:-1])
        valid &= np.isfinite(length)
        nxt = valid[:-1] & valid[1:]  # cycle i and the cycle that follows it
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio_t = np.maximum(length[1:], length[:-1]) / np.minimum(length[1:], length[:-1])
            ratio_a = np.maximum(amplitude[1:], amplitude[:-1]) / np.minimum(amplitude[1:], amplitude[:-1])
            pair_t = nxt & (ratio_t <= 1.3)
            pair_a = nxt & (ratio_a <= 1.6)
            delta_t = np.abs(np.diff(length))
            delta_db = np.abs(20 * np.log10(amplitude[1:] / amplitude[:-1]))
        position = p + lo

        def windowed(values: np.ndarray, mask: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            times, values = times[mask], values[mask]
            sums = np.concatenate([[0.0], np.cumsum(values)])
            first = np.searchsorted(times, centres - half_window, side="left")
            last = np.searchsorted(times, centres + half_window, side="right")
            return sums[last] - sums[first], last - first

        t_sum, t_count = windowed(length, valid, position)
        d_sum, d_count = windowed(delta_t, pair_t, position[:-1])
        a_sum, a_count = windowed(delta_db, pair_a, position[:-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            jitter = np.where((d_count > 0) & (t_count > 1), (d_sum / d_count) / (t_sum / t_count), np.nan)
            shimmer = np.where(a_count > 0, a_sum / a_count, np.nan)
        return jitter, shimmer

    def _match_cycles(self, y: np.ndarray, anchors: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Per anchor: the waveform-matched cycle length (samples, NaN where the best match lies on
        the search range's edge). All anchors at once, the correlations by FFT."""
        size = np.rint(local).astype(np.intp)  # template: one local period centred on the anchor
        lag_lo = np.floor(0.85 * local).astype(np.intp)
        lag_hi = np.ceil(1.15 * local).astype(np.intp)
        n_lags = lag_hi - lag_lo + 1
        s_max, l_max = int(size.max()), int(n_lags.max())
        start = anchors - size // 2
        columns = np.arange(s_max + l_max)
        template_index = np.clip(start[:, None] + columns[None, :s_max], 0, len(y) - 1)
        template = np.where(columns[None, :s_max] < size[:, None], y[template_index], 0.0)
        search_index = np.clip((start + lag_lo)[:, None] + columns[None, :], 0, len(y) - 1)
        search = np.where(columns[None, :] < (size + n_lags - 1)[:, None], y[search_index], 0.0)
        n_fft = _fft_size(s_max + l_max + s_max)
        spectrum = np.conj(np.fft.rfft(template, n=n_fft, axis=1)) * np.fft.rfft(search, n=n_fft, axis=1)
        corr = np.fft.irfft(spectrum, n=n_fft, axis=1)[:, :l_max]
        rows = np.arange(len(anchors))
        energy = np.concatenate([np.zeros((len(anchors), 1)), np.cumsum(search**2, axis=1)], axis=1)
        lag_index = np.arange(l_max)[None, :]
        window_end = np.minimum(lag_index + size[:, None], energy.shape[1] - 1)
        window_energy = energy[rows[:, None], window_end] - energy[:, :l_max]
        tiny = np.finfo(np.float64).tiny
        score = corr / np.sqrt(np.sum(template**2, axis=1, keepdims=True) * window_energy + tiny)
        score = np.where(lag_index < n_lags[:, None], score, -np.inf)
        best = np.argmax(score, axis=1)
        interior = (best > 0) & (best < n_lags - 1)
        c_left = score[rows, np.maximum(best - 1, 0)]
        c_mid = score[rows, best]
        c_right = score[rows, np.minimum(best + 1, l_max - 1)]
        curvature = np.where(interior, c_left - 2 * c_mid + c_right, 0.0)  # off the edges: finite
        bends = interior & (curvature < 0)
        shift = np.where(bends, 0.5 * (c_left - c_right) / np.where(bends, curvature, -1.0), 0.0)
        return np.where(interior, lag_lo + best + shift, np.nan)


# --- functionals -------------------------------------------------------------------------------

_PERCENTILE_SET = ("mean", "{spread}", "p20", "p50", "p80", "range_20_80", "rising_slope", "falling_slope")
_SPECTRAL = ("slope_0_500", "slope_500_1500", "alpha_ratio_db", "hammarberg_db", "spectral_flux")
_MFCC = ("mfcc1", "mfcc2", "mfcc3", "mfcc4")


def _names() -> tuple[str, ...]:
    names = [f"loudness_rel_{f.format(spread='cv')}" for f in _PERCENTILE_SET] + ["loudness_peaks_per_s"]
    names += [f"f0_semitones_{f.format(spread='std')}" for f in _PERCENTILE_SET]
    names += ["periodicity_mean", "periodicity_std"]
    names += ["jitter_local_mean", "jitter_local_cv", "shimmer_local_db_mean", "shimmer_local_db_cv"]
    names += ["hnr_db_mean", "hnr_db_std"]
    names += [f"{f}_hz_{stat}" for f in ("f1", "f2", "f3") for stat in ("mean", "cv")]
    names += [f"{d}_{stat}" for d in _SPECTRAL for stat in ("voiced_mean", "voiced_std", "unvoiced_mean")]
    names += [f"{d}_{stat}" for d in _MFCC for stat in ("voiced_mean", "voiced_std", "mean", "std")]
    names += ["voiced_share", "voiced_segment_mean_s", "voiced_segment_std_s", "unvoiced_segment_mean_s", "voiced_onsets_per_s"]
    return tuple(names)


_FUNCTIONAL_NAMES = _names()


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _slopes(values: np.ndarray, defined: np.ndarray, frame_seconds: float) -> tuple[float, float]:
    """Mean slope (per second) of the rising and of the falling pieces of a contour, each piece
    running from one turning point to the next inside a run of defined frames."""
    step = np.diff(values)
    same_run = defined[1:] & defined[:-1]
    direction = np.sign(np.where(same_run, step, 0.0))
    # A piece ends where the direction changes or the run breaks.
    if len(direction) == 0:
        return 0.0, 0.0
    change = np.flatnonzero(np.diff(direction) != 0) + 1  # increasing, inside (0, len(direction))
    bounds = np.concatenate([[0], change, [len(direction)]])
    piece_dir = direction[bounds[:-1]]
    first, last = bounds[:-1], bounds[1:]  # a piece covers steps first..last-1: frames first..last
    slope = (values[last] - values[first]) / ((last - first) * frame_seconds)
    rising = slope[piece_dir > 0]
    falling = slope[piece_dir < 0]
    # sum / size is what ndarray.mean computes, without its overhead on a handful of pieces.
    return (float(rising.sum()) / rising.size if rising.size else 0.0, float(falling.sum()) / falling.size if falling.size else 0.0)


def _moving_average3(values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """Three-frame moving average inside runs of defined frames (the ends average what they have)."""
    v = np.where(defined, values, 0.0)
    w = defined.astype(np.float64)
    total = v.copy()
    count = w.copy()
    total[1:] += v[:-1]
    count[1:] += w[:-1]
    total[:-1] += v[1:]
    count[:-1] += w[1:]
    return np.where(defined, total / np.maximum(count, 1.0), np.nan)


def _median3(values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """Three-frame median inside runs of defined frames (removes single-frame octave jumps)."""
    if len(values) < 3:
        return values
    prev = np.concatenate([[np.nan], values[:-1]])
    nxt = np.concatenate([values[1:], [np.nan]])
    prev = np.where(np.concatenate([[False], defined[:-1]]), prev, values)
    nxt = np.where(np.concatenate([defined[1:], [False]]), nxt, values)
    # The median of three by min and max (np.median's value, NaN wherever one of the three is).
    median = np.maximum(np.minimum(prev, values), np.minimum(np.maximum(prev, values), nxt))
    return np.where(defined, median, np.nan)


def _percentiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """np.percentile's linear interpolation, without its overhead (it dominated the functionals)."""
    ordered = np.sort(values)
    position = np.asarray(qs, dtype=np.float64) / 100 * (len(ordered) - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _moments(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column over its masked rows (0 where it has none)."""
    count = np.maximum(mask.sum(axis=0), 1)
    mean = np.where(mask, values, 0.0).sum(axis=0) / count
    spread = np.sqrt((np.where(mask, values - mean, 0.0) ** 2).sum(axis=0) / count)
    return mean, spread


def _cv(mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return np.where(mean > 0, spread / np.where(mean > 0, mean, 1.0), 0.0)


_VOICED_CV = ("jitter_local", "shimmer_local_db", "f1_hz", "f2_hz", "f3_hz")
_VOICED_STD = ("hnr_db", *_SPECTRAL, *_MFCC)


def _functionals(llds: np.ndarray, s: ParalingSettings) -> np.ndarray:
    frame_s = s.hop_length / s.sample_rate
    duration = len(llds) * frame_s
    col = lambda name: llds[:, _COL[name]]  # noqa: E731
    out: dict[str, float] = {}

    def contour(prefix: str, values: np.ndarray, defined: np.ndarray, spread: str) -> None:
        picked = values[defined]
        if picked.size == 0:
            return  # every functional of the contour stays 0
        mean, std = float(picked.mean()), float(picked.std())
        p20, p50, p80 = _percentiles(picked, (20, 50, 80))
        rising, falling = _slopes(_moving_average3(values, defined), defined, frame_s)
        out.update({
            f"{prefix}_mean": mean,
            f"{prefix}_{spread}": (std / mean if mean > 0 else 0.0) if spread == "cv" else std,
            f"{prefix}_p20": p20, f"{prefix}_p50": p50, f"{prefix}_p80": p80, f"{prefix}_range_20_80": p80 - p20,
            f"{prefix}_rising_slope": rising, f"{prefix}_falling_slope": falling,
        })

    energy = col("energy_db")
    active = energy >= _percentiles(energy, (95,))[0] - s.silence_db
    voiced = (col("voiced") > 0.5) & active & np.isfinite(col("f0_semitones"))
    starts, stops = _runs(voiced)
    for a, b in zip(starts, stops):
        if (b - a) * frame_s * 1000 < s.min_voiced_ms - 1e-9:
            voiced[a:b] = False
    unvoiced = active & ~voiced

    loudness = col("loudness")
    reference = _percentiles(loudness, (95,))[0]
    relative = loudness / reference if reference > 0 else np.zeros_like(loudness)
    everywhere = np.ones(len(llds), dtype=bool)
    contour("loudness_rel", relative, everywhere, "cv")
    smooth = _moving_average3(relative, everywhere)
    inner = smooth[1:-1]
    out["loudness_peaks_per_s"] = np.count_nonzero((inner > smooth[:-2]) & (inner >= smooth[2:]) & (inner >= 0.3)) / duration
    contour("f0_semitones", _median3(col("f0_semitones"), voiced), voiced, "std")

    names = (*_VOICED_CV, *_VOICED_STD)
    values = llds[:, [_COL[n] for n in names]]
    mean, std = _moments(values, voiced[:, None] & np.isfinite(values))
    cv = _cv(mean, std)
    for i, name in enumerate(names):
        if name in _VOICED_CV:
            out[f"{name}_mean"], out[f"{name}_cv"] = mean[i], cv[i]
        elif name == "hnr_db":
            out["hnr_db_mean"], out["hnr_db_std"] = mean[i], std[i]
        else:
            out[f"{name}_voiced_mean"], out[f"{name}_voiced_std"] = mean[i], std[i]
    spectral = llds[:, [_COL[n] for n in _SPECTRAL]]
    mean, _ = _moments(spectral, np.broadcast_to(unvoiced[:, None], spectral.shape))
    out.update({f"{name}_unvoiced_mean": mean[i] for i, name in enumerate(_SPECTRAL)})
    names = ("periodicity", *_MFCC)
    values = llds[:, [_COL[n] for n in names]]
    mean, std = _moments(values, np.broadcast_to(active[:, None], values.shape))
    out.update({f"{name}_mean": mean[i] for i, name in enumerate(names)})
    out.update({f"{name}_std": std[i] for i, name in enumerate(names)})

    starts, stops = _runs(voiced)
    lengths = (stops - starts) * frame_s
    u_starts, u_stops = _runs(~voiced)
    out["voiced_share"] = float(voiced.mean())
    if lengths.size:
        out["voiced_segment_mean_s"], out["voiced_segment_std_s"] = lengths.mean(), lengths.std()
    if u_starts.size:
        out["unvoiced_segment_mean_s"] = ((u_stops - u_starts) * frame_s).mean()
    out["voiced_onsets_per_s"] = np.count_nonzero(starts > 0) / duration
    result = np.array([out.get(name, 0.0) for name in _FUNCTIONAL_NAMES], dtype=np.float64)
    result[~np.isfinite(result)] = 0.0
    return result.astype(np.float32)


def _checked(frontend: ParalinguisticFrontend) -> ParalinguisticFrontend:
    if not isinstance(frontend, ParalinguisticFrontend):
        raise ParalingError(f"expected a ParalinguisticFrontend, got {type(frontend).__name__}")
    return frontend


class ParalinguisticStream:
    """Descriptors of a stream, each frame computed once, and functionals over its recent context.

    `push(samples)` takes the next samples of the stream (any number), computes every frame whose
    `reach` is now complete, and returns how many frames it added. `functionals()` takes the
    functionals over the last `context_seconds` of frames. The stream starts as `llds` does: as if
    preceded by silence. `reset()` starts over (after a gap, or when the voice is gone).
    """

    def __init__(self, frontend: ParalinguisticFrontend):
        self.frontend = _checked(frontend)
        self.reset()

    def reset(self) -> None:
        fe = self.frontend
        m = fe.settings.margin_frames
        self._buffer = np.zeros(fe._pad)  # the silence `llds` pads a signal with
        self._buffer_start = 0  # padded-stream index of self._buffer[0]
        self._next_frame = 0
        # YIN of frames _pitch_start ..: each frame's is computed once, though the jitter of the
        # frames up to margin_frames away needs it (a block of frames would recompute its margins).
        self._pitch_start = -m
        self._pitch = tuple(np.empty(0) for _ in range(3))
        self._context = np.empty((0, len(LLD_NAMES)), dtype=np.float32)

    @property
    def frames_seen(self) -> int:
        return self._next_frame

    @property
    def context(self) -> np.ndarray:
        """The LLD rows of the current context (read-only view)."""
        view = self._context.view()
        view.flags.writeable = False
        return view

    def push(self, samples: np.ndarray) -> int:
        fe = self.frontend
        s = fe.settings
        samples = np.asarray(samples)
        if samples.ndim == 1 and samples.size == 0:
            return 0  # a capture callback may deliver nothing
        x = fe.check_signal(samples)
        self._buffer = np.concatenate([self._buffer, x])
        hop, reach, m = s.hop_length, s.reach, s.margin_frames
        end = self._buffer_start + len(self._buffer)  # padded-stream index one past the last sample
        centre_of = lambda frame: fe._pad + frame * hop - self._buffer_start  # noqa: E731  (in the buffer)
        # YIN of every frame whose pitch frame is complete.
        first_new = self._pitch_start + len(self._pitch[0])
        last_pitch = (end - fe._pad - (s.pitch_frame_length - s.pitch_frame_length // 2)) // hop
        if last_pitch >= first_new:
            fresh = fe._pitch(self._buffer, centre_of(first_new), last_pitch - first_new + 1)
            self._pitch = tuple(np.concatenate([old, new]) for old, new in zip(self._pitch, fresh))
        last = (end - reach - fe._pad) // hop  # the last frame whose reach is complete
        count = last - self._next_frame + 1
        if count <= 0:
            return 0
        around = slice(self._next_frame - m - self._pitch_start, last + m + 1 - self._pitch_start)
        pitch = tuple(a[around] for a in self._pitch)
        rows = fe._analyze(self._buffer, centre_of(self._next_frame), count, pitch).astype(np.float32)
        self._next_frame += count
        self._context = np.concatenate([self._context, rows])[-s.context_frames :]
        drop = self._next_frame - m - self._pitch_start
        self._pitch = tuple(a[drop:] for a in self._pitch)
        self._pitch_start += drop
        keep_from = centre_of(self._next_frame) - reach
        self._buffer = self._buffer[keep_from:]
        self._buffer_start += keep_from
        return count

    def functionals(self) -> np.ndarray:
        if len(self._context) == 0:
            raise ParalingError("the stream has no complete frame yet: push more samples first")
        return self.frontend.functionals_of(self._context)


class ParalinguisticWindows:
    """Functionals of the successive windows of one stream, each as `functionals(window)` gives it
    (up to float rounding), with every interior frame's descriptors computed once.

    A frame whose `reach` lies inside its window never sees the silence a window is padded with, so
    it has the same descriptors in every window that holds it. Call with each window and the stream
    position of its first sample: when windows start on multiples of the hop, a window reuses the
    interior frames of the one before and analyses only its left edge, its new frames and its
    right edge (about a third of its frames at a 0.5 s hop over 2 s). Any other start computes the
    window whole. Its cache is its own: one per stream.

    The edges' own parts are kept too. A frame whose `local_span` lies inside a window has the
    same YIN and the same descriptors other than jitter and shimmer wherever it is: a frame store
    keeps them by stream frame, so the edges and the YIN margins around them compute only the
    frames near the padding and the window's new frames (about 40 % fewer YIN frames and 30 %
    fewer spectra at a 0.5 s hop over 2 s).
    """

    def __init__(self, frontend: ParalinguisticFrontend):
        self.frontend = _checked(frontend)
        self.reset()

    def reset(self) -> None:
        """Forget the cached frames (after a gap or a jump in the stream)."""
        self._first = -1  # stream frame index of self._interior[0]
        self._interior = np.empty((0, len(LLD_NAMES)), dtype=np.float32)
        self._store = _FrameStore()

    def __call__(self, window: np.ndarray, start: int) -> np.ndarray:
        return self.frontend.functionals_of(self._rows(window, start))

    def prime(self, window: np.ndarray, start: int) -> None:
        """Analyse a window's frames without taking its functionals: a window the caller does not
        need (no voice in it yet) keeps the cache warm, so that the next one costs a third."""
        self._rows(window, start)

    def _rows(self, window: np.ndarray, start: int) -> np.ndarray:
        fe = self.frontend
        s = fe.settings
        hop, reach, m = s.hop_length, s.reach, s.margin_frames
        x = fe.check_signal(window)
        n = 1 + len(x) // hop
        lo, hi = -(-reach // hop), (len(x) - 1 - reach) // hop  # the window's interior frames
        if start < 0 or start % hop or lo > hi:
            self.reset()
            return fe.llds(x)
        base = start // hop
        offset = base + lo - self._first
        if self._first >= 0 and 0 <= offset < len(self._interior):
            reused = self._interior[offset : offset + hi - lo + 1]
        else:
            reused = self._interior[:0]
        padded = np.zeros(fe._pad + len(x) + fe._pad + hop)  # as `llds` pads a signal
        padded[fe._pad : fe._pad + len(x)] = x
        before, after = s.local_span
        # Window frames whose own parts do not see the padding: those a store may keep.
        self._store.move_to(base - m, n + 2 * m, base - (-before // hop), base + (len(x) - after) // hop + 1)
        rows = np.empty((n, len(LLD_NAMES)), dtype=np.float32)
        first_new = lo + len(reused) if len(reused) else 0
        if len(reused):
            rows[:lo] = self._block(padded, base, 0, lo)
            rows[lo : lo + len(reused)] = reused
        rows[first_new:] = self._block(padded, base, first_new, n)
        self._interior, self._first = rows[lo : hi + 1].copy(), base + lo
        return rows

    def _block(self, padded: np.ndarray, base: int, a: int, b: int) -> np.ndarray:
        """The descriptors of window frames a .. b - 1, their own parts from the store where it has
        them (and kept there when computed)."""
        fe, store = self.frontend, self._store
        hop, m = fe.settings.hop_length, fe.settings.margin_frames

        def centre(frame: int) -> int:  # stream frame -> its centre in `padded`
            return fe._pad + (frame - base) * hop

        def yin(frame: int, count: int) -> np.ndarray:
            return np.stack(fe._pitch(padded, centre(frame), count), axis=1)

        pitch = store.take(store.pitch, base + a - m, base + b + m, yin)  # the block and its margins

        def own_parts(frame: int, count: int) -> np.ndarray:
            at = frame - (base + a - m)  # the frame's row in `pitch`
            return fe._local(padded, centre(frame), count, tuple(pitch[at : at + count].T))

        local = store.take(store.local, base + a, base + b, own_parts)
        return fe._analyze(padded, centre(base + a), b - a, tuple(pitch.T), local)


class _FrameStore:
    """Per stream frame, over the span of frames the current window can ask for: YIN's (period,
    aperiodicity, rho) and the `_local` row of the frames a window computed away from its padding."""

    def __init__(self) -> None:
        self.first = 0  # stream frame index of row 0
        self.pitch = _FrameTable(3)
        self.local = _FrameTable(len(LLD_NAMES))
        self.valid = (0, 0)

    def move_to(self, first: int, size: int, valid_from: int, valid_to: int) -> None:
        """Cover stream frames first .. first + size - 1, keeping what overlaps; frames
        valid_from .. valid_to - 1 are the ones the current window may store."""
        for table in (self.pitch, self.local):
            table.move(first - self.first, size)
        self.first, self.valid = first, (valid_from, valid_to)

    def take(self, table: _FrameTable, i0: int, i1: int, compute) -> np.ndarray:
        """Rows of stream frames i0 .. i1 - 1: known ones from the table, the others from
        `compute(first_frame, count)` run by run, and stored where the window may store them.
        A frame near the window's padding is computed even when known: there it sees the zeros."""
        at = slice(i0 - self.first, i1 - self.first)
        out = table.values[at].copy()
        frames = np.arange(i0, i1)
        missing = ~table.known[at] | (frames < self.valid[0]) | (frames >= self.valid[1])
        edges = np.flatnonzero(np.diff(np.concatenate([[False], missing, [False]]).astype(np.int8)))
        for r0, r1 in zip(edges[::2], edges[1::2]):
            out[r0:r1] = compute(i0 + r0, r1 - r0)
        lo, hi = max(i0, self.valid[0]), min(i1, self.valid[1])
        if lo < hi:
            table.values[lo - self.first : hi - self.first] = out[lo - i0 : hi - i0]
            table.known[lo - self.first : hi - self.first] = True
        return out


class _FrameTable:
    """Rows of one quantity per frame, and which of them are known."""

    def __init__(self, width: int) -> None:
        self.values = np.full((0, width), np.nan)
        self.known = np.zeros(0, dtype=bool)

    def move(self, shift: int, size: int) -> None:
        """Re-base by `shift` frames to `size` rows, keeping the rows that still fall inside."""
        values = np.full((size, self.values.shape[1]), np.nan)
        known = np.zeros(size, dtype=bool)
        src, dst = max(shift, 0), max(-shift, 0)
        count = max(0, min(len(self.known) - src, size - dst))
        values[dst : dst + count] = self.values[src : src + count]
        known[dst : dst + count] = self.known[src : src + count]
        self.values, self.known = values, known
