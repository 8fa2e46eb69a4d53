"""Whole-case segmentation as one TensorFlow graph: the `segment` serving signature's body.

The same steps as `brats_rev.inference.Predictor.predict_image`, in TF ops so that they run
inside a SavedModel with no Python of ours:

    raw image (X, Y, Z, 4) --brain box + margin, crop, z-score over the brain (float64)-->
    (x, y, z, 4) --sliding window (shared with the Predictor), mirrored copies if TTA-->
    probabilities (x, y, z, R) of the task's regions --thresholds, the task's decoding, small
    ET -> the task's fallback, uncrop, convention--> uint8 labels (X, Y, Z)

The numpy functions they mirror (`brats_rev.data.prepare.prepare_case`,
`brats_rev.inference.postprocess`) stay the reference used by conversion and `predict`; tests
check that both give the same values. Every check of the input is a graph assertion, so a bad
request fails with InvalidArgumentError and a message instead of deep inside a convolution.
"""

import numpy as np
import tensorflow as tf

from brats_rev import labels
from brats_rev.data import layouts
from brats_rev.inference.predictor import FLIPS
from brats_rev.inference.sliding_window import sliding_window_predict

# Test-time augmentation: row k says which of the axes x, y, z copy k mirrors, in
# FLIPS["flips8"] order; TTA mode m uses the first len(FLIPS[m]) rows.
FLIP_MASKS = np.array([[axis in axes for axis in range(3)] for axes in FLIPS["flips8"]])
TTA_NAMES = tuple(sorted(FLIPS))


def _checked(tensor, condition, message):
    """`tensor`, computed only after `condition` (a scalar bool tensor) held, else
    InvalidArgumentError with `message`."""
    with tf.control_dependencies([tf.debugging.Assert(condition, [message], summarize=1)]):
        return tf.identity(tensor)


def _position(names, value, what):
    """int32 index of the scalar string tensor `value` in `names` (a tuple of str); another
    value is an InvalidArgumentError saying what `what` must be."""
    matches = tf.equal(tf.constant(names), value)
    index = tf.argmax(tf.cast(matches, tf.int32), output_type=tf.int32)
    return _checked(index, tf.reduce_any(matches), f"{what} must be one of {', '.join(names)}")


def check_image(image, channels, max_voxels):
    """`image` after checking it is (X, Y, Z, `channels`) with at most `max_voxels` voxels.

    A wrong rank or channel count fails in tf.ensure_shape ("Shape of tensor image [...] is not
    compatible with expected shape [?,?,?,4]"), too many voxels in an assertion naming the limit.

    Args:
      image: float32 tensor of any rank.
      channels: the number of modalities the model takes.
      max_voxels: largest X * Y * Z accepted.
    Returns:
      float32 (X, Y, Z, channels) with that static rank and channel count.
    """
    image = tf.ensure_shape(image, [None, None, None, channels])
    voxels = tf.reduce_prod(tf.shape(image, out_type=tf.int64)[:3])
    return _checked(image, voxels <= max_voxels,
                    f"image has more than {max_voxels} voxels, this model's limit (set by "
                    "`python -m brats_rev.export --max_voxels`)")


def brain_box(mask, margin):
    """Crop box of the True voxels of `mask` widened by `margin`, clipped to the volume.

    Mirrors `brats_rev.data.preprocess.bounding_box`.

    Args:
      mask: bool (X, Y, Z).
      margin: voxels added on each side (int >= 0).
    Returns:
      int32 (3, 2) [start, stop) per axis. InvalidArgumentError if `mask` is all False.
    """
    mask = _checked(mask, tf.reduce_any(mask), "cannot crop: the brain mask is empty "
                    "(every voxel of every modality is 0)")
    shape = tf.shape(mask)
    rows = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        present = tf.cast(tf.where(tf.reduce_any(mask, axis=others))[:, 0], tf.int32)
        rows.append(tf.stack([tf.maximum(present[0] - margin, 0),
                              tf.minimum(present[-1] + 1 + margin, shape[axis])]))
    return tf.stack(rows)


def crop(tensor, box):
    """`tensor` (X, Y, Z, ...) cut to `box` (3, 2) int32."""
    rank = tensor.shape.rank
    start = tf.concat([box[:, 0], tf.zeros([rank - 3], tf.int32)], axis=0)
    size = tf.concat([box[:, 1] - box[:, 0], -tf.ones([rank - 3], tf.int32)], axis=0)
    return tf.slice(tensor, start, size)


def uncrop(tensor, box, original_shape):
    """`tensor` (x, y, z, ...) placed at `box` in zeros of spatial `original_shape` (3,)."""
    rank = tensor.shape.rank
    paddings = tf.stack([box[:, 0], original_shape - box[:, 1]], axis=1)
    return tf.pad(tensor, tf.concat([paddings, tf.zeros([rank - 3, 2], tf.int32)], axis=0))


def zscore(image, mask):
    """Per-channel z-score of `image` (x, y, z, C) over `mask` (x, y, z), computed in float64.

    Mirrors `brats_rev.data.preprocess.zscore`: population standard deviation, float32 result,
    exactly 0 outside the mask; a channel constant over the mask is an InvalidArgumentError.
    """
    values = tf.cast(tf.boolean_mask(image, mask), tf.float64)  # (n, C)
    mean = tf.reduce_mean(values, axis=0)
    std = tf.sqrt(tf.reduce_mean(tf.square(values - mean), axis=0))
    std = _checked(std, tf.reduce_all(tf.math.is_finite(std) & (std > 0)),
                   "cannot normalise: a modality is constant over the brain mask")
    normalised = tf.cast((tf.cast(image, tf.float64) - mean) / std, tf.float32)
    return tf.where(mask[..., None], normalised, tf.zeros_like(normalised))


