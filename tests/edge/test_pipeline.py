"""The one pipeline step the service, `classify`, edge-bench and export's verification share."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.capture import FileSource
from tonecue.edge.classify import classify_clip
from tonecue.edge.cli import DEMO_CLIP
from tonecue.edge.config import Config
from tonecue.edge.indicators import NullIndicator
from tonecue.edge.model import EmotionModel
from tonecue.edge.pipeline import Pipeline
from tonecue.edge.resample import resample
from tonecue.edge.service import Service

from helpers.speech import LABELS, at_dbfs, detector_model_file as model_file, non_speech

RATE = 22050


@pytest.fixture
def detector_model(tmp_path):
    return EmotionModel(model_file(tmp_path))


def test_service_classify_and_pipeline_hear_the_same_windows(detector_model):
    steps = []
    service = Service(Config(), detector_model, NullIndicator(),
                      lambda: FileSource(DEMO_CLIP, RATE, realtime=False, block_seconds=0.1))
    service.pipeline.observers.append(steps.append)
    service.run()
    pipeline = Pipeline(detector_model)
    whole = pipeline.push(load_audio(DEMO_CLIP, RATE)) + pipeline.flush()
    assert [s.heard.start for s in steps] == [s.heard.start for s in whole]
    assert [s.heard.voiced for s in steps] == [s.heard.voiced for s in whole]
    voiced = [(a.heard.probabilities, b.heard.probabilities) for a, b in zip(steps, whole) if a.heard.voiced]
    assert len(voiced) > 10
    for a, b in voiced:
        np.testing.assert_allclose(a, b, atol=1e-5)
    result = classify_clip(detector_model, DEMO_CLIP)
    assert result.voiced_windows == len(voiced) and result.windows == len(whole)


def test_stream_time_stamps_each_window_at_its_end(detector_model):
    pipeline = Pipeline(detector_model)
    steps = pipeline.push(np.zeros(3 * RATE, dtype=np.float32), epoch=10.0)
    window = detector_model.contract.spec.window_samples
    assert [s.decision.time for s in steps] == [10.0 + (s.heard.start + window) / RATE for s in steps]


def test_non_speech_never_reaches_the_model_nor_cues(detector_model):
    pipeline = Pipeline(detector_model)
    for name, signal in non_speech(seed=11).items():
        pipeline.reset()
        steps = pipeline.push(signal)
        assert steps and not any(s.heard.voiced for s in steps), name
        assert all(s.decision.label is None for s in steps), name
        assert all(s.cue is None or s.cue.kind == "off" for s in steps), name


def test_phone_band_speech_is_refused_with_a_reason(tmp_path):
    model = EmotionModel(model_file(tmp_path))
    phone = resample(resample(load_audio(DEMO_CLIP, RATE), RATE, 8000), 8000, RATE)
    result = classify_clip(model, phone, RATE)
    assert result.label is None and result.probabilities is None and result.voiced_windows == 0
    assert "needs audio up to 11.0 kHz" in result.warning
    wide = classify_clip(model, DEMO_CLIP)
    assert wide.label in LABELS and wide.warning is None


def test_a_model_trained_on_narrow_band_audio_takes_it(tmp_path):
    model = EmotionModel(model_file(tmp_path, bandwidth_hz=3800.0))
    phone = resample(resample(load_audio(DEMO_CLIP, RATE), RATE, 8000), 8000, RATE)
    result = classify_clip(model, phone, RATE)
    assert result.warning is None and result.label in LABELS


def test_level_only_models_still_use_the_level_gate(tmp_path):
    model = EmotionModel(model_file(tmp_path, detector=False))
    assert model.speech_detector() is None
    noise = non_speech()["white noise"]
    steps = Pipeline(model).push(noise)
    assert steps[0].heard.voiced  # a level gate passes the onset of loud noise: why the detector exists
    assert not any(s.heard.voiced for s in Pipeline(EmotionModel(model_file(tmp_path))).push(noise))


def test_a_window_whose_voice_is_coming_warms_the_paralinguistic_frames():
    """The shipped model reads the paralinguistic functionals (in its paraling-mfcc-upper input): the
    listener hands a window that is loud enough and scored towards speech, but not (yet) a voice,
    to the featurizer's frame cache, so that the next window, the first voiced one, reuses its
    interior frames; a silent window, or background sound the detector scores low, is never
    analysed."""
    from tonecue.edge.listener import PRIME_SCORE, Listener

    model = EmotionModel()
    assert model.contract.input_kind == "paraling-mfcc-upper"
    listener = Listener(model)
    cache = listener._featurizer._paraling
    spec = model.contract.spec
    signal = load_audio(DEMO_CLIP, spec.sample_rate)
    hop = model.contract.hop_frames * spec.hop_length
    silence = np.zeros(spec.window_samples, dtype=np.float32)
    assert not listener.hear(0, silence).voiced and cache._first < 0  # nothing to analyse
    primed = skipped = voiced = 0
    for start in range(0, len(signal) - spec.window_samples, hop):
        before = cache._first
        heard = listener.hear(start, signal[start : start + spec.window_samples])
        if not heard.voiced and heard.level_db >= model.contract.gate.min_level_db:
            coming = heard.speech >= PRIME_SCORE
            assert (cache._first != before) == coming
            primed, skipped = primed + coming, skipped + (not coming)
        voiced += heard.voiced
    assert primed and skipped and voiced


def test_the_frames_analysed_ahead_change_no_judgement(monkeypatch):
    """Whether sound before a voice was analysed ahead or not, every voiced window gets the same
    probabilities, to the bit: the cache only saves work."""
    from tonecue.edge import listener as listener_module

    model = EmotionModel()
    signal = load_audio(DEMO_CLIP, model.contract.spec.sample_rate)
    judged = {}
    for score in (listener_module.PRIME_SCORE, 0.0, 2.0):  # as shipped, every sound, none
        monkeypatch.setattr(listener_module, "PRIME_SCORE", score)
        pipeline = Pipeline(model)
        steps = pipeline.push(signal) + pipeline.flush()
        judged[score] = np.array([s.heard.probabilities for s in steps if s.heard.voiced])
    first, *others = judged.values()
    assert len(first) > 5 and all(np.array_equal(first, other) for other in others)


@pytest.mark.data
def test_background_sound_is_not_analysed_ahead(noise_dir):
    """ESC-10 sound (a training fold), loud: the detector scores it low, so no window of it costs the
    paralinguistic analysis."""
    from tonecue.edge.listener import Listener

    model = EmotionModel()
    listener = Listener(model)
    calls = []
    listener._featurizer.prime = lambda window, start: calls.append(start)
    spec = model.contract.spec
    hop = model.contract.hop_frames * spec.hop_length
    sounds = sorted(noise_dir.glob("*/1-*.ogg"))[::4]  # one in four of fold 1, every kind of sound
    loud = 0
    for path in sounds:
        listener.reset()
        x = at_dbfs(load_audio(path, spec.sample_rate), -25)
        for start in range(0, len(x) - spec.window_samples + 1, hop):
            loud += not listener.hear(start, x[start : start + spec.window_samples]).voiced
    assert loud > 20 and len(calls) <= loud // 10
