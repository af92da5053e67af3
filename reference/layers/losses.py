"""Softmax, log-softmax and the classification losses of the labs.

Logits and scores are ``[N, C]`` (one row per sample); labels are integer
class indices ``[N]`` with ``0 <= label < C``. Every loss is averaged as its
source does, and returns ``(loss, dinput)``; ``loss`` is a scalar of the
inputs' float dtype.

    softmax(x)[n, i]          = exp(x[n, i] - max_j x[n, j]) / sum_k exp(x[n, k] - max_j x[n, j])
    log_softmax(x)[n, i]      = x[n, i] - max_j x[n, j] - log sum_k exp(x[n, k] - max_j x[n, j])
    softmax_cross_entropy     = -1/N sum_n log_softmax(x)[n, y_n]      dx = (softmax(x) - onehot(y)) / N
    binary_cross_entropy(a, y) = -1/n sum (y log a + (1 - y) log(1 - a)),  n = a.size (every element)
                                da = (-y / a + (1 - y) / (1 - a)) / n
    svm_loss (CS231n)          = 1/N sum_n sum_{j != y_n} max(0, x[n, j] - x[n, y_n] + 1)

The AICS SoftmaxLossLayer splits the first loss in three calls (forward ->
prob, get_loss -> loss, backward -> dx): ``aics_softmax_loss`` and its parts
``aics_cross_entropy(prob, labels)`` and ``aics_softmax_backward(prob, labels)``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import _validate
from ..errors import LayerArgumentError


def _logits(name, x) -> np.ndarray:
    x = _validate.float_array(name, x)
    _validate.require_ndim(name, x, 2, "[N, C]")
    if x.shape[1] == 0:
        raise LayerArgumentError(f"{name} must have at least one class, got shape {x.shape}")
    return x


def _labels(labels, scores_shape) -> np.ndarray:
    """Integer class indices ``[N]``, each in [0, C)."""
    batch, classes = scores_shape
    if batch == 0:
        raise LayerArgumentError("a loss averaged over the batch needs at least one sample, got N = 0")
    labels = np.asarray(labels)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise LayerArgumentError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.shape != (batch,):
        raise LayerArgumentError(f"labels must have shape ({batch},) (one per row), got {labels.shape}")
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise LayerArgumentError(f"labels must be in [0, {classes}), got {labels[outside][0]} "
                                 f"at row {np.flatnonzero(outside)[0]}")
    return labels


def _onehot(labels, shape, dtype) -> np.ndarray:
    onehot = np.zeros(shape, dtype=dtype)
    onehot[np.arange(shape[0]), labels] = 1
    return onehot


def _check_dout(dout, x):
    dout = _validate.float_array("dout", dout)
    if dout.shape != x.shape:
        raise LayerArgumentError(f"dout must have the logits' shape {x.shape}, got {dout.shape}")
    return dout, _validate.result_dtype(x, dout)


# --- softmax and log-softmax --------------------------------------------------------------------

def softmax(logits) -> np.ndarray:
    """Row-wise softmax of ``[N, C]``, max-shifted so large logits do not overflow."""
    return special.softmax(_logits("logits", logits), axis=1)


def softmax_backward(dout, logits) -> np.ndarray:
    """dx[n, j] = s[n, j] * (dout[n, j] - sum_k dout[n, k] s[n, k]) (framework notes 三.1)."""
    logits = _logits("logits", logits)
    dout, dtype = _check_dout(dout, logits)
    prob = special.softmax(logits, axis=1)
    return (prob * (dout - np.sum(dout * prob, axis=1, keepdims=True))).astype(dtype, copy=False)


def log_softmax(logits) -> np.ndarray:
    """Row-wise log(softmax), computed without forming softmax (no log(0) for tiny probabilities)."""
    return special.log_softmax(_logits("logits", logits), axis=1)


def log_softmax_backward(dout, logits) -> np.ndarray:
    """dx[n, j] = dout[n, j] - s[n, j] * sum_k dout[n, k]."""
    logits = _logits("logits", logits)
    dout, dtype = _check_dout(dout, logits)
    prob = special.softmax(logits, axis=1)
    return (dout - prob * np.sum(dout, axis=1, keepdims=True)).astype(dtype, copy=False)


def softmax_loop(logits) -> np.ndarray:
    logits = _logits("logits", logits)
    prob = np.zeros_like(logits)
    for n, row in enumerate(logits):
        shift = max(row)
        total = sum(math.exp(value - shift) for value in row)
        for i, value in enumerate(row):
            prob[n, i] = math.exp(value - shift) / total
    return prob


def softmax_backward_loop(dout, logits) -> np.ndarray:
    """Through the Jacobian: ds_i/dx_j = s_i (1 - s_i) if i == j else -s_i s_j."""
    logits = _logits("logits", logits)
    dout, dtype = _check_dout(dout, logits)
    prob = softmax_loop(logits)
    dx = np.zeros(logits.shape, dtype=dtype)
    batch, classes = logits.shape
    for n in range(batch):
        for j in range(classes):
            for i in range(classes):
                jacobian = prob[n, i] * (1 - prob[n, i]) if i == j else -prob[n, i] * prob[n, j]
                dx[n, j] += dout[n, i] * jacobian
    return dx


def log_softmax_loop(logits) -> np.ndarray:
    logits = _logits("logits", logits)
    out = np.zeros_like(logits)
    for n, row in enumerate(logits):
        shift = max(row)
        log_total = math.log(sum(math.exp(value - shift) for value in row))
        for i, value in enumerate(row):
            out[n, i] = value - shift - log_total
    return out


def log_softmax_backward_loop(dout, logits) -> np.ndarray:
    """Through the Jacobian: d log s_i / dx_j = [i == j] - s_j."""
    logits = _logits("logits", logits)
    dout, dtype = _check_dout(dout, logits)
    prob = softmax_loop(logits)
    dx = np.zeros(logits.shape, dtype=dtype)
    batch, classes = logits.shape
    for n in range(batch):
        for j in range(classes):
            for i in range(classes):
                dx[n, j] += dout[n, i] * ((i == j) - prob[n, j])
    return dx


# --- softmax cross-entropy ----------------------------------------------------------------------

def softmax_cross_entropy(logits, labels):
    """``(loss, dlogits)``: the mean over the batch of -log softmax(x)[n, y_n] (CS231n softmax_loss)."""
    logits = _logits("logits", logits)
    labels = _labels(labels, logits.shape)
    batch = logits.shape[0]
    log_prob = special.log_softmax(logits, axis=1)
    loss = -np.sum(log_prob[np.arange(batch), labels]) / batch
    dlogits = (np.exp(log_prob) - _onehot(labels, logits.shape, logits.dtype)) / batch
    return logits.dtype.type(loss), dlogits.astype(logits.dtype, copy=False)


def softmax_cross_entropy_loop(logits, labels):
    """The framework notes' SCE: L = -1/N sum_n ln s[n, y_n]; dL/dx[n, j] = (s[n, j] - [y_n == j]) / N."""
    logits = _logits("logits", logits)
    labels = _labels(labels, logits.shape)
    log_prob = log_softmax_loop(logits)
    batch, classes = logits.shape
    loss = 0.0
    dlogits = np.zeros_like(logits)
    for n in range(batch):
        loss -= log_prob[n, labels[n]] / batch
        for j in range(classes):
            dlogits[n, j] = (math.exp(log_prob[n, j]) - (labels[n] == j)) / batch
    return logits.dtype.type(loss), dlogits


