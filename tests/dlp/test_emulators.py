"""The pycnml and pycnnl emulations: the C++ bookkeeping students meet, and numerics checked against an
independent computation (integer loops for pycnml's int8 layers, float64 reference layers for pycnnl)."""
import contextlib
import io

import numpy as np
import pytest

from harness.dlp import pycnml, pycnnl
from reference.layers import conv as ref_conv
from reference.layers import pool as ref_pool

QUANT = {"conv1": ((0, 1.5), (-6, 1.3)), "conv2": ((2, 1.7), (-6, 1.1)), "fc1": ((3, 1.2), (-7, 1.6)),
         "fc2": ((1, 1.9), (-6, 1.4))}


def _quiet(function, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def _fp16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float64)


def _codes(x, pair):
    position, scale = pair
    return np.clip(np.rint(np.asarray(x, dtype=np.float32) * np.float32(np.float32(scale) * 2.0 ** -position)),
                   -128, 127).astype(np.float64)


def _step(pair):
    return 2.0 ** pair[0] / np.float64(np.float32(pair[1]))


@pytest.fixture(scope="module")
def small_net():
    """conv(3->4, k3 p1) relu pool conv(4->5, k3 s1 p0) relu flatten fc(->6) relu fc(->3): weights, input."""
    rng = np.random.default_rng(7)
    weights = {"conv1": (rng.normal(0, 0.3, (4, 3, 3, 3)), rng.normal(0, 0.5, 4)),
               "conv2": (rng.normal(0, 0.2, (5, 4, 3, 3)), rng.normal(0, 0.5, 5)),
               "fc1": (rng.normal(0, 0.1, (6, 5 * 3 * 3)), rng.normal(0, 0.5, 6)),
               "fc2": (rng.normal(0, 0.3, (3, 6)), rng.normal(0, 0.5, 3))}
    image = rng.normal(0, 40, (1, 3, 10, 10))
    return weights, image


def _build_cnml(weights, softmax=True):
    net = pycnml.CnmlNet(16)
    net.setInputShape(1, 3, 10, 10)
    q = {name: (pycnml.QuantParam(*pairs[0]), pycnml.QuantParam(*pairs[1])) for name, pairs in QUANT.items()}
    net.createConvLayer("conv1", 4, 3, 1, 1, 1, q["conv1"][0])
    net.createReLuLayer("relu1")
    net.createPoolingLayer("pool1", 2, 2)
    net.createConvLayer("conv2", 5, 3, 1, 1, 0, q["conv2"][0])
    net.createReLuLayer("relu2")
    net.createFlattenLayer("flatten", [1, 45, 1, 1])
    net.createMlpLayer("fc1", 6, q["fc1"][0])
    net.createReLuLayer("relu3")
    net.createMlpLayer("fc2", 3, q["fc2"][0])
    if softmax:
        net.createSoftmaxLayer("softmax", 1)
    for index in range(net.size() + 1):
        name = net.getLayerName(index) if index < net.size() else None
        if name in weights:
            weight, bias = weights[name]
            net.loadParams(index, weight.ravel(), bias, q[name][1])
    return net


def _simulate(weights, image):
    """pycnml's arithmetic written out: int8 codes, integer sums, float16 results; NCHW, plain loops."""
    x = _fp16(image)
    for name, pad in (("conv1", 1), ("conv2", 0)):
        weight, bias = weights[name]
        total = ref_conv.conv2d_forward_loop(_codes(x, QUANT[name][0]), _codes(weight, QUANT[name][1]), padding=pad)
        x = np.maximum(_fp16(total * _step(QUANT[name][0]) * _step(QUANT[name][1]) + _fp16(bias)[None, :, None, None]), 0)
        if name == "conv1":
            x = ref_pool.maxpool2d_forward(x, 2)
    x = x.transpose(0, 2, 3, 1).reshape(1, -1)          # pycnml's flatten: the (H, W, C) order
    for name in ("fc1", "fc2"):
        weight, bias = weights[name]
        total = _codes(x, QUANT[name][0]) @ _codes(_fp16(weight), QUANT[name][1]).T
        x = _fp16(total * _step(QUANT[name][0]) * _step(QUANT[name][1]) + _fp16(bias))
        if name == "fc1":
            x = np.maximum(x, 0)
    return x


