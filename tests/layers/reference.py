"""NumPy references for the layers (float64), written from the definitions."""

import numpy as np


def same_padding(length, kernel_size, stride):
    """TensorFlow "SAME" (before, after) padding of one axis."""
    out = -(-length // stride)
    total = max((out - 1) * stride + kernel_size - length, 0)
    return total // 2, total - total // 2


def depthwise_conv3d(x, kernel, bias, stride, padding):
    """x (N, D, H, W, C), kernel (k, k, k, C, 1), bias (C,) or None -> (N, D', H', W', C)."""
    k = kernel.shape[0]
    if padding == "same":
        pads = [same_padding(n, k, stride) for n in x.shape[1:4]]
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    out_shape = [(n - k) // stride + 1 for n in x.shape[1:4]]
    out = np.zeros((x.shape[0], *out_shape, x.shape[-1]))
    for i in range(k):
        for j in range(k):
            for m in range(k):
                window = x[
                    :,
                    i : i + (out_shape[0] - 1) * stride + 1 : stride,
                    j : j + (out_shape[1] - 1) * stride + 1 : stride,
                    m : m + (out_shape[2] - 1) * stride + 1 : stride,
                ]
                out += window * kernel[i, j, m, :, 0]
    return out if bias is None else out + bias


def group_norm(x, groups, gamma, beta, epsilon):
    """GroupNorm over (spatial, channels-in-group) per sample; x (N, D, H, W, C)."""
    n, c = x.shape[0], x.shape[-1]
    grouped = x.reshape(n, -1, groups, c // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    var = grouped.var(axis=(1, 3), keepdims=True)
    normed = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
    return normed * gamma + beta


def swish(x):
    return x / (1.0 + np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
