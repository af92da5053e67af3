"""Argument normalisation shared by the reference layers.

Every helper raises LayerArgumentError with the argument's name in the
message, so a caller (or a student reading a harness report) sees which
argument was wrong, not a numpy broadcasting error three calls deeper.
"""
from __future__ import annotations

import numbers

import numpy as np

from .errors import LayerArgumentError


def float_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a floating-point ndarray (ints become float64)."""
    array = np.asarray(value)
    if array.dtype == object:
        raise LayerArgumentError(f"{name} must be a numeric array, got an object array")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def result_dtype(*arrays) -> np.dtype:
    """The floating dtype a layer returns for these inputs (float64 for ints)."""
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        return np.dtype(np.float64)
    return dtype


def require_ndim(name: str, array: np.ndarray, ndim: int, layout: str) -> None:
    if array.ndim != ndim:
        raise LayerArgumentError(
            f"{name} must have {ndim} dimensions ({layout}), got shape {array.shape}"
        )


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise LayerArgumentError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise LayerArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def pair(name: str, value, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a length-2 sequence of ints, as (along H, along W)."""
    check = positive_int if minimum >= 1 else non_negative_int
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        first, second = value
    except (TypeError, ValueError):
        raise LayerArgumentError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    return check(name, first), check(name, second)


def padding4(name: str, value, kernel_hw: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """Normalise a padding argument to (top, bottom, left, right).

    Accepted: an int ``p`` (all sides), a pair ``(ph, pw)`` (symmetric per
    axis), a 4-tuple ``(top, bottom, left, right)``, or ``"same"`` for stride 1
    with the framework notes' rule: an odd kernel K pads K//2 on both sides; an
    even kernel pads K/2 - 1 before (top/left) and K/2 after (bottom/right).
    """
    if isinstance(value, str):
        if value != "same":
            raise LayerArgumentError(f'{name} must be an int, a tuple or "same", got {value!r}')
        if kernel_hw is None:
            raise LayerArgumentError(f'{name}="same" needs the kernel size')
        return same_padding(kernel_hw[0]) + same_padding(kernel_hw[1])
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        p = non_negative_int(name, value)
        return p, p, p, p
    try:
        values = tuple(value)
    except TypeError:
        raise LayerArgumentError(f"{name} must be an int, a tuple or \"same\", got {value!r}") from None
    if len(values) == 2:
        ph, pw = (non_negative_int(name, v) for v in values)
        return ph, ph, pw, pw
    if len(values) == 4:
        top, bottom, left, right = (non_negative_int(name, v) for v in values)
        return top, bottom, left, right
    raise LayerArgumentError(f"{name} must have 1, 2 or 4 entries, got {value!r}")


def same_padding(kernel: int) -> tuple[int, int]:
    """(before, after) zero padding that keeps the size for stride 1."""
    half = kernel // 2
    if kernel % 2:
        return half, half
    return half - 1, half


def output_size(name: str, size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """floor((size + pads - kernel) / stride) + 1, refusing a kernel larger than the padded input."""
    padded = size + pad_before + pad_after
    if kernel > padded:
        raise LayerArgumentError(
            f"kernel {name} {kernel} is larger than the padded input {name} {padded} "
            f"(input {size} + padding {pad_before}+{pad_after})"
        )
    return (padded - kernel) // stride + 1


def real_number(name: str, value, low=None, high=None, *, low_open=False, high_open=False) -> float:
    """A real number inside the interval (open or closed at each end) the layer's formula needs."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise LayerArgumentError(f"{name} must be a finite real number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        interval = ("(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}") + ", " \
            + ("inf)" if high is None else f"{high:g}" + (")" if high_open else "]"))
        raise LayerArgumentError(f"{name} must be in {interval}, got {value!r}")
    return float(value)