def test_pycnml_network_equals_its_arithmetic_written_out(small_net):
    weights, image = small_net
    net = _quiet(_build_cnml, weights, False)
    net.setInputData(image.ravel())
    net.forward()
    assert np.array_equal(np.asarray(net.getOutputData()), _simulate(weights, image)[0])


def test_pycnml_softmax_is_float16_over_the_channel_axis(small_net):
    weights, image = small_net
    net = _quiet(_build_cnml, weights)
    net.setInputData(image.ravel().tolist())
    net.forward()
    out = net.getOutputData()
    assert isinstance(out, tuple) and len(out) == 3 and all(type(value) is float for value in out)
    logits = _simulate(weights, image)[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.array_equal(np.asarray(out), _fp16(out)) and np.allclose(out, expected, atol=1e-3)
    assert out.index(max(out)) == int(np.argmax(expected))


def test_course_loop_over_size_sees_every_layer_but_the_last_before_loading():
    net = _quiet(_layers_only)
    names = [net.getLayerName(index) for index in range(net.size())]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "flatten", "fc1", "relu3", "fc2"]   # no softmax
    assert net.needToBeQuantized(0) and not net.needToBeQuantized(1)


def _layers_only():
    net = pycnml.CnmlNet()
    net.setInputShape(1, 3, 10, 10)
    q = pycnml.QuantParam(0, 1.0)
    for step in (lambda: net.createConvLayer("conv1", 4, 3, 1, 1, 1, q), lambda: net.createReLuLayer("relu1"),
                 lambda: net.createPoolingLayer("pool1", 2, 2), lambda: net.createConvLayer("conv2", 5, 3, 1, 1, 0, q),
                 lambda: net.createReLuLayer("relu2"), lambda: net.createFlattenLayer("flatten", [1, 45, 1, 1]),
                 lambda: net.createMlpLayer("fc1", 6, q), lambda: net.createReLuLayer("relu3"),
                 lambda: net.createMlpLayer("fc2", 3, q), lambda: net.createSoftmaxLayer("softmax", 1)):
        step()
    return net


def test_after_the_first_load_size_counts_every_layer():
    net = _quiet(_layers_only)
    _quiet(net.loadParams, 0, np.zeros(4 * 3 * 9), np.zeros(4), pycnml.QuantParam(0, 1.0))
    assert net.size() == 10 and net.getLayerName(9) == "softmax"


@pytest.mark.parametrize("call,message", [
    (lambda net: net.forward(), "setInputData was never called"),
    (lambda net: (net.setInputData(np.zeros(300)), net.forward()), "param of layer conv1 is not loaded"),
    (lambda net: net.loadParams(1, np.zeros(3), np.zeros(1), pycnml.QuantParam(0, 1.0)), "not conv or mlp"),
    (lambda net: net.loadParams(0, np.zeros(10), np.zeros(4), pycnml.QuantParam(0, 1.0)), r"needs 4 \* 3 \* 3 \* 3"),
    (lambda net: net.loadParams(0, np.zeros(108, dtype=np.float32), np.zeros(4), pycnml.QuantParam(0, 1.0)),
     "numpy.float32"),
    (lambda net: net.loadParams(0, np.zeros(108), np.zeros(4), (0, 1.0)), "QuantParam"),
    (lambda net: net.getLayerName(10), "there is no layer 10"),
])
def test_what_the_board_would_not_survive_is_an_exception_that_says_so(call, message):
    net = _quiet(_layers_only)
    with pytest.raises((pycnml.BoardError, TypeError, IndexError), match=message):
        _quiet(call, net)


