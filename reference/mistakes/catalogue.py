"""Each entry: the kernel it replaces, what the student did (in words they recognise), and the variant.

Variants reuse the correct reference functions with the mistaken change made
explicit, so each reads as "the right computation, except ...".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from reference import optim, style
from reference.layers import conv, pool

# kernels that exist as a raw and a speedup version in reference.aics.layers_2
TWO_PATHS = {"conv_forward", "conv_backward", "pool_forward", "pool_backward"}


@dataclass(frozen=True)
class Mistake:
    id: str
    kernel: str                   # the reference.aics kernel it replaces (see the package docstring)
    summary: str                  # what the student did, second person, plain words
    variant: Callable | None = None
    paths: tuple[str, ...] = ("raw", "speedup")   # for conv/pool kernels: which implementations carry it
    patch: Callable | None = None  # for mistakes that are not a kernel: patch(modules) -> undo()


# --- convolution --------------------------------------------------------------------------

def _conv(x, weight_aics, bias, padding, stride):
    return conv.conv2d_forward(x, conv.aics_to_oihw(weight_aics), bias, stride=stride, padding=padding)


def _conv_backward(dout, x, weight_aics, padding, stride):
    dx, d_weight, d_bias = conv.conv2d_backward(dout, x, conv.aics_to_oihw(weight_aics), stride=stride, padding=padding)
    return dx, conv.oihw_to_aics(d_weight), d_bias


def conv_without_bias(x, weight, bias, padding, stride):
    return _conv(x, weight, None, padding, stride)


def conv_flipped_kernel(x, weight, bias, padding, stride):
    return _conv(x, weight[:, ::-1, ::-1, :], bias, padding, stride)


def conv_kernel_rows_and_columns_swapped(x, weight, bias, padding, stride):
    return _conv(x, weight.transpose(0, 2, 1, 3), bias, padding, stride)


def conv_channels_swapped(x, weight, bias, padding, stride):
    """weight read as [Cout, K, K, Cin]: runs only when Cin == Cout."""
    return _conv(x, weight.transpose(3, 1, 2, 0), bias, padding, stride)


def conv_padding_one_side(x, weight, bias, padding, stride):
    """2p zeros before (top/left), none after: the output keeps its size but is shifted."""
    return conv.conv2d_forward(x, conv.aics_to_oihw(weight), bias, stride=stride,
                               padding=(2 * padding, 0, 2 * padding, 0))


def conv_padding_after_only(x, weight, bias, padding, stride):
    return conv.conv2d_forward(x, conv.aics_to_oihw(weight), bias, stride=stride,
                               padding=(0, 2 * padding, 0, 2 * padding))


def conv_padding_ignored(x, weight, bias, padding, stride):
    return _conv(x, weight, bias, 0, stride)


def conv_stride_ignored(x, weight, bias, padding, stride):
    return _conv(x, weight, bias, padding, 1)


def conv_stride_is_kernel(x, weight, bias, padding, stride):
    return _conv(x, weight, bias, padding, weight.shape[1])


def conv_backward_flipped_kernel(dout, x, weight, padding, stride):
    return _conv_backward(dout, x, weight[:, ::-1, ::-1, :], padding, stride)


def conv_backward_bias_not_summed_over_batch(dout, x, weight, padding, stride):
    dx, d_weight, _ = _conv_backward(dout, x, weight, padding, stride)
    return dx, d_weight, dout[0].sum(axis=(1, 2))


def conv_backward_no_crop(dout, x, weight, padding, stride):
    """bottom_diff returned for the padded input (not cropped back to H x W)."""
    height, width = x.shape[2:]
    dx, d_weight, d_bias = _conv_backward(dout, x, weight, padding, stride)
    padded = np.zeros(dx.shape[:2] + (height + 2 * padding, width + 2 * padding), dx.dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = dx
    return padded, d_weight, d_bias


def conv_backward_stride_ignored(dout, x, weight, padding, stride):
    """hs = idxh instead of idxh * stride: top_diff[n, c, i, j] is sent to the window at (i, j), as if the
    stride were 1. The same as the stride-1 backward of a top_diff that is zero beyond the strided output."""
    batch, channels_out, out_h, out_w = dout.shape
    kernel = weight.shape[1]
    dense = np.zeros((batch, channels_out, x.shape[2] + 2 * padding - kernel + 1, x.shape[3] + 2 * padding - kernel + 1),
                     dtype=dout.dtype)
    dense[:, :, :out_h, :out_w] = dout
    return _conv_backward(dense, x, weight, padding, 1)


def conv_backward_weight_grad_transposed(dout, x, weight, padding, stride):
    dx, d_weight, d_bias = _conv_backward(dout, x, weight, padding, stride)
    return dx, d_weight[:, ::-1, ::-1, :], d_bias


# --- max pooling --------------------------------------------------------------------------

def pool_average(x, kernel, stride):
    return pool.avgpool2d_forward(x, kernel, stride)


def pool_stride_is_one(x, kernel, stride):
    return pool.maxpool2d_forward(x, kernel, 1)


def pool_backward_average(dout, x, kernel, stride):
    """The gradient spread evenly over the window, as average pooling would."""
    return pool.avgpool2d_backward(dout, x, kernel, stride)


def pool_backward_to_every_window_cell(dout, x, kernel, stride):
    return pool.avgpool2d_backward(dout, x, kernel, stride) * (kernel * kernel)


def pool_backward_argmax_transposed(dout, x, kernel, stride):
    """The window's argmax unravelled as (column, row): the gradient lands on the wrong cell."""
    batch, channels, out_h, out_w = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                    col, row = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + row, j * stride + col] += dout[n, c, i, j]
    return dx


