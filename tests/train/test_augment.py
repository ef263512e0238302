"""Augmentation of training clips: the recipe's checks and JSON form, fold separation, each effect
run for real (audiomentations, pyroomacoustics) on CREMA-D speech with ESC-10 noise, determinism
across processes, and the class-blind clipping that keeps "clipped = angry" from being learnt."""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import pickle
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.errors import TonecueError
from tonecue.train.augment import EFFECTS, Augmentation, AugmentationError, Augmenter
from tonecue.train.noise import TRAIN_FOLDS, NoiseBank, active_level

RATE = 16000
ONLY = {f"{name}_p": 0.0 for name in EFFECTS}


def only(effect: str, **settings) -> Augmentation:
    """A recipe that applies `effect` to every copy and nothing else."""
    return Augmentation(**{**ONLY, f"{effect}_p": 1.0, **settings})


def touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.fixture(scope="module")
def bank(dev_corpus) -> NoiseBank:
    return NoiseBank(dev_corpus.parent / "noise" / "esc10", TRAIN_FOLDS)


@pytest.fixture(scope="module")
def clips(dev_corpus) -> dict[str, np.ndarray]:
    folder = dev_corpus.parent / "crema-d" / "AudioWAV"
    names = {"neutral": "1001_DFA_NEU_XX", "angry": "1009_IEO_ANG_HI", "sad": "1001_IEO_SAD_LO"}
    return {label: load_audio(folder / f"{stem}.flac", RATE) for label, stem in names.items()}


def band_energy(x: np.ndarray, low_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return float(spectrum[np.fft.rfftfreq(x.size, 1 / RATE) >= low_hz].sum())


# ------------------------------------------------------------------------------ refusals


def test_error_is_a_tonecue_value_error():
    assert issubclass(AugmentationError, TonecueError) and issubclass(AugmentationError, ValueError)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", None, True])
def test_probabilities_must_lie_in_0_1(p):
    with pytest.raises(AugmentationError, match="noise_p.*probability"):
        Augmentation(noise_p=p)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"speed": (1.1, 0.9)}, "speed.*low <= high"),
        ({"snr_db": (5.0,)}, "snr_db.*two numbers"),
        ({"snr_db": 10.0}, "snr_db.*two numbers"),
        ({"semitones": (-2.0, float("inf"))}, "semitones.*finite"),
        ({"semitones": (-30.0, 2.0)}, "semitones.*within"),
        ({"lowpass_hz": (50.0, 7000.0)}, "lowpass_hz.*within"),
        ({"rooms": 0}, "rooms"),
        ({"rooms": 2.5}, "rooms"),
        ({"room_seed": -1}, "room_seed"),
    ],
)
def test_ranges_and_counts_are_checked(settings, message):
    with pytest.raises(AugmentationError, match=message):
        Augmentation(**settings)


def test_an_rt60_the_largest_room_cannot_reach_is_refused():
    # Even fully absorbing walls leave a 12 x 10 x 4 m room an RT60 above 0.1 s (Sabine).
    with pytest.raises(AugmentationError, match="RT60"):
        Augmentation(rt60_s=(0.1, 0.3), room_length_m=(3.0, 12.0), room_width_m=(3.0, 10.0), room_height_m=(2.4, 4.0))


def test_an_rt60_too_long_to_simulate_is_refused():
    with pytest.raises(AugmentationError, match="image sources"):
        Augmentation(rt60_s=(0.3, 2.5))


def test_from_dict_refuses_unknown_settings_and_other_versions():
    recipe = Augmentation().to_dict()
    with pytest.raises(AugmentationError, match="unknown.*reverb"):
        Augmentation.from_dict({**recipe, "reverb": 1})
    with pytest.raises(AugmentationError, match="version"):
        Augmentation.from_dict({**recipe, "version": recipe["version"] + 1})


def test_augmenter_refuses_the_held_out_fold(tmp_path):
    touch(tmp_path, "rain/5-1-A.ogg", "rain/1-1-A.ogg")
    with pytest.raises(AugmentationError, match="fold 5.*held out"):
        Augmenter(NoiseBank(tmp_path, (5,)))
    assert Augmenter(NoiseBank(tmp_path, (1,))).bank.folds == (1,)


def test_augmenter_needs_a_bank_only_when_it_mixes_noise():
    with pytest.raises(AugmentationError, match="NoiseBank"):
        Augmenter(None)
    with pytest.raises(AugmentationError, match="NoiseBank"):
        Augmenter("../shared/data/noise/esc10")
    with pytest.raises(AugmentationError, match="Augmentation"):
        Augmenter(None, {"noise_p": 0.0})
    assert Augmenter(None, Augmentation(noise_p=0.0)).describe()["noise"] is None


