"""Convolution as BLAS GEMMs on NHWC arrays, shared by ``conv.py`` and the VGG19 model.

Layouts: feature maps NHWC, weights HWIO ``[KH, KW, Cin, Cout]``, so that a
window ordered (KH, KW, Cin) times the weight reshaped ``[KH*KW*Cin, Cout]``
is one output pixel.

Two ways to feed a convolution to GEMM:

* Shifted GEMMs (stride 1). Flatten the zero-padded batch ``[N, Hp, Wp, Cin]``
  to rows of Cin values. The tap (kh, kw) of the window whose top-left corner
  is row m is row ``m + kh*Wp + kw``, so

      out[m] = sum over taps of padded[m + kh*Wp + kw] @ weight[kh, kw]

  is KH*KW GEMMs that read contiguous row ranges of the padded image in
  place (no im2col is materialised) and accumulate into the output with
  beta=1. Outputs are computed on the padded grid: the rows and columns of
  that grid past the last full window hold garbage and are dropped.
* im2col (any stride): copy every window into one row of
  ``[N*Ho*Wo, KH*KW*Cin]`` and run one GEMM.

GEMMs go through scipy.linalg.blas because only the BLAS interface can
accumulate into an existing output. Everything here uses that one BLAS
library: alternating with numpy's own OpenBLAS makes the two thread pools
spin against each other, which costs about half the speed on two cores.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import blas

_GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}
_GEMV = {np.dtype(np.float32): blas.sgemv, np.dtype(np.float64): blas.dgemv}

# Rows of output per block of shifted GEMMs: the block (rows x Cout) is
# re-read by every tap, so it should stay in the L2 caches (1 MiB per core
# here, both cores share the block). Measured: 1-2 MiB blocks run the
# 64-128-channel layers of VGG19 ~15% faster than one unblocked pass.
BLOCK_BYTES = 2 << 20
# Below this many grid rows (a 32x32 map) one im2col GEMM beats KH*KW
# thin GEMMs, each of which is then overhead-bound. Above it the shifted
# GEMMs win even with 3 input channels (blocked, the rank-3 updates stay in cache).
SHIFTED_MIN_ROWS = 1024
# The weight gradient as one GEMM over copied windows (im2col) beats KH*KW shifted GEMMs, whose
# [Cout, Cin] outputs are small, while the copy stays moderate: on the lab's 1x256x24x40 shape
# (17.7 MB of windows in float64) 12.7 ms against 20 ms. Above this size the copy is not worth it.
IM2COL_MAX_BYTES = 64 << 20


def matmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray, *, accumulate: bool = False) -> None:
    """``out = a @ b`` or ``out += a @ b`` in place, for 2-D arrays.

    ``a`` and ``b`` may each be C-contiguous or the transpose of a
    C-contiguous array (no copy is made); ``out`` must be C-contiguous.
    Dtypes BLAS lacks (float16, longdouble) fall back to numpy.
    """
    gemm = _GEMM.get(out.dtype)
    if gemm is None or a.dtype != out.dtype or b.dtype != out.dtype or 0 in a.shape + b.shape:
        product = a @ b
        if accumulate:
            out += product
        else:
            out[...] = product
        return
    # BLAS is column-major: out.T (Cout x M) = b.T @ a.T, and a C-contiguous
    # matrix is its own transpose in column-major order.
    b_arg, b_trans = (b.T, 0) if b.flags.c_contiguous else (b, 1)
    if a.shape[0] == 1:
        # one row (a fully connected layer on one image): GEMV streams b at
        # memory speed, OpenBLAS's GEMM with one row runs 2-3x slower
        _GEMV[out.dtype](1.0, b_arg, a[0], beta=1.0 if accumulate else 0.0, y=out[0], overwrite_y=1, trans=b_trans)
        return
    a_arg, a_trans = (a.T, 0) if a.flags.c_contiguous else (a, 1)
    gemm(1.0, b_arg, a_arg, beta=1.0 if accumulate else 0.0, c=out.T, overwrite_c=1,
         trans_a=b_trans, trans_b=a_trans)


def shifted_gemm(source: np.ndarray, taps, offsets, target: np.ndarray, *, bias=None, relu: bool = False) -> None:
    """``target[m] = sum_t source[m + offsets[t]] @ taps[t] (+ bias)``, then ReLU if asked, for every row m.

    source ``[R, Cin]`` with ``R >= len(target) + max(offsets)``, each tap
    ``[Cin, Cout]``, bias ``[Cout]`` or None, target ``[M, Cout]`` C-contiguous.
    Bias and ReLU are applied per block while the block is in cache.
    """
    rows = target.shape[0]
    block = max(256, BLOCK_BYTES // max(1, target.shape[1] * target.itemsize))
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        out = target[start:stop]
        if bias is not None:
            np.copyto(out, bias)
        for index, (tap, offset) in enumerate(zip(taps, offsets)):
            matmul_into(source[start + offset:stop + offset], tap, out, accumulate=bias is not None or index > 0)
        if relu:
            np.maximum(out, 0, out=out)


def tap_offsets(kernel_hw: tuple[int, int], padded_width: int) -> list[int]:
    """Row offset of each window tap, (kh, kw) in row-major order, on a grid of ``padded_width`` columns."""
    kernel_h, kernel_w = kernel_hw
    return [kh * padded_width + kw for kh in range(kernel_h) for kw in range(kernel_w)]


def pad_nhwc(x_nhwc: np.ndarray, pads: tuple[int, int, int, int], dtype, min_hw=(0, 0)) -> np.ndarray:
    """Zero-padded copy ``[N, H+top+bottom, W+left+right, C]``, with more zero
    rows and columns at the end if needed to reach ``min_hw``."""
    top, bottom, left, right = pads
    batch, height, width, channels = x_nhwc.shape
    extent_h, extent_w = max(height + top + bottom, min_hw[0]), max(width + left + right, min_hw[1])
    padded = np.zeros((batch, extent_h, extent_w, channels), dtype=dtype)
    padded[:, top:top + height, left:left + width] = x_nhwc
    return padded


def output_hw(padded_hw, kernel_hw, stride_hw) -> tuple[int, int]:
    return tuple((size - kernel) // stride + 1 for size, kernel, stride in zip(padded_hw, kernel_hw, stride_hw))


def uses_shifted_gemms(padded_shape, kernel_hw, stride_hw) -> bool:
    batch, padded_h, padded_w, _ = padded_shape
    return tuple(stride_hw) == (1, 1) and batch * padded_h * padded_w >= SHIFTED_MIN_ROWS


def conv_forward(padded: np.ndarray, weight: np.ndarray, stride_hw) -> np.ndarray:
    """Cross-correlation without bias: padded ``[N, Hp, Wp, Cin]`` (*) HWIO weight -> ``[N, Ho, Wo, Cout]``.

    The result may be a non-contiguous view.
    """
    kernel_hw = weight.shape[:2]
    if uses_shifted_gemms(padded.shape, kernel_hw, stride_hw):
        return _forward_shifted(padded, weight)
    return _forward_im2col(padded, weight, stride_hw)


def conv_backward(dout: np.ndarray, padded: np.ndarray, weight: np.ndarray, stride_hw):
    """Gradients of ``conv_forward``: dout ``[N, Ho, Wo, Cout]`` -> (dpadded ``[N, Hp, Wp, Cin]``,
    dweight in OIHW ``[Cout, Cin, KH, KW]``, the layout ``conv.py`` returns)."""
    kernel_hw = weight.shape[:2]
    if uses_shifted_gemms(padded.shape, kernel_hw, stride_hw):
        dout_grid = dout_on_grid(dout, padded.shape, kernel_hw)
        return (input_gradient_shifted(dout_grid, padded.shape, weight),
                weight_gradient(dout, padded, kernel_hw, stride_hw, dout_grid))
    return _backward_im2col(dout, padded, weight, stride_hw)


def weight_gradient(dout: np.ndarray, padded: np.ndarray, kernel_hw, stride_hw, dout_grid=None) -> np.ndarray:
    """dweight OIHW ``[Cout, Cin, KH, KW]`` from dout ``[N, Ho, Wo, Cout]`` and the padded input
    ``[N, Hp, Wp, Cin]``, by whichever GEMM scheme suits the size. ``dout_grid``: the caller's
    ``dout_on_grid``, if it has one."""
    if _im2col_bytes(padded, kernel_hw, stride_hw) <= IM2COL_MAX_BYTES or stride_hw != (1, 1):
        return weight_gradient_im2col(dout, padded, kernel_hw, stride_hw)
    if dout_grid is None:
        dout_grid = dout_on_grid(dout, padded.shape, kernel_hw)
    return weight_gradient_shifted(dout_grid, padded, kernel_hw)


def weight_gradient_im2col(dout: np.ndarray, padded: np.ndarray, kernel_hw, stride_hw) -> np.ndarray:
    """dweight OIHW as one GEMM: dout rows, transposed, @ the im2col rows of the padded input."""
    channels = padded.shape[3]
    cols = im2col(padded, kernel_hw, stride_hw)
    dout_rows = np.ascontiguousarray(dout, dtype=padded.dtype).reshape(cols.shape[0], -1)
    dweight = np.empty((dout_rows.shape[1], cols.shape[1]), dtype=padded.dtype)       # [Cout, (KH, KW, Cin)]
    matmul_into(dout_rows.T, cols, dweight)
    return np.ascontiguousarray(dweight.reshape(-1, *kernel_hw, channels).transpose(0, 3, 1, 2))


def _im2col_bytes(padded: np.ndarray, kernel_hw, stride_hw) -> int:
    out_h, out_w = output_hw(padded.shape[1:3], kernel_hw, stride_hw)
    return padded.shape[0] * out_h * out_w * kernel_hw[0] * kernel_hw[1] * padded.shape[3] * padded.itemsize


def _forward_shifted(padded, weight):
    batch, padded_h, padded_w, channels = padded.shape
    kernel_h, kernel_w, _, channels_out = weight.shape
    offsets = tap_offsets((kernel_h, kernel_w), padded_w)
    grid = np.empty((batch, padded_h, padded_w, channels_out), dtype=padded.dtype)
    rows = grid[..., 0].size - offsets[-1]
    taps = [weight[kh, kw] for kh in range(kernel_h) for kw in range(kernel_w)]
    shifted_gemm(padded.reshape(-1, channels), taps, offsets, grid.reshape(-1, channels_out)[:rows])
    out_h, out_w = padded_h - kernel_h + 1, padded_w - kernel_w + 1
    return grid[:, :out_h, :out_w]


def dout_on_grid(dout: np.ndarray, padded_shape, kernel_hw) -> np.ndarray:
    """dout placed on the forward's padded grid, zero at the positions whose window did not
    fit (they must contribute nothing), behind ``max(offsets)`` rows of zeros:
    ``[lead + N*Hp*Wp, Cout]``; rows from ``lead`` on are the grid."""
    batch, padded_h, padded_w, _ = padded_shape
    out_h, out_w, channels_out = dout.shape[1:]
    lead = tap_offsets(kernel_hw, padded_w)[-1]
    shifted = np.zeros((lead + batch * padded_h * padded_w, channels_out), dtype=dout.dtype)
    shifted[lead:].reshape(batch, padded_h, padded_w, channels_out)[:, :out_h, :out_w] = dout
    return shifted


def weight_gradient_shifted(dout_grid: np.ndarray, padded: np.ndarray, kernel_hw) -> np.ndarray:
    """dweight OIHW: for each tap, dout on the grid, transposed, @ the padded rows shifted by the tap."""
    padded_w, channels = padded.shape[2:]
    offsets = tap_offsets(kernel_hw, padded_w)
    grid = dout_grid[offsets[-1]:]
    rows = grid.shape[0] - offsets[-1]
    flat = padded.reshape(-1, channels)
    per_tap = np.empty((len(offsets), grid.shape[1], channels), dtype=padded.dtype)      # [KH*KW, Cout, Cin]
    for tap, offset in enumerate(offsets):
        matmul_into(grid[:rows].T, flat[offset:offset + rows], per_tap[tap])
    # tap-major to OIHW moves the short axis innermost: 3x faster than an HWIO -> OIHW copy
    return np.ascontiguousarray(per_tap.transpose(1, 2, 0)).reshape(grid.shape[1], channels, *kernel_hw)


def input_gradient_shifted(dout_grid: np.ndarray, padded_shape, weight: np.ndarray) -> np.ndarray:
    """dpadded, the "full" correlation of dout with the flipped kernel:
    dpadded[p] = sum_t grid[p - offsets[t]] @ weight[t].T, a shifted GEMM with flipped taps
    reading the zero rows in front of the grid."""
    kernel_h, kernel_w = weight.shape[:2]
    offsets = tap_offsets((kernel_h, kernel_w), padded_shape[2])
    flipped_taps = [weight[kernel_h - 1 - kh, kernel_w - 1 - kw].T for kh, kw in np.ndindex(kernel_h, kernel_w)]
    dpadded = np.empty(padded_shape, dtype=dout_grid.dtype)
    shifted_gemm(dout_grid, flipped_taps, offsets, dpadded.reshape(-1, padded_shape[3]))
    return dpadded


def im2col(padded: np.ndarray, kernel_hw, stride_hw) -> np.ndarray:
    """Windows of a padded NHWC batch as rows ``[N*Ho*Wo, KH*KW*Cin]``, each ordered (KH, KW, Cin)."""
    batch, padded_h, padded_w, channels = padded.shape
    (kernel_h, kernel_w), (stride_h, stride_w) = kernel_hw, stride_hw
    out_h, out_w = output_hw((padded_h, padded_w), kernel_hw, stride_hw)
    windows = sliding_window_view(padded, (kernel_h, kernel_w), axis=(1, 2))[:, ::stride_h, ::stride_w]
    cols = np.empty((batch, out_h, out_w, kernel_h, kernel_w, channels), dtype=padded.dtype)
    np.copyto(cols, windows.transpose(0, 1, 2, 4, 5, 3))
    return cols.reshape(batch * out_h * out_w, -1)


def col2im(dcols: np.ndarray, padded_shape, kernel_hw, stride_hw) -> np.ndarray:
    """Adjoint of ``im2col``: each row's gradient added back to its window, ``[N, Hp, Wp, Cin]``."""
    batch, padded_h, padded_w, channels = padded_shape
    (kernel_h, kernel_w), (stride_h, stride_w) = kernel_hw, stride_hw
    out_h, out_w = output_hw((padded_h, padded_w), kernel_hw, stride_hw)
    dcols = dcols.reshape(batch, out_h, out_w, kernel_h, kernel_w, channels)
    dpadded = np.zeros(padded_shape, dtype=dcols.dtype)
    for kh, kw in np.ndindex(kernel_h, kernel_w):
        # within one tap the strided positions are distinct, so += is exact
        dpadded[:, kh:kh + stride_h * (out_h - 1) + 1:stride_h,
                kw:kw + stride_w * (out_w - 1) + 1:stride_w] += dcols[:, :, :, kh, kw]
    return dpadded


