"""One window in, one judgement out: level, speech detector, bandwidth, features and model.

Used by `tonecue.edge.pipeline` (and so by the live loop, `tonecue classify`, edge-bench and
export's verification) and, for the level and the detector, by training's window selection: the
model's contract names the gate and the detector it was trained with, so the device selects the
windows it judges exactly as training selected the windows it learnt from.

- Which windows hold a voice: `tonecue.edge.speech.VoiceSelector` (the level gate's absolute
  minimum, then the speech detector; the level gate alone for models exported before it).
- Speaker normalization, when the contract asks for it (`tonecue.edge.normalize`): each voiced
  window's features are standardized by a running estimate of the voice being heard, which starts
  from the device's channel estimate (the listener's own, or one shared with other listeners).
- A stream that turns out not to carry the model's bandwidth (`tonecue.edge.bandwidth`) gets no
  probabilities at all: the model cannot judge it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .bandwidth import BandwidthCheck
from .model import EmotionModel
from .normalize import ChannelEstimate, SpeakerNormalizer
from .speech import VoiceSelector
from .vad import GateSettings

log = logging.getLogger("tonecue")

#: A window that is not a voice yet is analysed ahead (`StreamingFeaturizer.prime`) only when the
#: detector's score is at least this, under half its speech threshold: speech is coming in, so the
#: next window will likely be judged and reuse its frames. Background sound scores lower; analysing
#: every hop of it cost 4 times the loop's CPU in ESC-10 noise, for windows never judged.
PRIME_SCORE = 0.2


@dataclass(frozen=True)
class Heard:
    """What the listener made of one window.

    speech: the detector's speech score (mean speech probability of the window's chunks); with the
        level gate alone, 1.0 for a window it passes and 0.0 otherwise.
    voiced: the window holds a voice the model may judge (level, detector and bandwidth agree).
    probabilities: class probabilities when voiced, else None.
    band_limited: the stream lacks the frequencies the model needs (nothing is judged).
    """

    start: int
    level_db: float
    speech: float
    voiced: bool
    probabilities: np.ndarray | None
    band_limited: bool = False


class Listener:
    def __init__(
        self,
        model: EmotionModel,
        hop_frames: int | None = None,
        gate: GateSettings | None = None,
        use_detector: bool = True,
        channel: ChannelEstimate | None = None,
    ):
        """use_detector=False judges by the level gate alone even if the model names a detector
        (how tonecue heard before it: for side-by-side benchmarks, never for a wearer).
        channel: the device's channel estimate to share (`channel_for`); None: the listener's own."""
        self.model = model
        spec = model.contract.spec
        self.hop_frames = hop_frames or model.contract.hop_frames
        self.gate = gate or model.contract.gate
        self._hop_seconds = spec.hop_seconds(self.hop_frames)
        self._featurizer = model.featurizer()
        detector = model.speech_detector() if use_detector else None
        self._selector = VoiceSelector(self.gate, detector, self._hop_seconds)
        self._bandwidth = BandwidthCheck(spec.sample_rate, model.contract.required_bandwidth_hz)
        normalization = model.contract.normalization
        self.normalizer = SpeakerNormalizer(normalization, self._hop_seconds, channel) if normalization.enabled else None
        self._seconds_per_sample = 1.0 / spec.sample_rate
        self.reset()

    @property
    def channel(self) -> ChannelEstimate | None:
        """The channel estimate the voices start from (None: the model keeps none)."""
        return None if self.normalizer is None else self.normalizer.channel

    @property
    def band_limited(self) -> bool:
        return self._bandwidth.band_limited

    @property
    def band_message(self) -> str | None:
        """Why the stream cannot be judged, once it is known to lack the model's bandwidth."""
        return self._bandwidth.message() if self.band_limited else None

    def reset(self) -> None:
        """A new stream: fresh noise floor, detector state and bandwidth verdict, no shared frames,
        the voice's estimate back to the channel's (the channel itself is the device's: it stays)."""
        self._selector.reset()
        self._featurizer.reset()
        if self.normalizer is not None:
            self.normalizer.reset()
        self._bandwidth.reset()
        self._warned = False

    def hear(self, start: int, window: np.ndarray) -> Heard:
        level, speech, voiced = self._selector.judge(start, window)
        if not voiced:
            coming = speech >= PRIME_SCORE or self._selector.detector is None  # the level gate: any sound
            if level >= self.gate.min_level_db and coming:  # the next window may be a voice
                self._featurizer.prime(window, start)
            return Heard(start, level, speech, False, None, self.band_limited)
        verdict = self._bandwidth.update(window)
        if verdict is not True:  # not yet known to carry the model's bandwidth: nothing is judged
            self._featurizer.prime(window, start)
            if verdict is False and not self._warned:
                log.warning("%s", self._bandwidth.message())
                self._warned = True
            return Heard(start, level, speech, False, None, verdict is False)
        features = self._featurizer(window, start)
        if self.normalizer is not None:
            features = self.normalizer(features, start * self._seconds_per_sample)
        probabilities = self.model.predict_proba(features[None], normalized=self.normalizer is not None)[0]
        return Heard(start, level, speech, True, probabilities)


def channel_for(model: EmotionModel, hop_frames: int | None = None, remember_all: bool = False) -> ChannelEstimate | None:
    """A new channel estimate for listeners of `model` to share (None when its contract keeps none);
    remember_all: of recordings heard together (`ChannelEstimate`)."""
    normalization, spec = model.contract.normalization, model.contract.spec
    if not normalization.enabled or normalization.channel_time_constant_s is None:
        return None
    hop_seconds = spec.hop_seconds(hop_frames or model.contract.hop_frames)
    return ChannelEstimate(normalization, hop_seconds, remember_all)
