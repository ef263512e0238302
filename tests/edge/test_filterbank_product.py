"""FilterbankProduct must equal the dense product it replaces, for any filterbank shape."""

import numpy as np
import pytest

from tonecue.edge import dsp


@pytest.mark.parametrize("sr,n_fft,bands", [(22050, 2048, (128, 20)), (16000, 512, (40,)), (8000, 256, (13, 64)), (48000, 4096, (128,))])
def test_equals_dense_product(sr, n_fft, bands):
    weights = np.vstack([dsp.mel_filterbank(sr, n_fft, n, dtype="float32") for n in bands])
    power = np.random.default_rng(0).exponential(size=(37, 1 + n_fft // 2)).astype(np.float32)
    product = dsp.FilterbankProduct(weights)
    np.testing.assert_allclose(product(power), power @ weights.T, rtol=2e-6, atol=1e-6 * np.abs(power @ weights.T).max())
    # Every non-zero weight lies in exactly one block.
    covered = np.zeros(weights.shape, dtype=int)
    for bins, rows, block in product.blocks:
        covered[rows, bins] += 1
    assert np.all(covered[weights != 0] == 1)


def test_dense_weights_still_work():
    weights = np.random.default_rng(1).random((5, 33))
    power = np.random.default_rng(2).random((4, 33))
    np.testing.assert_allclose(dsp.FilterbankProduct(weights)(power), power @ weights.T, rtol=1e-12)