# --- the AICS SoftmaxLossLayer ------------------------------------------------------------------

def aics_softmax_loss(x, labels):
    """``(prob, loss, bottom_diff)`` of SoftmaxLossLayer's forward, get_loss and backward."""
    prob = softmax(x)
    return prob, aics_cross_entropy(prob, labels), aics_softmax_backward(prob, labels)


def aics_cross_entropy(prob, labels):
    """-sum(log(prob) * onehot) / N, read at the label entries only.

    The course multiplies the whole log(prob) by the one-hot matrix, which
    turns a probability that underflowed to 0 anywhere in the row into
    0 * -inf = NaN; picking the label entries gives the same value whenever
    the course's is finite.
    """
    prob = _logits("prob", prob)
    labels = _labels(labels, prob.shape)
    batch = prob.shape[0]
    with np.errstate(divide="ignore"):
        return prob.dtype.type(-np.sum(np.log(prob[np.arange(batch), labels])) / batch)


def aics_softmax_backward(prob, labels) -> np.ndarray:
    """(prob - onehot) / N."""
    prob = _logits("prob", prob)
    labels = _labels(labels, prob.shape)
    return (prob - _onehot(labels, prob.shape, prob.dtype)) / prob.dtype.type(prob.shape[0])


# --- binary cross-entropy -----------------------------------------------------------------------

