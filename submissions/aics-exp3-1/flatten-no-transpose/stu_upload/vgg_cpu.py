# coding:utf-8
# AICS exp 3-1: VGG19 inference on the CPU; parameters and activations are kept in float32.
import time

import numpy as np
import scipy.io
from PIL import Image

try:  # imported as stu_upload.vgg_cpu by the course driver
    from .layers_1 import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer
    from .layers_2 import ConvolutionalLayer, MaxPoolingLayer, FlattenLayer
except ImportError:  # run from inside stu_upload/
    from layers_1 import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer
    from layers_2 import ConvolutionalLayer, MaxPoolingLayer, FlattenLayer

# (block, number of 3x3 convolutions, output channels)
CONV_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


class VGG19(object):
    def __init__(self, param_path='../../imagenet-vgg-verydeep-19.mat'):
        self.param_path = param_path
        names = []
        for block, convs, _ in CONV_BLOCKS:
            for idx in range(1, convs + 1):
                names += ['conv%d_%d' % (block, idx), 'relu%d_%d' % (block, idx)]
            names.append('pool%d' % block)
        names += ['flatten', 'fc6', 'relu6', 'fc7', 'relu7', 'fc8', 'softmax']
        self.param_layer_name = tuple(names)

    def build_model(self):
        print('Building vgg-19 model...')
        self.layers = {}
        channel_in = 3
        for block, convs, channel_out in CONV_BLOCKS:
            for idx in range(1, convs + 1):
                self.layers['conv%d_%d' % (block, idx)] = ConvolutionalLayer(3, channel_in, channel_out, 1, 1)
                self.layers['relu%d_%d' % (block, idx)] = ReLULayer()
                channel_in = channel_out
            self.layers['pool%d' % block] = MaxPoolingLayer(2, 2)
        self.layers['flatten'] = FlattenLayer([512, 7, 7], [512 * 7 * 7])
        self.layers['fc6'] = FullyConnectedLayer(512 * 7 * 7, 4096)
        self.layers['relu6'] = ReLULayer()
        self.layers['fc7'] = FullyConnectedLayer(4096, 4096)
        self.layers['relu7'] = ReLULayer()
        self.layers['fc8'] = FullyConnectedLayer(4096, 1000)
        self.layers['softmax'] = SoftmaxLossLayer()
        self.update_layer_list = [name for name in self.param_layer_name if 'conv' in name or 'fc' in name]

    def init_model(self):
        print('Initializing parameters of each layer in vgg-19...')
        for layer_name in self.update_layer_list:
            self.layers[layer_name].init_param()

    def load_model(self):
        print('Loading parameters from file ' + self.param_path)
        params = scipy.io.loadmat(self.param_path)
        self.image_mean = np.mean(params['normalization'][0][0][0], axis=(0, 1)).astype(np.float32)
        print('Get image mean: ' + str(self.image_mean))
        mat_layers = params['layers'][0]
        for idx, name in enumerate(self.param_layer_name):
            if 'conv' in name:
                weight, bias = mat_layers[idx][0][0][0][0]
                # matconvnet [height, width, in, out] -> ours [in, height, width, out]
                weight = np.transpose(weight, [2, 0, 1, 3])
                bias = bias.reshape(-1)
            elif 'fc' in name:
                # the .mat has no flatten entry: our fc layers sit one index later than theirs
                weight, bias = mat_layers[idx - 1][0][0][0][0]
                weight = weight.reshape(-1, weight.shape[3])
            else:
                continue
            self.layers[name].load_param(weight.astype(np.float32), bias.astype(np.float32))

    def load_image(self, image_dir):
        print('Loading and preprocessing image from ' + image_dir)
        image = Image.open(image_dir).convert('RGB').resize((224, 224), Image.BILINEAR)
        image = np.asarray(image, dtype=np.float32) - self.image_mean
        self.input_image = image.transpose(2, 0, 1)[np.newaxis]  # HWC -> [1, C, H, W]

    def forward(self):
        print('Inferencing...')
        start_time = time.time()
        current = self.input_image
        for name in self.param_layer_name:
            current = self.layers[name].forward(current)
        print('Inference time: %f' % (time.time() - start_time))
        return current

    def evaluate(self):
        prob = self.forward()
        top1 = np.argmax(prob[0])
        print('Classification result: id = %d, prob = %f' % (top1, prob[0, top1]))


if __name__ == '__main__':
    vgg = VGG19()
    vgg.build_model()
    vgg.init_model()
    vgg.load_model()
    vgg.load_image('../../cat1.jpg')
    vgg.evaluate()
