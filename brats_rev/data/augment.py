"""In-graph augmentation of training patches, label-safe and reproducible.

A patch is an image (X, Y, Z, C) float32 of z-scored intensities and a label (X, Y, Z) uint8 of
canonical classes, axes in the records' voxel order (the axial plane is (x, y)). Spatial
transforms move image and label together and exactly (flips and 90-degree rotations are
permutations of voxels; zoom happens when the patch is cut, `sampling.extract_patch`, linear for
the image and nearest neighbour for the label). Intensity transforms change the image only.

Every random choice comes from stateless ops keyed by the (2,) int `seed` argument, so a seed
fixes the result. Probabilities and ranges come from `brats_rev.config.DataConfig`; a transform
whose probability is 0 adds no op to the graph.
"""

import math

import tensorflow as tf

SPATIAL_AXES = (0, 1, 2)
# Draws per patch, in this order, from `stateless_split` of the patch seed.
_FLIP, _ROTATE, _NOISE, _BLUR, _SCALE, _SHIFT, _GAMMA, _NUM_DRAWS = range(8)


# Integer dtype of the same width as one voxel's channels, for `orient`'s packed permutation.
_PACKED_DTYPES = {2: tf.int16, 4: tf.int32, 8: tf.int64}


def orient(image, label, swap, reverse):
    """Image and label with x and y transposed if `swap` (bool scalar), then reversed along
    the spatial axes where `reverse` (bool (3,)) is True: an exact permutation of voxels.

    Every combination of flips and axial 90-degree rotations is one such call
    (`rotation_as_orientation`), so a patch is permuted at most twice. Swapping needs x and y of
    the same size; `swap=None` never transposes (and allows any patch shape).

    When one voxel's channels fill 2, 4 or 8 bytes (a float16 patch of 4 modalities: 8 bytes),
    the image is permuted as one integer per voxel (`tf.bitcast`): reversing z then moves
    whole voxels instead of 2-byte values.
    """
    packed_dtype = _PACKED_DTYPES.get(image.dtype.size * image.shape[-1])
    voxels = image if packed_dtype is None else tf.bitcast(image, packed_dtype)

    def transposed(volume):
        return tf.transpose(volume, [1, 0] + list(range(2, volume.shape.rank)))

    if swap is not None:
        voxels_shape, label_shape = voxels.shape, label.shape
        voxels, label = tf.cond(swap, lambda: (transposed(voxels), transposed(label)),
                                lambda: (voxels, label))
        voxels, label = tf.ensure_shape(voxels, voxels_shape), tf.ensure_shape(label, label_shape)
    axes = tf.boolean_mask(tf.constant(SPATIAL_AXES), reverse)
    voxels, label = tf.reverse(voxels, axes), tf.reverse(label, axes)
    return (voxels if packed_dtype is None else tf.bitcast(voxels, image.dtype)), label


def rotation_as_orientation(turns):
    """(swap, reverse) for `orient` equal to np.rot90(x, turns, axes=(0, 1)); turns int32."""
    turns = tf.math.floormod(turns, 4)
    swap = tf.equal(turns % 2, 1)
    reverse = tf.stack([tf.logical_or(tf.equal(turns, 1), tf.equal(turns, 2)),
                        tf.logical_or(tf.equal(turns, 2), tf.equal(turns, 3)),
                        tf.constant(False)])
    return swap, reverse


def _per_channel(image, operation, *vectors):
    """`operation(rows, *tiled)` on `image` (X, Y, Z, C) viewed as rows (X * Y, Z * C), with
    each per-modality vector (C,) tiled to (Z * C,); the result reshaped like `image`.

    Broadcasting a (C,) vector over an innermost axis of 4 is not vectorised on CPU; over rows
    of Z * C values it is.
    """
    shape = tf.shape(image)
    rows = tf.reshape(image, [-1, shape[2] * shape[3]])
    tiled = [tf.tile(vector, [shape[2]]) for vector in vectors]
    return tf.reshape(operation(rows, *tiled), shape)


