"""Cases whose images encode their regions, and a Predictor whose 'model' reads them back."""

import keras
import numpy as np
import tensorflow as tf

from brats_rev import labels, phantoms
from brats_rev.data import layouts
from brats_rev.inference.predictor import Predictor

SHAPE = (40, 44, 36)


def encoding_phantom(seed):
    """A phantom whose flair / t1 / t1ce are 2 inside WT / TC / ET and 1 elsewhere in the brain.

    After the brain z-score, a region's voxels are exactly the positive ones of its channel.
    """
    phantom = phantoms.make_phantom(SHAPE, seed)
    brain = phantom.images["t2"] != 0
    regions = labels.regions_from_canonical(phantom.canonical)
    images = {modality: np.where(brain, 1 + regions[..., k], 0).astype(np.int16)
              for k, modality in enumerate(layouts.MODALITIES[:3])}
    images["t2"] = phantom.images["t2"]
    return phantoms.Phantom(images, phantom.canonical, phantom.affine)


def reads_regions(windows):
    """Region 'probabilities' 1 where the first three channels are positive, else 0."""
    return tf.cast(windows[..., :3] > 0, tf.float32)


def region_reading_predictor(config=None, in_channels=4):
    """A Predictor (16³ windows) whose window function is `reads_regions`."""
    image = keras.Input((None, None, None, in_channels), name="image")
    model = keras.Model(image, {"logits": keras.layers.Dense(3)(image)})
    predictor = Predictor(model, (16, 16, 16), config)
    predictor.predict_windows = reads_regions  # traced on the first call
    return predictor
