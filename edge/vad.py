"""The voice-activity gate: which windows of a stream carry speech rather than silence or noise.

The device runs it on its live stream so that silence and background noise never produce a cue;
training runs the very same rule over each clip's windows to drop the silent ones (see
`tonecue.train.windows`). One rule, one implementation, numpy only.

The rule works on one number per model window, its level in dBFS (`window_level_db`: 20 log10 of
the window's RMS, full scale = 1.0). Windows are fed in stream order, `hop_seconds` apart.

1. **Noise floor.** The gate keeps an estimate of the background level. A window quieter than the
   floor pulls the floor straight down to its level (the quietest recent window *is* background);
   after every window the floor creeps up towards the window's level by at most
   `floor_rise_db_per_s * hop_seconds` dB and never past it. Steady background noise therefore
   becomes the floor within seconds, while the short dips of speech pauses keep it low. The floor
   never goes below `min_level_db - margin_db`: under that it could not change any decision (see 2),
   and a stretch of digital silence (a muted microphone, a clip's zeroed lead-in) would otherwise
   sink it so far that it took minutes to climb back.
2. **Decision.** A window is voiced when its level is at least `margin_db` above the floor *and* at
   least `min_level_db`. The absolute minimum is what keeps digital silence and the hiss of an idle
   input from ever passing, whatever the floor is doing.

The order inside `update` is: fall, decide, rise. A window quieter than the floor is therefore never
voiced, and a loud window is judged against the floor as it stood before it arrived.

Known limits, by design of a level-only rule: a noise that steps up by more than `margin_db` passes
for about `(step - margin_db) / floor_rise_db_per_s` seconds until the floor has caught up; and
uninterrupted loud sound with no quieter window (a long monologue without pauses, music) is gated
out after about `(level - floor - margin_db) / floor_rise_db_per_s` seconds. The device's smoother
(patience, hold) sits on top of the gate and absorbs the first.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import ClassVar, Iterable

import numpy as np

from .errors import TonecueError
from .settings import VersionedSettings
from .spec import DEFAULT_HOP_FRAMES

__all__ = [
    "DIGITAL_SILENCE_DB",
    "GATE_FORMAT_VERSION",
    "DEFAULT_HOP_SECONDS",
    "GateError",
    "GateSettings",
    "VoiceGate",
    "window_level_db",
]

GATE_FORMAT_VERSION = 1

#: The level `window_level_db` gives an all-zero window (an RMS of 1e-10): far below any real
#: input (one LSB of 16-bit audio is about -96 dBFS), finite so it stores and prints cleanly.
DIGITAL_SILENCE_DB = -200.0

#: Seconds between windows at the seed's training hop: 22 frames of 512 samples at 22,050 Hz.
DEFAULT_HOP_SECONDS = DEFAULT_HOP_FRAMES * 512 / 22050


class GateError(TonecueError, ValueError):
    """Gate settings that are inconsistent, or a level the gate cannot judge (NaN)."""


@dataclass(frozen=True)
class GateSettings(VersionedSettings):
    """Every setting of the voice-activity gate, frozen and serialisable (it travels in a model's
    metadata beside the frontend spec, so the device gates exactly as training did).

    margin_db: 10.0
        How far above the noise floor a window must be to count as speech. Speech at a normal
        distance is 15-30 dB above a room's background; 10 dB keeps a quiet talker while a
        window of plain background (which sits at the floor, give or take 2-3 dB of fluctuation)
        stays out.
    min_level_db: -65.0
        The absolute minimum level (dBFS) of a voiced window. Digital silence (-200 here) and a
        silent input's hiss never pass. Set from the data, not guessed: RAVDESS is recorded
        quietly, and the loudest window of its softest sad and neutral clips measures -59 to
        -53 dBFS, while its zeroed lead-ins and tails sit below -75 dBFS. A minimum of -50
        would throw away a large share of exactly the quiet (sad) speech, biasing the classes.
    floor_rise_db_per_s: 3.0
        How fast the floor may climb towards louder windows, in dB per second. Slow enough that
        a few seconds of speech barely move it, fast enough that a fan switched on (a step of
        20 dB) is learned as background within about (20 - 10) / 3 = 3.3 s.
    initial_floor_db: -75.0
        The floor before any window has been seen. The default is the lowest floor that matters
        (min_level_db - margin_db): with no knowledge of the background, only the absolute
        minimum judges the first windows, and the floor learns the background from there. A
        device that knows its microphone may start higher. Values below min_level_db - margin_db
        are raised to it.

    The window hop is not a setting of the rule: `VoiceGate` takes `hop_seconds` from the stream
    it runs on (training derives it from the window hop, the device from its own).
    """

    margin_db: float = 10.0
    min_level_db: float = -65.0
    floor_rise_db_per_s: float = 3.0
    initial_floor_db: float = -75.0

    FORMAT_VERSION: ClassVar[int] = GATE_FORMAT_VERSION
    DESCRIPTION: ClassVar[str] = "voice gate settings"
    ERROR: ClassVar[type[ValueError]] = GateError

    def __post_init__(self) -> None:
        problems = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                problems.append(f"{field.name} must be a finite number, got {value!r}")
            else:
                object.__setattr__(self, field.name, float(value))  # 10 and 10.0 compare and hash alike
        if problems:
            raise GateError("; ".join(problems))
        if self.margin_db < 0:
            problems.append(f"margin_db must be non-negative, got {self.margin_db}")
        if self.floor_rise_db_per_s < 0:
            problems.append(f"floor_rise_db_per_s must be non-negative, got {self.floor_rise_db_per_s}")
        if self.min_level_db <= DIGITAL_SILENCE_DB:
            problems.append(
                f"min_level_db must be above digital silence ({DIGITAL_SILENCE_DB} dBFS), "
                f"got {self.min_level_db}: silence would pass"
            )
        if problems:
            raise GateError("; ".join(problems))

    @property
    def lowest_floor_db(self) -> float:
        """The floor never goes below this: any lower floor gives the same decisions."""
        return self.min_level_db - self.margin_db


def window_level_db(window: np.ndarray) -> float:
    """A window's level in dBFS: 20 log10 of its RMS (float64 arithmetic; a full-scale square
    wave is 0 dBFS, a full-scale sine -3.01). An all-zero window gives DIGITAL_SILENCE_DB.

    Raises GateError for an empty window, integer samples (their scale is unknown) or NaN or
    infinite samples.
    """
    x = np.asarray(window)
    if x.size == 0:
        raise GateError("cannot measure the level of an empty window")
    if x.dtype.kind != "f":
        raise GateError(
            f"a window must hold float samples in [-1, 1] (full scale 1.0), not dtype {x.dtype}; "
            "convert integer PCM first (tonecue.edge.audio does)"
        )
    x = x.astype(np.float64, copy=False).ravel()
    mean_square = float(np.dot(x, x)) / x.size
    if not math.isfinite(mean_square):
        raise GateError("the window holds NaN or infinite samples")
    rms = math.sqrt(mean_square)
    return max(20.0 * math.log10(rms), DIGITAL_SILENCE_DB) if rms > 0 else DIGITAL_SILENCE_DB


class VoiceGate:
    """The gate of one stream (see the module docstring for the rule). Stateful: feed windows in
    stream order, and `reset()` after a gap (a new clip, a microphone that came back).

    >>> gate = VoiceGate(hop_seconds=0.5)
    >>> [gate.update(level) for level in (-200.0, -40.0, -40.0)]
    [False, True, True]
    """

    def __init__(
        self,
        margin_db: float = GateSettings.margin_db,
        min_level_db: float = GateSettings.min_level_db,
        floor_rise_db_per_s: float = GateSettings.floor_rise_db_per_s,
        initial_floor_db: float = GateSettings.initial_floor_db,
        hop_seconds: float = DEFAULT_HOP_SECONDS,
    ):
        self._init(
            GateSettings(
                margin_db=margin_db,
                min_level_db=min_level_db,
                floor_rise_db_per_s=floor_rise_db_per_s,
                initial_floor_db=initial_floor_db,
            ),
            hop_seconds,
        )

    @classmethod
    def from_settings(cls, settings: GateSettings, hop_seconds: float = DEFAULT_HOP_SECONDS) -> VoiceGate:
        if not isinstance(settings, GateSettings):
            raise GateError(f"expected GateSettings, got {type(settings).__name__}")
        gate = cls.__new__(cls)
        gate._init(settings, hop_seconds)
        return gate

    def _init(self, settings: GateSettings, hop_seconds: float) -> None:
        if isinstance(hop_seconds, bool) or not isinstance(hop_seconds, numbers.Real) or not (
            math.isfinite(hop_seconds) and hop_seconds > 0
        ):
            raise GateError(f"hop_seconds must be a positive number of seconds, got {hop_seconds!r}")
        self.settings = settings
        self.hop_seconds = float(hop_seconds)
        self._rise = settings.floor_rise_db_per_s * self.hop_seconds
        self._lowest = settings.lowest_floor_db
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the floor goes back to `initial_floor_db`."""
        self.floor_db = max(self.settings.initial_floor_db, self._lowest)

    def update(self, level_db: float) -> bool:
        """Judge the next window of the stream from its level (dBFS); True when it is voiced.

        -inf is accepted as digital silence; NaN and +inf raise GateError (a broken level must not
        be mistaken for speech or silence).
        """
        level = float(level_db)
        if math.isnan(level) or level == math.inf:
            raise GateError(f"cannot judge a window of level {level_db!r} dBFS")
        s = self.settings
        if level < self.floor_db:  # fall at once: the quietest recent window is background
            self.floor_db = max(level, self._lowest)
        voiced = level >= self.floor_db + s.margin_db and level >= s.min_level_db
        if level > self.floor_db:  # rise slowly towards the level, never past it
            self.floor_db = min(self.floor_db + self._rise, level)
        return voiced

    def update_many(self, levels_db: Iterable[float]) -> np.ndarray:
        """`update` on each level in order; a bool array."""
        return np.array([self.update(level) for level in levels_db], dtype=bool)

    def __repr__(self) -> str:
        return f"VoiceGate({self.settings!r}, hop_seconds={self.hop_seconds:g}, floor_db={self.floor_db:.1f})"
