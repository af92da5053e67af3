"""An emulation of ``pycnnl``, the SWIG module over Cambricon CNNL of the 2024 AICS labs (MLU370).

Follows net.h / net.cc / layers.cc of the course's pycnnl: no quantization
parameters, every tensor ``CNNL_DTYPE_FLOAT`` in ``CNNL_LAYOUT_NHWC``, and each
layer given its own input shape, so the caller states the shapes layer by
layer:

* ``createConvLayer(name, input_shape, out_channel, kernel, stride, dilation, pad)``:
  ``input_shape`` is [n, c, h, w] and the data it reads is NHWC; the filter is
  ``[out_channel, kernel_h, kernel_w, in_channel]`` (NHWC of the filter), flattened.
* ``createPoolingLayer(name, input_shape, kernel, stride)``: max, NHWC.
* ``createMlpLayer(name, input_shape, weight_shape, output_shape)``: a batched
  matmul ``input @ weight`` (no transposes) plus a bias over the last axis; for
  ``[1, 1, 1, 25088] @ [1, 1, 25088, 4096]`` the filter is [in, out] as
  MatConvNet stores it, and an NHWC pool5 is already in fc6's (H, W, C) row
  order, which is why the lab needs no flatten layer. With a batch of n
  (``input_shape[0]``), ``loadParams`` copies the one [in, out] filter it is
  given n times, as layers.cc does.
* ``createSoftmaxLayer(name, input_shape, axis)``: CNNL_SOFTMAX_MODE_LOW_DIMENSION,
  so the softmax runs over the last axis of ``input_shape`` whatever ``axis`` says.
* ``createReLuLayer(name)`` applies to the current output shape's values.
* ``loadParams(layer_id, filter, bias)`` and ``getLayerName(layer_id)`` count
  layers from 0 (there are no cast layers); ``size()`` is the number of layers.

Data flows as flat float32 buffers: each layer reads its declared input size
from the previous layer's output. Where the board would read past a buffer or
use uninitialised memory, the emulation raises an exception saying so.

This module is sent to the sandboxed child (as ``nnlab_dlp.pycnnl``, imported
by submissions as ``pycnnl``): standard library and numpy only.
"""
from __future__ import annotations

import sys

import numpy as np

from . import numerics as nx

__emulator__ = "nnlab-harness numpy emulation of pycnnl (CNNL, MLU370)"

VECTOR_TYPE = "std::vector< float,std::allocator< float > >"
INT_VECTOR_TYPE = "std::vector< int,std::allocator< int > >"

IntVector = nx.vector_class("IntVector", lambda value: nx.int_argument(value, "IntVector___setitem__", 3))
FloatVector = nx.vector_class("FloatVector", lambda value: nx.float_argument(value, "FloatVector___setitem__", 3))
DoubleVector = nx.vector_class("DoubleVector", lambda value: nx.float_argument(value, "DoubleVector___setitem__", 3,
                                                                                    single=False))


class BoardError(RuntimeError):
    """What the board would do instead of raising: exit the process, or compute on uninitialised memory."""


class _Layer:
    def __init__(self, kind: str, name: str, in_shape, **settings):
        self.kind, self.name, self.in_shape = kind, name, tuple(in_shape)
        self.settings = settings
        self.loaded = False
        self.weight = self.bias = None


def _count(shape) -> int:
    return int(np.prod(shape)) if len(shape) else 0


