"""framework/layers.py: layers with ``params`` / ``grads`` dicts, ``forward(x)`` and ``backward(dout) -> dx``.

Layouts: x (N, D) for Linear and BatchNorm1d, NCHW for the rest; Linear's weight (in, out) (the notes'
H = X W + b), Conv2d's weight (out, in, k, k). Conv2d's padding is an int (zeros on every side) or "same"
(stride 1: the output keeps the input's size; an even kernel pads k/2 - 1 before and k/2 after, the notes'
rule). Pools have no padding; their stride defaults to the kernel. Batch norm keeps running_mean (zeros)
and running_var (ones), updated in training as momentum * running + (1 - momentum) * batch statistic (the
biased variance); with training False it normalises with them.
"""
import numpy as np

from reference.layers import activations as _activations
from reference.layers import conv as _conv
from reference.layers import dense as _dense
from reference.layers import norm as _norm
from reference.layers import pool as _pool


# --- kernels (patched one at a time by reference.mistakes.framework) --------------------------------------

def linear_forward(x, weight, bias):
    return _dense.fc_forward(x, weight, bias)


def linear_backward(dout, x, weight, bias):
    """(dx, dweight, dbias)."""
    return _dense.fc_backward(dout, x, weight, bias)


def sigmoid_forward(x):
    return _activations.sigmoid_forward(x)


def sigmoid_backward(dout, x):
    return _activations.sigmoid_backward(dout, x)


def relu_forward(x):
    return _activations.relu_forward(x)


def relu_backward(dout, x):
    return _activations.relu_backward(dout, x)


def same_padding(kernel):
    """(before, after) zeros that keep the size at stride 1: k // 2 each side for an odd kernel, k/2 - 1 before
    and k/2 after for an even one (the notes' rule)."""
    half = kernel // 2
    return (half, half) if kernel % 2 else (half - 1, half)


def conv_forward(x, weight, bias, stride, padding):
    return _conv.conv2d_forward(x, weight, bias, stride=stride, padding=padding)


def conv_backward(dout, x, weight, stride, padding):
    """(dx, dweight, dbias)."""
    return _conv.conv2d_backward(dout, x, weight, stride=stride, padding=padding)


def maxpool_forward(x, kernel, stride):
    return _pool.maxpool2d_forward(x, kernel, stride)


def maxpool_backward(dout, x, kernel, stride):
    return _pool.maxpool2d_backward(dout, x, kernel, stride)


def avgpool_forward(x, kernel, stride):
    return _pool.avgpool2d_forward(x, kernel, stride)


def avgpool_backward(dout, x, kernel, stride):
    return _pool.avgpool2d_backward(dout, x, kernel, stride)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """(out, new running_mean, new running_var); x (N, D) or NCHW (statistics over every axis but 1)."""
    forward = _norm.spatial_batchnorm_forward if np.ndim(x) == 4 else _norm.batchnorm_forward
    return forward(x, gamma, beta, running_mean, running_var, mode="train" if training else "test",
                   momentum=momentum, eps=eps)


def batchnorm_backward(dout, x, gamma, running_mean, running_var, training, eps):
    """(dx, dgamma, dbeta)."""
    backward = _norm.spatial_batchnorm_backward if np.ndim(x) == 4 else _norm.batchnorm_backward
    return backward(dout, x, gamma, running_mean, running_var, mode="train" if training else "test", eps=eps)


# --- layers ------------------------------------------------------------------------------------------------

class Layer(object):
    """params and grads are dicts of arrays; forward keeps what backward needs."""

    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True


class Linear(Layer):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.params = {"weight": np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features),
                       "bias": np.zeros(out_features)}

    def forward(self, x):
        self.x = x
        return linear_forward(x, self.params["weight"], self.params["bias"])

    def backward(self, dout):
        dx, self.grads["weight"], self.grads["bias"] = linear_backward(dout, self.x, self.params["weight"],
                                                                       self.params["bias"])
        return dx


class Sigmoid(Layer):
    def forward(self, x):
        self.x = x
        return sigmoid_forward(x)

    def backward(self, dout):
        return sigmoid_backward(dout, self.x)


class ReLU(Layer):
    def forward(self, x):
        self.x = x
        return relu_forward(x)

    def backward(self, dout):
        return relu_backward(dout, self.x)


class Conv2d(Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.stride, self.padding = stride, padding
        fan_in = in_channels * kernel_size * kernel_size
        self.params = {"weight": np.random.randn(out_channels, in_channels, kernel_size, kernel_size)
                       * np.sqrt(2.0 / fan_in)}
        if bias:
            self.params["bias"] = np.zeros(out_channels)

    def pads(self):
        """(top, bottom, left, right)."""
        if self.padding == "same":
            return same_padding(self.params["weight"].shape[2]) + same_padding(self.params["weight"].shape[3])
        return (self.padding,) * 4

    def forward(self, x):
        self.x = x
        return conv_forward(x, self.params["weight"], self.params.get("bias"), self.stride, self.pads())

    def backward(self, dout):
        dx, dweight, dbias = conv_backward(dout, self.x, self.params["weight"], self.stride, self.pads())
        self.grads["weight"] = dweight
        if "bias" in self.params:
            self.grads["bias"] = dbias
        return dx


class _Pool(Layer):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride


class MaxPool2d(_Pool):
    def forward(self, x):
        self.x = x
        return maxpool_forward(x, self.kernel_size, self.stride)

    def backward(self, dout):
        return maxpool_backward(dout, self.x, self.kernel_size, self.stride)


class AvgPool2d(_Pool):
    def forward(self, x):
        self.x = x
        return avgpool_forward(x, self.kernel_size, self.stride)

    def backward(self, dout):
        return avgpool_backward(dout, self.x, self.kernel_size, self.stride)


class _BatchNorm(Layer):
    def __init__(self, num_features, momentum=0.9, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)

    def forward(self, x):
        # backward differentiates the statistics this forward used
        self.x, self.used_mean, self.used_var = x, self.running_mean, self.running_var
        out, self.running_mean, self.running_var = batchnorm_forward(
            x, self.params["gamma"], self.params["beta"], self.running_mean, self.running_var, self.training,
            self.momentum, self.eps)
        return out

    def backward(self, dout):
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(
            dout, self.x, self.params["gamma"], self.used_mean, self.used_var, self.training, self.eps)
        return dx


class BatchNorm1d(_BatchNorm):
    """x (N, D)."""


class BatchNorm2d(_BatchNorm):
    """x NCHW, the statistics of channel c over every (n, h, w)."""


class Add(Layer):
    """forward(a, b) = a + b; backward(dout) = (dout, dout)."""

    def forward(self, a, b):
        return a + b

    def backward(self, dout):
        return dout, dout
