"""`with_block_mode` switches every layer that has a mode and keeps function and weights."""

import numpy as np
import pytest

from brats_rev.config import preset
from brats_rev.models import build_model, with_block_mode
from brats_rev.models.block_mode import MODAL_LAYERS


def _modes(model):
    return {layer.name: layer.mode for layer in model.layers if isinstance(layer, MODAL_LAYERS)}


@pytest.mark.parametrize("source, target", [("reversible", "plain"), ("plain", "recompute"),
                                            ("recompute", "reversible")])
def test_every_modal_layer_switches_with_the_same_function_and_weights(source, target):
    model = build_model(preset("tiny", block_mode=source))
    switched = with_block_mode(model, target)
    modes = _modes(switched)
    # Stages and the transitions: down-sampling, skip merges and the head.
    assert {"down_0", "merge_0", "head"} <= set(modes) and len(modes) >= 8
    assert set(modes.values()) == {target}
    assert set(_modes(model).values()) <= {source, "plain"}  # the original is untouched
    assert [w.name for w in switched.weights] == [w.name for w in model.weights]
    for ours, theirs in zip(switched.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    images = np.random.default_rng(1).normal(size=(1, 16, 16, 16, 4)).astype(np.float32)
    np.testing.assert_allclose(switched(images)["logits"], model(images)["logits"],
                               rtol=0, atol=1e-5)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        with_block_mode(build_model(preset("tiny")), "fast")
