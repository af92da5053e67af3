"""layers_2.py of AICS exp 3-1 / 3-3: convolution, max pooling and flatten, raw and speedup paths.

Layouts are the course's: feature maps NCHW, conv weight [Cin, K, K, Cout],
bias [Cout]. The raw kernels below are the loops the course template
prescribes (one window sum per output element); the speedup kernels are the
reference's fast functions.
"""
import time

import numpy as np

from reference.layers import conv as _conv
from reference.layers import flatten as _flatten
from reference.layers import pool as _pool


# --- kernels (patched one at a time by reference.mistakes) ---------------------------------

def conv_forward_raw(x, weight, bias, padding, stride):
    """out[n, c, i, j] = sum(window(n, i, j) * weight[:, :, :, c]) + bias[c], the course's four loops."""
    batch, _, height, width = x.shape
    kernel, channels_out = weight.shape[1], weight.shape[3]
    padded = _pad(x, padding, np.result_type(x, weight, bias))
    out_h, out_w = (height + 2 * padding - kernel) // stride + 1, (width + 2 * padding - kernel) // stride + 1
    out = np.zeros((batch, channels_out, out_h, out_w), dtype=padded.dtype)
    for n in range(batch):
        for c in range(channels_out):
            for i in range(out_h):
                for j in range(out_w):
                    window = padded[n, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                    out[n, c, i, j] = np.sum(window * weight[:, :, :, c]) + bias[c]
    return out


def conv_backward_raw(dout, x, weight, padding, stride):
    """Each output's gradient flows back to its window (d_input) and to the kernel that made it (d_weight)."""
    batch, channels_out, out_h, out_w = dout.shape
    kernel, height, width = weight.shape[1], x.shape[2], x.shape[3]
    padded = _pad(x, padding, np.result_type(x, weight, dout))
    d_weight = np.zeros(weight.shape, dtype=padded.dtype)
    d_bias = np.zeros(channels_out, dtype=padded.dtype)
    d_padded = np.zeros(padded.shape, dtype=padded.dtype)
    for n in range(batch):
        for c in range(channels_out):
            for i in range(out_h):
                for j in range(out_w):
                    rows, cols = slice(i * stride, i * stride + kernel), slice(j * stride, j * stride + kernel)
                    d_weight[:, :, :, c] += dout[n, c, i, j] * padded[n, :, rows, cols]
                    d_bias[c] += dout[n, c, i, j]
                    d_padded[n, :, rows, cols] += dout[n, c, i, j] * weight[:, :, :, c]
    return d_padded[:, :, padding:padding + height, padding:padding + width], d_weight, d_bias


def conv_forward_speedup(x, weight, bias, padding, stride):
    return _conv.conv2d_forward(x, _conv.aics_to_oihw(weight), bias, stride=stride, padding=padding)


def conv_backward_speedup(dout, x, weight, padding, stride):
    dx, d_weight, d_bias = _conv.conv2d_backward(dout, x, _conv.aics_to_oihw(weight), stride=stride, padding=padding)
    return dx, _conv.oihw_to_aics(d_weight), d_bias


def pool_forward_raw(x, kernel, stride):
    """out[n, c, i, j] = max of the window; also the one-hot position of that maximum (the course's max_index)."""
    batch, channels, height, width = x.shape
    out_h, out_w = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    out = np.zeros((batch, channels, out_h, out_w), dtype=x.dtype)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    out[n, c, i, j] = np.max(x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel])
    return out


def pool_backward_raw(dout, x, kernel, stride):
    """Each output's gradient goes to its window's first maximum (np.argmax); overlapping windows accumulate."""
    batch, channels, out_h, out_w = dout.shape
    d_input = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                    row, col = np.unravel_index(np.argmax(window), window.shape)
                    d_input[n, c, i * stride + row, j * stride + col] += dout[n, c, i, j]
    return d_input


def pool_forward_speedup(x, kernel, stride):
    return _pool.maxpool2d_forward(x, kernel, stride)