def pool_backward_overwrites(dout, x, kernel, stride):
    """`=` instead of `+=`: with overlapping windows a cell that is the maximum of two windows keeps one gradient."""
    batch, channels, out_h, out_w = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                    row, col = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + row, j * stride + col] = dout[n, c, i, j]
    return dx


# --- fully connected, ReLU, softmax --------------------------------------------------------

def fc_without_bias(x, weight, bias):
    return x @ weight


def fc_backward_bias_not_summed(dout, x, weight, bias):
    return dout @ weight.T, x.T @ dout, dout[:1]


def fc_backward_bias_averaged(dout, x, weight, bias):
    return dout @ weight.T, x.T @ dout, dout.mean(axis=0, keepdims=True)


def fc_backward_weight_transposed_order(dout, x, weight, bias):
    """d_weight = top_diff.T @ input: shape [out, in] instead of [in, out]."""
    return dout @ weight.T, dout.T @ x, dout.sum(axis=0, keepdims=True)


def relu_in_place(x):
    x[x < 0] = 0
    return x


def relu_backward_passthrough(dout, x):
    return dout.copy()


def relu_backward_inverted(dout, x):
    return dout * (x < 0)


def softmax_without_max_shift(logits):
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def softmax_over_batch_axis(logits):
    shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def cross_entropy_not_averaged(prob, labels):
    return -np.sum(np.log(prob[np.arange(len(labels)), labels]))


def softmax_backward_not_averaged(prob, labels):
    onehot = np.zeros_like(prob)
    onehot[np.arange(len(labels)), labels] = 1.0
    return prob - onehot


# --- flatten --------------------------------------------------------------------------------

def flatten_without_transpose(x):
    return x.reshape(x.shape[0], -1)


def flatten_backward_without_transpose(dout, input_shape):
    return dout.reshape(input_shape)


# --- content and style losses ---------------------------------------------------------------

def content_loss_without_half(x, target):
    return 2.0 * style.content_loss_forward(x, target)


def content_loss_mean_only_over_channels(x, target):
    n, c, h, w = x.shape
    return style.content_loss_forward(x, target) * (h * w)


def content_loss_backward_without_normalisation(x, target):
    return x - target


def style_loss_without_normalisation(x, style_features):
    n, c, h, w = x.shape
    return style.style_loss_forward(x, style_features) * (4 * n * c * c * h * h * w * w)


def style_loss_backward_uses_style_features(x, style_features):
    """dL/dX computed as (G - A) @ Y, with the style features Y instead of the input's X (the course solution's bug)."""
    n, c, h, w = x.shape
    inputs, styles = x.reshape(n, c, h * w), style_features.reshape(style_features.shape[0], c, h * w)
    gram_input = inputs @ inputs.transpose(0, 2, 1)
    gram_style = styles[0] @ styles[0].T
    return ((gram_input - gram_style) @ styles[0] / (n * c * c * h * h * w * w)).reshape(x.shape)


