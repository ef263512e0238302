"""The registry of model kinds: one record per kind, one name per model, records checked."""

from __future__ import annotations

import pytest

from tonecue.edge.errors import TonecueError
from tonecue.train import models
from tonecue.train.models import EpochBudget, ModelKind, ModelKindError, Quantization, Recipe

NOT_QUANTIZED = Quantization("stays fp32")


def test_the_seed_models_and_the_three_beyond_it():
    assert models.all_names() == ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn")  # --models all
    assert models.names() == ("rf", "svm", "dt", "svm-paraling", "klr-paraling-mfcc", "klr-paraling-mfcc-upper",
                              "cnn1d", "cnn2d", "crnn", "attn-cnn")
    assert models.names("classic") == ("rf", "svm", "dt", "svm-paraling", "klr-paraling-mfcc", "klr-paraling-mfcc-upper")
    assert models.names("net") == ("cnn1d", "cnn2d", "crnn", "attn-cnn")
    assert {k.name: k.input_kind for k in models.kinds()} == {
        "rf": "stats", "svm": "stats", "dt": "stats", "svm-paraling": "paraling", "klr-paraling-mfcc": "paraling-mfcc",
        "klr-paraling-mfcc-upper": "paraling-mfcc-upper", "cnn1d": "stats", "cnn2d": "image", "crnn": "sequence", "attn-cnn": "sequence"}
    assert [k.name for k in models.kinds() if k.reads_selection] == ["rf", "svm", "dt", "cnn1d"]
    assert [k.name for k in models.kinds() if k.float32_thresholds] == ["rf", "dt"]
    assert [k.name for k in models.kinds() if k.scale] == ["svm", "svm-paraling", "klr-paraling-mfcc", "klr-paraling-mfcc-upper"]
    assert models.resolve("psvm") == "svm-paraling" and models.resolve("KLR") == "klr-paraling-mfcc"
    assert models.resolve("klr-upper") == "klr-paraling-mfcc-upper"
    assert {k.name: (k.budget.epochs, k.budget.patience) for k in models.kinds("net")} == {
        "cnn1d": (40, 8), "cnn2d": (20, None), "crnn": (20, 5), "attn-cnn": (30, 6)}
    assert models.get("crnn").quantization.dynamic_ops == ("LSTM",)


def test_one_name_and_the_aliases_people_type():
    assert models.resolve("tree") == "dt" and models.resolve(" CNN-BiLSTM ") == "crnn" and models.resolve("svm") == "svm"
    with pytest.raises(ModelKindError, match="unknown model 'knn'; choose from rf, svm, dt, svm-paraling"):
        models.resolve("knn")
    with pytest.raises(ModelKindError, match="unknown model kind 'tree'"):  # get takes the one name only
        models.get("tree")
    assert issubclass(ModelKindError, TonecueError) and issubclass(ModelKindError, ValueError)


def test_hyperparameters_are_every_setting_the_run_uses():
    rf = models.get("rf").hyperparameters(seed=3)
    assert rf["scale"] is False and rf["classifier"]["n_estimators"] == 200 and rf["classifier"]["random_state"] == 3
    assert rf["classifier"]["n_jobs"] is None  # how many cores fit it is not a hyperparameter
    cnn2d = models.get("cnn2d").hyperparameters()
    assert cnn2d["architecture"] == {"channels": [32, 64, 64], "hidden": 64, "kernel_size": [2, 5], "stride": 2, "dropout": 0.5}
    assert cnn2d["recipe"]["lr"] == 1e-3 and cnn2d["recipe"]["batch_size"] == 64


def _net(**changes):
    fields = dict(name="tiny", title="tiny net", family="net", input_kind="image", reads_selection=False,
                  factory="tonecue.train.nets:Cnn2d", quantization=NOT_QUANTIZED,
                  recipe=Recipe(epochs=1, lr=1e-3, schedule="constant", loss="cross_entropy", patience=None),
                  budget=EpochBudget(1, None), quick_budget=EpochBudget(1, None))
    return ModelKind(**{**fields, **changes})


def test_a_record_is_checked_when_made_and_when_registered():
    with pytest.raises(ModelKindError, match="family must be one of"):
        _net(family="tree")
    with pytest.raises(ModelKindError, match="input_kind must be one of"):
        _net(input_kind="waveform")
    with pytest.raises(ModelKindError, match="only a stats model reads the feature selection"):
        _net(reads_selection=True)
    with pytest.raises(ModelKindError, match="a net has a recipe"):
        _net(recipe=None)
    with pytest.raises(ModelKindError, match="scale, n_jobs and float32_thresholds are for classic models"):
        _net(scale=True)
    with pytest.raises(ModelKindError, match="lower case"):
        _net(name="Big Net")
    with pytest.raises(ModelKindError, match=r"\['dt'\] are taken"):
        models.register(_net(name="dt"))
    with pytest.raises(ModelKindError, match=r"\['tree'\] are taken \(by \['dt'\]\)"):
        models.register(_net(aliases=("tree",)))
    with pytest.raises(ModelKindError, match="cannot import its factory 'nowhere:Net'"):
        _net(factory="nowhere:Net").builder
    with pytest.raises(ModelKindError, match="unknown model kind 'tiny'"):
        models.unregister("tiny")
    assert "tiny" not in models.names()


def test_a_registered_net_is_built_and_trained_by_its_record():
    import numpy as np

    from tonecue.train.nets import fit_net, make_net

    models.register(_net(params={"channels": (4, 8, 8), "hidden": 8}))
    try:
        net = make_net("tiny", (2, 20, 50), 2)
        assert net.kind == "tiny" and net.config["channels"] == [4, 8, 8]
        X = np.random.default_rng(0).normal(size=(8, 2, 20, 50)).astype(np.float32)
        _, history = fit_net(net, X, np.arange(8) % 2, num_threads=1)
        assert len(history.epochs) == 1  # the record's recipe
    finally:
        models.unregister("tiny")
