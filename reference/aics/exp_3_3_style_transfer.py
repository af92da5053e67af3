"""exp_3_3_style_transfer.py of AICS exp 3-3: the VGG19 conv part with forward/backward by layer name, and Adam."""
import numpy as np

from reference import optim as _optim
from reference.vgg19.params import CONV_BLOCKS, CONV_PART_NAMES

from .layers_1 import ReLULayer
from .layers_2 import ConvolutionalLayer, MaxPoolingLayer
from .vgg_cpu import _params


def adam_update(param, grad, state, lr):
    """One Adam step with the AICS convention (step counted before use, bias-corrected)."""
    return _optim.adam(param, grad, state, learning_rate=lr)


class VGG19:
    def __init__(self, param_path="../../imagenet-vgg-verydeep-19.mat"):
        self.param_path = param_path
        self.param_layer_name = list(CONV_PART_NAMES)

    def build_model(self):
        self.layers = {}
        channels_in = 3
        for block, convs, channels_out in CONV_BLOCKS:
            for index in range(1, convs + 1):
                self.layers[f"conv{block}_{index}"] = ConvolutionalLayer(3, channels_in, channels_out, 1, 1, type=1)
                self.layers[f"relu{block}_{index}"] = ReLULayer()
                channels_in = channels_out
            self.layers[f"pool{block}"] = MaxPoolingLayer(2, 2, type=1)
        self.update_layer_list = [name for name in self.param_layer_name if "conv" in name]

    def init_model(self):
        for name in self.update_layer_list:
            self.layers[name].init_param()

    def load_model(self):
        params = _params(str(self.param_path))
        self.image_mean = params.mean_rgb
        for name, (weight, bias) in params.conv.items():
            self.layers[name].load_param(np.transpose(weight, [2, 0, 1, 3]), bias)

    def forward(self, input_image, layer_list):
        current, outputs = input_image, {}
        for name in self.param_layer_name:
            current = self.layers[name].forward(current)
            if name in layer_list:
                outputs[name] = current
        return outputs

    def backward(self, dloss, layer_name):
        for name in reversed(self.param_layer_name[: self.param_layer_name.index(layer_name) + 1]):
            dloss = self.layers[name].backward(dloss)
        return dloss


def get_random_img(content_image, noise):
    noise_image = np.random.uniform(-20, 20, content_image.shape)
    return noise_image * noise + content_image * (1 - noise)


class AdamOptimizer:
    def __init__(self, lr, diff_shape):
        self.lr, self.diff_shape, self.state = lr, diff_shape, None

    def update(self, input, grad):
        updated, self.state = adam_update(input, grad, self.state, self.lr)
        return updated
