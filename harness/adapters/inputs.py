"""Seeded input generators shared by the kinds.

Inputs avoid the places where a correct implementation may legitimately
differ from the reference: ReLU inputs keep away from exactly 0 (any
subgradient is valid there) and max-pool inputs have no ties (the routing of
a tied maximum is a convention, not a correctness question).
"""
from __future__ import annotations

import numpy as np


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def normal(rng: np.random.Generator, shape, dtype: str, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(tuple(shape)) * scale).astype(dtype)


def away_from_zero(rng: np.random.Generator, shape, dtype: str, gap: float = 1e-2) -> np.ndarray:
    """Normal values with |x| >= gap, so ReLU's kink is never hit (nor crossed by a finite-difference step)."""
    values = rng.standard_normal(tuple(shape))
    return (np.sign(values) * (np.abs(values) + gap)).astype(dtype)


def distinct(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    """Pairwise distinct values (a shuffled grid in [-2, 2]) spaced far more than a finite-difference step."""
    size = int(np.prod(shape))
    grid = np.linspace(-2.0, 2.0, size) if size > 1 else np.zeros(1)
    return rng.permutation(grid).reshape(tuple(shape)).astype(dtype)


def labels(rng: np.random.Generator, batch: int, classes: int) -> np.ndarray:
    return rng.integers(0, classes, size=batch).astype(np.int64)
