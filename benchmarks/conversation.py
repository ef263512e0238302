"""Conversation benchmark: the cue a wearer sees and feels while one unseen speaker talks, over time.

    python -m tonecue.benchmarks.conversation --out benchmarks/results/conversation
    python -m tonecue.benchmarks.conversation --sweep      # decision settings: benchmarks/results/decision-sweep

**Streams.** One per speaker of `benchmarks/heldout.json` (speakers no shipped model trains on), from
../shared/data (TONECUE_DATA overrides): every clip of the speaker whose emotion is one of the model's
labels, trimmed to its speech (with 10 ms fades), in runs of one to three sentences of one mood (the next run is another
mood), with 0.6-1.6 s pauses, the speech at -35 to -20 dBFS RMS (the clips keep their recorded levels
relative to each other), all drawn from the seed. Each stream is heard clean and with ESC-10 fold 5
(never trained or tuned on) looped behind it at 10 dB SNR, measured over the speech.

**The loop.** Each stream is replayed, as fast as it goes, through the real live loop
(`tonecue.edge.service.Service` on the model, the config's settings) with the stream time the device
would have had; every step is collected through the pipeline's observers.

**Scores, over time.** What the wearer sees at time t is the LED: the label of the last emotion or off
cue at or before t. Each sentence is scored from 1 s after it starts to its end (a second to hear it):

- *correct*: share of that speech time the shown label is the one being said;
- *shown*: share with any label shown; *precision*: share of the shown time it is right;
- *wrong vibrations per minute*: vibrations whose label is not that of the sentence being said (in a
  pause, the sentence just ended; before the first, any), over the streams' minutes;
- *seconds to the correct cue*: from a sentence's start to the first moment its label is shown, before
  the next sentence starts (0 when it is already shown; never, if not by then: the last windows that
  hold a sentence end in the pause after it); the median over all sentences, and over the first
  sentence of each mood run, where the cue has to change. A median of "never" means more than half
  were never cued right;
- *recall* per class over time (neutral's is "neutral shown as neutral").

Times are pooled (summed) over streams, so a long stream weighs more than a short one. Rows: each
condition overall, per corpus, and the test half of the speakers (`split_of`), the only one the
decision sweep did not tune on.

**What the model, and what the loop, costs.** Each window the device judged is given its *truth*:
the label of the sentence that fills most of it (`window_truth`; none for a window of pause). The
*window accuracy* is the share of judged windows with a truth whose top label is it. The *ceiling*
replays the decision layer on the same windows with a classifier that is always right and sure
(its truth at probability 1, a uniform guess where there is none; `ceiling_track`): what these
windows, this detector and these decision settings allow a perfect model, so that a target the
ceiling misses is one no better model could meet without a change to the loop.

**The sweep** (`--sweep`) chooses decision settings (`tonecue.edge.decision.DecisionSettings`). What
the model hears does not depend on them, so each stream goes through the live loop once and the
decision layer (`EmotionSmoother`, then `CuePlanner`: the service's logic after `Listener.hear`) is
replayed on its windows for every setting of a grid; the replay at the config's own settings must
give exactly the live loop's cues, or the sweep stops. Settings are chosen on the tuning half of the
held-out speakers and reported on the test half. At the chosen settings it then sweeps the motor's
own confidence (`CueSettings.vibrate_confidence`, MOTOR_GRID): the LED shows a new emotion at once,
the motor buzzes it only once it is that sure (`choose_motor` says which level is taken).
"""

from __future__ import annotations

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import bisect  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Iterable, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from tonecue.benchmarks.nonspeech import ArraySource  # noqa: E402
from tonecue.edge.audio import load_audio  # noqa: E402
from tonecue.edge.config import Config, load_config  # noqa: E402
from tonecue.edge.cues import CuePlanner, CueSettings  # noqa: E402
from tonecue.edge.decision import DecisionSettings, EmotionSmoother  # noqa: E402
from tonecue.edge.errors import TonecueError, exit_status  # noqa: E402
from tonecue.edge.indicators import NullIndicator  # noqa: E402
from tonecue.edge.machine import describe_machine  # noqa: E402
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel  # noqa: E402
from tonecue.edge.service import Service  # noqa: E402
from tonecue.train.corpus import DEFAULT as LABEL_MAP  # noqa: E402
from tonecue.train.corpus import build_index, parse_name  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("TONECUE_DATA", HERE.parents[1] / "shared" / "data"))
HELD_OUT = HERE / "heldout.json"
RESULTS = HERE / "results"
PRECISION_TIE = 0.03  # precision differences the sweep's tuning half cannot tell apart
TARGETS = {"precision_clean": 0.80, "correct_clean": 0.60, "wrong_vibrations_per_minute": 0.5,
           "precision_noisy": 0.75, "median_seconds_to_correct_cue": 2.0}
SCORE_FROM = 1.0  # seconds after a sentence starts before it is scored
PAUSE = (0.6, 1.6)
RUN = (1, 3)
LEVEL_DBFS = (-35.0, -20.0)
SNR_DB = 10.0
MIN_SHOWN = 0.2  # the least share of speech time with a label shown for a setting to be recommended
CLEAN, NOISY = "clean", "noisy"
# The sweep's grid: the ranges, plus no smoothing and the hold and idle around the defaults.
GRID = {
    "threshold": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "smoothing": (0.3, 0.5, 0.8, 1.0),
    "patience": (1, 2, 3),
    "hold_seconds": (1.0, 2.0, 3.0),
    "idle_seconds": (2.0, 4.0),
}
# The motor's own confidence (CueSettings.vibrate_confidence), swept at the chosen decision settings.
MOTOR_GRID = (0.0, 0.75, 0.8, 0.85, 0.9, 0.95)


class ConversationError(TonecueError, RuntimeError):
    """The benchmark cannot run: its data is missing, or the model and data do not fit."""


class ScoreError(TonecueError, ValueError):
    """A timeline the scorer cannot judge (a sentence labelled outside the model's labels)."""


# --- the timeline and its score ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """One clip in a stream: seconds from the stream's start, and the emotion it was acted with."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class CueEvent:
    """An LED change: at `time` the LED shows `label` (None: off); `vibrate`: the motor played it."""

    time: float
    label: str | None
    vibrate: bool


NONE = "none"  # the confusion's column for "nothing shown"


