"""FrontendSpec.level_dbfs: features that do not carry the recording level."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.cli import DEMO_CLIP
from tonecue.edge.frontend import Frontend, StreamingFeaturizer, featurize_clip
from tonecue.edge.spec import FrontendSpec, SpecError


@pytest.mark.parametrize("kind", ["stats", "image", "sequence"])
def test_a_quieter_recording_gives_the_same_features(kind):
    speech = load_audio(DEMO_CLIP)[: 6 * 22050]
    spec = FrontendSpec(level_dbfs=-25.0)
    loud, quiet = featurize_clip(speech, spec, kind), featurize_clip(speech * 0.03, spec, kind)
    np.testing.assert_allclose(quiet, loud, atol=2e-3 * np.abs(loud).max())
    seed = FrontendSpec()
    assert np.abs(featurize_clip(speech * 0.03, seed, kind) - featurize_clip(speech, seed, kind)).max() > 1.0


def test_streaming_and_single_window_agree_with_level_normalisation():
    speech = load_audio(DEMO_CLIP)[: 6 * 22050]
    spec = FrontendSpec(level_dbfs=-30.0)
    frontend, stream = Frontend(spec), StreamingFeaturizer(Frontend(spec), "stats")
    hop = 22 * spec.hop_length
    for start in range(0, len(speech) - spec.window_samples, hop):
        window = speech[start : start + spec.window_samples]
        np.testing.assert_allclose(stream(window, start), frontend.features(window, "stats"), rtol=1e-4, atol=1e-4)


def test_digital_silence_is_left_alone_and_nonsense_refused():
    spec = FrontendSpec(level_dbfs=-25.0)
    silent = Frontend(spec).features(np.zeros(spec.window_samples, dtype=np.float32), "stats")
    assert np.isfinite(silent).all()
    for bad in (5.0, -150.0, True, "loud"):
        with pytest.raises(SpecError, match="level_dbfs must be None or a level from -100 to 0 dBFS"):
            FrontendSpec(level_dbfs=bad)
    assert FrontendSpec.from_dict(FrontendSpec(level_dbfs=-25.0).to_dict()).level_dbfs == -25.0


def test_the_seed_timing_at_another_rate():
    assert FrontendSpec.at_rate(22050) == FrontendSpec()
    spec = FrontendSpec.at_rate(16000, level_dbfs=-25.0)
    assert (spec.n_fft, spec.hop_length, spec.level_dbfs) == (1500, 372, -25.0)
    assert abs(spec.window_seconds - FrontendSpec().window_seconds) < 0.01
    speech = load_audio(DEMO_CLIP, 16000)
    assert np.isfinite(featurize_clip(speech, spec, "stats")).all()


def test_windows_of_a_chosen_length():
    spec = FrontendSpec.at_rate(16000, window_seconds=2.0)
    assert (spec.window_frames, spec.window_samples) == (87, 31992) and abs(spec.window_seconds - 2.0) < 0.01
    assert FrontendSpec.at_rate(22050, window_seconds=FrontendSpec().window_seconds) == FrontendSpec()
    for bad in (0, -1.0, True, "2"):
        with pytest.raises(SpecError, match="window_seconds must be a positive number"):
            FrontendSpec.at_rate(16000, window_seconds=bad)


def test_the_hop_between_windows_in_seconds():
    spec = FrontendSpec.at_rate(16000, window_seconds=2.0)
    assert spec.hop_seconds(22) == 22 * 372 / 16000  # the shipped hop: 0.51 s
    assert spec.hop_seconds(spec.window_frames - 1) == spec.window_seconds


def test_the_paralinguistic_input_ignores_the_level_and_needs_10_khz():
    spec = FrontendSpec.at_rate(16000, window_seconds=2.0, level_dbfs=-25.0)
    speech = load_audio(DEMO_CLIP, 16000)[: spec.window_samples]
    frontend = Frontend(spec)
    assert frontend.output_shape("paraling") == (67,) == (len(frontend.feature_names("paraling")),)
    np.testing.assert_allclose(frontend.features(0.1 * speech, "paraling"), frontend.features(speech, "paraling"),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(SpecError, match="cannot make the paraling input: .*sample_rate must be >= 10000"):
        Frontend(FrontendSpec(sample_rate=8000, n_fft=512, hop_length=128)).output_shape("paraling")
    with pytest.raises(ValueError, match="only the vector inputs"):
        frontend.feature_names("image")
