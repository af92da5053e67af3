"""Batch normalisation ((N, D) and spatial NCHW) and layer normalisation, with CS231n semantics.

Batch norm, per feature j over the batch (framework notes 二.7), train mode::

    m_j   = 1/N sum_i x_ij                 var_j = 1/N sum_i (x_ij - m_j)^2     (biased)
    xhat  = (x_ij - m_j) / sqrt(var_j + eps)
    out   = gamma_j * xhat + beta_j
    running_mean <- momentum * running_mean + (1 - momentum) * m_j             (same for var_j)

Test mode normalises with the running statistics instead and leaves them as
they are. Defaults: momentum 0.9, eps 1e-5, running statistics start at 0
when not given (CS231n's ``bn_param.get(..., np.zeros(D))``).

PyTorch differs in two conventions: its ``momentum`` is the weight of the NEW
batch statistic (ours 0.9 is its 0.1), and its running_var is updated with the
UNBIASED batch variance (sum / (N - 1)) while the normalisation itself uses
the biased one, as here. The outputs, gradients and running_mean agree.

Spatial batch norm treats every (n, h, w) position of channel c as one sample
of feature c: the fast functions reduce over axes (0, 2, 3), the loop
functions reshape NCHW to rows ``[N*H*W, C]`` and run the (N, D) loops.

Layer norm normalises each sample over its D features (no running
statistics, the same in train and test); gamma and beta are per feature.

The functions are pure: a forward returns the new running statistics
(``BatchNormOutput``) and never writes into the caller's arrays. A backward
recomputes the statistics from x and returns ``(dx, dgamma, dbeta)``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError

MODES = ("train", "test")


class BatchNormOutput(NamedTuple):
    out: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray


# --- arguments ----------------------------------------------------------------------------------

def _vector(name, value, size) -> np.ndarray:
    array = _validate.float_array(name, value)
    if array.shape != (size,):
        raise LayerArgumentError(f"{name} must have shape ({size},) (one per feature), got {array.shape}")
    return array


def _running_statistic(name, value, size, dtype) -> np.ndarray:
    """The caller's running statistic, or zeros when there is none yet (CS231n's default)."""
    return np.zeros(size, dtype) if value is None else _vector(name, value, size)


def _batchnorm_arguments(x, gamma, beta, running_mean, running_var, mode, momentum, eps, spatial=False):
    """Validated (x, gamma, beta, running_mean, running_var, dtype, momentum, eps); features on axis 1."""
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4 if spatial else 2, "NCHW" if spatial else "(N, D)")
    features = x.shape[1]
    if x.size == 0:
        raise LayerArgumentError(f"x must hold at least one value per feature to normalise over, got shape {x.shape}")
    gamma = _vector("gamma", gamma, features)
    # a backward has no beta to check: it passes None
    beta = None if beta is None else _vector("beta", beta, features)
    if mode not in MODES:
        raise LayerArgumentError(f"mode must be 'train' or 'test', got {mode!r}")
    if mode == "test" and (running_mean is None or running_var is None):
        raise LayerArgumentError("running_mean and running_var are required in test mode")
    dtype = _validate.result_dtype(x, gamma) if beta is None else _validate.result_dtype(x, gamma, beta)
    running_mean = _running_statistic("running_mean", running_mean, features, dtype)
    running_var = _running_statistic("running_var", running_var, features, dtype)
    momentum = _validate.real_number("momentum", momentum, 0, 1)
    eps = _validate.real_number("eps", eps, 0, low_open=True)
    return x, gamma, beta, running_mean, running_var, dtype, momentum, eps


def _check_dout(dout, x):
    dout = _validate.float_array("dout", dout)
    if dout.shape != x.shape:
        raise LayerArgumentError(f"dout must have x's shape {x.shape}, got {dout.shape}")
    return dout


# --- the shared normalisation -------------------------------------------------------------------

def _normalize(x, axis, eps):
    """(xhat, mean, biased var, 1/sqrt(var + eps)) of x along ``axis`` (kept as a size-1 axis)."""
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    return (x - mean) * inv_std, mean, var, inv_std


def _normalize_backward(dxhat, xhat, inv_std, axis):
    """dx of xhat = (x - mean(x)) / sqrt(var(x) + eps), both statistics taken along ``axis``."""
    return inv_std * (dxhat - dxhat.mean(axis=axis, keepdims=True)
                      - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True))


# --- batch norm: (N, D), and NCHW with the channels as features -------------------------------

def _feature_axes(x):
    """The axes a batch statistic reduces (all but axis 1) and the shape that broadcasts a per-feature vector."""
    return (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)


def _batchnorm_forward(x, gamma, beta, running_mean, running_var, mode, momentum, eps, spatial) -> BatchNormOutput:
    x, gamma, beta, running_mean, running_var, dtype, momentum, eps = _batchnorm_arguments(
        x, gamma, beta, running_mean, running_var, mode, momentum, eps, spatial)
    axes, per_feature = _feature_axes(x)
    gamma, beta = gamma.reshape(per_feature), beta.reshape(per_feature)
    if mode == "test":
        out = gamma * (x - running_mean.reshape(per_feature)) / np.sqrt(running_var.reshape(per_feature) + eps) + beta
        return BatchNormOutput(out.astype(dtype, copy=False), running_mean.astype(dtype, copy=False),
                               running_var.astype(dtype, copy=False))
    xhat, mean, var, _ = _normalize(x, axes, eps)
    new_mean = momentum * running_mean + (1 - momentum) * mean.reshape(-1)
    new_var = momentum * running_var + (1 - momentum) * var.reshape(-1)
    return BatchNormOutput((gamma * xhat + beta).astype(dtype, copy=False),
                           new_mean.astype(dtype, copy=False), new_var.astype(dtype, copy=False))


def _batchnorm_backward(dout, x, gamma, running_mean, running_var, mode, eps, spatial):
    x, gamma, _, running_mean, running_var, _, _, eps = _batchnorm_arguments(
        x, gamma, None, running_mean, running_var, mode, 0.9, eps, spatial)
    dout = _check_dout(dout, x)
    dtype = _validate.result_dtype(x, gamma, dout)
    axes, per_feature = _feature_axes(x)
    gamma = gamma.reshape(per_feature)
    if mode == "test":
        inv_std = 1 / np.sqrt(running_var.reshape(per_feature) + eps)
        xhat = (x - running_mean.reshape(per_feature)) * inv_std
        dx = dout * gamma * inv_std
    else:
        xhat, _, _, inv_std = _normalize(x, axes, eps)
        dx = _normalize_backward(dout * gamma, xhat, inv_std, axes)
    dgamma = np.sum(dout * xhat, axis=axes)
    dbeta = np.sum(dout, axis=axes)
    return dx.astype(dtype, copy=False), dgamma.astype(dtype, copy=False), dbeta.astype(dtype, copy=False)


def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *,
                      mode="train", momentum=0.9, eps=1e-5) -> BatchNormOutput:
    """x (N, D), gamma and beta (D,) -> ``BatchNormOutput(out (N, D), running_mean (D,), running_var (D,))``."""
    return _batchnorm_forward(x, gamma, beta, running_mean, running_var, mode, momentum, eps, spatial=False)


def batchnorm_backward(dout, x, gamma, running_mean=None, running_var=None, *, mode="train", eps=1e-5):
    """``(dx (N, D), dgamma (D,), dbeta (D,))``; test mode differentiates the running-statistics form."""
    return _batchnorm_backward(dout, x, gamma, running_mean, running_var, mode, eps, spatial=False)


def spatial_batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *,
                              mode="train", momentum=0.9, eps=1e-5) -> BatchNormOutput:
    """x NCHW, gamma and beta (C,) -> ``BatchNormOutput(out NCHW, running_mean (C,), running_var (C,))``."""
    return _batchnorm_forward(x, gamma, beta, running_mean, running_var, mode, momentum, eps, spatial=True)


def spatial_batchnorm_backward(dout, x, gamma, running_mean=None, running_var=None, *, mode="train", eps=1e-5):
    """``(dx NCHW, dgamma (C,), dbeta (C,))``."""
    return _batchnorm_backward(dout, x, gamma, running_mean, running_var, mode, eps, spatial=True)


def batchnorm_forward_loop(x, gamma, beta, running_mean=None, running_var=None, *,
                           mode="train", momentum=0.9, eps=1e-5) -> BatchNormOutput:
    x, gamma, beta, running_mean, running_var, dtype, momentum, eps = _batchnorm_arguments(
        x, gamma, beta, running_mean, running_var, mode, momentum, eps)
    out = np.zeros(x.shape, dtype=dtype)
    new_mean, new_var = running_mean.astype(dtype), running_var.astype(dtype)
    for j in range(x.shape[1]):
        if mode == "test":
            mean, var = running_mean[j], running_var[j]
        else:
            mean, var = _mean_and_var(x[:, j])
            new_mean[j] = momentum * running_mean[j] + (1 - momentum) * mean
            new_var[j] = momentum * running_var[j] + (1 - momentum) * var
        for i in range(x.shape[0]):
            out[i, j] = gamma[j] * (x[i, j] - mean) / math.sqrt(var + eps) + beta[j]
    return BatchNormOutput(out, new_mean, new_var)


def batchnorm_backward_loop(dout, x, gamma, running_mean=None, running_var=None, *, mode="train", eps=1e-5):
    x, gamma, _, running_mean, running_var, _, _, eps = _batchnorm_arguments(
        x, gamma, None, running_mean, running_var, mode, 0.9, eps)
    dout = _check_dout(dout, x)
    dtype = _validate.result_dtype(x, gamma, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    dgamma = np.zeros(x.shape[1], dtype=dtype)
    dbeta = np.zeros(x.shape[1], dtype=dtype)
    for j in range(x.shape[1]):
        column, dxhat = x[:, j], dout[:, j] * gamma[j]
        if mode == "test":
            mean, var = running_mean[j], running_var[j]
            dx[:, j] = [g / math.sqrt(var + eps) for g in dxhat]
        else:
            mean, var = _mean_and_var(column)
            dx[:, j] = _normalize_backward_loop(dxhat, column, eps)
        for i in range(x.shape[0]):
            dgamma[j] += dout[i, j] * (x[i, j] - mean) / math.sqrt(var + eps)
            dbeta[j] += dout[i, j]
    return dx, dgamma, dbeta


def _mean_and_var(values):
    """m = 1/n sum x_i, var = 1/n sum (x_i - m)^2 (biased, as the notes' std)."""
    count = len(values)
    mean = sum(values) / count
    return mean, sum((value - mean) ** 2 for value in values) / count


def _normalize_backward_loop(dxhat, values, eps) -> list:
    """The framework notes' chain rule for xhat_i = (a_i - m) / sqrt(var + eps), with g_i = dL/dxhat_i::

        dL/dvar = -1/2 (var + eps)^(-3/2) sum_i g_i (a_i - m)
        dL/dm   = -1/sqrt(var + eps) sum_i g_i - dL/dvar * 1/n sum_i 2 (a_i - m)
        dL/da_i = dL/dm / n + 2 (a_i - m) / n * dL/dvar + g_i / sqrt(var + eps)
    """
    count = len(values)
    mean, var = _mean_and_var(values)
    dvar = -0.5 * (var + eps) ** -1.5 * sum(g * (a - mean) for g, a in zip(dxhat, values))
    dmean = -sum(dxhat) / math.sqrt(var + eps) - dvar * sum(2 * (a - mean) for a in values) / count
    return [dmean / count + 2 * (a - mean) / count * dvar + g / math.sqrt(var + eps)
            for g, a in zip(dxhat, values)]


# --- spatial batch norm loops: NCHW as rows [N*H*W, C] through the (N, D) loops -----------------

def _nchw_rows(name, x) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N*H*W, C]``: one row per position, one column per channel."""
    x = _validate.float_array(name, x)
    _validate.require_ndim(name, x, 4, "NCHW")
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _rows_nchw(rows, shape) -> np.ndarray:
    batch, channels, height, width = shape
    return np.ascontiguousarray(rows.reshape(batch, height, width, channels).transpose(0, 3, 1, 2))


def spatial_batchnorm_forward_loop(x, gamma, beta, running_mean=None, running_var=None, *,
                                   mode="train", momentum=0.9, eps=1e-5) -> BatchNormOutput:
    rows, shape = _nchw_rows("x", x), np.shape(x)
    out, new_mean, new_var = batchnorm_forward_loop(rows, gamma, beta, running_mean, running_var,
                                                    mode=mode, momentum=momentum, eps=eps)
    return BatchNormOutput(_rows_nchw(out, shape), new_mean, new_var)


def spatial_batchnorm_backward_loop(dout, x, gamma, running_mean=None, running_var=None, *,
                                    mode="train", eps=1e-5):
    dout_rows, x_rows = _spatial_backward_rows(dout, x)
    dx, dgamma, dbeta = batchnorm_backward_loop(dout_rows, x_rows, gamma, running_mean, running_var,
                                                mode=mode, eps=eps)
    return _rows_nchw(dx, np.shape(x)), dgamma, dbeta


def _spatial_backward_rows(dout, x):
    """(dout rows, x rows), each ``[N*H*W, C]``, after checking dout has x's NCHW shape."""
    x_rows = _nchw_rows("x", x)
    _check_dout(dout, np.asarray(x))
    return _nchw_rows("dout", dout), x_rows


