"""The mistakes of the framework lab (the computation-graph notes), each a variant of a kernel of
reference.framework; kernels are named below ``reference.`` (``framework.layers.conv_forward``).

Two come from the notes' own listings: the average-pool backward whose inner loop starts at column 0
(``for(pj=0;pj<j+kernel_size;pj++)``) and the projection shortcut written ``sc_out=out=BatchNorm2d(sc_out)``,
which adds the shortcut to itself. ``correct_variants()`` are other correct ways (float32, loops, einsum)
every spec must accept.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from reference.framework import graph as _graph
from reference.framework import layers as _layers
from reference.framework import losses as _losses
from reference.framework import models as _models
from reference.layers import activations, conv, pool

from .catalogue import CorrectVariant, Mistake, _float32

# The kernels as they are before anything is patched (a variant must not call itself through the module).
layers = SimpleNamespace(**vars(_layers))
losses = SimpleNamespace(**vars(_losses))
models = SimpleNamespace(**vars(_models))
graph = SimpleNamespace(**vars(_graph))
LAYERS, LOSSES, MODELS, GRAPH = "framework.layers.", "framework.losses.", "framework.models.", "framework.graph."


# --- Linear, activations, losses --------------------------------------------------------------------------

def linear_weight_grad_transposed(dout, x, weight, bias):
    dx, _, dbias = layers.linear_backward(dout, x, weight, bias)
    return dx, dout.T @ x, dbias


def linear_bias_grad_averaged(dout, x, weight, bias):
    dx, dweight, _ = layers.linear_backward(dout, x, weight, bias)
    return dx, dweight, dout.mean(axis=0)


def sigmoid_backward_from_input(dout, x):
    """dout * x * (1 - x): the input used as if it were the sigmoid's output."""
    return dout * x * (1 - x)


def bce_batch_mean(prob, target):
    """Divided by the number of samples, not of elements."""
    return losses.bce_forward(prob, target) * prob.size / prob.shape[0]


def sce_summed(scores, labels):
    return losses.sce_forward(scores, labels) * scores.shape[0]


def sce_backward_not_averaged(scores, labels):
    return losses.sce_backward(scores, labels) * scores.shape[0]


# --- convolution and pooling ------------------------------------------------------------------------------

def same_padding_extra_before(kernel):
    """An even kernel padded k/2 before and k/2 - 1 after (the extra zero row and column on the wrong side)."""
    return kernel // 2, kernel - 1 - kernel // 2


def conv_output_one_window_short(x, weight, bias, stride, padding):
    """The output size taken as (H + 2p - K + 1) // stride: the last window is dropped when it would fit."""
    out = layers.conv_forward(x, weight, bias, stride, padding)
    top, bottom, left, right = padding
    rows, cols = (x.shape[2] + top + bottom - weight.shape[2] + 1) // stride, \
        (x.shape[3] + left + right - weight.shape[3] + 1) // stride
    return out[:, :, :rows, :cols]


def conv_backward_bias_first_sample(dout, x, weight, stride, padding):
    dx, dweight, _ = layers.conv_backward(dout, x, weight, stride, padding)
    return dx, dweight, dout[0].sum(axis=(1, 2))


def maxpool_backward_overwrites(dout, x, kernel, stride):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
        row, col = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * stride + row, j * stride + col] = dout[n, c, i, j]
    return dx


def avgpool_backward_from_column_zero(dout, x, kernel, stride):
    """The notes' listing: ``for(pj=0;pj<j+kernel_size;pj++)`` spreads each gradient from column 0."""
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n, c, i, j in np.ndindex(*dout.shape):
        dx[n, c, i * stride:i * stride + kernel, 0:j * stride + kernel] += dout[n, c, i, j] / (kernel * kernel)
    return dx


def avgpool_backward_not_divided(dout, x, kernel, stride):
    return layers.avgpool_backward(dout, x, kernel, stride) * (kernel * kernel)


# --- batch norm -------------------------------------------------------------------------------------------

def _running(x, running_mean, running_var, training, update):
    axes = (0,) + tuple(range(2, np.ndim(x)))
    if not training:
        return running_mean, running_var
    count = np.size(x) // np.shape(x)[1]
    return update(running_mean, running_var, np.mean(x, axis=axes), np.var(x, axis=axes), count)


