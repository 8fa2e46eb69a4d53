"""Switching a built model's block mode ("reversible", "plain", "recompute") without changing
its function or its weights.

Every layer that has a mode follows the switch: the ReversibleStages and the recomputed
transitions (`down_*`, `merge_*`, `head`). In "plain" mode no layer goes through
`tf.custom_gradient` or `tf.recompute_grad`, so a traced inference graph (the SavedModel
export) holds ordinary ops only.
"""

import keras

from brats_rev.checks import check_choice
from brats_rev.layers import ReversibleStage
from brats_rev.layers.recompute import MODES, RecomputedLayer

MODAL_LAYERS = (ReversibleStage, RecomputedLayer)


def with_block_mode(model, mode):
    """A copy of the functional `model` in which every layer with a mode runs in `mode`.

    The copy has the same layers, names and weights (set from `model`); the modes compute the
    same function, so outputs agree to float rounding of the same ops.

    Raises:
      ValueError: `mode` is not one of MODES.
    """
    check_choice("mode", mode, MODES)

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, MODAL_LAYERS):
            config = {**config, "mode": mode}
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
