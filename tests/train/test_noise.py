"""ESC-10 noise for augmentation and the noisy test protocols: the bank's fold discipline, the
active-speech SNR, the NoiseMix transform, and every refusal; real ESC-10 clips where marked."""

from __future__ import annotations

import json
import math
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tonecue.edge.audio import load_audio
from tonecue.edge.errors import TonecueError
from tonecue.train.noise import (
    HELD_OUT_FOLD,
    SILENCE_DBFS,
    TRAIN_FOLDS,
    NoiseBank,
    NoiseError,
    NoiseMix,
    active_level,
    mix_at_snr,
)

RATE = 16000


def touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def write_ogg(path: Path, samples: np.ndarray, rate: int = 44100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, format="OGG", subtype="VORBIS")


def snr_db(speech: np.ndarray, mixed: np.ndarray, rate: int) -> float:
    noise = mixed.astype(np.float64) - speech.astype(np.float64)
    return 20 * math.log10(active_level(speech, rate) / math.sqrt(np.mean(noise**2)))


@pytest.fixture(scope="module")
def esc10(dev_corpus) -> Path:
    return dev_corpus.parent / "noise" / "esc10"


@pytest.fixture(scope="module")
def crema(dev_corpus) -> Path:
    return dev_corpus.parent / "crema-d" / "AudioWAV"


# ------------------------------------------------------------------------------ refusals


def test_error_is_a_tonecue_value_error():
    assert issubclass(NoiseError, TonecueError) and issubclass(NoiseError, ValueError)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(NoiseError, match="no noise folder"):
        NoiseBank(tmp_path / "nowhere", TRAIN_FOLDS)


def test_empty_fold_selection_is_refused(tmp_path):
    touch(tmp_path, "dog_bark/1-100-A.ogg")
    with pytest.raises(NoiseError, match="no folds asked"):
        NoiseBank(tmp_path, ())


@pytest.mark.parametrize("fold", [0, 6, -1, 1.5, "1", True])
def test_unknown_fold_is_refused(tmp_path, fold):
    touch(tmp_path, "dog_bark/1-100-A.ogg")
    with pytest.raises(NoiseError, match="ESC folds are 1-5"):
        NoiseBank(tmp_path, (fold,))


def test_a_bare_number_is_not_a_fold_selection(tmp_path):
    touch(tmp_path, "dog_bark/5-100-A.ogg")
    with pytest.raises(NoiseError, match=r"\(5,\)"):
        NoiseBank(tmp_path, 5)


def test_the_held_out_fold_never_mixes_with_training_folds(tmp_path):
    touch(tmp_path, "dog_bark/1-100-A.ogg", "dog_bark/5-100-A.ogg")
    with pytest.raises(NoiseError, match="held out"):
        NoiseBank(tmp_path, (1, 5))


def test_folds_without_clips_are_refused_naming_the_folds_there(tmp_path):
    touch(tmp_path, "dog_bark/1-100-A.ogg", "rain/2-7-B.ogg", "rain/5-9-A.ogg")
    with pytest.raises(NoiseError, match=r"fold 3.*holds folds 1, 2, 5"):
        NoiseBank(tmp_path, (1, 3))


def test_a_folder_one_level_too_high_finds_no_clips(tmp_path):
    touch(tmp_path, "esc10/dog_bark/1-100-A.ogg")
    with pytest.raises(NoiseError, match="holds no ESC clips"):
        NoiseBank(tmp_path, (1,))


def test_a_clip_name_without_a_fold_is_refused(tmp_path):
    # A misnamed file could be a held-out clip: its fold is never guessed.
    touch(tmp_path, "dog_bark/1-100-A.ogg", "dog_bark/bark.ogg")
    with pytest.raises(NoiseError, match="bark.ogg"):
        NoiseBank(tmp_path, (1,))


@pytest.mark.parametrize("snr", [float("nan"), float("inf"), -float("inf"), "10", None, True])
def test_snr_must_be_a_finite_number(snr):
    speech = np.ones(RATE, np.float32)
    with pytest.raises(NoiseError, match="SNR"):
        mix_at_snr(speech, speech, snr, RATE)


def test_noisemix_checks_its_snr_when_built(tmp_path):
    touch(tmp_path, "dog_bark/5-100-A.ogg")
    with pytest.raises(NoiseError, match="SNR"):
        NoiseMix(tmp_path, snr_db=float("nan"))


