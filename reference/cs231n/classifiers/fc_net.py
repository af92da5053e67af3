"""cs231n/classifiers/fc_net.py (spring 2018 to 2020): TwoLayerNet and FullyConnectedNet.

    TwoLayerNet        affine - relu - affine - softmax
    FullyConnectedNet  {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

loss(X) returns the scores (N, C); loss(X, y) returns (loss, grads) with grads keyed like self.params.
The L2 penalty is 0.5 * reg * sum of the squared weights (W1, W2, ...; never biases, gamma or beta):
the skeleton asks for the factor 0.5 "to pass the automated tests". Initialisation: weights
weight_scale * randn, biases zeros, gamma ones and beta zeros; FullyConnectedNet casts every
parameter to ``dtype``.
"""
import numpy as np

from .. import layers


def l2_regularization(params, names, reg):
    """(0.5 * reg * sum of ||W||^2 over names, {name: reg * W})."""
    loss = 0.5 * reg * sum(np.sum(params[name] * params[name]) for name in names)
    return loss, {name: reg * params[name] for name in names}


class TwoLayerNet(object):
    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim), "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes), "b2": np.zeros(num_classes),
        }
        self.reg = reg

    def loss(self, X, y=None):
        hidden, hidden_cache = layers.affine_forward(X, self.params["W1"], self.params["b1"])
        activated, relu_cache = layers.relu_forward(hidden)
        scores, scores_cache = layers.affine_forward(activated, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        loss, dscores = layers.softmax_loss(scores, y)
        penalty, dpenalty = l2_regularization(self.params, ("W1", "W2"), self.reg)
        grads = {}
        dactivated, grads["W2"], grads["b2"] = layers.affine_backward(dscores, scores_cache)
        dhidden = layers.relu_backward(dactivated, relu_cache)
        _, grads["W1"], grads["b1"] = layers.affine_backward(dhidden, hidden_cache)
        for name, extra in dpenalty.items():
            grads[name] = grads[name] + extra
        return loss + penalty, grads


class FullyConnectedNet(object):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=1, normalization=None,
                 reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        sizes = [input_dim] + list(hidden_dims) + [num_classes]
        for index in range(self.num_layers):
            layer = index + 1
            self.params[f"W{layer}"] = weight_scale * np.random.randn(sizes[index], sizes[index + 1])
            self.params[f"b{layer}"] = np.zeros(sizes[index + 1])
            if normalization and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(sizes[index + 1])
                self.params[f"beta{layer}"] = np.zeros(sizes[index + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        h, caches = X, []
        for layer in range(1, self.num_layers):
            h, cache = self._hidden_forward(h, layer)
            caches.append(cache)
        scores, scores_cache = layers.affine_forward(h, self.params[f"W{self.num_layers}"],
                                                     self.params[f"b{self.num_layers}"])
        if mode == "test":
            return scores
        loss, dscores = layers.softmax_loss(scores, y)
        weights = [f"W{layer}" for layer in range(1, self.num_layers + 1)]
        penalty, dpenalty = l2_regularization(self.params, weights, self.reg)
        grads = {}
        last = self.num_layers
        dh, grads[f"W{last}"], grads[f"b{last}"] = layers.affine_backward(dscores, scores_cache)
        for layer in range(self.num_layers - 1, 0, -1):
            dh = self._hidden_backward(dh, caches[layer - 1], layer, grads)
        for name, extra in dpenalty.items():
            grads[name] = grads[name] + extra
        return loss + penalty, grads

    def _hidden_forward(self, h, layer):
        cache = {}
        h, cache["affine"] = layers.affine_forward(h, self.params[f"W{layer}"], self.params[f"b{layer}"])
        if self.normalization == "batchnorm":
            h, cache["norm"] = layers.batchnorm_forward(h, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                                        self.bn_params[layer - 1])
        elif self.normalization == "layernorm":
            h, cache["norm"] = layers.layernorm_forward(h, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                                        self.bn_params[layer - 1])
        h, cache["relu"] = layers.relu_forward(h)
        if self.use_dropout:
            h, cache["dropout"] = layers.dropout_forward(h, self.dropout_param)
        return h, cache

    def _hidden_backward(self, dh, cache, layer, grads):
        if self.use_dropout:
            dh = layers.dropout_backward(dh, cache["dropout"])
        dh = layers.relu_backward(dh, cache["relu"])
        if self.normalization == "batchnorm":
            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layers.batchnorm_backward(dh, cache["norm"])
        elif self.normalization == "layernorm":
            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layers.layernorm_backward(dh, cache["norm"])
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = layers.affine_backward(dh, cache["affine"])
        return dh
