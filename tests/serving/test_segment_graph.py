"""The in-graph segmentation steps equal the numpy reference used by conversion and predict."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev import labels, tasks
from brats_rev.data import preprocess
from brats_rev.inference import postprocess
from brats_rev.inference.predictor import FLIPS
from brats_rev.serving import segment_graph


@pytest.mark.parametrize("margin", [0, 2, 9])
def test_brain_box_matches_the_numpy_bounding_box(margin):
    rng = np.random.default_rng(margin)
    mask = np.zeros((20, 17, 13), bool)
    mask[3:15, 1:9, 6:13] = rng.random((12, 8, 7)) < 0.05  # sparse: the box is what it hits
    box = segment_graph.brain_box(tf.constant(mask), margin).numpy()
    np.testing.assert_array_equal(box, preprocess.bounding_box(mask, margin))


def test_brain_box_of_an_empty_mask_is_an_invalid_argument():
    with pytest.raises(tf.errors.InvalidArgumentError, match="brain mask is empty"):
        segment_graph.brain_box(tf.zeros((4, 4, 4), tf.bool), 1)


def test_crop_then_uncrop_keeps_the_box_and_zeroes_the_rest():
    volume = tf.reshape(tf.range(1, 6 * 5 * 4 * 2 + 1, dtype=tf.float32), (6, 5, 4, 2))
    box = tf.constant([[1, 4], [0, 5], [2, 3]])
    cropped = segment_graph.crop(volume, box)
    np.testing.assert_array_equal(cropped.numpy(), volume.numpy()[1:4, 0:5, 2:3])
    restored = segment_graph.uncrop(cropped, box, tf.constant([6, 5, 4])).numpy()
    np.testing.assert_array_equal(restored, preprocess.uncrop(cropped.numpy(), box.numpy(),
                                                              (6, 5, 4)))


def test_zscore_equals_the_numpy_zscore():
    rng = np.random.default_rng(0)
    image = rng.normal(300, 80, (18, 16, 14, 4)).astype(np.float32)
    mask = rng.random((18, 16, 14)) < 0.6
    image[~mask] = 0
    expected = preprocess.zscore(image, mask)
    normalised = segment_graph.zscore(tf.constant(image), tf.constant(mask)).numpy()
    np.testing.assert_array_equal(normalised, expected)
    assert np.all(normalised[~mask] == 0)


def test_zscore_of_a_constant_modality_is_an_invalid_argument():
    image = np.ones((5, 5, 5, 4), np.float32)
    image[..., :3] = np.random.default_rng(1).random((5, 5, 5, 3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="constant over the brain"):
        segment_graph.zscore(tf.constant(image), tf.ones((5, 5, 5), tf.bool))


@pytest.mark.parametrize("et_min_voxels", [0, 30, 10 ** 6])
@pytest.mark.parametrize("task_name", ["gli2023", "gli2024", "ped2024"])
def test_labels_equal_thresholding_then_small_et_relabelling(et_min_voxels, task_name):
    task = tasks.TASKS[task_name]
    rng = np.random.default_rng(et_min_voxels)
    probabilities = rng.random((12, 10, 8, len(task.regions))).astype(np.float32)
    probabilities[..., 2] *= 0.55  # few ET voxels above 0.5: ~ 9% of 960
    thresholds = (0.4, 0.6, 0.5) + (0.5,) * (len(task.regions) - 3)
    expected = postprocess.relabel_small_enhancing(
        postprocess.threshold_regions(probabilities, thresholds, task), et_min_voxels, task)
    canonical = segment_graph.canonical_labels(tf.constant(probabilities), thresholds,
                                               et_min_voxels, task).numpy()
    np.testing.assert_array_equal(canonical, expected)
    assert (task.value("ET") in canonical) == (et_min_voxels < 10 ** 6)
    assert set(np.unique(canonical)) == set(range(task.num_classes)) - (
        set() if et_min_voxels < 10 ** 6 else {task.value("ET")})


@pytest.mark.parametrize("task_name, convention", [
    (name, convention) for name in ("gli2023", "gli2024", "ped2024")
    for convention in tasks.TASKS[name].conventions])
def test_conventions_equal_the_label_table(task_name, convention):
    task = tasks.TASKS[task_name]
    canonical = np.arange(task.num_classes, dtype=np.uint8).reshape(1, 1, -1)
    converted = segment_graph.to_convention(tf.constant(canonical), tf.constant(convention),
                                            task)
    np.testing.assert_array_equal(converted.numpy(), labels.from_canonical(canonical, convention))


def test_a_convention_of_another_task_is_an_invalid_argument_naming_the_tasks_own():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="brats2023, brats2021, brats2020"):
        segment_graph.to_convention(tf.zeros((2, 2, 2), tf.uint8), tf.constant("brats2019"))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="label_convention must be one of brats2024-ped"):
        segment_graph.to_convention(tf.zeros((2, 2, 2), tf.uint8), tf.constant("brats2023"),
                                    tasks.TASKS["ped2024"])


def test_every_tta_mode_is_a_prefix_of_the_flips8_order():
    for copies in FLIPS.values():
        assert copies == FLIPS["flips8"][:len(copies)]
    np.testing.assert_array_equal(segment_graph.FLIP_MASKS[[0, 1, 4, 7]],
                                  [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize("tta", sorted(FLIPS))
def test_mirrored_mean_equals_the_predictor_order_of_flips(tta):
    image = np.random.default_rng(2).random((6, 5, 4, 4)).astype(np.float32)

    def position_dependent(volume):  # not mirror-symmetric: cumulative sums along x and z
        return tf.cumsum(tf.cumsum(volume[..., :3], axis=0), axis=2)

    total = None
    for axes in FLIPS[tta]:
        flipped = np.ascontiguousarray(np.flip(image, axes))
        prediction = np.flip(position_dependent(tf.constant(flipped)).numpy(), axes)
        total = prediction if total is None else total + prediction
    mean = segment_graph.mirrored_mean(position_dependent, tf.constant(image),
                                       tf.constant(len(FLIPS[tta])), 3)
    np.testing.assert_array_equal(mean.numpy(), total / len(FLIPS[tta]))


@pytest.mark.parametrize("shape, message", [
    ((8, 8, 8), "not compatible with expected shape"),
    ((8, 8, 8, 3), "not compatible with expected shape"),
    ((1, 8, 8, 8, 4), "not compatible with expected shape"),
    ((9, 8, 8, 4), "more than 512 voxels"),
])
def test_check_image_refuses_bad_shapes_and_oversized_volumes(shape, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        segment_graph.check_image(tf.zeros(shape), 4, max_voxels=512)
    assert segment_graph.check_image(tf.zeros((8, 8, 8, 4)), 4, 512).shape == (8, 8, 8, 4)