def style_loss_backward_wrong_sign(x, style_features):
    return -style.style_loss_backward(x, style_features)


def style_loss_forward_wrong_sign(x, style_features):
    return -style.style_loss_forward(x, style_features)


def style_loss_normalised_by_height(x, style_features):
    """M = H (the height) where formula 3.13 has M = H * W: the divisor is (C H)^2, not (C H W)^2."""
    return style.style_loss_forward(x, style_features) * x.shape[3] ** 2


def style_loss_backward_normalised_by_height(x, style_features):
    return style.style_loss_backward(x, style_features) * x.shape[3] ** 2


def _style_normaliser(x):
    n, c, h, w = x.shape
    return n * c * c * h * h * w * w


def _gram_difference_unfilled(x, style_features):
    """G - A with the input's Gram matrix G left at the zeros it was allocated with: [N, C, C]."""
    n, c = x.shape[:2]
    return np.zeros((n, c, c)) - style.gram(style_features[:1])


def style_loss_gram_never_filled(x, style_features):
    return float(np.sum(np.square(_gram_difference_unfilled(x, style_features))) / (4 * _style_normaliser(x)))


def style_loss_backward_gram_never_filled(x, style_features):
    n, c = x.shape[:2]
    difference = _gram_difference_unfilled(x, style_features)
    return (difference.transpose(0, 2, 1) @ x.reshape(n, c, -1)).reshape(x.shape) / _style_normaliser(x)


# --- Adam ---------------------------------------------------------------------------------

def _adam_moments(param, grad, state, count_step: bool = True) -> dict:
    """The optimizer's state after updating the moments m and v (beta1 0.9, beta2 0.999), and t unless told not to."""
    state = dict(state or {"m": np.zeros_like(param), "v": np.zeros_like(param), "t": 0})
    state["t"] += 1 if count_step else 0
    state["m"] = 0.9 * state["m"] + 0.1 * grad
    state["v"] = 0.999 * state["v"] + 0.001 * grad * grad
    return state


def adam_without_bias_correction(param, grad, state, lr):
    state = _adam_moments(param, grad, state)
    return param - lr * state["m"] / (np.sqrt(state["v"]) + 1e-8), state


