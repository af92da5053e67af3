"""Neural style transfer as AICS exp 3-3 does it: content and style losses, and the transfer loop.

Formulas (lab manual 3.10-3.17), for features X of the transfer image and
targets Y (content) or the style features, all [N, C, H, W]:

    content loss   L = 1/(2NCHW) sum (X - Y)^2                          (3.10)
    its gradient   dL/dX = (X - Y) / (NCHW)                             (3.11)
    Gram matrix    G(n, i, j) = sum_hw X(n, i, h, w) X(n, j, h, w)      (3.12)
    style loss     L = 1/(4 N C^2 H^2 W^2) sum_nij (G - A)^2            (3.13)
    its gradient   dL/dX(n, i, h, w) = 1/(N C^2 H^2 W^2) sum_j X(n, j, h, w) (G - A)(n, j, i)   (3.15)
    total          alpha * L_content + beta * L_style                   (3.16)
    update         Adam with bias correction, reference.optim.adam     (3.17)

A is the Gram matrix of batch element 0 of the style features, as the
course's StyleLossLayer computes it (``style_layer_reshape[0]``), and it is
compared with every element of the input batch; N, C, H, W are the input's.
The gradient multiplies by the INPUT's features X: the course's own published
solution multiplies by the style features, a bug the harness catches.

Every function has a ``_loop`` twin written index by index like the formula.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import optim
from ._validate import float_array, require_ndim, result_dtype
from .errors import LayerArgumentError

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
NOISE_RANGE = 20.0


def _features(name: str, value) -> np.ndarray:
    array = float_array(name, value)
    require_ndim(name, array, 4, "NCHW")
    return array


def _content_pair(x, target) -> tuple[np.ndarray, np.ndarray]:
    x, target = _features("x", x), _features("target", target)
    if x.shape != target.shape:
        raise LayerArgumentError(f"target must have the shape of x {x.shape}, got {target.shape}")
    dtype = result_dtype(x, target)
    return x.astype(dtype, copy=False), target.astype(dtype, copy=False)


def _style_pair(x, style) -> tuple[np.ndarray, np.ndarray]:
    x, style = _features("x", x), _features("style", style)
    if style.shape[1] != x.shape[1]:
        raise LayerArgumentError(f"style must have the {x.shape[1]} channels of x, got shape {style.shape}")
    dtype = result_dtype(x, style)
    return x.astype(dtype, copy=False), style.astype(dtype, copy=False)


# --- content loss ----------------------------------------------------------------------------

def content_loss_forward(x, target) -> float:
    """L = 1/(2NCHW) sum (X - Y)^2 for x, target [N, C, H, W]."""
    x, target = _content_pair(x, target)
    return float(np.sum(np.square(x - target)) / (2 * x.size))


def content_loss_backward(x, target) -> np.ndarray:
    """dL/dX = (X - Y) / (NCHW), [N, C, H, W]."""
    x, target = _content_pair(x, target)
    return (x - target) / x.size


def content_loss_forward_loop(x, target) -> float:
    x, target = _content_pair(x, target)
    n, c, h, w = x.shape
    total = 0.0
    for index in np.ndindex(n, c, h, w):
        total += (x[index] - target[index]) ** 2
    return float(total / (2 * n * c * h * w))


def content_loss_backward_loop(x, target) -> np.ndarray:
    x, target = _content_pair(x, target)
    n, c, h, w = x.shape
    dx = np.zeros_like(x)
    for index in np.ndindex(n, c, h, w):
        dx[index] = (x[index] - target[index]) / (n * c * h * w)
    return dx


# --- Gram matrix and style loss --------------------------------------------------------------

def gram(x) -> np.ndarray:
    """G(n, i, j) = sum_hw X(n, i, h, w) X(n, j, h, w): [N, C, H, W] -> [N, C, C]."""
    x = _features("x", x)
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    return flat @ flat.transpose(0, 2, 1)


def gram_loop(x) -> np.ndarray:
    x = _features("x", x)
    n, c, h, w = x.shape
    result = np.zeros((n, c, c), dtype=result_dtype(x))
    for batch, i, j in np.ndindex(n, c, c):
        for row, column in np.ndindex(h, w):
            result[batch, i, j] += x[batch, i, row, column] * x[batch, j, row, column]
    return result


def _style_normaliser(x: np.ndarray) -> int:
    """N C^2 H^2 W^2 of the input features (the course's ``N_batch * self.div``)."""
    n, c, h, w = x.shape
    return n * c * c * h * h * w * w


def style_loss_forward(x, style) -> float:
    """L = 1/(4 N C^2 H^2 W^2) sum_nij (G - A)^2; x [N, C, H, W], style [Ns, C, Hs, Ws] (element 0 used)."""
    x, style = _style_pair(x, style)
    difference = gram(x) - gram(style[:1])
    return float(np.sum(np.square(difference)) / (4 * _style_normaliser(x)))


def style_loss_backward(x, style) -> np.ndarray:
    """dL/dX(n, i) = 1/(N C^2 H^2 W^2) sum_j (G - A)(n, j, i) X(n, j): [N, C, H, W]."""
    x, style = _style_pair(x, style)
    n, c = x.shape[:2]
    difference = gram(x) - gram(style[:1])
    dx = difference.transpose(0, 2, 1) @ x.reshape(n, c, -1)
    return dx.reshape(x.shape) / _style_normaliser(x)


def style_loss_forward_loop(x, style) -> float:
    x, style = _style_pair(x, style)
    n, c = x.shape[:2]
    gram_input, gram_style = gram_loop(x), gram_loop(style[:1])[0]
    total = 0.0
    for batch, i, j in np.ndindex(n, c, c):
        total += (gram_input[batch, i, j] - gram_style[i, j]) ** 2
    return float(total / (4 * _style_normaliser(x)))


def style_loss_backward_loop(x, style) -> np.ndarray:
    x, style = _style_pair(x, style)
    n, c, h, w = x.shape
    gram_input, gram_style = gram_loop(x), gram_loop(style[:1])[0]
    dx = np.zeros_like(x)
    for batch, i, row, column in np.ndindex(n, c, h, w):
        for j in range(c):
            dx[batch, i, row, column] += x[batch, j, row, column] * (gram_input[batch, j, i] - gram_style[j, i])
    return dx / _style_normaliser(x)


# --- the transfer loop -----------------------------------------------------------------------

def initial_image(content, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """noise * U(-20, 20) + (1 - noise) * content, float64, shaped like ``content``.

    The same numbers as the course's ``get_random_img(content, noise)`` after
    ``np.random.seed(seed)``: one ``uniform(-20, 20, shape)`` draw from a
    RandomState with that seed, combined in the course's order.
    """
    content = np.asarray(content)
    noise_image = np.random.RandomState(seed).uniform(-NOISE_RANGE, NOISE_RANGE, content.shape)
    return noise_image * noise + content * (1 - noise)


@dataclass
class StyleTransferRun:
    """What a run of the loop produced, one entry per step.

    losses[k] = (total, mean content loss, mean style loss) of the image at the
    start of step k; images[k] is the image after step k's Adam update, [1, 3, H, W].
    """

    losses: list[tuple[float, float, float]] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)


def style_transfer(model, content, style, steps: int, seed: int = 0, alpha: float = 1.0, beta: float = 500.0,
                   lr: float = 1.0, noise: float = 0.5, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
                   initial=None) -> StyleTransferRun:
    """Run the lab driver's loop (main_exp_3_3.py) for ``steps`` Adam steps.

    ``model`` is a :class:`reference.vgg19.model.VGG19`; ``content`` and ``style``
    are mean-subtracted [1, 3, H, W] images of the same size. The transfer
    image starts at ``initial`` if given, else at ``initial_image(content, noise, seed)``.
    Each step: one forward pass capturing every loss layer (it stops at the
    deepest, so any image size works); per content layer
    the loss, its gradient and the backward pass from that layer to the
    image, then the same per style layer; then

        total      = alpha * mean(content losses) + beta * mean(style losses)
        image_diff = alpha * content_diff / len(content_layers) + beta * style_diff / len(style_layers)

    and one Adam update (beta1 0.9, beta2 0.999, eps 1e-8, the AICS convention).
    """
    content_layers, style_layers = tuple(content_layers), tuple(style_layers)
    content_targets = model.forward(content, capture=content_layers)
    style_targets = model.forward(style, capture=style_layers)
    image = initial_image(content, noise, seed) if initial is None else np.array(initial, dtype=np.float64)
    run, state = StyleTransferRun(), None
    for _ in range(steps):
        features = model.forward(image, capture=content_layers + style_layers)
        content_losses, content_diff = _layer_losses(model, features, content_targets, content_layers,
                                                     content_loss_forward, content_loss_backward, image.shape)
        style_losses, style_diff = _layer_losses(model, features, style_targets, style_layers,
                                                 style_loss_forward, style_loss_backward, image.shape)
        content_loss, style_loss = float(np.mean(content_losses)), float(np.mean(style_losses))
        run.losses.append((alpha * content_loss + beta * style_loss, content_loss, style_loss))
        image_diff = alpha * content_diff / len(content_layers) + beta * style_diff / len(style_layers)
        image, state = optim.adam(image, image_diff, state, learning_rate=lr)
        run.images.append(image)
    return run


def _layer_losses(model, features, targets, layers, loss_forward, loss_backward, image_shape):
    """Per-layer losses and the sum of their gradients back to the image."""
    losses, image_diff = [], np.zeros(image_shape)
    for layer in layers:
        losses.append(loss_forward(features[layer], targets[layer]))
        image_diff = image_diff + model.backward(loss_backward(features[layer], targets[layer]), layer)
    return losses, image_diff
