"""Spatial group normalisation (Wu and He, "Group Normalization", 2018; CS231n's spatial_groupnorm from 2018 on).

x NCHW, the C channels split into G groups of C/G consecutive channels; each
sample's group is normalised over its (C/G, H, W) values::

    m_ng   = mean of x[n, group g]            var_ng = biased variance of the same values
    xhat   = (x - m_ng) / sqrt(var_ng + eps)
    out    = gamma_c * xhat + beta_c          gamma, beta per channel (C,)

No running statistics: train and test are the same. G = 1 is layer norm over
(C, H, W); G = C is instance norm. The functions take gamma and beta as (C,)
vectors; CS231n's notebook passes them as (1, C, 1, 1), which the course-layout
wrapper (reference.cs231n.layers) reshapes.

torch.nn.functional.group_norm(x, G, gamma, beta, eps) computes the same.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError
from .norm import _normalize, _normalize_backward


def _groupnorm_arguments(x, gamma, beta, groups, eps):
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4, "NCHW")
    channels = x.shape[1]
    groups = _validate.positive_int("groups", groups)
    if channels % groups:
        raise LayerArgumentError(f"groups must divide the {channels} channels, got {groups}")
    gamma = _channel_vector("gamma", gamma, channels)
    beta = None if beta is None else _channel_vector("beta", beta, channels)
    eps = _validate.real_number("eps", eps, 0, low_open=True)
    return x, gamma, beta, groups, eps


def _channel_vector(name, value, channels) -> np.ndarray:
    array = _validate.float_array(name, value)
    if array.shape != (channels,):
        raise LayerArgumentError(f"{name} must have shape ({channels},) (one per channel), got {array.shape}")
    return array


def _grouped(x, groups) -> np.ndarray:
    """(N, G, C/G * H * W): each row one sample's group."""
    return x.reshape(x.shape[0], groups, -1)


def groupnorm_forward(x, gamma, beta, groups, *, eps=1e-5) -> np.ndarray:
    """x NCHW, gamma and beta (C,) -> out NCHW."""
    x, gamma, beta, groups, eps = _groupnorm_arguments(x, gamma, beta, groups, eps)
    xhat, _, _, _ = _normalize(_grouped(x, groups), 2, eps)
    out = gamma[:, None, None] * xhat.reshape(x.shape) + beta[:, None, None]
    return out.astype(_validate.result_dtype(x, gamma, beta), copy=False)


def groupnorm_backward(dout, x, gamma, groups, *, eps=1e-5):
    """``(dx NCHW, dgamma (C,), dbeta (C,))``."""
    x, gamma, _, groups, eps = _groupnorm_arguments(x, gamma, None, groups, eps)
    dout = _validate.float_array("dout", dout)
    if dout.shape != x.shape:
        raise LayerArgumentError(f"dout must have x's shape {x.shape}, got {dout.shape}")
    dtype = _validate.result_dtype(x, gamma, dout)
    xhat, _, _, inv_std = _normalize(_grouped(x, groups), 2, eps)
    dxhat = _grouped(dout * gamma[:, None, None], groups)
    dx = _normalize_backward(dxhat, xhat, inv_std, 2).reshape(x.shape)
    xhat = xhat.reshape(x.shape)
    dgamma = np.sum(dout * xhat, axis=(0, 2, 3))
    dbeta = np.sum(dout, axis=(0, 2, 3))
    return dx.astype(dtype, copy=False), dgamma.astype(dtype, copy=False), dbeta.astype(dtype, copy=False)


# --- plain loops ----------------------------------------------------------------------------------

def _group_statistics(x, n, channels) -> tuple[float, float]:
    values = [float(x[n, c, i, j]) for c in channels for i in range(x.shape[2]) for j in range(x.shape[3])]
    mean = sum(values) / len(values)
    return mean, sum((value - mean) ** 2 for value in values) / len(values)


def groupnorm_forward_loop(x, gamma, beta, groups, *, eps=1e-5) -> np.ndarray:
    x, gamma, beta, groups, eps = _groupnorm_arguments(x, gamma, beta, groups, eps)
    batch, channels, height, width = x.shape
    size = channels // groups
    out = np.zeros(x.shape, dtype=_validate.result_dtype(x, gamma, beta))
    for n in range(batch):
        for g in range(groups):
            members = range(g * size, (g + 1) * size)
            mean, var = _group_statistics(x, n, members)
            for c in members:
                for i in range(height):
                    for j in range(width):
                        out[n, c, i, j] = gamma[c] * (x[n, c, i, j] - mean) / math.sqrt(var + eps) + beta[c]
    return out


def groupnorm_backward_loop(dout, x, gamma, groups, *, eps=1e-5):
    """dx of each group by the formula written per element:
    dx_i = (dxhat_i - mean(dxhat) - xhat_i * mean(dxhat * xhat)) / sqrt(var + eps) over the group's values."""
    x, gamma, _, groups, eps = _groupnorm_arguments(x, gamma, None, groups, eps)
    dout = _validate.float_array("dout", dout)
    batch, channels, height, width = x.shape
    size = channels // groups
    dtype = _validate.result_dtype(x, gamma, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    dgamma = np.zeros(channels, dtype=dtype)
    dbeta = np.zeros(channels, dtype=dtype)
    for n in range(batch):
        for g in range(groups):
            members = range(g * size, (g + 1) * size)
            mean, var = _group_statistics(x, n, members)
            inv_std = 1 / math.sqrt(var + eps)
            cells = [(c, i, j) for c in members for i in range(height) for j in range(width)]
            xhat = {cell: (x[(n,) + cell] - mean) * inv_std for cell in cells}
            dxhat = {cell: dout[(n,) + cell] * gamma[cell[0]] for cell in cells}
            mean_dxhat = sum(dxhat.values()) / len(cells)
            mean_dxhat_xhat = sum(dxhat[cell] * xhat[cell] for cell in cells) / len(cells)
            for cell in cells:
                dx[(n,) + cell] = (dxhat[cell] - mean_dxhat - xhat[cell] * mean_dxhat_xhat) * inv_std
                dgamma[cell[0]] += dout[(n,) + cell] * xhat[cell]
                dbeta[cell[0]] += dout[(n,) + cell]
    return dx, dgamma, dbeta
