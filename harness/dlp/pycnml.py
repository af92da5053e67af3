"""An emulation of ``pycnml``, the SWIG module over Cambricon CNML the AICS labs 2-2 and 3-2 call (MLU270).

The API and its behaviour follow the C++ sources the module was built from
(net.hpp / net.cpp and the layer classes): the same names, argument checks as
SWIG makes them, shapes, layer bookkeeping and messages. The numerics (float16
activations, int8 convolution and MLP) are :mod:`numerics`', where what is
known and what is assumed about the board is listed.

Bookkeeping that students meet, as the C++ does it:

* ``setInputShape`` appends a ``cast_in`` layer (float32 -> float16); the
  first ``loadParams`` appends ``cast_out`` (float16 -> float32).
* ``size()`` is the number of layers minus 2 and ``getLayerName(i)`` names
  layer i + 1 of the list (skipping cast_in): before the first ``loadParams``
  there is no cast_out yet, so the course's ``for idx in range(self.net.size())``
  visits every layer but the last (the softmax).
* ``loadParams(i, ...)`` loads layer i + 1 of the list; conv filters are
  ``[Cout, Cin, KH, KW]`` and MLP filters ``[out, C*H*W]`` (NCHW order of the
  layer's input), both flattened.
* The flatten layer transposes NCHW to NHWC, reshapes, and transposes back: the
  flattened vector runs in (H, W, C) order, matching fc6's MatConvNet rows.
* ``getOutputData()`` returns a tuple of floats (SWIG's std::vector<float>),
  the output in NCHW order.

Where the board would read uninitialised memory or exit the process (a
forward before the parameters are loaded, data of the wrong size), the
emulation raises an exception that says what the board would have done.

This module is sent to the sandboxed child (as ``nnlab_dlp.pycnml``, imported
by submissions as ``pycnml``): standard library and numpy only.
"""
from __future__ import annotations

import sys

import numpy as np

from . import numerics as nx

__emulator__ = "nnlab-harness numpy emulation of pycnml (CNML, MLU270)"

CNML_1H8, CNML_1H16, CNML_C10, CNML_1H8MINI, CNML_MLU100, CNML_MLU270, CNML_MLU220 = 1, 2, 3, 4, 3, 5, 6
VECTOR_TYPE = "vector< float >"


def _to_int(value):
    return nx.int_argument(value, "IntVector___setitem__", 3)


def _to_float(value):
    return nx.float_argument(value, "FloatVector___setitem__", 3)


IntVector = nx.vector_class("IntVector", _to_int)
FloatVector = nx.vector_class("FloatVector", _to_float)
DoubleVector = nx.vector_class("DoubleVector", lambda value: nx.float_argument(value, "DoubleVector___setitem__", 3,
                                                                                    single=False))


class QuantParam:
    """pycnml.QuantParam(position: int, scale: float): float = int8 * 2^position / scale. QuantParam() is (0, 1.0)."""

    def __init__(self, *args):
        if len(args) == 0:
            position, scale = 0, 1.0
        elif len(args) == 2:
            position = nx.int_argument(args[0], "new_QuantParam", 1)
            scale = nx.float_argument(args[1], "new_QuantParam", 2)
        else:
            raise TypeError("Wrong number or type of arguments for overloaded function 'new_QuantParam'.\n"
                            "  Possible C/C++ prototypes are:\n    QuantParam::QuantParam()\n"
                            "    QuantParam::QuantParam(int,float)\n")
        self.position, self.scale = position, scale

    def __setattr__(self, name, value):
        if name == "position":
            value = nx.int_argument(value, "QuantParam_position_set", 2)
        elif name == "scale":
            value = nx.float_argument(value, "QuantParam_scale_set", 2)
        else:
            raise AttributeError(f"You cannot add instance attributes to {type(self).__name__}")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"<pycnml.QuantParam position={self.position} scale={self.scale!r} (emulated)>"


def _quant(value, method: str, argument: int) -> tuple[int, float]:
    if not isinstance(value, QuantParam):
        raise nx.ArgumentError(f"in method '{method}', argument {argument} of type 'QuantParam' "
                               f"(the emulated pycnml: got {type(value).__name__}; use pycnml.QuantParam(position, scale))")
    return value.position, value.scale


class BoardError(RuntimeError):
    """What the board would do instead of raising: exit the process, or compute on uninitialised memory."""


class _Layer:
    def __init__(self, kind: str, name: str, in_shape, out_shape, **settings):
        self.kind, self.name = kind, name
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.settings = settings
        self.loaded = False
        self.weight = self.bias = None          # int8 codes, conv (KH, KW, Cin, Cout), mlp (out, in); float16 bias
        self.step = 1.0                         # the product of the input's and the filter's int8 steps


