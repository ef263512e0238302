"""tonecue.edge.paraling on its own: settings, errors, shapes, level invariance, streaming, and
accuracy against the known truth of synthetic voices (paraling_signals.py). No reference library:
these run on the device-only install too. The comparisons with librosa and Praat are in
test_paraling_parity.py; the tolerances reached are in PARALING.md.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.paraling_signals import VOWELS, pulse_times, true_jitter, true_shimmer_db, vowel
from helpers.signals import make_signal

from tonecue.edge.errors import TonecueError
from tonecue.edge.paraling import (
    LLD_NAMES,
    ParalingError,
    ParalingSettings,
    ParalinguisticFrontend,
    ParalinguisticStream,
    ParalinguisticWindows,
)

RATES = (16000, 22050)


@pytest.fixture(scope="module", params=RATES, ids=lambda r: f"{r}Hz")
def frontend(request) -> ParalinguisticFrontend:
    return ParalinguisticFrontend(ParalingSettings(sample_rate=request.param))


def column(llds: np.ndarray, name: str) -> np.ndarray:
    return llds[:, LLD_NAMES.index(name)]


def feature(frontend: ParalinguisticFrontend, values: np.ndarray, name: str) -> float:
    return float(values[frontend.feature_names().index(name)])


def utterance(sr: int, seed: int = 0) -> np.ndarray:
    """Three vowels with pauses, a gliding F0, a little jitter and shimmer, over faint noise."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(0.2 * sr))]
    for name, f0 in (("a", lambda t: 140 + 40 * t), ("i", 210.0), ("u", lambda t: 180 - 30 * t)):
        times = pulse_times(f0, 0.6, 0.006, seed=seed)
        amplitudes = np.exp(rng.normal(0, 0.04, len(times)))
        parts += [vowel(times, sr, 0.6, name, amplitudes, snr_db=25, seed=seed), np.zeros(int(0.15 * sr))]
    y = np.concatenate(parts)
    return y + 1e-4 * rng.standard_normal(len(y))


