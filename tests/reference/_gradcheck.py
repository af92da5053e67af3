"""Central finite differences and the relative-error check every reference backward is held to.

``numeric_gradient(f, x, dout)`` is CS231n's ``eval_numerical_gradient_array``:
the gradient of the scalar ``sum(f(x) * dout)`` with respect to ``x``, one
element at a time. It works in float64 on a copy, so ``f`` sees the perturbed
array and the caller's ``x`` is never modified.
"""
from __future__ import annotations

import numpy as np


def numeric_gradient(f, x, dout=1.0, h=1e-6) -> np.ndarray:
    """d(sum(f(x) * dout)) / dx by central differences, with x's shape (float64)."""
    point = np.array(x, dtype=np.float64)
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        above = np.sum(f(point) * dout)
        point[index] = original - h
        below = np.sum(f(point) * dout)
        point[index] = original
        gradient[index] = (above - below) / (2 * h)
    return gradient


def gradient_error(actual, expected) -> float:
    """CS231n's rel_error, max |a - e| / (|a| + |e|), with each denominator at least 1% of the largest
    |a| + |e|: the difference quotient's roundoff (~1e-10 absolute) would otherwise swamp entries near 0."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0
    magnitude = np.abs(actual) + np.abs(expected)
    floor = max(1e-8, 1e-2 * magnitude.max())
    return float(np.max(np.abs(actual - expected) / np.maximum(floor, magnitude)))


def assert_rel_close(actual, expected, tol=1e-7, name="gradient") -> None:
    """Fail when ``gradient_error(actual, expected)`` exceeds ``tol`` or the shapes differ."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != expected {expected.shape}"
    error = gradient_error(actual, expected)
    assert error <= tol, f"{name}: relative error {error:.3e} > {tol:g}"
