"""The Nyström kernel logistic regression: the folded model is the regression it was fitted as."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression

from tonecue.train.kernel import NystroemLogisticRegression


def _data(n_classes: int, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 12))
    y = (np.hypot(X[:, 0], X[:, 1]) > 1.2).astype(int) + (2 * (X[:, 2] > 0) if n_classes == 4 else 0)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 4])
def test_the_folded_weights_give_the_fitted_regressions_probabilities(n_classes):
    X, y = _data(n_classes)
    model = NystroemLogisticRegression(n_components=150, C=3.0, random_state=0).fit(X, y)
    gamma = 1.0 / (X.shape[1] * X.var())
    embedded = Nystroem(gamma=gamma, n_components=150, random_state=0).fit(X).transform(X)
    regression = LogisticRegression(C=3.0, max_iter=3000).fit(embedded, y)
    assert model.gamma_ == pytest.approx(gamma) and model.components_.shape == (150, 12)
    assert model.weights_.shape == (150, n_classes)
    # The same map up to a rotation, to which the regression's L2 penalty is blind.
    np.testing.assert_allclose(model.predict_proba(X), regression.predict_proba(embedded), atol=1e-4)
    np.testing.assert_array_equal(model.predict(X), regression.predict(embedded))
    assert (model.predict(X) == y).mean() > 0.85  # the kernel learns the ring a linear model cannot


def test_duplicate_windows_among_the_landmarks_do_not_blow_up_the_weights():
    """A window and an augmented copy that no effect changed are the same row: two equal landmarks
    make the kernel matrix singular, and an unfloored inverse square root gives weights so large
    that float32 (the ONNX file) loses the scores. The spectrum is floored instead."""
    X, y = _data(4, n=300)
    jitter = 1e-6 * np.random.default_rng(1).standard_normal(X.shape)  # float rounding of a normalization
    X, y = np.vstack([X, X + jitter, X - jitter]), np.concatenate([y, y, y])
    model = NystroemLogisticRegression(n_components=400, C=10.0, random_state=0).fit(X, y)
    assert np.abs(model.weights_).max() < 1e3
    scores64 = model.decision_function(X)
    x32, c32 = X.astype(np.float32), model.components_.astype(np.float32)
    d32 = (x32 * x32).sum(1)[:, None] - 2 * x32 @ c32.T + (c32 * c32).sum(1)[None, :]
    scores32 = np.exp(-np.float32(model.gamma_) * d32) @ model.weights_.astype(np.float32)
    np.testing.assert_allclose(scores32 + model.intercept_, scores64, atol=1e-3)
    assert (model.predict(X) == y).mean() > 0.85


def test_a_small_training_set_takes_every_window_as_a_landmark():
    X, y = _data(4, n=60)
    assert NystroemLogisticRegression(n_components=500, random_state=0).fit(X, y).components_.shape == (60, 12)


@pytest.mark.parametrize("gamma", [0, -1.0, "auto", None, True])
def test_a_bad_gamma_is_refused(gamma):
    X, y = _data(4, n=50)
    with pytest.raises(ValueError, match="gamma must be 'scale' or a positive number"):
        NystroemLogisticRegression(gamma=gamma).fit(X, y)


def test_an_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NystroemLogisticRegression().predict_proba(np.zeros((1, 3)))
