"""An RBF kernel classifier small enough for the device: Nyström features, then logistic regression.

An RBF SVM on the 387 "paraling-mfcc" inputs is the best classifier measured
(benchmarks/results/window-model-study.md), but it keeps about 11,000 support vectors: 17 MB of
weights per model, over the export budget. Approximating the kernel on a few thousand of the
training windows (the Nyström method, as `sklearn.kernel_approximation.Nystroem`, with its
spectrum floored) and fitting a multinomial logistic regression on that keeps nearly all of its
accuracy with a fixed size:

    model = NystroemLogisticRegression(n_components=2000, C=10.0).fit(X, y)
    model.predict_proba(X)     # softmax(exp(-gamma * |x - c|^2) @ weights + intercept)

After fitting, the Nyström normalization is folded into the regression's weights, so the model is
just its `components_` (landmark windows), `gamma_`, `weights_` (landmarks x classes) and
`intercept_`: what `tonecue.export` writes into ONNX as two matrix products and an exponential.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["NystroemLogisticRegression"]

#: Directions of the landmark kernel below this share of its largest eigenvalue are dropped. Two
#: (nearly) equal landmarks, e.g. a window and an augmented copy no effect changed, make it
#: singular; their inverse square root would give weights of 1e5 and more, whose float32 products
#: (in the ONNX file) lose the scores. What is dropped is what the landmarks cannot tell apart.
SPECTRUM_FLOOR = 1e-5


class NystroemLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on a Nyström approximation of the RBF kernel.

    n_components: landmark windows (drawn at random from the training set; fewer if it is smaller).
    gamma: the kernel's width, or "scale" for 1 / (n_features * X.var()), as `SVC` reads it.
    C, max_iter: the regression's inverse regularization strength and iteration cap.
    """

    def __init__(self, n_components: int = 2000, gamma="scale", C: float = 10.0, max_iter: int = 3000,
                 random_state=None):
        self.n_components = n_components
        self.gamma = gamma
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics.pairwise import rbf_kernel
        from sklearn.utils import check_random_state

        X, y = self._validate_data(X, y, dtype=np.float64)
        if self.gamma == "scale":
            variance = X.var()
            gamma = 1.0 / (X.shape[1] * variance) if variance > 0 else 1.0
        elif isinstance(self.gamma, (int, float)) and not isinstance(self.gamma, bool) and self.gamma > 0:
            gamma = float(self.gamma)
        else:
            raise ValueError(f"gamma must be 'scale' or a positive number, got {self.gamma!r}")
        # Landmarks as sklearn's Nystroem draws them; its map is the landmark kernel's inverse
        # square root, here with the spectrum floored (see SPECTRUM_FLOOR).
        landmarks = X[check_random_state(self.random_state).permutation(len(X))[: min(self.n_components, len(X))]]
        eigenvalues, eigenvectors = np.linalg.eigh(rbf_kernel(landmarks, gamma=gamma))
        kept = eigenvalues > SPECTRUM_FLOOR * eigenvalues.max()
        normalization = eigenvectors[:, kept] / np.sqrt(eigenvalues[kept])
        embedded = rbf_kernel(X, landmarks, gamma=gamma) @ normalization
        regression = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(embedded, y)
        coef, intercept = regression.coef_, regression.intercept_
        if coef.shape[0] == 1:  # two classes: softmax([0, z]) is the sigmoid the regression gives
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
        self.classes_ = regression.classes_
        self.gamma_ = gamma
        self.components_ = landmarks
        self.weights_ = normalization @ coef.T
        self.intercept_ = intercept
        self.n_iter_ = regression.n_iter_
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "weights_")
        X = self._validate_data(X, dtype=np.float64, reset=False)
        # Written out rather than sklearn's rbf_kernel: with it, the same rows reached through the
        # pipeline and through ClassicModel differed in the last bit (tests/train/test_classic.py),
        # and a model must give the same numbers for the same rows.
        c = self.components_
        distances = (X * X).sum(1)[:, None] - 2.0 * X @ c.T + (c * c).sum(1)[None, :]
        return np.exp(-self.gamma_ * distances) @ self.weights_ + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]
