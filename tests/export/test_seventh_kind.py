"""A seventh model kind is one registry record: it trains, lands in the run folder and exports
with no other edit (a logistic regression on the featurewiz-selected statistics)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.runs import LABELS, train
from tonecue.edge.model import EmotionModel
from tonecue.export.cli import main as export
from tonecue.train import models
from tonecue.train.runfolder import RunFolderError, load_run


@pytest.fixture
def logistic_regression():
    kind = models.register(models.ModelKind(
        name="lr", title="logistic regression", family="classic", input_kind="stats", reads_selection=True,
        factory="sklearn.linear_model:LogisticRegression", params={"max_iter": 1000, "solver": "newton-cg"}, scale=True,
        quantization=models.Quantization("linear model: one MatMul, already tiny; stays fp32"),
    ))
    yield kind
    if "lr" in models.names():
        models.unregister("lr")


def test_a_seventh_kind_trains_lands_in_the_run_folder_and_exports(logistic_regression, synthetic, tmp_path):
    trained = train(synthetic.corpus, tmp_path / "run", "--models", "lr", "--no-detector")
    assert trained.code == 0, trained.err
    run = load_run(trained.run)
    assert list(run.models) == ["lr"] and run.models["lr"].name == "lr.joblib"
    hyper = run.config["hyperparameters"]["lr"]
    assert hyper["scale"] is True and hyper["classifier"]["solver"] == "newton-cg" and hyper["classifier"]["random_state"] == 0
    source = run.load("lr")
    assert type(source.pipeline[-1]).__name__ == "LogisticRegression" and source.selected == list(run.selected)
    assert "| logistic regression (`lr`) |" in (trained.run / "results.md").read_text()

    out = tmp_path / "export"
    code = export([str(trained.run), "--out", str(out), "--data", str(synthetic.corpus), "--workers", "1",
                   "--cache", "none", "--latency-clips", "1", "-q"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.onnx")) == ["lr.fp32.onnx"]
    report = json.loads((out / "verification.json").read_text())
    assert report["parity"]["lr"]["met"] and report["device"]["lr fp32"]["met"]
    assert report["quantization"]["lr"]["skipped"] == "stays fp32 — linear model: one MatMul, already tiny; stays fp32"

    model = EmotionModel(out / "lr.fp32.onnx")
    c = model.contract
    assert (c.model_name, c.input_kind, c.labels) == ("lr", "stats", LABELS)
    assert c.selected_features == run.selected_indices and c.training["hyperparameters"] == hyper
    windows = np.random.default_rng(0).standard_normal((3, c.spec.window_samples)).astype(np.float32) * 0.05
    np.testing.assert_allclose(model.probabilities(windows).sum(axis=1), 1.0, atol=1e-5)

    models.unregister("lr")  # a tonecue without the record refuses the folder, saying why
    with pytest.raises(RunFolderError, match="model kind 'lr' is not registered"):
        load_run(trained.run)
