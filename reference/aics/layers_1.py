"""layers_1.py of AICS exp 2-1 (reused by 3-1 and 3-3): fully connected, ReLU, softmax with cross-entropy.

FC weight [in, out], bias [1, out]; d_bias keeps the bias's shape.
"""
import numpy as np

from reference.layers import activations as _activations
from reference.layers import dense as _dense
from reference.layers import losses as _losses


# --- kernels (patched one at a time by reference.mistakes) ---------------------------------

def fc_forward(x, weight, bias):
    return _dense.fc_forward(x, weight, bias)


def fc_backward(dout, x, weight, bias):
    return _dense.fc_backward(dout, x, weight, bias)


def relu_forward(x):
    return _activations.relu_forward(x)


def relu_backward(dout, x):
    return _activations.relu_backward(dout, x)


def softmax_forward(logits):
    return _losses.softmax(logits)


def cross_entropy(prob, labels):
    """-sum(log(prob) * onehot) / N, from the probabilities as the course computes it."""
    return _losses.aics_cross_entropy(prob, labels)


def softmax_backward(prob, labels):
    """(prob - onehot) / N"""
    return _losses.aics_softmax_backward(prob, labels)


# --- the course's classes -------------------------------------------------------------------

class FullyConnectedLayer:
    def __init__(self, num_input, num_output):
        self.num_input, self.num_output = num_input, num_output

    def init_param(self, std=0.01):
        # float32 draws: fc6 alone is 25088 x 4096, and load_param replaces these anyway
        generator = np.random.default_rng()
        self.weight = generator.standard_normal((self.num_input, self.num_output), dtype=np.float32) * np.float32(std)
        self.bias = np.zeros([1, self.num_output])

    def forward(self, input):
        self.input = input
        self.output = fc_forward(input, self.weight, self.bias)
        return self.output

    def backward(self, top_diff):
        bottom_diff, self.d_weight, self.d_bias = fc_backward(top_diff, self.input, self.weight, self.bias)
        return bottom_diff

    def update_param(self, lr):
        self.weight = self.weight - lr * self.d_weight
        self.bias = self.bias - lr * self.d_bias

    def load_param(self, weight, bias):
        assert self.weight.shape == weight.shape and self.bias.shape == bias.shape
        self.weight, self.bias = weight, bias

    def save_param(self):
        return self.weight, self.bias


class ReLULayer:
    def forward(self, input):
        self.input = input
        return relu_forward(input)

    def backward(self, top_diff):
        return relu_backward(top_diff, self.input)


class SoftmaxLossLayer:
    def forward(self, input):
        self.prob = softmax_forward(input)
        return self.prob

    def get_loss(self, label):
        self.label = label
        return cross_entropy(self.prob, label)

    def backward(self):
        return softmax_backward(self.prob, self.label)
