"""Compare a submission's output with the expected one, assert_close style.

Order of questions, as a person debugging would ask them: did it return an
array at all, of the right shape, of a float dtype, with finite values, in a
precision the check accepts, and only then how close. The verdict uses

    |actual - expected| <= atol * scale + rtol * |expected|,   scale = max |expected|

with (rtol, atol) the spec's entry for the precision the check computes in.
That precision comes from the inputs the harness sent (their float dtype),
never from what the submission returns, with one allowance: a submission
that computed in single precision (a float32 output or attribute) is judged
at the spec's float32 entry, because float32 arithmetic is a correct way to
write these layers. Nothing lowers it further: an output in float16 (or any
float below both float32 and the inputs' dtype) fails as such, and NaN or
infinity in an output fails as such, whatever the expected values are.

The atol term is scaled because layer outputs range from 1e-12 (style-loss
gradients) to 1e3 (VGG activations): an absolute floor would accept anything
at one end or nothing at the other. The report adds the figures people know:
max abs error, cs231n's rel_error (max |x-y| / max(1e-8, |x|+|y|)), the
number of mismatched elements and the worst index.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spec import Tolerance

_FLOAT_RANK = {np.dtype(np.float16): 0, np.dtype(np.float32): 1, np.dtype(np.float64): 2}


@dataclass
class Comparison:
    """The outcome of comparing one output; ``problem`` is None when it matches."""

    name: str
    problem: str | None = None            # "type" | "shape" | "dtype" | "nonfinite" | "values"
    message: str = ""
    metrics: dict = field(default_factory=dict)
    output: str = ""                      # the kind's output name (``name`` is how the report labels it)

    @property
    def ok(self) -> bool:
        return self.problem is None


def rel_error(expected: np.ndarray, actual: np.ndarray) -> float:
    """cs231n's rel_error: max |x - y| / max(1e-8, |x| + |y|)."""
    if expected.size == 0:
        return 0.0
    return float(np.max(np.abs(expected - actual) / np.maximum(1e-8, np.abs(expected) + np.abs(actual))))


def compare_arrays(name: str, expected: np.ndarray, actual, table: dict[str, Tolerance],
                   input_dtype: np.dtype | None = None, shape_policy: str = "exact", reveal: bool = True,
                   shown_dtype: np.dtype | None = None) -> Comparison:
    """Compare one float output. ``actual`` is an ndarray or a sandbox ``Returned`` marker.

    ``input_dtype`` is the float dtype of the inputs the harness sent (None: that of ``expected``);
    ``shown_dtype`` the least precise float dtype among everything the submission returned in this check
    (None: this output's own). See the module docstring for how they choose the tolerance.
    With ``reveal=False`` (a hidden case) the message and metrics give error figures and the worst
    position but no expected value, no value of the submission's and not the output's scale.
    Raises ValueError when ``expected`` itself is not finite (a harness or spec bug, never the student's).
    """
    if not isinstance(actual, np.ndarray):
        return Comparison(name, "type", f"{name}: expected an array, {_describe_non_array(actual)}")
    expected = np.asarray(expected)
    actual, shape_note = _conform_shape(expected, actual, shape_policy)
    if actual is None:
        if not reveal:      # the shape is the submission's to choose: after a hidden case's inputs, if it likes
            return Comparison(name, "shape", f"{name}: expected shape {expected.shape}, got another shape "
                              "(shown on the public cases)", {"expected_shape": list(expected.shape)})
        return Comparison(name, "shape", f"{name}: expected shape {expected.shape}, got {shape_note}",
                          {"expected_shape": list(expected.shape), "actual_shape": shape_note})
    if actual.dtype.kind != "f" and expected.dtype.kind == "f":
        return Comparison(name, "dtype", f"{name}: expected floating-point values, got dtype {actual.dtype}"
                          + _NOT_FLOAT.get(actual.dtype.kind, ""))
    if expected.dtype.kind in "fc" and not np.all(np.isfinite(expected)):
        raise ValueError(f"the expected values of {name} are not finite")
    nonfinite = nonfinite_problem(name, actual)
    if nonfinite:
        return Comparison(name, "nonfinite", nonfinite,
                          {"nan": int(np.isnan(actual).sum()), "inf": int(np.isinf(actual).sum())})
    computed = np.dtype(input_dtype) if input_dtype is not None else \
        (expected.dtype if expected.dtype in _FLOAT_RANK else np.dtype(np.float64))
    too_coarse = precision_problem(name, actual.dtype, computed)
    if too_coarse:
        return Comparison(name, "dtype", too_coarse, {"dtype": actual.dtype.name, "computed_in": computed.name})
    dtype_name, tolerance = judged_tolerance(table, computed, actual.dtype, shown_dtype)
    return _compare_values(name, expected.astype(np.float64), actual.astype(np.float64), tolerance, dtype_name,
                           shape_note, reveal)


