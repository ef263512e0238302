"""The live pipeline, wired once: window -> level, detector, features, model -> smoother -> cue.

    pipeline = Pipeline(model, decision=config.decision, cues=config.cues)
    for step in pipeline.push(block):          # blocks of samples at the model's rate
        if step.cue is not None:
            indicator.show(step.cue)

The live loop (`tonecue.edge.service`), `tonecue classify`, edge-bench and export's verification
all go through `Pipeline.step`, so the four can never wire the parts differently.

Time is stream time: `push` stamps each window with `epoch` plus the seconds of audio up to the
window's end, so a file replayed as fast as possible is judged exactly as in real time. Anyone who
wants to watch each step (the benchmark times them) adds a callable to `observers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .cues import Cue, CuePlanner, CueSettings
from .decision import Decision, DecisionSettings, EmotionSmoother
from .listener import Heard, Listener
from .model import EmotionModel
from .normalize import ChannelEstimate
from .stream import WindowStream
from .vad import GateSettings

__all__ = ["Pipeline", "Step"]


@dataclass(frozen=True)
class Step:
    """What one window did: what was heard, what the smoother decided, and the cue (or None)."""

    heard: Heard
    decision: Decision
    cue: Cue | None


class Pipeline:
    def __init__(
        self,
        model: EmotionModel,
        *,
        hop_frames: int | None = None,
        gate: GateSettings | None = None,
        decision: DecisionSettings | None = None,
        cues: CueSettings | None = None,
        use_detector: bool = True,
        channel: ChannelEstimate | None = None,
    ):
        self.model = model
        self.listener = Listener(model, hop_frames, gate, use_detector, channel)
        self.stream = WindowStream(model.contract.spec, self.listener.hop_frames)
        self.smoother = EmotionSmoother(model.labels, decision)
        self.planner = CuePlanner(cues, model.labels)
        self.observers: list[Callable[[Step], None]] = []
        self._seconds_per_sample = 1.0 / model.contract.spec.sample_rate

    @property
    def hop_frames(self) -> int:
        return self.listener.hop_frames

    def reset(self) -> None:
        """A new stream (a file, or a microphone that came back): nothing carries over."""
        self.stream.reset()
        self.listener.reset()
        self.smoother.reset()

    def step(self, start: int, window: np.ndarray, now: float) -> Step:
        """One window of the stream, at stream position `start`, judged at time `now` (seconds)."""
        heard = self.listener.hear(start, window)
        decision = self.smoother.update(heard.probabilities, now)
        step = Step(heard, decision, self.planner.plan(decision, now))
        for observer in self.observers:
            observer(step)
        return step

    def push(self, block: np.ndarray, epoch: float = 0.0) -> list[Step]:
        """Samples in; a step for every window they complete, stamped `epoch` + stream time."""
        return [self.step(start, window, self.time_of(start, window, epoch)) for start, window in self.stream.push(block)]

    def flush(self, epoch: float = 0.0) -> list[Step]:
        """End of a finite stream (a stream shorter than one window still gets one, padded)."""
        return [self.step(start, window, self.time_of(start, window, epoch)) for start, window in self.stream.flush()]

    def time_of(self, start: int, window: np.ndarray, epoch: float = 0.0) -> float:
        """Stream time at a window's end: when a live loop has heard all of it."""
        return epoch + (start + len(window)) * self._seconds_per_sample
