"""Preprocessing exactness: crop box, uncrop, brain-only z-score, foreground sampling."""

import numpy as np
import pytest

from brats_rev.data import preprocess


def test_bounding_box_table_with_margin_and_clipping():
    mask = np.zeros((10, 8, 6), dtype=bool)
    mask[2, 3, 1] = mask[5, 6, 1] = True
    np.testing.assert_array_equal(preprocess.bounding_box(mask), [[2, 6], [3, 7], [1, 2]])
    np.testing.assert_array_equal(preprocess.bounding_box(mask, margin=2),
                                  [[0, 8], [1, 8], [0, 4]])
    with pytest.raises(ValueError, match="brain mask is empty"):
        preprocess.bounding_box(np.zeros((3, 3, 3), dtype=bool))


def test_crop_then_uncrop_restores_the_original_grid_exactly():
    rng = np.random.default_rng(0)
    image = np.zeros((12, 9, 7, 4), dtype=np.float32)
    image[3:9, 2:7, 1:5] = rng.normal(size=(6, 5, 4, 4))
    box = preprocess.bounding_box(preprocess.brain_mask(image), margin=1)
    np.testing.assert_array_equal(box, [[2, 10], [1, 8], [0, 6]])
    cropped = preprocess.crop(image, box)
    assert cropped.shape == (8, 7, 6, 4)
    restored = preprocess.uncrop(cropped, box, image.shape[:3])
    assert restored.dtype == image.dtype
    np.testing.assert_array_equal(restored, image)
    label = (image[..., 0] > 0).astype(np.uint8)
    np.testing.assert_array_equal(
        preprocess.uncrop(preprocess.crop(label, box), box, label.shape), label)
    with pytest.raises(ValueError, match="does not match box size"):
        preprocess.uncrop(cropped[:-1], box, image.shape[:3])


def test_zscore_uses_brain_voxels_only():
    image = np.zeros((2, 2, 2, 2), dtype=np.float32)
    image[0, 0, 0] = [1, 10]
    image[0, 0, 1] = [3, 30]
    image[1, 1, 1] = [0, 500]  # outside the mask: must not count and must become 0
    mask = np.zeros((2, 2, 2), dtype=bool)
    mask[0, 0, 0] = mask[0, 0, 1] = True
    mean, std = preprocess.zscore_statistics(image, mask)
    assert mean.dtype == std.dtype == np.float64
    np.testing.assert_array_equal(mean, [2, 20])
    np.testing.assert_array_equal(std, [1, 10])
    out = preprocess.zscore(image, mask)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, preprocess.apply_zscore(image, mask, mean, std))
    np.testing.assert_array_equal(out[0, 0, 0], [-1, -1])
    np.testing.assert_array_equal(out[0, 0, 1], [1, 1])
    assert np.count_nonzero(out[~mask]) == 0


def test_zscore_statistics_on_a_volume():
    rng = np.random.default_rng(2)
    image = rng.normal(300, 40, size=(10, 9, 8, 4)).astype(np.float32)
    mask = rng.random((10, 9, 8)) > 0.4
    out = preprocess.zscore(image, mask)
    np.testing.assert_allclose(out[mask].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(out[mask].std(axis=0), 1, atol=1e-6)


def test_all_zero_or_constant_modality_is_an_error_not_nan():
    image = np.ones((3, 3, 3, 2), dtype=np.float32)
    image[..., 0] = np.arange(27).reshape(3, 3, 3)
    image[..., 1] = 0.0
    with pytest.raises(ValueError, match="cannot normalise channel t1: it is constant"):
        preprocess.zscore(image, np.ones((3, 3, 3), bool), channel_names=["flair", "t1"])


def test_foreground_locations_are_capped_deterministic_and_correct():
    label = np.zeros((6, 5, 4), dtype=np.uint8)
    label[1, 2, 3] = 1
    label[2:5, 1:4, 0:2] = 3  # 18 voxels
    seed = preprocess.stable_seed("BraTS2021_00000")
    first = preprocess.foreground_locations(label, [1, 2, 3], max_per_class=5, seed=seed)
    again = preprocess.foreground_locations(label, [1, 2, 3], max_per_class=5, seed=seed)
    np.testing.assert_array_equal(first[1], [[1, 2, 3]])
    assert first[2].shape == (0, 3) and first[1].dtype == np.int32
    assert first[3].shape == (5, 3)
    np.testing.assert_array_equal(first[3], again[3])
    assert np.all(label[tuple(first[3].T)] == 3)
    assert len({tuple(c) for c in first[3]}) == 5
    every = preprocess.foreground_locations(label, [3], max_per_class=100, seed=seed)
    np.testing.assert_array_equal(every[3], np.argwhere(label == 3))


def test_stable_seed_is_fixed():
    # sha256("abc") starts ba 78 16 bf 8f 01 cf ea; read little-endian.
    assert preprocess.stable_seed("abc") == 0xEACF018FBF1678BA
