"""Training patches from a case: padding, patch position with foreground oversampling, crop.

All functions are graph-safe TensorFlow and draw randomness only from stateless ops keyed by
the `seed` they are given (an int32 or int64 tensor of shape (2,)), so a seed fixes the patch.
Spatial axes are the records' voxel axes (x, y, z); positions are voxel indices.

Oversampling follows nnU-Net: with probability `foreground_probability` the patch is centred on
a stored foreground voxel of a tumour class chosen uniformly among the classes the case
contains; otherwise its start is uniform over every position where it fits. Either way the
patch lies inside the padded volume. A zoomed patch (scale != 1) samples around the same centre
and reads zeros (image) and background (label) where it reaches past the volume.
"""

import tensorflow as tf

from brats_rev.data import augment

NUM_SPATIAL = 3


def pad_to_patch(image, label, foreground, patch_size):
    """Pads a case so that every axis is at least the patch size.

    Padding is split evenly (the extra voxel after), with 0 in the image (the z-scored value
    outside the brain) and background in the label.

    Args:
      image: (X, Y, Z, C) tensor.
      label: (X, Y, Z) uint8 canonical labels.
      foreground: (n, 3) int32 voxel coordinates in the unpadded case.
      patch_size: 3 ints.

    Returns:
      (image, label, foreground) padded, foreground shifted by the padding before each axis.
    """
    shape = tf.shape(label)
    missing = tf.maximum(tf.constant(patch_size, tf.int32) - shape, 0)
    before = missing // 2
    paddings = tf.stack([before, missing - before], axis=1)
    image = tf.ensure_shape(tf.pad(image, tf.concat([paddings, [[0, 0]]], axis=0)),
                            [None] * NUM_SPATIAL + image.shape[-1:])
    label = tf.pad(label, paddings)
    return image, label, foreground + before[tf.newaxis]


def patch_start(shape, foreground, class_counts, patch_size, foreground_probability, seed):
    """Start (int32 (3,)) of a patch inside a volume of `shape` (int32 (3,), >= patch_size).

    Args:
      shape: int32 (3,) volume shape.
      foreground: int32 (n, 3) coordinates of tumour voxels, class by class in the order of
        `class_counts` (n = sum of class_counts).
      class_counts: int32 (K,) coordinates per tumour class in `foreground`.
      patch_size: 3 ints.
      foreground_probability: float, chance of a foreground-centred patch (when the case has
        any foreground voxel).
      seed: (2,) int tensor.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    size = tf.constant(patch_size, tf.int32)
    positions = shape - size + 1
    uniform = tf.random.stateless_uniform([NUM_SPATIAL], seeds[0])
    random_start = tf.minimum(
        tf.cast(uniform * tf.cast(positions, tf.float32), tf.int32), positions - 1)

    present = class_counts > 0
    logits = tf.where(present, 0.0, -1e9)[tf.newaxis]
    chosen = tf.random.stateless_categorical(logits, 1, seeds[1], dtype=tf.int32)[0, 0]
    count = tf.gather(class_counts, chosen)
    offset = tf.gather(tf.cumsum(class_counts, exclusive=True), chosen)
    draw = tf.random.stateless_uniform([], seeds[2])
    index = offset + tf.minimum(tf.cast(draw * tf.cast(count, tf.float32), tf.int32),
                                tf.maximum(count - 1, 0))
    # A dummy row keeps the gather valid for a case without foreground (then unused).
    voxel = tf.gather(tf.concat([foreground, tf.zeros([1, NUM_SPATIAL], tf.int32)], 0), index)
    centred_start = tf.clip_by_value(voxel - size // 2, 0, shape - size)

    oversample = tf.logical_and(
        tf.random.stateless_uniform([], seeds[3]) < foreground_probability,
        tf.reduce_any(present))
    return tf.where(oversample, centred_start, random_start)


def _resize(volume, box_low, box_high, patch_size, method):
    """Samples `volume` (X, Y, Z[, C]) at patch_size points per axis spaced evenly from
    box_low to box_high (float32 (3,), as fractions of size - 1); 0 outside the volume.

    Two `tf.image.crop_and_resize` calls: x and y with z (and channels) as channels, then z
    with the patch's x and y flattened into one axis.
    """
    shape = tf.shape(volume)
    output_shape = list(patch_size) + volume.shape[NUM_SPATIAL:].as_list()
    planes = tf.reshape(volume, [1, shape[0], shape[1], -1])
    planes = tf.image.crop_and_resize(
        planes, [[box_low[0], box_low[1], box_high[0], box_high[1]]], [0], patch_size[:2],
        method=method)
    lines = tf.reshape(planes, [1, patch_size[0] * patch_size[1], shape[2], -1])
    lines = tf.image.crop_and_resize(
        lines, [[0.0, box_low[2], 1.0, box_high[2]]], [0],
        [patch_size[0] * patch_size[1], patch_size[2]], method=method)
    return tf.reshape(lines, output_shape)


def extract_patch(image, label, start, patch_size, scale=1.0, orientation=None):
    """The patch at `start`, zoomed by `scale` about the patch centre, then oriented.

    Source coordinate of patch voxel i on an axis: start + size / 2 + (i - size / 2) * scale,
    so scale 1 is an exact crop [start, start + size) (taken by slicing, no interpolation).
    Otherwise the image is sampled linearly and the label at the nearest voxel, with 0 (image)
    and background (label) at coordinates outside [0, size - 1] of the volume. The crop is
    oriented in the stored dtype, before the image becomes float32: half the bytes to move
    for a float16 case.

    Args:
      image: (X, Y, Z, C) float16 or float32 tensor.
      label: (X, Y, Z) uint8 tensor.
      start: int32 (3,).
      patch_size: 3 ints.
      scale: float32 scalar tensor or float; > 1 zooms out.
      orientation: None, or (swap, reverse) for `augment.orient` (`augment.orientation`).

    Returns:
      (image float32 (*patch_size, C), label uint8 (*patch_size)).
    """
    channels = image.shape[-1]

    def oriented(patch_image, patch_label):
        if orientation is None:
            return patch_image, patch_label
        return augment.orient(patch_image, patch_label, *orientation)

    def crop():
        patch_image, patch_label = oriented(
            tf.slice(image, tf.concat([start, [0]], 0), [*patch_size, -1]),
            tf.slice(label, start, patch_size))
        return tf.cast(patch_image, tf.float32), patch_label

    def zoom():
        size = tf.constant(patch_size, tf.float32)
        last_index = tf.cast(tf.shape(label) - 1, tf.float32)
        first = tf.cast(start, tf.float32) + size / 2 * (1 - scale)
        box_low = first / last_index
        box_high = (first + scale * (size - 1)) / last_index
        zoomed_label = _resize(label[..., tf.newaxis], box_low, box_high, patch_size, "nearest")
        return oriented(_resize(image, box_low, box_high, patch_size, "bilinear"),
                        tf.cast(zoomed_label[..., 0], tf.uint8))

    patch_image, patch_label = tf.cond(tf.equal(scale, 1.0), crop, zoom)
    return (tf.ensure_shape(patch_image, [*patch_size, channels]),
            tf.ensure_shape(patch_label, patch_size))
