"""The mistakes of the DLP labs (exp 2-2 MNIST MLP, exp 3-2 VGG19 on pycnml), each a way to build the network.

A DLP lab's "kernel" is the whole network a student's demo builds with pycnml,
so a variant here returns a *recipe*: how the mistaken solution lays out what
it hands to pycnml (harness.dlp.network reads the keys). The DLP check kinds
build the network from the recipe on the emulated pycnml, run it on the
check's input and compare with the student's output: a match names the mistake.

    conv_axes              the transpose applied to MatConvNet's [H, W, Cin, Cout] conv weights (right: 3, 2, 0, 1)
    fc_transposed          fc weights handed over as [out, in] (right: True)
    input_nhwc             the image flattened in NHWC order (right: False, NCHW)
    subtract_mean          the mean subtracted from the image (right: True)
    untransposed           MLP layers (1, 2, 3) whose [in, out] weights went in untransposed
    filter_quant_from_input   loadParams given the input quantization pairs instead of the filter ones
"""
from __future__ import annotations

from .catalogue import Mistake

VGG19, MLP = "dlp.vgg19", "dlp.mlp"


def conv_weights_untransposed() -> dict:
    return {"conv_axes": (0, 1, 2, 3)}


def fc_weights_untransposed() -> dict:
    return {"fc_transposed": False}


def input_left_nhwc() -> dict:
    return {"input_nhwc": True}


def mean_not_subtracted() -> dict:
    return {"subtract_mean": False}


def mlp_first_layer_untransposed() -> dict:
    return {"untransposed": (1,)}


def mlp_filter_quant_from_input() -> dict:
    return {"filter_quant_from_input": True}


MISTAKES = (
    Mistake("dlp.conv_weights_not_transposed", VGG19,
            "you flattened the conv weights in MatConvNet's [height, width, in_channel, out_channel] order; pycnml "
            "reads a filter as [out_channel, in_channel, height, width] (np.transpose(weight, [3, 2, 0, 1]) "
            "before flatten())", conv_weights_untransposed),
    Mistake("dlp.fc_weights_not_transposed", VGG19,
            "you flattened the fc weights as [input, output] (MatConvNet's order after the reshape); pycnml's MLP "
            "layer reads [output, input] (np.transpose(weight, [1, 0]) before flatten())", fc_weights_untransposed),
    Mistake("dlp.input_nhwc", VGG19,
            "you passed the image to setInputData in [N, height, width, channel] order; pycnml reads its input as "
            "NCHW (np.transpose(input_image, [0, 3, 1, 2]) before flatten())", input_left_nhwc),
    Mistake("dlp.mean_not_subtracted", VGG19,
            "you did not subtract the image mean before setInputData; the network and its quantization parameters "
            "expect the mean-subtracted image (input_image -= image_mean)", mean_not_subtracted),
    Mistake("dlp.mlp_weight_not_transposed", MLP,
            "you loaded fc1's weights as exp 2-1 stores them, [input, output]; pycnml's MLP layer reads "
            "[output, input] (np.transpose(params['w1'], [1, 0]) before flatten())", mlp_first_layer_untransposed),
    Mistake("dlp.mlp_filter_quant_from_input", MLP,
            "you gave loadParams the input quantization parameters (input_quant_params) instead of the filter ones "
            "(filter_quant_params), so the weights were quantized for the layer's inputs' range",
            mlp_filter_quant_from_input),
)
