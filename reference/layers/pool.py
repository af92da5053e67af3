"""Max, average and global average pooling on NCHW feature maps (no padding, as in the course).

kernel and stride are an int or ``(along H, along W)``; stride defaults to
the kernel. ``Ho = (H - KH) // sh + 1`` (Wo likewise); rows and columns past
the last full window are not pooled and get a zero gradient.

Max pooling (lab formulas 3.7-3.9): out[n, c, i, j] is the window's maximum,
and the backward routes dout[n, c, i, j] to the position of that maximum.

Tie rule: when several cells of a window hold the maximum, the gradient goes
to the first one in row-major order inside the window (np.argmax of the
flattened window), as the AICS backward_raw_book does and as the framework
notes' strict ``>`` scan does. PyTorch may pick another cell, so checkers use
``maxpool2d_window_ties`` to make tie-free inputs or to accept any maximum.

Overlapping windows (stride < kernel): one input cell can be the maximum of
several windows, and its gradient is the SUM of theirs. The course's raw
backward assigns (``=``) instead of accumulating (``+=``), which is only
right when windows do not overlap (the course's 2x2 / stride 2).

Average pooling: out = window sum / (KH*KW); the backward spreads
dout / (KH*KW) over the window, accumulating across overlapping windows.
Global average pooling: out[n, c, 0, 0] = mean over H and W (the output
keeps two singleton axes, like torch's adaptive_avg_pool2d(x, 1)).

The fast functions loop over the KH*KW offsets inside a window, each a
strided view of the whole batch; the ``_loop`` functions visit one output
element at a time.
"""
from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError


def _pool_arguments(x, kernel, stride):
    """Validated (x, kernel_hw, stride_hw, out_hw)."""
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4, "NCHW")
    kernel_hw = _validate.pair("kernel", kernel)
    stride_hw = kernel_hw if stride is None else _validate.pair("stride", stride)
    out_hw = tuple(_validate.output_size(axis, size, k, s, 0, 0)
                   for axis, size, k, s in zip(("height", "width"), x.shape[2:], kernel_hw, stride_hw))
    return x, kernel_hw, stride_hw, out_hw


def _check_dout(dout, x, out_hw):
    dout = _validate.float_array("dout", dout)
    expected = x.shape[:2] + tuple(out_hw)
    if dout.shape != expected:
        raise LayerArgumentError(f"dout must have the output's shape {expected} (NCHW), got {dout.shape}")
    return dout


def _window_offsets(kernel_hw, stride_hw, out_hw):
    """For each offset (kh, kw) inside the window, in row-major order, the index that
    selects that cell of every window at once: ``x[index]`` has shape [N, C, Ho, Wo]."""
    (stride_h, stride_w), (out_h, out_w) = stride_hw, out_hw
    for kh, kw in np.ndindex(*kernel_hw):
        yield (slice(None), slice(None),
               slice(kh, kh + stride_h * (out_h - 1) + 1, stride_h),
               slice(kw, kw + stride_w * (out_w - 1) + 1, stride_w))


# --- max pooling -------------------------------------------------------------------------------

def maxpool2d_forward(x, kernel, stride=None) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N, C, Ho, Wo]``, the maximum of each window."""
    x, kernel_hw, stride_hw, out_hw = _pool_arguments(x, kernel, stride)
    cells = _window_offsets(kernel_hw, stride_hw, out_hw)
    out = x[next(cells)].copy()
    for cell in cells:
        np.maximum(out, x[cell], out=out)
    return out


def maxpool2d_backward(dout, x, kernel, stride=None) -> np.ndarray:
    """``dout [N, C, Ho, Wo]`` -> dx ``[N, C, H, W]``: each window's gradient to its first maximum."""
    x, kernel_hw, stride_hw, out_hw = _pool_arguments(x, kernel, stride)
    dout = _check_dout(dout, x, out_hw)
    out = maxpool2d_forward(x, kernel_hw, stride_hw)
    dtype = _validate.result_dtype(x, dout)
    overlapping = stride_hw[0] < kernel_hw[0] or stride_hw[1] < kernel_hw[1]
    tiled = stride_hw == kernel_hw and x.shape[2:] == tuple(k * o for k, o in zip(kernel_hw, out_hw))
    # windows that tile x exactly write every cell once; otherwise start from zeros
    dx = np.empty(x.shape, dtype=dtype) if tiled else np.zeros(x.shape, dtype=dtype)
    cells = list(_window_offsets(kernel_hw, stride_hw, out_hw))
    unrouted = None                      # windows whose gradient has not found its maximum yet
    for index, cell in enumerate(cells):
        first_max = x[cell] == out
        if unrouted is None:
            unrouted = ~first_max
        else:
            first_max &= unrouted
            if index + 1 < len(cells):
                unrouted ^= first_max
        if overlapping:
            dx[cell] += dout * first_max
        else:
            np.multiply(dout, first_max, out=dx[cell])
    return dx


def maxpool2d_window_ties(x, kernel, stride=None) -> np.ndarray:
    """Boolean ``[N, C, Ho, Wo]``: True where the window's maximum is held by more than one cell."""
    x, kernel_hw, stride_hw, out_hw = _pool_arguments(x, kernel, stride)
    out = maxpool2d_forward(x, kernel_hw, stride_hw)
    holders = sum((x[cell] == out).astype(np.int32) for cell in _window_offsets(kernel_hw, stride_hw, out_hw))
    return holders > 1