LOWEST_ACCEPTED = np.dtype(np.float32)
_NOT_FLOAT = {"i": " (integer results lose the fractional part)", "u": " (integer results lose the fractional part)",
              "b": " (True/False instead of numbers)", "c": " (complex numbers: a real result was expected)"}


def _rank(dtype: np.dtype) -> int:
    """float16 < float32 < float64; other float types (longdouble) count as float64."""
    return _FLOAT_RANK.get(np.dtype(dtype), 2)


def judged_dtype(computed, *shown) -> np.dtype:
    """The precision a check is judged at: ``computed`` (the inputs' float dtype), lowered to float32 at most
    when one of ``shown`` (dtypes of what the submission returned, or None) is single precision."""
    computed = np.dtype(computed) if np.dtype(computed) in _FLOAT_RANK else np.dtype(np.float64)
    floats = [np.dtype(d) for d in shown if d is not None and np.dtype(d).kind == "f"]
    if floats:
        weakest_shown = min(floats, key=_rank)
        allowance = weakest_shown if _rank(weakest_shown) >= _rank(LOWEST_ACCEPTED) else LOWEST_ACCEPTED
        if _rank(allowance) < _rank(computed):
            computed = np.dtype(allowance.name)
    return computed


def judged_tolerance(table: dict[str, Tolerance], computed, *shown) -> tuple[str, Tolerance]:
    """(dtype name, the spec's tolerance entry) for ``judged_dtype(computed, *shown)``."""
    dtype = judged_dtype(computed, *shown)
    return dtype.name, table[dtype.name]


def precision_problem(name: str, dtype: np.dtype, computed) -> str:
    """A message when ``dtype`` is less precise than both float32 and the inputs the harness sent, else ""."""
    dtype, computed = np.dtype(dtype), np.dtype(computed)
    if dtype.kind != "f" or _rank(dtype) >= min(_rank(computed), _rank(LOWEST_ACCEPTED)):
        return ""
    return (f"{name} came back as {dtype}, but this check computes in {computed.name}: {dtype} keeps only about "
            f"3 significant digits, too few to tell a right answer from a wrong one; compute in {computed.name} "
            f"(float32 at least)")


def compare_exact(name: str, expected: np.ndarray, actual, reveal: bool = True) -> Comparison:
    """For integer results (class indices) and arrays that must be bit-identical."""
    if not isinstance(actual, np.ndarray):
        return Comparison(name, "type", f"{name}: expected an array, {_describe_non_array(actual)}")
    nonfinite = nonfinite_problem(name, actual)
    if nonfinite:
        return Comparison(name, "nonfinite", nonfinite,
                          {"nan": int(np.isnan(actual).sum()), "inf": int(np.isinf(actual).sum())})
    if actual.shape != np.shape(expected):
        return Comparison(name, "shape", f"{name}: expected shape {np.shape(expected)}, got {actual.shape}")
    differs = actual != expected
    if np.any(differs):
        index = tuple(int(i) for i in np.argwhere(differs)[0])
        shown = f"expected {_fmt(np.asarray(expected)[index])}, got {_fmt(actual[index])}" if reveal \
            else f"got {_fmt(actual[index])}, which is not the expected value"
        return Comparison(name, "values", f"{name}: {shown}" + (f" at index {index}" if index else ""),
                          {"mismatched": int(differs.sum()), "total": int(differs.size)})
    return Comparison(name, metrics={"mismatched": 0, "total": int(differs.size)})