def _shape_text(shape) -> str:
    return "[" + " ".join(str(d) for d in shape) + "]"


class CnmlNet:
    """pycnml.CnmlNet(core_num=1, core_version=CNML_MLU270): a network built layer by layer, then run."""

    def __init__(self, *args):
        if len(args) > 2:
            raise TypeError("Wrong number or type of arguments for overloaded function 'new_CnmlNet'.")
        self.core_num = nx.int_argument(args[0], "new_CnmlNet", 1) if args else 1
        self.core_version = nx.int_argument(args[1], "new_CnmlNet", 2) if len(args) > 1 else CNML_MLU270
        self._layers: list[_Layer] = []
        self._input_shape: tuple = ()
        self._output_shape: tuple = ()
        self._first = True
        self._input: np.ndarray | None = None
        self._output: tuple = ()
        self._input_shapes_set = 0
        print(f"CORE NUM: {self.core_num}")
        print(f"CORE VERSION: {self.core_version}")

    # --- building ---------------------------------------------------------------------------------
    def setInputShape(self, dim_1, dim_2, dim_3, dim_4):
        shape = tuple(nx.int_argument(d, "CnmlNet_setInputShape", i + 2) for i, d in enumerate((dim_1, dim_2, dim_3, dim_4)))
        self._input_shape = self._output_shape = shape
        self._input_shapes_set += 1
        self._layers.append(_Layer("cast_in", "cast_in", shape, shape))

    def _layer_input(self) -> tuple:
        if self._first:
            if not self._input_shape:
                raise BoardError("ERROR : The input shape is empty ! You should set input shape first . "
                                 "(pycnml exits the process here)")
            print(f"input_shape: {_shape_text(self._input_shape)}")
            self._first = False
            return self._input_shape
        return self._output_shape

    def _add(self, layer: _Layer) -> None:
        self._output_shape = layer.out_shape
        print(f"output_shape: {_shape_text(layer.out_shape)}")
        self._layers.append(layer)

    def createConvLayer(self, layer_name, out_channel, kernel_size, stride, dilation, pad, quant_param):
        method = "CnmlNet_createConvLayer"
        name = nx.string_argument(layer_name, method, 2)
        out_channel, kernel, stride, dilation, pad = (nx.int_argument(v, method, i + 3) for i, v in
                                                      enumerate((out_channel, kernel_size, stride, dilation, pad)))
        position, scale = _quant(quant_param, method, 8)
        in_shape = self._layer_input()
        print("creating conv layer ...")
        n, c, h, w = in_shape
        # pycnml's own output shape ignores the dilation (net.cpp); CNML's operator would not
        out_h, out_w = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        if min(out_channel, kernel, stride, dilation) < 1 or pad < 0 or out_h < 1 or out_w < 1:
            raise BoardError(f"createConvLayer({name!r}): out_channel {out_channel}, kernel {kernel}, stride {stride}, "
                             f"dilation {dilation}, pad {pad} give no valid convolution of a {h}x{w} input")
        if (nx.conv_output_size(h, kernel, stride, dilation, pad), nx.conv_output_size(w, kernel, stride, dilation, pad)) \
                != (out_h, out_w):
            raise BoardError(f"createConvLayer({name!r}): with dilation {dilation} CNML's convolution does not give the "
                             f"{out_h}x{out_w} output pycnml declares (it computes the size without the dilation)")
        self._add(_Layer("conv", name, in_shape, (n, out_channel, out_h, out_w), kernel=kernel, stride=stride,
                         dilation=dilation, pad=pad, input_quant=(position, scale)))

    def createMlpLayer(self, layer_name, output_num, quant_param):
        method = "CnmlNet_createMlpLayer"
        name = nx.string_argument(layer_name, method, 2)
        output_num = nx.int_argument(output_num, method, 3)
        position, scale = _quant(quant_param, method, 4)
        in_shape = self._layer_input()
        print("creating mlp layer ...")
        if output_num < 1:
            raise BoardError(f"createMlpLayer({name!r}): output_num must be positive, got {output_num}")
        self._add(_Layer("mlp", name, in_shape, (in_shape[0], output_num, 1, 1), input_quant=(position, scale)))

    def createReLuLayer(self, layer_name):
        name = nx.string_argument(layer_name, "CnmlNet_createReLuLayer", 2)
        in_shape = self._layer_input()
        print("creating relu layer ...")
        self._add(_Layer("relu", name, in_shape, in_shape))

    def createSoftmaxLayer(self, layer_name, axis):
        name = nx.string_argument(layer_name, "CnmlNet_createSoftmaxLayer", 2)
        axis = nx.int_argument(axis, "CnmlNet_createSoftmaxLayer", 3)
        in_shape = self._layer_input()
        print("creating softmax layer ...")
        if not 0 <= axis < 4:
            raise BoardError(f"createSoftmaxLayer({name!r}): axis {axis} is not one of the 4 axes of {_shape_text(in_shape)}")
        self._add(_Layer("softmax", name, in_shape, in_shape, axis=axis))

    def createPoolingLayer(self, layer_name, kernel_size, stride):
        method = "CnmlNet_createPoolingLayer"
        name = nx.string_argument(layer_name, method, 2)
        kernel, stride = nx.int_argument(kernel_size, method, 3), nx.int_argument(stride, method, 4)
        in_shape = self._layer_input()
        print("creating pooling layer ...")
        n, c, h, w = in_shape
        if kernel < 1 or stride < 1 or h < kernel or w < kernel:
            raise BoardError(f"createPoolingLayer({name!r}): a {kernel}x{kernel} window with stride {stride} "
                             f"does not fit a {h}x{w} input")
        out_shape = (n, c, (h - kernel) // stride + 1, (w - kernel) // stride + 1)
        self._add(_Layer("pool", name, in_shape, out_shape, kernel=kernel, stride=stride))

    def createFlattenLayer(self, layer_name, output_shape):
        method = "CnmlNet_createFlattenLayer"
        name = nx.string_argument(layer_name, method, 2)
        shape = tuple(nx.int_vector(output_shape, method, 3, "vector< int >"))
        in_shape = self._layer_input()
        print("creating flatten layer ...")
        if len(shape) != 4 or int(np.prod(shape)) != int(np.prod(in_shape)) or min(shape) < 1:
            raise BoardError(f"createFlattenLayer({name!r}): output shape {list(shape)} does not hold the "
                             f"{int(np.prod(in_shape))} values of its input {_shape_text(in_shape)} in 4 dimensions")
        self._add(_Layer("flatten", name, in_shape, shape))

    # --- parameters -------------------------------------------------------------------------------
    def loadParams(self, layer_id, filter_data, bias_data, quant_param):
        method = "CnmlNet_loadParams"
        layer_id = nx.int_argument(layer_id, method, 2)
        weight = nx.float_vector(filter_data, method, 3, VECTOR_TYPE, copy=False)      # used at once
        bias = nx.float_vector(bias_data, method, 4, VECTOR_TYPE)
        position, scale = _quant(quant_param, method, 5)
        if self._layers and self._layers[-1].kind not in ("cast_in", "cast_out"):
            self._layers.append(_Layer("cast_out", "cast_out", self._output_shape, self._output_shape))
        layer = self._layer_at(layer_id + 1, f"loadParams({layer_id}, ...)")
        print(f"loading params for layer {layer.name} ...")
        print(f"weight size: {weight.size}")
        if layer.kind == "conv":
            self._load_conv(layer, weight, bias, position, scale)
        elif layer.kind == "mlp":
            self._load_mlp(layer, weight, bias, position, scale)
        else:
            raise BoardError(f"ERROR : This layer is not conv or mlp ! layer name is : {layer.name} "
                             f"(loadParams({layer_id}, ...); pycnml exits the process here)")
        layer.loaded = True

    def _load_conv(self, layer, weight, bias, position, scale):
        n, cin, _, _ = layer.in_shape
        cout, k = layer.out_shape[1], layer.settings["kernel"]
        _check_size(layer, "filter", weight, (cout, cin, k, k), "[out_channel, in_channel, kernel_h, kernel_w]")
        _check_size(layer, "bias", bias, (cout,), "[out_channel]")
        codes = nx.quantize_int8(weight, position, scale).reshape(cout, cin, k, k)
        layer.weight = np.ascontiguousarray(codes.transpose(2, 3, 1, 0))
        layer.bias = nx.to_fp16(bias)
        layer.step = nx.step(*layer.settings["input_quant"]) * nx.step(position, scale)

    def _load_mlp(self, layer, weight, bias, position, scale):
        n, c, h, w = layer.in_shape
        out = layer.out_shape[1]
        _check_size(layer, "filter", weight, (out, c * h * w), "[output_num, input_size] (NCHW order of the input)")
        _check_size(layer, "bias", bias, (out,), "[output_num]")
        # the MLP filter is stored as float16 and quantized from there (CnmlMlpLayer::loadParam)
        layer.weight = nx.quantize_int8(weight, position, scale, through_fp16=True).reshape(out, c * h * w)
        layer.bias = nx.to_fp16(bias)
        layer.step = nx.step(*layer.settings["input_quant"]) * nx.step(position, scale)

    def _layer_at(self, index: int, call: str) -> _Layer:
        if not 0 <= index < len(self._layers):
            raise IndexError(f"{call}: there is no layer {index - 1} (the network has {self.size()} layers besides "
                             "its cast layers; the board would read past the end of its layer list)")
        return self._layers[index]

    # --- running ----------------------------------------------------------------------------------
    def setInputData(self, data):
        self._input = nx.float_vector(data, "CnmlNet_setInputData", 2, VECTOR_TYPE)

    def forward(self):
        x = self._network_input()
        for layer in self._layers[1:]:
            x = self._run(layer, x)
        if self._layers[-1].kind != "cast_out":
            raise BoardError("forward(): the network has no output cast (pycnml appends it at the first loadParams "
                             "call), so the board would return float16 data read as float32")
        self._output = tuple(x.transpose(0, 3, 1, 2).ravel().tolist())

    def _network_input(self) -> np.ndarray:
        if not self._layers or self._layers[0].kind != "cast_in":
            raise BoardError("forward(): setInputShape was never called, so the network has no input")
        if self._input_shapes_set != 1:
            raise BoardError("forward(): setInputShape was called more than once; each call added an input cast "
                             "layer, and the second converts float16 data as if it were float32")
        if self._input is None:
            raise BoardError("forward(): setInputData was never called; the board would read unallocated memory")
        n, c, h, w = self._input_shape
        needed = n * c * h * w
        if self._input.size < needed:
            raise BoardError(f"forward(): setInputData gave {self._input.size} values but the input shape "
                             f"{_shape_text(self._input_shape)} holds {needed}; the board would read past them")
        if self._input.size > needed:
            print(f"pycnml (emulated): setInputData gave {self._input.size} values, the network reads the first "
                  f"{needed}", file=sys.stderr)
        return nx.to_fp16(self._input[:needed].reshape(n, c, h, w).transpose(0, 2, 3, 1))

    def _run(self, layer: _Layer, x: np.ndarray) -> np.ndarray:
        if layer.kind in ("conv", "mlp") and not layer.loaded:
            raise BoardError(f"ERROR: param of layer {layer.name} is not loaded ! (pycnml exits the process here)")
        if layer.kind == "cast_in":
            raise BoardError("forward(): setInputShape was called after layers were created")
        if layer.kind == "conv":
            s = layer.settings
            codes = nx.quantize(x, *s["input_quant"])
            total = nx.conv2d_nhwc(codes, layer.weight, s["stride"], s["pad"], s["dilation"])
            return nx.to_fp16(total * layer.step + layer.bias)
        if layer.kind == "mlp":
            n = x.shape[0]
            codes = nx.quantize(x.transpose(0, 3, 1, 2).reshape(n, -1), *layer.settings["input_quant"])
            total = nx.int_matmul(codes, layer.weight)
            return nx.to_fp16(total * layer.step + layer.bias).reshape(n, 1, 1, -1)
        if layer.kind == "relu":
            return np.maximum(x, 0)
        if layer.kind == "pool":
            return nx.maxpool_nhwc(x, layer.settings["kernel"], layer.settings["stride"])
        if layer.kind == "flatten":
            # NCHW -> NHWC -> reshape to (n, h, w, c) of the output -> NCHW: in NHWC storage, one reshape
            n, c, h, w = layer.out_shape
            return x.reshape(n, h, w, c)
        if layer.kind == "softmax":
            nhwc_axis = (0, 3, 1, 2)[layer.settings["axis"]]
            return nx.to_fp16(nx.softmax(x, nhwc_axis))
        if layer.kind == "cast_out":
            if layer is not self._layers[-1]:
                later = self._layers[self._layers.index(layer) + 1].name
                raise BoardError(f"forward(): layer {later!r} was created after the first loadParams call, which "
                                 "had already appended the output cast; the board would feed it float32 data as "
                                 "float16")
            return x
        raise BoardError(f"Error: Not support this layer type: {layer.kind}")

    def getOutputData(self):
        return self._output

    # --- inspection -------------------------------------------------------------------------------
    def size(self):
        return len(self._layers) - 2

    def getLayerName(self, layer_id):
        layer_id = nx.int_argument(layer_id, "CnmlNet_getLayerName", 2)
        return self._layer_at(layer_id + 1, f"getLayerName({layer_id})").name

    def needToBeQuantized(self, layer_id):
        layer_id = nx.int_argument(layer_id, "CnmlNet_needToBeQuantized", 2)
        return self._layer_at(layer_id + 1, f"needToBeQuantized({layer_id})").kind in ("conv", "mlp")


def _check_size(layer: _Layer, what: str, values: np.ndarray, shape: tuple, layout: str) -> None:
    expected = int(np.prod(shape))
    if values.size != expected:
        raise BoardError(f"loadParams for {layer.name}: {values.size} {what} values given, the layer needs "
                         f"{' * '.join(map(str, shape))} = {expected} in the order {layout}; the board would "
                         f"{'use uninitialised memory for the rest' if values.size < expected else 'write past its buffer'}")