def convention_table(task):
    """uint8 (len(task.conventions), task.num_classes): row i maps the canonical labels of
    `task` to the file values of its convention task.conventions[i]."""
    canonical = np.arange(task.num_classes, dtype=np.uint8)
    return np.stack([labels.from_canonical(canonical, name)
                     for name in task.conventions]).astype(np.uint8)


def mirrored_mean(probabilities_fn, image, copies, num_regions):
    """Mean of `probabilities_fn` over the first `copies` mirrored copies of `image`.

    Mirrors `Predictor.probabilities`: copies in FLIPS["flips8"] order (FLIPS["none"] is its
    first), each prediction flipped back, summed in that order, divided by `copies`. One
    `tf.while_loop` over the copies, so the model is traced once.

    Args:
      probabilities_fn: float32 (x, y, z, C) -> float32 (x, y, z, R) region probabilities.
      image: float32 (x, y, z, C).
      copies: scalar int32 tensor in [1, 8].
      num_regions: R.
    """
    flip_masks = tf.constant(FLIP_MASKS)

    def add_copy(k, total):
        axes = tf.boolean_mask(tf.range(3), flip_masks[k])
        return k + 1, total + tf.reverse(probabilities_fn(tf.reverse(image, axes)), axes)

    zeros = tf.zeros(tf.concat([tf.shape(image)[:3], [num_regions]], axis=0))
    _, total = tf.while_loop(lambda k, _: k < copies, add_copy, (tf.constant(0), zeros))
    return total / tf.cast(copies, tf.float32)


def canonical_labels(probabilities, thresholds, et_min_voxels, task=labels.GLI):
    """Canonical uint8 labels (x, y, z) of `task` from its region probabilities (x, y, z, R).

    Mirrors `postprocess.threshold_regions` (the task's decoding) then
    `postprocess.relabel_small_enhancing`.
    """
    regions = probabilities >= tf.constant(thresholds, tf.float32)
    names = task.region_names
    canonical = tf.fill(tf.shape(regions)[:3], tf.constant(labels.BACKGROUND, tf.uint8))
    for region, class_name in task.decoding:
        canonical = tf.where(regions[..., names.index(region)],
                             tf.constant(task.value(class_name), tf.uint8), canonical)
    if task.et_fallback is None:
        return canonical
    enhancing = tf.equal(canonical, task.value("ET"))
    count = tf.reduce_sum(tf.cast(enhancing, tf.int64))
    too_small = (count > 0) & (count < et_min_voxels)
    return tf.where(enhancing & too_small, tf.constant(task.value(task.et_fallback), tf.uint8),
                    canonical)


def to_convention(canonical, convention, task=labels.GLI):
    """uint8 labels of `canonical` (of `task`) in `convention`, a scalar string tensor naming
    one of the task's conventions; another name is an InvalidArgumentError listing them."""
    row = _position(task.conventions, convention, "label_convention")
    return tf.gather(tf.constant(convention_table(task))[row], tf.cast(canonical, tf.int32))


def segment(predict_windows, image, convention, tta, return_probabilities, window_size,
            config, max_voxels, task=labels.GLI):
    """Segments one raw case inside a graph.

    Args:
      predict_windows: float32 (N, wx, wy, wz, C) -> (N, wx, wy, wz, R) probabilities of the
        regions of `task`.
      image: float32 (X, Y, Z, C) raw intensities, modalities in layouts.MODALITIES order.
      convention: scalar string tensor, the output label convention.
      tta: scalar string tensor, a key of FLIPS ("none" or "flips8").
      return_probabilities: scalar bool tensor.
      window_size: (wx, wy, wz) ints, the sliding window.
      config: brats_rev.config.InferenceConfig (overlap, batch size, thresholds, ET minimum,
        crop margin; its `tta` and `label_convention` are replaced by the inputs).
      max_voxels: largest X * Y * Z accepted.
      task: the brats_rev.tasks.Task the model predicts.
    Returns:
      {"labels": uint8 (X, Y, Z), "probabilities": float32 (X, Y, Z, R) on the input grid
      (0 outside the brain box) when `return_probabilities`, else shape (0, 0, 0, R)}.
    """
    num_regions = len(task.regions)
    channels = len(layouts.MODALITIES)
    image = check_image(image, channels, max_voxels)
    mask = tf.reduce_any(tf.not_equal(image, 0), axis=-1)
    box = brain_box(mask, config.crop_margin)
    prepared = zscore(crop(image, box), crop(mask, box))

    def windowed(volume):
        return sliding_window_predict(predict_windows, volume, window_size, config.overlap,
                                      config.batch_size, config.sigma_scale)

    mode = _position(TTA_NAMES, tta, "tta")
    copies = tf.gather([len(FLIPS[name]) for name in TTA_NAMES], mode)
    probabilities = mirrored_mean(windowed, prepared, copies, num_regions)
    canonical = canonical_labels(probabilities, config.region_thresholds(task),
                                 config.et_min_voxels, task)
    original_shape = tf.shape(image)[:3]
    outputs = {"labels": to_convention(uncrop(canonical, box, original_shape), convention,
                                       task)}
    outputs["probabilities"] = tf.ensure_shape(tf.cond(
        return_probabilities,
        lambda: uncrop(probabilities, box, original_shape),
        lambda: tf.zeros([0, 0, 0, num_regions], tf.float32)),
        [None, None, None, num_regions])
    return outputs
