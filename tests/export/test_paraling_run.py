"""The paralinguistic models from corpus to device: `tonecue-train` fits `svm-paraling` (and the
kernel model on the wider `paraling-mfcc` input) on 2 s windows of real speech with speaker
normalization, `tonecue-export` writes its ONNX file, and the device's runner hears a clip as
training featurized it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.runs import LABELS, train
from tonecue.edge.audio import load_audio
from tonecue.edge.frontend import StreamingFeaturizer, clip_windows, paraling_settings
from tonecue.edge.model import EmotionModel, scale_temperature
from tonecue.edge.normalize import cold_normalize
from tonecue.export.cli import main as export
from tonecue.export.convert import source_proba
from tonecue.train.run import RunConfig, RunError, run_training
from tonecue.train.runfolder import load_run


@pytest.mark.data
@pytest.mark.parametrize("name, kind, size", [("svm-paraling", "paraling", 67), ("klr-paraling-mfcc", "paraling-mfcc", 387)])
def test_a_paralinguistic_run_exports_and_the_device_hears_it_as_training_did(real, tmp_path, noise_dir, name, kind, size):
    trained = train(real.corpus, tmp_path / "run", "--models", name, "--sample-rate", "16000",
                    "--window-seconds", "2", "--normalize", "speaker", "--noise", str(noise_dir), "--augment", "1",
                    "--snr", "10", "--gain-guard")
    assert trained.code == 0, trained.err
    run = load_run(trained.run)
    assert run.spec.window_frames == 87 and run.normalized_kind == kind
    assert len(run.normalization.mean) == size and run.selected is None
    results = json.loads((trained.run / "results.json").read_text())
    assert set(results["protocols"]["speaker"]["models"][name]["normalization"]) == {"cold", "full"}
    # Online-matched, the final model too: every window (and every augmented copy's) once per
    # speaker, once under the prior alone.
    augmented = results["data"]["augmented_windows"]
    assert augmented > 0.5 * results["data"]["windows"]
    assert results["final"]["models"][name]["fit_rows"] == 2 * (results["data"]["windows"] + augmented)
    assert run.config["augmentation"]["copies"] == 1 and run.config["augmentation"]["transform"]["noise"]
    # The test conditions, through the same fold models, for both protocols.
    assert sorted(run.config["conditions"]) == ["gain", "snr-10"]
    for protocol in ("speaker", "corpus"):
        for condition in ("gain", "snr-10"):
            entry = results["protocols"][protocol]["conditions"][condition][name]
            assert set(entry) == {"online", "cold"} and 0 <= entry["online"]["clip_uar"] <= 1
    assert f"| {name} | speaker-grouped |" in (trained.run / "results.md").read_text()

    out = tmp_path / "export"
    code = export([str(trained.run), "--out", str(out), "--data", str(real.corpus), "--workers", "1",
                   "--cache", "none", "--latency-clips", "1", "--device-clips", "6", "-q"])
    report = json.loads((out / "verification.json").read_text())
    assert code == 0 and report["parity"][name]["met"], report["parity"]

    model = EmotionModel(out / f"{name}.fp32.onnx")
    c = model.contract
    assert (c.input_kind, c.labels, c.selected_features, c.input_shape) == (kind, LABELS, None, (size,))
    assert c.normalization == run.normalization
    metadata = model.session.get_modelmeta().custom_metadata_map
    assert json.loads(metadata["tonecue.paraling"]) == paraling_settings(c.spec).to_dict()
    clip = sorted(real.corpus.glob("Savee/*.flac"))[0]
    starts, windows = clip_windows(load_audio(clip, c.spec.sample_rate), c.spec, c.hop_frames)
    featurizer = StreamingFeaturizer(model.frontend, kind)
    features = np.stack([featurizer(w, s) for s, w in zip(starts, windows)])
    expected = source_proba(run.load(name), cold_normalize(features, c.normalization))
    # Calibrated by the temperature the run fitted on its speaker-grouped out-of-fold windows.
    calibration = results["protocols"]["speaker"]["models"][name]["calibration"]
    assert c.temperature == calibration["temperature"] > 0 and calibration["speaker"]["windows"] == results["data"]["windows"]
    expected = scale_temperature(expected, c.temperature)
    np.testing.assert_allclose(model.probabilities(np.stack(windows)), expected, atol=1e-4)


def test_one_normalization_prior_per_run(tmp_path):
    config = RunConfig(data=[tmp_path], models=("svm", "svm-paraling"), normalization="speaker", out=tmp_path / "r")
    with pytest.raises(RunError, match="one prior per run, but these models read stats and paraling"):
        run_training(config)