@dataclass
class Tally:
    """Sums over streams (so that streams pool by time): `confusion[said][shown]` in seconds of
    scored speech, vibrations, minutes, and each sentence's seconds to its correct cue."""

    labels: tuple[str, ...]
    confusion: dict[str, dict[str, float]] = field(default_factory=dict)
    vibrations: int = 0
    wrong_vibrations: int = 0
    minutes: float = 0.0
    latencies: list[float] = field(default_factory=list)
    changes: list[bool] = field(default_factory=list)  # the sentence starts a mood run
    streams: int = 0

    def __add__(self, other: Tally) -> Tally:
        confusion = {said: dict(row) for said, row in self.confusion.items()}
        for said, row in other.confusion.items():
            for shown, seconds in row.items():
                confusion.setdefault(said, {})
                confusion[said][shown] = confusion[said].get(shown, 0.0) + seconds
        return Tally(self.labels, confusion, self.vibrations + other.vibrations,
                     self.wrong_vibrations + other.wrong_vibrations, self.minutes + other.minutes,
                     self.latencies + other.latencies, self.changes + other.changes, self.streams + other.streams)

    def summary(self) -> dict:
        said = {label: sum(self.confusion.get(label, {}).values()) for label in self.labels}
        right = {label: self.confusion.get(label, {}).get(label, 0.0) for label in self.labels}
        total = sum(said.values())
        shown = sum(seconds for row in self.confusion.values() for key, seconds in row.items() if key != NONE)
        changes = [t for t, c in zip(self.latencies, self.changes) if c]
        recall = {label: _ratio(right[label], said[label]) for label in self.labels}
        return {
            "streams": self.streams,
            "minutes": self.minutes,
            "sentences": len(self.latencies),
            "speech_seconds": total,
            "correct": _ratio(sum(right.values()), total),
            "shown": _ratio(shown, total),
            "precision": _ratio(sum(right.values()), shown),
            "vibrations": self.vibrations,
            "wrong_vibrations": self.wrong_vibrations,
            "wrong_vibrations_per_minute": _ratio(self.wrong_vibrations, self.minutes),
            "right_vibrations_per_minute": _ratio(self.vibrations - self.wrong_vibrations, self.minutes),
            "median_seconds_to_correct_cue": _finite(np.median(self.latencies)) if self.latencies else None,
            "median_seconds_to_correct_cue_at_mood_changes": _finite(np.median(changes)) if changes else None,
            "sentences_cued_correctly": _ratio(sum(math.isfinite(t) for t in self.latencies), len(self.latencies)),
            "recall": recall,
            "neutral_as_neutral": recall.get("neutral"),
        }


def summed(tallies: Iterable[Tally], labels: Sequence[str]) -> Tally:
    total = Tally(tuple(labels))
    for tally in tallies:
        total = total + tally
    return total


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _finite(x: float) -> float | None:
    """JSON has no infinity: None stands for "never"."""
    return float(x) if math.isfinite(x) else None


def score(sentences: Sequence[Sentence], events: Sequence[CueEvent], duration: float, labels: Sequence[str],
          score_from: float = SCORE_FROM) -> Tally:
    """One stream's tally: the LED (the last event at or before t) against the sentence being said."""
    labels = tuple(labels)
    outside = sorted({s.label for s in sentences} - set(labels))
    if outside:
        raise ScoreError(f"sentences labelled {outside}, which the model does not have (its labels: {list(labels)})")
    events = sorted(events, key=lambda e: e.time)  # stable: the last of one instant wins
    times = [e.time for e in events]

    def shown_at(t: float) -> str | None:
        i = bisect.bisect_right(times, t) - 1
        return events[i].label if i >= 0 else None

    confusion: dict[str, dict[str, float]] = {}
    latencies, changes = [], []
    previous = None
    deadlines = [s.start for s in sentences[1:]] + [duration]
    for sentence, deadline in zip(sentences, deadlines):
        row = confusion.setdefault(sentence.label, {})
        a, b = sentence.start + score_from, sentence.end
        if b > a:
            cuts = [a] + times[bisect.bisect_right(times, a) : bisect.bisect_left(times, b)] + [b]
            for lo, hi in zip(cuts, cuts[1:]):
                if hi > lo:
                    key = shown_at(lo) or NONE
                    row[key] = row.get(key, 0.0) + (hi - lo)
        if shown_at(sentence.start) == sentence.label:
            latency = 0.0
        else:
            later = [e.time for e in events[bisect.bisect_right(times, sentence.start):]
                     if e.time < deadline and e.label == sentence.label]
            latency = later[0] - sentence.start if later else math.inf
        latencies.append(latency)
        changes.append(sentence.label != previous)
        previous = sentence.label

    starts = [s.start for s in sentences]
    vibrations = wrong = 0
    for event in events:
        if event.vibrate:
            vibrations += 1
            i = bisect.bisect_right(starts, event.time) - 1
            wrong += i < 0 or event.label != sentences[i].label
    return Tally(labels, confusion, vibrations, wrong, duration / 60.0, latencies, changes, 1)


# --- building the conversations ---------------------------------------------------------------------


