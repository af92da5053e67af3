"""The arithmetic of the Cambricon DLP libraries the AICS labs call, on numpy.

What is known (from the pycnml and pycnnl sources the course built its
modules from, and from cnml.h / cnrt.h of the MLU270 toolkit):

* pycnml (CNML, MLU270): every activation tensor is ``CNML_DATA_FLOAT16``;
  the input is cast from float32 to float16 by a ``cast_in`` layer and the
  output back to float32 by ``cast_out``. Convolution and MLP compute in
  INT8: their input is quantized with the layer's *input* (position, scale),
  their filter with the *filter* (position, scale); a conv filter is cast
  from float32 straight to int8 on the host (``cnrtCastDataType``), an MLP
  filter is stored as float16 and quantized from that. Biases are float16.
  ReLU, max pooling and softmax run in float16. The quantization formula is
  cnml.h's ``float = fix * 2^position / scale``, so
  ``fix = saturate(round(float * scale / 2^position))``.
* pycnnl (CNNL, MLU370): everything is ``CNNL_DTYPE_FLOAT`` in NHWC.

What is not published, and what this module does instead:

* the rounding mode of the quantizing casts: round half to even (``np.rint``);
  a tie needs ``x * scale / 2^position`` to be exactly k + 0.5, which real
  weights and images practically never produce;
* saturation: to the int8 range [-128, 127];
* the accumulator of the int8 products: exact (an int32 accumulator cannot
  overflow for the labs' layers), computed here with float32 GEMMs over at
  most 512 products, whose partial sums stay below 2^23 and are therefore
  exact, added up in float64;
* how the accumulator is rescaled and the bias added: in float64, rounded
  once to float16 (the output tensor's type);
* float16 overflow: IEEE infinity (the board may saturate instead);
* softmax: computed in float32 from the float16 logits, rounded to float16;
* CNNL's float32 convolution and matmul: float32 GEMMs (the MLU370 may use
  other summation orders; differences are at float32 rounding level).

Layouts: activations of pycnml are logically NCHW; this module keeps them as
NHWC arrays internally (a convolution's GEMM wants channels last) and the
callers convert at the API boundary. Every function documents its layout.

This module is sent to the sandboxed child (as ``nnlab_dlp.numerics``):
standard library and numpy only.
"""
from __future__ import annotations

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
# Products of two int8 values are at most 2^14 in magnitude, so a float32 dot product of up to
# 2^9 of them has exact partial sums (below 2^23 < 2^24); longer sums are split.
EXACT_TERMS = 512
FLOAT32_MAX = float(np.finfo(np.float32).max)


# --- precision -------------------------------------------------------------------------------------

def to_fp16(values) -> np.ndarray:
    """The float16 rounding (IEEE round half to even) of ``values``, as float32 holding those values."""
    return np.asarray(values).astype(np.float16).astype(np.float32)


def quantize(values, position: int, scale: float) -> np.ndarray:
    """int8 codes of ``values`` for (position, scale), as float32: clip(rint(x * scale / 2^position)).

    ``scale`` is taken as float32, as pycnml's QuantParam stores it; the multiply by
    2^-position is exact. Any shape.
    """
    factor = np.float32(np.float32(scale) * np.float32(2.0 ** -int(position)))
    codes = np.rint(np.asarray(values, dtype=np.float32) * factor)
    return np.clip(codes, INT8_MIN, INT8_MAX, out=codes)


def quantize_int8(values, position: int, scale: float, through_fp16: bool = False,
                  chunk: int = 1 << 22) -> np.ndarray:
    """:func:`quantize` as an int8 array, a chunk at a time (a VGG19 fc6 filter is 10^8 values).

    ``values`` is rounded to float32 first (the C++ side holds a vector<float>), and with
    ``through_fp16`` to float16 as well (an MLP filter is stored in float16 before it is quantized).
    """
    flat = np.asarray(values).reshape(-1)
    codes = np.empty(flat.size, dtype=np.int8)
    for start in range(0, flat.size, chunk):
        part = flat[start:start + chunk].astype(np.float32)
        codes[start:start + chunk] = quantize(to_fp16(part) if through_fp16 else part, position, scale)
    return codes.reshape(np.shape(values))


def dequantize(codes, position: int, scale: float) -> np.ndarray:
    """float64 values of int8 ``codes``: fix * 2^position / scale (cnml.h)."""
    return np.asarray(codes, dtype=np.float64) * step(position, scale)


def step(position: int, scale: float) -> float:
    """The value of one int8 step, 2^position / scale (scale as float32)."""
    return float(2.0 ** int(position) / np.float64(np.float32(scale)))


# --- exact integer products ------------------------------------------------------------------------

