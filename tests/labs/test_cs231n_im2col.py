"""The numpy stand-in for CS231n's im2col_cython equals the .pyx's loops, transcribed here, index for index."""
import numpy as np
import pytest

from harness.adapters import cs231n_im2col as fast


def im2col_loops(x, fh, fw, padding, stride):
    N, C, H, W = x.shape
    HH, WW = (H + 2 * padding - fh) // stride + 1, (W + 2 * padding - fw) // stride + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((C * fh * fw, N * HH * WW), dtype=x.dtype)
    for c in range(C):
        for yy in range(HH):
            for xx in range(WW):
                for ii in range(fh):
                    for jj in range(fw):
                        row = c * fw * fh + ii * fh + jj
                        for i in range(N):
                            cols[row, yy * WW * N + xx * N + i] = x_padded[i, c, stride * yy + ii, stride * xx + jj]
    return cols


def col2im_loops(cols, N, C, H, W, fh, fw, padding, stride):
    HH, WW = (H + 2 * padding - fh) // stride + 1, (W + 2 * padding - fw) // stride + 1
    x_padded = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for c in range(C):
        for ii in range(fh):
            for jj in range(fw):
                row = c * fw * fh + ii * fh + jj
                for yy in range(HH):
                    for xx in range(WW):
                        for i in range(N):
                            x_padded[i, c, stride * yy + ii, stride * xx + jj] += cols[row, yy * WW * N + xx * N + i]
    return x_padded[:, :, padding:padding + H, padding:padding + W]


def col2im_6d_loops(cols, N, C, H, W, HH, WW, pad, stride):
    out_h, out_w = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    x_padded = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for n, c, hh, ww, h, w in np.ndindex(N, C, HH, WW, out_h, out_w):
        x_padded[n, c, stride * h + hh, stride * w + ww] += cols[c, hh, ww, n, h, w]
    return x_padded[:, :, pad:pad + H, pad:pad + W]


@pytest.mark.parametrize("shape, field, padding, stride", [((2, 3, 5, 5), 3, 1, 1), ((1, 2, 7, 6), 3, 0, 2),
                                                          ((3, 1, 4, 4), 2, 1, 2)])
def test_equal_to_the_pyx_loops(shape, field, padding, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    cols = fast.im2col_cython(x, field, field, padding, stride)
    np.testing.assert_array_equal(cols, im2col_loops(x, field, field, padding, stride))
    dcols = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(fast.col2im_cython(dcols, *shape, field, field, padding, stride),
                               col2im_loops(dcols, *shape, field, field, padding, stride), rtol=1e-12, atol=1e-12)
    N, C, H, W = shape
    out_h, out_w = (H + 2 * padding - field) // stride + 1, (W + 2 * padding - field) // stride + 1
    six = rng.standard_normal((C, field, field, N, out_h, out_w))
    np.testing.assert_allclose(fast.col2im_6d_cython(six, N, C, H, W, field, field, padding, stride),
                               col2im_6d_loops(six, N, C, H, W, field, field, padding, stride), rtol=1e-12, atol=1e-12)
