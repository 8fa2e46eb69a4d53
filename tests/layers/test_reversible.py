"""ReversibleStage: the three modes compute the same function and the same gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev.layers import ReversibleStage
from brats_rev.layers.reversible import MODES

SHAPE = (2, 5, 7, 3, 8)  # batch 2, odd spatial sizes, 8 channels


def _stages(num_blocks, shape=SHAPE, **kwargs):
    """One stage per mode with identical weights."""
    stages = {}
    for mode in MODES:
        stage = ReversibleStage(shape[-1], num_blocks, expand_ratio=2, se_ratio=0.25,
                                norm_groups=2, mode=mode, depthwise_implementation="decomposed",
                                **kwargs)
        stage.build(shape)
        stages[mode] = stage
    weights = stages["plain"].get_weights()
    for stage in stages.values():
        stage.set_weights(weights)
    return stages


def _loss_and_grads(stage, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = stage(x)
        loss = tf.reduce_sum(y * upstream) + 0.5 * tf.reduce_sum(tf.square(y))
    return [y, *tape.gradient(loss, [x, *stage.trainable_variables])]


def _relative_error(a, b):
    return float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(a)) + 1e-12))


# One block, eager, in the fast tier; the other compilations and depths in the full one.
@pytest.mark.parametrize("num_blocks,checkpoint_expansion", [
    (1, False), pytest.param(3, False, marks=pytest.mark.slow),
    pytest.param(3, True, marks=pytest.mark.slow)])
@pytest.mark.parametrize("wrap", ["eager", pytest.param("function", marks=pytest.mark.slow),
                                  pytest.param("xla", marks=pytest.mark.slow)])
def test_gradients_equal_plain_autodiff(num_blocks, checkpoint_expansion, wrap):
    stages = _stages(num_blocks, checkpoint_expansion=checkpoint_expansion)
    x = tf.random.stateless_normal(SHAPE, seed=(1, 2))
    upstream = tf.random.stateless_normal(SHAPE, seed=(3, 4))
    results = {}
    for mode, stage in stages.items():
        fn = lambda x, u, stage=stage: _loss_and_grads(stage, x, u)  # noqa: E731
        if wrap != "eager":
            fn = tf.function(fn, jit_compile=wrap == "xla")
        results[mode] = fn(x, upstream)
    reference = results["plain"]
    assert len(reference) == 2 + len(stages["plain"].trainable_variables)
    for mode in ("reversible", "recompute"):
        for i, (want, got) in enumerate(zip(reference, results[mode], strict=True)):
            assert got.shape == want.shape
            assert _relative_error(want, got) < 1e-4, f"{mode} tensor {i}"
    # Every weight receives a gradient: none is silently dropped by the custom gradient.
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in results["reversible"][2:])


def test_modes_share_the_weight_list():
    stages = _stages(2)
    layouts = {  # weight paths below the stage's own (unique) name, and shapes
        mode: [(w.path.split("/", 1)[1], tuple(w.shape)) for w in stage.weights]
        for mode, stage in stages.items()
    }
    assert layouts["plain"] == layouts["reversible"] == layouts["recompute"]
    assert len(layouts["plain"]) == 2 * 2 * 12  # blocks x (F, G) x weights per MBConv


@pytest.mark.slow
def test_stage_output_is_float32_and_inverse_recovers_input_under_mixed_precision():
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        stages = _stages(2)
        x = tf.random.stateless_normal(SHAPE, seed=(5, 6))
        outputs = {mode: stage(tf.cast(x, "float16")) for mode, stage in stages.items()}
        assert stages["reversible"].couplings[0].f.compute_dtype == policy.split("_")[1]
        for mode, y in outputs.items():
            assert y.dtype == tf.float32, mode
            np.testing.assert_array_equal(y.numpy(), outputs["plain"].numpy())
        y, x_in = outputs["plain"], tf.cast(tf.cast(x, "float16"), "float32")
        for coupling in reversed(stages["plain"].couplings):
            y = coupling.inverse(y)
        np.testing.assert_allclose(y.numpy(), x_in.numpy(), atol=1e-5)


@pytest.mark.slow
def test_mixed_precision_gradients_match_plain():
    keras.config.set_dtype_policy("mixed_float16")
    stages = _stages(2)
    x = tf.random.stateless_normal(SHAPE, seed=(1, 2))
    upstream = tf.random.stateless_normal(SHAPE, seed=(3, 4))
    plain = tf.function(lambda x: _loss_and_grads(stages["plain"], x, upstream))(x)
    rev = tf.function(lambda x: _loss_and_grads(stages["reversible"], x, upstream))(x)
    for want, got in zip(plain, rev, strict=True):
        assert got.dtype == want.dtype
        assert _relative_error(want, got) < 1e-2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"filters": 8, "num_blocks": 2, "mode": "checkpoint"}, "mode='checkpoint'"),
        ({"filters": 7, "num_blocks": 2}, "filters=7"),
        ({"filters": 8, "num_blocks": 0}, "num_blocks=0"),
        ({"filters": 8, "num_blocks": 1, "expand_ratio": 0}, "expand_ratio=0"),
        ({"filters": 8, "num_blocks": 1, "depthwise_implementation": "x"},
         "depthwise_implementation='x'"),
        ({"filters": 8, "num_blocks": 1, "checkpoint_expansion": 1}, "checkpoint_expansion=1"),
    ],
)
def test_bad_arguments_say_what_was_received_and_allowed(kwargs, message):
    with pytest.raises(ValueError, match="Received") as error:
        ReversibleStage(**kwargs)
    assert message in str(error.value)
