"""The training step: global gradient clipping and one update against a hand-made step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from brats_rev import losses
from brats_rev.config import TrainConfig, preset
from brats_rev.models.factory import build_model
from brats_rev.training import optimization, step


def test_global_gradients_unscale_and_clip_the_global_norm():
    grads = [tf.constant([6.0, 8.0]), tf.constant([0.0])]  # norm 10 at loss scale 2 -> 5
    unscaled, norm = step.global_gradients(grads, tf.constant(2.0), clipnorm=None)
    assert float(norm) == 5.0
    np.testing.assert_allclose(unscaled[0], [3.0, 4.0])
    clipped, norm = step.global_gradients(grads, tf.constant(2.0), clipnorm=1.0)
    assert float(norm) == 5.0
    np.testing.assert_allclose(clipped[0], [0.6, 0.8], rtol=1e-6)
    infinite, _ = step.global_gradients([tf.constant([np.inf, 1.0])], tf.constant(1.0), 1.0)
    assert np.isnan(infinite[0].numpy()).all()  # skipped by loss scaling


@pytest.mark.slow
def test_one_step_equals_plain_sgd_on_the_mean_loss():
    config = TrainConfig(optimizer="sgd_nesterov", momentum=0.0, weight_decay=0.0,
                         warmup_steps=0, learning_rate=0.1, clipnorm=None, epochs=10,
                         steps_per_epoch=10)
    small = preset("tiny", filters=(8, 16), encoder_blocks=1, decoder_blocks=1, norm_groups=2)
    model = build_model(small)
    reference = build_model(small)
    reference.set_weights(model.get_weights())
    optimizer = optimization.create_optimizer(config)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 8, 8, 8, 4)).astype(np.float32)
    targets = (rng.random((2, 8, 8, 8, 3)) > 0.7).astype(np.float32)

    loss, _ = tf.function(step.make_replica_step(model, optimizer, 2, None, (1.0,)))(
        images, targets)
    with tf.GradientTape() as tape:
        expected_loss = losses.RegionDiceBCE()(targets, reference(images)["logits"])
    grads = tape.gradient(expected_loss, reference.trainable_variables)
    np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-5)
    for variable, grad, updated in zip(reference.trainable_variables, grads,
                                       model.trainable_variables, strict=True):
        np.testing.assert_allclose(updated.numpy(), variable.numpy() - 0.1 * grad.numpy(),
                                   rtol=1e-4, atol=1e-6)
    assert keras.ops.convert_to_numpy(optimizer.iterations) == 1
