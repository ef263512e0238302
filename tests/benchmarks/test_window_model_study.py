"""The window study's openSMILE anchors read the very windows the shipped recipe trains on."""

import dataclasses

import numpy as np
import pytest

from tonecue.benchmarks import window_model_study as study
from tonecue.edge.frontend import StreamingFeaturizer, frontend_for
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.speech import DetectorSettings
from tonecue.train.augment import Augmenter
from tonecue.train.corpus import LabelMap, build_index_of
from tonecue.train.noise import TRAIN_FOLDS, NoiseBank
from tonecue.train.windows import extract_windows

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def index():
    data = study.DATA
    if not (data / "crema-d").is_dir():
        pytest.skip(f"no crema-d under {data}")
    index = build_index_of([data / "crema-d"], LabelMap())
    return dataclasses.replace(index, clips=index.clips[:: len(index.clips) // 3][:3])  # three speakers' clips


@pytest.mark.parametrize("augmented", [False, True], ids=["clean", "augmented copy"])
def test_re_cut_windows_featurize_as_the_training_windows(index, augmented, tmp_path):
    spec = FrontendSpec.at_rate(16000, window_seconds=2, level_dbfs=-25)
    transform = Augmenter(NoiseBank(study.DATA / "noise" / "esc10", TRAIN_FOLDS)) if augmented else None
    ws = extract_windows(index, spec=spec, kinds=("paraling",), detector=DetectorSettings(), workers=1,
                         progress=False, cache_dir=tmp_path, transform=transform, variant=1 if augmented else 0)
    assert len(ws) >= 3
    for i, clip in enumerate(ws.clips):
        rows = np.flatnonzero(ws.clip_ids == i)
        starts, variant = ws.starts[rows].tolist(), 1 if augmented else 0
        cut = study.window_audio(str(clip.path), starts, spec, transform, variant, scaled=False)
        featurizer = StreamingFeaturizer(frontend_for(spec), "paraling")
        again = np.stack([featurizer(w, s) for w, s in zip(cut, starts)])
        np.testing.assert_array_equal(again, ws.features["paraling"][rows])  # the same samples
        # What openSMILE reads: those windows at the level the frontend brings every window to.
        for raw, scaled in zip(cut, study.window_audio(str(clip.path), starts, spec, transform, variant)):
            assert 20 * np.log10(np.sqrt(np.mean(scaled.astype(np.float64) ** 2))) == pytest.approx(-25, abs=0.01)
            gain = scaled[raw != 0] / raw[raw != 0]  # one gain for the whole window
            np.testing.assert_allclose(gain, np.median(gain), rtol=1e-5)
