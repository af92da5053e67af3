"""The mistakes CS231n assignment-2 students make, each a variant of a function of reference.cs231n.

A mistake's ``kernel`` is the dotted path of the function it replaces below
``reference.`` (``cs231n.layers.batchnorm_forward``); its variant has that
function's signature and, for a backward, reads the cache the reference's
forward built. The statement-driven checks (harness.adapters.function) run
their statements on reference.cs231n with a variant patched in to tell the
student which mistake their output matches; the spec mutation tests patch each
one in and require a failing check.

``CORRECT_VARIANTS`` are different but correct ways to write the same
functions (float32 arithmetic, ReLU's backward from the output, an einsum
convolution, batch norm's backward by the simplified formula, another way to
draw the dropout mask) that every spec must accept.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from reference.cs231n import layers as _layers
from reference.cs231n import optim as _optim
from reference.cs231n.classifiers import fc_net as _fc_net
from reference.layers import conv, losses, norm, pool

from .catalogue import CorrectVariant, Mistake, _float32

# The course's functions as they are before anything is patched: a variant replaces a function of these
# modules, so calling it through the module would call the variant itself.
course = SimpleNamespace(**vars(_layers))
course_optim = SimpleNamespace(**vars(_optim))
course_fc_net = SimpleNamespace(**vars(_fc_net))

LAYERS = "cs231n.layers."
OPTIM = "cs231n.optim."


# --- losses ---------------------------------------------------------------------------------------------

def softmax_loss_summed(x, y):
    loss, dx = course.softmax_loss(x, y)
    return loss * x.shape[0], dx * x.shape[0]


def softmax_loss_without_max_shift(x, y):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(x)
        prob = exp / exp.sum(axis=1, keepdims=True)
        batch = x.shape[0]
        loss = -np.sum(np.log(prob[np.arange(batch), y])) / batch
        dx = prob.copy()
        dx[np.arange(batch), y] -= 1
    return loss, dx / batch


def svm_loss_counting_correct_class(x, y):
    """margins[np.arange(N), y] = 0 left out: each sample's own class adds its margin of 1."""
    batch = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(batch), y][:, None] + 1.0)
    loss = margins.sum() / batch
    positive = (margins > 0).astype(x.dtype)
    dx = positive.copy()
    dx[np.arange(batch), y] -= positive.sum(axis=1)
    return loss, dx / batch


def svm_loss_gradient_not_averaged(x, y):
    loss, dx = losses.svm_loss(x, y)
    return loss, dx * x.shape[0]


# --- affine and ReLU --------------------------------------------------------------------------------------

def affine_backward_dx_flat(dout, cache):
    """dx returned as (N, D) rows, not reshaped back to x's shape."""
    x, w, b = cache
    dx, dw, db = course.affine_backward(dout, cache)
    return dx.reshape(x.shape[0], -1), dw, db


def affine_backward_db_first_sample(dout, cache):
    dx, dw, _ = course.affine_backward(dout, cache)
    return dx, dw, dout[0].copy()


def relu_backward_passthrough(dout, cache):
    return dout.copy()


# --- batch norm and layer norm -------------------------------------------------------------------------

def _batchnorm_with_running(x, gamma, beta, bn_param, update, forward=None):
    """The reference forward (batch norm, or ``forward``), with the running statistics computed by
    ``update(old_mean, old_var, mean, var, momentum, n)`` instead of the course's rule."""
    mode = bn_param["mode"]
    out, cache = (forward or course.batchnorm_forward)(x, gamma, beta, dict(bn_param))
    if mode == "train":
        _, eps, momentum, running_mean, running_var = course._bn_settings(x, bn_param)
        axes = (0,) + tuple(range(2, x.ndim))
        count = x.size // x.shape[1]
        bn_param["running_mean"], bn_param["running_var"] = update(
            running_mean, running_var, x.mean(axis=axes), x.var(axis=axes), momentum, count)
        cache["running_mean"], cache["running_var"] = bn_param["running_mean"], bn_param["running_var"]
    else:
        bn_param["running_mean"], bn_param["running_var"] = cache["running_mean"], cache["running_var"]
    return out, cache


def batchnorm_unbiased_running_var(x, gamma, beta, bn_param):
    return _batchnorm_with_running(x, gamma, beta, bn_param, lambda mean0, var0, mean, var, m, n: (
        m * mean0 + (1 - m) * mean, m * var0 + (1 - m) * var * n / (n - 1)))


