"""Tumour growth on a block of tissue: the parts each trait asks for, oedema in white matter."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from brats_rev import labels
from brats_rev.phantoms import anatomy, tumour

SIZE = 64
SPACING = (1.0, 1.0, 1.0)
CENTRE = (32, 32, 32)
BASE = tumour.Traits(radius_mm=12.0, necrotic=True, enhancing=True, broken_rim=False,
                     multifocal=False, oedema_ratio=3.0, fade_mm=4.0)


def block(white_below_x=SIZE):
    """A 64 mm cube of brain: white matter for x < white_below_x, CSF beyond."""
    shape = (SIZE,) * 3
    wm = np.zeros(shape, np.float32)
    wm[:white_below_x] = 1.0
    return anatomy.Anatomy(box=tuple(slice(0, SIZE) for _ in range(3)),
                           brain=np.ones(shape, bool), gm=np.zeros(shape, np.float32), wm=wm,
                           csf=1.0 - wm, ventricle_distance=np.full(shape, 20.0, np.float32))


def grow(seed=0, centre=CENTRE, tissue=None, **changes):
    traits = dataclasses.replace(BASE, **changes)
    return tumour.grow(np.random.default_rng(seed), tissue or block(), centre, traits, SPACING)


def counts(grown):
    return np.bincount(grown.canonical.ravel(), minlength=4)


@pytest.mark.parametrize("seed", range(3))
def test_necrotic_core_inside_an_enhancing_rim(seed):
    grown = grow(seed)
    n = counts(grown)
    assert n[labels.NCR] > 0 and n[labels.ET] > 0 and n[labels.ED] > 0
    necrotic = grown.canonical == labels.NCR
    core = np.isin(grown.canonical, (labels.NCR, labels.ET))
    touching = necrotic & ndimage.binary_dilation(~core)
    assert touching.sum() < 0.1 * necrotic.sum()  # the rim closes around the necrosis


def test_solid_core_has_no_necrosis_and_non_enhancing_core_no_enhancement():
    solid = counts(grow(necrotic=False))
    assert solid[labels.NCR] == 0 and solid[labels.ET] > 0
    quiet = counts(grow(enhancing=False, necrotic=False))
    assert quiet[labels.ET] == 0 and quiet[labels.NCR] > 0


def test_broken_rim_opens_the_core_to_the_oedema():
    def open_voxels(grown):
        necrotic = grown.canonical == labels.NCR
        return np.count_nonzero(necrotic & ndimage.binary_dilation(grown.canonical == labels.ED))

    intact, broken = grow(4), grow(4, broken_rim=True)
    assert open_voxels(broken) > 5 * max(open_voxels(intact), 1)


@pytest.mark.parametrize("ratio", [2.0, 3.5])
def test_whole_tumour_is_the_asked_multiple_of_the_core(ratio):
    n = counts(grow(oedema_ratio=ratio))
    whole, core = n[1:].sum(), n[labels.NCR] + n[labels.ET]
    assert whole / core == pytest.approx(ratio, rel=0.02)


def test_multifocal_gives_two_separate_cores():
    for seed in range(3):
        grown = grow(seed, multifocal=True, oedema_ratio=2.0)
        core = np.isin(grown.canonical, (labels.NCR, labels.ET))
        _, components = ndimage.label(core, np.ones((3, 3, 3)))
        assert components >= 2, seed


def test_oedema_stops_where_white_matter_ends():
    grown = grow(centre=(24, 32, 32), tissue=block(white_below_x=36), oedema_ratio=4.0)
    oedema_x = np.argwhere(grown.canonical == labels.ED)[:, 0]
    assert oedema_x.min() < 20 and oedema_x.max() <= 37  # 2 voxels of partial volume allowed


def test_fractions_are_soft_versions_of_the_labels():
    grown = grow(1)
    fractions = grown.fractions
    core_sum = fractions["necrosis"] + fractions["non_enhancing"] + fractions["enhancing"]
    assert core_sum.max() <= 1.0 + 1e-6
    et = grown.canonical == labels.ET
    assert np.median(fractions["enhancing"][et]) > 0.6
    assert fractions["enhancing"][grown.canonical == labels.BACKGROUND].max() < 0.5
    oedema = fractions["oedema"]
    assert np.all(oedema[grown.canonical == labels.ED] >= 0.5)
    faint = (grown.canonical == labels.BACKGROUND) & (oedema > 0)
    assert faint.any() and oedema[faint].max() < 0.5  # the fading edge lies outside the label


def test_traits_case_mix():
    rng = np.random.default_rng(0)
    drawn = [tumour.draw_traits(rng) for _ in range(4000)]

    def share(predicate):
        return np.mean([predicate(t) for t in drawn])

    assert share(lambda t: not t.enhancing) == pytest.approx(0.15, abs=0.02)
    assert share(lambda t: t.enhancing and not t.necrotic) == pytest.approx(0.17, abs=0.02)
    assert share(lambda t: t.multifocal) == pytest.approx(0.2, abs=0.02)
    assert share(lambda t: t.broken_rim) == pytest.approx(0.85 * 0.8 * 0.4, abs=0.02)
    assert all(2.0 <= t.oedema_ratio <= 4.0 and 11.0 <= t.radius_mm <= 24.0 for t in drawn)
