"""Training steps that the benchmarks measure: forward, loss, backward, optimizer update."""

import keras
import tensorflow as tf

from brats_rev.layers import ReversibleStage


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


def training_step(layer, jit_compile=False):
    """A `tf.function` running one Adam step of `layer` on mean(output**2)."""
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(layer.trainable_variables)

    @tf.function(jit_compile=jit_compile)
    def step(inputs):
        with tf.GradientTape() as tape:
            outputs = layer(inputs)
            loss = tf.reduce_mean(tf.square(tf.cast(outputs, tf.float32)))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply(grads, layer.trainable_variables)
        return loss

    return step