def int_matmul(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """a @ b_t.T for int8 codes, exactly, as float64.

    a: (M, K) integer-valued float32; b_t: (N, K) int8 (or integer-valued
    float32), the right operand stored as pycnml's MLP filter is, [out, in];
    |entries| <= 128. The K axis is cut into pieces of EXACT_TERMS so each
    float32 GEMM is exact; the pieces are summed in float64 (exact below 2^53).
    """
    total = np.zeros((a.shape[0], b_t.shape[0]), dtype=np.float64)
    for start in range(0, a.shape[1], EXACT_TERMS):
        piece = b_t[:, start:start + EXACT_TERMS].astype(np.float32)
        total += np.matmul(a[:, start:start + EXACT_TERMS], piece.T)
    return total


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, pad: int) -> int:
    """Output length along one axis of a symmetric-padded convolution (floor division)."""
    return (size + 2 * pad - (kernel - 1) * dilation - 1) // stride + 1


def _tap(padded: np.ndarray, row: int, col: int, out_hw, stride: int, dilation: int) -> np.ndarray:
    """The input values tap (row, col) of every output position sees: (N, Ho, Wo, C), a view."""
    out_h, out_w = out_hw
    top, left = row * dilation, col * dilation
    return padded[:, top:top + stride * (out_h - 1) + 1:stride, left:left + stride * (out_w - 1) + 1:stride]