def test_a_layer_created_after_loading_is_refused_at_forward(small_net):
    weights, image = small_net
    net = _quiet(_build_cnml, weights)
    _quiet(net.createReLuLayer, "late")
    net.setInputData(image.ravel())
    with pytest.raises(pycnml.BoardError, match="'late' was created after the first loadParams"):
        net.forward()


def test_quant_param_stores_a_float32_scale_and_checks_types():
    param = pycnml.QuantParam(-7, 1.5241087675094604)
    assert param.position == -7 and param.scale == float(np.float32(1.5241087675094604))
    with pytest.raises(TypeError, match="of type 'int'"):
        pycnml.QuantParam(1.0, 1.5)


def test_pycnnl_network_is_nhwc_float32_as_the_2024_lab_builds_it(small_net):
    weights, image = small_net
    with contextlib.redirect_stdout(io.StringIO()):
        net = pycnnl.CnnlNet()
        net.setInputShape(1, 3, 10, 10)
        shape = pycnnl.IntVector(4)
        for index, value in enumerate((1, 3, 10, 10)):
            shape[index] = value
        net.createConvLayer("conv1", shape, 4, 3, 1, 1, 1)
        net.createReLuLayer("relu1")
        net.createPoolingLayer("pool1", [1, 4, 10, 10], 2, 2)
        net.createConvLayer("conv2", [1, 4, 5, 5], 5, 3, 1, 1, 0)
        net.createReLuLayer("relu2")
        net.createMlpLayer("fc1", [1, 1, 1, 45], [1, 1, 45, 6], [1, 1, 1, 6])
        net.createReLuLayer("relu3")
        net.createMlpLayer("fc2", [1, 1, 1, 6], [1, 1, 6, 3], [1, 1, 1, 3])
        net.createSoftmaxLayer("softmax", [1, 1, 3], 1)
        for index in range(net.size()):
            name = net.getLayerName(index)
            if name.startswith("conv"):
                net.loadParams(index, weights[name][0].transpose(0, 2, 3, 1).ravel(), weights[name][1])
            elif name.startswith("fc"):
                # fc weights as [in, out], fc1's rows in NHWC (H, W, C) order: no flatten layer needed
                weight = weights[name][0]
                if name == "fc1":
                    weight = weight.reshape(6, 5, 3, 3).transpose(0, 2, 3, 1).reshape(6, 45)
                net.loadParams(index, weight.T.ravel(), weights[name][1])
    net.setInputData(image.transpose(0, 2, 3, 1).ravel())
    net.forward()
    x = np.maximum(ref_conv.conv2d_forward_loop(image, weights["conv1"][0], weights["conv1"][1], padding=1), 0)
    x = np.maximum(ref_conv.conv2d_forward_loop(ref_pool.maxpool2d_forward(x, 2), weights["conv2"][0],
                                                weights["conv2"][1]), 0).reshape(1, -1)
    x = np.maximum(x @ weights["fc1"][0].T + weights["fc1"][1], 0) @ weights["fc2"][0].T + weights["fc2"][1]
    expected = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    assert np.allclose(net.getOutputData(), expected[0], rtol=1e-5, atol=1e-6)


def test_pycnnl_batched_mlp_uses_one_filter_for_every_sample():
    rng = np.random.default_rng(3)
    weight, bias, x = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 4))
    with contextlib.redirect_stdout(io.StringIO()):
        net = pycnnl.CnnlNet()
        net.setInputShape(5, 4, 1, 1)
        net.createMlpLayer("fc", [5, 1, 1, 4], [5, 1, 4, 3], [5, 1, 1, 3])
        net.loadParams(0, weight.ravel(), bias)
    net.setInputData(x.ravel())
    net.forward()
    assert np.allclose(np.reshape(net.getOutputData(), (5, 3)), x @ weight + bias, rtol=1e-5, atol=1e-6)