def spatial_batchnorm_unbiased_running_var(x, gamma, beta, bn_param):
    return _batchnorm_with_running(x, gamma, beta, bn_param, lambda mean0, var0, mean, var, m, n: (
        m * mean0 + (1 - m) * mean, m * var0 + (1 - m) * var * n / (n - 1)), course.spatial_batchnorm_forward)


def batchnorm_momentum_swapped(x, gamma, beta, bn_param):
    return _batchnorm_with_running(x, gamma, beta, bn_param, lambda mean0, var0, mean, var, m, n: (
        (1 - m) * mean0 + m * mean, (1 - m) * var0 + m * var))


def batchnorm_running_std(x, gamma, beta, bn_param):
    """The running statistic tracks the standard deviation, not the variance."""
    return _batchnorm_with_running(x, gamma, beta, bn_param, lambda mean0, var0, mean, var, m, n: (
        m * mean0 + (1 - m) * mean, m * var0 + (1 - m) * np.sqrt(var + bn_param.get("eps", 1e-5))))


def batchnorm_test_uses_batch_statistics(x, gamma, beta, bn_param):
    if bn_param["mode"] != "test":
        return course.batchnorm_forward(x, gamma, beta, bn_param)
    out, cache = course.batchnorm_forward(x, gamma, beta, {**bn_param, "mode": "train"})
    return out, cache


def batchnorm_test_without_eps(x, gamma, beta, bn_param):
    """Test mode divides by sqrt(running_var), eps left out: off by about eps / (2 var), 1e-5 for var near 1,
    inside float32's tolerance; the public case with running variances near eps shows it at any precision."""
    if bn_param["mode"] != "test":
        return course.batchnorm_forward(x, gamma, beta, bn_param)
    # the reference refuses eps = 0; the smallest normal float adds nothing to a variance of 1e-6 or more
    return course.batchnorm_forward(x, gamma, beta, {**bn_param, "eps": np.finfo(np.float64).tiny})


def batchnorm_backward_without_mean_terms(dout, cache):
    """dx = dout * gamma / sqrt(var + eps): the mean and variance treated as constants."""
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    _, dgamma, dbeta = course.batchnorm_backward(dout, cache)
    return dout * gamma.reshape(shape) / np.sqrt(x.var(axis=axes).reshape(shape) + eps), dgamma, dbeta


def batchnorm_backward_dgamma_unsummed_mean(dout, cache):
    """dgamma averaged over the batch instead of summed."""
    dx, dgamma, dbeta = course.batchnorm_backward(dout, cache)
    return dx, dgamma / cache["x"].shape[0], dbeta


def layernorm_over_batch_axis(x, gamma, beta, ln_param):
    """Each feature normalised over the batch (batch norm's axis) instead of each sample over its features."""
    eps = ln_param.get("eps", 1e-5)
    out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
    return out, {"x": x, "gamma": gamma, "eps": eps}


def layernorm_backward_over_batch_axis(dout, cache):
    return norm.batchnorm_backward(dout, cache["x"], cache["gamma"], eps=cache["eps"])


def spatial_batchnorm_without_transpose(x, gamma, beta, bn_param):
    """NCHW reshaped to (N*H*W, C) directly, without moving C last: the statistics mix channels."""
    n, c, h, w = x.shape
    out, cache = course.batchnorm_forward(x.reshape(-1, c), gamma, beta, bn_param)
    return out.reshape(n, c, h, w), {"rows": cache, "shape": x.shape}


