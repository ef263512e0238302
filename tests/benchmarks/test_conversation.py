"""The conversation benchmark: its scoring on a hand-made timeline whose answer is known, the
conversations it builds, its noise at a given SNR, its speaker split, its refusal to run without
data, and its decision replay, which must cue exactly as the live service does (on the demo clip)."""

import json
import math

import numpy as np
import pytest

from tonecue.benchmarks import conversation as conv
from tonecue.edge.audio import load_audio
from tonecue.edge.config import Config
from tonecue.edge.decision import DecisionSettings
from tonecue.edge.errors import TonecueError
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel

LABELS = ("angry", "happy", "sad", "neutral")
S, E = conv.Sentence, conv.CueEvent

# Three sentences in a 12 s stream; each is scored from 1 s after its start to its end.
SENTENCES = [S(1.0, 4.0, "angry"), S(5.0, 8.0, "sad"), S(9.0, 11.0, "neutral")]
EVENTS = [
    E(2.5, "angry", True),  # right, 1.5 s after its sentence began
    E(6.5, "happy", True),  # wrong: sad is being said
    E(7.0, None, False),  # LED off
    E(7.5, "sad", True),  # right, 2.5 s after the start
    E(11.5, "neutral", True),  # in the pause after the neutral sentence: its label, so right, 2.5 s after the start
]


def test_scores_a_hand_made_timeline():
    tally = conv.score(SENTENCES, EVENTS, 12.0, LABELS)
    # scored: [2, 4] angry, [6, 8] sad, [10, 11] neutral = 5 s. Shown: angry on [2.5, 4] (right),
    # angry carried over on [6, 6.5), happy [6.5, 7), nothing [7, 7.5), sad [7.5, 8] (right),
    # sad carried over on [10, 11].
    m = tally.summary()
    assert m["speech_seconds"] == pytest.approx(5.0)
    assert m["correct"] == pytest.approx(2.0 / 5.0)
    assert m["shown"] == pytest.approx(4.0 / 5.0)
    assert m["precision"] == pytest.approx(2.0 / 4.0)
    assert m["vibrations"] == 4 and m["wrong_vibrations"] == 1
    assert m["wrong_vibrations_per_minute"] == pytest.approx(1 / 0.2)
    assert tally.latencies == pytest.approx([1.5, 2.5, 2.5])
    assert m["median_seconds_to_correct_cue"] == pytest.approx(2.5)
    assert m["sentences_cued_correctly"] == 1.0
    assert m["recall"] == pytest.approx({"angry": 0.75, "happy": None, "sad": 0.25, "neutral": 0.0})
    assert m["neutral_as_neutral"] == 0.0
    assert tally.confusion["sad"] == pytest.approx({"angry": 0.5, "happy": 0.5, "sad": 0.5, "none": 0.5})
    assert tally.confusion["neutral"] == pytest.approx({"sad": 1.0})


def test_the_last_cue_at_an_instant_is_what_the_led_shows():
    events = [E(1.0, "happy", False), E(1.0, "angry", False)]
    m = conv.score([S(0.0, 3.0, "angry")], events, 3.0, LABELS).summary()
    assert m["correct"] == 1.0 and m["median_seconds_to_correct_cue"] == 1.0


def test_a_label_already_shown_when_its_sentence_starts_is_cued_at_once():
    events = [E(1.0, "sad", True)]
    tally = conv.score([S(0.0, 2.0, "sad"), S(3.0, 5.0, "sad")], events, 6.0, LABELS)
    assert tally.latencies == [1.0, 0.0]
    assert tally.changes == [True, False]  # the second continues a run of the same mood
    m = tally.summary()
    assert m["median_seconds_to_correct_cue_at_mood_changes"] == 1.0


def test_never_cued_sentences_make_the_median_never():
    # sad is shown only once the next sentence has begun: too late for the sad one
    events = [E(3.5, "sad", False), E(4.0, "happy", True)]
    tally = conv.score([S(0.0, 2.0, "sad"), S(3.0, 5.0, "happy")], events, 6.0, LABELS)
    assert tally.latencies == [math.inf, 1.0]
    m = tally.summary()
    assert m["median_seconds_to_correct_cue"] is None  # the median of (never, 1.0) is never
    json.dumps(m)  # and the summary stays plain JSON


