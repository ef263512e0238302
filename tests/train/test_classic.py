"""Classic models: featurewiz selection on a small synthetic frame, then RF/SVM/DT on separable data."""

from __future__ import annotations

import importlib.util
import logging
import warnings

import numpy as np
import pytest

from tonecue.edge.spec import FrontendSpec
from tonecue.train import models
from tonecue.train.classic import (
    ClassicModel,
    FeatureSelectionError,
    fit_classic,
    load_classic,
    save_classic,
    select_features,
)

NAMES = FrontendSpec().stats_feature_names()
N_CLASSES = 4


def separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The full statistics vector: noise, with class-dependent means on a few columns."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    X = rng.normal(size=(n, len(NAMES)))
    X[:, [0, 3, 60, 113]] += 3.0 * np.eye(N_CLASSES)[y]
    return X.astype(np.float32), y.astype(np.int64)


SELECTED = ["mfcc_mean_0", "mfcc_mean_3", "mel_mean_10", "zcr_mean", "lpc_2"]


# ---------------------------------------------------------------------------------- featurewiz


def wiz_frame(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    inf1 = y + rng.normal(0, 0.5, n)
    inf2 = (y % 2) + rng.normal(0, 0.5, n)
    X = np.c_[inf1, inf1, inf2, 0.9 * inf2 + rng.normal(0, 0.05, n), rng.normal(size=(n, 6))]
    names = ["inf1", "dup1", "inf2", "near2"] + [f"noise{i}" for i in range(6)]
    return X.astype(np.float32), y.astype(np.int64), names


def _logger_levels() -> dict[str, int]:
    return {n: lg.level for n, lg in logging.root.manager.loggerDict.items() if isinstance(lg, logging.Logger)}


@pytest.fixture(scope="module")
def wiz():
    """One featurewiz run (its import included when it is the first), with the process state around it."""
    # Not importorskip: importing featurewiz outside select_features is the very leak under test.
    if importlib.util.find_spec("featurewiz") is None:
        pytest.skip("featurewiz is in the train extra")
    X, y, names = wiz_frame()
    before = {
        "filters": list(warnings.filters), "warn": warnings.warn, "levels": _logger_levels(),
        "root": logging.root.level, "np": np.random.get_state(),
    }
    selected = select_features(X, y, names, seed=0)
    after = {
        "filters": list(warnings.filters), "warn": warnings.warn, "levels": _logger_levels(),
        "root": logging.root.level, "np": np.random.get_state(),
    }
    return {"X": X, "y": y, "names": names, "selected": selected, "before": before, "after": after}


def test_featurewiz_keeps_informative_drops_duplicate(wiz):
    selected = wiz["selected"]
    assert selected, "featurewiz kept nothing"
    assert {"inf1", "dup1", "inf2"} & set(selected), selected
    assert not {"inf1", "dup1"} <= set(selected), f"kept an exact duplicate: {selected}"
    assert selected == [n for n in wiz["names"] if n in selected], "not in the input order"


def test_featurewiz_restores_process_state(wiz):
    """Import and call: featurewiz silences warnings, patches warnings.warn and reseeds numpy."""
    before, after = wiz["before"], wiz["after"]
    assert after["filters"] == before["filters"]
    assert after["warn"] is before["warn"]
    assert after["root"] == before["root"]
    assert {n: after["levels"][n] for n in before["levels"]} == before["levels"]
    assert all(np.array_equal(a, b) for a, b in zip(before["np"][1:3], after["np"][1:3]))
    with pytest.warns(UserWarning, match="still heard"):
        warnings.warn("still heard", UserWarning)


def test_featurewiz_is_deterministic(wiz):
    assert select_features(wiz["X"], wiz["y"], wiz["names"], seed=0) == wiz["selected"]


def test_featurewiz_fallbacks_and_empty_results_raise(wiz, monkeypatch):
    import featurewiz

    X, y, names = wiz["X"], wiz["y"], wiz["names"]

    def falls_back(frame, target, **kw):
        print("    SULOV method is erroring. Continuing ...")
        return [c for c in frame.columns if c != target], frame

    monkeypatch.setattr(featurewiz, "featurewiz", falls_back)
    with pytest.raises(FeatureSelectionError, match="fell back"):
        select_features(X, y, names)
    monkeypatch.setattr(featurewiz, "featurewiz", lambda frame, target, **kw: ([], frame))
    with pytest.raises(FeatureSelectionError, match="no features"):
        select_features(X, y, names)
    monkeypatch.setattr(featurewiz, "featurewiz", lambda frame, target, **kw: (["bogus"], frame))
    with pytest.raises(FeatureSelectionError, match="not features"):
        select_features(X, y, names)


def test_select_features_checks_inputs():
    X, y, names = wiz_frame(40)
    with pytest.raises(ValueError, match="integer class indices"):
        select_features(X, np.array(["a", "b"] * 20), names)
    with pytest.raises(ValueError, match="feature names"):
        select_features(X, y, names[:-1])
    with pytest.raises(ValueError, match="unique"):
        select_features(X, y, ["a"] * X.shape[1])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_features(bad, y, names)


# ------------------------------------------------------------------------------------ models


@pytest.fixture(scope="module")
def data():
    return separable(240, 0), separable(120, 1)


@pytest.mark.parametrize("name", models.names("classic"))
def test_classic_learns_and_reproduces(name, data):
    (X, y), (X_test, y_test) = data
    model = fit_classic(name, X, y, NAMES, SELECTED, seed=3)
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), N_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(model.predict(X_test) == y_test) > 0.8
    again = fit_classic(name, X, y, NAMES, SELECTED, seed=3)
    np.testing.assert_array_equal(again.predict_proba(X_test), proba)
    # It reads its own columns of the full vector, as float32.
    np.testing.assert_array_equal(model.indices, [NAMES.index(s) for s in SELECTED])
    np.testing.assert_array_equal(model.pipeline.predict_proba(X_test[:, model.indices]), proba)
    np.testing.assert_array_equal(model.predict_proba(X_test.astype(np.float64)), proba)