def _forward_im2col(padded, weight, stride_hw):
    batch = padded.shape[0]
    out_h, out_w = output_hw(padded.shape[1:3], weight.shape[:2], stride_hw)
    cols = im2col(padded, weight.shape[:2], stride_hw)
    out = np.empty((cols.shape[0], weight.shape[3]), dtype=padded.dtype)
    matmul_into(cols, weight.reshape(-1, weight.shape[3]), out)
    return out.reshape(batch, out_h, out_w, -1)


def _backward_im2col(dout, padded, weight, stride_hw):
    kernel_h, kernel_w, channels, channels_out = weight.shape
    cols = im2col(padded, (kernel_h, kernel_w), stride_hw)
    dout_rows = np.ascontiguousarray(dout, dtype=padded.dtype).reshape(-1, channels_out)
    dweight = np.empty((channels_out, cols.shape[1]), dtype=padded.dtype)        # [Cout, (KH, KW, Cin)]
    matmul_into(dout_rows.T, cols, dweight)
    dcols = np.empty(cols.shape, dtype=padded.dtype)
    matmul_into(dout_rows, weight.reshape(-1, channels_out).T, dcols)
    dweight = np.ascontiguousarray(dweight.reshape(channels_out, kernel_h, kernel_w, channels).transpose(0, 3, 1, 2))
    return col2im(dcols, padded.shape, (kernel_h, kernel_w), stride_hw), dweight
