"""2-D convolution (cross-correlation, as in every deep-learning framework and the labs).

x is NCHW ``[N, Cin, H, W]``, weight OIHW ``[Cout, Cin, KH, KW]`` (KH != KW
allowed), bias ``[Cout]`` or None, stride an int or ``(sh, sw)``, padding an
int, ``(ph, pw)``, ``(top, bottom, left, right)`` or ``"same"`` (stride 1 only;
an even kernel pads one less before than after, the framework notes' rule).
With the zero-padded input ``xp`` (lab formulas 3.2-3.6)::

    Ho = (H + top + bottom - KH) // sh + 1          Wo likewise
    out[n, o, i, j]  = sum_{c, kh, kw} xp[n, c, i*sh + kh, j*sw + kw] * weight[o, c, kh, kw] + bias[o]
    dweight[o, c, kh, kw] = sum_{n, i, j} dout[n, o, i, j] * xp[n, c, i*sh + kh, j*sw + kw]
    dbias[o]         = sum_{n, i, j} dout[n, o, i, j]
    dxp[n, c, i*sh + kh, j*sw + kw] += dout[n, o, i, j] * weight[o, c, kh, kw]   then dx = dxp cropped

Rows and columns of the padded input past the last full window take part in
no output, so their gradient is 0.

The fast functions run NHWC GEMMs (``_conv_gemm``); float64 3x3 / stride 1
layers with 64+ channels run Winograd F(4x4) or F(2x2) (``_winograd.choose``) for the
output and the input gradient. The ``_loop`` functions are the lab's four
loops. Converters for the other weight layouts in use: AICS
``[Cin, K, K, Cout]`` and MatConvNet ``[KH, KW, Cin, Cout]``.
"""
from __future__ import annotations

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError
from . import _conv_gemm, _winograd


# --- weight layouts ----------------------------------------------------------------------------

def aics_to_oihw(weight_cin_k_k_cout) -> np.ndarray:
    """AICS ``[Cin, K, K, Cout]`` -> OIHW ``[Cout, Cin, K, K]`` (a contiguous copy)."""
    return _relayout("weight_cin_k_k_cout", weight_cin_k_k_cout, (3, 0, 1, 2))


def oihw_to_aics(weight) -> np.ndarray:
    """OIHW ``[Cout, Cin, KH, KW]`` -> AICS ``[Cin, KH, KW, Cout]`` (a contiguous copy)."""
    return _relayout("weight", weight, (1, 2, 3, 0))


def matconvnet_to_oihw(weight_hwio) -> np.ndarray:
    """MatConvNet ``[KH, KW, Cin, Cout]`` -> OIHW ``[Cout, Cin, KH, KW]`` (a contiguous copy)."""
    return _relayout("weight_hwio", weight_hwio, (3, 2, 0, 1))


def oihw_to_matconvnet(weight) -> np.ndarray:
    """OIHW ``[Cout, Cin, KH, KW]`` -> MatConvNet ``[KH, KW, Cin, Cout]`` (a contiguous copy)."""
    return _relayout("weight", weight, (2, 3, 1, 0))


def _relayout(name, weight, axes) -> np.ndarray:
    weight = np.asarray(weight)
    _validate.require_ndim(name, weight, 4, "a convolution weight")
    return np.ascontiguousarray(weight.transpose(axes))


# --- arguments ---------------------------------------------------------------------------------

def _conv_arguments(x, weight, bias, stride, padding):
    """Validated (x, weight, bias, dtype, stride_hw, pads, out_hw)."""
    x = _validate.float_array("x", x)
    weight = _validate.float_array("weight", weight)
    _validate.require_ndim("x", x, 4, "NCHW")
    _validate.require_ndim("weight", weight, 4, "OIHW [Cout, Cin, KH, KW]")
    channels_out, channels_in, kernel_h, kernel_w = weight.shape
    if x.shape[1] != channels_in:
        raise LayerArgumentError(
            f"weight expects Cin={channels_in} input channels (OIHW {weight.shape}) "
            f"but x has C={x.shape[1]} channels (shape {x.shape})")
    if bias is not None:
        bias = _validate.float_array("bias", bias)
        if bias.shape != (channels_out,):
            raise LayerArgumentError(f"bias must have shape ({channels_out},) (one per output channel), "
                                     f"got {bias.shape}")
    stride_hw = _validate.pair("stride", stride)
    if isinstance(padding, str) and padding == "same" and stride_hw != (1, 1):
        raise LayerArgumentError(f'padding="same" is defined for stride 1 only, got stride={stride!r}')
    pads = _validate.padding4("padding", padding, (kernel_h, kernel_w))
    top, bottom, left, right = pads
    out_hw = (_validate.output_size("height", x.shape[2], kernel_h, stride_hw[0], top, bottom),
              _validate.output_size("width", x.shape[3], kernel_w, stride_hw[1], left, right))
    arrays = (x, weight) if bias is None else (x, weight, bias)
    return x, weight, bias, _validate.result_dtype(*arrays), stride_hw, pads, out_hw


