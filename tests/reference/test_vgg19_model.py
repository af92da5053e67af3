"""reference.vgg19.model: the fast VGG19 against a chain of the plain reference functions, its backward
against PyTorch autograd and finite differences, float32 against float64, and its argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from reference.errors import LayerArgumentError
from reference.layers import activations, conv, dense, flatten, losses, pool
from reference.vgg19 import model as vgg_model
from reference.vgg19.model import VGG19
from reference.vgg19.params import CONV_PART_NAMES, FC_SHAPES, LAYER_NAMES, VGG19Params, conv_shapes


@pytest.fixture(scope="module")
def params():
    """He-scaled random weights of the real shapes (float64, ~1 GB, most of it fc6) and small random biases."""
    rng = np.random.default_rng(19)

    def layer(shape, fan_in, out):
        weight = rng.standard_normal(shape)
        weight *= np.sqrt(2 / fan_in)
        return weight, rng.standard_normal(out) * 0.1

    convs = {name: layer(shape, 9 * shape[2], shape[3]) for name, shape in conv_shapes().items()}
    fcs = {name: layer(shape, shape[0], shape[1]) for name, shape in FC_SHAPES.items()}
    return VGG19Params(conv=convs, fc=fcs, mean_rgb=np.zeros(3))


@pytest.fixture(scope="module")
def model(params):
    return VGG19(params)


def _image(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 50


def reference_chain(params, image, names):
    """Every layer's output by the plain reference functions, NCHW, the AICS flatten (NHWC order)."""
    activations_by_name, current = {}, image
    for name in names:
        kind = vgg_model._kind(name)
        if kind == "conv":
            weight, bias = params.conv[name]
            current = conv.conv2d_forward(current, conv.matconvnet_to_oihw(weight), bias, stride=1, padding=1)
        elif kind == "relu":
            current = activations.relu_forward(current)
        elif kind == "pool":
            current = pool.maxpool2d_forward(current, 2, 2)
        elif kind == "flatten":
            current = flatten.flatten_nhwc_forward(current)
        elif kind == "fc":
            current = dense.fc_forward(current, *params.fc[name])
        else:
            current = losses.softmax(current)
        activations_by_name[name] = current
    return activations_by_name


