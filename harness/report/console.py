"""The readable summary `harness check` prints: one line per check, then what went wrong.

Checks are listed in the spec's order, except that a failing check that explains others (its id is their
``root_cause``) is listed right before the first of them, so the student reads the cause first."""
from __future__ import annotations

import math

from ..results import CheckResult, SubmissionResult
from ..root_cause import report_order
from ..spec import LabSpec
from .nextlevel import describe, next_level
from .text import parts

_LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skip": "SKIP"}


def format_result(result: SubmissionResult, spec: LabSpec | None = None, verbose: bool = False) -> str:
    lines = [f"{result.lab}: {result.submission}"]
    if result.error:
        lines.append(f"  could not check this submission: {result.error}")
    width = max((len(check.id) for check in result.checks), default=10)
    first_with = {}                     # an error that stops several checks (a missing file) is printed once
    for check in report_order(result.checks):
        lines.append(f"  {_LABEL[check.status]:<7} {check.id:<{width}}  {_points(check)}  {_figures(check)}".rstrip())
        if check.status in ("error", "timeout") and check.message in first_with:
            lines.append(f"      the same error as {first_with[check.message]}")
        elif check.status not in ("pass", "skip") or (verbose and check.message):
            if check.status in ("error", "timeout") and check.message:
                first_with[check.message] = check.id
            lines.extend("      " + line for line in _explanation(check).splitlines())
        elif check.status == "skip" and verbose:
            lines.append(f"      {check.message}")
        lines.extend(f"      note: {note}" for note in getattr(check, "notes", None) or ())
    lines.append(f"score {_num(result.score)}/{_num(result.max_score)}"
                 + (f", level {result.level}" if result.level is not None else ""))
    if spec is not None and spec.tiers:
        nxt = next_level(spec.tiers, result.checks)
        if nxt:
            lines.append(f"next level {nxt.level} needs: {', '.join(describe(need) for need in nxt.needs)}")
    if result.semantics.get("python") == "2.7":
        lines.append(f"note: run with Python 2.7 semantics ({result.semantics.get('division')} division): "
                     f"{result.semantics.get('reason')}")
    compat = result.sandbox.get("compat_used") if result.sandbox else None
    if compat:
        lines.append(f"note: legacy APIs were emulated for this submission: {', '.join(compat)}")
    return "\n".join(lines)


def _points(check: CheckResult) -> str:
    return f"{_num(check.points):>4}/{_num(check.max_points):<4}"


def _num(value: float) -> str:
    return f"{value:g}"


def _figures(check: CheckResult) -> str:
    metrics = check.metrics
    parts = []
    if "cases" in metrics:
        parts.append(f"{metrics.get('cases_passed', 0)}/{metrics['cases']} cases")
    if "max_abs_error" in metrics:
        parts.append(f"max abs err {metrics['max_abs_error']:.2g}")
    if "max_rel_error" in metrics:
        parts.append(f"rel err {metrics['max_rel_error']:.2g}")
    if "ratio" in metrics:
        parts.append(speedup_figure(metrics))
    return ", ".join(parts)


def _explanation(check: CheckResult) -> str:
    text = check.message
    for index, part in enumerate(parts(check.diagnosis)):      # each finding on a line of its own, labelled
        text += f"\n{'diagnosis' if index == 0 else 'also'}: {part}"
    if check.counterexample:
        text += f"\nminimal failing input: {check.counterexample.get('params')}"
    return text


def speedup_figure(metrics: dict) -> str:
    """What the judged ratio is measured against, and the reference solution's own ratio against the same loop:
    'speedup 30.1x over the course's plain loop; the reference solution's speedup path: 523.4x'. Without
    calibration (a student kit) the ratio is over the student's own raw path and there is no reference figure."""
    reference = metrics.get("reference_ratio", float("nan"))
    calibrated = isinstance(reference, (int, float)) and math.isfinite(reference)
    against = metrics.get("judged_against") or ("the reference's plain loop" if calibrated else "your raw path")
    against = "the course's plain loop" if against == "the reference's plain loop" else against
    text = f"speedup {metrics['ratio']:.1f}x over {against}"
    if calibrated:
        return text + f"; the reference solution's speedup path: {reference:.1f}x"
    return text + " (not calibrated: no reference solution here)"
