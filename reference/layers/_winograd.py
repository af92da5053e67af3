"""Winograd F(m x m, 3x3): a 3x3 / stride 1 convolution with fewer multiplications.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).
Every (m+2) x (m+2) input tile d (stride m) gives an m x m output tile

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, per channel pair)

where g is a 3x3 filter. Summed over input channels, the elementwise
product becomes, for each of the (m+2)^2 tile positions, one GEMM
``[tiles, Cin] @ [Cin, Cout]``. F(4x4, 3x3) does 36 multiply-adds per
channel pair for 16 outputs (direct: 144), F(2x2, 3x3) 16 for 4 (direct: 36).
The transforms B^T . B and A^T . A are small GEMMs with the Kronecker
products of the matrices (row-major ``vec(P X Q) = kron(P, Q^T) vec(X)``).

Rounding: F(4x4)'s matrices hold entries up to 8 and 1/24, so its result
carries about 30x the rounding error of a direct convolution (~1e-5 of the
output's scale in float32, ~1e-14 in float64); F(2x2)'s entries are 0, 1/2
and 1: about 2x.

Layout: NHWC. The source holds the zero-padded input at its top-left and
extends with zero rows and columns (the transforms mix all values of a
tile, so they must be finite) to at least ``tiled_size(Ho)`` x
``tiled_size(Wo)``, so every tile lies inside it; the target receives the
``[Ho, Wo]`` output at its top-left and garbage in the overhang of the
last tiles (up to ``m*ceil(Ho/m)`` x ``m*ceil(Wo/m)``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._conv_gemm import matmul_into


@dataclass(frozen=True, eq=False)      # identity hash: the matrices are arrays
class Winograd:
    """The matrices of one F(m x m, 3x3) algorithm and the tile geometry they imply."""

    name: str
    b_t: np.ndarray          # [m+2, m+2]
    g: np.ndarray            # [m+2, 3]
    a_t: np.ndarray          # [m, m+2]

    @property
    def tile(self) -> int:
        return self.b_t.shape[0]

    @property
    def step(self) -> int:
        return self.a_t.shape[0]

    @functools.cached_property
    def input_transform(self) -> np.ndarray:       # vec(d) -> vec(B^T d B)
        return np.kron(self.b_t, self.b_t)

    @functools.cached_property
    def filter_transform(self) -> np.ndarray:      # vec(g) -> vec(G g G^T)
        return np.kron(self.g, self.g)

    @functools.cached_property
    def output_transform(self) -> np.ndarray:      # vec(M) -> vec(A^T M A)
        return np.kron(self.a_t, self.a_t)

    def tiles_along(self, size: int) -> int:
        return -(-size // self.step)

    def tiled_size(self, size: int) -> int:
        """Source extent that the tiles of an output of ``size`` read."""
        return self.step * self.tiles_along(size) + 2


F2 = Winograd("F(2x2, 3x3)",
              b_t=np.array([[1, 0, -1, 0],
                            [0, 1, 1, 0],
                            [0, -1, 1, 0],
                            [0, 1, 0, -1]], dtype=np.float64),
              g=np.array([[1, 0, 0],
                          [1 / 2, 1 / 2, 1 / 2],
                          [1 / 2, -1 / 2, 1 / 2],
                          [0, 0, 1]], dtype=np.float64),
              a_t=np.array([[1, 1, 1, 0],
                            [0, 1, -1, -1]], dtype=np.float64))
F4 = Winograd("F(4x4, 3x3)",
              b_t=np.array([[4, 0, -5, 0, 1, 0],
                            [0, -4, -4, 1, 1, 0],
                            [0, 4, -4, -1, 1, 0],
                            [0, -2, -1, 2, 1, 0],
                            [0, 2, -1, -2, 1, 0],
                            [0, 4, 0, -5, 0, 1]], dtype=np.float64),
              g=np.array([[1 / 4, 0, 0],
                          [-1 / 6, -1 / 6, -1 / 6],
                          [-1 / 6, 1 / 6, -1 / 6],
                          [1 / 24, 1 / 12, 1 / 6],
                          [1 / 24, -1 / 12, 1 / 6],
                          [0, 0, 1]], dtype=np.float64),
              a_t=np.array([[1, 1, 1, 1, 1, 0],
                            [0, 1, -1, 2, -2, 0],
                            [0, 1, 1, 4, 4, 0],
                            [0, 1, -1, 8, -8, 1]], dtype=np.float64))
WIDEST = F4              # the largest tiled_size: buffers sized for it suit both

# Measured on VGG19 and the lab's layer shapes (benchmarks/bench_reference.py):
# the transforms cost more than they save below 64 channels; F(4x4) wins from
# ~30 of its tiles up (28x28 maps and the lab's 24x40), below that its 4x
# larger transformed kernels make the GEMMs memory-bound and F(2x2) wins
# (14x14 maps); on a handful of tiles one direct GEMM is faster.
MIN_CHANNELS = 64
MIN_TILES = {F4: 32, F2: 16}


def choose(channels_in: int, channels_out: int, batch: int, out_hw) -> Winograd | None:
    """The Winograd variant that beats the direct GEMM schemes on a 3x3 / stride 1 layer, or None."""
    if min(channels_in, channels_out) < MIN_CHANNELS:
        return None
    for variant in (F4, F2):
        if batch * variant.tiles_along(out_hw[0]) * variant.tiles_along(out_hw[1]) >= MIN_TILES[variant]:
            return variant
    return None


def transform_filters(variant: Winograd, weight_oihw: np.ndarray, *, flip: bool = False) -> np.ndarray:
    """OIHW ``[Cout, Cin, 3, 3]`` -> ``[(m+2)^2, Cout, Cin]``: G g G^T for every channel pair, in
    float64 (rounded to the weight's dtype at the end).

    ``conv3x3`` takes [Cin, Cout] matrices, so a forward passes the
    ``.transpose(0, 2, 1)`` view. With ``flip`` the kernel is rotated by 180
    degrees first (the 9 taps reversed); the result as it is then holds the
    [Cout, Cin] matrices of the input gradient's convolution, which maps the
    Cout channels of dout back to Cin.
    """
    taps = weight_oihw.astype(np.float64, copy=False).reshape(-1, 9).T        # [9, Cout*Cin]
    transform = variant.filter_transform
    if flip:
        transform = np.ascontiguousarray(transform[:, ::-1])
    transformed = np.empty((transform.shape[0], taps.shape[1]))
    matmul_into(transform, taps, transformed)
    return transformed.reshape(-1, *weight_oihw.shape[:2]).astype(weight_oihw.dtype, copy=False)


def conv3x3(variant: Winograd, source: np.ndarray, out_hw, filters: np.ndarray, target: np.ndarray, *,
            bias=None, relu: bool = False, workspace: dict) -> None:
    """Valid 3x3 / stride 1 cross-correlation (+ bias, + ReLU) of a zero-padded NHWC source.

    source ``[N, >= tiled_size(Ho), >= tiled_size(Wo), Cin]``; filters: the
    transformed ``[Cin, Cout]`` matrices (see ``transform_filters``); target
    ``[N, >= m*ceil(Ho/m), >= m*ceil(Wo/m), Cout]`` (see the module docstring).
    ``workspace`` is a dict the caller keeps, so the scratch arrays are
    allocated once rather than per call.
    """
    tile, step = variant.tile, variant.step
    batch, channels_out = source.shape[0], filters.shape[2]
    tiles_h, tiles_w = variant.tiles_along(out_hw[0]), variant.tiles_along(out_hw[1])
    # the tile views below are unchecked strides: a short buffer would be read or written out of bounds
    if source.shape[1] < variant.tiled_size(out_hw[0]) or source.shape[2] < variant.tiled_size(out_hw[1]) \
            or target.shape[1] < step * tiles_h or target.shape[2] < step * tiles_w:
        raise ValueError(f"source {source.shape} or target {target.shape} too small for the tiles of {out_hw}")
    dtype = source.dtype
    tiles = batch * tiles_h * tiles_w

    inputs = _scratch(workspace, "inputs", (tile * tile, tiles * source.shape[3]), dtype)
    np.copyto(inputs.reshape(tile, tile, batch, tiles_h, tiles_w, -1), _tile_view(source, tile, step, tiles_h, tiles_w))
    transformed = _scratch(workspace, "transformed", (tile * tile, tiles, source.shape[3]), dtype)
    matmul_into(_constant(workspace, variant.input_transform, dtype), inputs, transformed.reshape(tile * tile, -1))

    products = _scratch(workspace, "products", (tile * tile, tiles, channels_out), dtype)
    for position in range(tile * tile):
        matmul_into(transformed[position], filters[position], products[position])

    outputs = _scratch(workspace, "outputs", (step * step, tiles, channels_out), dtype)
    if bias is not None:
        np.copyto(outputs, bias)
    matmul_into(_constant(workspace, variant.output_transform, dtype), products.reshape(tile * tile, -1),
                outputs.reshape(step * step, -1), accumulate=bias is not None)
    outputs = outputs.reshape(step, step, batch, tiles_h, tiles_w, channels_out)
    destination = _tile_view(target, step, step, tiles_h, tiles_w)
    if relu:
        np.maximum(outputs, 0, out=destination)
    else:
        np.copyto(destination, outputs)


def _tile_view(maps: np.ndarray, size: int, step: int, tiles_h: int, tiles_w: int) -> np.ndarray:
    """``[size, size, N, tiles_h, tiles_w, C]`` view: element (a, b, n, i, j) is maps[n, step*i + a, step*j + b].

    Input tiles (size m+2) overlap by two pixels; output tiles (size m) do
    not, so writing through the view is safe.
    """
    stride_n, stride_h, stride_w, stride_c = maps.strides
    shape = (size, size, maps.shape[0], tiles_h, tiles_w, maps.shape[3])
    return as_strided(maps, shape, (stride_h, stride_w, stride_n, step * stride_h, step * stride_w, stride_c))


def _scratch(workspace: dict, role: str, shape, dtype) -> np.ndarray:
    key = (role, tuple(shape), np.dtype(dtype))
    if key not in workspace:
        workspace[key] = np.empty(shape, dtype=dtype)
    return workspace[key]


def _constant(workspace: dict, matrix: np.ndarray, dtype) -> np.ndarray:
    key = ("constant", id(matrix), np.dtype(dtype))
    if key not in workspace:
        workspace[key] = matrix.astype(dtype)
    return workspace[key]