def adam_step_counted_after_use(param, grad, state, lr):
    """t incremented after the bias correction: the first step divides by 1 - beta**0 = 0."""
    state = _adam_moments(param, grad, state, count_step=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat = state["m"] / (1 - 0.9 ** state["t"])
        v_hat = state["v"] / (1 - 0.999 ** state["t"])
        updated = param - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    state["t"] += 1
    return updated, state


def adam_eps_inside_sqrt(param, grad, state, lr):
    """m_hat / sqrt(v_hat + eps) where formula 3.17 has m_hat / (sqrt(v_hat) + eps)."""
    state = _adam_moments(param, grad, state)
    m_hat, v_hat = state["m"] / (1 - 0.9 ** state["t"]), state["v"] / (1 - 0.999 ** state["t"])
    return param - lr * m_hat / np.sqrt(v_hat + 1e-8), state


def adam_gradient_ascent(param, grad, state, lr):
    updated, state = optim.adam(param, grad, state, learning_rate=lr)
    return 2 * param - updated, state


# --- mistakes that are not a kernel ---------------------------------------------------------

def _speedup_backward_without_weight_grad(modules):
    """backward_speedup returns bottom_diff but never sets d_weight / d_bias (exp 3-3's driver compares
    bottom_diff only, so it would not notice)."""
    layer_class = modules["layers_2"].ConvolutionalLayer
    original = layer_class.backward_speedup

    def backward_speedup(self, top_diff):
        bottom_diff, _, _ = modules["layers_2"].conv_backward_speedup(top_diff, self.input, self.weight,
                                                                      self.padding, self.stride)
        return bottom_diff

    layer_class.backward_speedup = backward_speedup
    return lambda: setattr(layer_class, "backward_speedup", original)


MISTAKES: tuple[Mistake, ...] = (
    Mistake("conv.bias_omitted", "conv_forward", "you left out the bias", conv_without_bias),
    Mistake("conv.flipped_kernel", "conv_forward",
            "you flipped the kernel: your output matches the correct convolution with the kernel rotated by "
            "180 degrees (a true convolution instead of the cross-correlation the lab asks for)", conv_flipped_kernel),
    Mistake("conv.kernel_transposed", "conv_forward",
            "you swapped the kernel's rows and columns (weight[:, i, j] read as weight[:, j, i])",
            conv_kernel_rows_and_columns_swapped),
    Mistake("conv.weight_layout", "conv_forward",
            "you read the weight as [Cout, K, K, Cin]; the course's layout is [Cin, K, K, Cout]", conv_channels_swapped),
    Mistake("conv.padding_one_side", "conv_forward",
            "you padded only the top and left (by 2*padding) instead of padding each side", conv_padding_one_side),
    Mistake("conv.padding_after_only", "conv_forward",
            "you padded only the bottom and right (by 2*padding) instead of padding each side", conv_padding_after_only),
    Mistake("conv.padding_ignored", "conv_forward", "you ignored the padding", conv_padding_ignored),
    Mistake("conv.stride_ignored", "conv_forward", "you ignored the stride (used 1)", conv_stride_ignored),
    Mistake("conv.stride_from_kernel", "conv_forward", "you used the kernel size as the stride", conv_stride_is_kernel),
    Mistake("conv.backward_flipped_kernel", "conv_backward",
            "your backward uses the kernel rotated by 180 degrees", conv_backward_flipped_kernel),
    Mistake("conv.backward_bias_one_sample", "conv_backward",
            "your d_bias sums the gradient of the first sample only, not over the batch",
            conv_backward_bias_not_summed_over_batch),
    Mistake("conv.backward_not_cropped", "conv_backward",
            "your bottom_diff is the gradient of the padded input: crop the padding off",
            conv_backward_no_crop),
    Mistake("conv.backward_stride_ignored", "conv_backward",
            "your backward ignores the stride: the window of top_diff[n, c, i, j] starts at row i*stride, column "
            "j*stride of the padded input (as in the forward), yours starts at (i, j) (hs = idxh instead of "
            "idxh * stride?), so bottom_diff and d_weight are wrong whenever the stride is above 1",
            conv_backward_stride_ignored),
    Mistake("conv.backward_weight_flipped", "conv_backward",
            "your d_weight is rotated by 180 degrees", conv_backward_weight_grad_transposed),
    Mistake("conv.speedup_backward_no_weight_grad", "conv_backward",
            "backward_speedup never sets d_weight and d_bias", patch=_speedup_backward_without_weight_grad,
            paths=("speedup",)),
    Mistake("pool.average", "pool_forward", "you averaged the window instead of taking its maximum", pool_average),
    Mistake("pool.stride_one", "pool_forward", "you slid the window by 1 instead of the stride", pool_stride_is_one),
    Mistake("pool.backward_average", "pool_backward",
            "your max-pool backward spreads the gradient evenly over the window, like average pooling; "
            "it must go only to the window's maximum", pool_backward_average),
    Mistake("pool.backward_whole_window", "pool_backward",
            "your max-pool backward copies the gradient to every cell of the window", pool_backward_to_every_window_cell),
    Mistake("pool.backward_argmax_transposed", "pool_backward",
            "your max-pool backward sends the gradient to the wrong cell: the argmax was unravelled as (column, row)",
            pool_backward_argmax_transposed),
    Mistake("pool.backward_overwrites", "pool_backward",
            "with overlapping windows (stride < kernel) a cell can be the maximum of two windows: its gradients "
            "must add up (+=), yours overwrite each other (=)", pool_backward_overwrites),
    Mistake("fc.bias_omitted", "fc_forward", "you left out the bias", fc_without_bias),
    Mistake("fc.backward_bias_first_sample", "fc_backward",
            "your d_bias is the first sample's gradient; sum top_diff over the batch", fc_backward_bias_not_summed),
    Mistake("fc.backward_bias_averaged", "fc_backward",
            "your d_bias averages top_diff over the batch; the course sums it (the 1/N is already in the loss "
            "gradient)", fc_backward_bias_averaged),
    Mistake("fc.backward_weight_transposed", "fc_backward",
            "your d_weight is top_diff.T @ input ([out, in]); it must be input.T @ top_diff ([in, out])",
            fc_backward_weight_transposed_order),
    Mistake("relu.in_place", "relu_forward",
            "your ReLU forward overwrites its input array (input[input < 0] = 0) instead of returning a new array",
            relu_in_place),
    Mistake("relu.backward_passthrough", "relu_backward",
            "your ReLU backward passes top_diff through unchanged; it must be zero where the input was negative",
            relu_backward_passthrough),
    Mistake("relu.backward_inverted", "relu_backward",
            "your ReLU backward keeps the gradient where the input was negative instead of positive",
            relu_backward_inverted),
    Mistake("softmax.no_max_shift", "softmax_forward",
            "your softmax does not subtract the row maximum before exp, so large logits overflow to inf/NaN",
            softmax_without_max_shift),
    Mistake("softmax.wrong_axis", "softmax_forward", "your softmax normalises over the batch axis (axis 0) "
            "instead of over the classes (axis 1)", softmax_over_batch_axis),
    Mistake("softmax.loss_not_averaged", "cross_entropy",
            "your loss is summed over the batch; the course averages it (divide by the batch size)",
            cross_entropy_not_averaged),
    Mistake("softmax.backward_not_averaged", "softmax_backward",
            "your softmax backward is prob - onehot; divide by the batch size", softmax_backward_not_averaged),
    Mistake("flatten.no_transpose", "flatten_forward",
            "you flattened NCHW directly; the course transposes to NHWC first, because fc6's weight rows are in "
            "(H, W, C) order", flatten_without_transpose),
    Mistake("flatten.backward_no_transpose", "flatten_backward",
            "your flatten backward reshapes without undoing the NHWC transpose", flatten_backward_without_transpose),
    Mistake("content_loss.no_half", "content_loss_forward",
            "your content loss lacks the 1/2 of formula 3.10 (it is twice the expected value)", content_loss_without_half),
    Mistake("content_loss.wrong_normalisation", "content_loss_forward",
            "your content loss divides by 2NC instead of 2NCHW", content_loss_mean_only_over_channels),
    Mistake("content_loss.backward_unnormalised", "content_loss_backward",
            "your content loss gradient is X - Y; formula 3.11 divides it by NCHW",
            content_loss_backward_without_normalisation),
    Mistake("style_loss.no_normalisation", "style_loss_forward",
            "your style loss lacks the 1/(4 N C^2 H^2 W^2) of formula 3.13", style_loss_without_normalisation),
    Mistake("style_loss.forward_sign", "style_loss_forward",
            "your style loss is negative: it is a sum of squares, (G - A)^2, divided by a positive number "
            "(formula 3.13); check the sign", style_loss_forward_wrong_sign),
    Mistake("style_loss.normalised_by_height", "style_loss_forward",
            "your style loss divides by (C*H)^2 instead of (C*H*W)^2: in formula 3.13 M is H*W, the number of "
            "positions in a feature map, and you used the height alone (your loss is W^2 times too large)",
            style_loss_normalised_by_height),
    Mistake("style_loss.gram_never_filled", "style_loss_forward",
            "your style loss is computed with the input's Gram matrix still all zeros: the loop that should fill "
            "self.gram_input[idxn] never writes into it (an assignment to a local name instead?)",
            style_loss_gram_never_filled),
    Mistake("style_loss.backward_normalised_by_height", "style_loss_backward",
            "your style loss gradient divides by N*(C*H)^2 instead of N*(C*H*W)^2: in formula 3.15 M is H*W, "
            "and you used the height alone (your gradient is W^2 times too large)",
            style_loss_backward_normalised_by_height),
    Mistake("style_loss.backward_gram_never_filled", "style_loss_backward",
            "your style loss gradient uses the input's Gram matrix still all zeros: the forward's loop that should "
            "fill self.gram_input[idxn] never writes into it (an assignment to a local name instead?)",
            style_loss_backward_gram_never_filled),
    Mistake("style_loss.backward_uses_style", "style_loss_backward",
            "your style loss backward multiplies (G - A) by the style image's features; formula 3.15 uses the "
            "input's features X", style_loss_backward_uses_style_features),
    Mistake("style_loss.backward_sign", "style_loss_backward",
            "your style loss gradient has the wrong sign (A - G instead of G - A)", style_loss_backward_wrong_sign),
    Mistake("adam.no_bias_correction", "adam_update",
            "your Adam skips the bias correction (m / (1 - beta1^t), v / (1 - beta2^t))", adam_without_bias_correction),
    Mistake("adam.step_after_use", "adam_update",
            "your Adam increments the step after using it: the first bias correction divides by zero",
            adam_step_counted_after_use),
    Mistake("adam.eps_inside_sqrt", "adam_update",
            "your Adam divides by sqrt(v_hat + eps); formula 3.17 divides by sqrt(v_hat) + eps (eps outside the "
            "square root), which differs wherever the gradients are small", adam_eps_inside_sqrt),
    Mistake("adam.ascent", "adam_update", "your Adam adds the update instead of subtracting it", adam_gradient_ascent),
)


def by_kernel(kernel: str) -> list[Mistake]:
    return [mistake for mistake in MISTAKES if mistake.kernel == kernel and mistake.variant is not None]


# --- correct variants every spec must accept ------------------------------------------------

def _float32(function):
    """The kernel computing in float32, returning float32 scalars as numpy does for float32 sums."""
    def in_float32(*args):
        converted = [arg.astype(np.float32) if isinstance(arg, np.ndarray) and arg.dtype.kind == "f" else arg
                     for arg in args]
        result = function(*converted)
        return np.float32(result) if isinstance(result, float) else result
    return in_float32


def relu_backward_geq(dout, x):
    """The gradient taken as 1 at exactly 0 (>=): a valid subgradient."""
    return dout * (x >= 0)


def pool_backward_last_maximum(dout, x, kernel, stride):
    """Ties broken towards the last maximum in the window: as valid as the first."""
    batch, channels, out_h, out_w = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                    flat = window.size - 1 - np.argmax(window.ravel()[::-1])
                    row, col = np.unravel_index(flat, window.shape)
                    dx[n, c, i * stride + row, j * stride + col] += dout[n, c, i, j]
    return dx


def conv_forward_other_loop_order(x, weight, bias, padding, stride):
    """Loops over the kernel offsets, accumulating shifted slices: another order of the same sum."""
    batch, _, height, width = x.shape
    kernel, channels_out = weight.shape[1], weight.shape[3]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h, out_w = (height + 2 * padding - kernel) // stride + 1, (width + 2 * padding - kernel) // stride + 1
    out = np.zeros((batch, channels_out, out_h, out_w), dtype=np.result_type(x, weight))
    for row in range(kernel):
        for col in range(kernel):
            patch = padded[:, :, row:row + stride * (out_h - 1) + 1:stride, col:col + stride * (out_w - 1) + 1:stride]
            out += np.einsum("nchw,co->nohw", patch, weight[:, row, col, :])
    return out + bias.reshape(1, -1, 1, 1)


@dataclass(frozen=True)
class CorrectVariant:
    id: str
    kernels: dict[str, Callable]      # kernel name -> replacement (applied to every path)
    description: str


def _all_kernels_in_float32() -> dict[str, Callable]:
    import reference.aics.layers_1 as layers_1
    import reference.aics.layers_2 as layers_2
    import reference.aics.layers_3 as layers_3
    names = {
        layers_1: ("fc_forward", "fc_backward", "relu_forward", "relu_backward", "softmax_forward"),
        layers_2: ("conv_forward_raw", "conv_forward_speedup", "conv_backward_raw", "conv_backward_speedup",
                   "pool_forward_raw", "pool_forward_speedup", "pool_backward_raw", "pool_backward_speedup"),
        layers_3: ("content_loss_forward", "content_loss_backward", "style_loss_forward", "style_loss_backward"),
    }
    return {f"{module.__name__.rsplit('.', 1)[1]}.{name}": _float32(getattr(module, name))
            for module, functions in names.items() for name in functions}


def correct_variants() -> tuple[CorrectVariant, ...]:
    return (
        CorrectVariant("float32", _all_kernels_in_float32(), "every layer computes in float32"),
        CorrectVariant("relu_backward_geq", {"layers_1.relu_backward": relu_backward_geq},
                       "ReLU's gradient taken as 1 at exactly 0"),
        CorrectVariant("pool_last_maximum", {"layers_2.pool_backward_raw": pool_backward_last_maximum,
                                             "layers_2.pool_backward_speedup": pool_backward_last_maximum},
                       "max-pool ties routed to the last maximum"),
        CorrectVariant("conv_other_loop_order", {"layers_2.conv_forward_raw": conv_forward_other_loop_order},
                       "the convolution summed over kernel offsets first"),
    )



