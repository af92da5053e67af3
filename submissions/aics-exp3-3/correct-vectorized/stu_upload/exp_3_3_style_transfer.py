# coding:utf-8
# AICS exp 3-3: non-real-time style transfer: the VGG19 convolution part (forward to any layer, backward from
# any layer to the image), the Adam optimizer, and the transfer loop under __main__.
import time

import numpy as np
import scipy.io
from PIL import Image

try:  # imported as stu_upload.exp_3_3_style_transfer by the course driver
    from .layers_1 import ReLULayer
    from .layers_2 import ConvolutionalLayer, MaxPoolingLayer
    from .layers_3 import ContentLossLayer, StyleLossLayer
except ImportError:  # run from inside stu_upload/
    from layers_1 import ReLULayer
    from layers_2 import ConvolutionalLayer, MaxPoolingLayer
    from layers_3 import ContentLossLayer, StyleLossLayer

# (block, number of 3x3 convolutions, output channels)
CONV_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


class VGG19(object):
    def __init__(self, param_path='../../imagenet-vgg-verydeep-19.mat'):
        self.param_path = param_path
        self.param_layer_name = []
        for block, convs, _ in CONV_BLOCKS:
            for idx in range(1, convs + 1):
                self.param_layer_name += ['conv%d_%d' % (block, idx), 'relu%d_%d' % (block, idx)]
            self.param_layer_name.append('pool%d' % block)

    def build_model(self):
        print('Building vgg-19 model...')
        self.layers = {}
        channel_in = 3
        for block, convs, channel_out in CONV_BLOCKS:
            for idx in range(1, convs + 1):
                self.layers['conv%d_%d' % (block, idx)] = ConvolutionalLayer(3, channel_in, channel_out, 1, 1, type=1)
                self.layers['relu%d_%d' % (block, idx)] = ReLULayer()
                channel_in = channel_out
            self.layers['pool%d' % block] = MaxPoolingLayer(2, 2, type=1)
        self.update_layer_list = [name for name in self.param_layer_name if 'conv' in name]

    def init_model(self):
        print('Initializing parameters of each layer in vgg-19...')
        for layer_name in self.update_layer_list:
            self.layers[layer_name].init_param()

    def load_model(self):
        print('Loading parameters from file ' + self.param_path)
        params = scipy.io.loadmat(self.param_path)
        self.image_mean = np.mean(params['normalization'][0][0][0], axis=(0, 1))
        print('Get image mean: ' + str(self.image_mean))
        for idx, name in enumerate(self.param_layer_name):
            if 'conv' in name:
                weight, bias = params['layers'][0][idx][0][0][0][0]
                # matconvnet [height, width, in, out] -> ours [in, height, width, out]
                self.layers[name].load_param(np.transpose(weight, [2, 0, 1, 3]), bias.reshape(-1))

    def load_image(self, image_dir, image_height, image_width):
        print('Loading and preprocessing image from ' + image_dir)
        image = Image.open(image_dir).convert('RGB')
        image_shape = (image.height, image.width, 3)
        image = image.resize((image_width, image_height), Image.BILINEAR)
        image = np.asarray(image, dtype=np.float32) - self.image_mean.astype(np.float32)
        self.input_image = image.transpose(2, 0, 1)[np.newaxis]  # HWC -> [1, C, H, W]
        return self.input_image, image_shape

    def save_image(self, input_image, image_shape, image_dir):
        image = input_image[0].transpose(1, 2, 0) + self.image_mean
        image = np.clip(image, 0, 255).astype(np.uint8)
        Image.fromarray(image).resize((image_shape[1], image_shape[0]), Image.BILINEAR).save(image_dir)

    def forward(self, input_image, layer_list):
        current = input_image
        layer_forward = {}
        for name in self.param_layer_name:
            current = self.layers[name].forward(current)
            if name in layer_list:
                layer_forward[name] = current
        return layer_forward

    def backward(self, dloss, layer_name):
        layer_idx = self.param_layer_name.index(layer_name)
        for name in reversed(self.param_layer_name[:layer_idx + 1]):
            dloss = self.layers[name].backward(dloss)
        return dloss