def speech_span(clip: np.ndarray, rate: int, top_db: float = 40.0) -> tuple[int, int]:
    """(start, end) samples of a clip's speech: from the first to the last 10 ms frame within
    `top_db` of its loudest frame (recorded clips open and close on a second of room)."""
    frame = max(1, rate // 100)
    n = len(clip) // frame
    if n == 0:
        return 0, len(clip)
    power = np.mean(clip[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)
    loud = np.flatnonzero(power >= power.max() * 10 ** (-top_db / 10))
    return int(loud[0] * frame), int(min(len(clip), (loud[-1] + 1) * frame))


def faded(clip: np.ndarray, rate: int, seconds: float = 0.01) -> np.ndarray:
    """A trimmed clip with 10 ms raised-cosine ends: a cut into a sound clicks, and a click carries
    every frequency (it would even pass narrow-band speech off as wide-band to the device)."""
    n = min(int(seconds * rate), len(clip) // 2)
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    out = np.array(clip, dtype=np.float32)
    out[:n] *= ramp
    out[len(out) - n :] *= ramp[::-1]
    return out


def mood_order(labels: Sequence[str], rng: np.random.Generator) -> list[int]:
    """Clip indices in mood runs of RUN sentences, each run another mood than the one before; a
    mood is drawn in proportion to its clips left, so all run out together. It stops when only
    the last run's mood is left (those clips would only lengthen its run)."""
    left = {label: [i for i, x in enumerate(labels) if x == label] for label in dict.fromkeys(labels)}
    for indices in left.values():
        rng.shuffle(indices)
    order, previous = [], None
    while True:
        moods = [m for m, indices in left.items() if indices and m != previous]
        if not moods:
            return order
        weights = np.array([len(left[m]) for m in moods], dtype=float)
        mood = moods[int(rng.choice(len(moods), p=weights / weights.sum()))]
        run = int(rng.integers(RUN[0], RUN[1] + 1))
        order += [left[mood].pop() for _ in range(min(run, len(left[mood])))]
        previous = mood


def converse(clips: Sequence[tuple[np.ndarray, str]], rate: int, rng: np.random.Generator,
             pause: tuple[float, float] = PAUSE) -> tuple[np.ndarray, list[Sentence]]:
    """A conversation from (samples, label) clips: mood runs with pauses before, between and after
    the sentences. Returns the stream and its sentences."""
    order = mood_order([label for _, label in clips], rng)
    pieces, sentences, position = [], [], 0
    for i in order:
        gap = int(rng.uniform(*pause) * rate)
        samples, label = clips[i]
        pieces += [np.zeros(gap, dtype=np.float32), np.asarray(samples, dtype=np.float32)]
        position += gap
        sentences.append(Sentence(position / rate, (position + len(samples)) / rate, label))
        position += len(samples)
    pieces.append(np.zeros(int(rng.uniform(*pause) * rate), dtype=np.float32))
    return np.concatenate(pieces), sentences


def speech_mask(sentences: Sequence[Sentence], n: int, rate: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for s in sentences:
        mask[round(s.start * rate) : round(s.end * rate)] = True
    return mask


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def add_noise(signal: np.ndarray, sentences: Sequence[Sentence], rate: int, noise: np.ndarray, snr_db: float,
              rng: np.random.Generator) -> np.ndarray:
    """`signal` with `noise` behind it (looped from a random point) at `snr_db` over the speech;
    the mix is scaled down as a whole if it would clip."""
    speech = _rms(signal[speech_mask(sentences, len(signal), rate)])
    background = np.take(noise, int(rng.integers(0, len(noise))) + np.arange(len(signal)), mode="wrap")
    gain = speech / max(_rms(background), 1e-12) / 10 ** (snr_db / 20)
    mixed = signal.astype(np.float64) + gain * background
    peak = np.abs(mixed).max()
    return (mixed * (min(1.0, 0.99 / peak) if peak > 0 else 1.0)).astype(np.float32)


def split_of(speakers: Sequence[dict]) -> dict[str, str]:
    """Held-out speakers into a test half and a tuning half: within each corpus, in the file's
    order, alternately test, tuning, test... (a corpus with one speaker is test only)."""
    seen: dict[str, int] = {}
    split = {}
    for speaker in speakers:
        k = seen.get(corpus_of(speaker), 0)
        seen[corpus_of(speaker)] = k + 1
        split[speaker["name"]] = "test" if k % 2 == 0 else "tuning"
    return split


def corpus_of(speaker: dict) -> str:
    """The corpus of a heldout.json speaker, from its corpus-index id ("crema:1003" -> "crema")."""
    return speaker["id"].split(":", 1)[0]


def held_out_speakers() -> list[dict]:
    return json.loads(HELD_OUT.read_text())["speakers"]


@dataclass
class Stream:
    """One speaker's conversation, clean and noisy, at the model's rate."""

    speaker: str
    corpus: str
    split: str
    rate: int
    signals: dict[str, np.ndarray]
    sentences: list[Sentence]
    skipped_clips: int = 0

    @property
    def seconds(self) -> float:
        return len(self.signals[CLEAN]) / self.rate


def esc_fold_5(data: Path, rate: int) -> np.ndarray:
    folder = data / "noise" / "esc10"
    files = sorted(folder.glob("*/5-*.ogg"))
    if not files:
        raise ConversationError(f"no ESC-10 fold 5 clips (*/5-*.ogg) under {folder} (set TONECUE_DATA or --data)")
    return np.concatenate([load_audio(f, rate) for f in files])


def build_streams(data: Path, model: EmotionModel, seed: int, snr_db: float = SNR_DB,
                  noisy: bool = True) -> list[Stream]:
    """Every held-out speaker's stream (see the module docstring), drawn from `seed`."""
    rate = model.contract.spec.sample_rate
    noise = esc_fold_5(data, rate) if noisy else None
    speakers = held_out_speakers()
    split = split_of(speakers)
    streams = []
    for number, speaker in enumerate(speakers):
        files = sorted((data / speaker["folder"]).glob(speaker["glob"]))
        if not files:
            raise ConversationError(f"no clips for held-out speaker {speaker['name']} "
                                    f"({speaker['glob']} under {data / speaker['folder']})")
        clips, skipped = [], 0
        for path in files:
            label = LABEL_MAP.label_of(parse_name(path.name).emotion)
            if label not in model.labels:
                skipped += 1
                continue
            audio = load_audio(path, rate)
            clips.append((faded(audio[slice(*speech_span(audio, rate))], rate), label))
        if not clips:
            raise ConversationError(f"{speaker['name']}: none of its {len(files)} clips is one of the model's "
                                    f"labels {list(model.labels)}")
        rng = np.random.default_rng([seed, number])
        signal, sentences = converse(clips, rate, rng)
        gain = 10 ** (rng.uniform(*LEVEL_DBFS) / 20) / max(_rms(signal[speech_mask(sentences, len(signal), rate)]), 1e-12)
        signal = signal * min(gain, 0.99 / max(float(np.abs(signal).max()), 1e-12))
        signals = {CLEAN: signal.astype(np.float32)}
        if noise is not None:
            signals[NOISY] = add_noise(signals[CLEAN], sentences, rate, noise, snr_db, rng)
        streams.append(Stream(speaker["name"], corpus_of(speaker), split[speaker["name"]], rate, signals, sentences,
                              skipped))
    return streams


# --- the live loop and its decision replay ------------------------------------------------------------


@dataclass
class Track:
    """What the model heard, window by window: each window's stream time and its probabilities
    (a row of NaN where nothing was judged). The decision layer needs nothing else."""

    times: np.ndarray
    probabilities: np.ndarray

    def windows(self) -> Iterable[tuple[float, np.ndarray | None]]:
        for t, p in zip(self.times.tolist(), self.probabilities):
            yield t, (None if np.isnan(p[0]) else p)


@dataclass
class Live:
    events: list[CueEvent]
    track: Track
    windows: int
    band_limited: bool
    cpu_seconds: float


def _event(cue, now: float) -> CueEvent | None:
    if cue is None or cue.kind not in ("emotion", "unsure", "off"):  # "unsure" shows no label
        return None
    return CueEvent(now, cue.label if cue.kind == "emotion" else None, bool(cue.vibrate))


def live_loop(model: EmotionModel, config: Config, signal: np.ndarray) -> Live:
    """Replay `signal` through the real service loop; its LED changes and what it heard.

    The service's clock stands still, so stream time starts at 0 (the device's epoch at the start
    of a stream) and every time is seconds of audio heard."""
    rate = model.contract.spec.sample_rate
    service = Service(config, model, NullIndicator(), lambda: ArraySource(signal, rate), clock=lambda: 0.0)
    steps = []
    service.pipeline.observers.append(steps.append)
    cpu = time.process_time()
    service.run()
    cpu = time.process_time() - cpu
    events = [e for e in (_event(s.cue, s.decision.time) for s in steps) if e is not None]
    k = len(model.labels)
    probabilities = np.array([s.heard.probabilities if s.heard.probabilities is not None else np.full(k, np.nan)
                              for s in steps], dtype=np.float64).reshape(len(steps), k)
    track = Track(np.array([s.decision.time for s in steps]), probabilities)
    return Live(events, track, len(steps), any(s.heard.band_limited for s in steps), cpu)


def replay(labels: Sequence[str], track: Track, decision: DecisionSettings, cues: CueSettings) -> list[CueEvent]:
    """The LED changes the live loop would have made with `decision`: the pipeline's steps after
    `Listener.hear` (smoother, then cue planner) on the windows it heard."""
    smoother = EmotionSmoother(labels, decision)
    planner = CuePlanner(cues, labels)
    events = []
    for now, p in track.windows():
        event = _event(planner.plan(smoother.update(p, now), now), now)
        if event is not None:
            events.append(event)
    return events


# --- the benchmark ----------------------------------------------------------------------------------


def window_truth(times: np.ndarray, sentences: Sequence[Sentence], window_seconds: float,
                 labels: Sequence[str]) -> np.ndarray:
    """For each window ending at `times[i]`: the index in `labels` of the sentence that fills most
    of it (the later one on a tie), or -1 where no sentence reaches into it."""
    labels = list(labels)
    starts = np.array([s.start for s in sentences])
    ends = np.array([s.end for s in sentences])
    truth = np.full(len(times), -1, dtype=np.int64)
    for i, t in enumerate(np.asarray(times, dtype=np.float64)):
        overlap = np.minimum(ends, t) - np.maximum(starts, t - window_seconds)
        if len(overlap) and overlap.max() > 0:
            best = np.flatnonzero(overlap == overlap.max())[-1]
            truth[i] = labels.index(sentences[best].label)
    return truth


def ceiling_track(track: Track, truth: np.ndarray) -> Track:
    """The windows `track` judged, each as a classifier that is always right and sure would judge
    it: probability 1 for its truth, a uniform guess where it has none; unjudged windows stay so."""
    k = track.probabilities.shape[1]
    probabilities = np.where(np.isnan(track.probabilities), np.nan, 1.0 / k)
    judged = ~np.isnan(track.probabilities[:, 0]) & (truth >= 0)
    probabilities[judged] = 0.0
    probabilities[np.flatnonzero(judged), truth[judged]] = 1.0
    return Track(track.times, probabilities)


def window_hits(track: Track, truth: np.ndarray) -> tuple[int, int]:
    """(judged windows with a truth, those whose top label is it)."""
    judged = ~np.isnan(track.probabilities[:, 0]) & (truth >= 0)
    return int(judged.sum()), int((track.probabilities[judged].argmax(axis=1) == truth[judged]).sum())


def describe_model(path: Path, model: EmotionModel, data: Path) -> dict:
    """Which model, and whether its contract says it trained on every speaker of a held-out
    corpus (then it heard the held-out ones too)."""
    training = model.contract.training.get("data", {})
    trained = {name: info.get("speakers") for name, info in training.get("corpora", {}).items()}
    available = {}
    for folder in ("ser-en-dev", "crema-d"):
        if (data / folder).is_dir():
            index = build_index(data / folder)
            available.update({c: len(index.speakers(c)) for c in index.corpora})
    heard = sorted(c for c in {corpus_of(s) for s in held_out_speakers()}
                   if trained.get(c) is not None and trained[c] >= available.get(c, math.inf))
    return {
        "path": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "name": model.contract.model_name,
        "labels": list(model.labels),
        "training_speakers": trained,
        "speakers_in_data": available,
        "trained_on_every_speaker_of": heard,
        "required_bandwidth_hz": model.contract.required_bandwidth_hz,
        "detector": model.contract.detector.kind,
    }


def _groups(streams: Sequence[Stream]) -> dict[str, list[int]]:
    groups = {"all": list(range(len(streams)))}
    for corpus in dict.fromkeys(s.corpus for s in streams):
        groups[corpus] = [i for i, s in enumerate(streams) if s.corpus == corpus]
    groups["test half"] = [i for i, s in enumerate(streams) if s.split == "test"]
    return groups


def run_benchmark(model_path: Path, config: Config, data: Path, seed: int, snr_db: float, noisy: bool) -> dict:
    t0 = time.perf_counter()
    model = EmotionModel(model_path, threads=1)
    streams = build_streams(data, model, seed, snr_db, noisy)
    conditions = [CLEAN, NOISY] if noisy else [CLEAN]
    per_stream, rows, cpu, audio_seconds = [], {}, 0.0, 0.0
    tallies: dict[str, list[Tally]] = {c: [] for c in conditions}
    ceilings: dict[str, list[Tally]] = {c: [] for c in conditions}
    hits = {c: [0, 0] for c in conditions}
    window_seconds = model.contract.spec.window_seconds
    for stream in streams:
        entry = {"speaker": stream.speaker, "corpus": stream.corpus, "split": stream.split,
                 "minutes": stream.seconds / 60, "sentences": len(stream.sentences),
                 "skipped_clips": stream.skipped_clips}
        for condition in conditions:
            live = live_loop(model, config, stream.signals[condition])
            tally = score(stream.sentences, live.events, stream.seconds, model.labels)
            tallies[condition].append(tally)
            entry[condition] = {**tally.summary(), "band_limited": live.band_limited}
            truth = window_truth(live.track.times, stream.sentences, window_seconds, model.labels)
            perfect = replay(model.labels, ceiling_track(live.track, truth), config.decision, config.cues)
            ceilings[condition].append(score(stream.sentences, perfect, stream.seconds, model.labels))
            hits[condition] = [a + b for a, b in zip(hits[condition], window_hits(live.track, truth))]
            cpu += live.cpu_seconds
            audio_seconds += stream.seconds
        per_stream.append(entry)
    for condition in conditions:
        rows[condition] = {}
        for group, members in _groups(streams).items():
            total = summed([tallies[condition][i] for i in members], model.labels)
            rows[condition][group] = {**total.summary(), "confusion": total.confusion,
                                      "band_limited_streams": sum(per_stream[i][condition]["band_limited"]
                                                                  for i in members)}
    return {
        "benchmark": "conversation",
        "model": describe_model(model_path, model, data),
        "decision": config.decision.to_dict(),
        "config": str(config.source) if config.source else None,
        "seed": seed,
        "snr_db": snr_db,
        "conditions": conditions,
        "rows": rows,
        "window_accuracy": {c: {"windows": n, "right": right, "accuracy": _ratio(right, n)}
                            for c, (n, right) in hits.items()},
        "ceiling": {c: summed(ceilings[c], model.labels).summary() for c in conditions},
        "streams": per_stream,
        "targets": TARGETS,
        "real_time_factor": cpu / audio_seconds,
        "machine": describe_machine(),
        "wall_seconds": time.perf_counter() - t0,
    }


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _s(x: float | None, unit: str = "") -> str:
    return "never" if x is None else f"{x:.1f}{unit}"


def _condition_name(condition: str, snr_db: float) -> str:
    return "clean" if condition == CLEAN else f"{snr_db:g} dB SNR"


def model_lines(m: dict) -> list[str]:
    lines = [f"Model `{Path(m['path']).name}` ({m['name']}, sha256 `{m['sha256'][:12]}`, labels "
             f"{', '.join(m['labels'])}, detector `{m['detector']}`, bandwidth {m['required_bandwidth_hz']:g} Hz). "
             f"Training speakers in its contract: "
             + (", ".join(f"{c} {n}" for c, n in m["training_speakers"].items()) or "not recorded") + "."]
    if m["trained_on_every_speaker_of"]:
        lines += ["", f"**This model trained on every speaker of {', '.join(m['trained_on_every_speaker_of'])} in the "
                      f"data, so the held-out speakers of that corpus too: its figures there are optimistic.**"]
    return lines


def to_markdown(r: dict) -> str:
    snr = r["snr_db"]
    minutes = sum(s["minutes"] for s in r["streams"])
    d = r["decision"]
    lines = [
        "# Conversation benchmark: the cue as the wearer feels it",
        "",
        *model_lines(r["model"]),
        "",
        f"Decision settings: smoothing {d['smoothing']}, threshold {d['threshold']}, patience {d['patience']}, "
        f"hold {d['hold_seconds']} s, idle {d['idle_seconds']} s ({'config ' + r['config'] if r['config'] else 'the defaults'}). "
        f"Seed {r['seed']}; {len(r['streams'])} streams, one per held-out speaker, {minutes:.1f} minutes, "
        f"{sum(s['sentences'] for s in r['streams'])} sentences, each heard "
        + (f"clean and with ESC-10 fold 5 at {snr:g} dB SNR. " if NOISY in r["conditions"] else "clean. ")
        + f"Real-time factor {r['real_time_factor']:.4f} (one thread, {r['machine']['cpu']}); wall time "
        f"{r['wall_seconds']:.0f} s. Command: `python -m tonecue.benchmarks.conversation --out "
        f"benchmarks/results/conversation`.",
        "",
        "| condition | speakers | streams | min | correct | shown | precision | wrong vibrations / min | "
        "right vibrations / min | median s to correct cue (at mood changes) | sentences cued right | "
        "neutral as neutral |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for condition in r["conditions"]:
        for group, row in r["rows"][condition].items():
            bold = "**" if group == "all" else ""
            limited = f" ({row['band_limited_streams']} band-limited)" if row["band_limited_streams"] else ""
            lines.append(
                f"| {_condition_name(condition, snr)} | {bold}{group}{bold} | {row['streams']}{limited} | "
                f"{row['minutes']:.1f} | {bold}{_f(row['correct'])}{bold} | {_f(row['shown'])} | "
                f"{bold}{_f(row['precision'])}{bold} | {_f(row['wrong_vibrations_per_minute'])} | "
                f"{_f(row['right_vibrations_per_minute'])} | {_s(row['median_seconds_to_correct_cue'])} ({_s(row['median_seconds_to_correct_cue_at_mood_changes'])}) | "
                f"{_f(row['sentences_cued_correctly'])} | {_f(row['neutral_as_neutral'])} |")
    labels = r["model"]["labels"]
    lines += ["", "Recall over time per class (share of its speech time shown as itself), and what was shown "
              "instead, all speakers:", "",
              "| condition | said | recall | " + " | ".join(f"shown {x}" for x in labels) + " | shown nothing |",
              "|---|---|---:|" + "---:|" * (len(labels) + 1)]
    for condition in r["conditions"]:
        row = r["rows"][condition]["all"]
        for said in labels:
            seconds = row["confusion"].get(said, {})
            total = sum(seconds.values())
            shares = [_f(seconds.get(x, 0.0) / total if total else None) for x in labels + [NONE]]
            lines.append(f"| {_condition_name(condition, snr)} | {said} | {_f(row['recall'][said])} | "
                         + " | ".join(shares) + " |")
    t = r["targets"]
    clean = r["rows"][CLEAN]["all"]
    lines += ["", "Against the issue's targets (all held-out speakers):", "",
              f"- precision clean {_f(clean['precision'])} (≥ {t['precision_clean']}), correct clean "
              f"{_f(clean['correct'])} (≥ {t['correct_clean']}), wrong vibrations clean "
              f"{_f(clean['wrong_vibrations_per_minute'])}/min (≤ {t['wrong_vibrations_per_minute']}), median time "
              f"to the correct cue clean {_s(clean['median_seconds_to_correct_cue'], ' s')} (≤ "
              f"{t['median_seconds_to_correct_cue']})"
              + (f"; precision at {snr:g} dB SNR {_f(r['rows'][NOISY]['all']['precision'])} (≥ {t['precision_noisy']})."
                 if NOISY in r["conditions"] else ".")]
    lines += ["", "What the model and what the loop cost (all held-out speakers; see *What the model, and what the "
              "loop, costs* below): the model's accuracy on the windows it judged, and the ceiling, the same "
              "windows and decision settings with a classifier that is always right:", "",
              "| condition | judged windows | window accuracy | ceiling: correct | shown | precision | "
              "wrong vibrations / min | median s to correct cue (at mood changes) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for condition in r["conditions"]:
        w, c = r["window_accuracy"][condition], r["ceiling"][condition]
        lines.append(f"| {_condition_name(condition, snr)} | {w['windows']} | {_f(w['accuracy'])} | {_f(c['correct'])} | "
                     f"{_f(c['shown'])} | {_f(c['precision'])} | {_f(c['wrong_vibrations_per_minute'])} | "
                     f"{_s(c['median_seconds_to_correct_cue'])} ({_s(c['median_seconds_to_correct_cue_at_mood_changes'])}) |")
    lines += ["", "Per stream (correct / shown / precision / wrong vibrations per minute):", "",
              "| speaker | half | min | sentences | " + " | ".join(_condition_name(c, snr) for c in r["conditions"]) + " |",
              "|---|---|---:|---:|" + "---|" * len(r["conditions"])]
    for s in r["streams"]:
        cells = []
        for condition in r["conditions"]:
            x = s[condition]
            cells.append(f"{_f(x['correct'])} / {_f(x['shown'])} / {_f(x['precision'])} / "
                         f"{_f(x['wrong_vibrations_per_minute'])}" + (" (band-limited)" if x["band_limited"] else ""))
        lines.append(f"| {s['speaker']} | {s['split']} | {s['minutes']:.1f} | {s['sentences']} | " + " | ".join(cells) + " |")
    lines += ["", "A stream is *band-limited* when the device found it lacks the frequencies the model needs "
              "(`tonecue.edge.bandwidth`) and judged nothing; it counts as nothing shown. CREMA-D is recorded at "
              f"16 kHz (nothing above 8 kHz), so a model that needs {r['model']['required_bandwidth_hz'] / 1000:g} kHz "
              "refuses it clean; behind wide-band background noise the check may pass and the model judge it.",
              "", "## How it is measured", "",
              __doc__.split("\n\n", 2)[2].strip(), ""]
    return "\n".join(lines)


# --- the sweep --------------------------------------------------------------------------------------


def grid_settings(base: DecisionSettings) -> list[DecisionSettings]:
    keys = list(GRID)
    return [base.override(dict(zip(keys, values))) for values in itertools.product(*GRID.values())]


def choose(rows: list[dict]) -> tuple[int | None, bool]:
    """The recommended setting, judged on the tuning half. Only settings that show a label for at
    least MIN_SHOWN of the speech, clean and in noise, count (below that, precision is measured on
    too little time to mean anything). Of those, the one with the most correct time clean among
    those that reach the precision targets (0.80 clean, 0.75 in noise); if none does, of those
    whose worse margin to them is within PRECISION_TIE of the best (a difference the tuning half
    cannot tell apart), the one with the fewest wrong vibrations, clean and in noise (what a wearer
    feels most). Returns its index (None: no setting shows that much) and whether it met the
    targets."""
    def margin(r):
        return min((r[CLEAN]["precision"] or 0.0) - TARGETS["precision_clean"],
                   (r[NOISY]["precision"] or 0.0) - TARGETS["precision_noisy"])

    def wrong(r):
        return sum(r[c].get("wrong_vibrations_per_minute") or 0.0 for c in (CLEAN, NOISY))

    usable = [i for i, row in enumerate(rows)
              if min(row["tuning"][CLEAN]["shown"] or 0.0, row["tuning"][NOISY]["shown"] or 0.0) >= MIN_SHOWN]
    feasible = [i for i in usable if margin(rows[i]["tuning"]) >= 0]
    if feasible:
        return max(feasible, key=lambda i: (rows[i]["tuning"][CLEAN]["correct"], rows[i]["tuning"][NOISY]["correct"])), True
    if usable:
        best = max(margin(rows[i]["tuning"]) for i in usable)
        near = [i for i in usable if margin(rows[i]["tuning"]) >= best - PRECISION_TIE]
        return min(near, key=lambda i: (wrong(rows[i]["tuning"]), -margin(rows[i]["tuning"]))), False
    return None, False


def choose_motor(rows: list[dict]) -> tuple[int, bool]:
    """The motor's confidence, judged on the tuning half: the lowest of MOTOR_GRID whose wrong
    vibrations are within the target clean and in noise (the lowest keeps the most right buzzes and
    the quickest); if none is, the one with the fewest wrong vibrations. Returns its index and
    whether it met the target."""
    def wrong(r):
        return max(r["tuning"][c]["wrong_vibrations_per_minute"] or 0.0 for c in (CLEAN, NOISY))

    within = [i for i, r in enumerate(rows) if wrong(r) <= TARGETS["wrong_vibrations_per_minute"]]
    if within:
        return min(within, key=lambda i: rows[i]["vibrate_confidence"]), True
    return min(range(len(rows)), key=lambda i: (wrong(rows[i]), rows[i]["vibrate_confidence"])), False


def _brief(summary: dict) -> dict:
    """A sweep row's figures, to 4 decimals (433 settings x 4 pools: the file stays readable)."""
    keys = ("correct", "shown", "precision", "wrong_vibrations_per_minute", "right_vibrations_per_minute",
            "median_seconds_to_correct_cue", "median_seconds_to_correct_cue_at_mood_changes", "neutral_as_neutral")
    return {k: None if summary[k] is None else round(summary[k], 4) for k in keys}


def run_sweep(model_path: Path, config: Config, data: Path, seed: int, snr_db: float) -> dict:
    t0 = time.perf_counter()
    model = EmotionModel(model_path, threads=1)
    streams = build_streams(data, model, seed, snr_db, True)
    tracks, refused = {}, []
    for i, stream in enumerate(streams):
        for condition in (CLEAN, NOISY):
            live = live_loop(model, config, stream.signals[condition])
            if replay(model.labels, live.track, config.decision, config.cues) != live.events:
                raise ConversationError(f"the decision replay no longer cues as the live loop does ({stream.speaker}, "
                                        f"{condition}): the sweep would judge another device")
            # A stream the device refused as band-limited shows nothing whatever the settings: it
            # would only dilute the comparison, so the sweep leaves it out.
            if live.band_limited:
                refused.append(f"{stream.speaker} ({_condition_name(condition, snr_db)})")
            else:
                tracks[i, condition] = live.track
    halves = {half: [i for i, s in enumerate(streams) if s.split == half] for half in ("tuning", "test")}
    settings = grid_settings(config.decision)
    if config.decision not in settings:
        settings.append(config.decision)
    def scored(decision: DecisionSettings, cues: CueSettings) -> dict:
        """{half: {condition: brief summary}} of the tracks replayed with these settings."""
        out = {}
        for half, members in halves.items():
            out[half] = {}
            for condition in (CLEAN, NOISY):
                tallies = [score(streams[i].sentences, replay(model.labels, tracks[i, condition], decision, cues),
                                 streams[i].seconds, model.labels) for i in members if (i, condition) in tracks]
                out[half][condition] = _brief(summed(tallies, model.labels).summary())
        return out

    rows = [{"decision": decision.to_dict(), **scored(decision, config.cues)} for decision in settings]
    best, met = choose(rows)
    base = settings.index(config.decision)
    decided = settings[best if best is not None else base]
    motor = [{"vibrate_confidence": level, **scored(decided, config.cues.override({"vibrate_confidence": level}))}
             for level in MOTOR_GRID]
    motor_chosen, motor_met = choose_motor(motor)
    return {
        "benchmark": "decision sweep",
        "model": describe_model(model_path, model, data),
        "seed": seed,
        "snr_db": snr_db,
        "grid": {k: list(v) for k, v in GRID.items()},
        "halves": {half: [streams[i].speaker for i in members] for half, members in halves.items()},
        "band_limited_left_out": refused,
        "min_shown": MIN_SHOWN,
        "rows": rows,
        "chosen": best,
        "chosen_meets_precision": met,
        "base": base,
        "motor_grid": list(MOTOR_GRID),
        "motor": motor,
        "motor_chosen": motor_chosen,
        "motor_meets_target": motor_met,
        "targets": TARGETS,
        "machine": describe_machine(),
        "wall_seconds": time.perf_counter() - t0,
    }


def plot_sweep(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snr = r["snr_db"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    for ax, half in zip(axes, ("tuning", "test")):
        for condition, colour in ((CLEAN, "tab:blue"), (NOISY, "tab:orange")):
            points = np.array([(row[half][condition]["shown"] or 0.0, row[half][condition]["precision"] or 0.0)
                               for row in r["rows"]])
            ax.scatter(points[:, 0], points[:, 1], s=9, alpha=0.35, color=colour,
                       label=f"{_condition_name(condition, snr)} (every setting)")
            marked = [(r["base"], "X", "defaults")] + ([(r["chosen"], "*", "chosen")] if r["chosen"] is not None else [])
            for index, marker, name in marked:
                x, y = points[index]
                ax.scatter([x], [y], s=160 if marker == "*" else 90, marker=marker, color=colour,
                           edgecolor="black", linewidth=0.8, zorder=3,
                           label=f"{name}, {_condition_name(condition, snr)}")
        ax.axhline(TARGETS["precision_clean"], color="tab:blue", linestyle="--", linewidth=0.8)
        ax.axhline(TARGETS["precision_noisy"], color="tab:orange", linestyle="--", linewidth=0.8)
        if half == "tuning":
            ax.axvline(r["min_shown"], color="grey", linestyle=":", linewidth=0.8)
        names = ", ".join(s.split()[-1] for s in r["halves"][half])
        ax.set_title(f"{half} half ({names})", fontsize=9)
        ax.set_xlabel("shown: share of speech time with a label shown")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision: share of shown time the label is right")
    axes[1].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Decision settings: precision against shown ({len(r['rows'])} settings; "
                 f"model {r['model']['name']} {r['model']['sha256'][:12]})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_markdown(r: dict, image: str) -> str:
    snr = r["snr_db"]
    base = r["rows"][r["base"]]
    chosen = r["rows"][r["chosen"]] if r["chosen"] is not None else None
    motor = r["motor"][r["motor_chosen"]]

    def settings(row):
        d = row["decision"]
        return (f"threshold {d['threshold']}, smoothing {d['smoothing']}, patience {d['patience']}, "
                f"hold {d['hold_seconds']} s, idle {d['idle_seconds']} s")

    def line(name, row, half, condition):
        x = row[half][condition]
        return (f"| {name} | {half} | {_condition_name(condition, snr)} | {_f(x['correct'])} | {_f(x['shown'])} | "
                f"{_f(x['precision'])} | {_f(x['wrong_vibrations_per_minute'])} | "
                f"{_s(x['median_seconds_to_correct_cue'])} ({_s(x['median_seconds_to_correct_cue_at_mood_changes'])}) | "
                f"{_f(x['neutral_as_neutral'])} |")

    t = r["targets"]
    shown = f"a label for at least {r['min_shown']:.0%} of the tuning speech, clean and in noise"
    if chosen is None:
        verdict = f"**No recommendation: no setting of the grid shows {shown}.**"
    elif r["chosen_meets_precision"]:
        verdict = f"**Chosen:** {settings(chosen)}. It reaches both precision targets on the tuning half."
    else:
        verdict = (f"**No setting of the grid that shows {shown} reaches the precision targets.** The closest "
                   f"(of those within {PRECISION_TIE:g} of the best worse margin to them, the fewest wrong vibrations): "
                   f"{settings(chosen)}.")
    lines = [
        "# Decision settings chosen on the conversation benchmark",
        "",
        *model_lines(r["model"]),
        "",
        f"Seed {r['seed']}; {len(r['rows'])} settings (grid: "
        + "; ".join(f"{k} {', '.join(f'{v:g}' for v in vs)}" for k, vs in r["grid"].items())
        + f"); wall time {r['wall_seconds']:.0f} s. Command: `python -m tonecue.benchmarks.conversation --sweep`.",
        "",
        "**Tuning speakers.** The held-out speakers split in two (`split_of`: within each corpus, alternately test "
        f"and tuning): tuning {', '.join(r['halves']['tuning'])}; test {', '.join(r['halves']['test'])}. The "
        "other speakers in ../shared/data were not used: a shipped model trains on them, and a model is "
        "over-confident on the voices it learnt, so thresholds chosen there would be too low for a stranger. "
        "The cost is a small tuning set; the test half's figures are the honest ones."
        + (f" Left out of both halves, as the device refused them as band-limited (they show nothing whatever "
           f"the settings): {', '.join(r['band_limited_left_out'])}." if r["band_limited_left_out"] else ""),
        "",
        f"**Rule.** On the tuning half, among the settings that show {shown} (below that, a precision is "
        f"measured on too little time to mean anything): the most correct speech time, clean, among those with "
        f"precision ≥ {t['precision_clean']} clean and ≥ {t['precision_noisy']} at {snr:g} dB SNR; without one, "
        f"the fewest wrong vibrations among those within {PRECISION_TIE:g} of the best worse precision margin.",
        "",
        verdict + f" Defaults: {settings(base)}.",
        *([] if chosen is None else ["", "In a config file (`tonecue.toml`):", "", "```toml", "[decision]",
                                     *(f"{k} = {v}" for k, v in chosen["decision"].items()), "", "[cues]",
                                     f"vibrate_confidence = {motor['vibrate_confidence']}", "```"]),
        "",
        "| settings | half | condition | correct | shown | precision | wrong vibrations / min | "
        "median s to correct cue (at mood changes) | neutral as neutral |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in ([("chosen", chosen)] if chosen is not None else []) + [("defaults", base)]:
        for half in ("tuning", "test"):
            for condition in (CLEAN, NOISY):
                lines.append(line(name, row, half, condition))
    wanted = t["wrong_vibrations_per_minute"]
    lines += ["", "**The motor.** At the chosen settings (else the defaults), the motor may ask for more "
              "confidence than the LED (`[cues] vibrate_confidence`: a new emotion is lit at once and buzzes "
              "only once its confidence reaches it). Rule: on the tuning half, the lowest level with at most "
              f"{wanted:g} wrong vibrations a minute clean and in noise (it keeps the most right buzzes), else the "
              "one with the fewest. " + (f"**Chosen: {motor['vibrate_confidence']:g}.**" if r["motor_meets_target"]
                                         else f"**None reaches {wanted:g}; the fewest: {motor['vibrate_confidence']:g}.**"),
              "", "| motor confidence | half | condition | right vibrations / min | wrong vibrations / min | "
              "median s to correct cue |", "|---:|---|---|---:|---:|---:|"]
    for row in r["motor"]:
        for half in ("tuning", "test"):
            for condition in (CLEAN, NOISY):
                x = row[half][condition]
                lines.append(f"| {row['vibrate_confidence']:g} | {half} | {_condition_name(condition, snr)} | "
                             f"{_f(x['right_vibrations_per_minute'])} | {_f(x['wrong_vibrations_per_minute'])} | "
                             f"{_s(x['median_seconds_to_correct_cue'])} |")
    lines += ["", f"![precision against shown]({image})", "",
              "Each point is one setting; the dashed lines are the precision targets, the dotted one the least "
              "shown share for a recommendation. Best correct share, "
              "tuning half, clean, for each threshold (the rest of the setting free):", "",
              "| threshold | settings | correct | shown | precision | precision at "
              f"{snr:g} dB |", "|---:|---|---:|---:|---:|---:|"]
    for threshold in r["grid"]["threshold"]:
        candidates = [row for row in r["rows"] if row["decision"]["threshold"] == threshold]
        row = max(candidates, key=lambda x: x["tuning"][CLEAN]["correct"] or 0.0)
        x = row["tuning"][CLEAN]
        lines.append(f"| {threshold:g} | {settings(row)} | {_f(x['correct'])} | {_f(x['shown'])} | "
                     f"{_f(x['precision'])} | {_f(row['tuning'][NOISY]['precision'])} |")
    lines += ["", "## How it is measured", "", __doc__.split("\n\n", 2)[2].strip(), ""]
    return "\n".join(lines)


def to_json(report: dict) -> str:
    """Indented; the sweep's rows as a table (`columns`, then one line of values per setting)."""
    rows = report.get("rows") if isinstance(report.get("rows"), list) else None
    if rows is None:
        return json.dumps(report, indent=1) + "\n"
    columns = list(rows[0]["decision"]) + [f"{half}.{condition}.{key}" for half in ("tuning", "test")
                                           for condition in (CLEAN, NOISY) for key in rows[0][half][condition]]
    values = [list(row["decision"].values()) + [row[half][condition][key] for half in ("tuning", "test")
                                                for condition in (CLEAN, NOISY) for key in row[half][condition]]
              for row in rows]
    text = json.dumps({**report, "columns": columns, "rows": "ROWS"}, indent=1)
    return text.replace('"ROWS"', "[\n  " + ",\n  ".join(json.dumps(v) for v in values) + "\n ]") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tonecue.benchmarks.conversation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="an exported tonecue model (default: the shipped one)")
    parser.add_argument("--config", type=Path, help="a tonecue.toml whose settings the loop runs (default: the built-in ones)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snr", type=float, default=SNR_DB, help="the noisy condition's SNR in dB (default 10)")
    parser.add_argument("--clean-only", action="store_true", help="skip the noisy condition (not with --sweep)")
    parser.add_argument("--sweep", action="store_true", help="choose decision settings (see the module docstring)")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.json (and OUT.png with --sweep); default "
                        "benchmarks/results/conversation, or benchmarks/results/decision-sweep with --sweep")
    args = parser.parse_args(argv)
    if args.sweep and args.clean_only:
        parser.error("--sweep needs the noisy condition: it chooses on both")
    # A band-limited stream is reported in the tables; the device's warning for each is noise here.
    logging.getLogger("tonecue").setLevel(logging.ERROR)
    try:
        config = load_config(args.config) if args.config else Config()
        if args.sweep:
            out = args.out or RESULTS / "decision-sweep"
            report = run_sweep(args.model, config, args.data, args.seed, args.snr)
            plot_sweep(report, out.with_suffix(".png"))
            text = sweep_markdown(report, out.with_suffix(".png").name)
        else:
            out = args.out or RESULTS / "conversation"
            report = run_benchmark(args.model, config, args.data, args.seed, args.snr, not args.clean_only)
            text = to_markdown(report)
    except TonecueError as exc:  # missing data, an unusable model or config: said in one line
        print(f"conversation: {exc}", file=sys.stderr)
        return exit_status(exc)
    print(text)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(to_json(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