def test_transform_input_is_checked():
    augment = Augmenter(None, Augmentation(**ONLY))
    speech = np.full(RATE, 0.1, np.float32)
    for bad, message in [
        ((speech, RATE, -1), "seed"),
        ((speech, 22050.5, 1), "sample rate"),
        ((speech.astype(np.int16), RATE, 1), "float"),
        ((np.full(RATE, np.inf, np.float32), RATE, 1), "finite"),
    ]:
        with pytest.raises(AugmentationError, match=message):
            augment(*bad)


# ------------------------------------------------------------------------------- recipe


def test_recipe_round_trips_through_json():
    recipe = Augmentation()
    as_json = json.loads(json.dumps(recipe.to_dict()))
    assert Augmentation.from_dict(as_json) == recipe
    changed = dataclasses.replace(recipe, snr_db=[0, 10])  # lists are taken as ranges
    assert changed.snr_db == (0.0, 10.0) and Augmentation.from_dict(changed.to_dict()) == changed


def test_default_copies_are_usually_changed_by_two_or_three_effects(tmp_path):
    touch(tmp_path, "rain/1-1-A.ogg")  # a plan draws numbers only: no clip is read
    default = Augmentation()
    augment = Augmenter(NoiseBank(tmp_path, (1,)), default)
    counts = Counter(len(augment.plan(seed)) for seed in range(3000))
    assert 2.0 <= default.expected_effects <= 3.0
    assert sum(k * v for k, v in counts.items()) / 3000 == pytest.approx(default.expected_effects, abs=0.06)
    assert (counts[2] + counts[3]) / 3000 > 0.55 and counts.most_common(1)[0][0] in (2, 3)
    assert counts[0] / 3000 < 0.04


def test_one_effects_setting_never_moves_another_effects_draws():
    a = Augmenter(None, Augmentation(noise_p=0.0))
    b = Augmenter(None, Augmentation(noise_p=0.0, speed_p=1.0, semitones=(-1.0, 1.0)))
    for seed in range(50):
        plan_a, plan_b = a.plan(seed), b.plan(seed)
        for effect in ("room", "lowpass", "gain"):
            assert plan_a.get(effect) == plan_b.get(effect)


# ----------------------------------------------------------------- the effects, for real


@pytest.mark.data
def test_speed_changes_length_as_it_says(clips):
    speech = clips["neutral"]
    augment = Augmenter(None, only("speed"))
    for seed in range(3):
        factor = augment.plan(seed)["speed"]["factor"]
        out = augment(speech, RATE, seed)
        assert out.dtype == np.float32 and np.isfinite(out).all()
        assert out.size == math.ceil(speech.size / factor)


@pytest.mark.data
def test_pitch_keeps_length_and_level(clips):
    speech = clips["neutral"]
    out = Augmenter(None, only("pitch"))(speech, RATE, 4)
    assert out.dtype == np.float32 and out.shape == speech.shape and np.isfinite(out).all()
    assert not np.allclose(out, speech, atol=1e-3)
    assert 20 * np.log10(active_level(out, RATE) / active_level(speech, RATE)) == pytest.approx(0.0, abs=2.0)


def test_room_gives_a_reverberant_tail_of_unit_energy():
    import pyroomacoustics as pra

    click = np.zeros(2 * RATE, np.float32)
    click[0] = 1.0
    augment = Augmenter(None, only("room", rooms=2))
    tails = {augment.plan(seed)["room"]["room"]: augment(click, RATE, seed) for seed in range(8)}
    assert sorted(tails) == [0, 1]
    for tail in tails.values():
        assert tail.shape == click.shape and np.isfinite(tail).all()
        # The copy of a click is the room's response: it starts with the direct sound, keeps
        # the energy (no level change beyond the reverberation), and decays like a room.
        assert np.argmax(np.abs(tail)) < 64
        assert np.sum(tail.astype(np.float64) ** 2) == pytest.approx(1.0, abs=1e-3)
        assert 0.1 < pra.experimental.measure_rt60(tail, RATE, decay_db=30) < 1.0
    assert not np.allclose(tails[0], tails[1])


@pytest.mark.data
def test_room_keeps_the_speech_level(clips):
    speech = clips["neutral"]
    augment = Augmenter(None, only("room", rooms=2))
    for seed in (0, 5):
        out = augment(speech, RATE, seed)
        assert out.dtype == np.float32 and out.shape == speech.shape and np.isfinite(out).all()
        assert not np.allclose(out, speech, atol=1e-3)
        ratio = np.sqrt(np.mean(out.astype(np.float64) ** 2) / np.mean(speech.astype(np.float64) ** 2))
        assert 20 * np.log10(ratio) == pytest.approx(0.0, abs=3.0)


