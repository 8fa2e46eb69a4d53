"""Numpy preprocessing shared by conversion and inference: crop, z-score, foreground sampling.

Arrays are in NIfTI voxel order (x, y, z), images channel-last (x, y, z, C). A crop box is an
int64 array (3, 2) of [start, stop) per spatial axis; `uncrop(crop(a, box), box, shape)`
restores `a` exactly wherever the box covers it and fills the rest. Imports numpy only.
"""

import hashlib

import numpy as np


def brain_mask(image):
    """Bool (x, y, z): voxels where any channel of `image` (x, y, z, C) is nonzero."""
    return np.any(image != 0, axis=-1)


def bounding_box(mask, margin=0):
    """Crop box (3, 2) int64 of the True voxels of `mask`, widened by `margin` voxels.

    The box is clipped to the array. Raises ValueError if `mask` has no True voxel.
    """
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0. Received: margin={margin}")
    box = np.zeros((3, 2), dtype=np.int64)
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(np.any(mask, axis=others))
        if present.size == 0:
            raise ValueError("cannot crop: the brain mask is empty")
        box[axis] = [max(present[0] - margin, 0), min(present[-1] + 1 + margin, mask.shape[axis])]
    return box


def crop(array, box):
    """`array` (x, y, z, ...) cut to crop `box` (3, 2); a view, not a copy."""
    return array[tuple(slice(start, stop) for start, stop in box)]


def uncrop(cropped, box, original_shape, fill=0):
    """Places `cropped` (x, y, z, ...) back at `box` in a new array of `original_shape` (x, y, z).

    Trailing axes of `cropped` (channels) are kept; voxels outside the box get `fill`.
    """
    expected = tuple(int(stop - start) for start, stop in box)
    if tuple(cropped.shape[:3]) != expected:
        raise ValueError(f"cropped shape {cropped.shape[:3]} does not match box size {expected}")
    full = np.full(tuple(original_shape) + cropped.shape[3:], fill, dtype=cropped.dtype)
    full[tuple(slice(start, stop) for start, stop in box)] = cropped
    return full


def zscore_statistics(image, mask, channel_names=None):
    """Per-channel mean and standard deviation of `image` (x, y, z, C) where `mask` is True.

    Returns (mean, std), each float64 (C,), computed in float64 with the population standard
    deviation (ddof=0): the statistics `zscore` normalises with.
    Raises ValueError if `mask` is empty, or naming the channel if it is constant over the
    mask (e.g. all zero), since normalising it would divide by zero.
    """
    channel_names = channel_names or [str(c) for c in range(image.shape[-1])]
    if not np.any(mask):
        raise ValueError("cannot normalise: the brain mask is empty")
    mean = np.zeros(image.shape[-1], dtype=np.float64)
    std = np.zeros(image.shape[-1], dtype=np.float64)
    for channel, name in enumerate(channel_names):
        values = image[..., channel][mask].astype(np.float64)
        mean[channel], std[channel] = values.mean(), values.std()
        if not np.isfinite(std[channel]) or std[channel] == 0:
            raise ValueError(f"cannot normalise channel {name}: it is constant "
                             f"({mean[channel]:g}) over the brain mask")
    return mean, std


def apply_zscore(image, mask, mean, std):
    """float32 (x, y, z, C): `image` (x, y, z, C) minus `mean`, divided by `std` where `mask`.

    `mean` and `std` are float64 (C,). The arithmetic is float64, rounded once to float32;
    every voxel outside `mask` is exactly 0.
    """
    out = np.zeros(image.shape, dtype=np.float32)
    for channel in range(image.shape[-1]):
        values = image[..., channel][mask].astype(np.float64)
        out[..., channel][mask] = ((values - mean[channel]) / std[channel]).astype(np.float32)
    return out


def zscore(image, mask, channel_names=None):
    """Per-channel z-score of `image` (x, y, z, C) over the voxels where `mask` is True.

    Returns float32 of the same shape with each channel's brain voxels at mean 0 and standard
    deviation 1 (population std, ddof=0) and every voxel outside `mask` exactly 0
    (`apply_zscore` with `zscore_statistics`). Raises ValueError naming the channel if it is
    constant over the mask (e.g. all zero), since normalising it would divide by zero.
    """
    return apply_zscore(image, mask, *zscore_statistics(image, mask, channel_names))


def stable_seed(text):
    """A 64-bit seed from the sha256 of `text`: the same on every machine and Python run."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def foreground_locations(label, classes, max_per_class, seed):
    """Up to `max_per_class` voxel coordinates of each class in `label` (x, y, z).

    Returns {class: int32 array (n, 3)} with n = min(count, max_per_class); coordinates are a
    uniform random subset without replacement (all of them when fewer), sorted in C order,
    chosen by numpy's PCG64 from `seed` so the result is reproducible.
    """
    rng = np.random.default_rng(seed)
    flat = np.asarray(label).ravel()
    locations = {}
    for value in classes:
        where = np.flatnonzero(flat == value)
        if where.size > max_per_class:
            where = np.sort(rng.choice(where, size=max_per_class, replace=False))
        locations[value] = np.stack(np.unravel_index(where, label.shape), axis=-1).astype(np.int32)
    return locations
