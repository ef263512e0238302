"""The streaming decision: which emotion the device shows, from a stream of window probabilities.

A classifier's window-by-window output flickers; a cue that flickers is noise to the wearer. The
smoother turns the stream into a steady decision with five settings (openWakeWord's idea: the
debounce is part of the predictor's settings, not buried in a loop):

1. **Smoothing.** An exponential moving average of the probabilities of *voiced* windows:
   ``smoothed = smoothing * newest + (1 - smoothing) * smoothed``. The first voiced window after
   a reset or a silence starts the average afresh.
2. **Threshold.** A window votes for the top label of the smoothed probabilities when that
   probability is at least `threshold`; otherwise it votes for *nothing* (no cue rather than a
   guess).
3. **Patience.** The decision changes only after `patience` consecutive voiced windows voted for
   the same new outcome. Unvoiced windows (pauses between words) neither count nor break a run.
4. **Hold.** A shown emotion stays at least `hold_seconds` after it appeared, whatever the votes.
5. **Idle.** After `idle_seconds` without a voiced window the decision returns to nothing and the
   average is forgotten: the next utterance is judged on its own.

Everything is deterministic: the caller passes the time (seconds on any monotonic clock), so tests
replay exact scenarios and the device passes `time.monotonic()`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from .settings import Settings
from .errors import TonecueError

__all__ = ["Decision", "DecisionError", "DecisionSettings", "EmotionSmoother"]


class DecisionError(TonecueError, ValueError):
    """Decision settings out of range, or probabilities or times the smoother cannot use."""


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


@dataclass(frozen=True)
class DecisionSettings(Settings):
    """Every setting of the streaming decision, frozen and serialisable.

    smoothing: 0.8
        Weight of the newest window in the moving average, in (0, 1]. 1 = no smoothing; 0.8 lets
        the newest window count most while one odd window still moves the average by less than
        it would alone.
    threshold: 0.7
        Smoothed (calibrated) probability the top label needs before it is shown, in [0, 1].
    patience: 1
        Consecutive voiced windows that must agree before the decision changes (an integer >= 1;
        1 = change at once). With the high threshold and the smoothing, one window suffices.
    hold_seconds: 1.0
        Minimum time a shown emotion stays (>= 0), so the cue cannot blink faster than a wearer
        can read it.
    idle_seconds: 2.0
        After this long without a voiced window the decision returns to nothing (> 0): about a
        pause between sentences, so that a cue does not outlive its sentence by long.

    The five were chosen together on the conversation benchmark's tuning speakers
    (benchmarks/results/decision-sweep.md) for the shipped paralinguistic model: on the held-out
    test speakers, against the previous 0.5 / 0.7 / 1 / 2 s / 4 s, precision 0.57 -> 0.68, the
    share of speech time cued right 0.18 -> 0.24 and the median time to the right cue "never" ->
    2.8 s, at the cost of more wrong vibrations (1.4 -> 2.7 a minute; 2.0 since the cues no longer
    buzz again for an emotion that comes back after a pause, `CueSettings.repeat_seconds`; 0.4
    since the motor waits for more confidence than the LED, `CueSettings.vibrate_confidence`).
    """

    smoothing: float = 0.8
    threshold: float = 0.7
    patience: int = 1
    hold_seconds: float = 1.0
    idle_seconds: float = 2.0

    DESCRIPTION: ClassVar[str] = "decision settings"
    ERROR: ClassVar[type[ValueError]] = DecisionError
    EXPECT: ClassVar[Mapping[str, str]] = {"patience": "a whole number of windows"}

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        problems = []
        if not 0 < self.smoothing <= 1:
            problems.append(f"smoothing must be in (0, 1] (1 = no smoothing), got {self.smoothing}")
        if not 0 <= self.threshold <= 1:
            problems.append(f"threshold must be a probability in [0, 1], got {self.threshold}")
        if self.patience < 1:
            problems.append(f"patience must be at least 1 window, got {self.patience}")
        if self.hold_seconds < 0:
            problems.append(f"hold_seconds must be >= 0, got {self.hold_seconds}")
        if self.idle_seconds <= 0:
            problems.append(f"idle_seconds must be > 0, got {self.idle_seconds}")
        self.refuse(problems)


@dataclass(frozen=True)
class Decision:
    """What the device shows after one window.

    label: the emotion shown, or None for nothing.
    confidence: the smoothed probability of `label` (0.0 when label is None). During a hold it
        may have fallen below the threshold; the cue's brightness shows that honestly.
    probabilities: the smoothed probabilities, in the order of `labels` (all zero before the
        first voiced window).
    changed: True when `label` differs from the previous decision's.
    time: the time passed to `update`.
    voiced: whether this window was voiced (carried probabilities).
    labels: the model's labels.
    """

    label: str | None
    confidence: float
    probabilities: tuple[float, ...]
    changed: bool
    time: float
    voiced: bool = True
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, float]:
        """The smoothed probabilities by label."""
        return dict(zip(self.labels, self.probabilities))


class EmotionSmoother:
    """The decision of one stream (see the module docstring). Feed windows in time order."""

    def __init__(self, labels: Sequence[str], settings: DecisionSettings | None = None):
        labels = tuple(labels)
        if not labels or not all(isinstance(label, str) and label for label in labels):
            raise DecisionError(f"labels must be non-empty strings, got {labels!r}")
        if len(set(labels)) != len(labels):
            raise DecisionError(f"labels must be distinct, got {labels!r}")
        settings = DecisionSettings() if settings is None else settings
        if not isinstance(settings, DecisionSettings):
            raise DecisionError(f"expected DecisionSettings, got {type(settings).__name__}")
        self.labels = labels
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget the stream: nothing shown, no average, no pending change."""
        self._smoothed: np.ndarray | None = None
        self._label: str | None = None
        self._changed_at = -math.inf
        self._last_voiced = -math.inf
        self._last_time = -math.inf
        self._candidate: str | None = None
        self._votes = 0

    @property
    def label(self) -> str | None:
        return self._label

    def update(self, probabilities: Iterable[float] | None, now: float) -> Decision:
        """Take the next window: its class probabilities (in `labels` order), or None when the
        gate judged it unvoiced; `now` is its time in seconds (never decreasing)."""
        if not _is_number(now):
            raise DecisionError(f"now must be a finite time in seconds, got {now!r}")
        now = float(now)
        if now < self._last_time:
            raise DecisionError(f"time went backwards: {now} after {self._last_time} (reset() first)")
        self._last_time = now
        s = self.settings
        before = self._label

        # Silence long enough: back to nothing. Checked on voiced windows too, so that a stream
        # whose unvoiced windows were never fed behaves the same.
        if now - self._last_voiced >= s.idle_seconds:
            self._smoothed = None
            self._candidate, self._votes = None, 0
            if self._label is not None and now - self._changed_at >= s.hold_seconds:
                self._label, self._changed_at = None, now

        if probabilities is not None:
            p = self._check(probabilities)
            self._last_voiced = now
            if self._smoothed is None:
                self._smoothed = p
            else:
                self._smoothed = s.smoothing * p + (1.0 - s.smoothing) * self._smoothed
            top = int(np.argmax(self._smoothed))
            vote = self.labels[top] if self._smoothed[top] >= s.threshold else None
            if vote == self._label:
                self._candidate, self._votes = None, 0  # the run towards a change is broken
            else:
                if vote == self._candidate:
                    self._votes += 1
                else:
                    self._candidate, self._votes = vote, 1
                held = self._label is not None and now - self._changed_at < s.hold_seconds
                if self._votes >= s.patience and not held:
                    self._label, self._changed_at = vote, now
                    self._candidate, self._votes = None, 0

        smoothed = self._smoothed
        probs = tuple(float(x) for x in smoothed) if smoothed is not None else (0.0,) * len(self.labels)
        confidence = probs[self.labels.index(self._label)] if self._label is not None else 0.0
        return Decision(
            label=self._label,
            confidence=confidence,
            probabilities=probs,
            changed=self._label != before,
            time=now,
            voiced=probabilities is not None,
            labels=self.labels,
        )

    def _check(self, probabilities: Iterable[float]) -> np.ndarray:
        p = np.asarray(probabilities, dtype=np.float64).ravel()
        if p.shape != (len(self.labels),):
            raise DecisionError(f"expected {len(self.labels)} probabilities ({self.labels}), got {p.size}")
        if not np.isfinite(p).all() or (p < 0).any():
            raise DecisionError(f"probabilities must be finite and non-negative, got {p.tolist()}")
        total = p.sum()
        if total <= 0:
            raise DecisionError("probabilities sum to zero")
        return p / total  # tolerate a model whose outputs sum to 1 only approximately

    def __repr__(self) -> str:
        return f"EmotionSmoother({self.labels!r}, {self.settings!r}, label={self._label!r})"