def test_every_column_without_a_selection(data):
    (X, y), _ = data
    model = fit_classic("dt", X, y, NAMES, None)
    assert model.selected == NAMES and model.indices.tolist() == list(range(len(NAMES)))


def test_only_the_svm_is_scaled(data):
    (X, y), _ = data
    assert [s for s, _ in fit_classic("svm", X, y, NAMES, SELECTED).pipeline.steps] == ["scale", "clf"]
    assert [s for s, _ in fit_classic("dt", X, y, NAMES, SELECTED).pipeline.steps] == ["clf"]
    rf = fit_classic("rf", X, y, NAMES, SELECTED, seed=1, n_estimators=7, max_depth=3)
    assert len(rf.pipeline[-1].estimators_) == 7


def test_save_load_round_trip(tmp_path, data):
    (X, y), (X_test, _) = data
    model = fit_classic("rf", X, y, NAMES, SELECTED, seed=0, n_estimators=20)
    path = save_classic(model, tmp_path / "sub" / "rf.joblib")
    loaded = load_classic(path)
    assert isinstance(loaded, ClassicModel)
    assert (loaded.name, loaded.selected, loaded.feature_names, loaded.n_classes) == (
        model.name, model.selected, model.feature_names, model.n_classes)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    np.testing.assert_array_equal(ClassicModel.load(model.save(tmp_path / "again.joblib")).indices, model.indices)
    import joblib

    joblib.dump({"something": "else"}, tmp_path / "other.joblib")
    with pytest.raises(ValueError, match="not a tonecue classic model"):
        load_classic(tmp_path / "other.joblib")


def test_fit_classic_checks_inputs(data):
    (X, y), _ = data
    with pytest.raises(ValueError, match="unknown model kind 'knn'"):
        fit_classic("knn", X, y, NAMES, SELECTED)
    with pytest.raises(ValueError, match="'cnn1d' is a net, not a classic model"):
        fit_classic("cnn1d", X, y, NAMES, SELECTED)
    with pytest.raises(ValueError, match="svm takes no n_jobs"):
        fit_classic("svm", X, y, NAMES, SELECTED, n_jobs=2)
    with pytest.raises(ValueError, match="not among"):
        fit_classic("dt", X, y, NAMES, ["nope"])
    with pytest.raises(ValueError, match="no training rows"):
        fit_classic("dt", X, y, NAMES, SELECTED, n_classes=5)
    with pytest.raises(ValueError, match="full vector"):
        fit_classic("dt", X, y, NAMES, SELECTED).predict_proba(X[:, :10])
