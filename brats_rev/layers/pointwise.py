"""1x1x1 convolution over channels-last volumes; in 16-bit, computed as a 1x1 2D convolution.

A `keras.layers.Dense` on a (B, D, H, W, C) volume is a matrix product over all voxels. On a
CPU, TensorFlow's float16 and bfloat16 matrix products convert both operands and the result
to float32 temporaries (`BatchMatMul`'s CPU kernel): a 64-channel float16 product over a whole
BraTS volume allocates 2.4 GB of float32 scratch next to its 1.2 GB output. A 1x1 2D
convolution over the depth planes computes the same values with scratch bounded by the
convolution's working-set limit (effect on the U-Net: docs/BENCHMARKS.md, "U-Net: one
training step on the whole volume"). In float32 the matrix product needs no scratch and is
kept, so float32 results are those of `keras.layers.Dense` bit for bit.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="brats_rev")
class Pointwise(keras.layers.Dense):
    """`keras.layers.Dense` (same arguments and weights) that maps inputs of rank 4 or more
    through a 1x1 `tf.nn.conv2d` over the last three axes when it computes in float16 or
    bfloat16; other ranks and dtypes use Dense itself.

    Input shape: (..., H, W, C) with C known when built. Output shape: (..., H, W, units).
    """

    def call(self, inputs):
        if len(inputs.shape) < 4 or self.compute_dtype not in ("float16", "bfloat16"):
            return super().call(inputs)
        shape = tf.shape(inputs)
        planes = tf.reshape(inputs, tf.concat([[-1], shape[-3:]], axis=0))
        kernel = ops.convert_to_tensor(self.kernel)
        outputs = tf.nn.conv2d(planes, kernel[None, None], strides=1, padding="VALID")
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, ops.convert_to_tensor(self.bias))
        outputs = tf.reshape(outputs, tf.concat([shape[:-1], [self.units]], axis=0))
        return self.activation(outputs) if self.activation is not None else outputs
