"""Train to device on real speech: `tonecue-train --quick` writes a run folder of 96 real clips,
`tonecue-export` turns it into ONNX files, and the device's runner classifies a clip with them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.runs import LABELS, SEED_MODELS
from tonecue.edge.audio import load_audio
from tonecue.edge.frontend import clip_windows
from tonecue.edge.model import EmotionModel, scale_temperature
from tonecue.edge.speech import sequence_graph_of
from tonecue.export.cli import main as export
from tonecue.export.convert import source_proba
from tonecue.train.runfolder import load_run


@pytest.mark.data
def test_a_real_run_exports_and_the_device_classifies_a_clip(real, tmp_path):
    assert real.code == 0, real.err
    out = tmp_path / "export"
    code = export([str(real.run), "--out", str(out), "--data", str(real.corpus), "--workers", "1",
                   "--cache", "none", "--latency-clips", "2", "--device-clips", "12", "-q"])
    report = json.loads((out / "verification.json").read_text())
    assert code == (0 if report["ok"] else 1)  # --quick nets may miss the int8 targets; the report says so
    assert sorted(p.name for p in out.glob("*.fp32.onnx")) == sorted(f"{n}.fp32.onnx" for n in SEED_MODELS)
    assert all(report["parity"][name]["met"] for name in SEED_MODELS)
    # The detector that chose the training windows travels beside the models, with its licence.
    assert (out / "silero_vad.onnx").is_file() and "MIT" in (out / "silero_vad.LICENSE").read_text()
    # And its run-of-chunks twin from the same wheel (the same probabilities, faster).
    assert sequence_graph_of(out / "silero_vad.onnx") == out / "silero_vad_16k_sequence.onnx"

    run = load_run(real.run)
    clip = sorted(real.corpus.glob("Savee/*.flac"))[0]
    for name in ("svm", "crnn"):
        model = EmotionModel(out / f"{name}.fp32.onnx")
        c = model.contract
        assert (c.labels, c.hop_frames, c.spec, c.gate, c.detector) == (LABELS, run.hop_frames, run.spec, run.gate, run.detector)
        assert c.detector.kind == "silero-vad" and c.bandwidth_hz == run.bandwidth_hz
        assert c.selected_features == run.selected_for(name)
        _, windows = clip_windows(load_audio(clip, c.spec.sample_rate), c.spec, c.hop_frames)
        p = model.probabilities(np.stack(windows))
        features = np.stack([model.frontend.features(w, c.input_kind) for w in windows])
        expected = source_proba(run.load(name), features, run.selected_for(name))
        # Calibrated by the run's temperature (fitted on the speaker-grouped out-of-fold windows).
        temperature = run.results["protocols"]["speaker"]["models"][name]["calibration"]["temperature"]
        assert c.temperature == temperature
        expected = scale_temperature(expected, temperature)
        np.testing.assert_allclose(p, expected, atol=1e-4)  # the device hears what training fitted
        assert model.labels[int(np.argmax(p.mean(axis=0)))] == LABELS[int(np.argmax(expected.mean(axis=0)))]
