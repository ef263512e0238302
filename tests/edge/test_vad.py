"""The voice-activity gate: levels, settings, synthetic streams and real speech."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from tonecue.edge.vad import (
    DEFAULT_HOP_SECONDS,
    DIGITAL_SILENCE_DB,
    GateError,
    GateSettings,
    VoiceGate,
    window_level_db,
)

HOP = 0.5  # seconds between windows in the synthetic streams


def run(levels, hop_seconds=HOP, **settings) -> np.ndarray:
    return VoiceGate(hop_seconds=hop_seconds, **settings).update_many(levels)


def noise(n: int, level_db: float, spread_db: float = 1.5, seed: int = 0) -> np.ndarray:
    """Window levels of steady noise: `level_db` give or take `spread_db`."""
    return level_db + np.random.default_rng(seed).uniform(-spread_db, spread_db, n)


# ------------------------------------------------------------------------------------- level


def test_window_level_db_of_known_signals():
    n = 25088
    assert window_level_db(np.ones(n, np.float32)) == pytest.approx(0.0)
    assert window_level_db(np.tile(np.float32([1, -1]), n // 2)) == pytest.approx(0.0)
    t = np.arange(n) / 22050
    for amplitude in (1.0, 0.1, 0.001):
        sine = (amplitude * np.sin(2 * np.pi * 441 * t)).astype(np.float32)
        assert window_level_db(sine) == pytest.approx(20 * math.log10(amplitude / math.sqrt(2)), abs=0.01)
    assert window_level_db(np.float64([0.5, -0.5])) == pytest.approx(20 * math.log10(0.5))


def test_window_level_db_of_silence_and_bad_windows():
    assert window_level_db(np.zeros(1000, np.float32)) == DIGITAL_SILENCE_DB
    assert window_level_db(np.full(10, 1e-30)) == DIGITAL_SILENCE_DB  # clamped, never below
    assert DIGITAL_SILENCE_DB < window_level_db(np.float32([0, 0, 0, 2.0**-15])) < -90
    with pytest.raises(GateError, match="empty"):
        window_level_db(np.zeros(0, np.float32))
    with pytest.raises(GateError, match="NaN"):
        window_level_db(np.float32([0.1, np.nan, 0.2]))
    with pytest.raises(GateError, match="NaN or infinite"):
        window_level_db(np.float32([0.1, np.inf]))
    with pytest.raises(GateError, match="float samples"):
        window_level_db(np.int16([1000, -1000]))  # integer PCM: its scale is unknown


# ---------------------------------------------------------------------------------- settings


def test_settings_defaults_round_trip_and_hash():
    settings = GateSettings()
    data = settings.to_dict()
    assert data == {
        "format_version": 1,
        "margin_db": 10.0,
        "min_level_db": -65.0,
        "floor_rise_db_per_s": 3.0,
        "initial_floor_db": -75.0,
    }
    assert GateSettings.from_dict(data) == settings
    assert GateSettings.from_json(settings.to_json()) == settings
    assert json.loads(settings.to_json()) == data
    custom = GateSettings(margin_db=6, min_level_db=-55, floor_rise_db_per_s=1, initial_floor_db=-50)
    assert GateSettings.from_dict(json.loads(custom.to_json())) == custom
    assert isinstance(custom.margin_db, float)
    assert GateSettings(margin_db=10) == GateSettings(margin_db=10.0)
    assert hash(GateSettings(margin_db=10)) == hash(GateSettings())
    assert GateSettings(margin_db=np.float32(8)).margin_db == 8.0
    assert settings.lowest_floor_db == -75.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.margin_db = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"margin_db": float("nan")}, "finite"),
        ({"min_level_db": float("-inf")}, "finite"),
        ({"initial_floor_db": "loud"}, "finite number"),
        ({"floor_rise_db_per_s": True}, "finite number"),
        ({"margin_db": -1.0}, "non-negative"),
        ({"floor_rise_db_per_s": -0.5}, "non-negative"),
        ({"min_level_db": DIGITAL_SILENCE_DB}, "digital silence"),
    ],
)
def test_settings_refuse_bad_values(kwargs, message):
    with pytest.raises(GateError, match=message):
        GateSettings(**kwargs)


def test_settings_refuse_unknown_keys_versions_and_bad_json():
    with pytest.raises(GateError, match="does not know"):
        GateSettings.from_dict({"margin_db": 10.0, "attack_ms": 5})
    with pytest.raises(GateError, match="format 2"):
        GateSettings.from_dict({"format_version": 2})
    with pytest.raises(GateError, match="not valid JSON"):
        GateSettings.from_json("{margin")
    with pytest.raises(GateError, match="object"):
        GateSettings.from_json("[1, 2]")
    assert issubclass(GateError, ValueError)


def test_gate_from_settings_matches_keywords_and_checks_the_hop():
    settings = GateSettings(margin_db=8.0, min_level_db=-60.0, floor_rise_db_per_s=2.0, initial_floor_db=-65.0)
    a = VoiceGate.from_settings(settings, hop_seconds=0.25)
    b = VoiceGate(margin_db=8.0, min_level_db=-60.0, floor_rise_db_per_s=2.0, initial_floor_db=-65.0, hop_seconds=0.25)
    assert a.settings == b.settings == settings
    levels = np.concatenate([noise(20, -50), [-20] * 5, noise(10, -45, seed=1)])
    assert np.array_equal(a.update_many(levels), b.update_many(levels))
    assert VoiceGate().hop_seconds == pytest.approx(DEFAULT_HOP_SECONDS)
    assert VoiceGate().settings == GateSettings()
    for bad in (0, -0.5, float("nan"), float("inf"), True, "0.5"):
        with pytest.raises(GateError, match="hop_seconds"):
            VoiceGate(hop_seconds=bad)
    with pytest.raises(GateError, match="GateSettings"):
        VoiceGate.from_settings({"margin_db": 10.0}, hop_seconds=0.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- synthetic streams


def test_silence_never_passes():
    assert not run([DIGITAL_SILENCE_DB] * 100).any()
    assert not run([-math.inf] * 20).any()  # -inf is digital silence too
    assert not run(noise(100, -80)).any()  # below the absolute minimum


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"margin_db": 0.0},
        {"margin_db": 0.0, "min_level_db": -199.0, "initial_floor_db": -250.0},
        {"initial_floor_db": 0.0},
        {"floor_rise_db_per_s": 0.0},
    ],
)
def test_digital_silence_never_passes_whatever_the_settings_or_history(settings):
    # Digital silence after loud sound, after quiet sound, and from the start.
    levels = [DIGITAL_SILENCE_DB, -10, -10, DIGITAL_SILENCE_DB, -90, DIGITAL_SILENCE_DB, -30, DIGITAL_SILENCE_DB]
    gate = VoiceGate(hop_seconds=HOP, **settings)
    for level in levels:
        voiced = gate.update(level)
        if level == DIGITAL_SILENCE_DB:
            assert not voiced
    assert gate.floor_db >= gate.settings.lowest_floor_db


def test_level_that_is_not_a_number_raises():
    gate = VoiceGate()
    with pytest.raises(GateError, match="nan"):
        gate.update(float("nan"))
    with pytest.raises(GateError):
        gate.update(np.float32("nan"))
    with pytest.raises(GateError):
        gate.update(math.inf)
    with pytest.raises(GateError):
        gate.update_many([-30.0, float("nan")])


def test_steady_noise_becomes_the_floor_and_bursts_pass():
    # 20 s of noise at -40 dBFS, then speech-like bursts at -15 dBFS (2 s on, 4 s off).
    warmup = noise(40, -40)
    stream, is_burst = list(warmup), [False] * len(warmup)
    for k in range(6):
        stream += list(noise(4, -15, seed=10 + k)) + list(noise(8, -40, seed=20 + k))
        is_burst += [True] * 4 + [False] * 8
    voiced = run(stream)
    is_burst = np.array(is_burst)
    # From the initial floor (-75) to within the margin of -40 at 3 dB/s: about 8.3 s.
    expected_warmup_s = (-40 - 10 - -75) / 3.0
    first_quiet = int(np.flatnonzero(~voiced[: len(warmup)])[0])
    assert first_quiet * HOP <= expected_warmup_s + 1.5 * HOP
    assert not voiced[first_quiet : len(warmup)].any(), "learned noise passed again"
    after = np.arange(len(stream)) >= len(warmup)
    assert voiced[after & is_burst].all(), "a burst at -15 dBFS was gated out"
    assert not voiced[after & ~is_burst].any(), "steady noise passed the gate"


def test_a_noise_floor_that_steps_up_then_down():
    # -60 dBFS for 15 s, -35 for 25 s, -60 for 15 s; a -10 dBFS burst every 5 s.
    hop = HOP
    levels = np.concatenate([noise(30, -60), noise(50, -35, seed=1), noise(30, -60, seed=2)])
    burst = np.zeros(len(levels), bool)
    burst[8::10] = True
    levels[burst] = -10.0
    voiced = run(levels, hop_seconds=hop)
    assert voiced[burst].all()
    quiet = ~burst
    # Before the step: the noise is learned (after the warm-up) and stays out.
    assert not voiced[10:30][quiet[10:30]].any()
    # The step up: louder noise passes only until the floor has climbed within the margin,
    # about (25 - 10) / 3 = 5 s, then never again.
    step_voiced = np.flatnonzero(voiced[30:80] & quiet[30:80])
    assert step_voiced.size > 0, "a 25 dB step should pass for a few seconds"
    assert step_voiced.max() * hop <= (25 - 10) / 3.0 + 2.0
    assert not voiced[30 + 20 : 80][quiet[50:80]].any()
    # The step down: the floor falls at once, the quieter noise never passes.
    assert not voiced[80:][quiet[80:]].any()


def test_floor_falls_at_once_and_rises_at_the_set_rate_per_second():
    for hop in (0.1, 0.25, 0.5, 1.0):
        gate = VoiceGate(hop_seconds=hop, floor_rise_db_per_s=3.0, initial_floor_db=-60.0)
        assert gate.floor_db == -60.0
        gate.update(-70.0)
        assert gate.floor_db == -70.0  # falls to a quieter level at once
        n = round(4.0 / hop)
        for _ in range(n):
            gate.update(-20.0)
        assert gate.floor_db == pytest.approx(-70.0 + 3.0 * 4.0)  # 4 s at 3 dB/s, whatever the hop
        for _ in range(round(60 / hop)):
            gate.update(-20.0)
        assert gate.floor_db == -20.0  # never past the level it rises towards


def test_floor_never_sinks_below_the_lowest_useful_floor_and_reset_restores_it():
    gate = VoiceGate(hop_seconds=0.5, initial_floor_db=-120.0)
    assert gate.floor_db == -75.0  # an initial floor below min_level - margin is raised to it
    gate.update(DIGITAL_SILENCE_DB)
    assert gate.floor_db == -75.0
    gate = VoiceGate(hop_seconds=0.5, initial_floor_db=-30.0)
    first = gate.update_many(noise(30, -50))
    assert gate.floor_db < -45
    gate.reset()
    assert gate.floor_db == -30.0
    assert np.array_equal(gate.update_many(noise(30, -50)), first)


def test_absolute_minimum_holds_even_above_a_low_floor():
    # -66 dBFS is 9 dB over the lowest floor... and below min_level: out. -64 is in.
    assert not run([-66.0]).any()
    assert run([-64.0]).all()
    assert not run([-64.0], min_level_db=-60.0, initial_floor_db=-70.0).any()


# ------------------------------------------------------------------------------- real speech

SPEECH = (
    "Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.flac",  # angry, male
    "Ravdess/audio_speech_actors_01-24/Actor_02/03-01-04-01-02-01-02.flac",  # sad, female, quiet
)


def short_window_levels(signal: np.ndarray, n: int = 2048, hop: int = 1024) -> np.ndarray:
    return np.array([window_level_db(signal[i : i + n]) for i in range(0, len(signal) - n + 1, hop)])


@pytest.mark.data
@pytest.mark.parametrize("relpath", SPEECH, ids=["angry", "sad"])
def test_ravdess_lead_in_and_tail_are_gated_out_and_the_speech_passes(dev_corpus, relpath):
    from tonecue.edge.audio import load_audio

    sr = 22050
    signal = load_audio(dev_corpus / relpath, sr)
    # Short windows (93 ms, 46 ms apart) resolve the silent lead-in and tail of the clip.
    levels = short_window_levels(signal)
    hop_s = 1024 / sr
    voiced = run(levels, hop_seconds=hop_s)
    where = np.flatnonzero(voiced)
    assert where.size, "no speech passed"
    onset, offset = where[0] * hop_s, where[-1] * hop_s
    # RAVDESS clips open and close with about a second of (near-)digital silence.
    assert 0.4 < onset < 1.6 and len(signal) / sr - offset > 0.4
    assert not voiced[: int(0.4 / hop_s)].any() and not voiced[-int(0.4 / hop_s) :].any()
    # The speech in between passes as one stretch of at least a second and a half, and the
    # loudest window passes.
    assert voiced[where[0] : where[-1] + 1].mean() > 0.95
    assert (offset - onset) > 1.5
    assert voiced[int(np.argmax(levels))]
    # The model's own windows (about 1.14 s): with the clip between 3 s of digital silence,
    # windows of only silence are out, windows over the speech are in.
    from tonecue.edge.frontend import clip_windows
    from tonecue.edge.spec import FrontendSpec

    spec = FrontendSpec()
    pad = np.zeros(3 * sr, np.float32)
    padded = np.concatenate([pad, signal, pad])
    starts, windows = clip_windows(padded, spec, 22)
    model_voiced = VoiceGate(hop_seconds=22 * 512 / sr).update_many([window_level_db(w) for w in windows])
    speech = (len(pad) + where[0] * 1024, len(pad) + where[-1] * 1024 + 2048)
    for start, ok in zip(starts, model_voiced):
        end = start + spec.window_samples
        if end <= speech[0] or start >= speech[1]:
            assert not ok, f"a window of silence at {start / sr:.2f} s passed"
        elif start >= speech[0] and end <= speech[1]:
            assert ok, f"a window of speech at {start / sr:.2f} s was gated out"