def spatial_groupnorm_interleaved_groups(x, gamma, beta, G, gn_param):
    """Groups taken as every G-th channel (x.reshape(N, C // G, G, H, W) normalised over axes 1, 3, 4)."""
    eps = gn_param.get("eps", 1e-5)
    n, c, h, w = x.shape
    grouped = x.reshape(n, c // G, G, h, w)
    xhat = (grouped - grouped.mean(axis=(1, 3, 4), keepdims=True)) / np.sqrt(grouped.var(axis=(1, 3, 4),
                                                                                     keepdims=True) + eps)
    out = np.reshape(gamma, (1, c, 1, 1)) * xhat.reshape(x.shape) + np.reshape(beta, (1, c, 1, 1))
    return out, {"x": x, "gamma": gamma, "G": G, "eps": eps}


def spatial_groupnorm_backward_gamma_flat(dout, cache):
    """dgamma and dbeta returned as (C,) vectors instead of gamma's (1, C, 1, 1)."""
    dx, dgamma, dbeta = course.spatial_groupnorm_backward(dout, cache)
    return dx, dgamma.reshape(-1), dbeta.reshape(-1)


# --- dropout ----------------------------------------------------------------------------------------------

def dropout_p_as_drop_probability(x, dropout_param):
    """p read as the probability of DROPPING a value (the 2016-2017 meaning): keep with 1 - p, scale 1 / (1 - p)."""
    return course.dropout_forward(x, {**dropout_param, "p": 1 - dropout_param["p"]})


def dropout_not_inverted(x, dropout_param):
    """Plain dropout: the mask without the 1/p rescaling, and test mode scaled by p instead."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype)
        return x * mask, (dropout_param, mask)
    return x * p, (dropout_param, None)


def dropout_backward_without_scale(dout, cache):
    dropout_param, mask = cache
    return dout * (mask != 0) if dropout_param["mode"] == "train" else dout


def dropout_p_as_keep_probability(x, dropout_param):
    """In the 2016-2017 assignment p is the DROP probability; this keeps with probability p (the 2018 meaning)."""
    return course.dropout_forward(x, dropout_param)


# --- convolution and pooling ------------------------------------------------------------------------------

def conv_true_convolution(x, w, b, conv_param):
    """The kernel rotated by 180 degrees (a textbook convolution, not the cross-correlation of the course)."""
    out, _ = course.conv_forward_naive(x, w[:, :, ::-1, ::-1], b, conv_param)
    return out, (x, w, b, conv_param)


def conv_padding_ignored(x, w, b, conv_param):
    out, _ = course.conv_forward_naive(x, w, b, {**conv_param, "pad": 0})
    return out, (x, w, b, conv_param)


def conv_stride_ignored(x, w, b, conv_param):
    out, _ = course.conv_forward_naive(x, w, b, {**conv_param, "stride": 1})
    return out, (x, w, b, conv_param)


def conv_backward_db_first_sample(dout, cache):
    dx, dw, _ = course.conv_backward_naive(dout, cache)
    return dx, dw, dout[0].sum(axis=(1, 2))


def conv_backward_dx_not_cropped(dout, cache):
    """dx of the padded input returned (the padding not cropped off)."""
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    dx, dw, db = course.conv_backward_naive(dout, cache)
    padded = np.zeros(x.shape[:2] + (x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=dx.dtype)
    padded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] = dx
    return padded, dw, db


def max_pool_backward_to_whole_window(dout, cache):
    x, pool_param = cache
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    return pool.avgpool2d_backward(dout, x, kernel, pool_param["stride"]) * (kernel[0] * kernel[1])


def max_pool_backward_overwrites(dout, cache):
    """dx[window argmax] = dout instead of +=: a cell that is the maximum of two overlapping windows keeps one."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
        row, col = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * stride + row, j * stride + col] = dout[n, c, i, j]
    return dx


def max_pool_forward_average(x, pool_param):
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    return pool.avgpool2d_forward(x, kernel, pool_param["stride"]), (x, pool_param)


# --- optim --------------------------------------------------------------------------------------------

def adam_t_after_use(w, dw, config=None):
    """config['t'] incremented after the bias correction used it (the skeleton asks for before); starting
    from t = 0 the first correction divides by 1 - beta**0 = 0."""
    config = {} if config is None else config
    used = config.get("t", 0)
    next_w, config = course_optim.adam(w, dw, {**config, "t": max(used - 1, 0)})
    config["t"] = used + 1
    return (next_w * np.nan if used == 0 else next_w), config


def adam_without_bias_correction(w, dw, config=None):
    config = {} if config is None else config
    for key, default in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8), ("t", 0)):
        config.setdefault(key, default)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw * dw
    return w - config["learning_rate"] * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


