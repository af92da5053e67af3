# coding:utf-8
# AICS exp 3-3: content loss and style loss (lab formulas 3.10-3.15) on NCHW feature maps.
import numpy as np
import struct
import os
import scipy.io
import time


class ContentLossLayer(object):
    def __init__(self):
        print('\tContent loss layer.')

    def forward(self, input_layer, content_layer):
        # 3.10: L = 1 / (2NCHW) * sum((X - Y)^2)
        loss = np.sum(np.square(input_layer - content_layer)) / (2.0 * input_layer.size)
        return loss

    def backward(self, input_layer, content_layer):
        # 3.11: dL/dX = (X - Y) / (NCHW)
        bottom_diff = (input_layer - content_layer) / input_layer.size
        return bottom_diff


class StyleLossLayer(object):
    def __init__(self):
        print('\tStyle loss layer.')

    def forward(self, input_layer, style_layer):
        # 3.12: Gram matrices G = X X^T of the [C, H*W] feature maps; the style target uses batch element 0
        style_layer_reshape = np.reshape(style_layer, [style_layer.shape[0], style_layer.shape[1], -1])
        self.gram_style = np.matmul(style_layer_reshape[0], style_layer_reshape[0].T)
        self.input_layer_reshape = np.reshape(input_layer, [input_layer.shape[0], input_layer.shape[1], -1])
        self.gram_input = np.zeros([input_layer.shape[0], input_layer.shape[1], input_layer.shape[1]])
        for idxn in range(input_layer.shape[0]):
            self.gram_input[idxn, :, :] = np.matmul(self.input_layer_reshape[idxn], self.input_layer_reshape[idxn].T)

        M = input_layer.shape[2] * input_layer.shape[3]
        N = input_layer.shape[1]
        self.div = M * M * N * N
        # 3.13: L = 1 / (4 N_batch C^2 (HW)^2) * sum((G - A)^2)
        style_diff = np.sum(np.square(self.gram_input - self.gram_style))
        loss = style_diff / (4.0 * input_layer.shape[0] * self.div)
        return loss

    def backward(self, input_layer, style_layer):
        bottom_diff = np.zeros([input_layer.shape[0], input_layer.shape[1],
                                input_layer.shape[2] * input_layer.shape[3]])
        for idxn in range(input_layer.shape[0]):
            # 3.15: dL/dX = (G - A) X / (N_batch C^2 (HW)^2), with X the input's own features
            bottom_diff[idxn, :, :] = np.matmul(self.gram_input[idxn] - self.gram_style,
                                                self.input_layer_reshape[idxn]) / (input_layer.shape[0] * self.div)
        bottom_diff = np.reshape(bottom_diff, input_layer.shape)
        return bottom_diff
