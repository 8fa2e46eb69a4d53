"""Patch sampling: padding, oversampling statistics, bounds, exact crops and label-safe zoom."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.data import augment, sampling

SHAPE = (40, 40, 40)
PATCH = (8, 8, 8)


def _starts(shape, foreground, class_counts, probability, draws, seed=7):
    """int (draws, 3) patch starts for seeds (seed, 0..draws-1)."""
    seeds = tf.stack([tf.fill([draws], seed), tf.range(draws)], axis=1)
    foreground = tf.constant(np.reshape(foreground, (-1, 3)), tf.int32)
    counts = tf.constant(class_counts, tf.int32)
    draw = tf.function(lambda all_seeds: tf.map_fn(
        lambda s: sampling.patch_start(tf.constant(shape, tf.int32), foreground, counts, PATCH,
                                       probability, s),
        all_seeds, fn_output_signature=tf.int32, parallel_iterations=64))
    return draw(seeds).numpy()


def _contains(starts, voxels):
    """bool (draws,): the patch at each start holds at least one of `voxels` (n, 3)."""
    inside = np.logical_and(voxels[None] >= starts[:, None], voxels[None] < starts[:, None] + 8)
    return inside.all(axis=2).any(axis=1)


def test_pad_to_patch_centres_the_case_with_zeros_and_background():
    image = np.arange(3 * 9 * 6 * 4, dtype=np.float32).reshape(3, 9, 6, 4) + 1
    label = np.full((3, 9, 6), 2, np.uint8)
    foreground = np.array([[0, 0, 0], [2, 8, 5]], np.int32)
    padded_image, padded_label, shifted = (t.numpy() for t in sampling.pad_to_patch(
        tf.constant(image), tf.constant(label), tf.constant(foreground), (6, 8, 9)))
    assert padded_image.shape == (6, 9, 9, 4) and padded_label.shape == (6, 9, 9)
    # x: 3 missing -> 1 before, 2 after; y: none; z: 3 missing -> 1 before, 2 after.
    np.testing.assert_array_equal(padded_image[1:4, :, 1:7], image)
    np.testing.assert_array_equal(padded_label[1:4, :, 1:7], label)
    assert padded_image.sum() == image.sum() and np.count_nonzero(padded_label) == label.size
    np.testing.assert_array_equal(shifted, foreground + [1, 0, 1])
    np.testing.assert_array_equal(padded_label[tuple(shifted.T)], [2, 2])


@pytest.mark.parametrize("probability", [0.0, 0.33, 0.8])
def test_tumour_fraction_matches_the_oversampling_probability(probability):
    # A 4^3 tumour in the far corner: a uniform 8^3 patch holds some of it only when its start
    # is >= 29 on every axis (4 of the 33 positions per axis).
    blob = np.stack(np.meshgrid(*[np.arange(36, 40)] * 3, indexing="ij"), -1).reshape(-1, 3)
    draws = 1500
    starts = _starts(SHAPE, blob, [0, len(blob), 0], probability, draws)
    assert starts.min() >= 0 and (starts <= np.subtract(SHAPE, PATCH)).all()
    uniform_hit = (4 / 33) ** 3
    expected = probability + (1 - probability) * uniform_hit
    observed = _contains(starts, blob).mean()
    bound = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-9
    assert abs(observed - expected) <= bound, (observed, expected)


def test_classes_are_chosen_uniformly_among_those_present():
    # Class 0: 500 voxels on one side; class 1 absent; class 2: 5 voxels on the other side.
    rng = np.random.default_rng(0)
    big = np.column_stack([rng.integers(0, 10, 500), rng.integers(0, 40, 500),
                           rng.integers(0, 40, 500)])
    small = np.column_stack([np.full(5, 35), np.arange(5) * 8, np.full(5, 20)])
    draws = 1000
    starts = _starts(SHAPE, np.concatenate([big, small]), [500, 0, 5], 1.0, draws)
    assert starts.min() >= 0 and (starts <= np.subtract(SHAPE, PATCH)).all()
    on_small = _contains(starts, small)
    on_big = _contains(starts, big)
    assert np.all(on_small ^ on_big)  # every patch is centred on one of the two classes
    assert abs(on_small.mean() - 0.5) <= 4 * np.sqrt(0.25 / draws)


def test_case_without_tumour_falls_back_to_uniform_positions():
    starts = _starts(SHAPE, np.zeros((0, 3)), [0, 0, 0], 1.0, 2000)
    assert starts.min() == 0 and (starts.max(axis=0) == 32).all()
    # Uniform over 0..32 per axis: mean 16, standard error 9.5 / sqrt(2000).
    np.testing.assert_allclose(starts.mean(axis=0), 16, atol=4 * 9.52 / np.sqrt(2000))


def test_start_is_fixed_by_the_seed():
    blob = np.array([[5, 6, 7]])
    first = _starts(SHAPE, blob, [1, 0, 0], 0.5, 50, seed=1)
    np.testing.assert_array_equal(first, _starts(SHAPE, blob, [1, 0, 0], 0.5, 50, seed=1))
    assert np.any(first != _starts(SHAPE, blob, [1, 0, 0], 0.5, 50, seed=2))


def _volume(shape=(20, 22, 24)):
    rng = np.random.default_rng(3)
    image = rng.normal(size=shape + (4,)).astype(np.float16)
    label = rng.integers(0, 4, size=shape).astype(np.uint8)
    return image, label


def test_scale_one_is_an_exact_crop():
    image, label = _volume()
    patch_image, patch_label = sampling.extract_patch(
        tf.constant(image), tf.constant(label), tf.constant([3, 0, 16]), (16, 12, 8))
    assert patch_image.dtype == tf.float32
    np.testing.assert_array_equal(patch_image, image[3:19, 0:12, 16:24].astype(np.float32))
    np.testing.assert_array_equal(patch_label, label[3:19, 0:12, 16:24])


@pytest.mark.parametrize("scale", [1.0, 0.8])
@pytest.mark.parametrize("turns,flips", [(0, (True, False, True)), (1, (False, False, False)),
                                         (3, (True, True, True))])
def test_oriented_patch_is_the_patch_rotated_then_flipped(scale, turns, flips):
    image, label = _volume()
    start, patch = tf.constant([3, 2, 5]), (12, 12, 8)
    plain = [t.numpy() for t in sampling.extract_patch(
        tf.constant(image), tf.constant(label), start, patch, tf.constant(scale))]
    swap, reverse = augment.rotation_as_orientation(tf.constant(turns))
    oriented = sampling.extract_patch(
        tf.constant(image), tf.constant(label), start, patch, tf.constant(scale),
        (swap, tf.math.logical_xor(reverse, tf.constant(flips))))
    axes = [a for a in range(3) if flips[a]]
    for result, expected in zip(oriented, plain, strict=True):
        np.testing.assert_array_equal(result, np.flip(np.rot90(expected, turns, (0, 1)), axes))


@pytest.mark.parametrize("scale", [0.8, 1.15])
def test_zoom_interpolates_the_image_linearly_and_the_label_at_the_nearest_voxel(scale):
    shape, patch, start = (30, 32, 34), (10, 12, 8), np.array([10, 9, 12])
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    weights = np.array([[1.0, 0.5, -0.25, 0.1], [0.2, -1.0, 0.5, 0.3], [0.3, 0.1, 1.0, -0.7]])
    image = (grid @ weights).astype(np.float32)  # linear in x, y, z: interpolation is exact
    label = ((grid[..., 0] * 7 + grid[..., 1] * 3 + grid[..., 2]) % 4).astype(np.uint8)
    patch_image, patch_label = (t.numpy() for t in sampling.extract_patch(
        tf.constant(image), tf.constant(label), tf.constant(start, tf.int32), patch,
        tf.constant(scale)))
    positions = [start[a] + patch[a] / 2 + (np.arange(patch[a]) - patch[a] / 2) * scale
                 for a in range(3)]
    source = np.stack(np.meshgrid(*positions, indexing="ij"), -1)
    np.testing.assert_allclose(patch_image, source @ weights, atol=2e-3)
    nearest = np.floor(source + 0.5).astype(int)
    np.testing.assert_array_equal(patch_label, label[tuple(np.moveaxis(nearest, -1, 0))])


@pytest.mark.parametrize("scale", [0.7, 1.4])
def test_zoomed_label_stays_under_the_tumour_drawn_into_the_image(scale):
    label = np.zeros((24, 24, 24), np.uint8)
    label[7:15, 9:17, 10:14] = 3
    image = np.repeat((label == 3)[..., None], 4, axis=-1).astype(np.float32)
    patch_image, patch_label = (t.numpy() for t in sampling.extract_patch(
        tf.constant(image), tf.constant(label), tf.constant([4, 4, 4]), (16, 16, 16),
        tf.constant(scale)))
    tumour = patch_label == 3
    assert tumour.sum() > 20
    # Nearest-neighbour voxels of the tumour carry at least 1/8 of its intensity, the others
    # at most 7/8; most of the tumour is fully inside.
    assert patch_image[..., 0][tumour].min() >= 0.125 - 1e-6
    assert patch_image[..., 0][~tumour].max() <= 0.875 + 1e-6
    assert patch_image[..., 0][tumour].mean() > 0.7
    assert set(np.unique(patch_label)) <= {0, 3}


def test_zoom_out_reads_zeros_and_background_past_the_volume():
    image, label = _volume((16, 16, 16))
    image, label = image + np.float16(10), label + 1
    patch_image, patch_label = (t.numpy() for t in sampling.extract_patch(
        tf.constant(image), tf.constant(label), tf.constant([0, 0, 0]), (16, 16, 16),
        tf.constant(1.4)))
    # Patch voxel 0 samples 8 - 8 * 1.4 = -3.2: outside on every axis.
    assert patch_image[0, 0, 0].tolist() == [0, 0, 0, 0] and patch_label[0, 0, 0] == 0
    assert patch_label[8, 8, 8] == label[8, 8, 8]
    assert patch_image[8, 8, 8, 0] == image[8, 8, 8, 0].astype(np.float32)
