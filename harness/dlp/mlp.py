"""Exp 2-2's MLP: digit-like images, synthetic weights in exp 2-1's format, and the float forward.

MNIST is not shipped, and a student's trained weight.npy is theirs (and a
pickle, which the parent never loads from a submission), so the harness
grades exp 2-2 with weights and images of its own:

* images: 28x28 uint8 "digits" of ten classes (jittered copies of ten
  prototypes of 2-4 thick strokes), scaled to 0..255 with ~20% of the pixels
  lit, like MNIST's (raw pixels, as the course's driver passes them);
* weights: exp 2-1's layout, w [in, out] and b [1, out] for fc1..fc3: two
  random hidden layers standardised on the images, and an output layer fitted
  to the classes, so the network is confident like a trained one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
INPUT_SIZE = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10
ACTIVATION_STD = 4.0
BIAS_MEAN, BIAS_STD = -0.3, 0.3
LOGIT_GAP = 8.0                    # fc3's target logit for an image's class (0 for the others)
RIDGE = 1e-3                       # fc3's ridge, relative to the features' mean square
CALIBRATION_COUNT = 2048
PROTOTYPE_SEED = 20200302


def digit_images(count: int, seed: int, labels: bool = False):
    """``count`` digit-like images, uint8 [count, 784] (row-major 28x28), reproducible from ``seed``.

    Each image draws one of CLASSES fixed prototypes (2-4 strokes each, the
    same in every call) with the strokes jittered, shifted and thickened
    differently, so the images form classes a network can separate, as MNIST's
    do. With ``labels``, returns (images, their classes).
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE].astype(np.float64)
    prototypes = _prototypes()
    images = np.empty((count, INPUT_SIZE), dtype=np.uint8)
    classes = rng.integers(0, CLASSES, size=count)
    for index, digit in enumerate(classes):
        shift = rng.uniform(-2, 2, size=2)
        ink = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
        for stroke in prototypes[digit]:
            ink = np.maximum(ink, _draw(stroke, rng, shift, rows, cols))
        images[index] = np.clip(np.rint(255.0 * ink / max(ink.max(), 1e-9)), 0, 255).astype(np.uint8).ravel()
    return (images, classes) if labels else images


def _prototypes() -> list:
    """Per class, its strokes: ("line", start, end) or ("arc", centre, radius, first angle, span)."""
    rng = np.random.default_rng(PROTOTYPE_SEED)
    classes = []
    for _ in range(CLASSES):
        strokes = []
        for _ in range(rng.integers(2, 5)):
            if rng.random() < 0.5:
                strokes.append(("line", rng.uniform(6, 22, size=2), rng.uniform(6, 22, size=2)))
            else:
                strokes.append(("arc", rng.uniform(10, 18, size=2), rng.uniform(3, 7), rng.uniform(0, 2 * np.pi),
                                rng.uniform(np.pi / 2, 2 * np.pi)))
        classes.append(strokes)
    return classes


def _draw(stroke, rng, shift, rows, cols) -> np.ndarray:
    """Intensity of one pen stroke (soft edges, ~2 px wide) at every pixel, its geometry jittered."""
    width = rng.uniform(1.0, 1.6)
    if stroke[0] == "line":
        start = stroke[1] + shift + rng.normal(0, 0.8, size=2)
        end = stroke[2] + shift + rng.normal(0, 0.8, size=2)
        t = np.clip(((rows - start[0]) * (end[0] - start[0]) + (cols - start[1]) * (end[1] - start[1]))
                    / max(float(np.sum((end - start) ** 2)), 1e-9), 0, 1)
        distance = np.hypot(rows - start[0] - t * (end[0] - start[0]), cols - start[1] - t * (end[1] - start[1]))
    else:
        centre = stroke[1] + shift + rng.normal(0, 0.6, size=2)
        radius = stroke[2] * rng.uniform(0.9, 1.1)
        first, span = stroke[3] + rng.normal(0, 0.15), stroke[4] * rng.uniform(0.9, 1.1)
        angle = np.mod(np.arctan2(rows - centre[0], cols - centre[1]) - first, 2 * np.pi)
        radial = np.abs(np.hypot(rows - centre[0], cols - centre[1]) - radius)
        ends = [centre + radius * np.array([np.sin(a), np.cos(a)]) for a in (first, first + span)]
        to_end = np.minimum(*(np.hypot(rows - e[0], cols - e[1]) for e in ends))
        distance = np.where(angle <= span, radial, to_end)
    return np.clip(1.5 - distance / width, 0, 1)


def synthetic_weights(hidden1: int, hidden2: int, seed: int = 0, classes: int = CLASSES) -> dict:
    """{'w1': [784, hidden1], 'b1': [1, hidden1], 'w2', 'b2', 'w3', 'b3'} float64, as exp 2-1 saves them.

    fc1 and fc2 are seeded Gaussians standardised on a batch of digit images
    (LSUV: pre-activation std ACTIVATION_STD, biases slightly negative so the
    hidden units are sparse, columns summing to zero); fc3 is fitted to the
    images' classes by ridge regression (target logit LOGIT_GAP for the class,
    0 for the others), so the network classifies the digits confidently, as a
    trained one does, and its softmax is not a coin toss a rounding can flip.
    """
    rng = np.random.default_rng([seed, hidden1, hidden2, classes])
    images, labels = digit_images(CALIBRATION_COUNT, seed=seed + 1_000_003, labels=True)
    x = images.astype(np.float64)
    weights = {}
    sizes = (INPUT_SIZE, hidden1, hidden2)
    for index in (1, 2):
        weight = rng.standard_normal((sizes[index - 1], sizes[index]))
        weight -= weight.mean(axis=0, keepdims=True)
        weight *= ACTIVATION_STD / np.maximum((x @ weight).std(axis=0), 1e-9)
        pre = x @ weight
        bias = -pre.mean(axis=0) + ACTIVATION_STD * (BIAS_MEAN + BIAS_STD * rng.standard_normal(sizes[index]))
        weights[f"w{index}"], weights[f"b{index}"] = weight, bias.reshape(1, -1)
        x = np.maximum(pre + bias, 0)
    features = np.hstack([x, np.ones((x.shape[0], 1))])
    targets = LOGIT_GAP * np.eye(classes)[labels % classes]
    gram = features.T @ features
    solution = np.linalg.solve(gram + RIDGE * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0]),
                               features.T @ targets)
    weights["w3"], weights["b3"] = solution[:-1], solution[-1:].copy()
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
