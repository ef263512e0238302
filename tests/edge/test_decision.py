"""The streaming decision: settings, smoothing, threshold, patience, hold and idle, exactly."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tonecue.edge.decision import Decision, DecisionError, DecisionSettings, EmotionSmoother

LABELS = ("angry", "happy", "sad", "neutral")
#: The settings these scenarios were written for (the defaults before the conversation sweep
#: chose threshold 0.7 and patience 1): patience 2 makes every rule below visible.
SCENARIO = DecisionSettings(threshold=0.55, patience=2, smoothing=0.5, hold_seconds=2.0, idle_seconds=4.0)
ANGRY = (0.9, 0.05, 0.03, 0.02)
HAPPY = (0.05, 0.9, 0.03, 0.02)
UNSURE = (0.3, 0.3, 0.2, 0.2)


def run(stream, **settings) -> list[Decision]:
    """Decisions of a stream of (time, probabilities or None)."""
    smoother = EmotionSmoother(LABELS, SCENARIO.override(settings))
    return [smoother.update(p, t) for t, p in stream]


def labels(decisions) -> list:
    return [d.label for d in decisions]


# ------------------------------------------------------------------------------------ settings


def test_default_settings():
    s = DecisionSettings()
    assert (s.smoothing, s.threshold, s.patience, s.hold_seconds, s.idle_seconds) == (0.8, 0.7, 1, 1.0, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.threshold = 0.9


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("smoothing", 0.0, "smoothing must be in"),
        ("smoothing", 1.5, "smoothing must be in"),
        ("threshold", -0.1, "threshold must be a probability"),
        ("threshold", 1.01, "threshold must be a probability"),
        ("threshold", "high", "threshold must be a finite number"),
        ("threshold", float("nan"), "threshold must be a finite number"),
        ("patience", 0, "patience must be at least 1"),
        ("patience", 1.5, "patience must be a whole number"),
        ("patience", True, "patience must be a whole number"),
        ("hold_seconds", -1, "hold_seconds must be >= 0"),
        ("idle_seconds", 0, "idle_seconds must be > 0"),
        ("idle_seconds", None, "idle_seconds must be a finite number"),
    ],
)
def test_settings_are_validated(field, value, message):
    with pytest.raises(DecisionError, match=message):
        DecisionSettings(**{field: value})


def test_settings_round_trip_and_normalise_types():
    s = DecisionSettings(smoothing=1, threshold=0.7, patience=3, hold_seconds=1, idle_seconds=10)
    assert isinstance(s.smoothing, float) and isinstance(s.hold_seconds, float)
    assert s.to_dict() == {"smoothing": 1.0, "threshold": 0.7, "patience": 3, "hold_seconds": 1.0, "idle_seconds": 10.0}
    assert DecisionSettings.from_dict(s.to_dict()) == s
    assert DecisionSettings.from_dict({}) == DecisionSettings()
    with pytest.raises(DecisionError, match=r"decision settings: unknown key 'thresold' \(did you mean 'threshold'\?\)"):
        DecisionSettings.from_dict({"thresold": 0.5})
    assert DecisionSettings(threshold=0.7).override({"patience": 3}) == DecisionSettings(threshold=0.7, patience=3)
    with pytest.raises(DecisionError, match="patience must be at least 1"):
        DecisionSettings().override({"patience": 0})


def test_smoother_checks_its_inputs():
    with pytest.raises(DecisionError, match="distinct"):
        EmotionSmoother(["a", "a"])
    with pytest.raises(DecisionError, match="non-empty"):
        EmotionSmoother([])
    smoother = EmotionSmoother(LABELS, SCENARIO)
    with pytest.raises(DecisionError, match="expected 4 probabilities"):
        smoother.update([0.5, 0.5], 0.0)
    with pytest.raises(DecisionError, match="finite and non-negative"):
        smoother.update([0.5, float("nan"), 0.2, 0.3], 0.0)
    with pytest.raises(DecisionError, match="finite and non-negative"):
        smoother.update([1.2, -0.2, 0.0, 0.0], 0.0)
    with pytest.raises(DecisionError, match="sum to zero"):
        smoother.update([0, 0, 0, 0], 0.0)
    with pytest.raises(DecisionError, match="finite time"):
        smoother.update(None, float("inf"))
    smoother.update(None, 5.0)
    with pytest.raises(DecisionError, match="time went backwards"):
        smoother.update(None, 4.0)
    smoother.reset()
    smoother.update(None, 0.0)  # a reset stream may start its clock again


# ------------------------------------------------------------------------------------ behaviour


def test_smoothing_is_an_exponential_average_of_voiced_windows():
    smoother = EmotionSmoother(LABELS, DecisionSettings(smoothing=0.25))
    first = smoother.update([1, 0, 0, 0], 0.0)
    assert first.probabilities == (1.0, 0.0, 0.0, 0.0)  # the first window starts the average
    smoother.update(None, 0.5)  # an unvoiced window does not enter the average
    second = smoother.update([0, 1, 0, 0], 1.0)
    assert second.probabilities == pytest.approx((0.75, 0.25, 0.0, 0.0))
    third = smoother.update([0, 1, 0, 0], 1.5)
    assert third.probabilities == pytest.approx((0.5625, 0.4375, 0.0, 0.0))
    assert third.as_dict() == pytest.approx({"angry": 0.5625, "happy": 0.4375, "sad": 0.0, "neutral": 0.0})


def test_probabilities_are_normalised():
    d = EmotionSmoother(LABELS, DecisionSettings(patience=1)).update([2, 1, 1, 0], 0.0)
    assert d.probabilities == pytest.approx((0.5, 0.25, 0.25, 0.0))


def test_patience_then_change_with_confidence():
    ds = run([(0.0, ANGRY), (0.5, ANGRY), (1.0, ANGRY)])
    assert labels(ds) == [None, "angry", "angry"]
    assert [d.changed for d in ds] == [False, True, False]
    assert ds[1].confidence == pytest.approx(0.9)
    assert ds[0].confidence == 0.0 and ds[0].voiced
    assert ds[1].labels == LABELS and ds[1].time == 0.5


def test_patience_one_changes_at_once():
    assert labels(run([(0.0, ANGRY)], patience=1)) == ["angry"]


def test_a_single_stray_window_changes_nothing():
    stream = [(0.0, ANGRY), (0.5, ANGRY)] + [(t, ANGRY) for t in (1.0, 1.5, 2.0, 2.5)]
    stream += [(3.0, HAPPY), (3.5, ANGRY), (4.0, ANGRY)]  # one happy window among angry ones
    assert set(labels(run(stream, smoothing=1.0))[1:]) == {"angry"}


def test_unvoiced_windows_neither_count_nor_break_a_run():
    ds = run([(0.0, ANGRY), (0.5, None), (1.0, None), (1.5, ANGRY)])
    assert labels(ds) == [None, None, None, "angry"]
    assert not ds[1].voiced and ds[3].changed


def test_below_threshold_shows_nothing():
    ds = run([(t / 2, UNSURE) for t in range(10)])
    assert labels(ds) == [None] * 10
    assert ds[-1].probabilities == pytest.approx(UNSURE)


def test_confidence_falling_below_threshold_returns_to_nothing_after_patience_and_hold():
    stream = [(0.0, ANGRY), (0.5, ANGRY)] + [(1.0 + 0.5 * i, UNSURE) for i in range(8)]
    ds = run(stream, smoothing=1.0)
    # Shown at 0.5; unsure windows vote for nothing from 1.0 on, but the hold keeps angry until 2.5.
    shown = [d.time for d in ds if d.label == "angry"]
    assert shown == [0.5, 1.0, 1.5, 2.0]
    assert ds[5].time == 2.5 and ds[5].label is None and ds[5].changed
    assert ds[2].confidence == pytest.approx(0.3)  # held below threshold: the cue dims


def test_hold_delays_a_change_until_it_has_passed():
    stream = [(0.0, ANGRY), (0.5, ANGRY), (1.0, HAPPY), (1.5, HAPPY), (2.0, HAPPY), (2.5, HAPPY)]
    ds = run(stream, smoothing=1.0, hold_seconds=1.8)
    assert labels(ds) == [None, "angry", "angry", "angry", "angry", "happy"]
    # Patience was met at 1.5; the hold (shown at 0.5, 1.8 s) released the change at 2.5.
    assert [d.time for d in ds if d.changed] == [0.5, 2.5]


def test_idle_returns_to_nothing_and_forgets_the_average():
    stream = [(0.0, ANGRY), (0.5, ANGRY)] + [(0.5 + 0.5 * i, None) for i in range(1, 10)]
    ds = run(stream)
    idle_at = [d.time for d in ds if d.changed and d.label is None]
    assert idle_at == [4.5]  # 4 s after the last voiced window at 0.5
    assert ds[-1].probabilities == (0.0, 0.0, 0.0, 0.0)
    # The next utterance is judged on its own, not averaged with the old one.
    smoother = EmotionSmoother(LABELS, SCENARIO)
    for t, p in stream:
        smoother.update(p, t)
    assert smoother.update(HAPPY, 6.0).probabilities == pytest.approx(HAPPY)


def test_a_gap_without_any_windows_counts_as_idle():
    smoother = EmotionSmoother(LABELS, SCENARIO)
    smoother.update(ANGRY, 0.0)
    assert smoother.update(ANGRY, 0.5).label == "angry"
    d = smoother.update(HAPPY, 30.0)  # the loop stalled: no unvoiced windows were fed
    assert d.label is None and d.changed and d.probabilities == pytest.approx(HAPPY)


def test_idle_respects_the_hold():
    ds = run([(0.0, ANGRY), (0.5, ANGRY), (1.5, None), (2.0, None), (3.0, None)], idle_seconds=1.0, hold_seconds=2.0)
    assert labels(ds) == [None, "angry", "angry", "angry", None]


def test_reset_forgets_everything():
    smoother = EmotionSmoother(LABELS, DecisionSettings(patience=1))
    assert smoother.update(ANGRY, 0.0).label == "angry"
    smoother.reset()
    assert smoother.label is None
    d = smoother.update(None, 0.1)
    assert d.label is None and not d.changed and d.probabilities == (0.0,) * 4


# ------------------------------------------------------------------------------------ properties

windows = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),
        st.one_of(st.none(), st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda p: sum(p) > 1e-3)),
    ),
    max_size=60,
)
decision_settings = st.builds(
    DecisionSettings,
    smoothing=st.floats(0.05, 1.0),
    threshold=st.floats(0.0, 1.0),
    patience=st.integers(1, 4),
    hold_seconds=st.floats(0.0, 3.0),
    idle_seconds=st.floats(0.1, 5.0),
)


@settings(max_examples=200, deadline=None)
@given(windows, decision_settings)
def test_invariants_of_any_stream(steps, s):
    t, stream = 0.0, []
    for dt, p in steps:
        t += dt
        stream.append((t, p))
    one, two = EmotionSmoother(LABELS, s), EmotionSmoother(LABELS, s)
    first = [one.update(p, t) for t, p in stream]
    second = [two.update(p, t) for t, p in stream]
    assert first == second  # deterministic

    previous, changed_at = None, None
    for d in first:
        assert d.changed == (d.label != previous)
        assert d.label is None or d.label in LABELS
        assert 0.0 <= d.confidence <= 1.0 + 1e-12
        if d.changed:
            if previous is not None:
                assert d.time - changed_at >= s.hold_seconds - 1e-9  # a shown emotion is held
            if d.label is not None:
                assert d.voiced and d.confidence >= s.threshold - 1e-12  # shown only when sure
                assert d.confidence == max(d.probabilities)
            changed_at = d.time
        previous = d.label
