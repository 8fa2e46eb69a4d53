"""Non-learned segmenters that set the bar a trained network must clear.

The two intensity baselines look at one voxel at a time, at what the network sees: each case's
four modalities z-scored over its brain (`brats_rev.data.preprocess.zscore`). Neither uses
context, so a case they segment well is a case that intensity alone solves. The background
baseline is the floor: what a network that has learned nothing scores.

    BackgroundBaseline predicts no tumour anywhere (Dice 1 on an empty reference region, else
                       0; HD95 then as `brats_rev.metrics` scores an empty prediction).
    ThresholdBaseline  per region (WT, TC, ET): the one modality, direction (above / below) and
                       threshold whose mask has the best mean Dice over the training cases
                       (thresholds every 0.05 z from -6 to 12; of tied ones the middle).
                       Regions are nested by union as everywhere
                       (`labels.canonical_from_regions`).
    GaussianBaseline   a Bayes classifier with the training frequencies as priors: healthy
                       brain is a mixture of three 4-channel Gaussians (CSF, grey and white
                       matter, fitted by EM), NCR, ED and ET one full-covariance Gaussian each;
                       each voxel gets its most probable class.

Cases are (image, canonical) pairs: image float (X, Y, Z, 4) in layouts.MODALITIES order, zero
outside the brain; canonical uint8 (X, Y, Z) labels (brats_rev.labels).
"""

import numpy as np
from scipy import stats

from brats_rev import labels
from brats_rev.data import layouts, preprocess

THRESHOLDS = np.round(np.arange(-6.0, 12.0 + 1e-9, 0.05), 2)
DIRECTIONS = ("above", "below")
_HEALTHY_COMPONENTS = 3
_TUMOUR_CLASSES = (labels.NCR, labels.ED, labels.ET)


def features(image):
    """(brain mask (X, Y, Z) bool, z-scored brain voxels (N, 4) float32) of one case."""
    mask = preprocess.brain_mask(image)
    return mask, preprocess.zscore(image, mask, list(layouts.MODALITIES))[mask]


def _dice_curves(values, region):
    """Dice of `values > t` and `values < t` for every t in THRESHOLDS: float64 (2, T)."""
    edges = np.concatenate([[-np.inf], THRESHOLDS, [np.inf]])
    brain = np.histogram(values, edges)[0]
    inside = np.histogram(values[region], edges)[0]
    # Voxels with value > THRESHOLDS[j] lie in bins j + 1 and up.
    above_all = np.cumsum(brain[::-1])[::-1][1:]
    above_in = np.cumsum(inside[::-1])[::-1][1:]
    below_all, below_in = brain.sum() - above_all, inside.sum() - above_in
    target = inside.sum()
    curves = []
    for predicted, overlap in ((above_all, above_in), (below_all, below_in)):
        total = predicted + target
        curves.append(np.where(total > 0, 2.0 * overlap / np.maximum(total, 1), 1.0))
    return np.asarray(curves)


class BackgroundBaseline:
    """Predicts background everywhere (see the module doc)."""

    @classmethod
    def fit(cls, cases):
        """Checks that the iterable of (image, canonical) training cases is not empty."""
        if next(iter(cases), None) is None:
            raise ValueError("BackgroundBaseline.fit needs at least one training case")
        return cls()

    def predict(self, image):
        """uint8 canonical labels (X, Y, Z) of one image (X, Y, Z, 4): all background."""
        return np.zeros(image.shape[:3], np.uint8)

    def describe(self):
        """One line: what it predicts."""
        return ["background everywhere"]


class ThresholdBaseline:
    """Best global threshold per region (see the module doc).

    Attributes:
      rules: {region: {"modality", "direction", "threshold", "train_dice"}}.
    """

    def __init__(self, rules):
        self.rules = rules

    @classmethod
    def fit(cls, cases):
        """Tunes the rules on an iterable of (image, canonical) training cases."""
        totals, count = None, 0
        for image, canonical in cases:
            mask, values = features(image)
            regions = labels.regions_from_canonical(canonical[mask]).astype(bool)
            curves = np.stack([np.stack([_dice_curves(values[:, m], regions[:, r])
                                         for m in range(values.shape[1])])
                               for r in range(len(labels.GLI.region_names))])  # (R, M, 2, T)
            totals = curves if totals is None else totals + curves
            count += 1
        if count == 0:
            raise ValueError("ThresholdBaseline.fit needs at least one training case")
        mean = totals / count
        rules = {}
        for r, region in enumerate(labels.GLI.region_names):
            m, d, _ = np.unravel_index(np.argmax(mean[r]), mean[r].shape)
            # Where several thresholds tie, the middle one: the widest margin to both sides.
            t = int(np.median(np.flatnonzero(mean[r, m, d] == mean[r, m, d].max())))
            rules[region] = {"modality": layouts.MODALITIES[m], "direction": DIRECTIONS[d],
                             "threshold": float(THRESHOLDS[t]),
                             "train_dice": float(mean[r, m, d, t])}
        return cls(rules)

    def predict(self, image):
        """uint8 canonical labels (X, Y, Z) of one image (X, Y, Z, 4)."""
        mask, values = features(image)
        regions = np.zeros(mask.shape + (len(labels.GLI.region_names),), bool)
        for r, region in enumerate(labels.GLI.region_names):
            rule = self.rules[region]
            column = values[:, layouts.MODALITIES.index(rule["modality"])]
            inside = column > rule["threshold"] if rule["direction"] == "above" else (
                column < rule["threshold"])
            regions[..., r][mask] = inside
        return labels.canonical_from_regions(regions)

    def describe(self):
        """One line per region, e.g. 'WT: flair above 1.25 (train Dice 0.61)'."""
        return [f"{region}: {rule['modality']} {rule['direction']} {rule['threshold']:.2f} "
                f"(train Dice {rule['train_dice']:.3f})" for region, rule in self.rules.items()]


