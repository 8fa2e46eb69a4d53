"""Label arrays of a BraTS task: file conventions <-> canonical labels <-> region masks (numpy).

The tables are `brats_rev.tasks`: a convention maps a file's label values to the canonical
values of its task (0 background, class k of the task is k + 1); regions are the task's, in
its head order. Label values outside a convention raise ValueError; nothing is ever silently
mapped to background. The GLI names below (NCR, ED, ET and its regions WT, TC, ET) are those of
the default task (`GLI`), for code that only ever draws or reads GLI labels (phantoms,
baselines); `GLI.region_names` are (WT, TC, ET).
"""

import numpy as np

from brats_rev import tasks

GLI = tasks.TASKS[tasks.DEFAULT_TASK]
BACKGROUND = tasks.BACKGROUND
NCR, ED, ET = (GLI.value(name) for name in ("NCR", "ED", "ET"))


def allowed_values(convention):
    """Sorted tuple of the label values a segmentation in `convention` may contain."""
    return tuple(sorted(tasks.conventions_of(convention)))


def label_values(label_array):
    """Sorted list of the distinct values (ints) in an integer or whole-valued float array.

    Raises ValueError if a value is not a finite whole number. Uses a histogram, not a sort,
    so it is fast on full-size volumes.
    """
    values = np.asarray(label_array)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.rint(values)):
            raise ValueError("label values must be finite whole numbers")
    if values.dtype.kind not in "biuf":
        raise ValueError(f"label arrays must be numeric. Received: dtype={values.dtype}")
    if values.size == 0:
        return []
    low = int(values.min())
    counts = np.bincount((values.astype(np.int64) - low).ravel())
    return (np.flatnonzero(counts) + low).tolist()


def _check_values(values, allowed, what):
    """Raises ValueError naming the values of `values` outside `allowed`, and `allowed`."""
    try:
        found = label_values(values)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise ValueError(
            f"{what}: label values {unknown} are not allowed; found {found}, "
            f"allowed {sorted(allowed)}."
        )


def check_labels(label_array, convention):
    """Raises ValueError unless every value of `label_array` belongs to `convention`."""
    _check_values(label_array, tasks.conventions_of(convention), f"convention {convention!r}")


def _lookup(values, mapping, what):
    """Maps integer array `values` through {int: int} `mapping` into a new uint8 array.

    Raises ValueError naming the values found that `mapping` does not allow, and the allowed
    set. Float arrays are accepted when every value is a whole number (seg files in float64).
    """
    values = np.asarray(values)
    _check_values(values, mapping, what)
    lut = np.zeros(max(mapping) + 1, dtype=np.uint8)
    for source, target in mapping.items():
        lut[source] = target
    if values.dtype.kind != "u":
        values = values.astype(np.int64)
    return lut[values]


def to_canonical(label_array, convention):
    """Source labels in `convention` -> canonical uint8 labels, same shape.

    Args:
      label_array: integer (or whole-valued float) array of any shape.
      convention: a key of brats_rev.tasks.CONVENTIONS, e.g. "brats2021".
    Raises:
      ValueError: a value is not part of the convention (message lists found and allowed).
    """
    return _lookup(label_array, tasks.conventions_of(convention), f"convention {convention!r}")


def from_canonical(canonical, convention):
    """Canonical uint8 labels -> labels in `convention` (uint8), same shape.

    Raises ValueError if `canonical` holds a value the convention has no file value for.
    """
    inverse = {target: source for source, target in tasks.conventions_of(convention).items()}
    return _lookup(canonical, inverse, "canonical labels")


def regions_from_canonical(canonical, task=GLI):
    """Canonical labels (...) of `task` -> uint8 region masks (..., R) in its region order."""
    canonical = np.asarray(canonical)
    masks = [np.isin(canonical, task.region_values(region)) for region in task.regions]
    return np.stack(masks, axis=-1).astype(np.uint8)


def canonical_from_regions(regions, task=GLI):
    """Region masks (..., R) in `task`'s region order -> its canonical uint8 labels (...).

    Decodes by `task.decoding` (brats_rev.tasks): for GLI a voxel in ET is ET; else in TC is
    NCR; else in WT is ED; else background. For masks made by `regions_from_canonical` this is
    exact.
    """
    regions = np.asarray(regions).astype(bool)
    names = task.region_names
    if regions.shape[-1:] != (len(names),):
        raise ValueError(
            f"Region masks need a last axis of size {len(names)} {names}. "
            f"Received: shape={regions.shape}"
        )
    canonical = np.full(regions.shape[:-1], BACKGROUND, np.uint8)
    for region, class_name in task.decoding:
        canonical[regions[..., names.index(region)]] = task.value(class_name)
    return canonical


def region_voxel_counts(canonical, task=GLI):
    """{region: voxels} of every region of `task` in a canonical label array."""
    counts = np.bincount(np.asarray(canonical, dtype=np.int64).ravel(),
                         minlength=task.num_classes)
    return {region: int(sum(counts[v] for v in task.region_values(region)))
            for region in task.regions}