# --- layer norm (N, D) --------------------------------------------------------------------------

def _layernorm_arguments(x, gamma, beta, eps):
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 2, "(N, D)")
    if x.shape[1] == 0:
        raise LayerArgumentError("x must have at least one feature to normalise over, got D = 0")
    gamma = _vector("gamma", gamma, x.shape[1])
    beta = None if beta is None else _vector("beta", beta, x.shape[1])
    eps = _validate.real_number("eps", eps, 0, low_open=True)
    return x, gamma, beta, eps


def layernorm_forward(x, gamma, beta, *, eps=1e-5) -> np.ndarray:
    """x (N, D) normalised per sample over its D features, then gamma * xhat + beta (gamma, beta (D,))."""
    x, gamma, beta, eps = _layernorm_arguments(x, gamma, beta, eps)
    xhat, _, _, _ = _normalize(x, 1, eps)
    return (gamma * xhat + beta).astype(_validate.result_dtype(x, gamma, beta), copy=False)


def layernorm_backward(dout, x, gamma, *, eps=1e-5):
    """``(dx (N, D), dgamma (D,), dbeta (D,))``."""
    x, gamma, _, eps = _layernorm_arguments(x, gamma, None, eps)
    dout = _check_dout(dout, x)
    dtype = _validate.result_dtype(x, gamma, dout)
    xhat, _, _, inv_std = _normalize(x, 1, eps)
    dx = _normalize_backward(dout * gamma, xhat, inv_std, 1)
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    return dx.astype(dtype, copy=False), dgamma.astype(dtype, copy=False), dbeta.astype(dtype, copy=False)


