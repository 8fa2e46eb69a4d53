"""Synthetic BraTS-format cases (phantoms) for tests, the sample dataset and the demo.

A phantom is a skull-stripped head on a 1 mm grid: an ellipsoidal brain (cortex, white
matter, ventricles, a thin CSF rim) with one tumour made of a necrotic core (NCR) inside an
enhancing rim (ET) inside oedema (ED). Each modality gets its own plausible contrast (FLAIR:
bright oedema, dark CSF; T1ce: bright enhancing rim; T2: bright CSF and oedema), a per-case gain,
a smooth bias field and Gaussian noise. Voxels outside the brain are exactly 0; inside they are
>= 1, so the nonzero mask is the brain. Everything is deterministic given (seed, case index).

Files are written exactly as a release names them (`brats_rev.data.layouts`), images int16, seg
uint8 in the release's label convention, with a 1 mm affine that flips x and y as the releases do.

    python -m brats_rev.phantoms --output_dir=/tmp/brats --num_cases=4 --release=2021 \
        [--shape=240,240,155] [--extension=.nii] [--nowith_seg] [--seed=0] [--first_case=0]
"""

import dataclasses
import os

import nibabel as nib
import numpy as np
from absl import app, flags

from brats_rev import labels
from brats_rev.data import layouts

# Tissue indices of the phantom (0 is outside the brain).
_OUTSIDE, _CSF, _GM, _WM, _ED, _NCR, _ET = range(7)
# Mean intensity of each tissue index per modality before gain and bias.
_CONTRASTS = {
    "flair": (0, 150, 600, 480, 1100, 650, 900),
    "t1": (0, 250, 550, 800, 480, 300, 600),
    "t1ce": (0, 250, 580, 820, 500, 320, 1400),
    "t2": (0, 1600, 850, 550, 1300, 1450, 950),
}
_TISSUE_TO_CANONICAL = np.array([0, 0, 0, 0, labels.ED, labels.NCR, labels.ET], dtype=np.uint8)


@dataclasses.dataclass(frozen=True)
class Phantom:
    """One synthetic case.

    Attributes:
      images: modality name (layouts.MODALITIES) -> int16 array of `shape`, voxel order (x, y, z).
      canonical: uint8 canonical labels (brats_rev.labels), same shape.
      affine: (4, 4) float64 voxel -> world (mm) matrix.
    """

    images: dict
    canonical: np.ndarray
    affine: np.ndarray


def _ellipsoid_distance(grid, centre, radii):
    """Squared normalised distance (float32): <= 1 inside the ellipsoid."""
    return sum(((axis - c) / r) ** 2 for axis, c, r in zip(grid, centre, radii, strict=True))


def phantom_affine(shape):
    """1 mm voxel -> world affine with x and y flipped, as in the BraTS releases (float64)."""
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine[:3, 3] = [0.0, shape[1] - 1.0, 0.0]
    return affine


def make_phantom(shape, seed):
    """Builds one phantom on a grid of `shape` (x, y, z) from integer `seed` (or seed sequence).

    Returns a Phantom. Every tumour voxel lies inside the brain, and all three tumour classes
    are present for shapes of at least 24 voxels per axis.
    """
    rng = np.random.default_rng(seed)
    size = np.asarray(shape, dtype=np.float32)
    grid = [a.astype(np.float32) for a in np.ogrid[: shape[0], : shape[1], : shape[2]]]
    centre = (size - 1) / 2 + rng.uniform(-0.03, 0.03, 3) * size
    radii = size * np.array([0.36, 0.42, 0.38]) * rng.uniform(0.92, 1.05, 3)
    brain_d = _ellipsoid_distance(grid, centre, radii)

    tissue = np.where(brain_d <= 1.0, _GM, _OUTSIDE).astype(np.uint8)
    tissue[brain_d <= 0.55] = _WM
    tissue[(brain_d > 0.88) & (brain_d <= 1.0)] = _CSF
    for side in (-1, 1):
        ventricle = centre + np.array([side * 0.12, 0.05, 0.05]) * radii
        tissue[_ellipsoid_distance(grid, ventricle, radii * [0.07, 0.25, 0.12]) <= 1] = _CSF

    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tumour_centre = centre + direction * rng.uniform(0.2, 0.4) * radii
    core_radii = size.min() * rng.uniform(0.09, 0.14) * rng.uniform(0.85, 1.15, 3)
    core_d = _ellipsoid_distance(grid, tumour_centre, core_radii)
    oedema_d = _ellipsoid_distance(grid, tumour_centre, core_radii * rng.uniform(1.5, 2.0))
    in_brain = brain_d <= 1.0
    tissue[(oedema_d <= 1) & in_brain] = _ED
    tissue[(core_d <= 1) & in_brain] = _ET
    tissue[(core_d <= rng.uniform(0.3, 0.5)) & in_brain] = _NCR

    gradient = rng.normal(size=3)
    bias = 1.0 + 0.1 * sum(
        g * (axis / s - 0.5) for g, axis, s in zip(gradient, grid, size, strict=True))
    noise_fraction = rng.uniform(0.02, 0.05)
    images = {}
    for modality in layouts.MODALITIES:
        means = np.asarray(_CONTRASTS[modality], dtype=np.float32) * rng.uniform(0.8, 1.25)
        clean = means[tissue] * bias
        noise = rng.standard_normal(shape, dtype=np.float32) * (noise_fraction * means[_WM])
        values = np.clip(np.rint(clean + noise), 1, np.iinfo(np.int16).max)
        images[modality] = np.where(in_brain, values, 0).astype(np.int16)
    return Phantom(images, _TISSUE_TO_CANONICAL[tissue], phantom_affine(shape))


