"""cs231n/layers.py of 2016-2017: reference.cs231n.layers, with dropout's p the DROP probability."""
import numpy as np

from reference.cs231n import layers as _base


def __getattr__(name):
    return getattr(_base, name)


def dropout_forward(x, dropout_param):
    """Inverted dropout; dropout_param {'p': probability of DROPPING, 'mode', 'seed'} -> (out, (param, mask))."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
