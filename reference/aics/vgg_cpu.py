"""vgg_cpu.py of AICS exp 3-1: VGG19 built from the course's layers, loaded from the MatConvNet file."""
import numpy as np
import scipy.io
from PIL import Image

from reference.vgg19.params import CONV_BLOCKS, LAYER_NAMES

from .layers_1 import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer
from .layers_2 import ConvolutionalLayer, FlattenLayer, MaxPoolingLayer


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
        params = scipy.io.loadmat(self.param_path)
        self.image_mean = np.mean(params["normalization"][0][0][0], axis=(0, 1))
        for index, name in enumerate(self.param_layer_name):
            if "conv" in name:
                weight, bias = params["layers"][0][index][0][0][0][0]
                self.layers[name].load_param(np.transpose(weight, [2, 0, 1, 3]), bias.reshape(-1))
            elif "fc" in name:
                weight, bias = params["layers"][0][index - 1][0][0][0][0]   # the .mat has no flatten entry
                weight = weight.reshape([weight.shape[0] * weight.shape[1] * weight.shape[2], weight.shape[3]])
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
