"""Temperature scaling: fitted on held-out windows, applied by the device, never moving a label."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.edge.model import scale_temperature
from tonecue.train.calibrate import calibration_report, expected_calibration_error, fit_temperature, log_loss


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def honest_windows(n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from their own softmax: these probabilities are calibrated."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 4))
    p = softmax(logits)
    labels = np.array([rng.choice(4, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_undoes_over_and_under_confidence(true_temperature):
    logits, labels = honest_windows()
    told = softmax(logits / true_temperature)  # what a miscalibrated model says
    fitted = fit_temperature(told, labels)
    assert fitted == pytest.approx(1 / true_temperature, rel=0.06)
    report = calibration_report(told, labels, fitted)
    assert report["ece_scaled"] < 0.015 and report["log_loss_scaled"] <= report["log_loss"] + 1e-9
    if true_temperature != 1.0:
        assert report["ece"] > 0.05


def test_scaling_keeps_every_label_and_sums_to_one():
    logits, _ = honest_windows(500)
    p = softmax(logits).astype(np.float32)
    for t in (0.3, 1.0, 4.0):
        q = scale_temperature(p, t)
        assert q.dtype == np.float32 and np.array_equal(q.argmax(axis=1), p.argmax(axis=1))
        np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)
    assert scale_temperature(p, 1.0) is p
    assert scale_temperature(p, 4.0).max(axis=1).mean() < p.max(axis=1).mean() < scale_temperature(p, 0.3).max(axis=1).mean()


def test_the_measures_of_a_known_case():
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    # Bin 0.9: right half the time (|0.5 - 0.9| = 0.4); bin 0.6: always right (|1 - 0.6| = 0.4).
    assert expected_calibration_error(p, labels) == pytest.approx(0.4)
    assert log_loss(p, labels) == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.6, 0.6])))
    for bad in ([[0.5, 0.5]], np.zeros((2, 2, 2))):
        with pytest.raises(ValueError, match="expected probabilities"):
            log_loss(np.asarray(bad), np.array([0, 1]))
    with pytest.raises(ValueError, match="class indices below 2"):
        log_loss(p, np.array([0, 1, 2, 0]))
