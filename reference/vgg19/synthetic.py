"""Synthetic VGG19 weights that behave like trained ones where the lab checks look.

The real imagenet-vgg-verydeep-19.mat cannot be shipped or downloaded, so the
harness grades against generated weights. Plain He-scaled random weights are
useless for that: activations drift layer by layer, features of different
images are nearly parallel (every ReLU output is positive, so the mean
dominates), and the softmax saturates (top-1 probability 1.0000, a dropped fc
bias moves it by 1e-26), so a student's missing bias or wrong flatten order
would pass. The generator therefore initialises from data, LSUV-style, on the
shipped images (CALIBRATION_IMAGES):

* conv layers, in order: Gaussian filters, each output channel rescaled and
  shifted so its pre-activation has mean 0 and std ACTIVATION_STD over the
  calibration batch, then a bias of CONV_BIAS_MEAN +- CONV_BIAS_STD times
  ACTIVATION_STD (negative on average, so deep features are sparse as in a
  trained net). Random conv features are statistically alike at any image
  size, so this runs at CALIBRATION_SIZE, a quarter of the pixels of 224x224.
* fc6 and fc7: Gaussian weights whose columns sum to zero (so a unit responds
  to the pattern of its input, not to its overall level, and different images
  get different classes), scaled so the pre-activation std on the sample
  image is FC_ACTIVATION_STD, biases FC_BIAS_MEAN +- FC_BIAS_STD of that.
* fc8: the same zero-sum Gaussian, scaled to unit logit std, bias
  LOGIT_BIAS_STD, then divided by a temperature chosen so that the sample
  image's top-1 probability is TOP1_PROBABILITY.

Data-dependent factors are rounded to 3 significant digits: BLAS kernels
differ between CPUs in the last bits, and the rounding makes the weights
bit-identical across machines (except in the rare case a factor sits on a
rounding boundary). Everything else is drawn from numpy's PCG64 with the seed.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.optimize import brentq
from scipy.special import softmax

from ..layers import conv, pool
from . import classes, preprocess
from .params import FC_NAMES, FC_SHAPES, VGG19Params, conv_shapes

GENERATOR_VERSION = 1          # bump on any change that alters the generated weights
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
CALIBRATION_IMAGES = ("sample", "content", "style")
CALIBRATION_SIZE = (112, 112)

ACTIVATION_STD = 20.0
CONV_BIAS_MEAN, CONV_BIAS_STD = -0.5, 0.3
FC_ACTIVATION_STD = 10.0
FC_BIAS_MEAN, FC_BIAS_STD = 0.0, 0.5
LOGIT_BIAS_STD = 0.5
TOP1_PROBABILITY = 0.5
POOLED_AFTER = ("conv1_2", "conv2_2", "conv3_4", "conv4_4", "conv5_4")   # a 2x2 max pool follows these


@functools.cache
def synthetic_params(seed: int = 0) -> VGG19Params:
    """The synthetic VGG19 (float32, MatConvNet layouts), memoised per seed: copy before modifying."""
    rng = np.random.default_rng(seed)
    mean_rgb = np.asarray(IMAGENET_MEAN_RGB, dtype=np.float32).astype(np.float64)
    conv_params = _calibrated_conv(rng, _calibration_batch(mean_rgb, CALIBRATION_SIZE))
    pool5 = _pool5(conv_params, _calibration_batch(mean_rgb, preprocess.NETWORK_SIZE, names=("sample",)))
    # The lab's flatten: NCHW -> NHWC, so features run in (H, W, C) order like fc6's rows.
    fc = _calibrated_fc(rng, pool5.transpose(0, 2, 3, 1).reshape(1, -1))
    return VGG19Params(conv=conv_params, fc=fc, mean_rgb=mean_rgb, class_names=classes.class_names())


def _significant(values, digits: int = 3) -> np.ndarray:
    """Round to ``digits`` significant digits, elementwise."""
    rounded = [float(f"{value:.{digits}g}") for value in np.ravel(values)]
    return np.reshape(rounded, np.shape(values))


def _calibration_batch(mean_rgb, size, names=CALIBRATION_IMAGES) -> np.ndarray:
    """The shipped images, preprocessed like the labs do, float32 NCHW [N, 3, H, W]."""
    return np.concatenate([preprocess.load_network_image(preprocess.shipped_image(name), mean_rgb, size)
                           for name in names])


def _relu_and_pool(pre_activation: np.ndarray, name: str) -> np.ndarray:
    """ReLU, then the 2x2 max pool if one follows conv layer ``name``; NCHW."""
    activation = np.maximum(pre_activation, 0)
    return pool.maxpool2d_forward(activation, 2) if name in POOLED_AFTER else activation


def _pool5(conv_params: dict, x: np.ndarray) -> np.ndarray:
    """conv1_1 ... pool5 on NCHW ``x``."""
    for name, (weight, bias) in conv_params.items():
        x = _relu_and_pool(conv.conv2d_forward(x, conv.matconvnet_to_oihw(weight), bias, padding=1), name)
    return x


def _calibrated_conv(rng: np.random.Generator, x: np.ndarray) -> dict:
    """Conv weights and biases layer by layer, each output channel standardised on the batch ``x`` (NCHW)."""
    conv_params = {}
    for name, shape in conv_shapes().items():
        weight = rng.standard_normal(shape, dtype=np.float32)
        offsets = rng.standard_normal(shape[3])
        pre_activation = conv.conv2d_forward(x, conv.matconvnet_to_oihw(weight), padding=1)
        mean, std = pre_activation.mean(axis=(0, 2, 3)), pre_activation.std(axis=(0, 2, 3))
        scale = _significant(ACTIVATION_STD / std).astype(np.float32)
        bias = (_significant(-mean * scale) + ACTIVATION_STD * (CONV_BIAS_MEAN + CONV_BIAS_STD * offsets))
        conv_params[name] = (weight * scale, bias.astype(np.float32))
        x = _relu_and_pool(pre_activation * scale[:, None, None] + conv_params[name][1][:, None, None], name)
    return conv_params


def _zero_sum_gaussian(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal [in, out] float32 with every column summing to zero."""
    weight = rng.standard_normal(shape, dtype=np.float32)
    weight -= weight.mean(axis=0, keepdims=True)
    return weight


