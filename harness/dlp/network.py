"""The harness's own pycnml / pycnnl networks, built from known weights the way the course's solutions build them.

``harness dlp compare`` runs these on a board (or the emulator) against the
float reference; the benchmark that measures the quantization error runs
them on the emulator. ``module`` is the pycnml or pycnnl module in use (the
real one or :mod:`harness.dlp.pycnml` / :mod:`harness.dlp.pycnnl`).

VGG19 as exp 3-2 builds it (pycnml): setInputShape(1, 3, H, W), the 16
convolutions 3x3 / stride 1 / dilation 1 / pad 1 with ReLUs and five 2x2
pools, flatten to [1, 512*7*7, 1, 1], fc6..fc8 with ReLUs, softmax on axis 1;
conv filters MatConvNet [H, W, Cin, Cout] -> [Cout, Cin, H, W], fc filters
[in, out] -> [out, in]; the image NCHW. With pycnnl (2024): NHWC image, conv
filters [Cout, H, W, Cin], fc filters [in, out] as stored, no flatten layer.
``until`` cuts the network after a conv-part layer (pool5: its output is the
network's output), since pycnml exposes no intermediate outputs.

A ``recipe`` (from reference.mistakes.dlp) builds the network as a typical
mistaken solution does, so a student's output can be recognised as that
mistake: ``conv_axes`` (the transpose applied to MatConvNet's conv weights
before flattening), ``fc_transposed`` (whether fc weights go in as [out, in]),
``untransposed`` (MLP layers 1..3 loaded as [in, out]), ``input_nhwc``,
``filter_quant_from_input`` (the input pairs given to loadParams).
"""
from __future__ import annotations

import numpy as np

APIS = ("pycnml", "pycnnl")


def _vgg_names(until: str | None) -> list[str]:
    from reference.vgg19.params import CONV_PART_NAMES, LAYER_NAMES
    names = list(LAYER_NAMES)
    if until is not None:
        if until not in CONV_PART_NAMES and until != "softmax":
            raise ValueError(f"a VGG19 network can be cut after a conv-part layer (conv1_1 ... pool5), not {until!r}")
        names = names[:names.index(until) + 1]
    return names


def vgg19_cnml(pycnml, params, quant, until: str | None = None, image_hw=(224, 224), core_num: int = 1,
               recipe: dict | None = None):
    """A pycnml CnmlNet of VGG19 (``params``: VGG19Params, ``quant``: QuantTable of 19 pairs), weights loaded."""
    recipe = recipe or {}
    conv_axes = tuple(recipe.get("conv_axes", (3, 2, 0, 1)))
    names = _vgg_names(until)
    net = pycnml.CnmlNet(core_num)
    net.setInputShape(1, 3, *image_hw)
    inputs = [pycnml.QuantParam(int(p), float(s)) for p, s in quant.input]
    filters = [pycnml.QuantParam(int(p), float(s)) for p, s in quant.filter]
    quantized = 0
    for name in names:
        kind = name.rstrip("0123456789_")
        if kind in ("conv", "fc"):
            if kind == "conv":
                channels = params.conv[name][0].shape[3]
                net.createConvLayer(name, channels, 3, 1, 1, 1, inputs[quantized])
            else:
                net.createMlpLayer(name, params.fc[name][0].shape[1], inputs[quantized])
            quantized += 1
        elif kind == "relu":
            net.createReLuLayer(name)
        elif kind == "pool":
            net.createPoolingLayer(name, 2, 2)
        elif kind == "flatten":
            height, width = image_hw[0] // 32, image_hw[1] // 32
            net.createFlattenLayer(name, [1, 512 * height * width, 1, 1])
        else:
            net.createSoftmaxLayer(name, 1)
    quantized = 0
    for index in range(net.size() + 1):        # before the first loadParams, size() leaves out the last layer
        name = names[index]
        if name.startswith("conv"):
            weight, bias = params.conv[name]
            net.loadParams(index, np.transpose(weight, conv_axes).ravel().astype(np.float64),
                           np.asarray(bias, dtype=np.float64).ravel(), filters[quantized])
            quantized += 1
        elif name.startswith("fc"):
            weight, bias = params.fc[name]
            weight = np.asarray(weight).T if recipe.get("fc_transposed", True) else np.asarray(weight)
            net.loadParams(index, weight.ravel().astype(np.float64),
                           np.asarray(bias, dtype=np.float64).ravel(), filters[quantized])
            quantized += 1
    return net