def _assert_close(actual, expected, rtol):
    """Relative to the expected array's scale (activations span many orders of magnitude)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.max(np.abs(expected)))


# --- forward ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 3, 37, 45)])
def test_conv_part_equals_the_reference_chain(model, params, shape):
    # 37x45 floors at every pool (18x22, 9x11, 4x5, 2x2, 1x1) and leaves Winograd tiles overhanging
    image = _image(shape)
    actual = model.forward(image, capture=CONV_PART_NAMES)
    expected = reference_chain(params, image, CONV_PART_NAMES)
    for name in CONV_PART_NAMES:
        _assert_close(actual[name], expected[name], rtol=1e-12)


def test_small_image_runs_all_three_convolution_schemes(model):
    methods = {vgg_model.conv_method(shape[2], shape[3], 1, size, size, np.float64)
               for (name, shape), size in zip(conv_shapes().items(), [32] * 2 + [16] * 2 + [8] * 4 + [4] * 4 + [2] * 4)}
    assert methods == {"winograd", "shifted", "im2col"}


def test_whole_network_at_224_equals_the_reference_chain(model, params):
    image = _image((1, 3, 224, 224), seed=1)
    tail = LAYER_NAMES[LAYER_NAMES.index("pool5"):]
    actual = model.forward(image, capture=tail)
    expected = reference_chain(params, image, LAYER_NAMES)
    for name in tail:
        _assert_close(actual[name], expected[name], rtol=1e-11)
    assert actual["softmax"].shape == (1, 1000)
    np.testing.assert_array_equal(model.classify(image), actual["softmax"])


def test_float32_model_is_float32_and_close_to_float64(model, params):
    image = _image((1, 3, 224, 224), seed=2)
    expected = model.forward(image, capture=("relu3_2", "pool5", "fc8"))
    single = VGG19(params, dtype=np.float32)
    actual = single.forward(image, capture=("relu3_2", "pool5", "fc8"))
    for name, value in actual.items():
        assert value.dtype == np.float32
        # Winograd in float32 rounds ~1e-5 of the scale per layer (see layers._winograd)
        _assert_close(value, expected[name], rtol=2e-4)
    # the gradient is compared as a whole: a float32 rounding can flip a ReLU input near 0 or pick
    # the other cell of a nearly tied pool window, which moves single elements a lot
    small = _image((1, 3, 32, 32), seed=3)
    dloss = np.random.default_rng(3).standard_normal(model.forward(small, capture=("relu2_1",))["relu2_1"].shape)
    single.forward(small, capture=("relu2_1",))
    gradient = single.backward(dloss, "relu2_1")
    assert gradient.dtype == np.float32
    expected_gradient = model.backward(dloss, "relu2_1")
    assert np.linalg.norm(gradient - expected_gradient) <= 1e-4 * np.linalg.norm(expected_gradient)


def test_batch_equals_one_image_at_a_time(model):
    images = _image((2, 3, 40, 36), seed=4)
    batch = model.forward(images, capture=("relu4_1",))["relu4_1"]
    for index in range(2):
        single = model.forward(images[index:index + 1], capture=("relu4_1",))["relu4_1"]
        _assert_close(batch[index:index + 1], single, rtol=1e-12)


def test_until_defaults_to_the_deepest_capture_and_pre_activations_are_kept(model, params):
    image = _image((1, 3, 32, 32), seed=5)
    result = model.forward(image, capture=("relu2_1", "conv2_1"))
    assert set(result) == {"relu2_1", "conv2_1"}
    assert model._last_run[-1] == "relu2_1"
    assert np.any(result["conv2_1"] < 0)
    np.testing.assert_array_equal(result["relu2_1"], np.maximum(result["conv2_1"], 0))
    only_until = model.forward(image, until="pool2")
    assert set(only_until) == {"pool2"}
    _assert_close(only_until["pool2"], reference_chain(params, image, CONV_PART_NAMES[:10])["pool2"], rtol=1e-12)


# --- backward -----------------------------------------------------------------------------------------

def _torch_conv_part(torch, params, image, names):
    """The outputs of the conv-part layers ``names`` by torch.nn.functional, from one pass."""
    functional = torch.nn.functional
    current, outputs = image, {}
    for name in CONV_PART_NAMES[:max(CONV_PART_NAMES.index(name) for name in names) + 1]:
        kind = vgg_model._kind(name)
        if kind == "conv":
            weight, bias = params.conv[name]
            current = functional.conv2d(current, torch.from_numpy(conv.matconvnet_to_oihw(weight)),
                                        torch.from_numpy(bias), padding=1)
        elif kind == "relu":
            current = functional.relu(current)
        else:
            current = functional.max_pool2d(current, 2)
        outputs[name] = current
    return outputs


BACKWARD_LAYERS = ("conv1_1", "relu1_2", "pool1", "conv2_2", "relu3_1", "pool3", "relu4_2", "pool5")


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 3, 37, 45)])
def test_backward_matches_torch_autograd(model, params, shape):
    torch = pytest.importorskip("torch")
    image = _image(shape, seed=6)
    outputs = model.forward(image, capture=BACKWARD_LAYERS)
    tensor = torch.tensor(image, requires_grad=True)
    expected_outputs = _torch_conv_part(torch, params, tensor, BACKWARD_LAYERS)
    for layer_name in BACKWARD_LAYERS:
        dloss = np.random.default_rng(7).standard_normal(outputs[layer_name].shape)
        (expected,) = torch.autograd.grad(expected_outputs[layer_name], tensor, torch.tensor(dloss), retain_graph=True)
        _assert_close(model.backward(dloss, layer_name), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("layer_name", ["relu1_1", "pool2", "relu3_3"])
def test_backward_matches_central_differences_along_random_directions(model, layer_name):
    # d/dt L(image + t v) at t = 0 must equal <gradient, v>. The step trades rounding (the forward's
    # ~1e-13 relative error over the step) against kinks (a ReLU input or a pool maximum changing
    # sides inside the step, which at 1e-4 already moves the difference quotient by 1-2%).
    image = _image((1, 3, 32, 32), seed=8)
    rng = np.random.default_rng(9)
    dloss = rng.standard_normal(model.forward(image, capture=(layer_name,))[layer_name].shape)
    gradient = model.backward(dloss, layer_name)

    def loss(point):
        return float(np.sum(model.forward(point, capture=(layer_name,))[layer_name] * dloss))

    for _ in range(3):
        direction = rng.standard_normal(image.shape)
        step = 1e-6
        numerical = (loss(image + step * direction) - loss(image - step * direction)) / (2 * step)
        assert numerical == pytest.approx(float(np.sum(gradient * direction)), rel=1e-5)


def test_backward_uses_the_last_forward(model):
    first, second = _image((1, 3, 32, 32), seed=10), _image((1, 3, 48, 40), seed=11)
    dloss_first = np.ones(model.forward(first, capture=("relu2_1",))["relu2_1"].shape)
    expected_first = model.backward(dloss_first, "relu2_1").copy()
    dloss_second = np.ones(model.forward(second, capture=("relu2_1",))["relu2_1"].shape)
    assert model.backward(dloss_second, "relu2_1").shape == second.shape
    model.forward(first, capture=("relu2_1",))
    np.testing.assert_array_equal(model.backward(dloss_first, "relu2_1"), expected_first)


# --- arguments ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda m: m.forward(np.zeros((1, 1, 32, 32))), r"image must be NCHW with 3 channels"),
    (lambda m: m.forward(np.zeros((3, 32, 32))), r"image must be NCHW with 3 channels"),
    (lambda m: m.forward(np.zeros((1, 3, 32, 32)), capture=("conv9_9",)), r"capture: unknown layer 'conv9_9'"),
    (lambda m: m.forward(np.zeros((1, 3, 32, 32)), until="relu"), r"until: unknown layer 'relu'"),
    (lambda m: m.forward(np.zeros((1, 3, 32, 32)), capture=("pool3",), until="pool2"),
     r"capture: 'pool3' comes after until='pool2'"),
    (lambda m: m.forward(np.zeros((1, 3, 16, 16)), capture=("pool5",)), r"16x16 is too small: pool5 would be empty"),
    (lambda m: m.forward(np.zeros((1, 3, 64, 64))), r"gives pool5 2x2; fc6 needs 7x7"),
    (lambda m: m.backward(np.zeros((1, 10)), "fc6"), r"layer_name must be a conv-part layer"),
    (lambda m: (m.forward(np.zeros((1, 3, 32, 32)), until="pool1"), m.backward(np.zeros((1, 64, 8, 8)), "relu2_1")),
     r"layer_name 'relu2_1' was not reached by the last forward \(it ran up to pool1\)"),
    (lambda m: (m.forward(np.zeros((1, 3, 32, 32)), until="pool1"), m.backward(np.zeros((1, 64, 8, 8)), "pool1")),
     r"dloss must have pool1's output shape \(1, 64, 16, 16\)"),
])
def test_invalid_arguments_name_the_argument(model, call, message):
    with pytest.raises(LayerArgumentError, match=message):
        call(model)


def test_dtype_must_be_float32_or_float64(params):
    with pytest.raises(LayerArgumentError, match="dtype must be float32 or float64, got float16"):
        VGG19(params, dtype=np.float16)