def get_random_img(content_image, noise):
    noise_image = np.random.uniform(-20, 20, content_image.shape)
    return noise_image * noise + content_image * (1 - noise)


class AdamOptimizer(object):
    def __init__(self, lr, diff_shape):
        self.beta1 = 0.9
        self.beta2 = 0.999
        self.eps = 1e-8
        self.lr = lr
        self.mt = np.zeros(diff_shape)
        self.vt = np.zeros(diff_shape)
        self.step = 0

    def update(self, input, grad):
        self.step += 1
        self.mt = self.beta1 * self.mt + (1 - self.beta1) * grad
        self.vt = self.beta2 * self.vt + (1 - self.beta2) * grad ** 2
        # the moments start at zero: divide out the bias towards zero of the first steps
        mt_hat = self.mt / (1 - self.beta1 ** self.step)
        vt_hat = self.vt / (1 - self.beta2 ** self.step)
        return input - self.lr * mt_hat / (np.sqrt(vt_hat) + self.eps)


def transfer(vgg, content_image, style_image, steps, content_layers, style_layers, noise, alpha, beta, lr):
    """Yield (step, total loss, transfer image) after each Adam step of the lab's loop."""
    content_loss_layer = ContentLossLayer()
    style_loss_layer = StyleLossLayer()
    adam_optimizer = AdamOptimizer(lr, content_image.shape)
    content_targets = vgg.forward(content_image, content_layers)
    style_targets = vgg.forward(style_image, style_layers)
    transfer_image = get_random_img(content_image, noise)
    for step in range(steps):
        features = vgg.forward(transfer_image, content_layers + style_layers)
        content_loss, content_diff = [], np.zeros(transfer_image.shape)
        for layer in content_layers:
            content_loss.append(content_loss_layer.forward(features[layer], content_targets[layer]))
            dloss = content_loss_layer.backward(features[layer], content_targets[layer])
            content_diff += vgg.backward(dloss, layer)
        style_loss, style_diff = [], np.zeros(transfer_image.shape)
        for layer in style_layers:
            style_loss.append(style_loss_layer.forward(features[layer], style_targets[layer]))
            dloss = style_loss_layer.backward(features[layer], style_targets[layer])
            style_diff += vgg.backward(dloss, layer)
        total_loss = alpha * np.mean(content_loss) + beta * np.mean(style_loss)
        image_diff = alpha * content_diff / len(content_layers) + beta * style_diff / len(style_layers)
        transfer_image = adam_optimizer.update(transfer_image, image_diff)
        yield step, total_loss, transfer_image


if __name__ == '__main__':
    CONTENT_LOSS_LAYERS = ['relu4_2']
    STYLE_LOSS_LAYERS = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1']
    NOISE = 0.5
    ALPHA, BETA = 1, 500
    TRAIN_STEP = 100
    LEARNING_RATE = 1.0
    IMAGE_HEIGHT, IMAGE_WIDTH = 192, 320

    vgg = VGG19()
    vgg.build_model()
    vgg.init_model()
    vgg.load_model()
    content_image, content_shape = vgg.load_image('../../weinisi.jpg', IMAGE_HEIGHT, IMAGE_WIDTH)
    style_image, _ = vgg.load_image('../../style.jpg', IMAGE_HEIGHT, IMAGE_WIDTH)
    start_time = time.time()
    for step, total_loss, transfer_image in transfer(vgg, content_image, style_image, TRAIN_STEP,
                                                      CONTENT_LOSS_LAYERS, STYLE_LOSS_LAYERS, NOISE, ALPHA, BETA,
                                                      LEARNING_RATE):
        if step % 20 == 0:
            print('Step %d, loss = %f, cost time: %f' % (step, total_loss, time.time() - start_time))
            vgg.save_image(transfer_image, content_shape, '../output/output_' + str(step) + '.jpg')
