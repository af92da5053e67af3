"""Inverted dropout with keep probability p (CS231n from spring 2018 on: p is the KEEP probability).

Train mode::

    u    = np.random.default_rng(seed).random(x.shape)     # float64 in [0, 1), C order
    mask = (u < p) / p
    out  = x * mask              dx = dout * mask            (the same mask)

Test mode: out = x and dx = dout. Scaling by 1/p at train time keeps the
expected activation equal to x, so test mode needs no rescaling.

The mask is a pure function of (seed, shape, p): ``dropout_mask`` returns
it, so a harness can hand a student the exact mask, or fall back on the
invariants (every output is 0 or x / p, dx is 0 exactly where out is).
The uniforms are drawn in float64 whatever x's dtype, one after another in C
order, which is what one ``rng.random()`` per element gives too.
"""
from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError

MODES = ("train", "test")


def _dropout_arguments(keep_prob, seed, mode):
    keep_prob = _validate.real_number("keep_prob", keep_prob, 0, 1, low_open=True)
    seed = _validate.non_negative_int("seed", seed)
    if mode not in MODES:
        raise LayerArgumentError(f"mode must be 'train' or 'test', got {mode!r}")
    return keep_prob, seed


def _backward_arguments(dout, x, keep_prob, seed, mode):
    """Validated (dout, x, dtype, keep_prob, seed); dout must have x's shape."""
    x = _validate.float_array("x", x)
    dout = _validate.float_array("dout", dout)
    if dout.shape != x.shape:
        raise LayerArgumentError(f"dout must have x's shape {x.shape}, got {dout.shape}")
    keep_prob, seed = _dropout_arguments(keep_prob, seed, mode)
    return dout, x, _validate.result_dtype(x, dout), keep_prob, seed


def dropout_mask(shape, keep_prob, seed) -> np.ndarray:
    """``(rng.random(shape) < keep_prob) / keep_prob`` with ``rng = np.random.default_rng(seed)``, float64."""
    keep_prob, seed = _dropout_arguments(keep_prob, seed, "train")
    shape = tuple(_validate.non_negative_int("shape", side) for side in shape)
    return (np.random.default_rng(seed).random(shape) < keep_prob) / keep_prob


def dropout_forward(x, keep_prob, seed, mode="train") -> np.ndarray:
    """x (any shape) times the mask in train mode; x itself in test mode."""
    x = _validate.float_array("x", x)
    _dropout_arguments(keep_prob, seed, mode)
    if mode == "test":
        return x.copy()
    return (x * dropout_mask(x.shape, keep_prob, seed)).astype(x.dtype, copy=False)


def dropout_backward(dout, x, keep_prob, seed, mode="train") -> np.ndarray:
    """dout times the forward's mask (train) or dout (test)."""
    dout, x, dtype, _, _ = _backward_arguments(dout, x, keep_prob, seed, mode)
    if mode == "test":
        return dout.astype(dtype)
    return (dout * dropout_mask(x.shape, keep_prob, seed)).astype(dtype, copy=False)


def dropout_forward_loop(x, keep_prob, seed, mode="train") -> np.ndarray:
    """One uniform per element, in C order: keep x / p when it falls below p, else 0."""
    x = _validate.float_array("x", x)
    keep_prob, seed = _dropout_arguments(keep_prob, seed, mode)
    if mode == "test":
        return x.copy()
    rng = np.random.default_rng(seed)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        if rng.random() < keep_prob:
            out[index] = x[index] / keep_prob
    return out


def dropout_backward_loop(dout, x, keep_prob, seed, mode="train") -> np.ndarray:
    dout, x, dtype, keep_prob, seed = _backward_arguments(dout, x, keep_prob, seed, mode)
    if mode == "test":
        return dout.astype(dtype)
    rng = np.random.default_rng(seed)
    dx = np.zeros(x.shape, dtype=dtype)
    for index in np.ndindex(x.shape):
        if rng.random() < keep_prob:
            dx[index] = dout[index] / keep_prob
    return dx