def pool_backward_speedup(dout, x, kernel, stride):
    return _pool.maxpool2d_backward(dout, x, kernel, stride)


def flatten_forward(x):
    return _flatten.flatten_nhwc_forward(x)


def flatten_backward(dout, input_shape):
    return _flatten.flatten_nhwc_backward(dout, input_shape)


def _pad(x, padding, dtype):
    batch, channels, height, width = x.shape
    padded = np.zeros((batch, channels, height + 2 * padding, width + 2 * padding), dtype=dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = x
    return padded


# --- the course's classes -------------------------------------------------------------------

class ConvolutionalLayer:
    def __init__(self, kernel_size, channel_in, channel_out, padding, stride, type=0):
        self.kernel_size, self.channel_in, self.channel_out = kernel_size, channel_in, channel_out
        self.padding, self.stride = padding, stride
        self.forward = self.forward_speedup if type == 1 else self.forward_raw
        self.backward = self.backward_speedup if type == 1 else self.backward_raw

    def init_param(self, std=0.01):
        self.weight = np.random.normal(0.0, std, (self.channel_in, self.kernel_size, self.kernel_size, self.channel_out))
        self.bias = np.zeros(self.channel_out)

    def load_param(self, weight, bias):
        assert self.weight.shape == weight.shape and self.bias.shape == bias.shape
        self.weight, self.bias = weight, bias

    def forward_raw(self, input):
        started = time.time()
        self.input = input
        self.output = conv_forward_raw(input, self.weight, self.bias, self.padding, self.stride)
        self.forward_time = time.time() - started
        return self.output

    def backward_raw(self, top_diff):
        started = time.time()
        bottom_diff, self.d_weight, self.d_bias = conv_backward_raw(top_diff, self.input, self.weight,
                                                                    self.padding, self.stride)
        self.backward_time = time.time() - started
        return bottom_diff

    def forward_speedup(self, input):
        started = time.time()
        self.input = input
        self.output = conv_forward_speedup(input, self.weight, self.bias, self.padding, self.stride)
        self.forward_time = time.time() - started
        return self.output

    def backward_speedup(self, top_diff):
        started = time.time()
        bottom_diff, self.d_weight, self.d_bias = conv_backward_speedup(top_diff, self.input, self.weight,
                                                                        self.padding, self.stride)
        self.backward_time = time.time() - started
        return bottom_diff

    def get_gradient(self):
        return self.d_weight, self.d_bias

    def update_param(self, lr):
        self.weight = self.weight - lr * self.d_weight
        self.bias = self.bias - lr * self.d_bias

    def get_forward_time(self):
        return self.forward_time

    def get_backward_time(self):
        return self.backward_time


class MaxPoolingLayer:
    def __init__(self, kernel_size, stride, type=0):
        self.kernel_size, self.stride = kernel_size, stride
        self.forward = self.forward_speedup if type == 1 else self.forward_raw
        self.backward = self.backward_speedup if type == 1 else self.backward_raw_book

    def forward_raw(self, input):
        self.input = input
        self.output = pool_forward_raw(input, self.kernel_size, self.stride)
        return self.output

    def backward_raw_book(self, top_diff):
        return pool_backward_raw(top_diff, self.input, self.kernel_size, self.stride)

    def forward_speedup(self, input):
        self.input = input
        self.output = pool_forward_speedup(input, self.kernel_size, self.stride)
        return self.output

    def backward_speedup(self, top_diff):
        return pool_backward_speedup(top_diff, self.input, self.kernel_size, self.stride)


class FlattenLayer:
    def __init__(self, input_shape, output_shape):
        assert int(np.prod(input_shape)) == int(np.prod(output_shape))
        self.input_shape, self.output_shape = list(input_shape), list(output_shape)

    def forward(self, input):
        assert list(input.shape[1:]) == self.input_shape
        self.input = input
        return flatten_forward(input)

    def backward(self, top_diff):
        return flatten_backward(top_diff, self.input.shape)