def layernorm_forward_loop(x, gamma, beta, *, eps=1e-5) -> np.ndarray:
    x, gamma, beta, eps = _layernorm_arguments(x, gamma, beta, eps)
    out = np.zeros(x.shape, dtype=_validate.result_dtype(x, gamma, beta))
    for i in range(x.shape[0]):
        mean, var = _mean_and_var(x[i])
        for j in range(x.shape[1]):
            out[i, j] = gamma[j] * (x[i, j] - mean) / math.sqrt(var + eps) + beta[j]
    return out


def layernorm_backward_loop(dout, x, gamma, *, eps=1e-5):
    x, gamma, _, eps = _layernorm_arguments(x, gamma, None, eps)
    dout = _check_dout(dout, x)
    dtype = _validate.result_dtype(x, gamma, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    dgamma = np.zeros(x.shape[1], dtype=dtype)
    dbeta = np.zeros(x.shape[1], dtype=dtype)
    for i in range(x.shape[0]):
        mean, var = _mean_and_var(x[i])
        dx[i] = _normalize_backward_loop(dout[i] * gamma, x[i], eps)
        for j in range(x.shape[1]):
            dgamma[j] += dout[i, j] * (x[i, j] - mean) / math.sqrt(var + eps)
            dbeta[j] += dout[i, j]
    return dx, dgamma, dbeta
