"""Synthetic BraTS-format cases (phantoms) for tests, the sample dataset, the demo and benchmarks.

Two kinds, both deterministic given (seed, case index) and written exactly as a release names
its files (`writing`):

    simple      an ellipsoidal brain with nested-ellipsoid tumour parts (`simple`): a fixed
                threshold segments it, so it tests plumbing only
    realistic   a real brain (ICBM152) with a glioma-like tumour, unlabelled look-alikes and
                a simulated acquisition (`realistic`): the cases accuracy is measured on

    python -m brats_rev.phantoms --output_dir=/tmp/brats --num_cases=4 --kind=realistic \
        [--release=2021] [--shape=240,240,155] [--extension=.nii] [--nowith_seg] [--seed=0] \
        [--first_case=0]
"""

from brats_rev.phantoms.case import BRATS_SHAPE, Phantom, phantom_affine
from brats_rev.phantoms.realistic import make_realistic_phantom
from brats_rev.phantoms.simple import make_phantom
from brats_rev.phantoms.writing import KINDS, write_dataset, write_phantom

__all__ = ["BRATS_SHAPE", "KINDS", "Phantom", "make_phantom", "make_realistic_phantom",
           "phantom_affine", "write_dataset", "write_phantom"]
