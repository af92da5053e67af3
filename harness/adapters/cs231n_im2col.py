"""A numpy stand-in for CS231n's compiled ``im2col_cython`` extension, given to a submission that lacks a
loadable one.

The course's fast_layers.py imports ``col2im_6d_cython`` (conv_backward_strides), ``im2col_cython`` and
``col2im_cython`` (the im2col path) from a Cython module students build with ``python setup.py build_ext
--inplace``. A hand-in carries the .pyx source, or a binary built for the student's own machine; without
it conv_backward_fast raises NameError inside the course's own code. The functions below compute what
im2col_cython.pyx computes, index for index (its loops are quoted in each docstring), vectorised.

This module is sent to the sandbox child (the interpreter's ``provide`` step): standard library and numpy only.
"""
import numpy as np


def _out_size(size, field, padding, stride):
    return (size + 2 * padding - field) // stride + 1


def _indices(C, field_height, field_width, out_h, out_w, stride):
    """(channel, row, column) of every cols[row, col] entry, rows (c, ii, jj) and columns (yy, xx, i)."""
    c = np.repeat(np.arange(C), field_height * field_width)
    ii = np.tile(np.repeat(np.arange(field_height), field_width), C)
    jj = np.tile(np.arange(field_width), C * field_height)
    rows = stride * np.repeat(np.arange(out_h), out_w)
    columns = stride * np.tile(np.arange(out_w), out_h)
    return c, ii[:, None] + rows[None, :], jj[:, None] + columns[None, :]


def im2col_cython(x, field_height, field_width, padding, stride):
    """cols[c * fw * fh + ii * fh + jj, yy * out_w * N + xx * N + i] = x_padded[i, c, stride*yy + ii, stride*xx + jj]
    (the .pyx's row index multiplies ii by field_height; equal to the row-major one for square fields)."""
    N, C, H, W = x.shape
    out_h, out_w = _out_size(H, field_height, padding, stride), _out_size(W, field_width, padding, stride)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    c, rows, columns = _indices(C, field_height, field_width, out_h, out_w, stride)
    patches = padded[:, c[:, None], rows, columns]                  # (N, C*fh*fw, out_h*out_w)
    cols = np.zeros((C * field_height * field_width, N * out_h * out_w), dtype=x.dtype)
    cols[_row_order(C, field_height, field_width)] = patches.transpose(1, 2, 0).reshape(len(c), -1)
    return cols


def col2im_cython(cols, N, C, H, W, field_height, field_width, padding, stride):
    """x_padded[i, c, stride*yy + ii, stride*xx + jj] += cols[c * fw * fh + ii * fh + jj, yy * out_w * N + xx * N + i],
    then the padding cropped off."""
    out_h, out_w = _out_size(H, field_height, padding, stride), _out_size(W, field_width, padding, stride)
    padded = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    c, rows, columns = _indices(C, field_height, field_width, out_h, out_w, stride)
    values = cols[_row_order(C, field_height, field_width)].reshape(len(c), out_h * out_w, N).transpose(2, 0, 1)
    np.add.at(padded, (slice(None), c[:, None], rows, columns), values)
    return padded[:, :, padding:padding + H, padding:padding + W]


def col2im_6d_cython(cols, N, C, H, W, HH, WW, pad, stride):
    """x_padded[n, c, stride*h + hh, stride*w + ww] += cols[c, hh, ww, n, h, w], then the padding cropped off."""
    out_h, out_w = _out_size(H, HH, pad, stride), _out_size(W, WW, pad, stride)
    padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for hh in range(HH):
        for ww in range(WW):
            padded[:, :, hh:hh + stride * (out_h - 1) + 1:stride, ww:ww + stride * (out_w - 1) + 1:stride] += \
                cols[:, hh, ww].transpose(1, 0, 2, 3)
    return padded[:, :, pad:pad + H, pad:pad + W]


def _row_order(C, field_height, field_width):
    """The .pyx's row of each (c, ii, jj) in row-major order: c * fw * fh + ii * fh + jj."""
    c = np.repeat(np.arange(C), field_height * field_width)
    ii = np.tile(np.repeat(np.arange(field_height), field_width), C)
    jj = np.tile(np.arange(field_width), C * field_height)
    return c * field_width * field_height + ii * field_height + jj