def test_a_vibration_before_anyone_spoke_is_wrong():
    m = conv.score([S(2.0, 4.0, "sad")], [E(0.5, "sad", True)], 6.0, LABELS).summary()
    assert m["wrong_vibrations"] == 1


def test_streams_pool_by_time_not_by_mean_of_ratios():
    a = conv.score([S(0.0, 11.0, "angry")], [E(0.0, "angry", False)], 11.0, LABELS)  # 10 s right
    b = conv.score([S(0.0, 3.0, "sad")], [E(0.0, "happy", False)], 3.0, LABELS)  # 2 s wrong
    m = (a + b).summary()
    assert m["speech_seconds"] == pytest.approx(12.0)
    assert m["correct"] == pytest.approx(10 / 12) and m["precision"] == pytest.approx(10 / 12)
    assert m["minutes"] == pytest.approx(14 / 60)
    assert sum([a, b], conv.Tally(LABELS)).summary() == m


def test_a_sentence_labelled_outside_the_model_is_refused():
    with pytest.raises(conv.ScoreError, match="calm") as caught:
        conv.score([S(0.0, 2.0, "calm")], [], 2.0, LABELS)
    assert isinstance(caught.value, TonecueError) and isinstance(caught.value, ValueError)


# --- building conversations ---------------------------------------------------------------------


def _tone_clips(rate, counts):
    rng = np.random.default_rng(1)
    clips = []
    for label, n in counts.items():
        for _ in range(n):
            seconds = rng.uniform(1.0, 2.0)
            t = np.arange(int(seconds * rate)) / rate
            clips.append((0.1 * np.sin(2 * np.pi * 220 * t).astype(np.float32), label))
    return clips


def test_a_conversation_runs_moods_of_one_to_three_sentences_with_the_pauses_asked():
    rate = 8000
    clips = _tone_clips(rate, {"angry": 9, "happy": 9, "sad": 9, "neutral": 5})
    signal, sentences = conv.converse(clips, rate, np.random.default_rng(3))
    runs = [1]
    for before, after in zip(sentences, sentences[1:]):
        pause = after.start - before.end
        assert 0.6 - 1 / rate <= pause <= 1.6 + 1 / rate
        runs[-1:] = [runs[-1] + 1] if after.label == before.label else [runs[-1], 1]
    assert set(runs) <= {1, 2, 3} and len(set(runs)) > 1
    assert len(sentences) >= len(clips) - 3  # at most one run's worth left when a mood ran out alone
    by_length = {len(c): label for c, label in clips}
    for sentence in sentences:  # each span holds one clip, unchanged
        a, b = round(sentence.start * rate), round(sentence.end * rate)
        assert by_length[b - a] == sentence.label
        assert np.abs(signal[a:b]).max() == pytest.approx(0.1, abs=1e-3)
        assert np.abs(signal[a - 10 : a]).max() == 0.0 and np.abs(signal[b : b + 10]).max() == 0.0


def test_the_same_seed_builds_the_same_conversation():
    clips = _tone_clips(8000, {"angry": 3, "sad": 3})
    one = conv.converse(clips, 8000, np.random.default_rng(5))
    two = conv.converse(clips, 8000, np.random.default_rng(5))
    assert np.array_equal(one[0], two[0]) and one[1] == two[1]


def test_noise_is_mixed_at_the_snr_asked_over_the_speech():
    rate = 8000
    signal, sentences = conv.converse(_tone_clips(rate, {"angry": 2, "sad": 2}), rate, np.random.default_rng(0))
    noise = np.random.default_rng(1).standard_normal(3 * rate).astype(np.float32)  # shorter: it loops
    noisy = conv.add_noise(signal, sentences, rate, noise, 10.0, np.random.default_rng(2))
    speech = conv.speech_mask(sentences, len(signal), rate)
    added = noisy.astype(np.float64) - signal
    snr = 10 * np.log10(np.mean(signal[speech].astype(np.float64) ** 2) / np.mean(added**2))
    assert snr == pytest.approx(10.0, abs=0.05)