class CnnlNet:
    """pycnnl.CnnlNet(): a float32 NHWC network on the MLU370, built layer by layer with explicit shapes."""

    def __init__(self):
        self._layers: list[_Layer] = []
        self._input_shape: list = []
        self._output_shape: list = []
        self._input: np.ndarray | None = None
        self._output: tuple = ()
        print("Init success: ")

    # --- shapes -----------------------------------------------------------------------------------
    def setInputShape(self, *dims):
        if len(dims) not in (2, 4):
            raise TypeError("Wrong number or type of arguments for overloaded function 'CnnlNet_setInputShape'.")
        shape = [nx.int_argument(d, "CnnlNet_setInputShape", i + 2) for i, d in enumerate(dims)]
        self._input_shape, self._output_shape = list(shape), list(shape)

    def setOutputShape(self, *dims):
        if len(dims) not in (2, 3, 4):
            raise TypeError("Wrong number or type of arguments for overloaded function 'CnnlNet_setOutputShape'.")
        shape = [nx.int_argument(d, "CnnlNet_setOutputShape", i + 2) for i, d in enumerate(dims)]
        if len(shape) == 4:
            # net.cc writes the fourth dimension to index 4, past the end: the fourth stays as it was
            previous = self._output_shape[3] if len(self._output_shape) > 3 else 0
            shape[3] = previous
        self._output_shape = shape

    def _shape(self, value, method: str, argument: int, dims=(4,)) -> tuple:
        shape = tuple(nx.int_vector(value, method, argument, INT_VECTOR_TYPE))
        if len(shape) not in dims or min(shape, default=0) < 1:
            wanted = " or ".join(str(d) for d in dims)
            raise BoardError(f"{method.replace('CnnlNet_', '')}: input shape {list(shape)} must be {wanted} positive "
                             "dimensions")
        return shape

    def _set_output(self, shape) -> None:
        if len(self._output_shape) < len(shape):
            raise BoardError("the layer writes a 4-dimensional output shape but setInputShape was not called with "
                             "4 dimensions; net.cc would write past its shape vector")
        self._output_shape[:len(shape)] = list(shape)

    # --- building ---------------------------------------------------------------------------------
    def createConvLayer(self, layer_name, input_shape, out_channel, kernel_size, stride, dilation, pad):
        method = "CnnlNet_createConvLayer"
        name = nx.string_argument(layer_name, method, 2)
        in_shape = self._shape(input_shape, method, 3)
        out_channel, kernel, stride, dilation, pad = (nx.int_argument(v, method, i + 4) for i, v in
                                                      enumerate((out_channel, kernel_size, stride, dilation, pad)))
        n, c, h, w = in_shape
        out_h = nx.conv_output_size(h, kernel, stride, dilation, pad)
        out_w = nx.conv_output_size(w, kernel, stride, dilation, pad)
        if min(out_channel, kernel, stride, dilation) < 1 or pad < 0 or out_h < 1 or out_w < 1:
            raise BoardError(f"createConvLayer({name!r}): out_channel {out_channel}, kernel {kernel}, stride {stride}, "
                             f"dilation {dilation}, pad {pad} give no valid convolution of a {h}x{w} input")
        # net.cc's shape bookkeeping ignores the dilation; the operator's output does not
        self._set_output((n, out_channel, (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1))
        self._layers.append(_Layer("conv", name, in_shape, out_channel=out_channel, kernel=kernel, stride=stride,
                                   dilation=dilation, pad=pad, out_hw=(out_h, out_w)))

    def createMlpLayer(self, layer_name, input_shape, weight_shape, output_shape):
        method = "CnnlNet_createMlpLayer"
        name = nx.string_argument(layer_name, method, 2)
        in_shape = self._shape(input_shape, method, 3, (2, 3, 4))
        w_shape = self._shape(weight_shape, method, 4, (2, 3, 4))
        out_shape = self._shape(output_shape, method, 5, (2, 3, 4))
        print("creating mlp layer ...")
        if len(out_shape) != 4:
            raise BoardError(f"createMlpLayer({name!r}): the bias is sized by output_shape[3], so the output shape "
                             f"must have 4 dimensions, got {list(out_shape)}")
        try:
            product = np.broadcast_shapes(in_shape[:-2], w_shape[:-2]) + (in_shape[-2], w_shape[-1])
        except ValueError:
            product = None
        if product is None or in_shape[-1] != w_shape[-2] or tuple(product) != out_shape:
            raise BoardError(f"createMlpLayer({name!r}): input {list(in_shape)} times weight {list(w_shape)} does "
                             f"not give the output {list(out_shape)} (a batched matmul over the last two axes)")
        self._output_shape = list(out_shape)
        self._layers.append(_Layer("mlp", name, in_shape, weight_shape=w_shape, out_shape=out_shape))

    def createReLuLayer(self, layer_name):
        name = nx.string_argument(layer_name, "CnnlNet_createReLuLayer", 2)
        print("creating relu layer ...")
        self._layers.append(_Layer("relu", name, tuple(self._output_shape)))

    def createSoftmaxLayer(self, layer_name, input_shape, axis):
        method = "CnnlNet_createSoftmaxLayer"
        name = nx.string_argument(layer_name, method, 2)
        in_shape = self._shape(input_shape, method, 3, (2, 3))
        nx.int_argument(axis, method, 4)            # CNNL's low-dimension mode ignores it
        self._output_shape = list(in_shape) if len(in_shape) == 3 else list(in_shape) + [0]
        self._layers.append(_Layer("softmax", name, in_shape))

    def createPoolingLayer(self, layer_name, input_shape, kernel_size, stride):
        method = "CnnlNet_createPoolingLayer"
        name = nx.string_argument(layer_name, method, 2)
        in_shape = self._shape(input_shape, method, 3)
        kernel, stride = nx.int_argument(kernel_size, method, 4), nx.int_argument(stride, method, 5)
        print("creating pooling layer ...")
        n, c, h, w = in_shape
        if kernel < 1 or stride < 1 or h < kernel or w < kernel:
            raise BoardError(f"createPoolingLayer({name!r}): a {kernel}x{kernel} window with stride {stride} "
                             f"does not fit a {h}x{w} input")
        self._set_output((n, c, (h - kernel) // stride + 1, (w - kernel) // stride + 1))
        self._layers.append(_Layer("pool", name, in_shape, kernel=kernel, stride=stride))

    # --- parameters -------------------------------------------------------------------------------
    def loadParams(self, layer_id, filter_data, bias_data):
        method = "CnnlNet_loadParams"
        layer_id = nx.int_argument(layer_id, method, 2)
        weight = nx.float_vector(filter_data, method, 3, VECTOR_TYPE)
        bias = nx.float_vector(bias_data, method, 4, VECTOR_TYPE)
        layer = self._layer_at(layer_id, f"loadParams({layer_id}, ...)")
        print(f"loading params for layer {layer.name} ...")
        if layer.kind == "conv":
            n, cin, _, _ = layer.in_shape
            s = layer.settings
            shape = (s["out_channel"], s["kernel"], s["kernel"], cin)
            _check_size(layer, "filter", weight, shape, "[out_channel, kernel_h, kernel_w, in_channel]")
            _check_size(layer, "bias", bias, (s["out_channel"],), "[out_channel]")
            layer.weight = np.ascontiguousarray(weight.reshape(shape).transpose(1, 2, 3, 0))
        elif layer.kind == "mlp":
            w_shape, batch = layer.settings["weight_shape"], layer.in_shape[0]
            per_copy = _count(w_shape) // batch if batch > 1 else _count(w_shape)
            _check_size(layer, "filter", weight, (per_copy,), f"{list(w_shape[-2:])} (input, output)"
                        + (f", copied {batch} times" if batch > 1 else ""))
            _check_size(layer, "bias", bias, (layer.settings["out_shape"][3],), "[output]")
            # n copies of one matrix multiply like the matrix itself: keep one (k, n), not n of them
            layer.weight = weight.reshape(w_shape[-2:]) if batch > 1 else weight.reshape(w_shape)
        else:
            raise BoardError(f"ERROR : This layer is not conv or mlp ! layer name is : {layer.name} "
                             f"(loadParams({layer_id}, ...); pycnnl exits the process here)")
        layer.bias = bias
        layer.loaded = True

    def _layer_at(self, index: int, call: str) -> _Layer:
        if not 0 <= index < len(self._layers):
            raise IndexError(f"{call}: there is no layer {index} (the network has {len(self._layers)} layers; "
                             "the board would read past the end of its layer list)")
        return self._layers[index]

    # --- running ----------------------------------------------------------------------------------
    def setInputData(self, data):
        self._input = nx.float_vector(data, "CnnlNet_setInputData", 2, VECTOR_TYPE)

    def forward(self):
        if self._input is None:
            raise BoardError("forward(): setInputData was never called; the board would read unallocated memory")
        buffer, source = self._input, "setInputData"
        for layer in self._layers:
            buffer = self._run(layer, _take(buffer, _count(layer.in_shape), layer.name, source))
            source = f"layer {layer.name!r}"
        wanted = _count([d for d in self._output_shape if d > 0])
        self._output = tuple(_take(buffer, wanted, "the network's output", source).tolist())

    def _run(self, layer: _Layer, data: np.ndarray) -> np.ndarray:
        s = layer.settings
        if layer.kind in ("conv", "mlp") and not layer.loaded:
            raise BoardError(f"ERROR: param of layer {layer.name} is not loaded ! (pycnnl exits the process here)")
        if layer.kind == "conv":
            n, c, h, w = layer.in_shape
            out = nx.conv2d_nhwc(data.reshape(n, h, w, c), layer.weight, s["stride"], s["pad"], s["dilation"],
                                 exact=False)
            return (out + layer.bias).ravel()
        if layer.kind == "pool":
            n, c, h, w = layer.in_shape
            return nx.maxpool_nhwc(data.reshape(n, h, w, c), s["kernel"], s["stride"]).ravel()
        if layer.kind == "mlp":
            if layer.weight.ndim == 2:
                out = np.matmul(data.reshape(-1, layer.in_shape[-1]), layer.weight)
            else:
                out = np.matmul(data.reshape(layer.in_shape), layer.weight)
            return (out + layer.bias).astype(np.float32).ravel()
        if layer.kind == "relu":
            return np.maximum(data, 0)
        if layer.kind == "softmax":
            return nx.softmax(data.reshape(layer.in_shape), axis=-1).ravel()
        raise BoardError(f"Error: Not support this layer type: {layer.kind}")

    def getOutputData(self):
        return self._output

    # --- inspection -------------------------------------------------------------------------------
    def size(self):
        return len(self._layers)

    def getLayerName(self, layer_id):
        layer_id = nx.int_argument(layer_id, "CnnlNet_getLayerName", 2)
        return self._layer_at(layer_id, f"getLayerName({layer_id})").name

    def needToBeQuantized(self, layer_id):
        layer_id = nx.int_argument(layer_id, "CnnlNet_needToBeQuantized", 2)
        return self._layer_at(layer_id, f"needToBeQuantized({layer_id})").kind in ("conv", "mlp")


def _take(buffer: np.ndarray, count: int, reader: str, source: str) -> np.ndarray:
    """The first ``count`` values of a device buffer, as the next layer reads them."""
    if buffer.size < count:
        raise BoardError(f"forward(): {reader} reads {count} values but {source} produced {buffer.size}; "
                         "the board would read past the buffer (check the shapes given to the layers)")
    if buffer.size > count:
        print(f"pycnnl (emulated): {reader} reads the first {count} of the {buffer.size} values {source} produced",
              file=sys.stderr)
    return buffer[:count]


def _check_size(layer: _Layer, what: str, values: np.ndarray, shape: tuple, layout: str) -> None:
    expected = int(np.prod(shape))
    if values.size != expected:
        raise BoardError(f"loadParams for {layer.name}: {values.size} {what} values given, the layer needs "
                         f"{expected} in the order {layout}; the board would "
                         f"{'use uninitialised memory for the rest' if values.size < expected else 'write past its buffer'}")
