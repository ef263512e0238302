"""The library face: `import tonecue.edge as tc` and the README's lines, run as written."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from tonecue.edge.cli import DEMO_CLIP


def test_the_readme_lines_run_as_written():
    import tonecue.edge as tc

    result = tc.EmotionModel().classify(str(DEMO_CLIP))
    assert result.label in ("angry", "happy", "sad", "neutral")
    assert set(result.probabilities) == {"angry", "happy", "sad", "neutral"}
    assert 0 < result.voiced_windows <= result.windows
    features = tc.featurize_clip(tc.load_audio(str(DEMO_CLIP)), kind="stats")
    assert features.shape[1:] == (114,) and features.dtype == np.float32
    assert tc.DEFAULT_HOP_FRAMES == 22


def test_classify_takes_an_array_with_its_rate():
    import tonecue.edge as tc

    signal = tc.load_audio(str(DEMO_CLIP), 16000)
    from_array = tc.EmotionModel().classify(signal, sample_rate=16000)
    assert from_array.windows > 0


def test_import_is_lazy_and_unknown_names_fail_clearly():
    code = (
        "import sys, json, tonecue.edge as tc; before = sorted(m for m in sys.modules if m.startswith(('onnxruntime', 'numpy')));"
        "tc.EmotionModel; after = 'onnxruntime' in sys.modules or 'tonecue.edge.model' in sys.modules;"
        "print(json.dumps([before, after]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after = json.loads(out)
    assert before == [] and after
    import tonecue.edge as tc

    try:
        tc.NoSuchThing
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
    assert "EmotionModel" in dir(tc)