def test_speech_span_trims_the_silence_around_a_clip():
    rate = 8000
    t = np.arange(rate) / rate
    clip = np.concatenate([1e-5 * np.ones(rate // 2), 0.2 * np.sin(2 * np.pi * 300 * t), np.zeros(rate // 4)])
    a, b = conv.speech_span(clip.astype(np.float32), rate)
    assert abs(a - rate // 2) <= rate // 100 and abs(b - (rate // 2 + rate)) <= rate // 100


def test_held_out_speakers_split_by_corpus_alternately_into_test_and_tuning():
    speakers = [{"name": n, "id": i} for n, i in
                [("r1", "ravdess:01"), ("c1", "crema:1001"), ("r2", "ravdess:02"), ("s1", "savee:JK"), ("c2", "crema:1002")]]
    assert conv.split_of(speakers) == {"r1": "test", "r2": "tuning", "s1": "test", "c1": "test", "c2": "tuning"}


def test_without_data_it_says_which_folder_is_missing(tmp_path):
    model = EmotionModel(DEFAULT_MODEL)
    with pytest.raises(conv.ConversationError, match="esc10") as caught:
        conv.build_streams(tmp_path, model, seed=0, snr_db=10.0)
    assert str(tmp_path) in str(caught.value)
    assert isinstance(caught.value, TonecueError) and isinstance(caught.value, RuntimeError)


def test_a_held_out_speaker_without_clips_is_named(tmp_path):
    with pytest.raises(conv.ConversationError, match="RAVDESS Actor_04") as caught:
        conv.build_streams(tmp_path, EmotionModel(DEFAULT_MODEL), seed=0, noisy=False)
    assert str(tmp_path / "ser-en-dev") in str(caught.value)


# --- the live loop and its replay ---------------------------------------------------------------


def _demo_conversation(rate):
    """The demo clip's four sentences (neutral, happy, sad, angry), cut at its 0.6 s silences."""
    audio = load_audio(DEFAULT_MODEL.with_name("demo.wav"), rate)
    zero = np.concatenate([[0], (audio == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 0.55 * rate]
    cuts = [0] + [(a + b) // 2 for a, b in gaps[:3]] + [len(audio)]
    labels = ["neutral", "happy", "sad", "angry"]
    clips = [(audio[a:b], label) for a, b, label in zip(cuts, cuts[1:], labels)]
    return conv.converse([(c[slice(*conv.speech_span(c, rate))], label) for c, label in clips], rate,
                         np.random.default_rng(0))


@pytest.fixture(scope="module")
def demo():
    model = EmotionModel(DEFAULT_MODEL)
    signal, sentences = _demo_conversation(model.contract.spec.sample_rate)
    return model, signal, sentences


@pytest.mark.parametrize("settings", [
    DecisionSettings(),
    DecisionSettings(smoothing=1.0, threshold=0.3, patience=1, hold_seconds=0.5, idle_seconds=1.0),
    DecisionSettings(smoothing=0.3, threshold=0.45, patience=3, hold_seconds=3.0, idle_seconds=2.0),
])
def test_replayed_decisions_cue_exactly_as_the_live_service(demo, settings):
    model, signal, _ = demo
    live = conv.live_loop(model, Config(decision=settings), signal)
    assert live.events and live.windows > 20
    assert conv.replay(model.labels, live.track, settings, Config().cues) == live.events


def test_the_live_loop_is_scored_on_stream_time(demo):
    model, signal, sentences = demo
    live = conv.live_loop(model, Config(decision=DecisionSettings(threshold=0.0, patience=1, idle_seconds=60.0)), signal)
    rate = model.contract.spec.sample_rate
    window = model.contract.spec.window_samples
    assert live.track.times[0] == pytest.approx(window / rate)  # the first window's end
    first = next(t for t, p in live.track.windows() if p is not None)
    assert live.events[0].label is None  # the LED starts off, in the pause before the first sentence ...
    assert live.events[1].label is not None and live.events[1].time == first  # ... threshold 0: the first voice shows
    m = conv.score(sentences, live.events, len(signal) / rate, model.labels).summary()
    # A label from the first voiced window on, never off; only the stretch of the first sentence
    # before a 2 s window holds enough of it for the detector (scoring starts 1 s into each
    # sentence) shows nothing.
    assert 0.65 <= m["shown"] <= 1.0
    assert 0.0 <= m["correct"] <= m["shown"]


# --- what the model and what the loop cost ----------------------------------------------------------


def test_a_window_is_the_sentence_that_fills_most_of_it():
    # 2 s windows ending at these times against SENTENCES ([1, 4] angry, [5, 8] sad, [9, 11] neutral)
    times = np.array([0.5, 2.0, 4.5, 5.0, 6.5, 7.5, 9.2, 10.5, 12.0, 13.5])
    truth = conv.window_truth(times, SENTENCES, 2.0, LABELS)
    angry, sad, neutral = LABELS.index("angry"), LABELS.index("sad"), LABELS.index("neutral")
    # 0.5: before anyone spoke; 5.0: [3, 5] holds 1 s of angry, none of sad yet; 6.5: [4.5, 6.5] holds
    # 1.5 s of sad; 9.2: [7.2, 9.2] holds 0.8 s of sad and 0.2 s of neutral; 13.5: [11.5, 13.5] is pause.
    assert truth.tolist() == [-1, angry, angry, angry, sad, sad, sad, neutral, neutral, -1]


def test_on_a_tie_the_later_sentence_is_the_window_s():
    truth = conv.window_truth(np.array([5.0]), [S(0.0, 4.0, "angry"), S(4.0, 8.0, "sad")], 2.0, LABELS)
    assert truth.tolist() == [LABELS.index("sad")]


def test_the_ceiling_judges_the_same_windows_always_right_and_sure():
    nan = np.full(4, np.nan)
    guess = np.array([0.1, 0.2, 0.3, 0.4])
    track = conv.Track(np.array([1.0, 2.0, 3.0, 4.0]), np.stack([guess, nan, guess, guess]))
    truth = np.array([2, 1, -1, 0])
    ceiling = conv.ceiling_track(track, truth)
    assert ceiling.probabilities[0].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert np.isnan(ceiling.probabilities[1]).all()  # not judged by the device: not judged by the ceiling
    assert ceiling.probabilities[2].tolist() == [0.25] * 4  # a window of pause: nothing to be sure of
    assert ceiling.probabilities[3].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert np.isnan(track.probabilities[1]).all() and track.probabilities[0].tolist() == guess.tolist()  # untouched
    # Only judged windows with a truth count: window 0's top label is neutral (3), not sad (2);
    # window 3's is neutral, not angry.
    assert conv.window_hits(track, truth) == (2, 0)
    assert conv.window_hits(ceiling, truth) == (2, 2)


def test_a_perfect_classifier_cues_every_sentence_it_hears_and_never_wrongly():
    # Windows every 0.5 s over SENTENCES, every one judged: the ceiling's cues.
    times = np.arange(2.0, 12.01, 0.5)
    truth = conv.window_truth(times, SENTENCES, 2.0, LABELS)
    track = conv.Track(times, np.full((len(times), 4), 0.25))
    events = conv.replay(LABELS, conv.ceiling_track(track, truth), DecisionSettings(), Config().cues)
    m = conv.score(SENTENCES, events, 12.0, LABELS).summary()
    assert m["sentences_cued_correctly"] == 1.0 and m["wrong_vibrations"] == 0
    assert m["precision"] > 0.8 and m["correct"] > 0.6  # the 2 s windows still lag each change


# --- the sweep's choice -------------------------------------------------------------------------


def _row(correct, shown, precision, noisy_precision=0.9, wrong=1.0):
    clean = {"correct": correct, "shown": shown, "precision": precision, "wrong_vibrations_per_minute": wrong}
    noisy = {"correct": correct / 2, "shown": shown, "precision": noisy_precision, "wrong_vibrations_per_minute": wrong}
    return {"tuning": {conv.CLEAN: clean, conv.NOISY: noisy}}


def test_the_sweep_chooses_the_most_correct_setting_that_reaches_precision():
    rows = [_row(0.50, 0.80, 0.62), _row(0.40, 0.48, 0.83), _row(0.45, 0.55, 0.82), _row(0.46, 0.55, 0.82, 0.70)]
    assert conv.choose(rows) == (2, True)  # the last is as good clean but misses in noise


def test_a_setting_that_hardly_shows_anything_is_not_chosen_for_its_precision():
    rows = [_row(0.05, 0.05, 1.0), _row(0.30, 0.60, 0.50), _row(0.25, 0.40, 0.62)]
    assert conv.choose(rows) == (2, False)  # none reaches 0.80 among those shown >= 20 %: the closest
    assert conv.choose([_row(0.05, 0.05, 1.0)]) == (None, False)


def test_short_of_the_targets_the_sweep_takes_the_fewest_wrong_vibrations_among_the_closest():
    rows = [_row(0.30, 0.60, 0.66, 0.55, wrong=3.0), _row(0.20, 0.30, 0.65, 0.54, wrong=0.9),
            _row(0.25, 0.40, 0.50, 0.40, wrong=0.1)]
    assert conv.choose(rows) == (1, False)  # a point of precision is not worth three times the buzzing


def _motor(level, clean_wrong, noisy_wrong):
    tuning = {conv.CLEAN: {"wrong_vibrations_per_minute": clean_wrong},
              conv.NOISY: {"wrong_vibrations_per_minute": noisy_wrong}}
    return {"vibrate_confidence": level, "tuning": tuning}


def test_the_motor_takes_the_lowest_confidence_that_keeps_wrong_buzzes_within_the_target():
    rows = [_motor(0.0, 1.9, 2.4), _motor(0.8, 0.6, 0.45), _motor(0.85, 0.4, 0.5), _motor(0.9, 0.2, 0.1)]
    assert conv.choose_motor(rows) == (2, True)  # 0.8 is within the target clean but not in noise
    assert conv.choose_motor(rows[:2]) == (1, False)  # none within it: the fewest wrong buzzes
    assert conv.choose_motor([_motor(0.9, 0.7, 0.7), _motor(0.95, 0.7, 0.7)]) == (0, False)  # a tie: the lower


# --- the command, on the real held-out speakers ---------------------------------------------------


@pytest.mark.data
def test_the_command_runs_a_config_over_every_held_out_speaker(tmp_path, capsys):
    config = tmp_path / "tonecue.toml"
    config.write_text("[decision]\nthreshold = 0.7\npatience = 1\n")
    out = tmp_path / "conversation"
    assert conv.main(["--clean-only", "--config", str(config), "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["decision"]["threshold"] == 0.7 and report["decision"]["patience"] == 1
    assert [s["speaker"] for s in report["streams"]] == [s["name"] for s in conv.held_out_speakers()]
    assert report["conditions"] == ["clean"]
    total = report["rows"]["clean"]["all"]
    assert total["sentences"] == sum(s["sentences"] for s in report["streams"]) > 300
    assert 0 <= total["correct"] <= total["shown"] <= 1
    assert "| clean | **all** |" in out.with_suffix(".md").read_text()
    ceiling, windows = report["ceiling"]["clean"], report["window_accuracy"]["clean"]
    assert ceiling["correct"] > total["correct"] and ceiling["precision"] > total["precision"]
    assert 0 < windows["right"] < windows["windows"] and windows["accuracy"] == windows["right"] / windows["windows"]


def test_a_missing_model_is_one_line_and_its_exit_status(tmp_path, capsys):
    assert conv.main(["--model", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "x")]) == 3
    assert "model file not found" in capsys.readouterr().err