# --- settings and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"sample_rate": 8000}, "sample rate above"),
        ({"sample_rate": 16000.0}, "sample_rate must be a positive integer"),
        ({"sample_rate": True}, "sample_rate must be a positive integer"),
        ({"hop_ms": 0}, "hop_ms must be a positive number"),
        ({"f0_min": 30.0}, "holds fewer than two periods"),
        ({"f0_min": 300.0, "f0_max": 200.0}, "need f0_min < f0_max"),
        ({"voicing_threshold": 1.5}, "below 1"),
        ({"lpc_order": 4}, "cannot resolve three formants"),
        ({"pre_emphasis_hz": -1.0}, "pre_emphasis_hz"),
        ({"context_seconds": float("nan")}, "context_seconds must be a positive number"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(changes, words):
    with pytest.raises(ParalingError, match=words) as caught:
        ParalingSettings(**changes)
    assert isinstance(caught.value, TonecueError) and isinstance(caught.value, ValueError)


def test_settings_round_trip_and_refuse_unknown_fields_and_versions():
    settings = ParalingSettings(sample_rate=22050, context_seconds=3.0)
    assert ParalingSettings.from_json(settings.to_json()) == settings
    with pytest.raises(ParalingError, match="does not know"):
        ParalingSettings.from_dict({**settings.to_dict(), "frame_shift": 5})
    with pytest.raises(ParalingError, match="format 99"):
        ParalingSettings.from_dict({**settings.to_dict(), "format_version": 99})


@pytest.mark.parametrize(
    "signal, words",
    [
        (np.zeros((2, 1600)), "1-D"),
        (np.zeros(0), "non-empty"),
        (np.zeros(1600, dtype=np.int16), "float samples"),
        (np.array([0.0, np.nan, 0.0] * 600), "NaN or infinite"),
    ],
    ids=["stereo", "empty", "int16", "nan"],
)
def test_bad_signals_are_refused_with_the_reason(signal, words):
    frontend = ParalinguisticFrontend()
    with pytest.raises(ParalingError, match=words):
        frontend.functionals(signal)
    with pytest.raises(ParalingError, match=words):
        ParalinguisticStream(frontend).push(signal if signal.size else np.zeros((0, 2)))


def test_bad_llds_and_an_empty_stream_are_refused():
    frontend = ParalinguisticFrontend()
    with pytest.raises(ParalingError, match="LLD rows"):
        frontend.functionals_of(np.zeros((10, 3)))
    with pytest.raises(ParalingError, match="no complete frame"):
        ParalinguisticStream(frontend).functionals()
    with pytest.raises(ParalingError, match="ParalingSettings"):
        ParalinguisticFrontend({"sample_rate": 16000})
    with pytest.raises(ParalingError, match="ParalinguisticFrontend"):
        ParalinguisticStream(ParalingSettings())


# --- shapes and names ------------------------------------------------------------------------


def test_shapes_names_and_dtypes(frontend):
    sr = frontend.settings.sample_rate
    y = utterance(sr).astype(np.float32)
    llds = frontend.llds(y)
    assert llds.shape == (1 + len(y) // frontend.settings.hop_length, len(LLD_NAMES))
    assert llds.dtype == np.float32
    values = frontend.functionals(y)
    names = frontend.feature_names()
    assert values.shape == (frontend.n_features,) == (len(names),) and values.dtype == np.float32
    assert len(set(names)) == len(names)
    assert np.all(np.isfinite(values))
    assert np.array_equal(values, frontend.functionals_of(llds))


@pytest.mark.parametrize("kind", ["silence", "noise", "clipped", "one_sample", "pure_tone"])
def test_degenerate_inputs_give_finite_functionals(frontend, kind):
    sr = frontend.settings.sample_rate
    rng = np.random.default_rng(1)
    y = {
        "silence": np.zeros(sr),
        "noise": 0.1 * rng.standard_normal(sr),
        "clipped": np.clip(20 * utterance(sr), -1, 1),
        "one_sample": np.array([0.3]),
        # A sinusoid's autocorrelation is singular: the formant LPC cannot be solved (once a crash).
        "pure_tone": 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(sr) / sr),
    }[kind]
    values = frontend.functionals(y)
    assert np.all(np.isfinite(values))
    if kind in ("silence", "one_sample"):
        assert feature(frontend, values, "voiced_share") == 0.0
    if kind == "noise":
        assert feature(frontend, values, "voiced_share") < 0.1


# --- level ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gain_db", [-60.0, -20.0, 9.0])
def test_functionals_do_not_depend_on_the_input_level(frontend, gain_db):
    # utterance() peaks at 0.5: +9 dB stays below full scale.
    y = utterance(frontend.settings.sample_rate)
    reference = frontend.functionals(y)
    scaled = frontend.functionals(y * 10 ** (gain_db / 20))
    np.testing.assert_allclose(scaled, reference, rtol=1e-4, atol=1e-5)


def test_only_loudness_and_energy_lld_scale_with_level(frontend):
    # -20 dB keeps the pauses' faint noise (-80 dBFS) above the digital-silence floor (-120 dBFS),
    # below which a frame is unvoiced with periodicity 0 whatever its shape.
    y = utterance(frontend.settings.sample_rate)
    a, b = frontend.llds(y), frontend.llds(0.1 * y)
    for i, name in enumerate(LLD_NAMES):
        if name == "loudness":
            np.testing.assert_allclose(b[:, i], a[:, i] * 0.1**0.6, rtol=1e-4, atol=1e-9)
        elif name == "energy_db":
            np.testing.assert_allclose(b[:, i], a[:, i] - 20.0, atol=1e-3)
        else:
            np.testing.assert_allclose(b[:, i], a[:, i], rtol=1e-4, atol=1e-5, err_msg=name)


# --- streaming --------------------------------------------------------------------------------


def test_the_stream_computes_the_same_frames_as_the_whole_signal(frontend):
    s = frontend.settings
    y = np.tile(utterance(s.sample_rate, seed=3), 2)
    whole = frontend.llds(y)
    long_context = ParalinguisticFrontend(ParalingSettings(sample_rate=s.sample_rate, context_seconds=60.0))
    stream = ParalinguisticStream(long_context)
    rng = np.random.default_rng(0)
    i = 0
    while i < len(y):
        n = int(rng.integers(0, 3 * s.hop_length * 10))
        stream.push(y[i : i + n].astype(np.float32))
        i += n
    rows = stream.context
    # Only the last frames, whose reach runs past the end, are still waiting for samples.
    assert 0 < len(whole) - len(rows) <= -(-s.reach // s.hop_length)
    np.testing.assert_allclose(rows, whole[: len(rows)], rtol=2e-5, atol=2e-6)


def test_the_stream_takes_functionals_over_its_last_context(frontend):
    s = frontend.settings
    y = np.tile(utterance(s.sample_rate, seed=4), 2)
    stream = ParalinguisticStream(frontend)
    hop = int(0.5 * s.sample_rate)
    for start in range(0, len(y), hop):
        stream.push(y[start : start + hop])
    assert len(stream.context) == s.context_frames
    end = stream.frames_seen
    expected = frontend.functionals_of(frontend.llds(y)[end - s.context_frames : end])
    np.testing.assert_allclose(stream.functionals(), expected, rtol=1e-4, atol=1e-5)
    stream.reset()
    assert stream.frames_seen == 0 and stream.push(np.zeros(0)) == 0


def glide_in_noise(sr: int) -> np.ndarray:
    """A tone gliding through the whole F0 range in noise: glottal peaks fall at every phase
    of the frame grid, halfway between two frame centres included."""
    return 0.3 * make_signal("noise", sr, 3.0) + make_signal("chirp_log", sr, 3.0)


def test_a_frame_does_not_depend_on_where_its_block_of_frames_begins(frontend):
    """A stream analyses frames in blocks that start wherever its pushes end. A peak halfway
    between two frame centres once went to either frame by the parity of its block's first
    frame, so a frame's jitter depended on the block (up to 5 % on this signal)."""
    s = frontend.settings
    y = glide_in_noise(s.sample_rate)
    whole = frontend.llds(y)
    stream = ParalinguisticStream(ParalinguisticFrontend(ParalingSettings(sample_rate=s.sample_rate, context_seconds=60.0)))
    block = 3 * s.hop_length + 7  # each push completes 3 or 4 frames: block starts of both parities
    for i in range(0, len(y), block):
        stream.push(y[i : i + block])
    rows = stream.context
    np.testing.assert_allclose(rows, whole[: len(rows)], rtol=1e-5, atol=1e-6)


def test_windows_of_a_stream_are_featurized_as_each_window_alone(frontend, monkeypatch):
    s = frontend.settings
    y = glide_in_noise(s.sample_rate).astype(np.float32)
    analysed = []
    analyze = frontend._analyze
    monkeypatch.setattr(frontend, "_analyze", lambda x, c, n, *parts: analysed.append(n) or analyze(x, c, n, *parts))
    windows = ParalinguisticWindows(frontend)
    length, step = 100 * s.hop_length, 20 * s.hop_length
    frames = 1 + length // s.hop_length
    starts = [0, step, 2 * step, 2 * step + 3, 3 * step, 3 * step, 4 * step, 9 * step, 8 * step]
    cost = []
    for start in starts:
        analysed.clear()
        window = y[start : start + length]
        got = windows(window, start)
        cost.append(sum(analysed))
        np.testing.assert_allclose(got, frontend.functionals(window), rtol=1e-5, atol=1e-6, err_msg=f"start {start}")
    # The second window of a hop reuses the first one's interior; off the frame grid, after a
    # jump back or forward past the cache, a window is analysed whole.
    assert cost[1] < 0.6 * frames and cost[2] < 0.6 * frames
    assert cost[3] == frames and cost[4] == frames and cost[5] < 0.3 * frames
    assert cost[7] == frames and cost[8] == frames


def test_a_streamed_window_runs_yin_only_near_its_padding_and_on_its_new_frames(frontend, monkeypatch):
    """The frame store: a window one step after another takes the YIN and the spectral
    descriptors of the frames it shares with earlier windows, away from the zero padding, and
    runs YIN on none of the padding's all-zero frames; the result is still the window's own."""
    s = frontend.settings
    y = glide_in_noise(s.sample_rate).astype(np.float32)
    yin_frames = []
    yin = frontend._yin
    monkeypatch.setattr(frontend, "_yin", lambda frames: yin_frames.append(len(frames)) or yin(frames))
    windows = ParalinguisticWindows(frontend)
    length, step = 100 * s.hop_length, 20 * s.hop_length
    frames = 1 + length // s.hop_length
    whole = []
    for start in (0, step, 2 * step, step):  # the last one jumps back inside the same stream
        window = y[start : start + length]
        yin_frames.clear()
        got = windows(window, start)
        whole.append(sum(yin_frames))
        np.testing.assert_allclose(got, frontend.functionals(window), rtol=1e-5, atol=1e-6)
    new = step // s.hop_length
    m, half = s.margin_frames, s.pitch_frame_length // 2
    centres = np.arange(-m, frames + m) * s.hop_length
    in_padding = (centres + s.pitch_frame_length - half <= 0) | (centres - half >= length)
    assert whole[0] == len(centres) - in_padding.sum() < frames + 2 * m  # the first: all but the padding's
    assert whole[1] < new + 12 and whole[2] < new + 12, whole  # its new frames and those nearest the padding
    assert whole[3] < new + 12, whole


def test_digital_silence_skips_yin_and_is_unvoiced(frontend, monkeypatch):
    s = frontend.settings
    y = np.concatenate([np.zeros(s.sample_rate // 2), utterance(s.sample_rate)[: s.sample_rate // 2]])
    yin_frames = []
    yin = frontend._yin
    monkeypatch.setattr(frontend, "_yin", lambda frames: yin_frames.append(len(frames)) or yin(frames))
    llds = frontend.llds(y)
    centres = np.arange(-s.margin_frames, len(llds) + s.margin_frames) * s.hop_length
    half = s.pitch_frame_length // 2
    in_zeros = (centres + s.pitch_frame_length - half <= s.sample_rate // 2) | (centres - half >= len(y))
    assert sum(yin_frames) == len(centres) - in_zeros.sum()  # YIN runs on the margin frames too
    silent = in_zeros[s.margin_frames : -s.margin_frames]
    assert np.all(column(llds, "voiced")[silent] == 0) and np.all(column(llds, "periodicity")[silent] == 0)
    assert np.all(np.isnan(column(llds, "f0_semitones")[silent]))


def test_windows_need_a_reset_for_a_new_stream(frontend):
    s = frontend.settings
    a = glide_in_noise(s.sample_rate).astype(np.float32)
    b = np.tile(utterance(s.sample_rate), 3).astype(np.float32)
    length, step = 100 * s.hop_length, 20 * s.hop_length
    windows = ParalinguisticWindows(frontend)
    windows(a[:length], 0)
    stale = windows(b[step : step + length], step)
    assert not np.allclose(stale, frontend.functionals(b[step : step + length]), rtol=1e-3)
    windows.reset()
    np.testing.assert_allclose(windows(b[step : step + length], step), frontend.functionals(b[step : step + length]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ParalingError, match="expected a ParalinguisticFrontend"):
        ParalinguisticWindows(s)


# --- accuracy against the truth of synthetic voices --------------------------------------------


def test_f0_follows_a_vibrato(frontend):
    sr = frontend.settings.sample_rate
    times = pulse_times(lambda t: 200.0 * (1 + 0.04 * np.sin(2 * np.pi * 5.5 * t)), 1.5)
    llds = frontend.llds(vowel(times, sr, 1.5, "a"))[10:-10]  # frames that see no signal edge
    t = (np.arange(len(llds)) + 10) * frontend.settings.hop_length / sr
    assert np.all(column(llds, "voiced") > 0.5)
    truth = np.interp(t, 0.5 * (times[1:] + times[:-1]), 1.0 / np.diff(times))  # F0 of each period
    cents = 1200 * np.log2(27.5 * 2 ** (column(llds, "f0_semitones") / 12) / truth)
    # A 40 ms frame averages the vibrato a little: the error swings with it.
    assert np.median(np.abs(cents)) < 5.0
    assert np.percentile(np.abs(cents), 95) < 10.0


@pytest.mark.parametrize("f0", [110.0, 220.0])
@pytest.mark.parametrize("jitter", [0.0, 0.005, 0.01])
def test_jitter_and_shimmer_of_synthetic_voices(frontend, f0, jitter):
    sr = frontend.settings.sample_rate
    times = pulse_times(f0, 1.0, jitter, seed=1)
    amplitudes = np.exp(np.random.default_rng(2).normal(0, 0.06, len(times)))
    values = frontend.functionals(vowel(times, sr, 1.0, "a", amplitudes))
    # Waveform matching reads the cycles that the overlapping tract responses leave: at 220 Hz the
    # previous cycle's ringing evens the periods out, and 0.6-0.8 of the pulses' jitter remains
    # (Praat reads the same: test_paraling_parity).
    measured, truth = feature(frontend, values, "jitter_local_mean"), true_jitter(times)
    if f0 < 200:
        assert abs(measured - truth) < 0.0015
    else:
        assert 0.5 * truth - 0.001 < measured < truth + 0.001
    assert abs(feature(frontend, values, "shimmer_local_db_mean") - true_shimmer_db(amplitudes)) < 0.15


@pytest.mark.parametrize("snr_db", [5.0, 10.0, 20.0])
def test_hnr_of_a_voice_in_white_noise(frontend, snr_db):
    sr = frontend.settings.sample_rate
    y = vowel(pulse_times(150.0, 1.0), sr, 1.0, "a", snr_db=snr_db)
    assert abs(feature(frontend, frontend.functionals(y), "hnr_db_mean") - snr_db) < 1.5


@pytest.mark.parametrize("name", sorted(VOWELS))
def test_formants_of_synthetic_vowels(frontend, name):
    sr = frontend.settings.sample_rate
    llds = frontend.llds(vowel(pulse_times(120.0, 1.0, 0.005), sr, 1.0, name))
    voiced = column(llds, "voiced") > 0.5
    measured = np.nanmedian(llds[voiced][:, [LLD_NAMES.index(f"f{i}_hz") for i in (1, 2, 3)]], axis=0)
    truth = np.array(VOWELS[name][0][:3], dtype=float)
    # LPC on a 120 Hz voice lifts F1 towards the harmonics near it, by up to 100 Hz on /u/ (Praat's
    # Burg does the same: test_paraling_parity).
    assert abs(measured[0] - truth[0]) < 120.0
    np.testing.assert_allclose(measured[1:], truth[1:], rtol=0.04)


def test_voiced_segments_and_pauses_are_counted(frontend):
    sr = frontend.settings.sample_rate
    values = frontend.functionals(utterance(sr))
    # Three 0.6 s vowels in 2.45 s: voiced share about 0.7, three onsets.
    assert 0.6 < feature(frontend, values, "voiced_share") < 0.8
    assert feature(frontend, values, "voiced_onsets_per_s") == pytest.approx(3 / 2.45, rel=0.05)
    assert 0.5 < feature(frontend, values, "voiced_segment_mean_s") < 0.65
    assert feature(frontend, values, "f0_semitones_rising_slope") > 0
    assert feature(frontend, values, "f0_semitones_falling_slope") < 0


def test_settings_serialise_to_plain_json():
    assert json.loads(ParalingSettings().to_json())["sample_rate"] == 16000


def test_percentiles_are_numpys_linear_ones():
    from tonecue.edge.paraling import _percentiles

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 300):
        values = rng.standard_normal(n)
        qs = (0, 20, 50, 80, 95, 100)
        np.testing.assert_allclose(_percentiles(values, qs), np.percentile(values, qs), rtol=1e-12)


def test_a_primed_window_warms_the_cache_for_the_next(frontend, monkeypatch):
    s = frontend.settings
    y = glide_in_noise(s.sample_rate).astype(np.float32)
    length, step = 100 * s.hop_length, 20 * s.hop_length
    frames = 1 + length // s.hop_length
    analysed = []
    analyze = frontend._analyze
    monkeypatch.setattr(frontend, "_analyze", lambda x, c, n, *parts: analysed.append(n) or analyze(x, c, n, *parts))
    windows = ParalinguisticWindows(frontend)
    windows.prime(y[:length], 0)
    analysed.clear()
    got = windows(y[step : step + length], step)
    assert sum(analysed) < 0.6 * frames
    np.testing.assert_allclose(got, frontend.functionals(y[step : step + length]), rtol=1e-5, atol=1e-6)