def sgd_momentum_velocity_sign(w, dw, config=None):
    """v = mu * v + lr * dw; w - v: the other sign convention, applied to a velocity kept in the course's."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    velocity = config["momentum"] * config.get("velocity", np.zeros_like(w)) + config["learning_rate"] * dw
    config["velocity"] = velocity
    return w - velocity, config


def rmsprop_without_decay_weight(w, dw, config=None):
    """cache = decay * cache + dw**2: the (1 - decay) on the new term left out."""
    config = {} if config is None else config
    for key, default in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(key, default)
    config["cache"] = config["decay_rate"] * config.get("cache", np.zeros_like(w)) + dw * dw
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config


# --- classifiers ------------------------------------------------------------------------------------------

def l2_without_half(params, names, reg):
    loss, grads = course_fc_net.l2_regularization(params, names, reg)
    return 2 * loss, {name: 2 * grad for name, grad in grads.items()}


def l2_loss_only(params, names, reg):
    """The penalty added to the loss, its gradient never added to grads."""
    loss, grads = course_fc_net.l2_regularization(params, names, reg)
    return loss, {name: 0 * grad for name, grad in grads.items()}


MISTAKES: tuple[Mistake, ...] = (
    Mistake("cs231n.softmax_loss_summed", LAYERS + "softmax_loss",
            "your softmax loss is summed over the batch instead of averaged (divide the loss and dx by N)",
            softmax_loss_summed),
    Mistake("cs231n.softmax_no_max_shift", LAYERS + "softmax_loss",
            "your softmax_loss does not subtract each row's maximum score before exp, so large scores overflow",
            softmax_loss_without_max_shift),
    Mistake("cs231n.svm_counts_correct_class", LAYERS + "svm_loss",
            "your SVM loss counts the correct class too (its margin is always 1): set the margin of y[i] to 0",
            svm_loss_counting_correct_class),
    Mistake("cs231n.svm_dx_not_averaged", LAYERS + "svm_loss",
            "your SVM dx is not divided by N, though the loss is averaged", svm_loss_gradient_not_averaged),
    Mistake("cs231n.affine_dx_not_reshaped", LAYERS + "affine_backward",
            "your affine_backward returns dx as (N, D) rows; reshape it to x's shape (N, d_1, ..., d_k)",
            affine_backward_dx_flat),
    Mistake("cs231n.affine_db_first_sample", LAYERS + "affine_backward",
            "your db is the first sample's dout; sum dout over the batch", affine_backward_db_first_sample),
    Mistake("cs231n.relu_backward_passthrough", LAYERS + "relu_backward",
            "your relu_backward passes dout through unchanged; it must be 0 where x <= 0", relu_backward_passthrough),
    Mistake("cs231n.batchnorm_unbiased_running_var", LAYERS + "batchnorm_forward",
            "your running_var is updated with the unbiased variance (divided by N - 1); the course uses the "
            "biased batch variance (np.var, divided by N) for both the normalisation and the running average",
            batchnorm_unbiased_running_var),
    Mistake("cs231n.spatial_batchnorm_unbiased_running_var", LAYERS + "spatial_batchnorm_forward",
            "your running_var is updated with the unbiased variance (divided by N - 1); the course uses the "
            "biased batch variance (np.var, divided by N) for both the normalisation and the running average",
            spatial_batchnorm_unbiased_running_var),
    Mistake("cs231n.batchnorm_momentum_swapped", LAYERS + "batchnorm_forward",
            "your running averages weight the new batch by momentum and the old value by 1 - momentum; the course "
            "keeps momentum * running + (1 - momentum) * batch statistic", batchnorm_momentum_swapped),
    Mistake("cs231n.batchnorm_running_std", LAYERS + "batchnorm_forward",
            "your running_var averages the standard deviation sqrt(var + eps), not the variance",
            batchnorm_running_std),
    Mistake("cs231n.batchnorm_test_batch_stats", LAYERS + "batchnorm_forward",
            "in test mode your batchnorm normalises with the batch's own statistics; it must use running_mean "
            "and running_var", batchnorm_test_uses_batch_statistics),
    Mistake("cs231n.batchnorm_test_no_eps", LAYERS + "batchnorm_forward",
            "in test mode your batchnorm divides by sqrt(running_var) without eps; it must be "
            "sqrt(running_var + eps), as in training", batchnorm_test_without_eps),
    Mistake("cs231n.batchnorm_backward_no_mean_terms", LAYERS + "batchnorm_backward",
            "your batchnorm_backward treats the batch mean and variance as constants (dx = dout * gamma / "
            "sqrt(var + eps)); they depend on x too", batchnorm_backward_without_mean_terms),
    Mistake("cs231n.batchnorm_backward_alt_no_mean_terms", LAYERS + "batchnorm_backward_alt",
            "your batchnorm_backward_alt treats the batch mean and variance as constants (dx = dout * gamma / "
            "sqrt(var + eps)); they depend on x too", batchnorm_backward_without_mean_terms),
    Mistake("cs231n.batchnorm_dgamma_averaged", LAYERS + "batchnorm_backward",
            "your dgamma is averaged over the batch; sum dout * x_hat over it",
            batchnorm_backward_dgamma_unsummed_mean),
    Mistake("cs231n.layernorm_batch_axis", LAYERS + "layernorm_forward",
            "your layer norm normalises each feature over the batch (axis 0, as batch norm does); layer norm "
            "normalises each sample over its features (axis 1)", layernorm_over_batch_axis),
    Mistake("cs231n.layernorm_backward_batch_axis", LAYERS + "layernorm_backward",
            "your layernorm_backward is batch norm's (statistics over the batch axis); layer norm's statistics are "
            "per sample", layernorm_backward_over_batch_axis),
    Mistake("cs231n.spatial_batchnorm_no_transpose", LAYERS + "spatial_batchnorm_forward",
            "you reshaped NCHW to (N*H*W, C) without moving C last (x.transpose(0, 2, 3, 1)), so each 'feature' "
            "mixes channels and positions", spatial_batchnorm_without_transpose),
    Mistake("cs231n.groupnorm_interleaved", LAYERS + "spatial_groupnorm_forward",
            "your groups are every G-th channel; a group is C/G consecutive channels (x.reshape(N, G, C // G, H, W))",
            spatial_groupnorm_interleaved_groups),
    Mistake("cs231n.groupnorm_gamma_shape", LAYERS + "spatial_groupnorm_backward",
            "your dgamma and dbeta have shape (C,); they must have gamma's shape (1, C, 1, 1)",
            spatial_groupnorm_backward_gamma_flat),
    Mistake("cs231n.dropout_drop_probability", LAYERS + "dropout_forward",
            "you used p as the probability of dropping a value; since spring 2018 p is the probability of "
            "KEEPING it (mask = rand < p, scaled by 1 / p)", dropout_p_as_drop_probability),
    Mistake("cs231n_2017.dropout_keep_probability", "cs231n_2017.layers.dropout_forward",
            "you used p as the probability of keeping a value (its meaning from spring 2018 on); in this "
            "assignment p is the probability of DROPPING it (mask = rand >= p, scaled by 1 / (1 - p))",
            dropout_p_as_keep_probability),
    Mistake("cs231n.dropout_not_inverted", LAYERS + "dropout_forward",
            "your dropout is not inverted: scale the kept values by 1 / p at train time and return x unchanged "
            "at test time", dropout_not_inverted),
    Mistake("cs231n.dropout_backward_unscaled", LAYERS + "dropout_backward",
            "your dropout_backward passes dout where the value was kept but forgets the 1 / p scaling",
            dropout_backward_without_scale),
    Mistake("cs231n.conv_true_convolution", LAYERS + "conv_forward_naive",
            "you flipped the filter: your output is the true convolution (kernel rotated by 180 degrees); the "
            "course computes cross-correlation", conv_true_convolution),
    Mistake("cs231n.conv_padding_ignored", LAYERS + "conv_forward_naive", "your convolution ignores conv_param['pad']",
            conv_padding_ignored),
    Mistake("cs231n.conv_stride_ignored", LAYERS + "conv_forward_naive",
            "your convolution ignores conv_param['stride'] (uses 1)", conv_stride_ignored),
    Mistake("cs231n.conv_db_first_sample", LAYERS + "conv_backward_naive",
            "your db sums the first sample's dout only, not the whole batch", conv_backward_db_first_sample),
    Mistake("cs231n.conv_dx_not_cropped", LAYERS + "conv_backward_naive",
            "your dx is the gradient of the padded input: crop the padding off", conv_backward_dx_not_cropped),
    Mistake("cs231n.pool_average", LAYERS + "max_pool_forward_naive",
            "your pooling averages the window instead of taking its maximum", max_pool_forward_average),
    Mistake("cs231n.pool_backward_whole_window", LAYERS + "max_pool_backward_naive",
            "your max-pool backward copies dout to every cell of the window; only the maximum gets it",
            max_pool_backward_to_whole_window),
    Mistake("cs231n.pool_backward_overwrites", LAYERS + "max_pool_backward_naive",
            "with overlapping windows a cell can be the maximum of two windows: its gradients must add up (+=), "
            "yours overwrite each other (=)", max_pool_backward_overwrites),
    Mistake("cs231n.adam_t_after_use", OPTIM + "adam",
            "your adam increments config['t'] after using it; the skeleton says to modify t before using it "
            "(the first step's bias correction uses t = 1)", adam_t_after_use),
    Mistake("cs231n.adam_no_bias_correction", OPTIM + "adam",
            "your adam skips the bias correction m / (1 - beta1^t), v / (1 - beta2^t)", adam_without_bias_correction),
    Mistake("cs231n.momentum_velocity_sign", OPTIM + "sgd_momentum",
            "your velocity has the opposite sign of the course's (v = momentum * v - learning_rate * dw; "
            "next_w = w + v)", sgd_momentum_velocity_sign),
    Mistake("cs231n.rmsprop_no_decay_weight", OPTIM + "rmsprop",
            "your rmsprop cache adds dw**2 without the (1 - decay_rate) factor", rmsprop_without_decay_weight),
    Mistake("cs231n.l2_without_half", "cs231n.classifiers.fc_net.l2_regularization",
            "your L2 penalty is reg * sum(W**2); the course's is 0.5 * reg * sum(W**2), whose gradient is reg * W",
            l2_without_half),
    Mistake("cs231n.l2_gradient_missing", "cs231n.classifiers.fc_net.l2_regularization",
            "you added the L2 penalty to the loss but not its gradient reg * W to grads", l2_loss_only),
)


# --- correct variants -------------------------------------------------------------------------------------


def relu_forward_caching_output(x):
    out = np.maximum(0, x)
    return out, out


def relu_backward_from_output(dout, cache):
    """The cache is the forward's output: out > 0 exactly where x > 0."""
    return dout * (cache > 0)


