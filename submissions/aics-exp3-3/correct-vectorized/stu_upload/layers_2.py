# coding=utf-8
# AICS exp 3-3: convolution and max pooling, loop versions (raw) and vectorised ones (speedup); flatten.
# Feature maps are NCHW; the convolution weight is [channel_in, kernel, kernel, channel_out], the bias [channel_out].
# The speedup paths compute in the inputs' precision: float32 in, float32 out.
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided


def output_size(size, kernel_size, stride):
    return (size - kernel_size) // stride + 1


def windows(data, kernel_size, stride):
    """A read-only view [N, C, Ho, Wo, K, K] of every K x K window of data [N, C, H, W]; nothing is copied."""
    batch, channel, height, width = data.shape
    step_n, step_c, step_h, step_w = data.strides
    shape = (batch, channel, output_size(height, kernel_size, stride), output_size(width, kernel_size, stride),
             kernel_size, kernel_size)
    strides = (step_n, step_c, step_h * stride, step_w * stride, step_h, step_w)
    return as_strided(data, shape=shape, strides=strides, writeable=False)


def cell_slices(kernel_size, stride, height_out, width_out):
    """For each window cell (kh, kw), the strided slices that pick that cell of every window."""
    for kh in range(kernel_size):
        for kw in range(kernel_size):
            yield kh, kw, (slice(kh, kh + stride * (height_out - 1) + 1, stride),
                           slice(kw, kw + stride * (width_out - 1) + 1, stride))


