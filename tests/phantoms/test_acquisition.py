"""Acquisition: fractions that add up, contrasts ordered as in MRI whatever the scanner draws."""

import numpy as np
import pytest

from brats_rev.phantoms import acquisition, anatomy, mimics, tumour

SLAB = 8
NAMES = tuple(acquisition.CONTRASTS)


def pure_slabs():
    """A brain of one slab (8 x 8 x 8 voxels of 1 mm) per compartment, each 100% of it."""
    shape = (SLAB * len(NAMES), SLAB, SLAB)
    brain = np.ones(shape, bool)
    blank = np.zeros(shape, np.float32)
    tissue = anatomy.Anatomy(tuple(slice(0, n) for n in shape), brain, blank, blank, blank,
                             blank)
    fractions = {}
    for k, name in enumerate(NAMES):
        volume = blank.copy()
        volume[k * SLAB:(k + 1) * SLAB] = 1.0
        fractions[name] = volume[brain]
    return tissue, fractions


def slab_medians(image):
    """{compartment: median of the slab's central 4 x 4 x 4 voxels} (away from any blur)."""
    inner = slice(2, SLAB - 2)
    return {name: float(np.median(image[k * SLAB:(k + 1) * SLAB][inner, inner, inner]))
            for k, name in enumerate(NAMES)}


@pytest.mark.parametrize("seed", range(6))
def test_contrasts_keep_their_mri_order_on_every_scanner(seed):
    tissue, fractions = pure_slabs()
    images = acquisition.acquire(np.random.default_rng(seed), tissue, fractions, (1.0,) * 3)
    flair, t1, t1ce, t2 = (slab_medians(images[m]) for m in ("flair", "t1", "t1ce", "t2"))
    assert flair["oedema"] > flair["gm"] > flair["wm"] > flair["csf"]
    assert t2["csf"] > t2["oedema"] > t2["wm"]
    assert t1ce["enhancing"] > t1ce["wm"] > t1ce["necrosis"]
    assert t1ce["vessel"] > t1ce["wm"] and t1ce["choroid_plexus"] > t1ce["wm"]
    assert flair["periventricular"] > flair["wm"]
    assert t1["wm"] > t1["gm"] > t1["csf"]
    white = images["t1ce"][SLAB * NAMES.index("wm"):SLAB * (NAMES.index("wm") + 1)]
    spread = 1.4826 * np.median(np.abs(white - np.median(white)))
    assert (t1ce["enhancing"] - t1ce["wm"]) / spread > 4  # segmentable: well above the noise


def test_images_are_int16_zero_outside_the_brain_and_seeded():
    tissue, fractions = pure_slabs()
    brain = tissue.brain.copy()
    brain[:, :, 0] = False
    tissue = anatomy.Anatomy(tissue.box, brain, *(tissue.gm,) * 4)
    fractions = {name: values.reshape(brain.shape)[brain] for name, values in fractions.items()}
    first = acquisition.acquire(np.random.default_rng(3), tissue, fractions, (1.0,) * 3)
    again = acquisition.acquire(np.random.default_rng(3), tissue, fractions, (1.0,) * 3)
    for modality, image in first.items():
        assert image.dtype == np.int16
        assert not np.any(image[:, :, 0]) and np.all(image[brain] >= 1)
        np.testing.assert_array_equal(image, again[modality])


def test_compartment_fractions_sum_to_one_in_the_brain():
    rng = np.random.default_rng(0)
    shape = (20, 18, 16)
    brain = np.zeros(shape, bool)
    brain[2:-2, 2:-2, 2:-2] = True
    gm = rng.uniform(0, 0.6, shape).astype(np.float32) * brain
    wm = (rng.uniform(0, 1, shape).astype(np.float32) * (1 - gm)) * brain
    tissue = anatomy.Anatomy(tuple(slice(0, n) for n in shape), brain, gm, wm,
                             (1 - gm - wm) * brain, np.full(shape, 20.0, np.float32))
    box = (slice(4, 14), slice(4, 14), slice(4, 12))
    parts = rng.dirichlet(np.ones(4), (10, 10, 8)).astype(np.float32)
    grown = tumour.Tumour(box, np.zeros((10, 10, 8), np.uint8),
                          {"necrosis": parts[..., 0], "non_enhancing": parts[..., 1],
                           "enhancing": parts[..., 2], "oedema": rng.uniform(0, 1, (10, 10, 8))})
    mimic = {name: rng.uniform(0, 0.7, shape).astype(np.float32) * brain
             for name in mimics.MIMICS}
    fractions = acquisition.compartment_fractions(tissue, grown, mimic)
    assert set(fractions) == set(acquisition.CONTRASTS)
    total = sum(fractions.values())
    assert total.shape == (brain.sum(),)
    np.testing.assert_allclose(total, 1.0, atol=1e-5)
    assert min(float(f.min()) for f in fractions.values()) >= -1e-6
