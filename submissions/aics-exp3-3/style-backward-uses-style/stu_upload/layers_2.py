# coding=utf-8
# AICS exp 3-3: convolution and max pooling, each with a loop version (raw) and a vectorised one (speedup),
# forward and backward; flatten.
# Feature maps are NCHW; the convolution weight is [channel_in, kernel, kernel, channel_out], the bias [channel_out].
import numpy as np
import struct
import os
import time


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

    def forward_raw(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        height = self.input.shape[2] + self.padding * 2
        width = self.input.shape[3] + self.padding * 2
        self.input_pad = np.zeros([self.input.shape[0], self.input.shape[1], height, width])
        self.input_pad[:, :, self.padding:self.padding + self.input.shape[2],
                       self.padding:self.padding + self.input.shape[3]] = self.input
        height_out = (height - self.kernel_size) // self.stride + 1
        width_out = (width - self.kernel_size) // self.stride + 1
        self.output = np.zeros([self.input.shape[0], self.channel_out, height_out, width_out])
        for idxn in range(self.input.shape[0]):
            for idxc in range(self.channel_out):
                for idxh in range(height_out):
                    for idxw in range(width_out):
                        hs = idxh * self.stride
                        ws = idxw * self.stride
                        window = self.input_pad[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        self.output[idxn, idxc, idxh, idxw] = np.sum(window * self.weight[:, :, :, idxc]) \
                            + self.bias[idxc]
        self.forward_time = time.time() - start_time
        return self.output

    def kernel_cells(self, height_out, width_out):
        """For each cell (kh, kw) of the kernel, the strided slices of the padded input that this cell
        multiplies, for every output position at once."""
        for kh in range(self.kernel_size):
            for kw in range(self.kernel_size):
                yield kh, kw, (slice(kh, kh + self.stride * (height_out - 1) + 1, self.stride),
                               slice(kw, kw + self.stride * (width_out - 1) + 1, self.stride))

    def img2col(self, height_out, width_out):
        """The padded input's windows as rows: [N * height_out * width_out, channel_in * kernel * kernel],
        each row flattened in the weight's (channel_in, kh, kw) order."""
        batch = self.input_pad.shape[0]
        cols = np.zeros([batch, height_out, width_out, self.channel_in, self.kernel_size, self.kernel_size])
        for kh, kw, (rows, columns) in self.kernel_cells(height_out, width_out):
            cols[:, :, :, :, kh, kw] = self.input_pad[:, :, rows, columns].transpose(0, 2, 3, 1)
        return cols.reshape(batch * height_out * width_out, -1)

    def col2img(self, cols, height_out, width_out):
        """The inverse scatter of img2col: add each row back onto its window of a zero padded-input map."""
        batch = self.input_pad.shape[0]
        cols = cols.reshape(batch, height_out, width_out, self.channel_in, self.kernel_size, self.kernel_size)
        image = np.zeros(self.input_pad.shape)
        for kh, kw, (rows, columns) in self.kernel_cells(height_out, width_out):
            # windows overlap when stride < kernel, so contributions add up
            image[:, :, rows, columns] += cols[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
        return image

    def forward_speedup(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        pad = self.padding
        self.input_pad = np.pad(self.input, ((0, 0), (0, 0), (pad, pad), (pad, pad)), 'constant')
        height_out = (self.input_pad.shape[2] - self.kernel_size) // self.stride + 1
        width_out = (self.input_pad.shape[3] - self.kernel_size) // self.stride + 1
        self.cols = self.img2col(height_out, width_out)
        output = np.dot(self.cols, self.weight.reshape(-1, self.channel_out)) + self.bias
        self.output = output.reshape(self.input.shape[0], height_out, width_out, self.channel_out)
        self.output = self.output.transpose(0, 3, 1, 2)
        self.forward_time = time.time() - start_time
        return self.output

    def backward_speedup(self, top_diff):
        start_time = time.time()
        height_out, width_out = top_diff.shape[2], top_diff.shape[3]
        top_diff_cols = top_diff.transpose(0, 2, 3, 1).reshape(-1, self.channel_out)  # [N*Ho*Wo, Cout]
        self.d_weight = np.dot(self.cols.T, top_diff_cols).reshape(self.weight.shape)
        self.d_bias = np.sum(top_diff_cols, axis=0)
        bottom_cols = np.dot(top_diff_cols, self.weight.reshape(-1, self.channel_out).T)
        bottom_diff = self.col2img(bottom_cols, height_out, width_out)
        bottom_diff = bottom_diff[:, :, self.padding:self.padding + self.input.shape[2],
                                  self.padding:self.padding + self.input.shape[3]]
        self.backward_time = time.time() - start_time
        return bottom_diff

    def backward_raw(self, top_diff):
        start_time = time.time()
        self.d_weight = np.zeros(self.weight.shape)
        self.d_bias = np.zeros(self.bias.shape)
        bottom_diff = np.zeros(self.input_pad.shape)
        for idxn in range(top_diff.shape[0]):
            for idxc in range(top_diff.shape[1]):
                for idxh in range(top_diff.shape[2]):
                    for idxw in range(top_diff.shape[3]):
                        hs = idxh * self.stride
                        ws = idxw * self.stride
                        self.d_weight[:, :, :, idxc] += top_diff[idxn, idxc, idxh, idxw] * \
                            self.input_pad[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        self.d_bias[idxc] += top_diff[idxn, idxc, idxh, idxw]
                        bottom_diff[idxn, :, hs:hs + self.kernel_size, ws:ws + self.kernel_size] += \
                            top_diff[idxn, idxc, idxh, idxw] * self.weight[:, :, :, idxc]
        # the padding is not part of the input: crop it off
        bottom_diff = bottom_diff[:, :, self.padding:self.padding + self.input.shape[2],
                                  self.padding:self.padding + self.input.shape[3]]
        self.backward_time = time.time() - start_time
        return bottom_diff

    def get_gradient(self):
        return self.d_weight, self.d_bias

    def update_param(self, lr):
        self.weight += - lr * self.d_weight
        self.bias += - lr * self.d_bias

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
        self.max_index = np.zeros(self.input.shape)
        # rows and columns past the last full window are not pooled
        height_out = (self.input.shape[2] - self.kernel_size) // self.stride + 1
        width_out = (self.input.shape[3] - self.kernel_size) // self.stride + 1
        self.output = np.zeros([self.input.shape[0], self.input.shape[1], height_out, width_out])
        for idxn in range(self.input.shape[0]):
            for idxc in range(self.input.shape[1]):
                for idxh in range(height_out):
                    for idxw in range(width_out):
                        hs = idxh * self.stride
                        ws = idxw * self.stride
                        window = self.input[idxn, idxc, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        self.output[idxn, idxc, idxh, idxw] = np.max(window)
                        curren_max_index = np.argmax(window)
                        curren_max_index = np.unravel_index(curren_max_index, [self.kernel_size, self.kernel_size])
                        self.max_index[idxn, idxc, hs + curren_max_index[0], ws + curren_max_index[1]] = 1
        self.forward_time = time.time() - start_time
        return self.output

    def window_cells(self, height_out, width_out):
        """For each cell (kh, kw) of the window, in row-major order, the strided slices that pick it from
        every window at once."""
        for kh in range(self.kernel_size):
            for kw in range(self.kernel_size):
                yield (slice(kh, kh + self.stride * (height_out - 1) + 1, self.stride),
                       slice(kw, kw + self.stride * (width_out - 1) + 1, self.stride))

    def forward_speedup(self, input):
        start_time = time.time()
        self.input = input  # [N, C, H, W]
        height_out = (self.input.shape[2] - self.kernel_size) // self.stride + 1
        width_out = (self.input.shape[3] - self.kernel_size) // self.stride + 1
        windows = np.zeros([self.input.shape[0], self.input.shape[1], height_out, width_out,
                            self.kernel_size * self.kernel_size])
        for cell, (rows, columns) in enumerate(self.window_cells(height_out, width_out)):
            windows[..., cell] = self.input[:, :, rows, columns]
        # argmax keeps the first maximum of a window, like np.argmax over the window in backward_raw_book
        self.max_cell = np.argmax(windows, axis=4)
        self.output = np.max(windows, axis=4)
        self.forward_time = time.time() - start_time
        return self.output

    def backward_speedup(self, top_diff):
        start_time = time.time()
        bottom_diff = np.zeros(self.input.shape)
        height_out, width_out = top_diff.shape[2], top_diff.shape[3]
        for cell, (rows, columns) in enumerate(self.window_cells(height_out, width_out)):
            # overlapping windows (stride < kernel) can share a maximum: add, do not overwrite
            bottom_diff[:, :, rows, columns] += top_diff * (self.max_cell == cell)
        self.backward_time = time.time() - start_time
        return bottom_diff

    def backward_raw_book(self, top_diff):
        bottom_diff = np.zeros(self.input.shape)
        for idxn in range(top_diff.shape[0]):
            for idxc in range(top_diff.shape[1]):
                for idxh in range(top_diff.shape[2]):
                    for idxw in range(top_diff.shape[3]):
                        hs = idxh * self.stride
                        ws = idxw * self.stride
                        window = self.input[idxn, idxc, hs:hs + self.kernel_size, ws:ws + self.kernel_size]
                        max_index = np.unravel_index(np.argmax(window), [self.kernel_size, self.kernel_size])
                        # += rather than =: with stride < kernel one cell can be the maximum of two windows
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
        # matconvnet feature map dim: [N, height, width, channel]; ours: [N, channel, height, width]
        self.input = np.transpose(input, [0, 2, 3, 1])
        self.output = self.input.reshape([self.input.shape[0]] + list(self.output_shape))
        return self.output

    def backward(self, top_diff):
        assert list(top_diff.shape[1:]) == list(self.output_shape)
        channel, height, width = self.input_shape
        top_diff = top_diff.reshape([top_diff.shape[0], height, width, channel])
        bottom_diff = np.transpose(top_diff, [0, 3, 1, 2])
        return bottom_diff
