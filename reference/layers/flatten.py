"""Flatten a batch of feature maps into rows, in the AICS (NHWC) order and the plain NCHW order.

AICS FlattenLayer: ``[N, C, H, W]`` -> transpose to ``[N, H, W, C]`` ->
reshape ``[N, H*W*C]``, so ``out[n, (h*W + w)*C + c] = x[n, c, h, w]``. The
transpose is there because MatConvNet stores fc6's weight ``[7, 7, 512, 4096]``
and the course reshapes it to ``[7*7*512, 4096]`` rows in (H, W, C) order;
flattening NCHW directly would pair each activation with the wrong weight row.

Plain flatten (CS231n): ``x.reshape(N, -1)``, i.e. ``out[n, (c*H + h)*W + w]``.

A backward takes the forward's input shape and returns dout in that shape.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError


def _input_shape(input_shape, ndim=None) -> tuple[int, ...]:
    shape = tuple(_validate.non_negative_int("input_shape", side) for side in input_shape)
    if ndim is not None and len(shape) != ndim:
        raise LayerArgumentError(f"input_shape must have {ndim} entries (NCHW), got {shape}")
    if len(shape) < 2:
        raise LayerArgumentError(f"input_shape must have a batch axis and a feature axis, got {shape}")
    return shape


def _features(name, x) -> np.ndarray:
    x = _validate.float_array(name, x)
    if x.ndim < 2:
        raise LayerArgumentError(f"{name} must have a batch axis and at least one feature axis, got shape {x.shape}")
    return x


def _rows(dout, input_shape) -> np.ndarray:
    """dout validated as ``[N, prod(input_shape[1:])]``."""
    dout = _validate.float_array("dout", dout)
    expected = (input_shape[0], math.prod(input_shape[1:]))
    if dout.shape != expected:
        raise LayerArgumentError(f"dout must have the output's shape {expected} for input_shape {input_shape}, "
                                 f"got {dout.shape}")
    return dout


# --- AICS: NCHW -> NHWC -> rows -----------------------------------------------------------------

def flatten_nhwc_forward(x) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N, H*W*C]`` in (H, W, C) order."""
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4, "NCHW")
    return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)


def flatten_nhwc_backward(dout, input_shape) -> np.ndarray:
    """``[N, H*W*C]`` -> ``[N, C, H, W]``: undo the reshape, then the transpose."""
    batch, channels, height, width = _input_shape(input_shape, ndim=4)
    dout = _rows(dout, (batch, channels, height, width))
    return np.ascontiguousarray(dout.reshape(batch, height, width, channels).transpose(0, 3, 1, 2))


def flatten_nhwc_forward_loop(x) -> np.ndarray:
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4, "NCHW")
    batch, channels, height, width = x.shape
    out = np.zeros((batch, height * width * channels), dtype=x.dtype)
    for n, c, h, w in np.ndindex(x.shape):
        out[n, (h * width + w) * channels + c] = x[n, c, h, w]
    return out


def flatten_nhwc_backward_loop(dout, input_shape) -> np.ndarray:
    batch, channels, height, width = _input_shape(input_shape, ndim=4)
    dout = _rows(dout, (batch, channels, height, width))
    dx = np.zeros((batch, channels, height, width), dtype=dout.dtype)
    for n, c, h, w in np.ndindex(dx.shape):
        dx[n, c, h, w] = dout[n, (h * width + w) * channels + c]
    return dx


# --- plain: (N, d1, ..., dk) -> rows in row-major order -----------------------------------------

def flatten_forward(x) -> np.ndarray:
    """``(N, d1, ..., dk)`` -> ``(N, d1*...*dk)`` (for NCHW: (C, H, W) order)."""
    x = _features("x", x)
    return x.reshape(x.shape[0], -1)


def flatten_backward(dout, input_shape) -> np.ndarray:
    input_shape = _input_shape(input_shape)
    return _rows(dout, input_shape).reshape(input_shape)


def flatten_forward_loop(x) -> np.ndarray:
    x = _features("x", x)
    out = np.zeros((x.shape[0], math.prod(x.shape[1:])), dtype=x.dtype)
    for index in np.ndindex(x.shape):
        out[index[0], np.ravel_multi_index(index[1:], x.shape[1:])] = x[index]
    return out


def flatten_backward_loop(dout, input_shape) -> np.ndarray:
    input_shape = _input_shape(input_shape)
    dout = _rows(dout, input_shape)
    dx = np.zeros(input_shape, dtype=dout.dtype)
    for index in np.ndindex(input_shape):
        dx[index] = dout[index[0], np.ravel_multi_index(index[1:], input_shape[1:])]
    return dx
