"""Test conditions: held-out noise at an SNR and a random gain, as clip transforms."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.train.conditions import RandomGain, conditions
from tonecue.train.noise import NoiseMix


def test_a_random_gain_is_10_to_20_db_either_way_and_clips_like_a_converter():
    x = (0.05 * np.sin(np.linspace(0, 200, 16000))).astype(np.float32)
    gains = []
    for seed in range(200):
        y = RandomGain()(x, 16000, seed)
        assert y.dtype == np.float32 and y.shape == x.shape and np.abs(y).max() <= 1.0
        gains.append(20 * np.log10(np.abs(y).max() / np.abs(x).max()))
    gains = np.array(gains)
    loud = gains > 0
    assert 0.35 < loud.mean() < 0.65  # up and down alike
    assert np.all(gains[~loud] <= -10 + 1e-3) and np.all(gains[~loud] >= -20 - 1e-3)
    assert np.all(gains[loud] >= 10 - 1e-3)  # ... or clipped at full scale: +26 dB of 0.05 is 1
    assert np.array_equal(RandomGain()(x, 16000, 7), RandomGain()(x, 16000, 7))
    assert RandomGain().describe() == {"kind": "random-gain", "version": 1, "low_db": 10.0, "high_db": 20.0}


@pytest.mark.data
def test_the_conditions_a_run_asks_for(noise_dir):
    made = conditions(noise_dir, (20.0, 10.0, 5.0), gain=True)
    assert list(made) == ["snr-20", "snr-10", "snr-5", "gain"]
    assert all(isinstance(made[n], NoiseMix) for n in ("snr-20", "snr-10", "snr-5"))
    # Only the held-out fold is ever heard in a test condition.
    described = made["snr-10"].describe()
    assert described["folds"] == [5] and {f.split("/")[1][0] for f in described["files"]} == {"5"}
    assert conditions(None, (), gain=False) == {}