def conv2d_nhwc(x: np.ndarray, weight: np.ndarray, stride: int, pad: int, dilation: int = 1,
                exact: bool = True) -> np.ndarray:
    """Cross-correlation of NHWC ``x`` with ``weight`` (KH, KW, Cin, Cout; int8 codes when ``exact``), zero padding.

    Returns (N, Ho, Wo, Cout) without bias. With ``exact`` the inputs must be
    int8 codes (integer-valued float32, |v| <= 128) and the result is the
    exact integer sum in float64 (im2col over groups of taps holding at most
    EXACT_TERMS columns, one float32 GEMM per group); otherwise one GEMM over
    all taps in x's precision, returned in that precision.
    """
    kh, kw, cin, cout = weight.shape
    n, h, w, _ = x.shape
    out_hw = (conv_output_size(h, kh, stride, dilation, pad), conv_output_size(w, kw, stride, dilation, pad))
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else x
    taps = [(row, col) for row in range(kh) for col in range(kw)]
    rows = n * out_hw[0] * out_hw[1]
    flat_weight = weight.reshape(kh * kw, cin, cout)
    if not exact:
        columns = np.concatenate([_tap(padded, r, c, out_hw, stride, dilation) for r, c in taps], axis=3)
        return np.matmul(columns.reshape(rows, -1), weight.reshape(-1, cout)).reshape(n, out_hw[0], out_hw[1], cout)
    total = np.zeros((rows, cout), dtype=np.float64)
    for channels in _channel_blocks(cin):
        per_group = max(1, EXACT_TERMS // (channels.stop - channels.start))
        for first in range(0, len(taps), per_group):
            group = range(first, min(first + per_group, len(taps)))
            columns = np.concatenate([_tap(padded, *taps[t], out_hw, stride, dilation)[..., channels] for t in group],
                                     axis=3)
            kernel = flat_weight[group.start:group.stop, channels].reshape(-1, cout).astype(np.float32)
            total += np.matmul(columns.reshape(rows, -1), kernel)
    return total.reshape(n, out_hw[0], out_hw[1], cout)


def _channel_blocks(channels: int) -> list:
    return [slice(start, min(start + EXACT_TERMS, channels)) for start in range(0, channels, EXACT_TERMS)]


def conv2d_nhwc_loops(x: np.ndarray, weight: np.ndarray, stride: int, pad: int, dilation: int = 1) -> np.ndarray:
    """The plain-loop form of :func:`conv2d_nhwc` (float64, one output position at a time), for tests."""
    kh, kw, cin, cout = weight.shape
    n, h, w, _ = x.shape
    out_h = conv_output_size(h, kh, stride, dilation, pad)
    out_w = conv_output_size(w, kw, stride, dilation, pad)
    padded = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((n, out_h, out_w, cout))
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for r in range(kh):
                    for c in range(kw):
                        pixel = padded[b, i * stride + r * dilation, j * stride + c * dilation]
                        out[b, i, j] += pixel @ weight[r, c].astype(np.float64)
    return out


# --- the other layers ------------------------------------------------------------------------------

def maxpool_nhwc(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Max pooling of NHWC ``x``, no padding, output floor((H - k) / s) + 1 (as pycnml and pycnnl)."""
    n, h, w, c = x.shape
    out_h, out_w = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = None
    for row in range(kernel):
        for col in range(kernel):
            window = x[:, row:row + stride * (out_h - 1) + 1:stride, col:col + stride * (out_w - 1) + 1:stride]
            out = window.copy() if out is None else np.maximum(out, window, out=out)
    return out


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax along ``axis`` in float32 (max subtracted), float32 result."""
    x = np.asarray(x, dtype=np.float32)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


# --- what the SWIG wrappers accept ------------------------------------------------------------------

class ArgumentError(TypeError):
    """An argument a SWIG wrapper would refuse; the message starts with SWIG's own wording."""


def float_vector(value, method: str, argument: int, type_name: str, copy: bool = True) -> np.ndarray:
    """``value`` as SWIG's std::vector<float> typemap converts it: a 1-D float32 copy, or with
    ``copy=False`` the float64 values (maybe the caller's own array: use them at once, before the
    caller can change them; round them to float32 as the vector would).

    SWIG (built as the course's scripts build it: ``swig -c++ -python``, no
    ``-castmode``) takes any Python sequence whose items are Python floats
    (numpy.float64 is one) or ints and refuses everything else with
    "in method 'CnmlNet_loadParams', argument 3 of type 'vector< float >'":
    a float32 array (numpy.float32 items are not floats), a 2-D array (its
    items are rows), a scalar, a generator. Values beyond float32's range are
    refused too (SWIG's overflow check). numpy integer arrays are accepted:
    under Python 2, the MLU270 image's Python, numpy's int64 is a subclass of
    int. A list mixing numpy.float32 items with floats is accepted here and
    refused by SWIG (it checks every item; this checks the array numpy makes).
    """
    def refuse(reason: str):
        return ArgumentError(f"in method '{method}', argument {argument} of type '{type_name}' "
                             f"(the emulated pycnml: {reason})")

    if isinstance(value, (str, bytes)) or not _is_sequence(value):
        raise refuse(f"a {type(value).__name__} is not a sequence of numbers")
    array = value if isinstance(value, np.ndarray) else np.asarray(list(value) if not isinstance(value, (list, tuple))
                                                                  else value)
    if array.ndim != 1:
        raise refuse(f"expected a flat sequence of numbers, got an array of shape {np.shape(array)}: "
                     "flatten it first" if array.ndim > 1 else "a 0-d array is not a sequence")
    kind, is_list = array.dtype.kind, not isinstance(value, np.ndarray)
    if kind == "f" and array.dtype != np.float64:
        raise refuse(f"its items are numpy.{array.dtype.name}, which SWIG does not convert to float; "
                     "pass .astype(np.float64) or .tolist()")
    if kind == "b" and not is_list:
        raise refuse("its items are numpy.bool_, which SWIG does not convert to float")
    if kind not in "fiub":
        raise refuse(f"its items are {array.dtype} values, not numbers")
    array = array.astype(np.float64, copy=False)
    if array.size and max(float(np.nanmax(array)), -float(np.nanmin(array))) > FLOAT32_MAX:
        raise refuse("a value is outside float32's range")
    return array.astype(np.float32) if copy else array


def _is_sequence(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    if isinstance(value, (list, tuple)):
        return True
    return hasattr(value, "__len__") and hasattr(value, "__getitem__") and not isinstance(value, dict)


def int_argument(value, method: str, argument: int) -> int:
    """An ``int`` argument as SWIG checks it: Python ints (and numpy integers, as under Python 2), not floats."""
    if isinstance(value, (bool, int, np.integer)):
        number = int(value)
        if -2 ** 31 <= number < 2 ** 31:
            return number
    raise ArgumentError(f"in method '{method}', argument {argument} of type 'int' "
                        f"(the emulated pycnml: got {type(value).__name__} {value!r})")


def float_argument(value, method: str, argument: int, single: bool = True) -> float:
    """A ``float`` (``single``) or ``double`` argument as SWIG checks it: Python floats and ints
    (numpy.float64 is a float; numpy.float32 is not). A float is rounded to single precision."""
    if isinstance(value, (bool, int, float, np.integer)):
        number = float(value)
        if not single:
            return number
        if abs(number) <= FLOAT32_MAX or number != number:
            return float(np.float32(number))
    raise ArgumentError(f"in method '{method}', argument {argument} of type 'float' "
                        f"(the emulated pycnml: got {type(value).__name__} {value!r})")


def string_argument(value, method: str, argument: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise ArgumentError(f"in method '{method}', argument {argument} of type 'string' "
                        f"(the emulated pycnml: got {type(value).__name__})")


def int_vector(value, method: str, argument: int, type_name: str) -> list:
    """SWIG's std::vector<int>: a sequence of ints (an IntVector, a list, a tuple)."""
    if isinstance(value, (str, bytes)) or not _is_sequence(value):
        raise ArgumentError(f"in method '{method}', argument {argument} of type '{type_name}' "
                            f"(the emulated library: a {type(value).__name__} is not a sequence of ints)")
    return [int_argument(item, method, argument) for item in list(value)]


def vector_class(name: str, convert):
    """A SWIG std::vector proxy: Vector(), Vector(n), Vector(n, value) or Vector(sequence); items type-checked."""
    class Vector(list):
        def __init__(self, *args):
            if not args:
                super().__init__()
            elif len(args) <= 2 and isinstance(args[0], (int, np.integer)) and not isinstance(args[0], bool):
                fill = convert(args[1]) if len(args) == 2 else convert(0)
                super().__init__([fill] * int(args[0]))
            elif len(args) == 1:
                super().__init__(convert(item) for item in args[0])
            else:
                raise TypeError(f"Wrong number or type of arguments for overloaded function 'new_{name}'.")

        def __setitem__(self, index, value):
            if isinstance(index, slice):
                super().__setitem__(index, [convert(item) for item in value])
            else:
                super().__setitem__(index, convert(value))

        def append(self, value):
            super().append(convert(value))

        def push_back(self, value):
            self.append(value)

        def size(self):
            return len(self)

    Vector.__name__ = Vector.__qualname__ = name
    return Vector
