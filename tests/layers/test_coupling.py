"""AdditiveCoupling: the forward formula, and an inverse exact to float32 rounding."""

import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers import AdditiveCoupling


def _coupling(filters, shape, **kwargs):
    coupling = AdditiveCoupling(filters, expand_ratio=2, norm_groups=2,
                                depthwise_implementation="decomposed", **kwargs)
    coupling.build(shape)
    return coupling


def test_forward_is_the_additive_coupling_formula():
    shape = (2, 3, 4, 5, 6)
    coupling = _coupling(6, shape)
    x = tf.random.stateless_normal(shape, seed=(1, 2))
    x1, x2 = x[..., :3], x[..., 3:]
    y1 = x1 + coupling.f(x2)
    y2 = x2 + coupling.g(y1)
    np.testing.assert_allclose(coupling(x).numpy(), tf.concat([y1, y2], -1).numpy(), atol=1e-6)
    # F and G are not the identity or zero, so the check above is not vacuous.
    assert float(tf.reduce_max(tf.abs(coupling(x) - x))) > 0.1


@pytest.mark.parametrize(
    "shape,se_ratio", [((2, 5, 7, 3, 4), 0.0), ((1, 6, 6, 6, 8), 0.25), ((3, 3, 4, 5, 2), 0.5)]
)
def test_inverse_reconstructs_the_input(shape, se_ratio):
    coupling = _coupling(shape[-1], shape, se_ratio=se_ratio)
    x = tf.random.stateless_normal(shape, seed=(7, 8)) * 3.0
    y = coupling(x)
    np.testing.assert_allclose(coupling.inverse(y).numpy(), x.numpy(), rtol=0, atol=5e-6)


def test_odd_filters_are_rejected():
    with pytest.raises(ValueError, match="must be even. Received: filters=5"):
        AdditiveCoupling(5)


def test_input_channels_must_match_filters():
    with pytest.raises(ValueError, match="needs inputs with 8 channels"):
        AdditiveCoupling(8).build((1, 4, 4, 4, 6))
