"""One window in, one judgement out: the voice gate, the features and the model, in stream order.

Shared by the live loop and `tonecue classify`, so that both gate, featurize and infer the same
way. The gate's settings come from the model's contract: it was trained on windows gated by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import EmotionModel
from .vad import GateSettings, VoiceGate, window_level_db


@dataclass(frozen=True)
class Heard:
    """What the listener made of one window."""

    start: int  # stream position of the window's first sample
    level_db: float
    voiced: bool
    probabilities: np.ndarray | None  # class probabilities, None when the gate closed


class Listener:
    def __init__(self, model: EmotionModel, hop_frames: int | None = None, gate: GateSettings | None = None):
        self.model = model
        spec = model.contract.spec
        self.hop_frames = hop_frames or model.contract.hop_frames
        self.gate = gate or model.contract.gate
        self._hop_seconds = self.hop_frames * spec.hop_length / spec.sample_rate
        self.reset()

    def reset(self) -> None:
        """A new stream: fresh noise floor, no shared frames."""
        self._gate = VoiceGate.from_settings(self.gate, hop_seconds=self._hop_seconds)
        self._featurizer = self.model.featurizer()

    def hear(self, start: int, window: np.ndarray) -> Heard:
        level = window_level_db(window)
        if not self._gate.update(level):
            return Heard(start, level, False, None)
        features = self._featurizer(window, start)
        return Heard(start, level, True, self.model.predict(features[None])[0])