def _save(array, affine, path):
    """Writes `array` as NIfTI-1 at `path` with `affine` as qform and sform, units mm."""
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    nib.save(image, path)


def write_phantom(phantom, output_dir, release, case_id, extension=".nii.gz", with_seg=True):
    """Writes `phantom` as folder `output_dir/case_id/` named per `release`; returns its path."""
    layout = layouts.LAYOUTS[release]
    case_dir = os.path.join(output_dir, case_id)
    os.makedirs(case_dir, exist_ok=True)
    for modality in layouts.MODALITIES:
        path = os.path.join(case_dir, layout.file_name(case_id, modality, extension))
        _save(phantom.images[modality], phantom.affine, path)
    if with_seg:
        seg = labels.from_canonical(phantom.canonical, layout.convention)
        path = os.path.join(case_dir, layout.file_name(case_id, layouts.SEGMENTATION, extension))
        _save(seg, phantom.affine, path)
    return case_dir


def write_dataset(output_dir, num_cases, release, shape, seed=0, extension=".nii.gz",
                  with_seg=True, first_case=0):
    """Writes `num_cases` phantoms in `release` layout under `output_dir`; returns case ids.

    Case k (k = first_case, ..., first_case + num_cases - 1) uses seed sequence (seed, k) and
    the release's k-th case id (2020 counts from 001, 2021 and 2023 from 00000); without seg,
    2020 names cases as its validation set. So datasets written with the same seed and
    disjoint case ranges share no case (a held-out set: a `first_case` past the training set).
    """
    if first_case < 0:
        raise ValueError(f"first_case must be >= 0. Received: first_case={first_case}")
    first = 1 if release == "2020" else 0
    case_ids = []
    for k in range(first_case, first_case + num_cases):
        case_id = layouts.case_id_for(release, first + k, labelled=with_seg)
        write_phantom(make_phantom(shape, [seed, k]), output_dir, release, case_id,
                      extension, with_seg)
        case_ids.append(case_id)
    return case_ids


def main(argv):
    """Entry point: writes the requested phantom dataset and prints where."""
    del argv
    options = flags.FLAGS
    shape = tuple(int(n) for n in options.shape.split(","))
    case_ids = write_dataset(options.output_dir, options.num_cases, options.release, shape,
                             options.seed, options.extension, options.with_seg,
                             options.first_case)
    print(f"wrote {len(case_ids)} {options.release} cases of shape {shape} "
          f"to {options.output_dir}")


def define_flags():
    """Defines this entry point's absl flags (called only when run as a program)."""
    flags.DEFINE_string("output_dir", None, "Folder to write case folders into.", required=True)
    flags.DEFINE_integer("num_cases", 4, "Number of cases.", lower_bound=1)
    flags.DEFINE_enum("release", "2021", sorted(layouts.LAYOUTS), "BraTS release layout.")
    flags.DEFINE_string("shape", "240,240,155", "Grid size x,y,z in voxels (1 mm).")
    flags.DEFINE_integer("seed", 0, "Base seed; case k uses (seed, k).")
    flags.DEFINE_integer("first_case", 0, "Index k of the first case (its id and seed); a "
                         "held-out set starts past the training set's cases.", lower_bound=0)
    flags.DEFINE_enum("extension", ".nii.gz", list(layouts.EXTENSIONS), "File extension.")
    flags.DEFINE_boolean("with_seg", True, "Write segmentations (off: validation-set layout).")


if __name__ == "__main__":
    define_flags()
    app.run(main)
