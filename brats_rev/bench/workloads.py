"""Training steps that the benchmarks measure: forward, loss, backward, optimizer update."""

import keras
import tensorflow as tf

from brats_rev.config import preset
from brats_rev.layers import ReversibleStage
from brats_rev.models import build_model


def stage_workload(mode, num_blocks, shape, filters, expand_ratio=4, jit_compile=False, seed=0):
    """One ReversibleStage training step.

    Args:
        mode: ReversibleStage mode.
        num_blocks: couplings in the stage.
        shape: (batch, depth, height, width) of the input.
        filters: input channels.
        expand_ratio: MBConv expansion.
        jit_compile: compile the step with XLA.
        seed: weights and input seed.

    Returns:
        (step, inputs): `step(inputs)` runs one full step and returns the scalar loss.
    """
    keras.utils.set_random_seed(seed)
    stage = ReversibleStage(filters, num_blocks, expand_ratio=expand_ratio, mode=mode)
    stage.build((*shape, filters))
    inputs = tf.random.stateless_normal((*shape, filters), seed=(seed, 1))
    return training_step(stage, jit_compile), inputs


def unet_workload(preset_name, changes, patch, batch=1, jit_compile=False, seed=0):
    """One U-Net training step: sigmoid cross-entropy on every output, Adam update.

    Args:
        preset_name: a `brats_rev.config.EXPERIMENTS` name.
        changes: dict of ModelConfig fields to override (e.g. block_mode, filters).
        patch: (depth, height, width) in voxels.
        batch: batch size.
        jit_compile: compile the step with XLA.
        seed: weights, input and target seed.

    Returns:
        (step, inputs) as `stage_workload`.
    """
    keras.utils.set_random_seed(seed)
    config = preset(preset_name, **changes)
    model = build_model(config, patch)
    shape = (batch, *patch)
    inputs = tf.random.stateless_normal((*shape, config.in_channels), seed=(seed, 1))
    targets = tf.cast(
        tf.random.stateless_uniform((*shape, config.num_outputs), seed=(seed, 2)) > 0.9,
        tf.float32,
    )

    def loss_fn(outputs):
        return tf.add_n([
            tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=_resize_like(targets, logits), logits=logits))
            for logits in outputs.values()
        ])

    return training_step(model, jit_compile, loss_fn), inputs


def _resize_like(targets, logits):
    """Targets max-pooled to the resolution of (deep-supervision) `logits`."""
    factor = targets.shape[1] // logits.shape[1]
    if factor == 1:
        return targets
    return tf.nn.max_pool3d(targets, factor, factor, "VALID")


def _mean_square(outputs):
    return tf.reduce_mean(tf.square(tf.cast(outputs, tf.float32)))


def training_step(layer, jit_compile=False, loss_fn=_mean_square):
    """A `tf.function` running one Adam step of `layer` on `loss_fn(layer(inputs))`."""
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(layer.trainable_variables)

    @tf.function(jit_compile=jit_compile)
    def step(inputs):
        with tf.GradientTape() as tape:
            loss = loss_fn(layer(inputs))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply(grads, layer.trainable_variables)
        return loss

    return step
