"""Temperature scaling: one number per model that makes its probabilities mean what they say on
voices it never heard.

A classifier's probabilities are fitted on the speakers it trains on, and they are overconfident
on a new voice: a window said to be 0.9 angry is right far less often than 9 times in 10. The
device shows nothing below a confidence threshold, so that threshold only means something if the
probabilities do. Temperature scaling (Guo et al. 2017) divides the log-probabilities by one
temperature T (T > 1 flattens them) and renormalizes; it never changes a window's top label.

T is fitted by minimum log-loss on the pooled out-of-fold windows of the speaker-grouped protocol
(every window predicted by a model that never heard its speaker, as the device runs it), then
checked on the leave-one-corpus-out windows it was not fitted on. The device applies it in
`tonecue.edge.model.EmotionModel.predict_proba` from the contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tonecue.edge.model import scale_temperature

__all__ = ["calibration_report", "expected_calibration_error", "fit_temperature", "log_loss"]

_BOUNDS = (0.05, 20.0)  # far beyond any temperature a sane model needs


def _check(proba: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba, labels = np.asarray(proba, dtype=np.float64), np.asarray(labels)
    if proba.ndim != 2 or len(proba) == 0 or labels.shape != (len(proba),):
        raise ValueError(f"expected probabilities (n, k) and n labels, got {proba.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= proba.shape[1]:
        raise ValueError(f"labels must be class indices below {proba.shape[1]}")
    return proba, labels.astype(np.intp)


def log_loss(proba: np.ndarray, labels: np.ndarray) -> float:
    proba, labels = _check(proba, labels)
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(labels)), labels], 1e-12, None))))


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimizes the log-loss of `proba` (n, k) on `labels` (n,)."""
    from scipy.optimize import minimize_scalar

    proba, labels = _check(proba, labels)
    lo, hi = np.log(_BOUNDS)
    found = minimize_scalar(lambda t: log_loss(scale_temperature(proba, float(np.exp(t))), labels),
                            bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """How far the top label's probability is from how often it is right: the mean over equal-width
    confidence bins of |accuracy - confidence|, weighted by the windows in each."""
    proba, labels = _check(proba, labels)
    confidence = proba.max(axis=1)
    right = proba.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(np.intp), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs(right[inside].mean() - confidence[inside].mean())
    return float(total / len(labels))


def calibration_report(proba: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, Any]:
    """Log-loss and calibration error of `proba` before and after scaling by `temperature`."""
    scaled = scale_temperature(np.asarray(proba, dtype=np.float64), temperature)
    return {
        "windows": int(len(labels)),
        "log_loss": round(log_loss(proba, labels), 4),
        "log_loss_scaled": round(log_loss(scaled, labels), 4),
        "ece": round(expected_calibration_error(proba, labels), 4),
        "ece_scaled": round(expected_calibration_error(scaled, labels), 4),
    }
