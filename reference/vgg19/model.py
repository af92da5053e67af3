"""VGG19 as the AICS labs run it, fast: forward through the course's 44 layers and
the input gradient of any conv-part layer (what style transfer needs).

Layers (``params.LAYER_NAMES``): 16 convolutions 3x3 / pad 1 / stride 1, each
followed by ReLU, five 2x2 / stride 2 max pools, the AICS flatten (NCHW ->
NHWC -> reshape, so fc6's rows are in (H, W, C) order like the MatConvNet
weight), fc6 / relu6 / fc7 / relu7 / fc8 and softmax. Images and captured
activations are NCHW at the interface; from flatten on they are
``(N, features)``.

Inside, the conv part stays NHWC, each map inside a zero margin (at least
one pixel, more where the Winograd tiles need it), so a layer's output
buffer is already the next layer's padded input. Each convolution runs the
GEMM scheme measured fastest for its size (``conv_method``):

* Winograd F(4x4, 3x3) or F(2x2, 3x3) (``layers._winograd.choose``) for maps with 64+ channels
  and enough tiles: 36 GEMMs of a quarter of the direct multiply-adds.
* Shifted GEMMs (``layers._conv_gemm``) for the other maps of 32x32 and
  up (the 3-channel first layer): output row m, whose window starts at
  buffer position m, is written at m + Wb + 1, the window's centre; the
  positions whose window does not fit land on the target's margin, which is
  re-zeroed. Bias and ReLU are applied per cache-sized block.
* im2col with one GEMM for the smaller maps.

Max pool 2x2/2 is the maximum of four strided views; an odd last row or
column is dropped (floor), as in the lab's output-size formula.

backward walks from the requested layer to the image: ReLU zeroes the
gradient where the stored activation is 0; a convolution's input gradient
is the same convolution with the kernel flipped and its channels swapped;
a pool routes each window's gradient to its first maximum in row-major
order, like ``layers.pool``.

Buffers are kept between calls, so after the first call at a given image
size a forward allocates no large arrays; backward therefore uses the
activations of the LAST forward. Derived kernels are cached per layer on
first use: Winograd's transformed kernels hold 4x the layer's weights (all
16 layers: 0.3 GB in float32, 0.6 GB in float64, as much again for the
backward's flipped kernels). All GEMMs go through one BLAS library
(scipy's), see ``layers._conv_gemm``. Computation is in the model's dtype,
float32 or float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LayerArgumentError
from ..layers import _conv_gemm, _winograd
from .params import CONV_PART_NAMES, LAYER_NAMES, VGG19Params

KERNEL = (3, 3)
NO_STRIDE = (1, 1)
FC_INPUT_HW = (7, 7)


def conv_method(channels_in: int, channels_out: int, batch: int, height: int, width: int, dtype) -> str:
    """'winograd', 'shifted' or 'im2col': the scheme a 3x3 / pad 1 layer of this size runs."""
    if _winograd.choose(channels_in, channels_out, batch, (height, width)) is not None:
        return "winograd"
    if _conv_gemm.uses_shifted_gemms((batch, height + 2, width + 2, channels_in), KERNEL, NO_STRIDE):
        return "shifted"
    return "im2col"


def _kind(name: str) -> str:
    """'conv', 'relu', 'pool', 'flatten', 'fc' or 'softmax'."""
    return name.rstrip("0123456789_")


@dataclass
class PaddedMap:
    """An NHWC map ``buffer[:, 1:H+1, 1:W+1]`` whose margin (everything else) is zero."""

    buffer: np.ndarray
    height: int
    width: int

    @property
    def interior(self) -> np.ndarray:
        return self.buffer[:, 1:self.height + 1, 1:self.width + 1]

    def zero_margin(self) -> None:
        self.buffer[:, 0] = 0
        self.buffer[:, self.height + 1:] = 0
        self.buffer[:, :, 0] = 0
        self.buffer[:, :, self.width + 1:] = 0

    def to_nchw(self) -> np.ndarray:
        return np.ascontiguousarray(self.interior.transpose(0, 3, 1, 2))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _pool_cells(offset: int, size: int) -> slice:
    """Positions ``offset + 2*i`` of every 2x2 window along an axis of ``size`` (an odd last one is dropped)."""
    return slice(offset, offset + 2 * (size // 2) - 1, 2)


class VGG19:
    """The course's VGG19 with the given weights (layouts in ``params``), computing in ``dtype``."""

    def __init__(self, params: VGG19Params, dtype=np.float64):
        params.validate()
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise LayerArgumentError(f"dtype must be float32 or float64, got {self.dtype}")
        self.conv = {name: (np.ascontiguousarray(weight, dtype=self.dtype), np.asarray(bias, dtype=self.dtype))
                     for name, (weight, bias) in params.conv.items()}
        self.fc = {name: (np.ascontiguousarray(weight, dtype=self.dtype), np.asarray(bias, dtype=self.dtype))
                   for name, (weight, bias) in params.fc.items()}
        self._buffers: dict[object, np.ndarray] = {}
        self._workspace: dict = {}                       # Winograd scratch arrays
        self._derived: dict[object, object] = {}         # transformed and flipped kernels, made on first use
        self._maps: dict[str, PaddedMap] = {}            # the last forward's activations
        self._last_run: tuple[str, ...] = ()

    # --- forward ---------------------------------------------------------------------------------

    def forward(self, image, capture=(), until=None) -> dict[str, np.ndarray]:
        """Run the layers from the image up to ``until`` and return ``{name: activation}``.

        image: ``[N, 3, H, W]``, already mean-subtracted. Any size whose pooled
        maps stay non-empty (32x32 reaches pool5); fc6 and later need pool5
        to be 7x7, i.e. a 224x224 image.
        capture: layer names whose outputs are returned (NCHW copies for the
        conv part, ``(N, features)`` from flatten on).
        until: the last layer to run; by default the deepest captured layer,
        or the whole network (softmax) when nothing is captured. When
        nothing is captured the ``until`` layer's output is returned.
        """
        image = self._check_image(image)
        names, capture = self._plan(tuple(capture), until, image.shape[2:])
        self._maps, self._last_run, captured = {}, names, {}
        current = self._map("image", image.shape[0], image.shape[2], image.shape[3], 3)
        current.interior[...] = image.transpose(0, 2, 3, 1)
        self._maps["image"] = current
        for index, name in enumerate(names):
            kind = _kind(name)
            if kind == "conv":
                # ReLU is fused into the convolution unless the pre-activation is wanted
                fused_relu = index + 1 < len(names) and name not in capture
                current = self._conv_forward(name, current, relu=fused_relu)
                self._maps[name] = current
            elif kind == "relu" and name in CONV_PART_NAMES:
                if not fused_relu:
                    np.maximum(current.interior, 0, out=current.interior)
            elif kind == "pool":
                current = self._pool_forward(name, current)
                self._maps[name] = current
            elif kind == "flatten":
                current = np.ascontiguousarray(current.interior).reshape(image.shape[0], -1)
            elif kind == "fc":
                weight, bias = self.fc[name]
                out = np.empty((current.shape[0], weight.shape[1]), dtype=self.dtype)
                np.copyto(out, bias)
                _conv_gemm.matmul_into(current, weight, out, accumulate=True)
                current = out
            elif kind == "relu":
                current = np.maximum(current, 0)
            else:
                current = _softmax(current)
            if name in capture:
                captured[name] = current.to_nchw() if isinstance(current, PaddedMap) else current.copy()
        return captured

    def classify(self, image) -> np.ndarray:
        """Class probabilities ``(N, 1000)`` of 224x224 images ``[N, 3, 224, 224]``."""
        return self.forward(image, capture=("softmax",))["softmax"]

    @staticmethod
    def _check_image(image) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 4 or image.shape[1] != 3:
            raise LayerArgumentError(f"image must be NCHW with 3 channels, got shape {image.shape}")
        if not (np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer)):
            raise LayerArgumentError(f"image must be a numeric array, got dtype {image.dtype}")
        return image

    @staticmethod
    def _plan(capture, until, image_hw):
        """The layer names to run and the names to return, after checking both."""
        for name in capture:
            if name not in LAYER_NAMES:
                raise LayerArgumentError(f"capture: unknown layer {name!r} (expected names from params.LAYER_NAMES)")
        if until is None:
            until = max(capture, key=LAYER_NAMES.index) if capture else LAYER_NAMES[-1]
        if until not in LAYER_NAMES:
            raise LayerArgumentError(f"until: unknown layer {until!r} (expected a name from params.LAYER_NAMES)")
        names = LAYER_NAMES[:LAYER_NAMES.index(until) + 1]
        for name in capture:
            if name not in names:
                raise LayerArgumentError(f"capture: {name!r} comes after until={until!r}")
        height, width = image_hw
        for name in names:
            if _kind(name) == "pool":
                height, width = height // 2, width // 2
                if height == 0 or width == 0:
                    raise LayerArgumentError(
                        f"image of {image_hw[0]}x{image_hw[1]} is too small: {name} would be empty")
            elif name == "fc6" and (height, width) != FC_INPUT_HW:
                raise LayerArgumentError(f"image of {image_hw[0]}x{image_hw[1]} gives pool5 {height}x{width}; "
                                         f"fc6 needs 7x7 (a 224x224 image)")
        return names, capture or (until,)

    def _map(self, key, batch, height, width, channels) -> PaddedMap:
        """A zero-margin map, its buffer kept for the next call with the same key and shape.

        The margin is wide enough for Winograd tiles, which is also wide
        enough for the shifted GEMMs (any margin >= 1 works for them).
        """
        shape = (batch, _winograd.WIDEST.tiled_size(height), _winograd.WIDEST.tiled_size(width), channels)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape != shape:
            buffer = self._buffers[key] = np.zeros(shape, dtype=self.dtype)
        return PaddedMap(buffer, height, width)

    def _conv_forward(self, name, source: PaddedMap, relu: bool) -> PaddedMap:
        weight, bias = self.conv[name]
        target = self._map(name, source.buffer.shape[0], source.height, source.width, weight.shape[3])
        self._conv(name, "forward", weight, bias, source, target, relu)
        return target

    def _conv(self, name, direction, weight, bias, source: PaddedMap, target: PaddedMap, relu: bool) -> None:
        """3x3 / pad 1 convolution of ``source`` into ``target``, by the scheme ``conv_method`` picks."""
        batch = source.buffer.shape[0]
        method = conv_method(weight.shape[2], weight.shape[3], batch, source.height, source.width, self.dtype)
        if method == "winograd":
            variant = _winograd.choose(weight.shape[2], weight.shape[3], batch, (source.height, source.width))
            filters = self._derive(("winograd", variant.name, name, direction), lambda: _winograd.transform_filters(
                variant, np.ascontiguousarray(weight.transpose(3, 2, 0, 1))).transpose(0, 2, 1))
            # the output's top-left is the target's (1, 1): the margin's first row and column stay outside
            _winograd.conv3x3(variant, source.buffer, (source.height, source.width), filters, target.buffer[:, 1:, 1:],
                              bias=bias, relu=relu, workspace=self._workspace)
        elif method == "shifted":
            _, rows_b, cols_b, channels = source.buffer.shape
            offsets = _conv_gemm.tap_offsets(KERNEL, cols_b)
            centre, rows = cols_b + 1, batch * rows_b * cols_b - offsets[-1]
            taps = [weight[kh, kw] for kh, kw in np.ndindex(KERNEL)]
            _conv_gemm.shifted_gemm(source.buffer.reshape(-1, channels), taps, offsets,
                                    target.buffer.reshape(-1, weight.shape[3])[centre:centre + rows],
                                    bias=bias, relu=relu)
        else:
            out = _conv_gemm.conv_forward(source.buffer[:, :source.height + 2, :source.width + 2], weight, NO_STRIDE)
            if bias is None:
                np.copyto(target.interior, out)
            else:
                np.add(out, bias, out=target.interior)
            if relu:
                np.maximum(target.interior, 0, out=target.interior)
        target.zero_margin()

    def _derive(self, key, make):
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def _pool_forward(self, name, source: PaddedMap) -> PaddedMap:
        """2x2 / stride 2 max pool into this layer's map (whose margin is never written)."""
        maps = source.interior
        batch, height, width, channels = maps.shape
        target = self._map(name, batch, height // 2, width // 2, channels)
        out = target.interior
        cells = [maps[:, _pool_cells(row, height), _pool_cells(col, width)] for row, col in np.ndindex(2, 2)]
        np.maximum(cells[0], cells[1], out=out)
        np.maximum(out, cells[2], out=out)
        np.maximum(out, cells[3], out=out)
        return target

    # --- backward --------------------------------------------------------------------------------

    def backward(self, dloss, layer_name) -> np.ndarray:
        """Gradient ``[N, 3, H, W]`` w.r.t. the image of the last forward, given
        ``dloss``, the gradient w.r.t. ``layer_name``'s output (NCHW, that
        layer's shape). Only input gradients flow; weights get none.
        """
        if layer_name not in CONV_PART_NAMES:
            raise LayerArgumentError(f"layer_name must be a conv-part layer (conv1_1 ... pool5), got {layer_name!r}")
        if layer_name not in self._last_run:
            raise LayerArgumentError(f"layer_name {layer_name!r} was not reached by the last forward "
                                     f"(it ran up to {self._last_run[-1] if self._last_run else 'nothing'})")
        output = self._maps[_producer(layer_name)]
        expected = (output.buffer.shape[0], output.buffer.shape[3], output.height, output.width)
        dloss = np.asarray(dloss)
        if dloss.shape != expected:
            raise LayerArgumentError(
                f"dloss must have {layer_name}'s output shape {expected} (NCHW), got {dloss.shape}")

        slot = 0      # scratch maps alternate: a step reads one slot and writes the other
        grad = self._scratch(output, output.buffer.shape[3], slot)
        grad.zero_margin()
        grad.interior[...] = dloss.transpose(0, 2, 3, 1)
        for name in reversed(CONV_PART_NAMES[:CONV_PART_NAMES.index(layer_name) + 1]):
            kind = _kind(name)
            if kind == "relu":
                np.copyto(grad.buffer, 0, where=self._maps[_producer(name)].buffer <= 0)
                continue
            slot = 1 - slot
            source = self._maps[_input_of(name)]
            target = self._scratch(source, source.buffer.shape[3], slot)
            if kind == "conv":
                weight = self._derive(("flipped", name), lambda: np.ascontiguousarray(
                    self.conv[name][0][::-1, ::-1].transpose(0, 1, 3, 2)))
                self._conv(name, "backward", weight, None, grad, target, relu=False)
            else:
                self._pool_backward(name, grad, target)
            grad = target
        return grad.to_nchw()

    def _scratch(self, like: PaddedMap, channels: int, slot: int) -> PaddedMap:
        key = ("backward", slot, like.height, like.width, channels)
        return self._map(key, like.buffer.shape[0], like.height, like.width, channels)

    def _pool_backward(self, name, grad: PaddedMap, target: PaddedMap) -> None:
        """Each window's gradient to its first maximum (row-major); dropped odd rows/columns get 0."""
        maps = self._maps[_input_of(name)].interior
        pooled, dpooled = self._maps[name].interior, grad.interior
        target.buffer[...] = 0
        dmaps = target.interior
        height, width = maps.shape[1:3]
        unrouted = np.ones(pooled.shape, dtype=bool)
        for row, col in np.ndindex(2, 2):
            cells = (slice(None), _pool_cells(row, height), _pool_cells(col, width))
            first_max = (maps[cells] == pooled) & unrouted
            unrouted &= ~first_max
            np.multiply(dpooled, first_max, out=dmaps[cells])


def _producer(name: str) -> str:
    """The layer whose map holds ``name``'s output (a ReLU works in place on its conv's map)."""
    return name.replace("relu", "conv")


def _input_of(name: str) -> str:
    """The map a conv-part layer reads: its predecessor's output, or the image."""
    index = CONV_PART_NAMES.index(name)
    return _producer(CONV_PART_NAMES[index - 1]) if index else "image"