def _calibrated_fc(rng: np.random.Generator, features: np.ndarray) -> dict:
    """fc6, fc7, fc8 calibrated on ``features``, the sample image's pool5 flattened in (H, W, C) order."""
    fc = {}
    for name in FC_NAMES[:-1]:
        weight = _zero_sum_gaussian(rng, FC_SHAPES[name])
        offsets = rng.standard_normal(FC_SHAPES[name][1])
        pre_activation = features @ weight
        scale = np.float32(_significant(FC_ACTIVATION_STD / pre_activation.std()))
        weight *= scale
        bias = (FC_ACTIVATION_STD * (FC_BIAS_MEAN + FC_BIAS_STD * offsets)).astype(np.float32)
        features = np.maximum(pre_activation * scale + bias, 0)
        fc[name] = (weight, bias)
    weight = _zero_sum_gaussian(rng, FC_SHAPES["fc8"])
    offsets = rng.standard_normal(FC_SHAPES["fc8"][1])
    logits = features @ weight
    scale = _significant(1.0 / logits.std())
    logits = (logits[0] * scale + LOGIT_BIAS_STD * offsets).astype(np.float64)
    temperature = _significant(_temperature_for(logits, TOP1_PROBABILITY))
    weight *= np.float32(scale / temperature)
    fc["fc8"] = (weight, (LOGIT_BIAS_STD * offsets / temperature).astype(np.float32))
    return fc


def _temperature_for(logits: np.ndarray, top1_probability: float) -> float:
    """The T > 0 with max(softmax(logits / T)) = top1_probability (monotone in T, so bracketed)."""
    def excess(log_temperature):
        return softmax(logits / np.exp(log_temperature)).max() - top1_probability
    return float(np.exp(brentq(excess, -10.0, 10.0)))
