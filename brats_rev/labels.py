"""BraTS label conventions, the canonical internal label map and the WT / TC / ET regions.

One table (`CONVENTIONS`) says, for each release, which label value in its segmentation files
means which tumour class. Everything else converts through the canonical map:

    0 background, 1 NCR (necrotic / non-enhancing core), 2 ED (oedema), 3 ET (enhancing tumour)

Regions, in the order used everywhere (`REGIONS`): WT = {NCR, ED, ET}, TC = {NCR, ET},
ET = {ET}, so ET ⊂ TC ⊂ WT. Label values outside a convention raise ValueError; nothing is
ever silently mapped to background. Pure numpy; imports nothing of ours.
"""

import types

import numpy as np

BACKGROUND, NCR, ED, ET = 0, 1, 2, 3
CANONICAL_NAMES = types.MappingProxyType({BACKGROUND: "background", NCR: "NCR", ED: "ED", ET: "ET"})
TUMOUR_CLASSES = (NCR, ED, ET)
REGIONS = ("WT", "TC", "ET")
# Canonical classes that make up each region, in REGIONS order.
REGION_CLASSES = types.MappingProxyType({"WT": (NCR, ED, ET), "TC": (NCR, ET), "ET": (ET,)})

# Convention name -> {source label value: canonical label}.
CONVENTIONS = types.MappingProxyType(
    {
        "brats2020": types.MappingProxyType({0: BACKGROUND, 1: NCR, 2: ED, 4: ET}),
        "brats2021": types.MappingProxyType({0: BACKGROUND, 1: NCR, 2: ED, 4: ET}),
        "brats2023": types.MappingProxyType({0: BACKGROUND, 1: NCR, 2: ED, 3: ET}),
    }
)


def _table(convention):
    """The {source: canonical} mapping of `convention`; ValueError if the name is unknown."""
    if convention not in CONVENTIONS:
        raise ValueError(
            f"Unknown label convention {convention!r}; known: {sorted(CONVENTIONS)}."
        )
    return CONVENTIONS[convention]


def allowed_values(convention):
    """Sorted tuple of the label values a segmentation in `convention` may contain."""
    return tuple(sorted(_table(convention)))


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
    _check_values(label_array, _table(convention), f"convention {convention!r}")


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
      convention: a key of CONVENTIONS, e.g. "brats2021".
    Raises:
      ValueError: a value is not part of the convention (message lists found and allowed).
    """
    return _lookup(label_array, _table(convention), f"convention {convention!r}")


def from_canonical(canonical, convention):
    """Canonical uint8 labels -> labels in `convention` (uint8), same shape.

    Raises ValueError if `canonical` holds values other than 0..3.
    """
    inverse = {target: source for source, target in _table(convention).items()}
    return _lookup(canonical, inverse, "canonical labels")


def regions_from_canonical(canonical):
    """Canonical labels (...) -> uint8 region masks (..., 3) in REGIONS order (WT, TC, ET)."""
    canonical = np.asarray(canonical)
    masks = [np.isin(canonical, REGION_CLASSES[region]) for region in REGIONS]
    return np.stack(masks, axis=-1).astype(np.uint8)


def canonical_from_regions(regions):
    """Region masks (..., 3) in REGIONS order -> canonical uint8 labels (...).

    Nesting is imposed as ET ⊂ TC ⊂ WT: a voxel in ET is ET; else in TC is NCR; else in WT is
    ED; else background. For masks produced by `regions_from_canonical` this is exact.
    """
    regions = np.asarray(regions).astype(bool)
    if regions.shape[-1:] != (len(REGIONS),):
        raise ValueError(
            f"Region masks need a last axis of size {len(REGIONS)} {REGIONS}. "
            f"Received: shape={regions.shape}"
        )
    whole, core, enhancing = regions[..., 0], regions[..., 1], regions[..., 2]
    canonical = np.where(whole, ED, BACKGROUND)
    canonical = np.where(core, NCR, canonical)
    canonical = np.where(enhancing, ET, canonical)
    return canonical.astype(np.uint8)


def region_voxel_counts(canonical):
    """{"WT": n, "TC": n, "ET": n}: voxels of each region in a canonical label array."""
    counts = np.bincount(np.asarray(canonical, dtype=np.int64).ravel(), minlength=ET + 1)
    return {region: int(sum(counts[c] for c in REGION_CLASSES[region])) for region in REGIONS}
