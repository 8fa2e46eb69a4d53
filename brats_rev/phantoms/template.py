"""The real brain the realistic phantoms start from: ICBM152 2009a symmetric, read from nilearn.

nilearn's wheel ships the MNI ICBM152 2009a T1 template and its grey- and white-matter
probability maps (197 x 233 x 189 voxels, 1 mm, RAS voxel order); its loaders read them from the
installed package, never from the network. From them, once per process:

    brain               the template's skull-stripped mask (T1 > 0)
    gm, wm              probability maps in [0, 1]; CSF = 1 - GM - WM inside the brain
    ventricle_distance  mm from the lateral ventricles (deep CSF), 0 inside, capped at 20 mm
    seeds               white-matter voxels deep in the cerebrum where tumours may start
"""

import dataclasses
import functools

import numpy as np
from scipy import ndimage

# Ventricles: CSF voxels at least this deep in the brain (mm), in components of this many voxels.
_VENTRICLE_DEPTH_MM = 12.0
_VENTRICLE_MIN_VOXELS = 500
_MAX_VENTRICLE_DISTANCE_MM = 20.0
# Tumour seeds: nearly pure white matter, this deep (mm), above this template slice (cerebrum).
_SEED_WM = 0.9
_SEED_DEPTH_MM = 14.0
_SEED_MIN_SLICE = 60


@dataclasses.dataclass(frozen=True)
class Template:
    """Template maps on the template grid (197, 233, 189), float32 unless stated.

    Attributes:
      affine: (4, 4) float64 template voxel -> world (mm, RAS).
      brain: float32 0/1 brain mask.
      gm, wm: tissue probabilities.
      ventricle_distance: distance to the lateral ventricles in mm (0 inside).
      seeds: (N, 3) int64 voxel indices of tumour seed candidates.
    """

    affine: np.ndarray
    brain: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    ventricle_distance: np.ndarray
    seeds: np.ndarray

    def brain_box_corners(self):
        """(8, 3) float64 world coordinates (mm) of the corners of the brain's bounding box."""
        box = ndimage.find_objects((self.brain > 0).astype(np.int8))[0]
        ends = [(s.start, s.stop - 1) for s in box]
        corners = np.array([[x, y, z, 1.0] for x in ends[0] for y in ends[1] for z in ends[2]])
        return (corners @ self.affine.T)[:, :3]


def _large_components(mask, min_voxels):
    """The connected components (26-connectivity) of `mask` with at least `min_voxels` voxels."""
    components, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return np.isin(components, np.flatnonzero(sizes >= min_voxels))


@functools.lru_cache(maxsize=1)
def load_template():
    """The Template, computed on the first call of a process and cached."""
    from nilearn import datasets  # imported here: slow to import, needed only for the atlas

    t1 = datasets.load_mni152_template(resolution=1)
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=1).get_fdata(), np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), np.float32)
    brain = np.asarray(t1.get_fdata()) > 0
    gm, wm = np.where(brain, gm, 0.0), np.where(brain, wm, 0.0)
    csf = np.where(brain, np.clip(1.0 - gm - wm, 0.0, 1.0), 0.0)
    depth = ndimage.distance_transform_edt(brain)  # mm: the template grid is 1 mm
    ventricles = _large_components((csf > 0.6) & (depth >= _VENTRICLE_DEPTH_MM),
                                   _VENTRICLE_MIN_VOXELS)
    ventricle_distance = np.minimum(ndimage.distance_transform_edt(~ventricles),
                                    _MAX_VENTRICLE_DISTANCE_MM)
    seeds = np.argwhere((wm >= _SEED_WM) & (depth >= _SEED_DEPTH_MM))
    seeds = seeds[seeds[:, 2] >= _SEED_MIN_SLICE]
    return Template(np.asarray(t1.affine, np.float64), brain.astype(np.float32),
                    gm.astype(np.float32), wm.astype(np.float32),
                    ventricle_distance.astype(np.float32), seeds)