def test_mix_refuses_signals_it_cannot_mix():
    speech = np.full(RATE, 0.1, np.float32)
    with pytest.raises(NoiseError, match="same length"):
        mix_at_snr(speech, speech[:-1], 10.0, RATE)
    with pytest.raises(NoiseError, match="speech is silent"):
        mix_at_snr(np.zeros(RATE, np.float32), speech, 10.0, RATE)
    with pytest.raises(NoiseError, match="noise is silent"):
        mix_at_snr(speech, np.full(RATE, 1e-5, np.float32), 10.0, RATE)
    with pytest.raises(NoiseError, match="finite"):
        mix_at_snr(np.full(RATE, np.nan, np.float32), speech, 10.0, RATE)


def test_transform_input_is_checked(tmp_path):
    write_ogg(tmp_path / "rain" / "5-1-A.ogg", np.random.default_rng(0).uniform(-0.3, 0.3, 44100))
    mix = NoiseMix(tmp_path)
    speech = np.full(RATE, 0.1, np.float32)
    for bad, message in [
        ((speech, RATE, -1), "seed"),
        ((speech, RATE, 1.5), "seed"),
        ((speech, 0, 1), "sample rate"),
        ((speech.astype(np.int16), RATE, 1), "float"),
        ((speech.reshape(2, -1), RATE, 1), "1-D"),
        ((speech[:0], RATE, 1), "empty"),
    ]:
        with pytest.raises(NoiseError, match=message):
            mix(*bad)


# ------------------------------------------------------------------------- speech level


def test_active_level_ignores_leading_and_trailing_silence():
    t = np.arange(RATE) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    padded = np.concatenate([np.zeros(RATE), tone, np.zeros(RATE)]).astype(np.float32)
    assert active_level(padded, RATE) == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)
    # Plain RMS would say 4.8 dB less, the error this definition exists to avoid.
    assert math.sqrt(np.mean(padded.astype(np.float64) ** 2)) == pytest.approx(0.5 / math.sqrt(6), rel=1e-3)


