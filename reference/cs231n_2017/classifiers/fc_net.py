"""cs231n/classifiers/fc_net.py of 2016-2017: TwoLayerNet as later; FullyConnectedNet(hidden_dims, input_dim,
num_classes, dropout=0, use_batchnorm=False, reg, weight_scale, dtype, seed), dropout the DROP probability."""
import numpy as np

from reference.cs231n.classifiers import fc_net as _base

from .. import layers


def __getattr__(name):
    return getattr(_base, name)


class FullyConnectedNet(_base.FullyConnectedNet):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0, use_batchnorm=False,
                 reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        super().__init__(hidden_dims, input_dim, num_classes, dropout=1, reg=reg, weight_scale=weight_scale,
                         normalization="batchnorm" if use_batchnorm else None, dtype=dtype, seed=seed)
        self.use_batchnorm = use_batchnorm
        self.use_dropout = dropout > 0
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed

    def _hidden_forward(self, h, layer):
        cache = {}
        h, cache["affine"] = layers.affine_forward(h, self.params[f"W{layer}"], self.params[f"b{layer}"])
        if self.use_batchnorm:
            h, cache["norm"] = layers.batchnorm_forward(h, self.params[f"gamma{layer}"], self.params[f"beta{layer}"],
                                                        self.bn_params[layer - 1])
        h, cache["relu"] = layers.relu_forward(h)
        if self.use_dropout:
            h, cache["dropout"] = layers.dropout_forward(h, self.dropout_param)
        return h, cache

    def _hidden_backward(self, dh, cache, layer, grads):
        if self.use_dropout:
            dh = layers.dropout_backward(dh, cache["dropout"])
        dh = layers.relu_backward(dh, cache["relu"])
        if self.use_batchnorm:
            dh, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layers.batchnorm_backward(dh, cache["norm"])
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = layers.affine_backward(dh, cache["affine"])
        return dh
