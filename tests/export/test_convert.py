"""Conversion of each model kind to ONNX, with the contract inside, and reading run folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from tonecue.edge.model import EmotionModel, ModelContract
from tonecue.export.convert import (
    INPUT_NAME,
    OUTPUT_NAME,
    RunFolderError,
    convert,
    load_run,
    read_contract,
    source_input,
    source_proba,
)

from tinyrun import LABELS, SPEC

MODELS = ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn")


@pytest.fixture(scope="module")
def run(tiny_run):
    return load_run(tiny_run)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("fp32")
    return {name: convert(run.load(name), run.contract(name), out / f"{name}.fp32.onnx") for name in MODELS}


def test_run_folder_is_read(run):
    assert set(run.models) == set(MODELS)
    assert run.spec == SPEC and run.labels == LABELS and run.hop_frames == 22
    assert run.kind_of("dt") == "tree"
    assert run.selected_for("rf") == run.selected_for("cnn1d") == run.selected_indices
    assert run.selected_for("cnn2d") is None and run.selected_for("crnn") is None
    metrics = run.metrics("cnn2d")
    assert metrics["speaker_grouped"]["clip_uar"] == pytest.approx(0.54)
    assert metrics["random_split"]["clip_uar"] == pytest.approx(0.8)


@pytest.mark.parametrize("name", MODELS)
def test_fp32_matches_its_source_and_loads_on_the_device(name, run, exported, tiny_windows):
    path = exported[name]
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == [INPUT_NAME]
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert not any(n.metadata_props for n in model.graph.node)  # no exporter stack traces shipped
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(name)) == [path.name]

    contract = read_contract(path)
    assert contract == run.contract(name)
    assert contract.precision == "fp32" and contract.model_name == name and contract.labels == LABELS
    assert contract.training["metrics"]["speaker_grouped"]["clip_uar"] == pytest.approx(run.metrics(name)["speaker_grouped"]["clip_uar"])
    assert contract.training["data"]["clips"] == 16

    source = run.load(name)
    selected = run.selected_for(name)
    features = tiny_windows.features[contract.input_kind]
    expected = source_proba(source, features, selected)
    device = EmotionModel(path)
    np.testing.assert_allclose(device.predict(features), expected, atol=1e-4)
    # the graph alone, on the columns it reads, batch of one and of many
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = source_input(features, selected)
    for n in (1, len(inputs)):
        got = session.run([OUTPUT_NAME], {INPUT_NAME: inputs[:n]})[0]
        np.testing.assert_allclose(got, expected[:n], atol=1e-4)
    # whole audio windows through the device's frontend
    windows = np.random.default_rng(0).standard_normal((2, SPEC.window_samples)).astype(np.float32) * 0.05
    probabilities = device.probabilities(windows)
    assert probabilities.shape == (2, len(LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_input_kinds_and_selection(run, exported):
    kinds = {name: read_contract(path).input_kind for name, path in exported.items()}
    assert kinds == {"rf": "stats", "svm": "stats", "dt": "stats", "cnn1d": "stats", "cnn2d": "image", "crnn": "sequence"}
    assert read_contract(exported["cnn1d"]).selected_features == run.selected_indices
    assert read_contract(exported["cnn2d"]).selected_features is None


def test_contract_kind_mismatch_is_refused(run, tmp_path):
    import dataclasses

    wrong = dataclasses.replace(run.contract("cnn2d"), input_kind="sequence")
    with pytest.raises(ValueError, match="reads 'image'"):
        convert(run.load("cnn2d"), wrong, tmp_path / "x.onnx")


def _copy(tiny_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "spec.json").unlink(), "missing spec.json"),
        (lambda d: (d / "labels.json").unlink(), "missing labels.json"),
        (lambda d: shutil.rmtree(d / "models"), r"missing fitted models \(\*.joblib, \*.pt\)"),
        (lambda d: (d / "spec.json").write_text("{not json"), "spec.json: cannot read it"),
        (lambda d: (d / "spec.json").write_text(json.dumps({"n_fft": -3})), "spec.json or gate.json cannot be read"),
        (lambda d: (d / "labels.json").write_text("[]"), "labels.json must list"),
    ],
)
def test_incomplete_run_folders_are_refused_clearly(tiny_run, tmp_path, damage, message):
    run_dir = _copy(tiny_run, tmp_path)
    damage(run_dir)
    with pytest.raises(RunFolderError, match=message):
        load_run(run_dir)


def test_bad_models_in_a_run_folder(tiny_run, tmp_path):
    run_dir = _copy(tiny_run, tmp_path)
    (run_dir / "models" / "cnn2d.pt").write_bytes(b"not a checkpoint")
    run = load_run(run_dir)
    with pytest.raises(RunFolderError, match="cnn2d.pt: cannot load it"):
        run.load("cnn2d")
    with pytest.raises(RunFolderError, match="no model 'mlp'"):
        run.load("mlp")
    data = json.loads((run_dir / "selected_features.json").read_text())
    data["selected"] = data["selected"][:-1]
    (run_dir / "selected_features.json").write_text(json.dumps(data))
    with pytest.raises(RunFolderError, match="cnn1d reads"):
        load_run(run_dir).load("cnn1d")
    with pytest.raises(RunFolderError, match="not a folder"):
        load_run(tmp_path / "nowhere")


def test_metadata_round_trip_keeps_other_keys(run, exported, tmp_path):
    from tonecue.export.convert import read_metadata, set_contract

    model = onnx.load(str(exported["dt"]))
    model.metadata_props.add(key="note", value="kept")
    contract = run.contract("dt", precision="fp32", extra="x")
    set_contract(model, contract)
    onnx.save(model, str(tmp_path / "m.onnx"))
    metadata = read_metadata(tmp_path / "m.onnx")
    assert metadata["note"] == "kept"
    assert ModelContract.from_metadata(metadata).training["extra"] == "x"
