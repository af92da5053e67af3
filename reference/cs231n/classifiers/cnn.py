"""cs231n/classifiers/cnn.py: ThreeLayerConvNet, conv - relu - 2x2 max pool - affine - relu - affine - softmax.

The convolution keeps the spatial size (stride 1, pad (filter_size - 1) // 2), the pooling halves it;
W1 (F, C, fs, fs), W2 (F * H/2 * W/2, hidden_dim), W3 (hidden_dim, num_classes); the L2 penalty is
0.5 * reg * (||W1||^2 + ||W2||^2 + ||W3||^2). This reference uses the naive layers (the course's
fast_layers are Cython) on the small inputs the checks use.
"""
import numpy as np

from .. import layers
from . import fc_net


class ThreeLayerConvNet(object):
    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32):
        channels, height, width = input_dim
        self.reg, self.dtype = reg, dtype
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, channels, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(num_filters * (height // 2) * (width // 2), hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        W1, W2, W3 = self.params["W1"], self.params["W2"], self.params["W3"]
        conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        conv, conv_cache = layers.conv_forward_naive(X, W1, self.params["b1"], conv_param)
        relu1, relu1_cache = layers.relu_forward(conv)
        pooled, pool_cache = layers.max_pool_forward_naive(relu1, pool_param)
        hidden, hidden_cache = layers.affine_forward(pooled, W2, self.params["b2"])
        relu2, relu2_cache = layers.relu_forward(hidden)
        scores, scores_cache = layers.affine_forward(relu2, W3, self.params["b3"])
        if y is None:
            return scores
        loss, dscores = layers.softmax_loss(scores, y)
        penalty, dpenalty = fc_net.l2_regularization(self.params, ("W1", "W2", "W3"), self.reg)
        grads = {}
        drelu2, grads["W3"], grads["b3"] = layers.affine_backward(dscores, scores_cache)
        dhidden = layers.relu_backward(drelu2, relu2_cache)
        dpooled, grads["W2"], grads["b2"] = layers.affine_backward(dhidden, hidden_cache)
        drelu1 = layers.max_pool_backward_naive(dpooled, pool_cache)
        dconv = layers.relu_backward(drelu1, relu1_cache)
        _, grads["W1"], grads["b1"] = layers.conv_backward_naive(dconv, conv_cache)
        for name, extra in dpenalty.items():
            grads[name] = grads[name] + extra
        return loss + penalty, grads
