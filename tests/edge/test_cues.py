"""Cues as data: default patterns, settings, brightness, the motor's cooldown, the error cue."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from tonecue.edge.cues import (
    DEFAULT_PATTERNS,
    Cue,
    CueError,
    CuePattern,
    CuePlanner,
    CueSettings,
    error_cue,
    generated_pattern,
)
from tonecue.edge.decision import Decision

LABELS = ("angry", "happy", "sad", "neutral")


def decision(label, confidence=0.9, time=0.0, labels=LABELS, voiced=None) -> Decision:
    """A decision; by default voiced exactly when it shows an emotion (no label: nobody talks)."""
    voiced = label is not None if voiced is None else voiced
    return Decision(label, confidence if label else 0.0, (0.0,) * len(labels), False, time, voiced, labels)


def feel(rhythm) -> tuple[int, float]:
    """What a wearer feels first: the number of pulses and how long the rhythm lasts."""
    return len(rhythm), round(sum(on + off for on, off in rhythm), 2)


# ------------------------------------------------------------------------------------ patterns


def test_default_patterns_tell_the_four_emotions_apart_without_looking():
    assert set(DEFAULT_PATTERNS) == set(LABELS)
    felt = {label: feel(p.rhythm) for label, p in DEFAULT_PATTERNS.items()}
    assert felt["angry"][0] == 3 and felt["happy"][0] == 2
    assert felt["sad"] == (1, 1.0) and felt["neutral"] == (1, 0.1)
    assert len(set(felt.values())) == 4
    assert len({p.color for p in DEFAULT_PATTERNS.values()}) == 4
    for p in DEFAULT_PATTERNS.values():  # pulses a coin motor can render, gaps a wearer can feel
        assert all(on >= 0.08 for on, _ in p.rhythm)
        assert all(off >= 0.08 for _, off in p.rhythm[:-1])
    # angry is the fastest: its pulses and gaps are the shortest of the multi-pulse rhythms
    assert max(DEFAULT_PATTERNS["angry"].rhythm[0]) < min(DEFAULT_PATTERNS["happy"].rhythm[0])


def test_pattern_parsing():
    p = CuePattern("#FF8000", [[0.1, 0.2], [0.3, 0]])
    assert p.color == (255, 128, 0) and p.rhythm == ((0.1, 0.2), (0.3, 0.0))
    assert CuePattern([1, 2, 3], ()).color == (1, 2, 3)
    assert CuePattern.from_dict(p.to_dict()) == p
    assert p.to_dict() == {"color": "#ff8000", "rhythm": [[0.1, 0.2], [0.3, 0.0]]}
    for bad_color in ("red", "#ff80", [256, 0, 0], [1, 2], [1.5, 2, 3], [True, 0, 0]):
        with pytest.raises(CueError, match="color must be"):
            CuePattern(bad_color, ())
    for bad_rhythm in ("fast", [0.1, 0.2], [[0.1]], [[0, 0.1]], [[0.1, -0.1]], [["a", 0.1]], [[5.0, 1.0]]):
        with pytest.raises(CueError, match="rhythm"):
            CuePattern("#ffffff", bad_rhythm)
    with pytest.raises(CueError, match=r"cue pattern: unknown key 'speed'; .* only \['color', 'rhythm'\]"):
        CuePattern.from_dict({"color": "#ffffff", "rhythm": [], "speed": 2})
    with pytest.raises(CueError, match=r"cue pattern needs \['rhythm'\]"):
        CuePattern.from_dict({"color": "#ffffff"})
    with pytest.raises(CueError, match="cue pattern must be a table"):
        CuePattern.from_dict("#ffffff")


def test_generated_patterns_differ_from_each_other_and_from_those_in_use():
    used = list(DEFAULT_PATTERNS.values())
    made = []
    for i in range(8):
        made.append(generated_pattern(i, used + made))
    rhythms = [p.rhythm for p in used + made]
    assert len(set(rhythms)) == len(rhythms)
    assert len({p.color for p in made}) == len(made)


def test_unknown_labels_get_a_generated_pattern_with_a_warning(caplog):
    settings = CueSettings()
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.cues"):
        patterns = settings.patterns_for(["angry", "calm", "fearful"])
    assert list(patterns) == ["angry", "calm", "fearful"]
    assert patterns["angry"] == DEFAULT_PATTERNS["angry"]
    assert "'calm'" in caplog.text and "'fearful'" in caplog.text and "[cues.patterns.calm]" in caplog.text
    assert len({p.rhythm for p in patterns.values()}) == 3
    assert patterns == settings.patterns_for(["angry", "calm", "fearful"])  # deterministic


def test_labels_that_vibrate_alike_are_warned_about(caplog):
    settings = CueSettings(patterns={"a": CuePattern("#ff0000", [[0.1, 0]]), "b": CuePattern("#00ff00", [[0.1, 0]])})
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.cues"):
        settings.patterns_for(["a", "b"])
    assert "vibrate alike" in caplog.text


# ------------------------------------------------------------------------------------ settings


def test_settings_defaults_validation_and_round_trip():
    s = CueSettings()
    assert s.pattern_map == DEFAULT_PATTERNS
    assert (s.min_brightness, s.max_brightness, s.cooldown_seconds) == (0.15, 1.0, 3.0)
    assert s.error_color == (255, 128, 0) and s.error_blink == (0.5, 1.5)
    assert CueSettings.from_dict(s.to_dict()) == s
    assert hash(s) == hash(CueSettings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.cooldown_seconds = 0
    for bad, message in [
        ({"min_brightness": 0.8, "max_brightness": 0.5}, "min_brightness <= max_brightness"),
        ({"max_brightness": 1.2}, "max_brightness"),
        ({"cooldown_seconds": -1}, "cooldown_seconds must be >= 0"),
        ({"cooldown_seconds": "3"}, "cooldown_seconds must be a finite number"),
        ({"brightness_step": 0}, "brightness_step"),
        ({"error_color": "amber"}, "error_color must be"),
        ({"error_blink": [0.5]}, "error_blink must be"),
        ({"error_blink": [0.5, 0]}, "error_blink must be"),
        ({"patterns": {"x": {"color": "#fff", "rhythm": []}}}, "patterns.x: color must be"),
    ]:
        with pytest.raises(CueError, match=message):
            CueSettings(**bad)


def test_from_dict_adds_patterns_to_the_defaults():
    s = CueSettings.from_dict(
        {"patterns": {"calm": {"color": "#00ff80", "rhythm": [[0.3, 0.3], [0.3, 0]]}, "sad": {"color": "#0000ff", "rhythm": [[0.8, 0]]}}}
    )
    assert set(s.pattern_map) == set(LABELS) | {"calm"}
    assert s.pattern_map["sad"].rhythm == ((0.8, 0.0),)
    assert s.pattern_map["angry"] == DEFAULT_PATTERNS["angry"]
    with pytest.raises(CueError, match=r"cue settings: unknown key 'cooldown' \(did you mean 'cooldown_seconds'\?\)"):
        CueSettings.from_dict({"cooldown": 2})
    with pytest.raises(CueError, match="patterns must be a table"):
        CueSettings.from_dict({"patterns": ["angry"]})


def test_a_built_in_label_may_change_only_its_colour_or_only_its_rhythm():
    s = CueSettings.from_dict({"patterns": {"sad": {"color": "#8000ff"}, "happy": {"rhythm": [[0.3, 0]]}}})
    assert s.pattern_map["sad"] == CuePattern("#8000ff", DEFAULT_PATTERNS["sad"].rhythm)
    assert s.pattern_map["happy"] == CuePattern(DEFAULT_PATTERNS["happy"].color, [[0.3, 0]])
    assert s.pattern_map["angry"] == DEFAULT_PATTERNS["angry"]
    # A new label has nothing to fill in from, and what it gives is still checked.
    with pytest.raises(CueError, match=r"patterns.calm: cue pattern needs \['rhythm'\] \('calm' has no built-in pattern"):
        CueSettings.from_dict({"patterns": {"calm": {"color": "#00ff80"}}})
    with pytest.raises(CueError, match="patterns.sad: color must be"):
        CueSettings.from_dict({"patterns": {"sad": {"color": "purple"}}})
    with pytest.raises(CueError, match="patterns.sad: cue pattern: unknown key 'colour' \\(did you mean 'color'\\?\\)"):
        CueSettings.from_dict({"patterns": {"sad": {"colour": "#8000ff"}}})


def test_brightness_follows_confidence_between_min_and_max():
    s = CueSettings(min_brightness=0.2, max_brightness=0.8)
    assert s.brightness(0.0) == pytest.approx(0.2)
    assert s.brightness(0.5) == pytest.approx(0.5)
    assert s.brightness(1.0) == pytest.approx(0.8)
    assert s.brightness(1.5) == pytest.approx(0.8)  # clipped


def test_cue_rgb_is_the_colour_scaled_by_brightness():
    cue = Cue(kind="emotion", label="happy", color=(255, 200, 0), brightness=0.5)
    assert cue.rgb == pytest.approx((0.5, 200 / 255 * 0.5, 0.0))
    assert Cue(kind="off", color=(255, 0, 0), brightness=1.0).rgb == (0.0, 0.0, 0.0)
    assert Cue(kind="emotion", color=(255, 255, 255), brightness=1.0).rgb == (1.0, 1.0, 1.0)


def test_error_cue_blinks_amber_and_never_vibrates():
    cue = error_cue("no microphone")
    assert cue.kind == "error" and cue.message == "no microphone"
    assert cue.color == (255, 128, 0) and cue.blink == (0.5, 1.5)
    assert cue.rhythm == () and not cue.vibrate
    assert error_cue("x", CueSettings(error_color="#ff0000", error_blink=[1, 1])).blink == (1.0, 1.0)


# ------------------------------------------------------------------------------------ planner


def test_a_cue_only_on_a_change():
    planner = CuePlanner()
    first = planner.plan(decision(None), 0.0)
    assert first.kind == "off"  # the initial state is sent once
    assert planner.plan(decision(None), 0.5) is None
    angry = planner.plan(decision("angry", 0.9), 1.0)
    assert angry.kind == "emotion" and angry.label == "angry" and angry.vibrate
    assert angry.rhythm == DEFAULT_PATTERNS["angry"].rhythm and angry.color == (255, 0, 0)
    assert angry.brightness == pytest.approx(0.15 + 0.85 * 0.9) and angry.time == 1.0
    assert planner.plan(decision("angry", 0.92), 1.5) is None  # small confidence moves: nothing
    off = planner.plan(decision(None), 3.5)  # 2 s after the last voiced window
    assert off.kind == "off" and off.rhythm == ()


def test_a_voice_without_a_confident_emotion_glows_dimly_and_never_buzzes():
    planner = CuePlanner(CueSettings(unsure_hold_seconds=1.5))
    assert planner.plan(decision(None), 0.0).kind == "off"
    unsure = planner.plan(decision(None, voiced=True), 0.5)
    assert unsure.kind == "unsure" and not unsure.vibrate and unsure.rhythm == ()
    assert unsure.rgb == pytest.approx((0.05, 0.05, 0.05))  # a dim white glow
    assert planner.plan(decision(None), 1.5) is None  # a pause between words: still a voice
    assert planner.plan(decision(None), 2.5).kind == "off"  # 2 s without one: nobody talks
    assert planner.plan(decision("neutral", voiced=True), 3.0).kind == "emotion"  # neutral is an answer
    with pytest.raises(CueError, match="unsure_brightness must be in"):
        CueSettings(unsure_brightness=2.0)


def test_brightness_updates_without_vibration():
    planner = CuePlanner(CueSettings(brightness_step=0.1))
    planner.plan(decision("sad", 0.9), 0.0)
    dimmer = planner.plan(decision("sad", 0.7), 0.5)  # brightness falls by 0.17
    assert dimmer is not None and not dimmer.vibrate and dimmer.rhythm == ()
    assert dimmer.pattern == DEFAULT_PATTERNS["sad"].rhythm  # what the label feels like, for views
    assert dimmer.brightness == pytest.approx(0.15 + 0.85 * 0.7)
    assert planner.plan(decision("sad", 0.65), 1.0) is None  # 0.04 from the last one sent


def test_cooldown_defers_the_buzz_of_a_change_until_it_ends():
    planner = CuePlanner(CueSettings(cooldown_seconds=3.0))
    assert planner.plan(decision("angry"), 0.0).vibrate
    happy = planner.plan(decision("happy"), 1.0)
    assert happy.label == "happy" and not happy.vibrate  # colour changes at once, motor waits
    assert planner.plan(decision("happy"), 2.5) is None
    late = planner.plan(decision("happy"), 3.0)
    assert late.vibrate and late.label == "happy" and late.rhythm == DEFAULT_PATTERNS["happy"].rhythm
    assert planner.plan(decision("happy"), 3.5) is None  # once


def test_a_deferred_buzz_is_dropped_when_its_emotion_is_gone():
    planner = CuePlanner(CueSettings(cooldown_seconds=3.0))
    planner.plan(decision("angry"), 0.0)
    planner.plan(decision("happy"), 1.0)
    assert planner.plan(decision(None), 2.0).kind == "unsure"  # the voice has just paused
    assert planner.plan(decision(None), 3.0).kind == "off"
    assert planner.plan(decision(None), 3.5) is None


def test_the_motor_never_buzzes_more_often_than_the_cooldown():
    planner = CuePlanner(CueSettings(cooldown_seconds=3.0))
    buzzes = []
    for i in range(60):  # the emotion flips every window, a worst case
        t = 0.5 * i
        cue = planner.plan(decision(LABELS[i % 4]), t)
        if cue is not None and cue.vibrate:
            buzzes.append(t)
    assert buzzes and all(b - a >= 3.0 for a, b in zip(buzzes, buzzes[1:]))


def test_the_same_emotion_back_after_a_pause_lights_without_a_second_buzz():
    planner = CuePlanner(CueSettings(cooldown_seconds=3.0, repeat_seconds=10.0))
    assert planner.plan(decision("angry"), 0.0).vibrate
    planner.plan(decision(None), 2.0)
    planner.plan(decision(None), 4.0)  # off: the voice paused
    back = planner.plan(decision("angry"), 5.0)
    assert back.kind == "emotion" and back.label == "angry" and not back.vibrate
    assert planner.plan(decision("angry"), 9.0) is None  # and no deferred buzz later either
    assert planner.plan(decision("sad"), 9.5).vibrate  # another emotion does buzz
    planner.plan(decision(None), 12.0)
    assert planner.plan(decision("angry"), 14.0).vibrate  # 14 s after angry's own buzz
    again = CuePlanner(CueSettings(repeat_seconds=0.0))
    again.plan(decision("angry"), 0.0)
    again.plan(decision(None), 4.0)
    assert again.plan(decision("angry"), 5.0).vibrate
    with pytest.raises(CueError, match="repeat_seconds must be >= 0"):
        CueSettings(repeat_seconds=-1.0)


def test_the_motor_waits_for_more_confidence_than_the_led():
    planner = CuePlanner(CueSettings(vibrate_confidence=0.85))
    shown = planner.plan(decision("sad", confidence=0.75), 0.0)
    assert shown.kind == "emotion" and shown.label == "sad" and not shown.vibrate  # lit, not felt
    assert planner.plan(decision("sad", confidence=0.8), 0.5) is None
    assert planner.plan(decision("sad", confidence=0.9), 1.0).vibrate  # sure enough now: it buzzes once
    assert planner.plan(decision("sad", confidence=0.95), 1.5) is None
    unsure = planner.plan(decision("happy", confidence=0.7), 5.0)
    assert unsure.label == "happy" and not unsure.vibrate
    assert not planner.plan(decision("angry", confidence=0.8), 6.0).vibrate  # a change that never got sure
    assert planner.plan(decision(None, voiced=True), 6.5).kind == "unsure"
    assert planner.plan(decision("angry", confidence=0.9), 7.0).vibrate  # back, and sure of it
    assert not CuePlanner().plan(decision("sad", confidence=0.75), 0.0).vibrate  # the default asks for 0.9
    assert CuePlanner(CueSettings(vibrate_confidence=0.0)).plan(decision("sad", confidence=0.75), 0.0).vibrate
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(CueError, match="vibrate_confidence must be"):
            CueSettings(vibrate_confidence=bad)


def test_error_then_recovery_restores_the_view_without_a_buzz():
    planner = CuePlanner()
    planner.plan(decision("sad"), 0.0)
    err = planner.error("microphone disappeared", 1.0)
    assert err.kind == "error" and err.message == "microphone disappeared" and not err.vibrate
    back = planner.plan(decision("sad"), 10.0)
    assert back.kind == "emotion" and back.label == "sad" and not back.vibrate
    changed = dataclasses.replace(decision("angry", time=10.5), changed=True)
    planner.error("again", 10.6)
    assert planner.plan(changed, 20.0).vibrate  # a real change after a fault still buzzes


def test_planner_resolves_other_label_sets(caplog):
    labels = ("calm", "angry")
    with caplog.at_level(logging.WARNING, logger="tonecue.edge.cues"):
        cue = CuePlanner().plan(decision("calm", labels=labels), 0.0)
    assert cue.label == "calm" and cue.pattern and "'calm'" in caplog.text
    # and a label seen only in a decision without a label list
    assert CuePlanner().plan(decision("fearful", labels=()), 0.0).pattern
