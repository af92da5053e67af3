"""Tell the student what their wrong output looks like, not only that it differs.

First the catalogue (reference.mistakes): each known mistake is re-run on the
check's inputs (in a student kit: its outputs on the kit's cases, stored when
the kit was made); when one reproduces the student's output within tolerance,
its description is the diagnosis ("you flipped the kernel: ..."). Otherwise
the difference is described: a scale factor, a constant or per-channel
offset, the sign, a transpose or a one-pixel shift, and where the error lives
(which channels, the border only or everywhere).
"""
from __future__ import annotations

import numpy as np

from .compare import compare_arrays, judged_tolerance


def diagnose(kind, check, case, arrays: dict, expected: dict, actual: dict, failed_names: list[str],
             use_catalogue: bool = True, stored: list | None = None) -> str:
    """A plain-words diagnosis of the failed outputs, or "" when nothing useful can be said.

    ``stored``: in a student kit, where reference/ is absent, the catalogue's outputs on this case computed
    when the kit was made (harness.kitcheck.KitStore.mistakes: (summary, outputs) in catalogue order); they
    are matched exactly as the grader matches the outputs it computes, so a kit and the grader name the same
    mistake. ``use_catalogue=False`` without ``stored`` describes the difference only.
    """
    failed = [name for name in failed_names if name in expected]
    if not failed:
        return ""
    if stored is not None:
        matched = match_candidates(kind, check, stored, expected, actual, failed)
    else:
        matched = match_catalogue(kind, check, case, arrays, expected, actual, failed) if use_catalogue else ""
    if matched:
        return matched
    notes = []
    for name in failed:
        value = actual.get(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            note = describe_difference(np.asarray(expected[name], dtype=np.float64), value.astype(np.float64),
                                       _tolerance(check, value))
            if note:
                notes.append(f"{name}: {note}" if len(failed) > 1 else note)
    return "; ".join(notes)


def match_catalogue(kind, check, case, arrays, expected, actual, failed: list[str]) -> str:
    return match_candidates(kind, check, ((mistake.summary, produced) for mistake, produced
                                          in catalogue_outputs(kind, check, case, arrays)), expected, actual, failed)


def catalogue_outputs(kind, check, case, arrays):
    """(mistake, the outputs it computes on these inputs) for each catalogued mistake of the check's kernels that
    runs on them, in catalogue order. Needs reference/ (the grader, or `harness kit` storing them for a kit)."""
    # A statement-driven kind (harness.adapters.function) names the kernels of each check and runs a mistake
    # through the course-layout reference itself; the AICS kinds have one kernel each and a variant runner.
    kernels = kind.kernels(check) if hasattr(kind, "kernels") else [getattr(kind, "kernel", None)]
    if not any(kernels):
        return
    from reference.mistakes import by_kernel
    for mistake in [mistake for kernel in kernels if kernel for mistake in by_kernel(kernel)]:
        try:
            with np.errstate(all="ignore"):
                produced = (kind.mistake_outputs(check, mistake, _copies(arrays), case)
                            if hasattr(kind, "mistake_outputs") else
                            kind.variant_outputs(mistake.variant, _copies(arrays), case))
        except Exception:   # a variant that cannot run on these inputs (e.g. Cin != Cout) is simply no match
            continue
        yield mistake, produced


def match_candidates(kind, check, candidates, expected, actual, failed: list[str]) -> str:
    """The summary of the first (summary, produced outputs) candidate that reproduces the failed outputs."""
    shape_hint = ""
    for summary, produced in candidates:
        covered = [name for name in failed if name in produced]
        if not covered:
            continue
        if hasattr(kind, "mistake_outputs"):    # it must also leave right what the submission got right
            right = [name for name in expected if name not in failed and name in produced]
            if not all(_same(check, produced[name], actual.get(name)) for name in right):
                continue
        if all(_reproduces(check, produced[name], actual.get(name)) for name in covered):
            return summary
        wrong_shapes = [name for name in covered if isinstance(actual.get(name), np.ndarray)
                        and actual[name].shape != np.shape(expected[name])]
        if not shape_hint and wrong_shapes and all(np.shape(produced[name]) == actual[name].shape
                                                   for name in wrong_shapes):
            shape_hint = (f"your {wrong_shapes[0]} has shape {actual[wrong_shapes[0]].shape}, the shape it would "
                          f"have if {summary.removeprefix('you ')}")
    return shape_hint


def _reproduces(check, produced, actual_value) -> bool:
    if not isinstance(actual_value, np.ndarray) or np.shape(produced) != actual_value.shape:
        return False
    produced = np.asarray(produced, dtype=np.float64)
    if not np.all(np.isfinite(produced)):
        # a mistake that overflows: the student's output must show the same non-finite pattern
        return bool(np.array_equal(np.isfinite(produced), np.isfinite(actual_value.astype(np.float64))))
    return compare_arrays("variant", produced, actual_value, check.tolerance).ok


def _same(check, produced, actual_value) -> bool:
    """Whether a value the submission got right is also what the candidate mistake computes (integers exactly)."""
    if isinstance(actual_value, np.ndarray) and actual_value.dtype.kind in "biu":
        return bool(np.array_equal(produced, actual_value))
    return _reproduces(check, produced, actual_value)


def _copies(arrays: dict) -> dict:
    return {name: array.copy() if isinstance(array, np.ndarray) else array for name, array in arrays.items()}


def _tolerance(check, value: np.ndarray):
    return judged_tolerance(check.tolerance, np.dtype(np.float64), value.dtype)[1]


def describe_difference(expected: np.ndarray, actual: np.ndarray, tolerance) -> str:
    """How ``actual`` differs from ``expected`` (same shape), in words."""
    if expected.shape != actual.shape or expected.size == 0 or not np.all(np.isfinite(actual)):
        return ""
    scale = max(float(np.abs(expected).max()), 1e-300)
    allowed = tolerance.atol * scale + tolerance.rtol * np.abs(expected)
    close = lambda candidate: bool(np.all(np.abs(actual - candidate) <= allowed + 1e-12 * scale))  # noqa: E731
    for describe in (_scaled, _offset, _per_channel_offset, _transposed, _shifted):
        note = describe(expected, actual, close)
        if note:
            return note
    return _where(expected, actual, allowed)


def _scaled(expected, actual, close) -> str:
    denominator = float(np.vdot(expected, expected))
    if denominator == 0:
        return ""
    factor = float(np.vdot(expected, actual)) / denominator
    if abs(factor - 1) < 1e-9 or not close(factor * expected):
        return ""
    if abs(factor + 1) < 1e-6:
        return "your output has the opposite sign of the expected one"
    return f"your output is the expected one multiplied by {factor:.6g}" + _fraction_hint(factor)


def _fraction_hint(factor: float) -> str:
    for value, words in ((2.0, "twice"), (0.5, "half")):
        if abs(factor - value) < 1e-6:
            return f" ({words} the expected value: a missing or extra factor 1/2?)"
    inverse = 1 / factor if factor else 0
    if inverse and abs(inverse - round(inverse)) < 1e-6 and round(inverse) > 1:
        return f" (1/{round(inverse)}: an extra division by {round(inverse)}?)"
    if abs(factor - round(factor)) < 1e-6 and round(factor) > 1:
        return f" ({round(factor)} times: a missing division by {round(factor)}?)"
    return ""


def _offset(expected, actual, close) -> str:
    offset = float(np.mean(actual - expected))
    if offset == 0 or not close(expected + offset):
        return ""
    return f"your output is off by a constant {offset:.6g} everywhere"


def _per_channel_offset(expected, actual, close) -> str:
    if expected.ndim != 4:
        return ""
    offsets = np.mean(actual - expected, axis=(0, 2, 3), keepdims=True)
    if not close(expected + offsets):
        return ""
    return ("each output channel is off by its own constant (a bias problem: missing, added twice, "
            "or the wrong channel's bias?)")


def _transposed(expected, actual, close) -> str:
    if expected.ndim >= 2 and expected.shape[-1] == expected.shape[-2] and close(np.swapaxes(expected, -1, -2)):
        return "your output is the expected one with rows and columns swapped"
    return ""


def _shifted(expected, actual, close) -> str:
    if expected.ndim < 2:
        return ""
    for axis, word in ((-2, "row"), (-1, "column")):
        for shift in (1, -1):
            moved = np.roll(expected, shift, axis=axis)
            inner = [slice(None)] * expected.ndim
            inner[axis] = slice(1, -1)
            if expected.shape[axis] > 2 and np.allclose(actual[tuple(inner)], moved[tuple(inner)],
                                                        rtol=1e-6, atol=1e-9 * np.abs(expected).max()):
                direction = "down" if shift == 1 else "up"
                if word == "column":
                    direction = "right" if shift == 1 else "left"
                return f"your output is shifted by one {word} ({direction}): check the padding and the window offsets"
    return ""


def _where(expected, actual, allowed) -> str:
    mismatched = np.abs(actual - expected) > allowed
    if not mismatched.any():
        return ""
    parts = []
    if expected.ndim == 4:
        channels = np.flatnonzero(mismatched.any(axis=(0, 2, 3)))
        if len(channels) < expected.shape[1]:
            listed = ", ".join(map(str, channels[:8])) + (" ..." if len(channels) > 8 else "")
            parts.append(f"only output channel(s) {listed} differ")
        height, width = expected.shape[2:]
        border = np.zeros((height, width), dtype=bool)
        border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
        spatial = mismatched.any(axis=(0, 1))
        if height > 2 and width > 2 and spatial.any() and not (spatial & ~border).any():
            parts.append("only the border rows and columns differ (padding?)")
        elif spatial.all():
            parts.append("values differ everywhere")
        else:
            rows = np.flatnonzero(spatial.any(axis=1))
            cols = np.flatnonzero(spatial.any(axis=0))
            parts.append(f"differences in rows {_ranges(rows)} and columns {_ranges(cols)}")
        if expected.shape[0] > 1:
            samples = np.flatnonzero(mismatched.any(axis=(1, 2, 3)))
            if len(samples) < expected.shape[0]:
                parts.append(f"only sample(s) {', '.join(map(str, samples))} of the batch differ")
    else:
        fraction = mismatched.mean()
        parts.append(f"{fraction:.0%} of the values differ")
    return "; ".join(parts)


def _ranges(indices: np.ndarray) -> str:
    if len(indices) == 0:
        return "none"
    groups, start, previous = [], indices[0], indices[0]
    for index in indices[1:]:
        if index != previous + 1:
            groups.append((start, previous))
            start = index
        previous = index
    groups.append((start, previous))
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in groups)
