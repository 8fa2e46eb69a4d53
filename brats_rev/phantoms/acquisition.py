"""From tissue fractions to four MR images as a scanner makes them: contrast, blur, bias, noise.

Per modality, on the work box, in this order:

    signal   sum over compartments of fraction x mean (relative to white matter = 1), each
             mean varied per case (tumour and mimic contrasts by +-35% of their difference
             from white matter); healthy tissue x (1 + 2-5% fine texture), tumour x (1 + 8-20%);
             the enhancement of the rim itself varies by 30% (one SD) over ~6 mm
    blur     half the modalities are thick-slice acquisitions: Gaussian blur along one random
             axis (slices 2-5 mm thick)
    shift    30% are misregistered by up to half a voxel per axis
    bias     x exp(b N), N smooth over ~60 mm, b up to 0.1 (about +-20% across the brain)
    scanner  gamma 0.85-1.2, then gain 200-1200
    noise    Rician: |signal + n1 + i n2|, n ~ N(0, s^2), s 1.5-6% of white matter
    output   rounded int16, >= 1 inside the brain and exactly 0 outside

The contrasts follow MRI: oedema bright on FLAIR and T2, the enhancing rim bright on T1ce,
necrosis dark on T1ce and bright on T2, CSF dark on FLAIR and bright on T2. The smallest tumour
contrast against white matter in its key modality (ET on T1ce, oedema on FLAIR) is 0.32 of the
white-matter signal and the largest noise 0.06 of it: every tumour compartment stands at least
5 noise standard deviations from white matter where it is fully present.
"""

import concurrent.futures

import numpy as np
from scipy import ndimage

from brats_rev.data import layouts
from brats_rev.phantoms import fields
from brats_rev.phantoms.anatomy import THREADS

# Mean signal relative to white matter, per modality in layouts.MODALITIES order.
CONTRASTS = {
    "csf": (0.25, 0.35, 0.38, 2.4),
    "gm": (1.28, 0.72, 0.76, 1.4),
    "wm": (1.0, 1.0, 1.0, 1.0),
    "oedema": (1.5, 0.8, 0.84, 1.65),
    "necrosis": (0.9, 0.45, 0.5, 2.1),
    "non_enhancing": (1.45, 0.7, 0.78, 1.6),
    "enhancing": (1.35, 0.75, 1.55, 1.45),
    "vessel": (0.95, 0.8, 1.6, 0.8),
    "choroid_plexus": (1.0, 0.75, 1.6, 1.3),
    "periventricular": (1.5, 0.82, 0.85, 1.7),
    "wmh": (1.5, 0.82, 0.85, 1.7),
}
HEALTHY = ("csf", "gm", "wm")
TUMOUR = ("oedema", "necrosis", "non_enhancing", "enhancing")
_CONTRAST_JITTER = 0.35
_HEALTHY_JITTER = 0.1
# The enhancing rim's contrast varies in space by this fraction (one SD, over ~6 mm).
_UNEVEN_ENHANCEMENT = 0.3


def case_contrasts(rng):
    """{compartment: float32 (4,) means}: CONTRASTS varied for one case (see module doc)."""
    out = {}
    for name, means in CONTRASTS.items():
        jitter = 0.0 if name == "wm" else (
            _HEALTHY_JITTER if name in HEALTHY else _CONTRAST_JITTER)
        factor = rng.uniform(1 - jitter, 1 + jitter, len(means))
        out[name] = (1.0 + (np.asarray(means) - 1.0) * factor).astype(np.float32)
    return out


def compartment_fractions(anatomy, tumour, mimic):
    """{compartment in CONTRASTS: float32 (N,) fraction at the N brain voxels of the work box}.

    Fractions sum to 1 at every brain voxel (`anatomy.brain`, in C order). The tumour core
    replaces healthy tissue; oedema (its concentration c) takes c of the white matter and c/2
    of the grey matter left; vessels and choroid plexus take their volume from everything;
    periventricular and WMH signal takes its share of the white matter.
    """
    brain = anatomy.brain
    core = {}
    for name, fraction in tumour.fractions.items():
        volume = np.zeros(brain.shape, np.float32)
        volume[tumour.box] = fraction
        core[name] = volume[brain]
    wm_map, gm_map, csf_map = anatomy.wm[brain], anatomy.gm[brain], anatomy.csf[brain]
    pv, wmh = mimic["periventricular"][brain], mimic["wmh"][brain]
    vessel, plexus = mimic["vessel"][brain], mimic["choroid_plexus"][brain]
    healthy = 1.0 - core["necrosis"] - core["non_enhancing"] - core["enhancing"]
    c = core.pop("oedema")
    out = dict(core)
    out["oedema"] = c * healthy * (wm_map + 0.5 * gm_map)
    wm = healthy * wm_map * (1.0 - c)
    out["gm"] = healthy * gm_map * (1.0 - 0.5 * c)
    out["csf"] = healthy * csf_map
    hyperintense = np.minimum(pv + wmh, 1.0)
    out["periventricular"] = wm * np.minimum(pv, hyperintense)
    out["wmh"] = wm * (hyperintense - np.minimum(pv, hyperintense))
    out["wm"] = wm * (1.0 - hyperintense)
    taken = np.minimum(vessel + plexus, 1.0)
    out = {name: fraction * (1.0 - taken) for name, fraction in out.items()}
    out["vessel"] = vessel * (1.0 - plexus)
    out["choroid_plexus"] = taken - out["vessel"]
    return out


