"""ESC-10 background noise: a bank of clips by ESC fold, mixing at a signal-to-noise ratio, and
`NoiseMix`, the clip transform of the noisy test protocols (speech at exactly 20, 10 or 5 dB SNR).

**Folds.** `../shared/data/noise/esc10` holds ESC-10 (Piczak 2015) as `<class>/<fold>-<id>-<take>.ogg`;
the first digit of a name is the ESC fold. Folds 1-3 are for training and augmentation, fold 5 is
HELD OUT for testing. A `NoiseBank` holds the folds it was asked for and nothing else; it has no
default selection, refuses an empty one, refuses fold 5 together with any other fold (a bank is
either for training or for testing, never both), refuses a fold it finds no clip of (naming the
folds that are there) and a `.ogg` whose name does not say its fold (a misnamed held-out clip must
not slip into a training bank). `bank.folds` says what it holds.

**Speech level** (`active_level`): the RMS of the speech's *active* part: the signal is cut into
20 ms frames (a trailing partial frame is left out; a signal shorter than one frame is one frame),
and the frames whose mean power is within 30 dB of the loudest frame's are pooled. The corpora's
clips start and end with silence (a third of a RAVDESS clip can be silence), so a plain RMS would
understate the speech, and an SNR set against it would bury the voice deeper than asked. This is a
simplified ITU-T P.56 active level. **Noise level**: the plain RMS of the excerpt, as it is heard.

**Silent noise.** About 5 % of 2.5 s excerpts of ESC-10 at 16 kHz have an RMS below -60 dBFS
(`SILENCE_DBFS`), 2.6 % are digital zeros (clips padded to 5 s). Scaling such an excerpt up to an
SNR would divide by zero or amplify codec hiss by 60 dB or more, so `mix_at_snr` refuses noise below
-60 dBFS, and `NoiseBank.excerpt` draws again (another clip and start, from the same generator, so
the choice stays deterministic) until an excerpt is louder, up to 32 draws; a bank that gives 32
silent excerpts in a row is refused with an error.

**Full scale.** `mix_at_snr` returns the exact sum, which may exceed ±1 (a loud clip plus noise at
5 dB); it neither clips nor rescales. `NoiseMix` then clips at ±1, as the device's microphone and
16-bit converter would: rescaling instead would change the speech level, the thing under test, and
a real microphone does clip. Only clips whose speech already reaches full scale (CREMA-D's clipped
angry clips) are affected.

**Caching.** Clips are read lazily with `tonecue.edge.audio.load_audio` at the rate asked and kept
per process and per rate (a bank of folds 1-3 at 16 kHz is 77 MB once read in full); a bank pickles
without them, as a `ProcessPoolExecutor` worker receives it.

**Clip transforms** (this module's `NoiseMix`, `tonecue.train.augment.Augmenter`):
`transform(signal, sample_rate, seed)` returns a float32 mono signal at the same rate, a function of
(signal, sample_rate, seed) alone (a `numpy.random.Generator` seeded from `seed`; no global random
state is read or changed); `transform.describe()` is a JSON-able dict of every setting, a recipe
version and the noise files used (names relative to the noise root, sorted), meant for a feature
cache key; `transform.summary()` (and `repr`) is one line for logs.
"""

from __future__ import annotations

import math
import numbers
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from tonecue.edge.audio import load_audio
from tonecue.edge.errors import TonecueError

__all__ = [
    "ESC_FOLDS",
    "HELD_OUT_FOLD",
    "NOISE_MIX_VERSION",
    "SILENCE_DBFS",
    "TRAIN_FOLDS",
    "NoiseBank",
    "NoiseError",
    "NoiseMix",
    "active_level",
    "check_clip_input",
    "mix_at_snr",
    "mixing_settings",
]