@pytest.mark.data
def test_noise_is_mixed_at_the_planned_snr(clips, bank):
    speech = clips["neutral"]
    augment = Augmenter(bank, only("noise"))
    for seed in range(3):
        snr = augment.plan(seed)["noise"]["snr_db"]
        out = augment(speech, RATE, seed)
        assert out.dtype == np.float32 and out.shape == speech.shape
        noise = out.astype(np.float64) - speech
        measured = 20 * np.log10(active_level(speech, RATE) / np.sqrt(np.mean(noise**2)))
        assert measured == pytest.approx(snr, abs=0.1)


@pytest.mark.data
def test_lowpass_removes_the_top_band(clips):
    speech = clips["angry"]
    augment = Augmenter(None, only("lowpass"))
    for seed in range(3):
        cutoff = augment.plan(seed)["lowpass"]["cutoff_hz"]
        assert 3400 <= cutoff <= 7500
        out = augment(speech, RATE, seed)
        assert out.shape == speech.shape and out.dtype == np.float32
        if cutoff < 6500:
            assert band_energy(out, cutoff + 1000) < 0.1 * band_energy(speech, cutoff + 1000)


@pytest.mark.data
def test_gain_sets_the_peak_and_clips_at_full_scale(clips):
    speech = clips["sad"]
    augment = Augmenter(None, only("gain"))
    for seed in range(20):
        peak_dbfs = augment.plan(seed)["gain"]["peak_dbfs"]
        out = augment(speech, RATE, seed)
        expected = min(1.0, 10 ** (peak_dbfs / 20))
        assert np.abs(out).max() == pytest.approx(expected, rel=1e-5)


@pytest.mark.data
def test_clipping_depends_on_the_seed_never_on_the_emotion(clips):
    # CREMA-D's angry clips are often clipped; augmented copies of every emotion must be too, and
    # equally often, or a model learns "clipped = angry".
    augment = Augmenter(None, only("gain"))
    clipped = {
        label: {seed for seed in range(60) if np.abs(augment(x, RATE, seed)).max() >= 1.0}
        for label, x in clips.items()
    }
    assert clipped["neutral"] == clipped["sad"] == clipped["angry"]
    assert 0.08 < len(clipped["neutral"]) / 60 < 0.3  # peak drawn in -30..+6 dBFS: 1 in 6 above 0


@pytest.mark.data
def test_default_recipe_is_deterministic_and_keeps_the_contract(clips, bank):
    augment = Augmenter(bank, Augmentation(rooms=2))
    speech = clips["angry"]
    original = speech.copy()
    saved = random.getstate(), np.random.get_state()
    try:
        random.seed(5)
        np.random.seed(5)
        outs = [augment(speech, RATE, seed) for seed in range(8)]
        assert random.random() == random.Random(5).random()  # global state neither read nor moved
        random.seed(6)
        np.random.seed(6)
        assert all(np.array_equal(out, augment(speech, RATE, seed)) for seed, out in enumerate(outs))
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    for seed, out in enumerate(outs):
        assert out.dtype == np.float32 and np.isfinite(out).all() and np.abs(out).max() <= 1.0
        if "speed" not in augment.plan(seed):
            assert out.shape == speech.shape
    assert np.array_equal(speech, original)  # the clip itself is never changed
    distinct = {out.tobytes() for out in outs}
    assert len(distinct) == len(outs)
    assert np.array_equal(outs[3], pickle.loads(pickle.dumps(augment))(speech, RATE, 3))


@pytest.mark.data
def test_a_spawned_worker_gives_the_same_copies(clips, bank):
    augment = Augmenter(bank, Augmentation(rooms=2))
    speech = clips["neutral"]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = list(pool.map(augment, [speech] * 4, [RATE] * 4, range(4)))
    # The same copy up to float rounding: a fresh process may sum the room responses' convolution
    # in another order (its BLAS/FFT threads), never a different draw.
    for seed, out in enumerate(remote):
        here = augment(speech, RATE, seed)
        assert out.shape == here.shape
        np.testing.assert_allclose(out, here, rtol=0, atol=1e-5)


@pytest.mark.data
def test_describe_names_every_setting_and_only_training_noise(bank):
    augment = Augmenter(bank)
    described = augment.describe()
    assert json.loads(json.dumps(described)) == described
    assert isinstance(described["version"], int) and described["effects"] == list(EFFECTS)
    assert Augmentation.from_dict(described["recipe"]) == Augmentation()
    files = described["noise"]["files"]
    assert files == sorted(files) and len(files) == 240 and described["noise"]["folds"] == [1, 2, 3]
    assert not any(Path(name).name.startswith("5-") for name in files)
    assert {"audiomentations", "pyroomacoustics"} <= set(described["libraries"])
    assert described != Augmenter(bank, Augmentation(snr_db=(0.0, 10.0))).describe()
    line = augment.summary()
    assert "\n" not in line and "folds 1,2,3" in line and repr(augment) == line