def vgg19_cnnl(pycnnl, params, until: str | None = None, image_hw=(224, 224)):
    """A pycnnl CnnlNet of VGG19 as the 2024 lab builds it (explicit shapes, no flatten), weights loaded."""
    names = [name for name in _vgg_names(until) if name != "flatten"]
    net = pycnnl.CnnlNet()
    net.setInputShape(1, 3, *image_hw)
    channels, (height, width) = 3, image_hw
    features = None
    for name in names:
        kind = name.rstrip("0123456789_")
        if kind == "conv":
            out = params.conv[name][0].shape[3]
            net.createConvLayer(name, _ints(pycnnl, [1, channels, height, width]), out, 3, 1, 1, 1)
            channels = out
        elif kind == "relu":
            net.createReLuLayer(name)
        elif kind == "pool":
            net.createPoolingLayer(name, _ints(pycnnl, [1, channels, height, width]), 2, 2)
            height, width = height // 2, width // 2
        elif kind == "fc":
            rows, out = params.fc[name][0].shape
            net.createMlpLayer(name, _ints(pycnnl, [1, 1, 1, rows]), _ints(pycnnl, [1, 1, rows, out]),
                               _ints(pycnnl, [1, 1, 1, out]))
            features = out
        else:
            net.createSoftmaxLayer(name, _ints(pycnnl, [1, 1, features]), 1)
    for index in range(net.size()):
        name = net.getLayerName(index)
        if name.startswith("conv"):
            weight, bias = params.conv[name]
            net.loadParams(index, np.transpose(weight, (3, 0, 1, 2)).ravel().astype(np.float64),
                           np.asarray(bias, dtype=np.float64).ravel())
        elif name.startswith("fc"):
            weight, bias = params.fc[name]
            net.loadParams(index, np.asarray(weight).ravel().astype(np.float64),
                           np.asarray(bias, dtype=np.float64).ravel())
    return net


def _ints(module, values):
    vector = module.IntVector(len(values))
    for index, value in enumerate(values):
        vector[index] = int(value)
    return vector


def vgg19_network(api: str, module, params, quant=None, until=None, image_hw=(224, 224), recipe=None):
    if api == "pycnml":
        return vgg19_cnml(module, params, quant, until, image_hw, recipe=recipe)
    if api == "pycnnl":
        return vgg19_cnnl(module, params, until, image_hw)
    raise ValueError(f"unknown DLP API {api!r} (known: {', '.join(APIS)})")


def image_data(api: str, image_nchw: np.ndarray, recipe: dict | None = None) -> np.ndarray:
    """What setInputData takes for a [1, 3, H, W] image: NCHW flattened (pycnml) or NHWC flattened (pycnnl)."""
    image = np.asarray(image_nchw, dtype=np.float64)
    nhwc = api == "pycnnl" or (recipe or {}).get("input_nhwc", False)
    return (image.transpose(0, 2, 3, 1) if nhwc else image).ravel()


def output_array(api: str, values, shape_nchw) -> np.ndarray:
    """getOutputData's tuple as an NCHW array of ``shape_nchw`` (pycnnl's output is NHWC)."""
    array = np.asarray(values, dtype=np.float64)
    if api == "pycnnl" and len(shape_nchw) == 4:
        n, c, h, w = shape_nchw
        return array.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return array.reshape(shape_nchw)


def mlp_cnml(pycnml, weights: dict, quant, batch: int, recipe: dict | None = None):
    """The exp 2-2 MLP (fc1-relu-fc2-relu-fc3-softmax) on pycnml, as the course's solution builds it."""
    recipe = recipe or {}
    net = pycnml.CnmlNet(1)
    net.setInputShape(batch, weights["w1"].shape[0], 1, 1)
    inputs = [pycnml.QuantParam(int(p), float(s)) for p, s in quant.input]
    filters = inputs if recipe.get("filter_quant_from_input") else \
        [pycnml.QuantParam(int(p), float(s)) for p, s in quant.filter]
    for index in (1, 2, 3):
        net.createMlpLayer(f"fc{index}", weights[f"w{index}"].shape[1], inputs[index - 1])
        if index < 3:
            net.createReLuLayer(f"relu{index}")
    net.createSoftmaxLayer("softmax", 1)
    for index in (1, 2, 3):
        weight = weights[f"w{index}"] if index in recipe.get("untransposed", ()) else np.transpose(weights[f"w{index}"])
        net.loadParams(2 * (index - 1), weight.ravel().astype(np.float64),
                       np.asarray(weights[f"b{index}"], dtype=np.float64).ravel(), filters[index - 1])
    return net


def mlp_cnnl(pycnnl, weights: dict, batch: int):
    """The exp 2-2 MLP on pycnnl (2024): [batch, 1, 1, in] @ [batch, 1, in, out] layers, softmax over the classes."""
    net = pycnnl.CnnlNet()
    net.setInputShape(batch, weights["w1"].shape[0], 1, 1)
    for index in (1, 2, 3):
        rows, out = weights[f"w{index}"].shape
        net.createMlpLayer(f"fc{index}", _ints(pycnnl, [batch, 1, 1, rows]), _ints(pycnnl, [batch, 1, rows, out]),
                           _ints(pycnnl, [batch, 1, 1, out]))
        if index < 3:
            net.createReLuLayer(f"relu{index}")
    net.createSoftmaxLayer("softmax", _ints(pycnnl, [batch, 1, weights["w3"].shape[1]]), 1)
    for index in (1, 2, 3):
        net.loadParams(2 * (index - 1), np.asarray(weights[f"w{index}"], dtype=np.float64).ravel(),
                       np.asarray(weights[f"b{index}"], dtype=np.float64).ravel())
    return net


def mlp_network(api: str, module, weights: dict, batch: int, quant=None, recipe=None):
    if api == "pycnml":
        return mlp_cnml(module, weights, quant, batch, recipe)
    if api == "pycnnl":
        return mlp_cnnl(module, weights, batch)
    raise ValueError(f"unknown DLP API {api!r} (known: {', '.join(APIS)})")
