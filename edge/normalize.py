"""Speaker normalization: features measured against the voice being heard, not against everyone.

Voices differ more than emotions do: a deep calm voice and a high excited one sit further apart
in feature space than one person's angry and sad. Training therefore standardizes each speaker's
windows by that speaker's own mean and spread. A device hears the same few voices for minutes, so
it can do the same online:

- **cold**: before any voice, features are standardized by a prior from the model's contract (the
  training windows' mean, and the typical spread *within* one speaker);
- **adapting**: every voiced window moves a running mean and variance towards what it hears. The
  prior counts as `prior_seconds` of voice; after that, the estimate averages over about the last
  `time_constant_s` seconds of voice (an exponential average, weight hop / time constant);
- **reset**: after `reset_after_s` without a voice the next voice may be someone else: back to
  the prior, or rather to what the device has learnt of its own channel (below).

**Channel** (`ChannelEstimate`): a device keeps one microphone and one room, and they shift every
voice it hears alike; a corpus the model never trained on is such a channel. Judged against the
prior alone, a corpus left out of training came out as one class for everything (RAVDESS all
"angry", SAVEE all "sad"); centred on what that corpus sounds like on average it was judged
well (`benchmarks/results/channel-study.md`). So the device also keeps a running mean over every
voiced window of every voice (from the prior, weighing `prior_seconds` at first, then about the
last `channel_time_constant_s` seconds of voice), which no new voice resets; a new voice's
estimate starts from it. The channel lives as long as the device: one per `Listener`, or shared
(`tonecue classify` learns it from all the files it is given, `remember_all`, before judging
each against it); the service keeps it across restarts (`tonecue.edge.channel_store`).

The running statistics move only on voiced windows, after the window itself is normalized (a
window never normalizes itself), in stream order, identically wherever the listener runs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .errors import TonecueError
from .settings import VersionedSettings

__all__ = ["NORMALIZATION_KINDS", "ChannelEstimate", "NormalizationError", "NormalizationSettings", "SpeakerNormalizer"]

NORMALIZATION_KINDS = ("none", "speaker")
NORMALIZATION_FORMAT_VERSION = 1
MIN_STD = 1e-6  # a feature that never varies is left centred, not blown up


class NormalizationError(TonecueError, ValueError):
    """Normalization settings that are inconsistent with themselves or with the model."""


@dataclass(frozen=True)
class NormalizationSettings(VersionedSettings):
    """How the model's input is normalized (it travels in the model's contract).

    kind: "none" (features as they are) or "speaker" (see the module docstring).
    mean, std: the prior, one value per entry of the frontend's output (the statistics vector).
    time_constant_s: 60.0   seconds of voice the running estimate averages over once adapted.
    prior_seconds: 10.0     how much voice the prior weighs, at the start and after a reset.
    reset_after_s: 30.0     seconds without a voice after which the estimate returns to the prior
                            (to the channel estimate, with one).
    channel_time_constant_s: 300.0   seconds of voice, of every voice, the device's channel estimate
                            averages over (None: no channel estimate; every new voice starts from the prior).
    """

    kind: str = "none"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    time_constant_s: float = 60.0
    prior_seconds: float = 10.0
    reset_after_s: float = 30.0
    channel_time_constant_s: float | None = 300.0

    FORMAT_VERSION: ClassVar[int] = NORMALIZATION_FORMAT_VERSION
    DESCRIPTION: ClassVar[str] = "normalization settings"
    ERROR: ClassVar[type[ValueError]] = NormalizationError

    EXPECT: ClassVar[dict[str, str]] = {
        **{name: "a positive number of seconds" for name in ("time_constant_s", "prior_seconds", "reset_after_s")},
        "channel_time_constant_s": "a positive number of seconds or None",
    }

    def __post_init__(self) -> None:
        super().__post_init__()  # types
        problems = []
        if self.kind not in NORMALIZATION_KINDS:
            problems.append(f"kind must be one of {NORMALIZATION_KINDS}, got {self.kind!r}")
        problems += [self.must(name, value) for name in self.EXPECT
                     if (value := getattr(self, name)) is not None and value <= 0]
        for name in ("mean", "std"):
            value = getattr(self, name)
            try:
                values = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                problems.append(f"{name} must be a list of numbers")
                continue
            if not all(math.isfinite(v) for v in values):
                problems.append(f"{name} must hold finite numbers")
            object.__setattr__(self, name, values)
        if not problems and self.kind == "speaker":
            if not self.mean or len(self.mean) != len(self.std):
                problems.append(f"a speaker normalization needs a prior mean and std of one length, got {len(self.mean)} and {len(self.std)}")
            elif min(self.std) < 0:
                problems.append("std must not be negative")
        self.refuse(problems)

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


def _running_weight(prior_windows: float, heard: int, floor_weight: float) -> float:
    """The weight of the next window in a running mean that starts from a prior: like averaging it
    with the prior's windows and those heard so far, never less than the time constant allows (so
    the estimate keeps following what it hears)."""
    return max(1.0 / (prior_windows + heard + 1), floor_weight)


class ChannelEstimate:
    """The device's channel: the running mean of every voiced window it has heard (module docstring).

    remember_all: weigh every window alike, however many, instead of the last
    `channel_time_constant_s` seconds of voice: the channel of a set of recordings heard together,
    the same in whichever order they come (`frozen` then judges each of them against it).
    """

    def __init__(self, settings: NormalizationSettings, hop_seconds: float, remember_all: bool = False):
        if settings.channel_time_constant_s is None:
            raise NormalizationError("a channel estimate needs channel_time_constant_s")
        self.mean = np.asarray(settings.mean, dtype=np.float64).copy()
        self.windows = 0
        self.learning = True
        self._prior_windows = settings.prior_seconds / hop_seconds
        self._floor_weight = 0.0 if remember_all else min(1.0, hop_seconds / settings.channel_time_constant_s)

    def learn(self, features: np.ndarray) -> None:
        """One more voiced window (raw features), of whichever voice."""
        if not self.learning:
            return
        weight = _running_weight(self._prior_windows, self.windows, self._floor_weight)
        self.mean += weight * (np.asarray(features, dtype=np.float64) - self.mean)
        self.windows += 1

    def frozen(self) -> ChannelEstimate:
        """A copy that learns nothing more: every recording judged against it sees the same channel."""
        twin = copy.copy(self)
        twin.mean, twin.learning = self.mean.copy(), False
        return twin


class SpeakerNormalizer:
    """The running estimate of one stream's voice (see the module docstring).

    channel: the device's `ChannelEstimate` to start every voice from and to teach; None makes one
    of its own (when the settings keep one), for as long as this normalizer lives.
    """

    def __init__(self, settings: NormalizationSettings, hop_seconds: float, channel: ChannelEstimate | None = None):
        if not settings.enabled:
            raise NormalizationError("SpeakerNormalizer needs kind 'speaker'")
        self.settings = settings
        self.hop_seconds = float(hop_seconds)
        if channel is None and settings.channel_time_constant_s is not None:
            channel = ChannelEstimate(settings, self.hop_seconds)
        self.channel = channel
        self._prior_mean = np.asarray(settings.mean, dtype=np.float64)
        self._prior_var = np.maximum(np.asarray(settings.std, dtype=np.float64), MIN_STD) ** 2
        self._prior_windows = settings.prior_seconds / self.hop_seconds
        self._floor_weight = min(1.0, self.hop_seconds / settings.time_constant_s)
        self.reset()

    def reset(self) -> None:
        """Back to the start: a new stream, or a new voice after a long silence. The mean starts
        from the channel estimate (the prior, without one), the spread from the prior's."""
        self.mean = (self._prior_mean if self.channel is None else self.channel.mean).copy()
        self.var = self._prior_var.copy()
        self.voiced_windows = 0
        self._last_voice: float | None = None

    @property
    def seconds_heard(self) -> float:
        return self.voiced_windows * self.hop_seconds

    def __call__(self, features: np.ndarray, now: float) -> np.ndarray:
        """Normalize one voiced window's features (1-D), then learn from them."""
        x = np.asarray(features, dtype=np.float64)
        if x.shape != self.mean.shape:
            raise NormalizationError(f"expected {self.mean.shape[0]} features, got shape {x.shape}")
        if self._last_voice is not None and now - self._last_voice > self.settings.reset_after_s:
            self.reset()
        self._last_voice = now
        z = (x - self.mean) / np.sqrt(self.var)
        weight = _running_weight(self._prior_windows, self.voiced_windows, self._floor_weight)
        delta = x - self.mean
        self.mean += weight * delta
        self.var = np.maximum((1 - weight) * (self.var + weight * delta * delta), MIN_STD**2)
        self.voiced_windows += 1
        if self.channel is not None:
            self.channel.learn(x)
        return z.astype(np.float32)


