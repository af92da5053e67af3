# coding=utf-8
# AICS exp 3-1: convolution, max pooling and flatten (forward only), vectorised, computing in float32.
# Feature maps are NCHW; the convolution weight is [channel_in, kernel, kernel, channel_out], the bias [channel_out].
import numpy as np


def output_size(size, kernel_size, stride):
    return (size - kernel_size) // stride + 1


def window_offsets(kernel_size, stride, height_out, width_out):
    """For each (kh, kw) inside the window, the strided slices that pick that cell of every window."""
    for kh in range(kernel_size):
        for kw in range(kernel_size):
            yield kh, kw, (slice(kh, kh + stride * (height_out - 1) + 1, stride),
                           slice(kw, kw + stride * (width_out - 1) + 1, stride))


class ConvolutionalLayer(object):
    def __init__(self, kernel_size, channel_in, channel_out, padding, stride):
        self.kernel_size = kernel_size
        self.channel_in = channel_in
        self.channel_out = channel_out
        self.padding = padding
        self.stride = stride
        print('\tConvolutional layer with kernel size %d, input channel %d, output channel %d.' % (
            self.kernel_size, self.channel_in, self.channel_out))

    def init_param(self, std=0.01):
        self.weight = np.random.normal(loc=0.0, scale=std,
                                       size=(self.channel_in, self.kernel_size, self.kernel_size, self.channel_out))
        self.bias = np.zeros([self.channel_out])

    def forward(self, input):
        self.input = input  # [N, C, H, W]
        batch, channel, _, _ = input.shape
        pad = self.padding
        self.input_pad = np.pad(input.astype(np.float32), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        height_out = output_size(self.input_pad.shape[2], self.kernel_size, self.stride)
        width_out = output_size(self.input_pad.shape[3], self.kernel_size, self.stride)
        # im2col: one row per output position, columns in the weight's (channel_in, kh, kw) order
        cols = np.empty([batch, height_out, width_out, channel, self.kernel_size, self.kernel_size], np.float32)
        for kh, kw, (rows, columns) in window_offsets(self.kernel_size, self.stride, height_out, width_out):
            cols[..., kh, kw] = self.input_pad[:, :, rows, columns].transpose(0, 2, 3, 1)
        cols = cols.reshape(batch * height_out * width_out, -1)
        weight = self.weight.reshape(-1, self.channel_out).astype(np.float32)
        output = np.matmul(cols, weight) + self.bias.astype(np.float32)
        self.output = output.reshape(batch, height_out, width_out, self.channel_out).transpose(0, 3, 1, 2)
        return self.output

    def load_param(self, weight, bias):
        assert self.weight.shape == weight.shape
        assert self.bias.shape == bias.shape
        self.weight = weight
        self.bias = bias


class MaxPoolingLayer(object):
    def __init__(self, kernel_size, stride):
        self.kernel_size = kernel_size
        self.stride = stride
        print('\tMax pooling layer with kernel size %d, stride %d.' % (self.kernel_size, self.stride))

    def forward(self, input):
        self.input = input  # [N, C, H, W]
        batch, channel, height, width = input.shape
        kernel, stride = self.kernel_size, self.stride
        height_out = output_size(height, kernel, stride)
        width_out = output_size(width, kernel, stride)
        data = input.astype(np.float32)
        if kernel == stride:
            # the windows tile the map: drop the rows/columns past the last window, then max over each block
            blocks = data[:, :, :height_out * kernel, :width_out * kernel]
            blocks = blocks.reshape(batch, channel, height_out, kernel, width_out, kernel)
            self.output = blocks.max(axis=(3, 5))
        else:
            self.output = np.full([batch, channel, height_out, width_out], -np.inf, np.float32)
            for _, _, (rows, columns) in window_offsets(kernel, stride, height_out, width_out):
                np.maximum(self.output, data[:, :, rows, columns], out=self.output)
        return self.output


class FlattenLayer(object):
    def __init__(self, input_shape, output_shape):
        self.input_shape = input_shape
        self.output_shape = output_shape
        assert np.prod(self.input_shape) == np.prod(self.output_shape)
        print('\tFlatten layer with input shape %s, output shape %s.' % (str(self.input_shape), str(self.output_shape)))

    def forward(self, input):
        assert list(input.shape[1:]) == list(self.input_shape)
        self.input = input
        self.output = self.input.reshape([self.input.shape[0]] + list(self.output_shape))
        return self.output