def _bce_arguments(prob, target):
    prob = _validate.float_array("prob", prob)
    target = _validate.float_array("target", target)
    if target.shape != prob.shape:
        raise LayerArgumentError(f"target must have prob's shape {prob.shape}, got {target.shape}")
    if prob.size == 0:
        raise LayerArgumentError("prob must have at least one element")
    if np.any((prob < 0) | (prob > 1)):
        raise LayerArgumentError(f"prob must hold probabilities in [0, 1], got values in "
                                 f"[{prob.min():g}, {prob.max():g}]")
    if np.any((target < 0) | (target > 1)):
        raise LayerArgumentError(f"target must be in [0, 1], got values in [{target.min():g}, {target.max():g}]")
    return prob, target, _validate.result_dtype(prob, target)


def binary_cross_entropy(prob, target):
    """``(loss, dprob)`` with the framework notes' normalisation: n is the number of ELEMENTS.

    The notes' example, prob [[a11, a12, a13], [a21, a22, a23]] against a
    one-hot [2, 3] target, divides by 6, so this is PyTorch's
    ``binary_cross_entropy(reduction="mean")``. Unlike PyTorch it does not
    clamp log at -100: a probability of exactly 0 or 1 on the wrong side gives inf.
    """
    prob, target, dtype = _bce_arguments(prob, target)
    count = prob.size
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -np.sum(target * np.log(prob) + (1 - target) * np.log(1 - prob)) / count
        dprob = (-target / prob + (1 - target) / (1 - prob)) / count
    return dtype.type(loss), dprob.astype(dtype, copy=False)


def binary_cross_entropy_loop(prob, target):
    """The notes' gradient: dL/da = -1/(n a) where y = 1, 1/(n (1 - a)) where y = 0 (and the mix between)."""
    prob, target, dtype = _bce_arguments(prob, target)
    count = prob.size
    loss = 0.0
    dprob = np.zeros(prob.shape, dtype=dtype)
    for index in np.ndindex(prob.shape):
        a, y = float(prob[index]), float(target[index])
        loss -= (y * math.log(a) + (1 - y) * math.log(1 - a)) / count
        dprob[index] = -y / (count * a) + (1 - y) / (count * (1 - a))
    return dtype.type(loss), dprob


# --- multiclass SVM (hinge) ---------------------------------------------------------------------

def svm_loss(scores, labels, margin=1.0):
    """``(loss, dscores)`` of CS231n's svm_loss: hinge with margin 1 on every wrong class, averaged over N.

    A margin term at exactly 0 counts as inactive (gradient 0), as in CS231n.
    PyTorch's multi_margin_loss divides each sample's sum by C as well, so it
    equals this loss / C.
    """
    scores = _logits("scores", scores)
    labels = _labels(labels, scores.shape)
    margin = _validate.real_number("margin", margin, 0)
    rows = np.arange(scores.shape[0])
    correct = scores[rows, labels][:, None]
    margins = np.maximum(0, scores - correct + margin)
    margins[rows, labels] = 0
    active = (margins > 0).astype(scores.dtype)
    active[rows, labels] = -active.sum(axis=1)
    batch = scores.dtype.type(scores.shape[0])
    return scores.dtype.type(margins.sum() / batch), active / batch


def svm_loss_loop(scores, labels, margin=1.0):
    """CS231n's svm_loss_naive: for each sample, each wrong class j with x_j - x_y + margin > 0
    adds that margin to the loss, +1 to dx_j and -1 to dx_y (all divided by N)."""
    scores = _logits("scores", scores)
    labels = _labels(labels, scores.shape)
    margin = _validate.real_number("margin", margin, 0)
    batch, classes = scores.shape
    loss = 0.0
    dscores = np.zeros_like(scores)
    for n in range(batch):
        for j in range(classes):
            if j == labels[n]:
                continue
            hinge = scores[n, j] - scores[n, labels[n]] + margin
            if hinge > 0:
                loss += hinge / batch
                dscores[n, j] += 1 / batch
                dscores[n, labels[n]] -= 1 / batch
    return scores.dtype.type(loss), dscores
