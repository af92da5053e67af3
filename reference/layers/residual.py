"""Residual blocks (framework notes 五.2; He et al., "Deep Residual Learning for Image Recognition").

Basic block (ResNet-18/34), x NCHW ``[N, Cin, H, W]`` -> ``[N, Cout, Ho, Wo]``::

    main     = BN2(conv2_3x3(ReLU(BN1(conv1_3x3_stride(x)))))
    shortcut = x                               when stride == 1 and Cin == Cout
             = BNs(shortcut_conv_1x1_stride(x)) otherwise (the projection)
    out      = ReLU(main + shortcut)

Bottleneck block (ResNet-50+), with a width K usually Cout / 4::

    main     = BN3(conv3_1x1(ReLU(BN2(conv2_3x3_stride(ReLU(BN1(conv1_1x1(x))))))))

3x3 convolutions pad 1, 1x1 convolutions pad 0, and none has a bias (the
batch norm after it has one). The notes' listing writes
``sc_out=out=BatchNorm2d(sc_out)`` in the projection branch, which would
overwrite the main path before the addition; this follows the paper (and the
rest of the listing) and adds the two branches.

Parameters are a flat dict, keyed by layer name:

    "conv1.weight"  OIHW [Cout, Cin, KH, KW]        "bn1.gamma", "bn1.beta"  (C,)
    ... "conv2", "bn2" (and "conv3", "bn3" for the bottleneck) ...
    "shortcut.conv.weight", "shortcut.bn.gamma", "shortcut.bn.beta"   (projection only)

and the batch-norm running statistics another dict, ``"<bn>.running_mean"`` /
``"<bn>.running_var"``. A forward returns ``BlockOutput(out, stats)`` with the
updated statistics (train mode) and a backward ``(dx, grads)`` with one
gradient per parameter key. The functions are pure; a backward recomputes the
forward's intermediates from x. There are no ``_loop`` versions: a block is a
composition of layers whose loop versions are proven on their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np

from .. import _validate
from ..errors import LayerArgumentError
from . import activations, conv, norm


class BlockOutput(NamedTuple):
    out: np.ndarray
    stats: dict


@dataclass(frozen=True)
class _Settings:
    mode: str
    momentum: float
    eps: float


# --- stages: one layer of a branch, with its forward and backward -------------------------------

@dataclass(frozen=True)
class _Conv:
    name: str
    kernel: int
    stride: int

    @property
    def keys(self):
        return (f"{self.name}.weight",)

    @property
    def padding(self):
        return self.kernel // 2

    def weight(self, params):
        weight = params[f"{self.name}.weight"]
        if np.ndim(weight) != 4 or np.shape(weight)[2:] != (self.kernel, self.kernel):
            raise LayerArgumentError(f"params['{self.name}.weight'] must be an OIHW {self.kernel}x{self.kernel} "
                                     f"kernel, got shape {np.shape(weight)}")
        return weight

    def forward(self, h, params, stats, settings):
        return conv.conv2d_forward(h, self.weight(params), None, self.stride, self.padding), {}

    def backward(self, dout, h, params, stats, settings):
        dh, dweight, _ = conv.conv2d_backward(dout, h, self.weight(params), self.stride, self.padding)
        return dh, {f"{self.name}.weight": dweight}


@dataclass(frozen=True)
class _BatchNorm:
    name: str

    @property
    def keys(self):
        return (f"{self.name}.gamma", f"{self.name}.beta")

    @property
    def stat_keys(self):
        return (f"{self.name}.running_mean", f"{self.name}.running_var")

    def forward(self, h, params, stats, settings):
        out, running_mean, running_var = norm.spatial_batchnorm_forward(
            h, params[f"{self.name}.gamma"], params[f"{self.name}.beta"], *self._running(stats),
            mode=settings.mode, momentum=settings.momentum, eps=settings.eps)
        return out, dict(zip(self.stat_keys, (running_mean, running_var)))

    def backward(self, dout, h, params, stats, settings):
        dh, dgamma, dbeta = norm.spatial_batchnorm_backward(
            dout, h, params[f"{self.name}.gamma"], *self._running(stats), mode=settings.mode, eps=settings.eps)
        return dh, {f"{self.name}.gamma": dgamma, f"{self.name}.beta": dbeta}

    def _running(self, stats):
        return tuple(stats.get(key) for key in self.stat_keys)


@dataclass(frozen=True)
class _ReLU:
    keys = ()

    def forward(self, h, params, stats, settings):
        return activations.relu_forward(h), {}

    def backward(self, dout, h, params, stats, settings):
        return activations.relu_backward(dout, h), {}


_RELU = _ReLU()
_PROJECTION_KEYS = ("shortcut.conv.weight", "shortcut.bn.gamma", "shortcut.bn.beta")


def _basic_main(stride):
    return (_Conv("conv1", 3, stride), _BatchNorm("bn1"), _RELU, _Conv("conv2", 3, 1), _BatchNorm("bn2"))


def _bottleneck_main(stride):
    return (_Conv("conv1", 1, 1), _BatchNorm("bn1"), _RELU,
            _Conv("conv2", 3, stride), _BatchNorm("bn2"), _RELU,
            _Conv("conv3", 1, 1), _BatchNorm("bn3"))


def _projection(stride):
    return (_Conv("shortcut.conv", 1, stride), _BatchNorm("shortcut.bn"))


# --- the engine shared by both blocks -----------------------------------------------------------

def _branches(main_of_stride, params, stride):
    """(main stages, shortcut stages) after checking params holds exactly the keys they use."""
    stride = _validate.positive_int("stride", stride)
    if not isinstance(params, Mapping):
        raise LayerArgumentError(f"params must be a dict of arrays keyed by layer name, got {type(params).__name__}")
    main = main_of_stride(stride)
    last_weight = f"{main[-2].name}.weight"
    if last_weight not in params or "conv1.weight" not in params:
        raise LayerArgumentError(f"params must hold 'conv1.weight' and {last_weight!r}, got keys {sorted(params)}")
    channels_in = np.shape(params["conv1.weight"])[1]
    channels_out = np.shape(params[last_weight])[0]
    shortcut = _projection(stride) if stride != 1 or channels_in != channels_out else ()
    expected = {key for stage in main + shortcut for key in stage.keys}
    missing, unexpected = sorted(expected - set(params)), sorted(set(params) - expected)
    if missing or unexpected:
        reason = "a projection shortcut" if shortcut else "an identity shortcut"
        raise LayerArgumentError(f"params for this block ({reason}: stride {stride}, {channels_in} -> "
                                 f"{channels_out} channels) are missing {missing} and have unexpected {unexpected}")
    return main, shortcut


def _settings(stats, mode, momentum, eps):
    if stats is not None and not isinstance(stats, Mapping):
        raise LayerArgumentError(f"stats must be None or a dict of running statistics, got {type(stats).__name__}")
    return _Settings(mode, momentum, eps)


def _run(stages, h, params, stats, settings):
    """(output, the input of every stage, updated statistics) of a branch."""
    inputs, new_stats = [], {}
    for stage in stages:
        inputs.append(h)
        h, updated = stage.forward(h, params, stats, settings)
        new_stats.update(updated)
    return h, inputs, new_stats


def _run_backward(stages, inputs, dout, params, stats, settings):
    """(d branch input, parameter gradients) of a branch, its stages taken in reverse."""
    grads = {}
    for stage, h in zip(reversed(stages), reversed(inputs)):
        dout, stage_grads = stage.backward(dout, h, params, stats, settings)
        grads.update(stage_grads)
    return dout, grads


def _block_forward(main_of_stride, x, params, stride, stats, mode, momentum, eps) -> BlockOutput:
    main, shortcut = _branches(main_of_stride, params, stride)
    settings, stats = _settings(stats, mode, momentum, eps), stats or {}
    main_out, _, main_stats = _run(main, x, params, stats, settings)
    shortcut_out, _, shortcut_stats = _run(shortcut, x, params, stats, settings)
    return BlockOutput(activations.relu_forward(main_out + shortcut_out), {**main_stats, **shortcut_stats})


def _block_backward(main_of_stride, dout, x, params, stride, stats, mode, eps):
    main, shortcut = _branches(main_of_stride, params, stride)
    settings, stats = _settings(stats, mode, 0.9, eps), stats or {}
    main_out, main_inputs, _ = _run(main, x, params, stats, settings)
    shortcut_out, shortcut_inputs, _ = _run(shortcut, x, params, stats, settings)
    dsum = activations.relu_backward(dout, main_out + shortcut_out)
    dx_main, grads = _run_backward(main, main_inputs, dsum, params, stats, settings)
    dx_shortcut, shortcut_grads = _run_backward(shortcut, shortcut_inputs, dsum, params, stats, settings)
    # x feeds both branches, so its gradient is the sum of theirs
    return dx_main + dx_shortcut, {**grads, **shortcut_grads}


# --- public -------------------------------------------------------------------------------------

def basic_block_forward(x, params, stride=1, stats=None, *, mode="train", momentum=0.9, eps=1e-5) -> BlockOutput:
    """x NCHW -> ``BlockOutput(out [N, Cout, Ho, Wo], stats)`` of the basic block (see the module docstring)."""
    return _block_forward(_basic_main, x, params, stride, stats, mode, momentum, eps)


def basic_block_backward(dout, x, params, stride=1, stats=None, *, mode="train", eps=1e-5):
    """``(dx NCHW, grads)``, grads keyed like params."""
    return _block_backward(_basic_main, dout, x, params, stride, stats, mode, eps)


def bottleneck_block_forward(x, params, stride=1, stats=None, *, mode="train", momentum=0.9,
                             eps=1e-5) -> BlockOutput:
    """x NCHW -> ``BlockOutput(out [N, Cout, Ho, Wo], stats)`` of the bottleneck block."""
    return _block_forward(_bottleneck_main, x, params, stride, stats, mode, momentum, eps)


def bottleneck_block_backward(dout, x, params, stride=1, stats=None, *, mode="train", eps=1e-5):
    """``(dx NCHW, grads)``, grads keyed like params."""
    return _block_backward(_bottleneck_main, dout, x, params, stride, stats, mode, eps)


def basic_block_params(channels_in, channels_out, stride=1, seed=0) -> dict:
    """He-normal convolution weights, gamma 1 and beta 0, with the projection when the block needs one."""
    return _init_params(_basic_main, (channels_in, channels_out, channels_out), stride, seed)


def bottleneck_block_params(channels_in, width, channels_out, stride=1, seed=0) -> dict:
    """As ``basic_block_params``; conv1 reduces to ``width`` channels and conv3 expands to channels_out."""
    return _init_params(_bottleneck_main, (channels_in, width, width, channels_out), stride, seed)


def _init_params(main_of_stride, channels, stride, seed) -> dict:
    """``channels`` lists the channel count before each convolution of the main branch, then its output."""
    stride = _validate.positive_int("stride", stride)
    channels = [_validate.positive_int("channels", count) for count in channels]
    channels_in, channels_out = channels[0], channels[-1]
    rng = np.random.default_rng(_validate.non_negative_int("seed", seed))
    stages = main_of_stride(stride)
    if stride != 1 or channels_in != channels_out:
        stages += _projection(stride)
    convs = iter(zip(channels[:-1], channels[1:]))
    params = {}
    for stage in stages:
        if isinstance(stage, _Conv):
            cin, cout = (channels_in, channels_out) if stage.name == "shortcut.conv" else next(convs)
            fan_in = cin * stage.kernel**2
            params[f"{stage.name}.weight"] = rng.standard_normal((cout, cin, stage.kernel, stage.kernel)) \
                * np.sqrt(2 / fan_in)
            last_channels = cout
        elif isinstance(stage, _BatchNorm):
            params[f"{stage.name}.gamma"] = np.ones(last_channels)
            params[f"{stage.name}.beta"] = np.zeros(last_channels)
    return params