def maxpool2d_forward_loop(x, kernel, stride=None) -> np.ndarray:
    """Same contract as ``maxpool2d_forward`` (formula 3.7)."""
    x, (kernel_h, kernel_w), (stride_h, stride_w), (out_h, out_w) = _pool_arguments(x, kernel, stride)
    out = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = np.max(x[n, c, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w])
    return out


def maxpool2d_backward_loop(dout, x, kernel, stride=None) -> np.ndarray:
    """Same contract as ``maxpool2d_backward`` (formulas 3.8-3.9), with ``+=`` for overlapping windows."""
    x, (kernel_h, kernel_w), (stride_h, stride_w), out_hw = _pool_arguments(x, kernel, stride)
    dout = _check_dout(dout, x, out_hw)
    dx = np.zeros(x.shape, dtype=_validate.result_dtype(x, dout))
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w]
        row, col = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * stride_h + row, j * stride_w + col] += dout[n, c, i, j]
    return dx


# --- average pooling ---------------------------------------------------------------------------

def avgpool2d_forward(x, kernel, stride=None) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N, C, Ho, Wo]``, the mean of each window."""
    x, kernel_hw, stride_hw, out_hw = _pool_arguments(x, kernel, stride)
    out = np.zeros(x.shape[:2] + out_hw, dtype=x.dtype)
    for cell in _window_offsets(kernel_hw, stride_hw, out_hw):
        out += x[cell]
    return out / (kernel_hw[0] * kernel_hw[1])


def avgpool2d_backward(dout, x, kernel, stride=None) -> np.ndarray:
    """``dout [N, C, Ho, Wo]`` -> dx ``[N, C, H, W]``: dout / (KH*KW) to every cell of the window."""
    x, kernel_hw, stride_hw, out_hw = _pool_arguments(x, kernel, stride)
    dout = _check_dout(dout, x, out_hw)
    share = dout / (kernel_hw[0] * kernel_hw[1])
    dx = np.zeros(x.shape, dtype=_validate.result_dtype(x, dout))
    for cell in _window_offsets(kernel_hw, stride_hw, out_hw):
        dx[cell] += share
    return dx


def avgpool2d_forward_loop(x, kernel, stride=None) -> np.ndarray:
    """Same contract as ``avgpool2d_forward``."""
    x, (kernel_h, kernel_w), (stride_h, stride_w), (out_h, out_w) = _pool_arguments(x, kernel, stride)
    out = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
    for n, c, i, j in np.ndindex(out.shape):
        out[n, c, i, j] = np.mean(x[n, c, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w])
    return out


def avgpool2d_backward_loop(dout, x, kernel, stride=None) -> np.ndarray:
    """Same contract as ``avgpool2d_backward``."""
    x, (kernel_h, kernel_w), (stride_h, stride_w), out_hw = _pool_arguments(x, kernel, stride)
    dout = _check_dout(dout, x, out_hw)
    dx = np.zeros(x.shape, dtype=_validate.result_dtype(x, dout))
    for n, c, i, j in np.ndindex(dout.shape):
        dx[n, c, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w] += \
            dout[n, c, i, j] / (kernel_h * kernel_w)
    return dx


# --- global average pooling --------------------------------------------------------------------

def _global_arguments(x):
    x = _validate.float_array("x", x)
    _validate.require_ndim("x", x, 4, "NCHW")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise LayerArgumentError(f"x must have at least one pixel to average, got shape {x.shape}")
    return x


def global_avgpool_forward(x) -> np.ndarray:
    """``[N, C, H, W]`` -> ``[N, C, 1, 1]``, the mean of each channel map."""
    return _global_arguments(x).mean(axis=(2, 3), keepdims=True)


def global_avgpool_backward(dout, x) -> np.ndarray:
    """``dout [N, C, 1, 1]`` -> dx ``[N, C, H, W]``: dout / (H*W) everywhere."""
    x = _global_arguments(x)
    dout = _check_dout(dout, x, (1, 1))
    dx = np.empty(x.shape, dtype=_validate.result_dtype(x, dout))
    dx[...] = dout / (x.shape[2] * x.shape[3])
    return dx


def global_avgpool_forward_loop(x) -> np.ndarray:
    """Same contract as ``global_avgpool_forward``."""
    x = _global_arguments(x)
    out = np.zeros(x.shape[:2] + (1, 1), dtype=x.dtype)
    for n, c in np.ndindex(x.shape[:2]):
        out[n, c, 0, 0] = np.sum(x[n, c]) / (x.shape[2] * x.shape[3])
    return out


def global_avgpool_backward_loop(dout, x) -> np.ndarray:
    """Same contract as ``global_avgpool_backward``."""
    x = _global_arguments(x)
    dout = _check_dout(dout, x, (1, 1))
    dx = np.zeros(x.shape, dtype=_validate.result_dtype(x, dout))
    for n, c, h, w in np.ndindex(x.shape):
        dx[n, c, h, w] = dout[n, c, 0, 0] / (x.shape[2] * x.shape[3])
    return dx
