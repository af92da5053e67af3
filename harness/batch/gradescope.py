"""gradescope/<folder>.json: a submission's result in Gradescope's results.json schema.

The schema (gradescope autograder docs, specs.md): top-level ``score``, ``execution_time``,
``output``, ``visibility``, ``stdout_visibility``, ``extra_data`` and ``tests``, each test with
``name``, ``number``, ``score``, ``max_score``, ``status`` ("passed" / "failed"), ``output`` and
``visibility``. One test per check, in the spec's order.

Visibility per check: a check with at least one public case is "visible"; a check whose cases are all
hidden is "after_published" (students see it once grades are published). Hidden cases' details are
withheld everywhere: a test's output gives a public case's message and diagnosis, but of a hidden case
only that it failed. The submission's id, lab, level and batch status are in ``extra_data``.
"""
from __future__ import annotations

import json

from .status import LABELS
from .store import Record

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"


def gradescope_results(record: Record) -> dict:
    result = record.result
    tests = [_test(index, check) for index, check in enumerate(result.get("checks", []), start=1)]
    level = f", level {record.level}" if record.level is not None else ""
    output = f"{result.get('lab', record.lab)}: {_number(record.score)}/{_number(record.max_score)}{level}"
    if record.status != "graded":
        output += f"\n{LABELS.get(record.status, record.status)}: {record.reason}"
        if record.status == "harness_error":
            output += "\nThis is a fault of the grader, not a verdict on your work: it will be graded again."
    return {
        "score": record.score or 0.0,
        "execution_time": round(record.wall_seconds or 0.0, 2),
        "output": output,
        "visibility": VISIBLE,
        "stdout_visibility": "hidden",
        "extra_data": {"id": record.id, "lab": record.lab, "level": record.level, "status": record.status},
        "tests": tests,
    }


def gradescope_json(record: Record) -> str:
    return json.dumps(gradescope_results(record), indent=2, ensure_ascii=False) + "\n"


def check_visibility(check: dict) -> str:
    cases = check.get("cases", [])
    return VISIBLE if not cases or any(case.get("public") for case in cases) else AFTER_PUBLISHED


def _test(number: int, check: dict) -> dict:
    return {
        "name": f"{check['id']}: {check.get('title', '')}".rstrip(": "),
        "number": str(number),
        "score": check.get("points", 0.0),
        "max_score": check.get("max_points", 0.0),
        "status": "passed" if check.get("status") == "pass" else "failed",
        "output": _output(check),
        "visibility": check_visibility(check),
    }


def _output(check: dict) -> str:
    status = check.get("status", "")
    lines = [status.upper()]
    if status == "pass":
        return lines[0]
    if check.get("harness_fault"):
        return lines[0] + "\nThe grader failed while checking this; it is not a verdict on your work."
    cases = check.get("cases", [])
    public_bad = [case for case in cases if case.get("public") and case.get("status") != "pass"]
    hidden_bad = [case for case in cases if not case.get("public") and case.get("status") != "pass"]
    for case in public_bad:
        lines.append(f"case {case['name']}: {case.get('message', '')}")
        if case.get("diagnosis"):
            lines.append(f"  likely cause: {case['diagnosis']}")
    if hidden_bad:
        lines.append(f"{len(hidden_bad)} hidden case{'s' if len(hidden_bad) > 1 else ''} did not pass "
                     "(details are withheld)")
    if not cases and check.get("message"):          # skipped, or an error before any case ran: no case data in it
        lines.append(check["message"])
    return "\n".join(lines)


def _number(value) -> str:
    return "-" if value is None else f"{value:g}"
