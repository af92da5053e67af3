"""The VGG19 parameter set in one container, independent of where it was read from.

Layouts are the MatConvNet ones, because both the real
imagenet-vgg-verydeep-19.mat and our synthetic file store them this way and
the fast NHWC forward consumes them directly:

* conv weights  [KH, KW, Cin, Cout]   (HWIO)
* conv biases   [Cout]
* fc weights    [in, out], rows in (H, W, C) order for fc6 (25088 = 7*7*512)
* fc biases     [out]
* mean_rgb      [3], the per-channel mean of the average image (R, G, B)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The course's names, in order (vgg_cpu.py's param_layer_name).
CONV_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


def _conv_part_names() -> tuple[str, ...]:
    names = []
    for block, convs, _ in CONV_BLOCKS:
        for index in range(1, convs + 1):
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
        names.append(f"pool{block}")
    return tuple(names)


CONV_PART_NAMES: tuple[str, ...] = _conv_part_names()          # 37 names, conv1_1 ... pool5
LAYER_NAMES: tuple[str, ...] = CONV_PART_NAMES + (
    "flatten", "fc6", "relu6", "fc7", "relu7", "fc8", "softmax",
)                                                              # 44 names
CONV_NAMES: tuple[str, ...] = tuple(n for n in CONV_PART_NAMES if n.startswith("conv"))
FC_NAMES: tuple[str, ...] = ("fc6", "fc7", "fc8")
FC_SHAPES = {"fc6": (7 * 7 * 512, 4096), "fc7": (4096, 4096), "fc8": (4096, 1000)}


def conv_shapes() -> dict[str, tuple[int, int, int, int]]:
    """HWIO shape of every conv layer's weight."""
    shapes, channels_in = {}, 3
    for block, convs, channels_out in CONV_BLOCKS:
        for index in range(1, convs + 1):
            shapes[f"conv{block}_{index}"] = (3, 3, channels_in, channels_out)
            channels_in = channels_out
    return shapes


@dataclass
class VGG19Params:
    """Weights and normalisation of a VGG19 (see the module docstring for layouts)."""

    conv: dict[str, tuple[np.ndarray, np.ndarray]]
    fc: dict[str, tuple[np.ndarray, np.ndarray]]
    mean_rgb: np.ndarray
    class_names: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Raise ValueError naming the first layer whose shapes are wrong."""
        for name, shape in conv_shapes().items():
            weight, bias = self.conv[name]
            if weight.shape != shape or bias.shape != (shape[3],):
                raise ValueError(f"{name}: weight {weight.shape} / bias {bias.shape}, expected {shape} / ({shape[3]},)")
        for name, shape in FC_SHAPES.items():
            weight, bias = self.fc[name]
            if weight.shape != shape or bias.shape != (shape[1],):
                raise ValueError(f"{name}: weight {weight.shape} / bias {bias.shape}, expected {shape} / ({shape[1]},)")
        if np.shape(self.mean_rgb) != (3,):
            raise ValueError(f"mean_rgb must have shape (3,), got {np.shape(self.mean_rgb)}")