def _thick_slices(rng, signal, spacing):
    """Blurs `signal` along a random axis as a 2-5 mm slice acquisition would (new array)."""
    axis = int(rng.integers(0, 3))
    sigma_mm = rng.uniform(2.0, 5.0) / 2.355  # FWHM = slice thickness
    return ndimage.gaussian_filter1d(signal, sigma_mm / spacing[axis], axis=axis)


def _subvoxel_shift(signal, shift):
    """`signal` moved by `shift` voxels per axis (each |shift| < 1), linearly interpolated.

    The first plane along an axis keeps its value (the edge repeats).
    """
    for axis, amount in enumerate(shift):
        moved = np.moveaxis(signal.copy(), axis, 0)
        view = np.moveaxis(signal, axis, 0)
        weight = np.float32(abs(amount))
        if amount > 0:
            moved[1:] = (1 - weight) * view[1:] + weight * view[:-1]
        else:
            moved[:-1] = (1 - weight) * view[:-1] + weight * view[1:]
        signal = np.moveaxis(moved, 0, axis)
    return signal


def _on_grid(values, brain, change):
    """`change` applied to `values` (N,) scattered onto the grid of `brain`; returns (N,)."""
    volume = np.zeros(brain.shape, np.float32)
    volume[brain] = values
    return change(volume)[brain]


def _modality(rng, means, fractions, textures, brain, spacing):
    """int16 image of one modality on the work box (see the module doc for each step).

    Args:
      means: {compartment: mean signal of this modality}.
      fractions: `compartment_fractions`, (N,) per compartment at the brain voxels.
      textures: (healthy, tumour, enhancement) unit-variance smooth fields at the brain
        voxels, (N,) each.
      brain: bool brain mask of the work box.
    """
    healthy = sum(fractions[name] * means[name] for name in CONTRASTS if name not in TUMOUR)
    tumour = sum(fractions[name] * means[name] for name in TUMOUR if name != "enhancing")
    enhancement = 1.0 + (means["enhancing"] - 1.0) * (1.0 + _UNEVEN_ENHANCEMENT * textures[2])
    tumour = tumour + fractions["enhancing"] * enhancement
    signal = (healthy * (1.0 + rng.uniform(0.02, 0.05) * textures[0])
              + tumour * (1.0 + rng.uniform(0.08, 0.2) * textures[1]))
    if rng.random() < 0.5:
        signal = _on_grid(signal, brain, lambda volume: _thick_slices(rng, volume, spacing))
    if rng.random() < 0.3:
        shift = rng.uniform(-0.5, 0.5, 3)
        signal = _on_grid(signal, brain, lambda volume: _subvoxel_shift(volume, shift))
    bias = fields.smooth_noise(rng, brain.shape, spacing, 60.0)[brain]
    bias = np.exp(rng.uniform(0.03, 0.1) * bias)
    gain = rng.uniform(200.0, 1200.0)
    values = (np.maximum(signal * bias, 0.0) ** rng.uniform(0.85, 1.2)) * gain
    sigma = rng.uniform(0.015, 0.06) * gain
    real = values + rng.standard_normal(values.shape, dtype=np.float32) * sigma
    imaginary = rng.standard_normal(values.shape, dtype=np.float32) * sigma
    image = np.zeros(brain.shape, np.int16)
    image[brain] = np.clip(np.rint(np.sqrt(real**2 + imaginary**2)), 1, np.iinfo(np.int16).max)
    return image


def acquire(rng, anatomy, fractions, spacing):
    """{modality: int16 image on the work box} from `compartment_fractions` (see module doc).

    Modalities are simulated on parallel threads, each with its own random stream.
    """
    contrasts = case_contrasts(rng)
    textures = tuple(fields.smooth_noise(rng, anatomy.brain.shape, spacing, mm)[anatomy.brain]
                     for mm in (3.0, 4.0, 6.0))
    streams = rng.spawn(len(layouts.MODALITIES))

    def simulate(index):
        means = {name: values[index] for name, values in contrasts.items()}
        return _modality(streams[index], means, fractions, textures, anatomy.brain, spacing)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        images = list(pool.map(simulate, range(len(layouts.MODALITIES))))
    return dict(zip(layouts.MODALITIES, images, strict=True))