def channel_range(image):
    """(min, max) of each modality of `image` (X, Y, Z, C): two float32 (C,).

    Reduced along rows of a (C, X * Y * Z) transpose, which vectorises on CPU, rather than
    over the first axis of the (X * Y * Z, C) view.
    """
    by_channel = tf.transpose(tf.reshape(image, [-1, image.shape[-1]]))
    return tf.reduce_min(by_channel, axis=1), tf.reduce_max(by_channel, axis=1)


def scale_shift(image, scale, shift):
    """image * scale + shift, with scale and shift float32 (C,): one value per modality."""
    return _per_channel(image, lambda rows, a, b: rows * a + b, scale, shift)


def gamma(image, exponents):
    """Gamma per modality over the patch: min + (max - min) * ((x - min) / (max - min)) ** g.

    `exponents` is float32 (C,), all > 0. A constant modality (max == min) is unchanged, and
    one with exponent 1 is unchanged up to float32 rounding. Computed as
    min + exp(g * log(x - min) + (1 - g) * log(max - min)): exp and log are vectorised on CPU
    where tf.pow is not, and the rewrite saves two passes over the patch.
    """
    low, high = channel_range(image)
    extent = high - low
    log_extent = tf.math.log(tf.where(extent > 0, extent, 1.0))
    return _per_channel(
        image, lambda rows, g, a, b: a + tf.exp(g * tf.math.log(rows - a) + b),
        exponents, low, (1 - exponents) * log_extent)


def gaussian_noise(image, std, seed):
    """image plus zero-mean Gaussian noise of standard deviation `std` (float32 scalar)."""
    return image + std * tf.random.stateless_normal(tf.shape(image), seed)


def gaussian_kernels(sigmas, radius):
    """Normalised 1-D Gaussian kernels, float32 (2 * radius + 1, C); sigma 0 gives identity."""
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)[:, tf.newaxis]
    safe = tf.where(sigmas > 0, sigmas, 1.0)
    weights = tf.exp(-0.5 * tf.square(offsets / safe))
    identity = tf.cast(tf.equal(offsets, 0.0), tf.float32)
    weights = tf.where(sigmas > 0, weights, identity)
    return weights / tf.reduce_sum(weights, axis=0)


def gaussian_blur(image, sigmas, radius):
    """Separable Gaussian blur of each modality with its own sigma (float32 (C,), voxels).

    Kernels span `radius` voxels each side (a Python int, e.g. ceil(3 * max sigma)); the patch
    is zero-padded at its borders. Each axis is one depthwise 2-D convolution over a reshaped
    view of the patch, so no transpose is needed.
    """
    shape = tf.shape(image)
    channels = image.shape[-1]
    kernels = gaussian_kernels(sigmas, radius)[:, tf.newaxis, :, tf.newaxis]  # (k, 1, C, 1)
    along_height = kernels
    along_width = tf.transpose(kernels, [1, 0, 2, 3])
    # Axis x: one image of height X and width Y * Z.
    blurred = tf.reshape(image, [1, shape[0], shape[1] * shape[2], channels])
    blurred = tf.nn.depthwise_conv2d(blurred, along_height, [1, 1, 1, 1], "SAME")
    # Axes y and z: X images of height Y and width Z.
    blurred = tf.reshape(blurred, shape)
    blurred = tf.nn.depthwise_conv2d(blurred, along_height, [1, 1, 1, 1], "SAME")
    blurred = tf.nn.depthwise_conv2d(blurred, along_width, [1, 1, 1, 1], "SAME")
    return blurred


def _chance(probability, seed, shape=()):
    """Bool tensor of `shape`: each True with `probability`."""
    return tf.random.stateless_uniform(shape, seed) < probability


def _uniform(value_range, seed, shape=()):
    low, high = value_range
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)


def _per_modality(probability, value_range, neutral, seed, channels):
    """float32 (C,): a value from `value_range` where a modality is chosen, else `neutral`."""
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    chosen = _chance(probability, seeds[0], [channels])
    return tf.where(chosen, _uniform(value_range, seeds[1], [channels]), neutral)


