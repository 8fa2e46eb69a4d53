"""Augmentations: exact permutations, numeric references, image-label alignment, seeds."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.config import DataConfig
from brats_rev.data import augment

PATCH = (6, 6, 5)
ALL_OFF = DataConfig(patch_size=PATCH[:2] + (5,)).without_augmentation()


def _patch(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=PATCH + (4,)).astype(np.float32),
            rng.integers(0, 4, size=PATCH).astype(np.uint8))


@pytest.mark.parametrize("dtype,channels", [(np.float32, 4), (np.float16, 4), (np.float16, 2),
                                            (np.float16, 1)])
@pytest.mark.parametrize("reverse", list(itertools.product([False, True], repeat=3)))
def test_flips_are_exact_reversals(reverse, dtype, channels):
    # float16 with 4, 2 and 1 channels is permuted packed as int64, int32 and int16 voxels.
    image, label = _patch()
    image = image[..., :channels].astype(dtype)
    flipped_image, flipped_label = augment.orient(
        tf.constant(image), tf.constant(label), None, tf.constant(reverse))
    axes = tuple(a for a in range(3) if reverse[a])
    assert flipped_image.dtype == dtype
    np.testing.assert_array_equal(flipped_image, np.flip(image, axes))
    np.testing.assert_array_equal(flipped_label, np.flip(label, axes))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("turns", [0, 1, 2, 3, 5, -1])
def test_rotations_equal_numpy_rot90_in_the_axial_plane(turns, dtype):
    image, label = _patch()
    image = image.astype(dtype)
    swap, reverse = augment.rotation_as_orientation(tf.constant(turns))
    rotated_image, rotated_label = augment.orient(tf.constant(image), tf.constant(label), swap,
                                                  reverse)
    np.testing.assert_array_equal(rotated_image, np.rot90(image, turns, axes=(0, 1)))
    np.testing.assert_array_equal(rotated_label, np.rot90(label, turns, axes=(0, 1)))


@pytest.mark.parametrize("turns,flips", [(1, (True, False, True)), (2, (True, True, False)),
                                         (3, (False, True, True))])
def test_rotation_then_flips_is_one_orientation(turns, flips):
    image, label = _patch()
    swap, reverse = augment.rotation_as_orientation(tf.constant(turns))
    _, combined = augment.orient(tf.constant(image), tf.constant(label), swap,
                                 tf.math.logical_xor(reverse, tf.constant(flips)))
    expected = np.flip(np.rot90(label, turns, axes=(0, 1)), [a for a in range(3) if flips[a]])
    np.testing.assert_array_equal(combined, expected)


def test_scale_shift_acts_per_modality():
    image, _ = _patch()
    scale, shift = np.array([1.0, 0.5, 2.0, 1.25], np.float32), np.array([0, 1, -1, 0.1],
                                                                        np.float32)
    np.testing.assert_allclose(augment.scale_shift(image, scale, shift), image * scale + shift,
                               rtol=1e-6)


def test_channel_range_is_the_min_and_max_of_each_modality():
    image, _ = _patch(4)
    low, high = augment.channel_range(tf.constant(image))
    np.testing.assert_array_equal(low, image.min(axis=(0, 1, 2)))
    np.testing.assert_array_equal(high, image.max(axis=(0, 1, 2)))


def test_gamma_matches_the_reference_formula():
    image, _ = _patch()
    image[..., 3] = 2.0  # a constant modality stays as it is
    exponents = np.array([0.7, 1.0, 1.5, 1.3], np.float32)
    low, high = image.min(axis=(0, 1, 2)), image.max(axis=(0, 1, 2))
    extent = np.where(high > low, high - low, 1)
    expected = low + (high - low) * ((image - low) / extent) ** exponents
    result = augment.gamma(tf.constant(image), tf.constant(exponents)).numpy()
    np.testing.assert_allclose(result, expected, atol=1e-5)
    np.testing.assert_allclose(result[..., 1], image[..., 1], atol=1e-5)
    np.testing.assert_array_equal(result[..., 3], 2.0)
    assert np.allclose(result.min(axis=(0, 1, 2)), low) and np.allclose(
        result.max(axis=(0, 1, 2)), high)


def test_gaussian_blur_of_an_impulse_is_the_separable_kernel():
    image = np.zeros((15, 15, 15, 2), np.float32)
    image[7, 7, 7] = 1.0
    sigmas = np.array([0.8, 0.0], np.float32)
    blurred = augment.gaussian_blur(tf.constant(image), tf.constant(sigmas), 3).numpy()
    offsets = np.arange(-3, 4)
    kernel = np.exp(-0.5 * (offsets / 0.8) ** 2)
    kernel /= kernel.sum()
    expected = np.zeros((15, 15, 15))
    expected[4:11, 4:11, 4:11] = np.einsum("i,j,k->ijk", kernel, kernel, kernel)
    np.testing.assert_allclose(blurred[..., 0], expected, atol=1e-6)
    np.testing.assert_array_equal(blurred[..., 1], image[..., 1])  # sigma 0: unchanged


def test_gaussian_noise_has_the_requested_spread_and_follows_the_seed():
    image = np.zeros((32, 32, 32, 4), np.float32)
    noisy = augment.gaussian_noise(tf.constant(image), 0.1, tf.constant([3, 4])).numpy()
    assert abs(noisy.std() - 0.1) < 0.003 and abs(noisy.mean()) < 0.002
    np.testing.assert_array_equal(
        noisy, augment.gaussian_noise(tf.constant(image), 0.1, tf.constant([3, 4])))


def test_zoom_factor_respects_probability_and_range():
    seeds = [tf.constant([1, i]) for i in range(200)]
    assert {float(augment.zoom_factor(ALL_OFF, s)) for s in seeds[:5]} == {1.0}
    always = ALL_OFF.replace(scale_probability=1.0, scale_range=(0.7, 1.4))
    factors = np.array([float(augment.zoom_factor(always, s)) for s in seeds])
    assert factors.min() >= 0.7 and factors.max() <= 1.4 and len(set(factors)) == 200
    sometimes = ALL_OFF.replace(scale_probability=0.2)
    changed = np.mean([float(augment.zoom_factor(sometimes, s)) != 1.0 for s in seeds])
    assert abs(changed - 0.2) <= 4 * np.sqrt(0.16 / 200)


SPATIAL = ALL_OFF.replace(flip_probability=0.5, rotate90_probability=0.75)
INTENSITY = DataConfig(patch_size=PATCH[:2] + (5,), flip_probability=0.0,
                       rotate90_probability=0.0, intensity_scale_probability=1.0,
                       intensity_shift_probability=1.0, gamma_probability=1.0,
                       noise_probability=1.0, blur_probability=1.0)


def _oriented(image, label, config, seed):
    orientation = augment.orientation(config, tf.constant(seed))
    return tuple(t.numpy() for t in augment.orient(tf.constant(image), tf.constant(label),
                                                   *orientation))


@pytest.mark.parametrize("index", range(12))
def test_random_orientation_keeps_a_label_drawn_into_the_image_exactly_aligned(index):
    image, label = _patch(index)
    image[..., 2] = label  # the label drawn into one modality
    out_image, out_label = _oriented(image, label, SPATIAL, [5, index])
    np.testing.assert_array_equal(out_image[..., 2], out_label)
    # A permutation: same multiset of voxels as before.
    np.testing.assert_array_equal(np.sort(out_label, axis=None), np.sort(label, axis=None))


def test_random_orientation_reaches_all_sixteen_orientations():
    image, label = _patch()
    seen = {_oriented(image, label, SPATIAL, [6, index])[1].tobytes() for index in range(64)}
    # 4 rotations x 8 flip patterns give 16 distinct orientations of a generic patch.
    assert len(seen) == 16


def test_orientation_follows_its_probabilities():
    seeds = [tf.constant([7, i]) for i in range(400)]
    flips_only = ALL_OFF.replace(flip_probability=0.3)
    swaps, reverses = zip(*(augment.orientation(flips_only, s) for s in seeds), strict=True)
    assert set(swaps) == {None}  # rotation off: never transposed
    flipped = np.mean([r.numpy() for r in reverses], axis=0)
    np.testing.assert_array_less(np.abs(flipped - 0.3), 4 * np.sqrt(0.21 / 400))
    rotations = ALL_OFF.replace(rotate90_probability=0.6)
    # A quarter turn (1 or 3 of the 1-3 turns drawn) swaps x and y: 0.6 * 2 / 3 = 0.4.
    swapped = np.mean([bool(augment.orientation(rotations, s)[0]) for s in seeds])
    assert abs(swapped - 0.4) <= 4 * np.sqrt(0.24 / 400)


def test_intensity_augmentation_follows_the_seed():
    image, _ = _patch()
    seed = tf.constant([2, 9])
    out_image = augment.augment_intensities(tf.constant(image), INTENSITY, seed)
    assert np.all(np.isfinite(out_image)) and not np.allclose(out_image, image)
    again = augment.augment_intensities(tf.constant(image), INTENSITY, seed)
    np.testing.assert_array_equal(out_image, again)
    other = augment.augment_intensities(tf.constant(image), INTENSITY, tf.constant([2, 10]))
    assert not np.allclose(out_image, other)


def test_disabled_augmentation_is_the_identity():
    image, _ = _patch()
    assert augment.orientation(ALL_OFF, tf.constant([1, 1])) is None
    out_image = augment.augment_intensities(tf.constant(image), ALL_OFF, tf.constant([1, 1]))
    np.testing.assert_array_equal(out_image, image)
