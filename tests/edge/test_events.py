"""`tonecue run --events`: one JSON line per change, and the demo's closing comparison."""

from __future__ import annotations

import io
import json

import numpy as np

from tonecue.edge.cli import DEMO_CLIP, demo_summary, main
from tonecue.edge.cues import Cue
from tonecue.edge.decision import Decision
from tonecue.edge.events import EventWriter, state_of
from tonecue.edge.listener import Heard
from tonecue.edge.pipeline import Step

LABELS = ("angry", "happy", "sad", "neutral")


def step(t, label=None, voiced=True, vibrate=False, p=(0.7, 0.1, 0.1, 0.1)):
    probs = None if not voiced else np.array(p, dtype=np.float32)
    decision = Decision(label, 0.7 if label else 0.0, tuple(p), False, t, voiced, LABELS)
    cue = Cue(kind="emotion", label=label, vibrate=vibrate) if label else None
    return Step(Heard(0, -30.0, 0.9 if voiced else 0.0, voiced, probs), decision, cue)


def test_a_line_per_change_with_the_documented_keys():
    out = io.StringIO()
    writer = EventWriter(out)
    for s in (step(0.5, voiced=False), step(1.0, voiced=False), step(1.5), step(2.0, "angry", vibrate=True),
              step(2.5, "angry"), step(3.0, "angry", vibrate=True), step(3.5, voiced=False)):
        writer(s)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["time"], e["state"], e["label"], e["vibrated"]) for e in events] == [
        (0.5, "listening", None, False), (1.5, "unsure", None, False), (2.0, "emotion", "angry", True),
        (3.0, "emotion", "angry", True), (3.5, "listening", None, False)]
    assert list(events[2]) == ["time", "state", "label", "confidence", "probabilities", "vibrated"]
    assert events[2]["probabilities"] == {"angry": 0.7, "happy": 0.1, "sad": 0.1, "neutral": 0.1}
    assert events[0]["probabilities"] is None and state_of(step(0, "sad")) == "emotion"


def test_tonecue_run_writes_events_for_the_demo_clip(tmp_path):
    target = tmp_path / "events.jsonl"
    assert main(["run", "--input", str(DEMO_CLIP), "--fast", "--events", str(target)]) == 0
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert events and events[0]["state"] in ("listening", "unsure", "emotion")
    times = [e["time"] for e in events]
    assert times == sorted(times) and times[-1] <= 17.1
    assert {e["state"] for e in events} >= {"listening"}


def test_the_demo_summary_compares_what_was_said_with_what_was_shown():
    utterances = [{"label": "happy", "start": 1.0, "end": 3.0}, {"label": "sad", "start": 5.0, "end": 7.0}]
    steps = [step(t, "happy" if t < 4 else ("angry" if t < 7.5 else None)) for t in np.arange(0.5, 9.0, 0.5)]
    text = demo_summary(utterances, steps)
    assert "happy      happy" in text and "sad        angry   (wrong)" in text
    assert text.endswith("1 of 2 utterances shown as said.")
    # An emotion shown for part of an utterance counts over the stretches that showed nothing.
    late = [step(t, "sad" if t >= 2.5 else None, voiced=t >= 2.5) for t in np.arange(0.5, 5.0, 0.5)]
    assert "sad        sad" in demo_summary([{"label": "sad", "start": 0.5, "end": 3.0}], late)
    quiet = [step(t, None, voiced=False) for t in np.arange(0.5, 5.0, 0.5)]
    assert "sad        nothing" in demo_summary([{"label": "sad", "start": 0.5, "end": 3.0}], quiet)