def batchnorm_unbiased_running_var(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    out, _, _ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    return (out,) + _running(x, running_mean, running_var, training, lambda m0, v0, m, v, n: (
        momentum * m0 + (1 - momentum) * m, momentum * v0 + (1 - momentum) * v * n / (n - 1)))


def batchnorm_momentum_swapped(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    out, _, _ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    return (out,) + _running(x, running_mean, running_var, training, lambda m0, v0, m, v, n: (
        (1 - momentum) * m0 + momentum * m, (1 - momentum) * v0 + momentum * v))


def batchnorm2d_per_position(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """BatchNorm2d normalising each (c, h, w) over the batch only, as if every pixel were a feature."""
    if np.ndim(x) != 4 or not training:
        return layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
    out = gamma[:, None, None] * (x - mean) / np.sqrt(var + eps) + beta[:, None, None]
    return (out, momentum * running_mean + (1 - momentum) * mean.mean(axis=(0, 2, 3)),
            momentum * running_var + (1 - momentum) * var.mean(axis=(0, 2, 3)))


def batchnorm_backward_without_mean_terms(dout, x, gamma, running_mean, running_var, training, eps):
    """dx = dout * gamma / sqrt(var + eps): the batch statistics treated as constants."""
    _, dgamma, dbeta = layers.batchnorm_backward(dout, x, gamma, running_mean, running_var, training, eps)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return dout * gamma.reshape(shape) / np.sqrt(x.var(axis=axes).reshape(shape) + eps), dgamma, dbeta


# --- residual blocks and the graph ------------------------------------------------------------------------

def residual_relu_before_add(main, shortcut, projected):
    """relu(main) + shortcut: the ReLU applied to the main path before the addition, not after it."""
    return activations.relu_forward(main) + shortcut


def residual_notes_listing(main, shortcut, projected):
    """The notes' ``sc_out=out=BatchNorm2d(sc_out)``: with a projection the main path is overwritten and the
    shortcut is added to itself."""
    return activations.relu_forward(shortcut + shortcut if projected else main + shortcut)


def accumulate_overwrites(current, contribution):
    """grads[parent] = contribution: the last child to send a gradient wins."""
    return contribution


MISTAKES: tuple[Mistake, ...] = (
    Mistake("framework.linear_weight_grad_transposed", LAYERS + "linear_backward",
            "your grads['weight'] is dout.T @ x (out, in); the weight is (in, out), so it is x.T @ dout",
            linear_weight_grad_transposed),
    Mistake("framework.linear_bias_grad_averaged", LAYERS + "linear_backward",
            "your grads['bias'] averages dout over the batch; it is the sum (the loss already divides by N)",
            linear_bias_grad_averaged),
    Mistake("framework.sigmoid_backward_from_input", LAYERS + "sigmoid_backward",
            "your Sigmoid backward computes dout * x * (1 - x) with the INPUT x; the derivative is s * (1 - s) "
            "with the output s = sigmoid(x)", sigmoid_backward_from_input),
    Mistake("framework.bce_batch_mean", LOSSES + "bce_forward",
            "your BCE loss is divided by the number of samples; the notes divide by the number of elements "
            "(their 2 x 3 example by 6)", bce_batch_mean),
    Mistake("framework.sce_summed", LOSSES + "sce_forward",
            "your SCE loss is summed over the batch instead of averaged", sce_summed),
    Mistake("framework.sce_backward_not_averaged", LOSSES + "sce_backward",
            "your SCE gradient is softmax - onehot; divide it by the batch size N", sce_backward_not_averaged),
    Mistake("framework.conv_same_extra_before", LAYERS + "same_padding",
            "for an even kernel your 'same' padding puts the extra zero row and column before the image; the "
            "notes pad k/2 - 1 before and k/2 after", same_padding_extra_before),
    Mistake("framework.conv_output_one_window_short", LAYERS + "conv_forward",
            "your output size is (H + 2p - K + 1) // stride, which drops the last window; it is "
            "(H + 2p - K) // stride + 1", conv_output_one_window_short),
    Mistake("framework.conv_bias_grad_first_sample", LAYERS + "conv_backward",
            "your grads['bias'] sums the first sample's dout only, not the whole batch",
            conv_backward_bias_first_sample),
    Mistake("framework.maxpool_backward_overwrites", LAYERS + "maxpool_backward",
            "with overlapping windows a cell can be the maximum of two windows: its gradients must add up (+=), "
            "yours overwrite each other (=)", maxpool_backward_overwrites),
    Mistake("framework.avgpool_backward_from_column_zero", LAYERS + "avgpool_backward",
            "your average-pool backward spreads each gradient from column 0 to the window's end (the notes' "
            "listing has `for(pj=0; ...)`: it must start at the window's first column, pj = j)",
            avgpool_backward_from_column_zero),
    Mistake("framework.avgpool_backward_not_divided", LAYERS + "avgpool_backward",
            "your average-pool backward copies dout to every cell of the window; each cell gets dout / (k*k)",
            avgpool_backward_not_divided),
    Mistake("framework.batchnorm_unbiased_running_var", LAYERS + "batchnorm_forward",
            "your running_var is updated with the unbiased variance (divided by N - 1); the lab uses the biased "
            "batch variance, the one the normalisation uses", batchnorm_unbiased_running_var),
    Mistake("framework.batchnorm_momentum_swapped", LAYERS + "batchnorm_forward",
            "your running averages weight the new batch by momentum; the lab keeps momentum * running + "
            "(1 - momentum) * batch statistic", batchnorm_momentum_swapped),
    Mistake("framework.batchnorm2d_per_position", LAYERS + "batchnorm_forward",
            "your BatchNorm2d normalises every (channel, row, column) over the batch alone; a channel's "
            "statistics are over all its (n, h, w) values (the notes' Conv2d-BN: one BN node per kernel)",
            batchnorm2d_per_position),
    Mistake("framework.batchnorm_backward_no_mean_terms", LAYERS + "batchnorm_backward",
            "your batch-norm backward treats the batch mean and variance as constants (dx = dout * gamma / "
            "sqrt(var + eps)); they depend on x too", batchnorm_backward_without_mean_terms),
    Mistake("framework.residual_relu_before_add", MODELS + "residual_forward",
            "your block applies the last ReLU to the main path before adding the shortcut; the block's output "
            "is relu(main + shortcut)", residual_relu_before_add),
    Mistake("framework.residual_notes_listing", MODELS + "residual_forward",
            "with a projection your block adds the shortcut to itself (the notes' listing writes "
            "`sc_out=out=BatchNorm2d(sc_out)`, overwriting the main path); add the main path and the shortcut",
            residual_notes_listing),
    Mistake("framework.graph_overwrites", GRAPH + "accumulate",
            "your Graph.backward overwrites the gradient of a value several nodes use; it must add every "
            "node's contribution (grad[parent] += ...)", accumulate_overwrites),
)


# --- correct variants -------------------------------------------------------------------------------------


def conv_forward_einsum(x, weight, bias, stride, padding):
    """Sliding windows and one einsum; padding (top, bottom, left, right)."""
    top, bottom, left, right = padding
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, weight.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,fcij->nfhw", windows, weight)
    return out if bias is None else out + bias[None, :, None, None]


def sigmoid_backward_recomputed(dout, x):
    s = 1 / (1 + np.exp(-x))
    return dout * s * (1 - s)


def accumulate_into_list(current, contribution):
    """The contributions summed in the other order (contribution first): the same sum."""
    return contribution if current is None else contribution + current


def correct_variants() -> tuple[CorrectVariant, ...]:
    kernels = ("linear_forward", "linear_backward", "sigmoid_forward", "sigmoid_backward", "relu_forward",
               "relu_backward", "conv_forward", "conv_backward", "maxpool_forward", "maxpool_backward",
               "avgpool_forward", "avgpool_backward", "batchnorm_forward", "batchnorm_backward")
    float32 = {LAYERS + name: _float32(getattr(layers, name)) for name in kernels}
    float32.update({LOSSES + name: _float32(getattr(losses, name))
                    for name in ("bce_forward", "bce_backward", "sce_forward", "sce_backward")})
    loops = {
        LAYERS + "conv_backward": lambda dout, x, w, stride, padding: conv.conv2d_backward_loop(dout, x, w, stride,
                                                                                                padding),
        LAYERS + "maxpool_forward": pool.maxpool2d_forward_loop,
        LAYERS + "maxpool_backward": pool.maxpool2d_backward_loop,
        LAYERS + "avgpool_forward": pool.avgpool2d_forward_loop,
        LAYERS + "avgpool_backward": pool.avgpool2d_backward_loop,
        LAYERS + "sigmoid_forward": activations.sigmoid_forward_loop,
    }
    return (
        CorrectVariant("framework.float32", float32, "every layer and loss computes in float32"),
        CorrectVariant("framework.loops", loops, "convolution backward, pooling and sigmoid by plain loops"),
        CorrectVariant("framework.other_formulas", {LAYERS + "conv_forward": conv_forward_einsum,
                                                    LAYERS + "sigmoid_backward": sigmoid_backward_recomputed,
                                                    GRAPH + "accumulate": accumulate_into_list},
                       "convolution by einsum, the sigmoid's derivative recomputed from x, gradients summed in "
                       "the other order"),
    )
