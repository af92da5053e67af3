"""cs231n/layers.py of assignment 2 (spring 2018 to 2020): every forward returns (out, cache), every backward
takes (dout, cache). Parameter dicts are the course's: bn_param / ln_param / gn_param / dropout_param,
conv_param {'stride', 'pad'}, pool_param {'pool_height', 'pool_width', 'stride'}; batch norm writes its running
statistics back into bn_param."""
import numpy as np

from reference.layers import activations as _activations
from reference.layers import conv as _conv
from reference.layers import dense as _dense
from reference.layers import groupnorm as _groupnorm
from reference.layers import losses as _losses
from reference.layers import norm as _norm
from reference.layers import pool as _pool


def affine_forward(x, w, b):
    """x (N, d_1, ..., d_k) read as (N, D); w (D, M); b (M,) -> out (N, M)."""
    return _dense.affine_forward(x, w, b), (x, w, b)


def affine_backward(dout, cache):
    """(dx with x's shape, dw (D, M), db (M,))."""
    x, w, b = cache
    return _dense.affine_backward(dout, x, w, b)


def relu_forward(x):
    return _activations.relu_forward(x), x


def relu_backward(dout, cache):
    return _activations.relu_backward(dout, cache)


def svm_loss(x, y):
    """Multiclass hinge loss (margin 1) averaged over N: (loss, dx)."""
    return _losses.svm_loss(x, y)


def softmax_loss(x, y):
    """Softmax cross-entropy averaged over N: (loss, dx)."""
    return _losses.softmax_cross_entropy(x, y)


# --- batch norm, layer norm --------------------------------------------------------------------

def _bn_settings(x, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    features = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(features, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(features, dtype=x.dtype))
    return mode, eps, momentum, running_mean, running_var


def _batchnorm(forward, x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = _bn_settings(x, bn_param)
    out, new_mean, new_var = forward(x, gamma, beta, running_mean, running_var, mode=mode, momentum=momentum, eps=eps)
    bn_param["running_mean"], bn_param["running_var"] = new_mean, new_var
    cache = {"x": x, "gamma": gamma, "mode": mode, "eps": eps, "running_mean": new_mean, "running_var": new_var}
    return out, cache


def batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, D); gamma, beta (D,); bn_param {'mode': 'train'|'test', 'eps', 'momentum', 'running_mean',
    'running_var'} -> (out, cache); running_mean/var = momentum * old + (1 - momentum) * batch statistic
    (biased variance), written back into bn_param."""
    return _batchnorm(_norm.batchnorm_forward, x, gamma, beta, bn_param)


def batchnorm_backward(dout, cache):
    """(dx, dgamma, dbeta) through the computation graph of the forward."""
    return _norm.batchnorm_backward(dout, cache["x"], cache["gamma"], cache["running_mean"], cache["running_var"],
                                    mode=cache["mode"], eps=cache["eps"])


def batchnorm_backward_alt(dout, cache):
    """The same gradients by the simplified formula (CS231n's batchnorm_backward_alt)."""
    return batchnorm_backward(dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    """x (N, D) normalised per sample over its D features; ln_param {'eps'} -> (out, cache)."""
    eps = ln_param.get("eps", 1e-5)
    return _norm.layernorm_forward(x, gamma, beta, eps=eps), {"x": x, "gamma": gamma, "eps": eps}


def layernorm_backward(dout, cache):
    return _norm.layernorm_backward(dout, cache["x"], cache["gamma"], eps=cache["eps"])


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x NCHW, gamma and beta (C,): batch norm of every (n, h, w) position of each channel."""
    return _batchnorm(_norm.spatial_batchnorm_forward, x, gamma, beta, bn_param)


def spatial_batchnorm_backward(dout, cache):
    return _norm.spatial_batchnorm_backward(dout, cache["x"], cache["gamma"], cache["running_mean"],
                                            cache["running_var"], mode=cache["mode"], eps=cache["eps"])


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """x NCHW, gamma and beta (1, C, 1, 1) as the notebook passes them, G groups; gn_param {'eps'}."""
    eps = gn_param.get("eps", 1e-5)
    channels = x.shape[1]
    out = _groupnorm.groupnorm_forward(x, np.reshape(gamma, channels), np.reshape(beta, channels), G, eps=eps)
    return out, {"x": x, "gamma": gamma, "G": G, "eps": eps}


def spatial_groupnorm_backward(dout, cache):
    """(dx NCHW, dgamma and dbeta in gamma's shape (1, C, 1, 1))."""
    gamma = cache["gamma"]
    dx, dgamma, dbeta = _groupnorm.groupnorm_backward(dout, cache["x"], np.reshape(gamma, -1), cache["G"],
                                                      eps=cache["eps"])
    return dx, dgamma.reshape(np.shape(gamma)), dbeta.reshape(np.shape(gamma))


# --- dropout ---------------------------------------------------------------------------------------

def dropout_forward(x, dropout_param):
    """Inverted dropout; dropout_param {'p': KEEP probability, 'mode', 'seed'} -> (out, (dropout_param, mask))."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout


# --- convolution and pooling (naive) ---------------------------------------------------------------

def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'} (zero padding on every side);
    out (N, F, 1 + (H + 2 pad - HH) // stride, 1 + (W + 2 pad - WW) // stride)."""
    out = _conv.conv2d_forward(x, w, b, stride=conv_param["stride"], padding=conv_param["pad"])
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """(dx, dw, db)."""
    x, w, b, conv_param = cache
    return _conv.conv2d_backward(dout, x, w, stride=conv_param["stride"], padding=conv_param["pad"])


def _pool_window(pool_param):
    return (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]


def max_pool_forward_naive(x, pool_param):
    """x (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride'}, no padding."""
    kernel, stride = _pool_window(pool_param)
    return _pool.maxpool2d_forward(x, kernel, stride), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    kernel, stride = _pool_window(pool_param)
    return _pool.maxpool2d_backward(dout, x, kernel, stride)
