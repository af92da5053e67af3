"""Exp 2-2's MLP: digit-like images, synthetic weights in exp 2-1's format, and the float forward.

MNIST is not shipped, and a student's trained weight.npy is theirs (and a
pickle, which the parent never loads from a submission), so the harness
grades exp 2-2 with weights and images of its own:

* images: 28x28 uint8 "digits", a few thick strokes (line segments and arcs)
  blurred and scaled to 0..255 with ~20% of the pixels lit, like MNIST's
  (raw pixels, as the course's driver passes them: no scaling to 0..1);
* weights: exp 2-1's layout, w [in, out] and b [1, out] for fc1..fc3, drawn
  from a seeded Gaussian and standardised LSUV-style on a batch of such
  images (pre-activation std ACTIVATION_STD, biases slightly negative so the
  hidden layers are sparse), with columns summing to zero (a unit answers to
  the pattern, not the ink), logits scaled so the softmax is not saturated.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
INPUT_SIZE = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10
ACTIVATION_STD = 4.0
BIAS_MEAN, BIAS_STD = -0.3, 0.3
LOGIT_STD = 3.0
CALIBRATION_COUNT = 512


def digit_images(count: int, seed: int) -> np.ndarray:
    """``count`` digit-like images, uint8 [count, 784] (row-major 28x28), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE].astype(np.float64)
    images = np.empty((count, INPUT_SIZE), dtype=np.uint8)
    for index in range(count):
        ink = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
        for _ in range(rng.integers(2, 5)):
            ink = np.maximum(ink, _stroke(rng, rows, cols))
        images[index] = np.clip(np.rint(255.0 * ink / max(ink.max(), 1e-9)), 0, 255).astype(np.uint8).ravel()
    return images


def _stroke(rng, rows, cols) -> np.ndarray:
    """Intensity of one pen stroke (a segment or an arc, ~2 px wide, soft edges) at every pixel."""
    width = rng.uniform(1.0, 1.8)
    if rng.random() < 0.5:
        start, end = rng.uniform(5, 23, size=2), rng.uniform(5, 23, size=2)
        t = np.clip(((rows - start[0]) * (end[0] - start[0]) + (cols - start[1]) * (end[1] - start[1]))
                    / max(float(np.sum((end - start) ** 2)), 1e-9), 0, 1)
        distance = np.hypot(rows - start[0] - t * (end[0] - start[0]), cols - start[1] - t * (end[1] - start[1]))
    else:
        centre, radius = rng.uniform(9, 19, size=2), rng.uniform(3, 8)
        first, span = rng.uniform(0, 2 * np.pi), rng.uniform(np.pi / 2, 2 * np.pi)
        angle = np.mod(np.arctan2(rows - centre[0], cols - centre[1]) - first, 2 * np.pi)
        on_arc = angle <= span
        radial = np.abs(np.hypot(rows - centre[0], cols - centre[1]) - radius)
        ends = [centre + radius * np.array([np.sin(a), np.cos(a)]) for a in (first, first + span)]
        to_end = np.minimum(*(np.hypot(rows - e[0], cols - e[1]) for e in ends))
        distance = np.where(on_arc, radial, to_end)
    return np.clip(1.5 - distance / width, 0, 1)


def synthetic_weights(hidden1: int, hidden2: int, seed: int = 0, classes: int = CLASSES) -> dict:
    """{'w1': [784, hidden1], 'b1': [1, hidden1], 'w2', 'b2', 'w3', 'b3'} float64, as exp 2-1 saves them."""
    rng = np.random.default_rng([seed, hidden1, hidden2, classes])
    x = digit_images(CALIBRATION_COUNT, seed=seed + 1_000_003).astype(np.float64)
    weights = {}
    sizes = (INPUT_SIZE, hidden1, hidden2, classes)
    for index in (1, 2, 3):
        weight = rng.standard_normal((sizes[index - 1], sizes[index]))
        weight -= weight.mean(axis=0, keepdims=True)
        pre = x @ weight
        target = LOGIT_STD if index == 3 else ACTIVATION_STD
        weight *= target / np.maximum(pre.std(axis=0), 1e-9)
        pre = x @ weight
        if index < 3:
            bias = -pre.mean(axis=0) + target * (BIAS_MEAN + BIAS_STD * rng.standard_normal(sizes[index]))
        else:
            bias = -pre.mean(axis=0) + 0.5 * rng.standard_normal(sizes[index])
        weights[f"w{index}"], weights[f"b{index}"] = weight, bias.reshape(1, -1)
        x = np.maximum(pre + bias, 0)
    return weights


def forward_float(weights: dict, images: np.ndarray, keep: bool = False):
    """Softmax probabilities [N, classes] of float64 images [N, 784]; with ``keep`` a dict of every activation."""
    x = np.asarray(images, dtype=np.float64)
    out = {}
    for index in (1, 2, 3):
        x = x @ weights[f"w{index}"] + weights[f"b{index}"].reshape(1, -1)
        out[f"fc{index}"] = x
        if index < 3:
            x = np.maximum(x, 0)
            out[f"relu{index}"] = x
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    out["softmax"] = shifted / shifted.sum(axis=1, keepdims=True)
    return out if keep else out["softmax"]


def write_weights(weights: dict, path) -> Path:
    """Save as exp 2-1's ``save_model`` does (np.save of the dict: a pickled 0-d object array)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.save(handle, weights, allow_pickle=True)
    return path