def test_active_level_leaves_out_frames_30_db_below_the_loudest():
    loud = np.full(RATE // 2, 0.5)
    floor = np.full(RATE // 2, 0.5 * 10 ** (-31 / 20))  # 31 dB down: not speech
    assert active_level(np.concatenate([loud, floor]), RATE) == pytest.approx(0.5)
    near = np.full(RATE // 2, 0.5 * 10 ** (-20 / 20))  # 20 dB down: quiet speech, counted
    assert active_level(np.concatenate([loud, near]), RATE) < 0.5 * 0.75


def test_mix_hits_the_asked_snr_and_keeps_the_sum_unclipped():
    rng = np.random.default_rng(1)
    speech = (0.9 * np.sin(np.linspace(0, 400 * np.pi, RATE))).astype(np.float32)
    noise = rng.uniform(-1, 1, RATE).astype(np.float32)
    for snr in (-5.0, 0.0, 5.0, 20.0):
        mixed = mix_at_snr(speech, noise, snr, RATE)
        assert mixed.dtype == np.float32
        assert snr_db(speech, mixed, RATE) == pytest.approx(snr, abs=0.01)
    # At 0 dB the sum of a 0.9 sine and the noise passes full scale; mix_at_snr leaves it so.
    assert np.abs(mix_at_snr(speech, noise, 0.0, RATE)).max() > 1.0


# ---------------------------------------------------------------------- the bank on files


def test_bank_skips_silent_excerpts_by_drawing_again(tmp_path):
    write_ogg(tmp_path / "dog_bark" / "1-1-A.ogg", np.zeros(44100))
    write_ogg(tmp_path / "rain" / "1-2-A.ogg", np.random.default_rng(0).uniform(-0.2, 0.2, 44100))
    bank = NoiseBank(tmp_path, (1,))
    for seed in range(20):
        excerpt = bank.excerpt(RATE // 2, RATE, np.random.default_rng(seed))
        assert 20 * np.log10(np.sqrt(np.mean(excerpt.astype(np.float64) ** 2))) > SILENCE_DBFS


def test_bank_of_silence_gives_up_with_a_clear_error(tmp_path):
    write_ogg(tmp_path / "dog_bark" / "1-1-A.ogg", np.zeros(44100))
    bank = NoiseBank(tmp_path, (1,))
    with pytest.raises(NoiseError, match="silent"):
        bank.excerpt(RATE // 2, RATE, np.random.default_rng(0))


def test_excerpt_loops_a_clip_shorter_than_asked(tmp_path):
    write_ogg(tmp_path / "rain" / "2-2-A.ogg", np.random.default_rng(0).uniform(-0.2, 0.2, 4410))
    bank = NoiseBank(tmp_path, (2,))
    clip = load_audio(tmp_path / "rain" / "2-2-A.ogg", RATE)
    excerpt = bank.excerpt(5 * len(clip), RATE, np.random.default_rng(3))
    assert excerpt.shape == (5 * len(clip),) and excerpt.dtype == np.float32
    np.testing.assert_array_equal(excerpt[: len(clip)], excerpt[len(clip) : 2 * len(clip)])


def test_excerpt_refuses_bad_requests(tmp_path):
    write_ogg(tmp_path / "rain" / "2-2-A.ogg", np.random.default_rng(0).uniform(-0.2, 0.2, 4410))
    bank = NoiseBank(tmp_path, (2,))
    with pytest.raises(NoiseError, match="n_samples"):
        bank.excerpt(0, RATE, np.random.default_rng(0))
    with pytest.raises(NoiseError, match="Generator"):
        bank.excerpt(10, RATE, 0)


@pytest.mark.data
def test_real_banks_keep_training_and_held_out_folds_apart(esc10):
    train = NoiseBank(esc10, TRAIN_FOLDS)
    test = NoiseBank(esc10, (HELD_OUT_FOLD,))
    assert train.folds == (1, 2, 3) and test.folds == (5,)
    assert len(train) == 240 and len(test) == 80
    assert {Path(n).name[0] for n in train.names} == {"1", "2", "3"}
    assert {Path(n).name[0] for n in test.names} == {"5"}
    assert list(train.names) == sorted(train.names)
    assert all(not Path(n).is_absolute() and len(Path(n).parts) == 2 for n in train.names)
    assert len({Path(n).parent.name for n in test.names}) == 10


@pytest.mark.data
def test_noisemix_on_real_speech_is_deterministic_and_exact(esc10, crema):
    speech = load_audio(crema / "1001_DFA_NEU_XX.flac", RATE)
    mix = NoiseMix(esc10, snr_db=10.0)
    saved = random.getstate(), np.random.get_state()
    try:
        random.seed(1)
        np.random.seed(1)
        first = mix(speech, RATE, 1234)
        assert random.random() == random.Random(1).random()  # global state neither read nor moved
        random.seed(2)
        np.random.seed(2)
        assert np.array_equal(first, mix(speech, RATE, 1234))
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    assert not np.array_equal(first, mix(speech, RATE, 1235))
    assert np.array_equal(first, pickle.loads(pickle.dumps(mix))(speech, RATE, 1234))
    assert first.dtype == np.float32 and first.shape == speech.shape and np.isfinite(first).all()
    assert np.abs(first).max() < 1.0  # this quiet clip never reaches full scale at 10 dB
    assert snr_db(speech, first, RATE) == pytest.approx(10.0, abs=0.1)
    for snr in (5.0, 20.0):
        assert snr_db(speech, NoiseMix(esc10, snr_db=snr)(speech, RATE, 7), RATE) == pytest.approx(snr, abs=0.1)


@pytest.mark.data
def test_noisemix_clips_at_full_scale_as_a_microphone_would(esc10, crema):
    speech = load_audio(crema / "1009_IEO_ANG_HI.flac", RATE)  # clipped in the corpus
    mixed = NoiseMix(esc10, snr_db=5.0)(speech, RATE, 3)
    assert np.abs(mixed).max() == 1.0


@pytest.mark.data
def test_noisemix_describes_every_setting(esc10):
    mix = NoiseMix(esc10, snr_db=20)
    described = mix.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["snr_db"] == 20.0 and described["folds"] == [5]
    assert described["files"] == sorted(described["files"]) and len(described["files"]) == 80
    assert all(Path(f).name.startswith("5-") for f in described["files"])
    assert isinstance(described["version"], int)
    assert described != NoiseMix(esc10, snr_db=10).describe()
    assert "20 dB" in mix.summary() and repr(mix) == mix.summary()
