"""Events for integrators: one JSON line per change of what the device shows.

    tonecue run --events events.jsonl      # or --events - for standard output

Each line is an object (keys in this order, stable; new keys may be added at the end):

    {"time": 12.27, "state": "emotion", "label": "angry", "confidence": 0.81,
     "probabilities": {"angry": 0.81, "happy": 0.07, "sad": 0.04, "neutral": 0.08}, "vibrated": true}

- time: stream time in seconds (seconds of audio heard since the loop started);
- state: "listening" (no voice is being heard), "unsure" (a voice, but no emotion is confident
  enough to show), or "emotion" (an emotion is shown; `label` says which);
- label, confidence: the emotion shown and its smoothed probability (null and 0 otherwise);
- probabilities: the smoothed probabilities per label (null while listening);
- vibrated: whether this change played the emotion's rhythm on the motor.

A line is written when the state or the label changes, and when a vibration is played.
"""

from __future__ import annotations

import json
import sys
from typing import IO

from .pipeline import Step

__all__ = ["EventWriter", "state_of"]


def state_of(step: Step) -> str:
    """"emotion", "unsure" or "listening" for a pipeline step."""
    if step.decision.label is not None:
        return "emotion"
    return "unsure" if step.heard.voiced else "listening"


class EventWriter:
    """A pipeline observer that writes the events (see the module docstring) to a text stream."""

    def __init__(self, out: IO[str]):
        self.out = out
        self._last: tuple[str, str | None] | None = None

    @classmethod
    def open(cls, target: str) -> EventWriter:
        """"-" for standard output, else a file (created or truncated), line-buffered."""
        return cls(sys.stdout if target == "-" else open(target, "w", buffering=1, encoding="utf-8"))

    def __call__(self, step: Step) -> None:
        state, decision = state_of(step), step.decision
        vibrated = bool(step.cue is not None and step.cue.vibrate)
        key = (state, decision.label)
        if key == self._last and not vibrated:
            return
        self._last = key
        event = {
            "time": round(decision.time, 3),
            "state": state,
            "label": decision.label,
            "confidence": round(float(decision.confidence), 4),
            "probabilities": None if state == "listening" else {
                label: round(float(p), 4) for label, p in zip(decision.labels, decision.probabilities)
            },
            "vibrated": vibrated,
        }
        self.out.write(json.dumps(event) + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.out is not sys.stdout:
            self.out.close()