def speaker_statistics(features: np.ndarray, speakers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prior a model's contract stores: the mean over all windows, and the root-mean-square of
    each speaker's own standard deviation (the typical spread within one voice)."""
    features = np.asarray(features, dtype=np.float64)
    stds = [features[speakers == s].std(axis=0) for s in np.unique(speakers)]
    return features.mean(axis=0), np.sqrt(np.mean(np.square(stds), axis=0))


def normalize_per_speaker(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Training's counterpart: each speaker's windows standardized by that speaker's statistics."""
    features = np.asarray(features, dtype=np.float64)
    out = np.empty_like(features)
    for s in np.unique(speakers):
        rows = speakers == s
        mean, std = features[rows].mean(axis=0), features[rows].std(axis=0)
        out[rows] = (features[rows] - mean) / np.maximum(std, MIN_STD)
    return out.astype(np.float32)


def cold_normalize(features: np.ndarray, settings: NormalizationSettings) -> np.ndarray:
    """Features standardized by the prior alone: a window judged on its own, as from a voice just
    met (what `EmotionModel.predict_proba` does for a speaker-normalized model)."""
    mean = np.asarray(settings.mean, dtype=np.float64)
    std = np.maximum(np.asarray(settings.std, dtype=np.float64), MIN_STD)
    return ((np.asarray(features, dtype=np.float64) - mean) / std).astype(np.float32)