#: ESC-50's five folds; ESC-10 here holds 1, 2, 3 and 5.
ESC_FOLDS = (1, 2, 3, 4, 5)
#: Folds for training and augmentation.
TRAIN_FOLDS = (1, 2, 3)
#: The fold kept for testing: never trained or tuned on.
HELD_OUT_FOLD = 5

#: Bump when NoiseMix's output for the same settings and files changes.
NOISE_MIX_VERSION = 1
#: Frame length and range of the active speech level (see the module docstring).
FRAME_SECONDS = 0.02
ACTIVE_RANGE_DB = 30.0
#: An excerpt quieter than this (RMS, dBFS) counts as silent.
SILENCE_DBFS = -60.0
#: How many excerpts `NoiseBank.excerpt` draws before it gives up on a silent bank.
MAX_DRAWS = 32

_ESC_NAME = re.compile(r"^(\d)-\d+-[A-Z]+\.ogg$")


class NoiseError(TonecueError, ValueError):
    """A noise folder, fold selection, SNR or signal that cannot give a noisy clip."""


def _check_folds(folds) -> tuple[int, ...]:
    if isinstance(folds, (numbers.Number, str, bytes)):
        raise NoiseError(f"folds must be a sequence of ESC fold numbers such as (5,) or (1, 2, 3), not {folds!r}")
    chosen = []
    for fold in folds:
        if isinstance(fold, bool) or not isinstance(fold, numbers.Integral) or int(fold) not in ESC_FOLDS:
            raise NoiseError(f"unknown fold {fold!r}: ESC folds are 1-5")
        chosen.append(int(fold))
    if not chosen:
        raise NoiseError(f"no folds asked: name training folds such as {TRAIN_FOLDS} or the held-out ({HELD_OUT_FOLD},)")
    chosen = tuple(sorted(set(chosen)))
    if HELD_OUT_FOLD in chosen and len(chosen) > 1:
        raise NoiseError(
            f"fold {HELD_OUT_FOLD} is held out for testing and never shares a bank with training folds; "
            f"asked for {', '.join(map(str, chosen))}"
        )
    return chosen


def _check_snr(snr_db) -> float:
    if isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real) or not math.isfinite(snr_db):
        raise NoiseError(f"the SNR must be a finite number of dB, got {snr_db!r}")
    return float(snr_db)


def _check_rate(sample_rate, error: type[ValueError]) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise error(f"the sample rate must be a positive integer number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def check_clip_input(signal, sample_rate, seed, error: type[ValueError] = NoiseError) -> tuple[np.ndarray, int, int]:
    """The clip-transform contract's checks: a non-empty, finite 1-D float signal, a positive
    integer rate and a non-negative integer seed; returns (float32 signal, rate, seed) or raises
    `error` saying what is wrong."""
    x = np.asarray(signal)
    if x.dtype.kind != "f":
        raise error(f"the signal must hold float samples (full scale ±1), not dtype {x.dtype}")
    if x.ndim != 1:
        raise error(f"the signal must be 1-D (mono), got shape {x.shape}")
    if x.size == 0:
        raise error("the signal is empty")
    if not np.isfinite(x).all():
        raise error("the signal holds NaN or infinite samples; samples must be finite")
    rate = _check_rate(sample_rate, error)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise error(f"the seed must be a non-negative integer, got {seed!r}")
    return x.astype(np.float32, copy=False), rate, int(seed)


def _mono(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind != "f" or a.ndim != 1 or a.size == 0:
        raise NoiseError(f"{what} must be a non-empty 1-D float signal, got dtype {a.dtype} shape {a.shape}")
    if not np.isfinite(a).all():
        raise NoiseError(f"{what} holds NaN or infinite samples; samples must be finite")
    return a.astype(np.float64)


def _rms(x: np.ndarray) -> float:
    return math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))


def _dbfs(level: float) -> float:
    return 20 * math.log10(level) if level > 0 else -math.inf


