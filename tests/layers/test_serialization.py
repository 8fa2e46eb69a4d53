"""`.keras` save/load round trips of models containing each layer give identical outputs."""

import json

import keras
import numpy as np
import pytest

from brats_rev.layers import (
    AdditiveCoupling,
    DepthwiseConv3D,
    Downsample,
    MBConv3D,
    ReversibleStage,
    SegmentationHead,
)
from brats_rev.layers.pointwise import Pointwise

LAYERS = {
    "depthwise": lambda: DepthwiseConv3D(3, strides=2, use_bias=False),
    "mbconv": lambda: MBConv3D(6, expand_ratio=3, se_ratio=0.25, norm_groups=2,
                               activation="gelu"),
    "coupling": lambda: AdditiveCoupling(8, expand_ratio=2, kernel_size=5, norm_groups=4),
    # A callable activation is serialised by name, as MBConv3D does.
    "coupling_callable": lambda: AdditiveCoupling(8, expand_ratio=2, norm_groups=4,
                                                  activation=keras.activations.gelu),
    "stage": lambda: ReversibleStage(8, 2, expand_ratio=2, se_ratio=0.5, norm_groups=4,
                                     mode="recompute", checkpoint_expansion=True),
    "stage_callable": lambda: ReversibleStage(8, 1, expand_ratio=2, norm_groups=4,
                                              activation=keras.activations.relu),
    "pointwise": lambda: Pointwise(5, activation="relu"),
    "down": lambda: Downsample(6, mode="reversible"),
    "head": lambda: SegmentationHead(3, norm_groups=4, activation="gelu", mode="recompute"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_keras_file_round_trip(name, tmp_path):
    inputs = keras.Input((6, 5, 4, 8), name="image")
    layer = LAYERS[name]()
    model = keras.Model(inputs, layer(inputs))
    # Move every weight away from its initial value, so that a reload that re-initialises
    # instead of restoring would be caught.
    model.set_weights([w + 0.1 * (i + 1) for i, w in enumerate(model.get_weights())])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 6, 5, 4, 8)).astype("float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    restored_layer = restored.layers[-1]
    assert type(restored_layer) is type(layer)
    assert restored_layer.get_config() == layer.get_config()
    json.dumps(layer.get_config())  # the config is plain JSON