def conv_forward_einsum(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    filters, _, height, width = w.shape
    windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None], (x, w, b, conv_param)


def conv_backward_loops(dout, cache):
    x, w, b, conv_param = cache
    return conv.conv2d_backward_loop(dout, x, w, stride=conv_param["stride"], padding=conv_param["pad"])


def batchnorm_backward_by_simplified_formula(dout, cache):
    """dx = gamma / (N sqrt(var + eps)) * (N dout - sum(dout) - xhat * sum(dout * xhat))."""
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    batch = x.shape[0]
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    dx = gamma / (batch * np.sqrt(x.var(axis=0) + eps)) * (batch * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def dropout_forward_binomial(x, dropout_param):
    """The mask drawn with np.random.binomial instead of rand < p: another mask, as valid."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode != "train":
        return x, (dropout_param, None)
    mask = np.random.binomial(1, p, size=x.shape) / p
    return x * mask, (dropout_param, mask)


def svm_loss_loops(x, y):
    return losses.svm_loss_loop(x, y)


def softmax_loss_log_sum_exp(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    batch = x.shape[0]
    dx = np.exp(log_prob)
    dx[np.arange(batch), y] -= 1
    return -log_prob[np.arange(batch), y].mean(), dx / batch


def _all_layers_float32() -> dict:
    names = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "svm_loss", "softmax_loss",
             "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
             "layernorm_backward", "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
             "max_pool_backward_naive", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
             "spatial_groupnorm_forward", "spatial_groupnorm_backward")
    found = {LAYERS + name: _float32(getattr(course, name)) for name in names}
    found.update({OPTIM + name: _float32(getattr(course_optim, name))
                  for name in ("sgd", "sgd_momentum", "rmsprop", "adam")})
    return found


def correct_variants() -> tuple[CorrectVariant, ...]:
    return (
        CorrectVariant("cs231n.float32", _all_layers_float32(), "every layer and update rule computes in float32"),
        CorrectVariant("cs231n.relu_from_output", {LAYERS + "relu_forward": relu_forward_caching_output,
                                                   LAYERS + "relu_backward": relu_backward_from_output},
                       "ReLU's backward masks with the forward's output instead of its input"),
        CorrectVariant("cs231n.conv_einsum", {LAYERS + "conv_forward_naive": conv_forward_einsum,
                                              LAYERS + "conv_backward_naive": conv_backward_loops},
                       "convolution by sliding windows and einsum, its backward by plain loops"),
        CorrectVariant("cs231n.batchnorm_simplified",
                       {LAYERS + "batchnorm_backward": batchnorm_backward_by_simplified_formula},
                       "batchnorm_backward by the simplified formula of batchnorm_backward_alt"),
        CorrectVariant("cs231n.other_formulas", {LAYERS + "dropout_forward": dropout_forward_binomial,
                                                 LAYERS + "svm_loss": svm_loss_loops,
                                                 LAYERS + "softmax_loss": softmax_loss_log_sum_exp},
                       "the dropout mask from np.random.binomial, the SVM loss by loops, softmax by log-sum-exp"),
    )