def active_level(signal, sample_rate: int) -> float:
    """RMS of the active part of `signal`: its 20 ms frames within 30 dB of the loudest frame
    (the module docstring says why); 0.0 for a silent signal."""
    x = _mono(signal, "the signal")
    frame = max(1, round(FRAME_SECONDS * _check_rate(sample_rate, NoiseError)))
    n_frames = max(1, x.size // frame)
    frames = x[: n_frames * frame].reshape(n_frames, -1) if x.size >= frame else x[None, :]
    power = np.mean(frames**2, axis=1)
    loudest = float(power.max())
    if loudest == 0.0:
        return 0.0
    active = power[power >= loudest * 10 ** (-ACTIVE_RANGE_DB / 10)]
    return math.sqrt(float(active.mean()))


def mix_at_snr(speech, noise, snr_db, sample_rate: int) -> np.ndarray:
    """speech + noise, the noise scaled so that the active speech level (`active_level`) is
    `snr_db` above the noise's plain RMS; float32, neither clipped nor rescaled (may exceed ±1).

    Refuses (NoiseError) an SNR that is not a finite number, signals of different lengths, silent
    speech (no level to set the noise against) and noise below SILENCE_DBFS.
    """
    snr = _check_snr(snr_db)
    s = _mono(speech, "the speech")
    n = _mono(noise, "the noise")
    if s.size != n.size:
        raise NoiseError(f"speech and noise must have the same length, got {s.size} and {n.size} samples")
    speech_level = active_level(s, sample_rate)
    if speech_level == 0.0:
        raise NoiseError("the speech is silent (all zeros): there is no level to set an SNR against")
    noise_level = _rms(n)
    if _dbfs(noise_level) < SILENCE_DBFS:
        raise NoiseError(
            f"the noise is silent ({_dbfs(noise_level):.1f} dBFS RMS, below {SILENCE_DBFS:g}): "
            "scaling it to an SNR would amplify nothing but hiss"
        )
    gain = speech_level / (noise_level * 10 ** (snr / 20))
    return (s + gain * n).astype(np.float32)


def mixing_settings() -> dict:
    """The constants that decide what `mix_at_snr` and `NoiseBank.excerpt` give, for a transform's
    `describe()`: a change to any of them must change every cache key built on noisy features."""
    return {
        "speech_level": {"frame_seconds": FRAME_SECONDS, "active_range_db": ACTIVE_RANGE_DB},
        "silence_dbfs": SILENCE_DBFS,
        "max_draws": MAX_DRAWS,
    }


@lru_cache(maxsize=None)
def _clip(path: str, sample_rate: int) -> np.ndarray:
    samples = load_audio(path, sample_rate)
    samples.flags.writeable = False  # shared by every excerpt of this process
    return samples


class NoiseBank:
    """The ESC-10 clips of `folds` under `root` (`<class>/<fold>-<id>-<take>.ogg`), read lazily.

    `folds` is required: a sequence of ESC folds, the training folds (1, 2, 3) or the held-out
    (5,), never both kinds (the module docstring lists every refusal).
    """

    def __init__(self, root, folds: Iterable[int]):
        root = Path(root)
        if not root.is_dir():
            raise NoiseError(f"no noise folder at {root} (ESC-10's <class>/<fold>-<id>-<take>.ogg)")
        chosen = _check_folds(folds)
        by_fold: dict[int, list[str]] = {}
        for path in sorted(root.glob("*/*")):
            if path.suffix.lower() != ".ogg" or path.name.startswith(".") or path.parent.name.startswith("."):
                continue
            match = _ESC_NAME.match(path.name)
            if match is None:
                raise NoiseError(
                    f"{path}: not an ESC clip name (<fold>-<id>-<take>.ogg, e.g. 1-100038-A.ogg); "
                    "its fold cannot be known, so the bank refuses to guess it"
                )
            by_fold.setdefault(int(match.group(1)), []).append(path.relative_to(root).as_posix())
        if not by_fold:
            raise NoiseError(f"{root} holds no ESC clips (expected <class>/<fold>-<id>-<take>.ogg directly under it)")
        missing = [fold for fold in chosen if fold not in by_fold]
        if missing:
            raise NoiseError(
                f"no clips of fold {', '.join(map(str, missing))} under {root}; "
                f"it holds folds {', '.join(map(str, sorted(by_fold)))}"
            )
        self._root = root
        self._folds = chosen
        self._names = tuple(sorted(name for fold in chosen for name in by_fold[fold]))

    @property
    def root(self) -> Path:
        return self._root

    @property
    def folds(self) -> tuple[int, ...]:
        """The ESC folds this bank holds, sorted."""
        return self._folds

    @property
    def names(self) -> tuple[str, ...]:
        """Its clips as POSIX paths relative to `root` (`dog_bark/1-100032-A.ogg`), sorted."""
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def describe(self) -> dict:
        return {"corpus": "ESC-10", "folds": list(self._folds), "files": list(self._names)}

    def summary(self) -> str:
        classes = len({name.split("/")[0] for name in self._names})
        folds = ",".join(map(str, self._folds))
        return f"ESC-10 fold{'s' if len(self._folds) > 1 else ''} {folds}: {len(self)} clips of {classes} classes"

    def __repr__(self) -> str:
        return f"NoiseBank({self.summary()})"

    def excerpt(self, n_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """`n_samples` of a random clip from a random start, at `sample_rate`, float32 (a copy).

        A clip shorter than `n_samples` is looped (from a random point, wrapping around). An
        excerpt below SILENCE_DBFS is drawn again, up to MAX_DRAWS times, from the same `rng`.
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples <= 0:
            raise NoiseError(f"n_samples must be a positive integer, got {n_samples!r}")
        rate = _check_rate(sample_rate, NoiseError)
        if not isinstance(rng, np.random.Generator):
            raise NoiseError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        n = int(n_samples)
        for _ in range(MAX_DRAWS):
            clip = _clip(str(self._root / self._names[rng.integers(len(self._names))]), rate)
            if clip.size >= n:
                start = int(rng.integers(clip.size - n + 1))
                piece = clip[start : start + n]
            else:
                piece = np.take(clip, int(rng.integers(clip.size)) + np.arange(n), mode="wrap")
            if _dbfs(_rms(piece)) >= SILENCE_DBFS:
                return np.array(piece, dtype=np.float32)
        raise NoiseError(f"{MAX_DRAWS} excerpts of {self.summary()} in a row were silent (below {SILENCE_DBFS:g} dBFS)")


class NoiseMix:
    """The clip transform of the noisy test protocols: each clip mixed with ESC-10 noise of
    `folds` (default the held-out fold 5) at exactly `snr_db` (active speech level against the
    excerpt's RMS), then clipped at full scale. `seed` chooses the excerpt."""

    def __init__(self, root, folds: Iterable[int] = (HELD_OUT_FOLD,), snr_db: float = 10.0):
        self.snr_db = _check_snr(snr_db)
        self.bank = NoiseBank(root, folds)

    def __call__(self, signal, sample_rate: int, seed: int) -> np.ndarray:
        x, rate, seed = check_clip_input(signal, sample_rate, seed, NoiseError)
        noise = self.bank.excerpt(x.size, rate, np.random.default_rng(seed))
        return np.clip(mix_at_snr(x, noise, self.snr_db, rate), -1.0, 1.0)

    def describe(self) -> dict:
        return {
            "transform": "noise_mix",
            "version": NOISE_MIX_VERSION,
            "snr_db": self.snr_db,
            **mixing_settings(),
            "full_scale": "clip",
            **self.bank.describe(),
        }

    def summary(self) -> str:
        return f"NoiseMix(v{NOISE_MIX_VERSION}: {self.snr_db:g} dB SNR, {self.bank.summary()})"

    __repr__ = summary
