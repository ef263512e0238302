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
