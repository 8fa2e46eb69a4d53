"""MBConv3D against a NumPy implementation of its definition."""

import numpy as np
import pytest

from brats_rev.layers import MBConv3D
from brats_rev.layers.mbconv import group_count
from tests.layers import reference


def numpy_mbconv(layer, x):
    """The block's definition in float64, reading the layer's weights by sublayer."""
    gamma, beta = (w.numpy() for w in layer.norm.weights)
    h = reference.group_norm(x, layer.norm.groups, gamma, beta, layer.norm.epsilon)
    if layer.expand is not None:
        kernel, bias = (w.numpy() for w in layer.expand.weights)
        h = reference.swish(h @ kernel + bias)
    kernel, bias = (w.numpy() for w in layer.depthwise.weights)
    h = reference.swish(reference.depthwise_conv3d(h, kernel, bias, 1, "same"))
    if layer.squeeze is not None:
        squeezed = h.mean(axis=(1, 2, 3))
        k1, b1 = (w.numpy() for w in layer.squeeze.weights)
        k2, b2 = (w.numpy() for w in layer.excite.weights)
        gate = reference.sigmoid(reference.swish(squeezed @ k1 + b1) @ k2 + b2)
        h = h * gate[:, None, None, None, :]
    kernel, bias = (w.numpy() for w in layer.project.weights)
    return h @ kernel + bias


@pytest.mark.parametrize(
    "in_channels,filters,expand_ratio,se_ratio,norm_groups",
    [(4, 4, 4, 0.0, 2), (4, 6, 2, 0.25, 4), (6, 3, 1, 0.5, 8), (8, 8, 3, 0.0, 8)],
)
def test_matches_numpy_definition(in_channels, filters, expand_ratio, se_ratio, norm_groups):
    rng = np.random.default_rng(0)
    layer = MBConv3D(filters, expand_ratio=expand_ratio, se_ratio=se_ratio,
                     norm_groups=norm_groups, depthwise_implementation="decomposed")
    shape = (2, 5, 4, 6, in_channels)
    layer.build(shape)
    # Non-trivial norm and bias weights, so that a dropped term would show.
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in layer.weights])
    x = rng.normal(size=shape).astype("float32")
    got = layer(x).numpy()
    np.testing.assert_allclose(got, numpy_mbconv(layer, x.astype("float64")), rtol=2e-4,
                               atol=2e-4)
    assert got.shape == layer.compute_output_shape(shape) == (*shape[:-1], filters)


def test_expand_ratio_one_has_no_expand_layer_and_se_is_optional():
    plain = MBConv3D(4, expand_ratio=1)
    plain.build((1, 3, 3, 3, 4))
    assert plain.expand is None and plain.squeeze is None
    with_se = MBConv3D(4, expand_ratio=2, se_ratio=0.25)
    with_se.build((1, 3, 3, 3, 4))
    # norm (2) + expand (2) + depthwise (2) + squeeze (2) + excite (2) + project (2)
    assert len(with_se.weights) == 12
    assert tuple(with_se.squeeze.kernel.shape) == (8, 1)


@pytest.mark.parametrize("groups,channels,expected", [(8, 16, 8), (8, 4, 4), (8, 6, 2), (3, 8, 1)])
def test_group_count_divides_channels(groups, channels, expected):
    assert group_count(groups, channels) == expected


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"filters": 4, "expand_ratio": 0.5}, "expand_ratio=0.5"),
        ({"filters": 4, "se_ratio": 1.5}, "se_ratio=1.5"),
        ({"filters": 0}, "filters=0"),
        ({"filters": 4, "depthwise_implementation": "fast"}, "depthwise_implementation='fast'"),
    ],
)
def test_bad_arguments_say_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match="Received") as error:
        MBConv3D(**kwargs)
    assert message in str(error.value)