def _compare_values(name, expected, actual, tolerance: Tolerance, dtype_name: str, shape_note: str,
                    reveal: bool) -> Comparison:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    scale = scale if scale > 0 else 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        abs_error = np.abs(actual - expected)        # finite values far apart can overflow to inf: a mismatch
        allowed = tolerance.atol * scale + tolerance.rtol * np.abs(expected)
        mismatched = ~(abs_error <= allowed)
        relative = rel_error(expected, actual)
    count, total = int(mismatched.sum()), int(expected.size)
    metrics = {
        "max_abs_error": float(abs_error.max()) if total else 0.0,
        "max_rel_error": relative if np.isfinite(relative) else float("inf"),
        "mismatched": count,
        "total": total,
        "scale": scale,
        "tolerance_dtype": dtype_name,
        "rtol": tolerance.rtol,
        "atol": tolerance.atol,
    }
    if total:
        with np.errstate(over="ignore", invalid="ignore"):
            outside = np.nan_to_num(abs_error / np.maximum(allowed, np.finfo(np.float64).tiny), nan=np.inf)
        worst = np.unravel_index(int(np.argmax(outside)), expected.shape)
        worst = tuple(int(i) for i in worst)
        metrics["worst_index"] = list(worst)
        metrics["worst_expected"] = float(expected[worst])
        metrics["worst_actual"] = float(actual[worst])
    if not reveal:
        _hide_figures(metrics)
    if count == 0 or count <= tolerance.max_mismatch_fraction * total:
        return Comparison(name, message=shape_note, metrics=metrics)
    # The worst element is the one furthest outside its own tolerance, not necessarily the one with the
    # greatest absolute difference. A hidden case's inputs are unknown to the student, so its message may
    # say where the worst element is, but not the student's value there, the expected one or the scale
    # (the largest expected magnitude): with the difference, either would give expected values away.
    where = f" at index {tuple(metrics['worst_index'])}" if expected.ndim else ""
    if reveal:
        worst = f"worst{where}: expected {metrics['worst_expected']:.6g}, got {metrics['worst_actual']:.6g}"
        allowed_text = f"allowed {tolerance.atol:g}*{scale:.3g} + {tolerance.rtol:g}*|expected| for {dtype_name}"
    else:
        worst = f"worst{where}" if where else "hidden case: values not shown"
        allowed_text = f"allowed {tolerance.atol:g}*max|expected| + {tolerance.rtol:g}*|expected| for {dtype_name}"
    message = (
        f"{name}: {count} of {total} values differ ({count / total:.1%}); {worst}; greatest absolute difference "
        f"{metrics['max_abs_error']:.3g} ({allowed_text}); rel_error {metrics['max_rel_error']:.2e}"
    )
    return Comparison(name, "values", message, metrics)


def _hide_figures(metrics: dict) -> None:
    """A hidden case's figures: no expected value, no value of the submission's, no scale, and the errors to two
    significant digits (at full precision an output of input + 1000 gave its max_abs_error back as a channel)."""
    for key in ("worst_expected", "worst_actual", "scale"):
        metrics.pop(key, None)
    for key in ("max_abs_error", "max_rel_error"):
        if np.isfinite(metrics[key]) and metrics[key] != 0:
            metrics[key] = float(f"{metrics[key]:.2g}")


def _conform_shape(expected: np.ndarray, actual: np.ndarray, policy: str):
    """Return (actual reshaped for comparison or None, a note). ``squeeze`` accepts size-1 axes added or dropped."""
    if actual.shape == expected.shape:
        return actual, ""
    if policy == "squeeze" and actual.size == expected.size and \
            tuple(d for d in actual.shape if d != 1) == tuple(d for d in expected.shape if d != 1):
        return actual.reshape(expected.shape), f"(accepted shape {actual.shape} for {expected.shape})"
    return None, str(actual.shape)


def nonfinite_problem(name: str, actual: np.ndarray) -> str:
    """NaN or infinity anywhere in an output is a failure, whatever was expected there."""
    if actual.dtype.kind not in "fc":
        return ""
    bad = ~np.isfinite(actual)
    if not bad.any():
        return ""
    nan, inf = int(np.isnan(actual).sum()), int(np.isinf(actual).sum())
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    parts = [f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else ""]
    where = f" (first at index {first})" if first else ""
    return f"{name}: the output contains {' and '.join(p for p in parts if p)} value(s){where}; every value must be finite"


def _describe_non_array(actual) -> str:
    kind = getattr(actual, "kind", None)
    if kind == "none":
        return "got None (did the function forget to return its result?)"
    type_name = getattr(actual, "type_name", type(actual).__name__)
    return f"got a {type_name} that is not an array of numbers"


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else str(value)
