# coding:utf-8
# AICS exp 3-3: content and style losses (lab formulas 3.10-3.15) on NCHW feature maps, without loops.
import numpy as np


class ContentLossLayer(object):
    def __init__(self):
        print('\tContent loss layer.')

    def forward(self, input_layer, content_layer):
        # 3.10: L = 1 / (2NCHW) * sum((X - Y)^2)
        return 0.5 * np.mean(np.square(input_layer - content_layer))

    def backward(self, input_layer, content_layer):
        # 3.11: dL/dX = (X - Y) / (NCHW)
        return (input_layer - content_layer) / input_layer.size


class StyleLossLayer(object):
    def __init__(self):
        print('\tStyle loss layer.')

    def forward(self, input_layer, style_layer):
        batch, channel, height, width = input_layer.shape
        # 3.12: Gram matrices of the [C, H*W] maps; the style target is batch element 0 of the style features
        style_layer_reshape = style_layer.reshape(style_layer.shape[0], style_layer.shape[1], -1)
        self.gram_style = style_layer_reshape[0] @ style_layer_reshape[0].T                      # [C, C]
        self.input_layer_reshape = input_layer.reshape(batch, channel, -1)
        self.gram_input = self.input_layer_reshape @ self.input_layer_reshape.transpose(0, 2, 1)  # [N, C, C]
        self.div = (height * width) ** 2 * channel ** 2
        # 3.13: L = 1 / (4 N C^2 (HW)^2) * sum((G - A)^2)
        return np.sum(np.square(self.gram_input - self.gram_style)) / (4.0 * batch * self.div)

    def backward(self, input_layer, style_layer):
        # 3.15: dL/dX = (G - A) X / (N C^2 (HW)^2), X being the input's features (G - A is symmetric)
        bottom_diff = (self.gram_input - self.gram_style) @ self.input_layer_reshape
        return bottom_diff.reshape(input_layer.shape) / (input_layer.shape[0] * self.div)
