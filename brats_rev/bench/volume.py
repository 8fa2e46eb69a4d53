"""Whole-volume training memory: one U-Net step on a BraTS-sized volume per mode and dtype.

A fixed architecture's peak memory is affine in the number of voxels: weights and optimizer
slots are constant and every activation scales with the volume. Each (mode, dtype) is
measured at growing fractions of the volume's edges, smallest first. A point whose peak,
predicted by the least-squares line through the points measured so far, exceeds `max_bytes`
is not run (it would exhaust the machine): it is reported as extrapolated, never as measured,
and the larger fractions of that (mode, dtype) are not tried. A point whose process fails
(for instance killed by the kernel when the machine runs out of memory) is reported with the
reason, and the larger fractions are extrapolated.
"""

import math

import numpy as np


def scaled_shape(shape, fraction, multiple):
    """`shape` (D, H, W) with every edge times `fraction`, rounded to a positive `multiple`."""
    return tuple(max(multiple, multiple * round(edge * fraction / multiple)) for edge in shape)


def affine_fit(voxels, peaks):
    """(intercept, slope) of the least-squares line peak = intercept + slope * voxels."""
    slope, intercept = np.polyfit(np.asarray(voxels, float), np.asarray(peaks, float), 1)
    return float(intercept), float(slope)


def volume_points(runner, preset, mode, dtype, shape, fractions, multiple, max_bytes):
    """Measured and extrapolated peaks of one (mode, dtype) at `fractions` of `shape`.

    Args:
        runner: callable(spec) -> result dict with "peak_bytes" (a fresh process per call).
        preset: a `brats_rev.config.EXPERIMENTS` name.
        mode: block mode.
        dtype: dtype policy.
        shape: (D, H, W) of the whole volume, each a multiple of `multiple`.
        fractions: ascending edge fractions, the last usually 1.0.
        multiple: the model's size multiple.
        max_bytes: points predicted above this are extrapolated instead of measured.

    Returns:
        A list of {"shape", "voxels", "peak_bytes", "measured"} dicts, one per distinct shape;
        a failed point has "failed" (the reason) and, if predictable, the predicted peak.
    """
    points = []
    shapes = []
    for fraction in fractions:
        patch = scaled_shape(shape, fraction, multiple)
        if patch not in shapes:
            shapes.append(patch)
    for patch in shapes:
        voxels = math.prod(patch)
        measured = [p for p in points if p["measured"]]
        predicted = None
        if len(measured) >= 2:
            intercept, slope = affine_fit([p["voxels"] for p in measured],
                                          [p["peak_bytes"] for p in measured])
            predicted = int(intercept + slope * voxels)
        point = {"shape": list(patch), "voxels": voxels, "peak_bytes": predicted,
                 "measured": False}
        after_failure = bool(points) and not points[-1]["measured"]
        if after_failure or (predicted is not None and predicted > max_bytes):
            points.append(point)
            continue
        spec = {"what": "unet", "preset": preset, "patch": list(patch),
                "changes": {"block_mode": mode, "dtype_policy": dtype}}
        try:
            point.update(peak_bytes=int(runner(spec)["peak_bytes"]), measured=True)
        except RuntimeError as error:
            point["failed"] = str(error).splitlines()[0]
        points.append(point)
    return points
