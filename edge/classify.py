"""Classify whole recordings the way the device would have heard them.

A recording is pushed through the live pipeline (`tonecue.edge.pipeline`): its window stream,
level gate, speech detector, featurizer and model. Its label is the class with the highest mean
probability over its voiced windows; a recording in which no window holds a voice gets no label.

A recording is judged alone, from the model's prior (`channel=None`), unless a channel estimate
(`tonecue.edge.normalize`) is shared. `tonecue classify` by default takes the files it is given
together as one microphone's, as a device learns its own: `channel_of_recordings` hears every one
once to learn their channel, then each is judged against it as a new voice, the same in whichever
order they come. A corpus the model never trained on, judged alone, comes out nearly one class; so
heard, it is judged well; a mix of microphones heard as one loses a little with the shipped model
and much with the CREMA-D one (`benchmarks/results/channel-study.md`, `heldout-clips.md`):
`tonecue classify --alone` judges each file by itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .audio import AudioError, check_signal, conform, load_audio
from .listener import channel_for
from .model import EmotionModel
from .normalize import ChannelEstimate
from .pipeline import Pipeline

__all__ = ["ClipResult", "channel_of_recordings", "classify_clip", "classify_file"]


@dataclass(frozen=True)
class ClipResult:
    """label: the emotion, or None when no window held a voice the model could judge.
    probabilities: {label: mean probability over the voiced windows}, or None.
    voiced_windows / windows: how many windows reached the model, of how many.
    seconds: the recording's length. warning: why nothing could be judged, if the input is unfit.
    """

    label: str | None
    probabilities: dict[str, float] | None
    voiced_windows: int
    windows: int
    seconds: float
    warning: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "warning" or v is not None}


def classify_clip(model: EmotionModel, source, sample_rate: int | None = None,
                  channel: ChannelEstimate | None = None) -> ClipResult:
    """`source`: a path (any rate, WAV/FLAC/AIFF), or a 1-D array of samples at `sample_rate`.
    channel: the device's channel estimate, shared with the recordings heard before (and taught
    by this one); None: this recording alone.

    Raises `AudioError` for a file that cannot be read.
    """
    rate = model.contract.spec.sample_rate
    if isinstance(source, (str, Path)):
        signal = load_audio(source, rate)
    else:
        if sample_rate is None:
            raise ValueError("an array of samples needs its sample_rate")
        signal = np.asarray(source, dtype=np.float32)
        if signal.ndim != 1:
            raise ValueError(f"expected mono samples (a 1-D array), got shape {signal.shape}")
        signal = conform(check_signal(signal), int(sample_rate), rate)
    pipeline = Pipeline(model, channel=channel)
    steps = pipeline.push(signal) + pipeline.flush()
    voiced = [s.heard.probabilities for s in steps if s.heard.voiced]
    warning = pipeline.listener.band_message
    label, probabilities = None, None
    if voiced:
        mean = np.mean(voiced, axis=0)
        label = model.labels[int(np.argmax(mean))]
        probabilities = {name: round(float(p), 4) for name, p in zip(model.labels, mean)}
    return ClipResult(label, probabilities, len(voiced), len(steps), round(len(signal) / rate, 3), warning)


def classify_file(model: EmotionModel, path: str | Path, channel: ChannelEstimate | None = None) -> dict:
    """One JSON-ready line per file for `tonecue classify`: file, label, probabilities, counts."""
    return {"file": str(path), **classify_clip(model, path, channel=channel).as_dict()}


def channel_of_recordings(model: EmotionModel, paths) -> ChannelEstimate | None:
    """The channel of recordings heard together: every voiced window of every file weighed alike
    with the prior, frozen so that each file is judged against the same estimate. None when the
    model keeps no channel. A file that cannot be read teaches nothing (it reports its error when
    it is judged)."""
    learner = channel_for(model, remember_all=True)
    if learner is None:
        return None
    for path in paths:
        try:
            classify_clip(model, path, channel=learner)
        except AudioError:
            continue
    return learner.frozen()
