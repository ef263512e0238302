"""Conversion of each model kind to ONNX, with the contract inside, from a run folder the trainer wrote."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from helpers.runs import LABELS, SEED_MODELS, SPEC
from tonecue.edge.model import EmotionModel, ModelContract, scale_temperature
from tonecue.export.convert import (
    INPUT_NAME,
    OUTPUT_NAME,
    contract_for,
    convert,
    metrics_for,
    read_contract,
    source_input,
    source_proba,
)
from tonecue.train.runfolder import load_run


@pytest.fixture(scope="module")
def run(synthetic):
    return load_run(synthetic.run)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("fp32")
    return {name: convert(run.load(name), contract_for(run, name), out / f"{name}.fp32.onnx") for name in SEED_MODELS}


def test_the_trainers_run_folder_is_read(run):
    results = json.loads((run.path / "results.json").read_text())
    assert tuple(run.models) == SEED_MODELS
    assert run.spec == SPEC and run.labels == LABELS and run.hop_frames == 22
    assert run.config == results["config"] and run.config["quick"] is True
    assert run.kind("dt").family == "classic" and run.kind("crnn").input_kind == "sequence"
    assert run.selected_for("rf") == run.selected_for("cnn1d") == run.selected_indices
    assert run.selected == tuple(results["final"]["featurewiz"]["features"])
    assert run.selected_for("cnn2d") is None and run.selected_for("crnn") is None
    metrics = metrics_for(run, "cnn2d")
    assert metrics["speaker_grouped"]["clip_uar"] == results["protocols"]["speaker"]["models"]["cnn2d"]["clip"]["overall"]["uar"]
    assert metrics["random_split"]["clip_uar"] == results["protocols"]["random"]["models"]["cnn2d"]["clip"]["overall"]["uar"]
    assert metrics["quick_run"] is True


@pytest.mark.parametrize("name", SEED_MODELS)
def test_fp32_matches_its_source_and_loads_on_the_device(name, run, exported, synthetic_windows):
    path = exported[name]
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == [INPUT_NAME]
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert not any(n.metadata_props for n in model.graph.node)  # no exporter stack traces shipped
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(name)) == [path.name]

    contract = read_contract(path)
    assert contract == contract_for(run, name)
    assert contract.precision == "fp32" and contract.model_name == name and contract.labels == LABELS
    assert contract.training["kind"] == name
    assert contract.training["hyperparameters"] == run.config["hyperparameters"][name]
    assert contract.training["metrics"]["speaker_grouped"]["clip_uar"] == pytest.approx(metrics_for(run, name)["speaker_grouped"]["clip_uar"])
    assert contract.training["data"]["clips"] == 24

    source = run.load(name)
    selected = run.selected_for(name)
    features = synthetic_windows.features[contract.input_kind]
    expected = source_proba(source, features, selected)
    # the graph alone, on the columns it reads, batch of one and of many
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = source_input(features, selected)
    for n in (1, len(inputs)):
        got = session.run([OUTPUT_NAME], {INPUT_NAME: inputs[:n]})[0]
        np.testing.assert_allclose(got, expected[:n], atol=1e-4)
    # whole audio windows through the device's runner and its own frontend
    device = EmotionModel(path)
    windows = np.random.default_rng(0).standard_normal((2, SPEC.window_samples)).astype(np.float32) * 0.05
    probabilities = device.probabilities(windows)
    assert probabilities.shape == (2, len(LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    features = np.stack([device.frontend.features(w, contract.input_kind) for w in windows])
    # The device calibrates by the temperature the run fitted (the graph alone does not).
    expected = scale_temperature(source_proba(source, features, selected), contract.temperature)
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)


def test_input_kinds_and_selection(run, exported):
    kinds = {name: read_contract(path).input_kind for name, path in exported.items()}
    assert kinds == {"rf": "stats", "svm": "stats", "dt": "stats", "cnn1d": "stats", "cnn2d": "image", "crnn": "sequence"}
    assert read_contract(exported["cnn1d"]).selected_features == run.selected_indices
    assert read_contract(exported["cnn2d"]).selected_features is None


def test_contract_kind_mismatch_is_refused(run, tmp_path):
    import dataclasses

    wrong = dataclasses.replace(contract_for(run, "cnn2d"), input_kind="sequence")
    with pytest.raises(ValueError, match="reads 'image'"):
        convert(run.load("cnn2d"), wrong, tmp_path / "x.onnx")


def test_metadata_round_trip_keeps_other_keys(run, exported, tmp_path):
    from tonecue.export.convert import read_metadata, set_contract

    model = onnx.load(str(exported["dt"]))
    model.metadata_props.add(key="note", value="kept")
    contract = contract_for(run, "dt", precision="fp32", extra="x")
    set_contract(model, contract)
    onnx.save(model, str(tmp_path / "m.onnx"))
    metadata = read_metadata(tmp_path / "m.onnx")
    assert metadata["note"] == "kept"
    assert ModelContract.from_metadata(metadata).training["extra"] == "x"