class GaussianBaseline:
    """Per-voxel Bayes classifier with Gaussian class densities (see the module doc).

    Attributes:
      classes: canonical labels, one per density (healthy is labels.BACKGROUND).
      log_priors: float64 (K,) log class frequencies of the training voxels.
      densities: per class a list of (log weight, scipy frozen multivariate normal).
    """

    def __init__(self, classes, log_priors, densities):
        self.classes = tuple(classes)
        self.log_priors = np.asarray(log_priors, np.float64)
        self.densities = densities

    @classmethod
    def fit(cls, cases, voxels_per_class=20000, seed=0):
        """Fits on an iterable of (image, canonical) training cases.

        Args:
          voxels_per_class: at most this many voxels of each class are drawn from each case
            (uniformly, seeded by `seed` and the case's position) to fit the densities; the
            priors count every voxel.
        """
        samples = {c: [] for c in (labels.BACKGROUND, *_TUMOUR_CLASSES)}
        counts = dict.fromkeys(samples, 0)
        for index, (image, canonical) in enumerate(cases):
            mask, values = features(image)
            classes = canonical[mask]
            rng = np.random.default_rng([seed, index])
            for c in samples:
                rows = np.flatnonzero(classes == c)
                counts[c] += rows.size
                if rows.size > voxels_per_class:
                    rows = rng.choice(rows, voxels_per_class, replace=False)
                samples[c].append(values[rows])
        if counts[labels.BACKGROUND] == 0:
            raise ValueError("GaussianBaseline.fit needs at least one training case")
        from sklearn.mixture import GaussianMixture  # imported here: sklearn is slow to load

        present = [c for c in samples if counts[c] >= 10]
        total = sum(counts[c] for c in present)
        densities = []
        for c in present:
            data = np.concatenate(samples[c]).astype(np.float64)
            if c == labels.BACKGROUND:
                mixture = GaussianMixture(_HEALTHY_COMPONENTS, covariance_type="full",
                                          random_state=seed).fit(data)
                densities.append([(float(np.log(w)), stats.multivariate_normal(m, s))
                                  for w, m, s in zip(mixture.weights_, mixture.means_,
                                                     mixture.covariances_, strict=True)])
            else:
                covariance = np.cov(data, rowvar=False) + 1e-6 * np.eye(data.shape[1])
                densities.append([(0.0, stats.multivariate_normal(data.mean(axis=0),
                                                                  covariance))])
        return cls(present, [np.log(counts[c] / total) for c in present], densities)

    def _log_posteriors(self, values):
        """float64 (N, K) unnormalised log posteriors of brain voxels (N, 4)."""
        columns = []
        for log_prior, components in zip(self.log_priors, self.densities, strict=True):
            parts = np.stack([w + d.logpdf(values) for w, d in components])
            columns.append(log_prior + np.logaddexp.reduce(parts, axis=0))
        return np.stack(columns, axis=1)

    def predict(self, image):
        """uint8 canonical labels (X, Y, Z) of one image (X, Y, Z, 4)."""
        mask, values = features(image)
        out = np.zeros(mask.shape, np.uint8)
        winners = np.argmax(self._log_posteriors(values.astype(np.float64)), axis=1)
        out[mask] = np.asarray(self.classes, np.uint8)[winners]
        return out

    def describe(self):
        """One line per class: its prior and the means of its Gaussians (z units)."""
        lines = []
        for c, log_prior, components in zip(self.classes, self.log_priors, self.densities,
                                            strict=True):
            means = "; ".join(" ".join(f"{v:+.2f}" for v in d.mean) for _, d in components)
            lines.append(f"{labels.GLI.class_names()[c]}: prior {np.exp(log_prior):.4f}, "
                         f"means {means}")
        return lines


BASELINES = {"background": BackgroundBaseline, "threshold": ThresholdBaseline,
             "gaussian": GaussianBaseline}