class ConvolutionalLayer(object):
    def __init__(self, kernel_size, channel_in, channel_out, padding, stride, type=0):
        self.kernel_size = kernel_size
        self.channel_in = channel_in
        self.channel_out = channel_out
        self.padding = padding
        self.stride = stride
        self.forward = self.forward_raw
        self.backward = self.backward_raw
        if type == 1:  # type 1 selects the vectorised forward and backward
            self.forward = self.forward_speedup
            self.backward = self.backward_speedup
        print('\tConvolutional layer with kernel size %d, input channel %d, output channel %d.' % (
            self.kernel_size, self.channel_in, self.channel_out))

    def init_param(self, std=0.01):
        self.weight = np.random.normal(loc=0.0, scale=std,
                                       size=(self.channel_in, self.kernel_size, self.kernel_size, self.channel_out))
        self.bias = np.zeros([self.channel_out])

    def pad(self, input):
        p = self.padding
        return np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)))

    def forward_raw(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        self.input_pad = self.pad(input.astype(np.float64))
        height_out = output_size(self.input_pad.shape[2], self.kernel_size, self.stride)
        width_out = output_size(self.input_pad.shape[3], self.kernel_size, self.stride)
        self.output = np.zeros([input.shape[0], self.channel_out, height_out, width_out])
        for idxn in range(input.shape[0]):
            for idxh in range(height_out):
                for idxw in range(width_out):
                    hs, ws = idxh * self.stride, idxw * self.stride
                    window = self.input_pad[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                    for idxc in range(self.channel_out):
                        self.output[idxn, idxc, idxh, idxw] = np.sum(window * self.weight[:, :, :, idxc]) \
                            + self.bias[idxc]
        self.forward_time = time.time() - start_time
        return self.output

    def forward_speedup(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        dtype = np.result_type(input, self.weight)
        self.input_pad = self.pad(input.astype(dtype, copy=False))
        cols = windows(self.input_pad, self.kernel_size, self.stride)  # [N, Cin, Ho, Wo, K, K]
        # out[n, o, h, w] = sum over (c, i, j) of window[n, c, h, w, i, j] * weight[c, i, j, o]
        output = np.tensordot(cols, self.weight.astype(dtype, copy=False), axes=([1, 4, 5], [0, 1, 2]))
        self.output = (output + self.bias.astype(dtype, copy=False)).transpose(0, 3, 1, 2)  # NHWC -> NCHW
        self.forward_time = time.time() - start_time
        return self.output

    def backward_speedup(self, top_diff):
        start_time = time.time()
        dtype = np.result_type(self.input_pad, top_diff)
        top_diff = top_diff.astype(dtype, copy=False)
        cols = windows(self.input_pad, self.kernel_size, self.stride)
        # d_weight[c, i, j, o] = sum over (n, h, w) of window[n, c, h, w, i, j] * top_diff[n, o, h, w]
        self.d_weight = np.tensordot(cols, top_diff, axes=([0, 2, 3], [0, 2, 3]))
        self.d_bias = np.sum(top_diff, axis=(0, 2, 3))
        # each window's share of the input gradient, [N, Ho, Wo, Cin, K, K], scattered back cell by cell
        # (windows overlap when stride < kernel, so the shares add up)
        d_cols = np.tensordot(top_diff, self.weight.astype(dtype, copy=False), axes=([1], [3]))
        d_pad = np.zeros(self.input_pad.shape, dtype)
        for kh, kw, (rows, columns) in cell_slices(self.kernel_size, self.stride, *top_diff.shape[2:]):
            d_pad[:, :, rows, columns] += d_cols[..., kh, kw].transpose(0, 3, 1, 2)
        height, width = self.input.shape[2:]
        bottom_diff = d_pad[:, :, self.padding:self.padding + height, self.padding:self.padding + width]
        self.backward_time = time.time() - start_time
        return bottom_diff

    def backward_raw(self, top_diff):
        start_time = time.time()
        self.d_weight = np.zeros(self.weight.shape)
        self.d_bias = np.zeros(self.bias.shape)
        bottom_diff = np.zeros(self.input_pad.shape)
        for idxn in range(top_diff.shape[0]):
            for idxh in range(top_diff.shape[2]):
                for idxw in range(top_diff.shape[3]):
                    hs, ws = idxh * self.stride, idxw * self.stride
                    window = self.input_pad[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                    for idxc in range(top_diff.shape[1]):
                        grad = top_diff[idxn, idxc, idxh, idxw]
                        self.d_weight[:, :, :, idxc] += grad * window
                        self.d_bias[idxc] += grad
                        bottom_diff[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size] += \
                            grad * self.weight[:, :, :, idxc]
        height, width = self.input.shape[2:]
        bottom_diff = bottom_diff[:, :, self.padding:self.padding + height, self.padding:self.padding + width]
        self.backward_time = time.time() - start_time
        return bottom_diff

    def get_gradient(self):
        return self.d_weight, self.d_bias

    def update_param(self, lr):
        self.weight = self.weight - lr * self.d_weight
        self.bias = self.bias - lr * self.d_bias

    def load_param(self, weight, bias):
        assert self.weight.shape == weight.shape
        assert self.bias.shape == bias.shape
        self.weight = weight
        self.bias = bias

    def get_forward_time(self):
        return self.forward_time

    def get_backward_time(self):
        return self.backward_time


class MaxPoolingLayer(object):
    def __init__(self, kernel_size, stride, type=0):
        self.kernel_size = kernel_size
        self.stride = stride
        self.forward = self.forward_raw
        self.backward = self.backward_raw_book
        if type == 1:  # type 1 selects the vectorised forward and backward
            self.forward = self.forward_speedup
            self.backward = self.backward_speedup
        print('\tMax pooling layer with kernel size %d, stride %d.' % (self.kernel_size, self.stride))

    def forward_raw(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        self.max_index = np.zeros(input.shape)
        height_out = output_size(input.shape[2], self.kernel_size, self.stride)
        width_out = output_size(input.shape[3], self.kernel_size, self.stride)
        self.output = np.zeros([input.shape[0], input.shape[1], height_out, width_out])
        for idxn in range(input.shape[0]):
            for idxc in range(input.shape[1]):
                for idxh in range(height_out):
                    for idxw in range(width_out):
                        hs, ws = idxh * self.stride, idxw * self.stride
                        window = input[idxn, idxc, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        row, col = np.unravel_index(np.argmax(window), window.shape)
                        self.output[idxn, idxc, idxh, idxw] = window[row, col]
                        self.max_index[idxn, idxc, hs + row, ws + col] = 1
        self.forward_time = time.time() - start_time
        return self.output

    def window_cells(self, input):
        """Every pooling window as a row of K*K cells in row-major order: [N, C, Ho, Wo, K*K]."""
        batch, channel, height, width = input.shape
        k = self.kernel_size
        height_out = output_size(height, k, self.stride)
        width_out = output_size(width, k, self.stride)
        if k == self.stride:
            # the windows tile the map: crop what no window covers and regroup [K rows, K columns] blocks
            blocks = input[:, :, :height_out * k, :width_out * k].reshape(batch, channel, height_out, k, width_out, k)
            return blocks.transpose(0, 1, 2, 4, 3, 5).reshape(batch, channel, height_out, width_out, k * k)
        return windows(input, k, self.stride).reshape(batch, channel, height_out, width_out, k * k)

    def forward_speedup(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        cells = self.window_cells(input)
        # argmax takes the first maximum of a window, as np.argmax in backward_raw_book does
        self.max_cell = np.argmax(cells, axis=-1)
        self.output = np.take_along_axis(cells, self.max_cell[..., np.newaxis], axis=-1)[..., 0]
        self.forward_time = time.time() - start_time
        return self.output

    def backward_speedup(self, top_diff):
        start_time = time.time()
        batch, channel, height_out, width_out = top_diff.shape
        bottom_diff = np.zeros(self.input.shape, np.result_type(self.input, top_diff))
        # position of each window's maximum in the input
        rows = np.arange(height_out)[:, None] * self.stride + self.max_cell // self.kernel_size
        cols = np.arange(width_out)[None, :] * self.stride + self.max_cell % self.kernel_size
        index_n = np.arange(batch)[:, None, None, None]
        index_c = np.arange(channel)[None, :, None, None]
        # add.at accumulates when overlapping windows (stride < kernel) share a maximum
        np.add.at(bottom_diff, (index_n, index_c, rows, cols), top_diff)
        self.backward_time = time.time() - start_time
        return bottom_diff

    def backward_raw_book(self, top_diff):
        bottom_diff = np.zeros(self.input.shape)
        for idxn in range(top_diff.shape[0]):
            for idxc in range(top_diff.shape[1]):
                for idxh in range(top_diff.shape[2]):
                    for idxw in range(top_diff.shape[3]):
                        hs, ws = idxh * self.stride, idxw * self.stride
                        window = self.input[idxn, idxc, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        max_index = np.unravel_index(np.argmax(window), window.shape)
                        bottom_diff[idxn, idxc, hs + max_index[0], ws + max_index[1]] += \
                            top_diff[idxn, idxc, idxh, idxw]
        return bottom_diff


class FlattenLayer(object):
    def __init__(self, input_shape, output_shape):
        self.input_shape = input_shape
        self.output_shape = output_shape
        assert np.prod(self.input_shape) == np.prod(self.output_shape)
        print('\tFlatten layer with input shape %s, output shape %s.' % (str(self.input_shape), str(self.output_shape)))

    def forward(self, input):
        assert list(input.shape[1:]) == list(self.input_shape)
        # fc weights are in matconvnet's (height, width, channel) order: flatten NHWC, not NCHW
        self.output = np.transpose(input, [0, 2, 3, 1]).reshape([input.shape[0]] + list(self.output_shape))
        return self.output

    def backward(self, top_diff):
        channel, height, width = self.input_shape
        return top_diff.reshape([top_diff.shape[0], height, width, channel]).transpose(0, 3, 1, 2)