def _check_dout(dout, expected_shape):
    dout = _validate.float_array("dout", dout)
    if dout.shape != expected_shape:
        raise LayerArgumentError(f"dout must have the output's shape {expected_shape} (NCHW), got {dout.shape}")
    return dout


def _compute_dtype(dtype) -> np.dtype:
    """float16 is computed in float32 (BLAS has no half precision) and rounded at the end."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


# --- fast ---------------------------------------------------------------------------------------

def conv2d_forward(x, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    """``[N, Cin, H, W]`` (*) ``[Cout, Cin, KH, KW]`` + bias -> ``[N, Cout, Ho, Wo]`` (see the module docstring)."""
    x, weight, bias, dtype, stride_hw, pads, out_hw = _conv_arguments(x, weight, bias, stride, padding)
    compute = _compute_dtype(dtype)
    weight = weight.astype(compute, copy=False)
    x_nhwc = x.transpose(0, 2, 3, 1)
    variant = _winograd_variant(weight, x.shape[0], stride_hw, out_hw)
    if variant is not None:
        filters = _winograd.transform_filters(variant, weight).transpose(0, 2, 1)
        padded = _conv_gemm.pad_nhwc(x_nhwc, pads, compute, _tiled(variant, out_hw))
        out_nhwc = _winograd_valid(variant, padded, out_hw, filters)
    else:
        out_nhwc = _conv_gemm.conv_forward(_conv_gemm.pad_nhwc(x_nhwc, pads, compute),
                                           oihw_to_matconvnet(weight), stride_hw)
    out = np.empty((x.shape[0], weight.shape[0]) + out_hw, dtype=compute)
    if bias is None:
        np.copyto(out, out_nhwc.transpose(0, 3, 1, 2))
    else:
        np.add(out_nhwc.transpose(0, 3, 1, 2), bias.astype(compute)[:, None, None], out=out)
    return out.astype(dtype, copy=False)


def conv2d_backward(dout, x, weight, stride=1, padding=0):
    """Gradients ``(dx [N, Cin, H, W], dweight [Cout, Cin, KH, KW], dbias [Cout])`` of ``conv2d_forward``."""
    x, weight, _, dtype, stride_hw, pads, out_hw = _conv_arguments(x, weight, None, stride, padding)
    dout = _check_dout(dout, (x.shape[0], weight.shape[0]) + out_hw)
    dtype = _validate.result_dtype(x, weight, dout)
    compute = _compute_dtype(dtype)
    weight = weight.astype(compute, copy=False)
    x_nhwc, dout_nhwc = x.transpose(0, 2, 3, 1), dout.transpose(0, 2, 3, 1).astype(compute, copy=False)
    padded = _conv_gemm.pad_nhwc(x_nhwc, pads, compute)
    variant = _winograd_variant(weight, x.shape[0], stride_hw, out_hw)
    if variant is not None:
        dweight = _conv_gemm.weight_gradient(dout_nhwc, padded, (3, 3), stride_hw)
        dx_nhwc = _winograd_input_gradient(variant, dout_nhwc, weight, pads, x.shape[2:], compute)
    else:
        dpadded, dweight = _conv_gemm.conv_backward(dout_nhwc, padded, oihw_to_matconvnet(weight), stride_hw)
        top, _, left, _ = pads
        dx_nhwc = dpadded[:, top:top + x.shape[2], left:left + x.shape[3]]
    dx = np.ascontiguousarray(dx_nhwc.transpose(0, 3, 1, 2))
    dbias = dout.sum(axis=(0, 2, 3), dtype=compute)
    return dx.astype(dtype, copy=False), dweight.astype(dtype, copy=False), dbias.astype(dtype, copy=False)


def _winograd_variant(weight, batch, stride_hw, out_hw) -> _winograd.Winograd | None:
    """The Winograd algorithm for a 3x3 / stride 1 layer where it is faster, in float64 only:
    in float32 its ~30x larger rounding error (see _winograd) would eat into the
    harness's float32 tolerance, which a student's direct float32 sum must pass."""
    channels_out, channels_in = weight.shape[:2]
    if weight.shape[2:] != (3, 3) or stride_hw != (1, 1) or weight.dtype != np.float64:
        return None
    return _winograd.choose(channels_in, channels_out, batch, out_hw)


def _winograd_input_gradient(variant, dout_nhwc, weight, pads, image_hw, compute) -> np.ndarray:
    """dx ``[N, H, W, Cin]`` of a 3x3 / stride 1 layer: the valid correlation of dout with the flipped
    kernel, dout padded by 2 - pad on each side, so that only the unpadded image's rows and columns
    are computed (with a pad above 2 the full padded gradient is computed and cropped)."""
    filters = _winograd.transform_filters(variant, weight, flip=True)
    if max(pads) <= 2:
        dout_pads = tuple(2 - pad for pad in pads)
        dout_padded = _conv_gemm.pad_nhwc(dout_nhwc, dout_pads, compute, _tiled(variant, image_hw))
        return _winograd_valid(variant, dout_padded, tuple(image_hw), filters)
    top, bottom, left, right = pads
    padded_hw = (image_hw[0] + top + bottom, image_hw[1] + left + right)
    dout_padded = _conv_gemm.pad_nhwc(dout_nhwc, (2, 2, 2, 2), compute, _tiled(variant, padded_hw))
    dpadded = _winograd_valid(variant, dout_padded, padded_hw, filters)
    return dpadded[:, top:top + image_hw[0], left:left + image_hw[1]]


def _tiled(variant, out_hw) -> tuple[int, int]:
    return variant.tiled_size(out_hw[0]), variant.tiled_size(out_hw[1])


def _winograd_valid(variant, padded, out_hw, filters) -> np.ndarray:
    """Valid 3x3 correlation ``[N, Ho, Wo, Cout]`` (a view) of a padded NHWC batch, by Winograd."""
    tiles_h, tiles_w = variant.tiles_along(out_hw[0]), variant.tiles_along(out_hw[1])
    grid = np.empty((padded.shape[0], variant.step * tiles_h, variant.step * tiles_w, filters.shape[2]),
                    dtype=padded.dtype)
    _winograd.conv3x3(variant, padded, out_hw, filters, grid, workspace={})
    return grid[:, :out_hw[0], :out_hw[1]]


# --- loops (the lab's formulas, one output element at a time) ----------------------------------

def conv2d_forward_loop(x, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    """Same contract as ``conv2d_forward``: out[n, o, i, j] = sum(window * weight[o]) + bias[o]."""
    x, weight, bias, dtype, (stride_h, stride_w), pads, (out_h, out_w) = _conv_arguments(
        x, weight, bias, stride, padding)
    padded = _pad_nchw(x, pads, dtype)
    channels_out, _, kernel_h, kernel_w = weight.shape
    out = np.zeros((x.shape[0], channels_out, out_h, out_w), dtype=dtype)
    for n in range(x.shape[0]):
        for o in range(channels_out):
            for i in range(out_h):
                for j in range(out_w):
                    window = padded[n, :, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w]
                    out[n, o, i, j] = np.sum(window * weight[o]) + (0 if bias is None else bias[o])
    return out


def conv2d_backward_loop(dout, x, weight, stride=1, padding=0):
    """Same contract as ``conv2d_backward``, written like the AICS backward_raw."""
    x, weight, _, dtype, (stride_h, stride_w), pads, out_hw = _conv_arguments(x, weight, None, stride, padding)
    dout = _check_dout(dout, (x.shape[0], weight.shape[0]) + out_hw)
    dtype = _validate.result_dtype(x, weight, dout)
    padded = _pad_nchw(x, pads, dtype)
    channels_out, _, kernel_h, kernel_w = weight.shape
    dweight = np.zeros(weight.shape, dtype=dtype)
    dbias = np.zeros(channels_out, dtype=dtype)
    dpadded = np.zeros(padded.shape, dtype=dtype)
    for n in range(x.shape[0]):
        for o in range(channels_out):
            for i in range(out_hw[0]):
                for j in range(out_hw[1]):
                    rows = slice(i * stride_h, i * stride_h + kernel_h)
                    cols = slice(j * stride_w, j * stride_w + kernel_w)
                    dweight[o] += dout[n, o, i, j] * padded[n, :, rows, cols]
                    dbias[o] += dout[n, o, i, j]
                    dpadded[n, :, rows, cols] += dout[n, o, i, j] * weight[o]
    top, _, left, _ = pads
    height, width = x.shape[2:]
    return dpadded[:, :, top:top + height, left:left + width].copy(), dweight, dbias


def _pad_nchw(x, pads, dtype) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x.astype(dtype, copy=False), ((0, 0), (0, 0), (top, bottom), (left, right)))
