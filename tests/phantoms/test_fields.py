"""Smooth random fields: unit variance everywhere, correlated over the asked length, seeded."""

import numpy as np
import pytest

from brats_rev.phantoms import fields


def test_unit_variance_at_every_voxel_and_zero_mean():
    rng = np.random.default_rng(0)
    samples = np.stack([fields.smooth_noise(rng, (12, 10, 8), (1.0, 1.0, 2.0), 3.0)
                        for _ in range(400)])
    np.testing.assert_allclose(samples.var(axis=0), 1.0, atol=0.25)
    assert abs(samples.mean()) < 0.05


@pytest.mark.parametrize("correlation_mm", [2.0, 4.0])
def test_correlation_is_about_one_half_at_the_correlation_length(correlation_mm):
    field = fields.smooth_noise(np.random.default_rng(1), (200, 40, 40), (1.0, 1.0, 1.0),
                                correlation_mm)

    def lagged(lag):
        return np.corrcoef(field[:-lag].ravel(), field[lag:].ravel())[0, 1]

    lag = int(correlation_mm)
    assert lagged(1) > lagged(lag) > lagged(2 * lag)
    assert 0.35 < lagged(lag) < 0.65
    assert abs(lagged(4 * lag)) < 0.1  # four lengths apart: independent


def test_anisotropic_correlation_and_voxel_size():
    field = fields.smooth_noise(np.random.default_rng(2), (60, 60, 60), (1.0, 1.0, 1.0),
                                (2.0, 2.0, 20.0))
    along_x = np.corrcoef(field[:-3].ravel(), field[3:].ravel())[0, 1]
    along_z = np.corrcoef(field[..., :-3].ravel(), field[..., 3:].ravel())[0, 1]
    assert along_z > 0.9 > along_x
    coarse = fields.smooth_noise(np.random.default_rng(2), (30, 30, 30), (2.0, 2.0, 2.0), 8.0)
    assert coarse.shape == (30, 30, 30) and coarse.dtype == np.float32


def test_same_seed_same_field():
    first = fields.smooth_noise(np.random.default_rng(5), (9, 8, 7), (1.0, 1.0, 1.0), 4.0)
    again = fields.smooth_noise(np.random.default_rng(5), (9, 8, 7), (1.0, 1.0, 1.0), 4.0)
    np.testing.assert_array_equal(first, again)
