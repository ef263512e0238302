"""The one function that featurizes a window, for training and for the device alike.

A window is `spec.window_samples` samples of audio (50 centred frames by default). From it the
frontend computes one of six model inputs:

- "stats":    the classic models' vector: MFCC means, leading mel-band means, Burg LPC
              coefficients (without the leading 1), mean RMS, mean zero-crossing rate;
- "image":    the 2D CNN's (2, n, frames) stack: MFCCs over log-mel bands of a coarser filterbank;
- "sequence": the CNN-BiLSTM's (frames, 2n) rows: the same MFCCs and log-mel bands per frame;
- "paraling": paralinguistic functionals of the window (`tonecue.edge.paraling`: pitch, voice
              quality, formants, spectral shape, loudness contour), level-invariant by
              construction; meant for windows of about 2 s (`FrontendSpec(window_frames=...)`).
- "paraling-mfcc": the paraling vector, then eight functionals over time (`FRAME_FUNCTIONALS`) of
              each column of the window's sequence: its MFCCs and coarse log-mel bands. The
              paralinguistic descriptors miss the spectral envelope's detail over time, which is
              where the wider input's gain lies (benchmarks/results/window-model-study.md).
- "paraling-mfcc-upper": the paraling-mfcc vector, then six functionals of the upper half of each
              log-mel band's frames (`UPPER_FUNCTIONALS`): the part of the envelope that
              background noise does not fill in.

Every number matches the librosa call it replaces (see dsp.py and the parity tests). Successive
windows of one stream share most of their frames; `StreamingFeaturizer` computes each shared frame's
spectrum once, which is where most of the time goes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from . import dsp
from .paraling import ParalingSettings, ParalinguisticFrontend, ParalinguisticWindows
from .spec import DEFAULT_HOP_FRAMES, FrontendSpec, SpecError


@dataclass(frozen=True)
class InputKind:
    """What the rest of tonecue needs to know of one model input."""

    name: str
    #: One vector per window: what the classic models read and what speaker normalization standardizes.
    vector: bool
    #: Holds the paralinguistic functionals: a contract states their settings.
    paraling: bool
    #: Ends in functionals over the window's sequence rows (it streams a sequence featurizer).
    over_frames: bool = False
    #: Also the upper-half functionals of each log-mel band (`UPPER_FUNCTIONALS`).
    upper: bool = False


#: The registry of the model inputs, in their order of introduction (see the module docstring).
INPUTS = {
    kind.name: kind
    for kind in (
        InputKind("stats", vector=True, paraling=False),
        InputKind("image", vector=False, paraling=False),
        InputKind("sequence", vector=False, paraling=False),
        InputKind("paraling", vector=True, paraling=True),
        InputKind("paraling-mfcc", vector=True, paraling=True, over_frames=True),
        InputKind("paraling-mfcc-upper", vector=True, paraling=True, over_frames=True, upper=True),
    )
}
KINDS = tuple(INPUTS)
VECTOR_KINDS = tuple(name for name, kind in INPUTS.items() if kind.vector)
PARALING_KINDS = tuple(name for name, kind in INPUTS.items() if kind.paraling)

#: What "paraling-mfcc" takes of each sequence column over the window's frames, in order.
FRAME_FUNCTIONALS = ("mean", "std", "p20", "p50", "p80", "p20_p80_range", "slope", "mean_abs_delta")


#: What "paraling-mfcc-upper" adds for each log-mel band, from its upper half: the frames at or
#: above the band's median over the window. Background noise fills a band's quiet frames and
#: moves its mean, p20 and p50 by more than a standard deviation at 10 dB SNR; the loud half of
#: speech rises above it (benchmarks/results/noise-study.md).
UPPER_FUNCTIONALS = ("upper_mean", "upper_std", "p95", "p50_p95_range", "p80_p95_range", "upper_mean_abs_delta")


def _percentiles_of_sorted(ordered: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """np.percentile(x, qs, axis=0) to the bit (its linear method, its interpolation) from x
    sorted along axis 0: one sort serves every percentile and the median of a column, where each
    np.percentile and np.median call partitions again (three quarters of these functionals' time)."""
    virtual = (len(ordered) - 1) * (np.asarray(qs, dtype=np.float64) / 100)
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, len(ordered) - 1)
    t = (virtual - below)[:, None]
    a, b = ordered[below], ordered[above]
    diff = b - a
    return _nan_last(ordered, np.where(t >= 0.5, b - diff * (1 - t), a + diff * t))


