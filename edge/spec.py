"""The frontend's settings, frozen, validated and serialisable.

A spec travels inside every exported ONNX file, so the device builds exactly the frontend a model
was trained with. Defaults are the seed's: 22,050 Hz, n_fft 2048, hop 512, 50-frame windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .settings import VersionedSettings
from .errors import TonecueError

FORMAT_VERSION = 1

#: Windows start this many frames apart, in training and on the device: 22 x 512 samples at
#: 22,050 Hz is 0.51 s, so that successive 50-frame windows share more than half their frames.
DEFAULT_HOP_FRAMES = 22

_DTYPES = ("float32", "float64")


class SpecError(TonecueError, ValueError):
    """A frontend spec that is inconsistent or cannot be honoured."""


@dataclass(frozen=True)
class FrontendSpec(VersionedSettings):
    """Every setting of the feature frontend.

    sample_rate: audio rate the features are computed at (Hz).
    n_fft: FFT size and frame length (samples); frames are Hann-windowed and centred.
    hop_length: samples between frame centres.
    window_frames: frames per model window (the seed's 50, about 1.16 s at the defaults).
    n_mels: mel bands of the filterbank behind the MFCCs and the statistics' mel means.
    n_mfcc: MFCCs averaged in the statistics vector.
    n_stats_mels: leading mel bands averaged in the statistics vector.
    lpc_order: order of the Burg LPC in the statistics vector.
    image_n_mfcc: MFCC rows of the 2D CNN image (and of the sequence).
    image_n_mels: bands of the second, coarser filterbank for the image's log-mel rows.
    fmin, fmax: filterbank edges in Hz (fmax None: Nyquist).
    top_db: dynamic range kept by power_to_db, relative to the window's peak.
    amin: floor applied to power before the logarithm.
    dtype: "float32" (the device default) or "float64" (bit-for-bit study against librosa).
    level_dbfs: None (the seed: features as recorded) or a level in dBFS: each window is scaled to
        this RMS before its features are taken, so that no feature carries the recording level.
        Level is a hidden corpus label (studios record at -40 or -16 dBFS RMS) and a wearer's
        distance to a voice; emotion lives in how the level moves, not in its absolute value.
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    window_frames: int = 50
    n_mels: int = 128
    n_mfcc: int = 50
    n_stats_mels: int = 50
    lpc_order: int = 12
    image_n_mfcc: int = 20
    image_n_mels: int = 20
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = 80.0
    amin: float = 1e-10
    dtype: str = "float32"
    level_dbfs: float | None = None

    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    DESCRIPTION: ClassVar[str] = "frontend spec"
    ERROR: ClassVar[type[ValueError]] = SpecError

    def __post_init__(self) -> None:
        problems = []
        for name in ("sample_rate", "n_fft", "hop_length", "window_frames", "n_mels", "lpc_order"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        for name in ("n_mfcc", "n_stats_mels", "image_n_mfcc", "image_n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"{name} must be a non-negative integer, got {value!r}")
        if problems:
            raise SpecError("; ".join(problems))
        if self.n_mfcc > self.n_mels:
            problems.append(f"n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.image_n_mfcc > self.n_mels:
            problems.append(f"image_n_mfcc ({self.image_n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.n_stats_mels > self.n_mels:
            problems.append(f"n_stats_mels ({self.n_stats_mels}) cannot exceed n_mels ({self.n_mels})")
        if self.hop_length > self.n_fft:
            problems.append(f"hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})")
        nyquist = self.sample_rate / 2
        fmax = self.effective_fmax
        if not (0 <= self.fmin < fmax <= nyquist):
            problems.append(f"need 0 <= fmin < fmax <= {nyquist:g} Hz, got fmin={self.fmin}, fmax={fmax}")
        if self.top_db is not None and not self.top_db >= 0:
            problems.append(f"top_db must be non-negative or None, got {self.top_db!r}")
        if not self.amin > 0:
            problems.append(f"amin must be positive, got {self.amin!r}")
        if self.level_dbfs is not None and (
            isinstance(self.level_dbfs, bool) or not isinstance(self.level_dbfs, (int, float)) or not -100 <= self.level_dbfs <= 0
        ):
            problems.append(f"level_dbfs must be None or a level from -100 to 0 dBFS, got {self.level_dbfs!r}")
        if self.dtype not in _DTYPES:
            problems.append(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        if problems:
            raise SpecError("; ".join(problems))

    @classmethod
    def at_rate(cls, sample_rate: int, window_seconds: float | None = None, **changes) -> FrontendSpec:
        """The seed's timing at another sample rate: frames of about 93 ms (the FFT size rounded
        up to a 5-smooth length, which numpy transforms fast) every 23.2 ms, 50 of them a window
        (1.14 s). At 16 kHz: n_fft 1500, hop 372. At 22,050 Hz: the seed's own 2048 and 512.
        16 kHz is the rate every corpus here and most microphones share: a model trained at it
        never sees the band above 8 kHz that only some recordings have (a hidden corpus label).
        window_seconds: windows of about this length instead (the paralinguistic input wants 2 s)."""
        base = cls()
        hop = round(base.hop_length * sample_rate / base.sample_rate)
        n_fft = _smooth_at_least(round(base.n_fft * sample_rate / base.sample_rate))
        if window_seconds is not None:
            if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float)) or not window_seconds > 0:
                raise SpecError(f"window_seconds must be a positive number, got {window_seconds!r}")
            changes["window_frames"] = max(2, round(window_seconds * sample_rate / hop) + 1)
        return cls(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, **changes)

    @property
    def effective_fmax(self) -> float:
        return float(self.sample_rate) / 2 if self.fmax is None else float(self.fmax)

    @property
    def window_samples(self) -> int:
        """Samples in one model window: exactly `window_frames` centred frames."""
        return self.hop_length * (self.window_frames - 1)

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    def hop_seconds(self, hop_frames: int) -> float:
        """Seconds between successive windows that start `hop_frames` frames apart."""
        return hop_frames * self.hop_length / self.sample_rate

    @property
    def stats_size(self) -> int:
        """Length of the classic models' statistics vector."""
        return self.n_mfcc + self.n_stats_mels + self.lpc_order + 2

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, rows, frames) of the 2D CNN input: MFCCs on top of log-mel bands."""
        if self.image_n_mfcc != self.image_n_mels:
            raise SpecError(
                f"the image stacks MFCCs and mel bands as two channels, so image_n_mfcc "
                f"({self.image_n_mfcc}) must equal image_n_mels ({self.image_n_mels})"
            )
        return (2, self.image_n_mfcc, self.window_frames)

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """(frames, features per frame) of the CNN-BiLSTM input."""
        return (self.window_frames, self.image_n_mfcc + self.image_n_mels)

    def stats_feature_names(self) -> list[str]:
        """Names of the statistics vector's entries, in order (saved with selected features)."""
        return (
            [f"mfcc_mean_{i}" for i in range(self.n_mfcc)]
            + [f"mel_mean_{i}" for i in range(self.n_stats_mels)]
            + [f"lpc_{i}" for i in range(1, self.lpc_order + 1)]
            + ["rms_mean", "zcr_mean"]
        )


def _smooth_at_least(n: int) -> int:
    """The smallest number >= n with no prime factor above 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1
