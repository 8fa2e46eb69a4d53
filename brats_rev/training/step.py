"""The training step, run once per replica under `strategy.run`.

Each replica computes its samples' losses and divides their sum by the global batch size, so
the gradients summed over replicas are those of the global-batch mean loss. Keras optimizers
sum gradients over replicas inside `apply()` but clip before that sum, i.e. each replica's
share. To clip the global gradient, the step sums the gradients itself, removes the loss
scale, clips, and hands each replica 1 / num_replicas of the clipped global gradient (times the
loss scale, which the optimizer removes again); the optimizer's own sum restores it exactly
when the replica count is a power of two (the loss scale always is).
"""

import keras
import tensorflow as tf

from brats_rev import losses


def loss_scale(optimizer):
    """The current dynamic loss scale of a LossScaleOptimizer, else 1."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return tf.cast(optimizer.dynamic_scale, tf.float32)
    return tf.constant(1.0)


def global_gradients(grads, scale, clipnorm):
    """Sums `grads` over replicas, unscales, clips the global norm.

    Args:
        grads: this replica's gradients of the loss times `scale`.
        scale: float32 loss scale.
        clipnorm: clip to this global L2 norm, or None.

    Returns:
        (unscaled, clipped global gradients; their global norm before clipping). A non-finite
        norm makes every gradient NaN (tf.clip_by_global_norm), which loss scaling skips.
    """
    summed = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
    unscaled = [g / tf.cast(scale, g.dtype) for g in summed]
    norm = tf.linalg.global_norm(unscaled)
    if clipnorm is not None:
        unscaled, _ = tf.clip_by_global_norm(unscaled, clipnorm, use_norm=norm)
    return unscaled, norm


def make_replica_step(model, optimizer, global_batch_size, clipnorm, output_weights):
    """The per-replica step: (images, targets) -> (loss, gradient norm), updating weights.

    Args:
        model: the U-Net (output dict of logits).
        optimizer: from `optimization.create_optimizer`.
        global_batch_size: patches per step over all replicas.
        clipnorm: global gradient clip norm or None.
        output_weights: `losses.output_weights(...)`, one per supervised model output.

    Returns:
        fn(images (b, X, Y, Z, C), targets (b, X, Y, Z, R)) -> (this replica's share of the
        global mean loss, float32 scalar; the global gradient norm).
    """
    region_loss = losses.RegionDiceBCE(reduction=None)
    variables = model.trainable_variables

    def step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            per_sample = losses.supervised_loss(region_loss, targets, outputs, output_weights)
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch_size)
            scaled = optimizer.scale_loss(loss)
        scale = loss_scale(optimizer)
        grads, norm = global_gradients(tape.gradient(scaled, variables), scale, clipnorm)
        share = scale / tf.distribute.get_replica_context().num_replicas_in_sync
        optimizer.apply([g * tf.cast(share, g.dtype) for g in grads], variables)
        return loss, norm

    return step


def make_distributed_step(strategy, replica_step, jit_compile=False):
    """tf.function(iterator) -> (global mean loss, gradient norm): one step on every replica.

    With `jit_compile`, the replica step is compiled with XLA.
    """
    replica_fn = tf.function(replica_step, jit_compile=True) if jit_compile else replica_step

    @tf.function
    def train_step(iterator):
        loss, norm = strategy.run(replica_fn, args=next(iterator))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.MEAN, norm, axis=None))

    return train_step
