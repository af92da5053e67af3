"""The synthetic VGG19 weights behave like trained ones where the lab checks look.

On the shipped sample image: activations keep their scale through the 16
convolutions, the softmax is confident but not saturated, and each plausible
student mistake (a dropped fc or conv bias, flattening NCHW instead of NHWC,
kernels read in the wrong orientation) moves the probabilities visibly and
changes the top-1 class. The variants run the fc part with a small head
written here, which first proves it reproduces the reference model.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from reference.vgg19 import preprocess, synthetic
from reference.vgg19.model import VGG19
from reference.vgg19.params import CONV_NAMES, FC_NAMES, VGG19Params

RELU_NAMES = tuple(name.replace("conv", "relu") for name in CONV_NAMES)
VISIBLE_CHANGE = 0.1       # smallest max |probability change| a mistake must cause


@pytest.fixture(scope="module")
def params():
    return synthetic.synthetic_params(0)


@pytest.fixture(scope="module")
def model(params):
    return VGG19(params)


def network_image(name: str, mean_rgb) -> np.ndarray:
    return preprocess.load_network_image(preprocess.shipped_image(name), mean_rgb).astype(np.float64)


@pytest.fixture(scope="module")
def sample(model, params):
    """The reference forward pass on the sample image: every relu of the conv part, pool5, softmax."""
    return model.forward(network_image("sample", params.mean_rgb), capture=RELU_NAMES + ("pool5", "softmax"))


def fc_head(params: VGG19Params, pool5: np.ndarray, flatten_nhwc: bool = True, without_bias=()) -> np.ndarray:
    """flatten, fc6, relu6, fc7, relu7, fc8, softmax on pool5 [1, 512, 7, 7]; probabilities [1000]."""
    features = pool5.transpose(0, 2, 3, 1) if flatten_nhwc else pool5
    x = features.reshape(1, -1)
    for name in FC_NAMES:
        weight, bias = params.fc[name]
        x = x @ weight.astype(np.float64) + (0.0 if name in without_bias else bias)
        if name != "fc8":
            x = np.maximum(x, 0.0)
    return softmax(x[0])


def with_conv(params: VGG19Params, change) -> VGG19Params:
    """``params`` with every conv (weight, bias) replaced by change(weight, bias)."""
    conv = {name: change(weight, bias) for name, (weight, bias) in params.conv.items()}
    return VGG19Params(conv=conv, fc=params.fc, mean_rgb=params.mean_rgb, class_names=params.class_names)


def assert_visibly_different(expected: np.ndarray, actual: np.ndarray) -> None:
    assert np.argmax(actual) != np.argmax(expected)
    assert np.abs(actual - expected).max() > VISIBLE_CHANGE


# --- the generator ---------------------------------------------------------------------------------

def test_generation_is_memoised_deterministic_and_seeded(params):
    assert synthetic.synthetic_params(0) is params
    regenerated = synthetic.synthetic_params.__wrapped__(0)
    for name in CONV_NAMES:
        np.testing.assert_array_equal(regenerated.conv[name][0], params.conv[name][0], err_msg=name)
        np.testing.assert_array_equal(regenerated.conv[name][1], params.conv[name][1], err_msg=name)
    for name in FC_NAMES:
        assert np.array_equal(regenerated.fc[name][0], params.fc[name][0]), name
        np.testing.assert_array_equal(regenerated.fc[name][1], params.fc[name][1], err_msg=name)
    other_seed = synthetic.synthetic_params.__wrapped__(1)
    assert not np.array_equal(other_seed.conv["conv3_1"][0], params.conv["conv3_1"][0])
    assert not np.array_equal(other_seed.fc["fc8"][1], params.fc["fc8"][1])


def test_layouts_dtypes_and_non_zero_biases(params):
    params.validate()
    for name, (weight, bias) in {**params.conv, **params.fc}.items():
        assert weight.dtype == np.float32 and bias.dtype == np.float32, name
        assert np.count_nonzero(bias) == bias.size, name


def test_mean_is_the_imagenet_mean(params):
    np.testing.assert_array_equal(params.mean_rgb, np.float32([123.68, 116.779, 103.939]))
    assert params.class_names[281] == "tabby, tabby cat"


# --- behaviour on the sample image -----------------------------------------------------------------

def test_fc_head_reproduces_the_reference_model(params, sample):
    np.testing.assert_allclose(fc_head(params, sample["pool5"]), sample["softmax"][0], rtol=1e-6, atol=1e-12)


def test_activations_neither_explode_nor_vanish(sample):
    stds = {name: float(sample[name].std()) for name in RELU_NAMES}
    active = {name: float(np.mean(sample[name] > 0)) for name in RELU_NAMES}
    assert all(3.0 < std < 20.0 for std in stds.values()), stds
    assert max(stds.values()) < 2.5 * min(stds.values()), stds
    assert all(0.1 < fraction < 0.9 for fraction in active.values()), active


def test_softmax_is_confident_but_not_saturated(sample):
    first, second = np.sort(sample["softmax"][0])[::-1][:2]
    assert abs(first - synthetic.TOP1_PROBABILITY) < 0.02
    assert first - second > 0.2


@pytest.mark.parametrize("layer", FC_NAMES)
def test_a_dropped_fc_bias_changes_the_classification(params, sample, layer):
    assert_visibly_different(sample["softmax"][0], fc_head(params, sample["pool5"], without_bias=(layer,)))


def test_flattening_nchw_instead_of_nhwc_changes_the_classification(params, sample):
    assert_visibly_different(sample["softmax"][0], fc_head(params, sample["pool5"], flatten_nhwc=False))


@pytest.mark.parametrize("mistake, change", [
    ("conv biases dropped", lambda weight, bias: (weight, np.zeros_like(bias))),
    ("kernels flipped (convolution instead of correlation)", lambda weight, bias: (weight[::-1, ::-1], bias)),
    ("kernel height and width swapped", lambda weight, bias: (weight.transpose(1, 0, 2, 3), bias)),
])
def test_a_conv_part_mistake_changes_pool5_and_the_classification(params, sample, mistake, change):
    mistaken = VGG19(with_conv(params, change), dtype=np.float32)     # float32: no 1 GB copy of the fc weights
    pool5 = mistaken.forward(network_image("sample", params.mean_rgb), capture=("pool5",), until="pool5")["pool5"]
    assert np.abs(pool5 - sample["pool5"]).max() > 0.5 * np.abs(sample["pool5"]).max(), mistake
    assert_visibly_different(sample["softmax"][0], fc_head(params, pool5))


def test_the_shipped_images_get_different_classes(model, params, sample):
    top1 = {"sample": int(np.argmax(sample["softmax"]))}
    for name in ("content", "style"):
        top1[name] = int(np.argmax(model.classify(network_image(name, params.mean_rgb))))
    assert len(set(top1.values())) == 3, top1