def zoom_factor(config, seed):
    """float32 scalar for `sampling.extract_patch`: from `config.scale_range` with probability
    `config.scale_probability`, else exactly 1."""
    if config.scale_probability == 0:
        return tf.constant(1.0)
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    return tf.where(_chance(config.scale_probability, seeds[0]),
                    _uniform(config.scale_range, seeds[1]), 1.0)


def orientation(config, seed):
    """The random flips and axial rotation of a patch as one `orient` permutation.

    Rotation (by 1-3 quarter turns, with `config.rotate90_probability`) and each flip axis
    (`config.flip_probability`) are chosen independently. Returns (swap, reverse) for `orient`
    (swap None when rotations are off), or None when both probabilities are 0. `seed` is the
    patch's augmentation seed, the same one `augment_intensities` takes.
    """
    if config.rotate90_probability == 0 and config.flip_probability == 0:
        return None
    seeds = tf.random.experimental.stateless_split(seed, num=_NUM_DRAWS)
    flips = _chance(config.flip_probability, seeds[_FLIP], [3])
    if config.rotate90_probability == 0:
        return None, flips
    rotation_seeds = tf.random.experimental.stateless_split(seeds[_ROTATE], num=2)
    turns = tf.random.stateless_uniform([], rotation_seeds[1], minval=1, maxval=4,
                                        dtype=tf.int32)
    turns = tf.where(_chance(config.rotate90_probability, rotation_seeds[0]), turns, 0)
    swap, reverse = rotation_as_orientation(turns)
    # Flipping after a rotation: the reversals of both combine (exclusive or).
    return swap, tf.math.logical_xor(reverse, flips)


def augment_intensities(image, config, seed):
    """Applies the config's noise, blur, intensity scale and shift, and gamma, in that order,
    to an image patch (X, Y, Z, C) float32; returns it with its shape unchanged.

    The intensity scale and shift of each modality are chosen independently with their
    probabilities; noise, blur and gamma are applied to a whole patch with theirs (blur and
    gamma with a sigma or exponent drawn per modality), as nnU-Net does. The spatial
    transforms (`orientation`, zoom) happen when the patch is cut (`sampling.extract_patch`).
    """
    seeds = tf.random.experimental.stateless_split(seed, num=_NUM_DRAWS)
    channels = image.shape[-1]
    if config.noise_probability > 0:
        noise_seeds = tf.random.experimental.stateless_split(seeds[_NOISE], num=3)
        image = tf.cond(
            _chance(config.noise_probability, noise_seeds[0]),
            lambda: gaussian_noise(image, _uniform(config.noise_std_range, noise_seeds[1]),
                                   noise_seeds[2]),
            lambda: image)
    if config.blur_probability > 0:
        blur_seeds = tf.random.experimental.stateless_split(seeds[_BLUR], num=2)
        radius = max(1, math.ceil(3 * config.blur_sigma_range[1]))
        image = tf.cond(
            _chance(config.blur_probability, blur_seeds[0]),
            lambda: gaussian_blur(image, _uniform(config.blur_sigma_range, blur_seeds[1],
                                                  [channels]), radius),
            lambda: image)
    if config.intensity_scale_probability > 0 or config.intensity_shift_probability > 0:
        scale = _per_modality(config.intensity_scale_probability, config.intensity_scale_range,
                              1.0, seeds[_SCALE], channels)
        shift = _per_modality(config.intensity_shift_probability, config.intensity_shift_range,
                              0.0, seeds[_SHIFT], channels)
        image = tf.cond(tf.reduce_any(scale != 1.0) | tf.reduce_any(shift != 0.0),
                        lambda: scale_shift(image, scale, shift), lambda: image)
    if config.gamma_probability > 0:
        gamma_seeds = tf.random.experimental.stateless_split(seeds[_GAMMA], num=2)
        image = tf.cond(
            _chance(config.gamma_probability, gamma_seeds[0]),
            lambda: gamma(image, _uniform(config.gamma_range, gamma_seeds[1], [channels])),
            lambda: image)
    return image