def _nan_last(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """NaN in the columns that hold one (np.sort puts it last), as numpy's percentiles give."""
    return np.where(np.isnan(ordered[-1]), np.nan, values)


def upper_functionals(frames: np.ndarray) -> np.ndarray:
    """(frames, k) rows -> (6k,) values: every functional of UPPER_FUNCTIONALS of each column,
    functional by functional. upper_mean_abs_delta: the mean absolute difference of successive
    frames that are both in the upper half (0 where no two are). Computed in float64."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"upper functionals need (frames >= 2, columns) rows, got shape {x.shape}")
    ordered = np.sort(x, axis=0)
    p50, p80, p95 = _percentiles_of_sorted(ordered, (50, 80, 95))
    n = len(ordered)
    upper = x >= _nan_last(ordered, ordered[(n - 1) // 2 : n // 2 + 1].mean(axis=0))  # np.median's
    count = upper.sum(axis=0)  # at least one: the largest value is never below the median
    mean = np.where(upper, x, 0.0).sum(axis=0) / count
    std = np.sqrt(np.where(upper, (x - mean) ** 2, 0.0).sum(axis=0) / count)
    pairs = upper[1:] & upper[:-1]
    delta = np.where(pairs, np.abs(np.diff(x, axis=0)), 0.0).sum(axis=0) / np.maximum(pairs.sum(axis=0), 1)
    return np.concatenate([mean, std, p95, p95 - p50, p95 - p80, delta])


def frame_functionals(frames: np.ndarray) -> np.ndarray:
    """(frames, k) rows -> (8k,) values: every functional of FRAME_FUNCTIONALS of each column,
    functional by functional. slope: least-squares change per frame; mean_abs_delta: mean absolute
    difference of successive frames (how fast the column moves). Computed in float64."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"frame functionals need (frames >= 2, columns) rows, got shape {x.shape}")
    t = np.arange(x.shape[0]) - (x.shape[0] - 1) / 2
    p20, p50, p80 = _percentiles_of_sorted(np.sort(x, axis=0), (20, 50, 80))
    return np.concatenate([
        x.mean(axis=0), x.std(axis=0), p20, p50, p80, p80 - p20,
        t @ x / (t @ t), np.abs(np.diff(x, axis=0)).mean(axis=0),
    ])


def paraling_settings(spec: FrontendSpec) -> ParalingSettings:
    """The paralinguistic settings behind a spec's "paraling" input: the spec's rate, the window
    as the context, and frames every half spec hop, so that windows a whole number of spec hops
    apart share their frames (and a stream computes each once)."""
    return ParalingSettings(
        sample_rate=spec.sample_rate,
        hop_ms=spec.hop_length / 2 * 1000 / spec.sample_rate,
        context_seconds=spec.window_seconds,
    )


@lru_cache(maxsize=8)
def _paraling_frontend(spec: FrontendSpec) -> ParalinguisticFrontend:
    return ParalinguisticFrontend(paraling_settings(spec))


class _Matrices:
    """What a spec's frontend builds once: filterbank products and the DCT, all read-only, so one
    set is shared by every Frontend and thread of the process."""

    def __init__(self, spec: FrontendSpec):
        name = np.dtype(spec.dtype).name
        mel = dsp.mel_filterbank(spec.sample_rate, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax, name)
        banks = [mel]
        if spec.image_n_mels:
            banks.append(
                dsp.mel_filterbank(spec.sample_rate, spec.n_fft, spec.image_n_mels, spec.fmin, spec.fmax, name)
            )
        # Per kind, one product yields its band powers: columns [:n_mels] for the MFCCs and mel
        # means, and for the image and sequence also [n_mels:], the coarse log-mel bands.
        both = dsp.FilterbankProduct(np.vstack(banks))
        self.banks = {"stats": dsp.FilterbankProduct(mel), "image": both, "sequence": both}
        for product in (self.banks["stats"], both):
            for _bins, _bands, block in product.blocks:
                block.flags.writeable = False
        self.dct_t = np.ascontiguousarray(dsp.dct_matrix(max(spec.n_mfcc, spec.image_n_mfcc), spec.n_mels, name).T)
        self.dct_t.flags.writeable = False


def _gain_to(window: np.ndarray, level_dbfs: float) -> float:
    """The factor that brings the window's RMS to `level_dbfs` (1.0 for digital silence)."""
    x = np.asarray(window, dtype=np.float64)
    rms = float(np.sqrt(np.dot(x, x) / max(x.size, 1)))
    return 10.0 ** (level_dbfs / 20.0) / rms if rms > 1e-9 else 1.0


@lru_cache(maxsize=8)
def _matrices(spec: FrontendSpec) -> _Matrices:
    return _Matrices(spec)


class _Workspace:
    """Scratch for one window's band powers: the centred window, its frames and the power
    spectrum's buffers. Reused call after call: fresh megabytes per window (or per clip) cost
    more than the FFT, in page faults. Nothing in it outlives a call, so one thread's frontends
    and featurizers share one; threads never do (see `_workspace`)."""

    def __init__(self, spec: FrontendSpec, dtype: np.dtype):
        self._half = spec.n_fft // 2
        self._padded = np.zeros(spec.window_samples + 2 * self._half, dtype=dtype)
        self._frames = np.lib.stride_tricks.as_strided(
            self._padded,
            shape=(spec.window_frames, spec.n_fft),
            strides=(self._padded.strides[0] * spec.hop_length, self._padded.strides[0]),
            writeable=False,
        )
        self._power_spectrum = dsp.PowerSpectrum(spec.n_fft, spec.window_frames, dtype.name)

    def band_powers(self, window: np.ndarray, frame_indices: np.ndarray, bank: dsp.FilterbankProduct) -> np.ndarray:
        """Band powers of the chosen frames of `window` (a new array, not scratch)."""
        self._padded[self._half : self._half + len(window)] = window
        return bank(self._power_spectrum(self._frames[frame_indices]))


_scratch = threading.local()
_SCRATCH_SPECS = 8  # workspaces a thread keeps, one per spec, the oldest dropped first


def _workspace(spec: FrontendSpec) -> _Workspace:
    """This thread's scratch for `spec`."""
    spaces = getattr(_scratch, "spaces", None)
    if spaces is None:
        spaces = _scratch.spaces = {}
    workspace = spaces.get(spec)
    if workspace is None:
        if len(spaces) >= _SCRATCH_SPECS:
            spaces.pop(next(iter(spaces)))
        workspace = spaces[spec] = _Workspace(spec, np.dtype(spec.dtype))
    return workspace


class Frontend:
    """A spec's frontend. Its matrices are built once per spec and shared by every thread; the
    scratch it computes in belongs to the calling thread, so a Frontend may be shared between
    threads."""

    def __init__(self, spec: FrontendSpec):
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.n_frames = spec.window_frames
        self._all_frames = np.arange(self.n_frames)
        self._all_frames.flags.writeable = False
        half = spec.n_fft // 2
        # Frames whose samples all lie inside the window: they do not see the centring pad, so a
        # frame at the same stream position has the same spectrum in every window containing it.
        self.first_interior = -(-half // spec.hop_length)
        self.last_interior = (spec.window_samples - (spec.n_fft - half)) // spec.hop_length

    # --- the model inputs ----------------------------------------------------------------

    def features(self, window: np.ndarray, kind: str) -> np.ndarray:
        """The model input of `kind` for one window (see the module docstring)."""
        window = self.check_window(window)
        self.output_shape(kind)  # validates kind
        if kind == "paraling":
            return self.paraling.functionals(window)
        if INPUTS[kind].over_frames:
            return self.over_frames(kind, self.paraling.functionals(window), self.features(window, "sequence"))
        bands = _workspace(self.spec).band_powers(window, self._all_frames, self._banks[kind])
        return self._from_bands(window, bands, kind)

    def over_frames(self, kind: str, paraling: np.ndarray, sequence: np.ndarray) -> np.ndarray:
        """The vector of an input that ends in functionals over frames ("paraling-mfcc",
        "paraling-mfcc-upper") from the window's paraling vector and its sequence."""
        parts = [paraling, frame_functionals(sequence)]
        if INPUTS[kind].upper:
            parts.append(upper_functionals(sequence[:, self.spec.image_n_mfcc :]))  # the log-mel bands
        return np.concatenate(parts).astype(self.dtype, copy=False)

    def stats(self, window: np.ndarray) -> np.ndarray:
        return self.features(window, "stats")

    def image(self, window: np.ndarray) -> np.ndarray:
        return self.features(window, "image")

    def sequence(self, window: np.ndarray) -> np.ndarray:
        return self.features(window, "sequence")

    # The filterbanks and the DCT are built on first use: a paralinguistic model never needs them.
    @cached_property
    def _banks(self):
        return _matrices(self.spec).banks

    @cached_property
    def _dct_t(self) -> np.ndarray:
        return _matrices(self.spec).dct_t

    @property
    def paraling(self) -> ParalinguisticFrontend:
        """The paralinguistic frontend of this spec (built on first use; a SpecError if the spec's
        rate cannot give its descriptors)."""
        try:
            return _paraling_frontend(self.spec)
        except ValueError as exc:
            raise SpecError(f"this spec cannot make the paraling input: {exc}") from None

    def output_shape(self, kind: str) -> tuple[int, ...]:
        spec = self.spec
        if kind == "stats":
            return (spec.stats_size,)
        if kind == "image":
            return spec.image_shape
        if kind == "sequence":
            return spec.sequence_shape
        if kind == "paraling":
            return (self.paraling.n_features,)
        if kind in INPUTS and INPUTS[kind].over_frames:
            if spec.window_frames < 2:
                raise SpecError(
                    f"the {kind} input takes functionals over frames: a window needs at least 2, not {spec.window_frames}"
                )
            upper = len(UPPER_FUNCTIONALS) * spec.image_n_mels if INPUTS[kind].upper else 0
            return (self.paraling.n_features + len(FRAME_FUNCTIONALS) * spec.sequence_shape[1] + upper,)
        raise ValueError(f"unknown input kind {kind!r}; expected one of {KINDS}")

    def feature_names(self, kind: str) -> list[str]:
        """Names of a vector input's entries, in order (what feature selection and reports name)."""
        if kind == "stats":
            return self.spec.stats_feature_names()
        if kind == "paraling":
            return self.paraling.feature_names()
        if kind in INPUTS and INPUTS[kind].over_frames:
            spec = self.spec
            mels = [f"logmel_{i}" for i in range(spec.image_n_mels)]
            columns = [f"mfcc_{i}" for i in range(spec.image_n_mfcc)] + mels
            upper = [f"{c}_{f}" for f in UPPER_FUNCTIONALS for c in mels] if INPUTS[kind].upper else []
            return self.paraling.feature_names() + [f"{c}_{f}" for f in FRAME_FUNCTIONALS for c in columns] + upper
        raise ValueError(f"only the vector inputs {VECTOR_KINDS} have named entries, not {kind!r}")

    # --- internals -----------------------------------------------------------------------------

    def check_window(self, window: np.ndarray) -> np.ndarray:
        window = np.asarray(window)
        if window.shape != (self.spec.window_samples,):
            raise ValueError(
                f"a window must be {self.spec.window_samples} mono samples "
                f"({self.spec.window_seconds:.3f} s at {self.spec.sample_rate} Hz), got shape {window.shape}"
            )
        return window.astype(self.dtype, copy=False)

    def _from_bands(self, window: np.ndarray, bands: np.ndarray, kind: str) -> np.ndarray:
        spec = self.spec
        if spec.level_dbfs is not None:
            # Scaling the window by g scales every band power by g**2: applied here, after the
            # spectra, so that frames shared with the previous window are reused unchanged.
            gain = _gain_to(window, spec.level_dbfs)
            bands = bands * np.asarray(gain * gain, dtype=bands.dtype)
            window = window * np.asarray(gain, dtype=window.dtype)
        mel = bands[:, : spec.n_mels]
        log_mel = dsp.power_to_db(mel, amin=spec.amin, top_db=spec.top_db)
        if kind == "stats":
            # The mean of MFCCs is the DCT of the mean log-mel: one vector product, not a matmul.
            mfcc_means = log_mel.mean(axis=0) @ self._dct_t[:, : spec.n_mfcc]
            hop, n_fft = spec.hop_length, spec.n_fft
            return np.concatenate(
                [
                    mfcc_means,
                    mel[:, : spec.n_stats_mels].mean(axis=0),
                    dsp.lpc(window, spec.lpc_order)[1:],
                    [dsp.rms(window, n_fft, hop).mean(), dsp.zero_crossing_rate(window, n_fft, hop).mean()],
                ]
            ).astype(self.dtype, copy=False)
        n = spec.image_n_mfcc
        mfcc = log_mel @ self._dct_t[:, :n]
        coarse_db = dsp.power_to_db(bands[:, spec.n_mels :], amin=spec.amin, top_db=spec.top_db)
        if kind == "image":
            spec.image_shape  # raises a clear SpecError if the two channels differ in size
            return np.stack([mfcc.T, coarse_db.T])
        if kind == "sequence":
            return np.concatenate([mfcc, coarse_db], axis=1)
        raise ValueError(f"unknown input kind {kind!r}; expected one of {KINDS}")


def frontend_for(spec: FrontendSpec) -> Frontend:
    """A frontend of a spec: its matrices are built once per spec (specs are frozen and
    hashable) and shared, so this is cheap."""
    return Frontend(spec)


class StreamingFeaturizer:
    """Featurizes successive windows of one stream, computing each shared frame only once.

    Call it with each window and the stream position of its first sample. Windows that start on
    multiples of the hop length reuse the interior frames the previous window already computed;
    any other position simply computes everything. The result is the same as `Frontend.features`
    on the window alone (up to float rounding of the matrix product).

    Its frame cache is its own and it computes in the calling thread's scratch, so featurizers
    of one Frontend may run in different threads (one stream's windows come in order, from one
    thread at a time).
    """

    def __init__(self, frontend: Frontend, kind: str):
        frontend.output_shape(kind)  # validates kind
        self.frontend = frontend
        self.kind = kind
        # The paralinguistic descriptors keep their own frame cache (same rule: interior frames).
        self._paraling = ParalinguisticWindows(frontend.paraling) if kind in PARALING_KINDS else None
        # The inputs over frames stream their sequence part too, through a featurizer of its own.
        self._sequence = StreamingFeaturizer(frontend, "sequence") if INPUTS[kind].over_frames else None
        self._bank = None if self._paraling else frontend._banks[kind]
        self.reset()

    def reset(self) -> None:
        """Forget cached frames (after a gap or a jump in the stream)."""
        if self._sequence is not None:
            self._sequence.reset()
        if self._paraling is not None:
            self._paraling.reset()
            return
        self._cache_start = -1  # stream frame index of the first cached interior frame
        self._cache = np.empty((0, self._bank.n_bands), dtype=self.frontend.dtype)

    def prime(self, window: np.ndarray, start: int) -> None:
        """Take in a window whose features are not needed (no voice in it), so that the next
        window of the stream reuses its frames: the paralinguistic input's full window costs three
        times a streamed one. The other inputs are cheap enough without it."""
        if self._paraling is not None:
            self._paraling.prime(self.frontend.check_window(window), start)

    def __call__(self, window: np.ndarray, start: int) -> np.ndarray:
        fe = self.frontend
        window = fe.check_window(window)
        if self._sequence is not None:
            return fe.over_frames(self.kind, self._paraling(window, start), self._sequence(window, start))
        if self._paraling is not None:
            return self._paraling(window, start)
        hop = fe.spec.hop_length
        first, last = fe.first_interior, fe.last_interior
        if start % hop or start < 0 or first > last:
            self.reset()
            bands = _workspace(fe.spec).band_powers(window, fe._all_frames, self._bank)
            return fe._from_bands(window, bands, self.kind)

        base = start // hop  # stream frame index of the window's frame 0
        offset = base + first - self._cache_start  # this window's first interior frame in the cache
        if self._cache_start >= 0 and 0 <= offset < len(self._cache):
            reused = self._cache[offset : offset + last - first + 1]
        else:
            reused = self._cache[:0]
        first_new = first + len(reused)
        computed = np.concatenate(
            [np.arange(0, first), np.arange(first_new, last + 1), np.arange(last + 1, fe.n_frames)]
        )
        fresh = _workspace(fe.spec).band_powers(window, computed, self._bank)
        n_left, n_new = first, last + 1 - first_new
        interior = np.concatenate([reused, fresh[n_left : n_left + n_new]])
        bands = np.concatenate([fresh[:n_left], interior, fresh[n_left + n_new :]])
        self._cache, self._cache_start = interior, base + first
        return fe._from_bands(window, bands, self.kind)




def window_starts(n_samples: int, spec: FrontendSpec, hop_frames: int) -> list[int]:
    """Start positions of the windows cut from a clip, `hop_frames` frames apart.

    A clip shorter than one window gives one window (zero-padded by `clip_windows`); the tail
    after the last whole window is left out.
    """
    if hop_frames < 1:
        raise ValueError(f"hop_frames must be at least 1, got {hop_frames}")
    hop = hop_frames * spec.hop_length
    return list(range(0, max(n_samples - spec.window_samples, 0) + 1, hop))


def clip_windows(signal: np.ndarray, spec: FrontendSpec, hop_frames: int) -> tuple[list[int], list[np.ndarray]]:
    """The clip's windows (views; a short clip is zero-padded to one window) and their starts."""
    signal = np.asarray(signal)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"expected a non-empty mono signal, got shape {signal.shape}")
    if len(signal) < spec.window_samples:
        signal = np.pad(signal, (0, spec.window_samples - len(signal)))
    starts = window_starts(len(signal), spec, hop_frames)
    return starts, [signal[s : s + spec.window_samples] for s in starts]


def featurize_clip(
    signal: np.ndarray,
    spec: FrontendSpec | None = None,
    kind: str = "stats",
    hop_frames: int = DEFAULT_HOP_FRAMES,
) -> np.ndarray:
    """Model inputs of every window of a clip, shape (n_windows, *input_shape).

    signal: mono samples at `spec.sample_rate` (`load_audio(path)` reads at the default 22,050 Hz).
    spec: the frontend settings (default: the seed's, `FrontendSpec()`). kind: "stats", "image",
    "sequence", "paraling", "paraling-mfcc" or "paraling-mfcc-upper". hop_frames: frames between window starts (default 22,
    about 0.51 s).
    """
    spec = FrontendSpec() if spec is None else spec
    featurizer = StreamingFeaturizer(frontend_for(spec), kind)
    starts, windows = clip_windows(signal, spec, hop_frames)
    return np.stack([featurizer(w, s) for s, w in zip(starts, windows)])
