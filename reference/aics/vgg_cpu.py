"""vgg_cpu.py of AICS exp 3-1: VGG19 built from the course's layers, loaded from the MatConvNet file."""
import functools

import numpy as np
from PIL import Image

from reference.vgg19 import matconvnet
from reference.vgg19.params import CONV_BLOCKS, LAYER_NAMES

from .layers_1 import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer
from .layers_2 import ConvolutionalLayer, FlattenLayer, MaxPoolingLayer


@functools.lru_cache(maxsize=2)
def _params(path: str):
    return matconvnet.load_params(path)


class VGG19:
    def __init__(self, param_path="../../imagenet-vgg-verydeep-19.mat"):
        self.param_path = param_path
        self.param_layer_name = LAYER_NAMES

    def build_model(self):
        self.layers = {}
        channels_in = 3
        for block, convs, channels_out in CONV_BLOCKS:
            for index in range(1, convs + 1):
                self.layers[f"conv{block}_{index}"] = ConvolutionalLayer(3, channels_in, channels_out, 1, 1, type=1)
                self.layers[f"relu{block}_{index}"] = ReLULayer()
                channels_in = channels_out
            self.layers[f"pool{block}"] = MaxPoolingLayer(2, 2, type=1)
        self.layers["flatten"] = FlattenLayer([512, 7, 7], [512 * 7 * 7])
        self.layers["fc6"] = FullyConnectedLayer(512 * 7 * 7, 4096)
        self.layers["relu6"] = ReLULayer()
        self.layers["fc7"] = FullyConnectedLayer(4096, 4096)
        self.layers["relu7"] = ReLULayer()
        self.layers["fc8"] = FullyConnectedLayer(4096, 1000)
        self.layers["softmax"] = SoftmaxLossLayer()
        self.update_layer_list = [name for name in self.param_layer_name if "conv" in name or "fc" in name]

    def init_model(self):
        for name in self.update_layer_list:
            self.layers[name].init_param()

    def load_model(self):
        # The course reads the .mat itself (params['layers'][0][i][0][0][0][0], fc one index earlier);
        # reference.vgg19.matconvnet reads it exactly that way, once per process.
        params = _params(str(self.param_path))
        self.image_mean = params.mean_rgb
        for name, (weight, bias) in params.conv.items():
            self.layers[name].load_param(np.transpose(weight, [2, 0, 1, 3]), bias)
        for name, (weight, bias) in params.fc.items():
            self.layers[name].load_param(weight, bias.reshape(1, -1))

    def load_image(self, image_dir):
        image = Image.open(image_dir).convert("RGB").resize((224, 224), Image.BILINEAR)
        self.input_image = np.asarray(image).astype(np.float32) - self.image_mean
        self.input_image = np.transpose(self.input_image[np.newaxis], [0, 3, 1, 2])

    def forward(self):
        current = self.input_image
        for name in self.param_layer_name:
            current = self.layers[name].forward(current)
        return current
