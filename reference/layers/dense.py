"""Fully connected layers: the AICS FullyConnectedLayer and the CS231n affine layer.

AICS (layers_1.FullyConnectedLayer, framework notes 二.3): x ``[N, in]``,
weight ``[in, out]``, bias ``[1, out]`` (``[out]`` accepted)::

    out     = x @ weight + bias
    dx      = dout @ weight.T
    dweight = x.T @ dout
    dbias   = sum over the batch of dout, in the bias's own shape ([1, out] stays [1, out])

CS231n affine: x ``(N, d1, ..., dk)`` is read as ``(N, D)`` with
``D = d1 * ... * dk`` (row-major), w ``(D, M)``, b ``(M,)``; dx has x's shape.
"""
from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError


def _fc_arguments(x, weight, bias):
    """Validated (x, weight, bias, dtype) for x [N, in], weight [in, out], bias [out] or [1, out]."""
    x = _validate.float_array("x", x)
    weight = _validate.float_array("weight", weight)
    bias = _validate.float_array("bias", bias)
    _validate.require_ndim("x", x, 2, "[N, in]")
    _validate.require_ndim("weight", weight, 2, "[in, out]")
    if x.shape[1] != weight.shape[0]:
        raise LayerArgumentError(f"weight expects {weight.shape[0]} input features (shape {weight.shape}) "
                                 f"but x has {x.shape[1]} (shape {x.shape})")
    num_output = weight.shape[1]
    if bias.shape not in ((num_output,), (1, num_output)):
        raise LayerArgumentError(f"bias must have shape ({num_output},) or (1, {num_output}), got {bias.shape}")
    return x, weight, bias, _validate.result_dtype(x, weight, bias)


def _check_dout(dout, expected_shape):
    dout = _validate.float_array("dout", dout)
    if dout.shape != expected_shape:
        raise LayerArgumentError(f"dout must have the output's shape {expected_shape}, got {dout.shape}")
    return dout


# --- AICS fully connected -----------------------------------------------------------------------

def fc_forward(x, weight, bias) -> np.ndarray:
    """``[N, in] @ [in, out] + bias -> [N, out]``."""
    x, weight, bias, dtype = _fc_arguments(x, weight, bias)
    return (x @ weight + bias.reshape(-1)).astype(dtype, copy=False)


def fc_backward(dout, x, weight, bias):
    """``(dx [N, in], dweight [in, out], dbias)``; dbias has the bias's shape, [out] or [1, out]."""
    x, weight, bias, _ = _fc_arguments(x, weight, bias)
    dout = _check_dout(dout, (x.shape[0], weight.shape[1]))
    dtype = _validate.result_dtype(x, weight, bias, dout)
    dx = dout @ weight.T
    dweight = x.T @ dout
    dbias = dout.sum(axis=0).reshape(bias.shape)
    return dx.astype(dtype, copy=False), dweight.astype(dtype, copy=False), dbias.astype(dtype, copy=False)


def fc_forward_loop(x, weight, bias) -> np.ndarray:
    """out[n, o] = sum_i x[n, i] * weight[i, o] + bias[o]."""
    x, weight, bias, dtype = _fc_arguments(x, weight, bias)
    bias = bias.reshape(-1)
    batch, (num_input, num_output) = x.shape[0], weight.shape
    out = np.zeros((batch, num_output), dtype=dtype)
    for n in range(batch):
        for o in range(num_output):
            out[n, o] = bias[o]
            for i in range(num_input):
                out[n, o] += x[n, i] * weight[i, o]
    return out


def fc_backward_loop(dout, x, weight, bias):
    """Each output element's dout, sent back along the products that made it."""
    x, weight, bias, _ = _fc_arguments(x, weight, bias)
    dout = _check_dout(dout, (x.shape[0], weight.shape[1]))
    dtype = _validate.result_dtype(x, weight, bias, dout)
    batch, (num_input, num_output) = x.shape[0], weight.shape
    dx = np.zeros(x.shape, dtype=dtype)
    dweight = np.zeros(weight.shape, dtype=dtype)
    dbias = np.zeros(num_output, dtype=dtype)
    for n in range(batch):
        for o in range(num_output):
            dbias[o] += dout[n, o]
            for i in range(num_input):
                dx[n, i] += dout[n, o] * weight[i, o]
                dweight[i, o] += dout[n, o] * x[n, i]
    return dx, dweight, dbias.reshape(bias.shape)


# --- CS231n affine ------------------------------------------------------------------------------

def _affine_arguments(x, w, b):
    """x as (N, D) rows, w (D, M) and b (M,), validated under the CS231n argument names."""
    x = _validate.float_array("x", x)
    w = _validate.float_array("w", w)
    b = _validate.float_array("b", b)
    if x.ndim < 2:
        raise LayerArgumentError(f"x must have a batch axis and at least one feature axis, got shape {x.shape}")
    rows = x.reshape(x.shape[0], -1)
    _validate.require_ndim("w", w, 2, "(D, M)")
    if w.shape[0] != rows.shape[1]:
        raise LayerArgumentError(f"w must have D = {rows.shape[1]} rows (x of shape {x.shape} has D = "
                                 f"{rows.shape[1]} features per sample), got shape {w.shape}")
    if b.shape != (w.shape[1],):
        raise LayerArgumentError(f"b must have shape ({w.shape[1]},), got {b.shape}")
    return rows, w, b


def affine_forward(x, w, b) -> np.ndarray:
    """``(N, d1..dk)`` -> ``(N, M)``: x read as (N, D) rows, times w (D, M), plus b (M,)."""
    return fc_forward(*_affine_arguments(x, w, b))


def affine_backward(dout, x, w, b):
    """``(dx with x's shape, dw (D, M), db (M,))``."""
    dx, dw, db = fc_backward(dout, *_affine_arguments(x, w, b))
    return dx.reshape(np.shape(x)), dw, db


def affine_forward_loop(x, w, b) -> np.ndarray:
    return fc_forward_loop(*_affine_arguments(x, w, b))


def affine_backward_loop(dout, x, w, b):
    dx, dw, db = fc_backward_loop(dout, *_affine_arguments(x, w, b))
    return dx.reshape(np.shape(x)), dw, db
