"""A submission's grading status in a batch: what separates a graded zero from everything that is not a grade.

    graded          every check ran and was judged (a zero is a real zero)
    timeout         the submission ran out of time: a check, or the whole submission, passed its budget
    harness_error   the harness failed (a fault of the grader, not a verdict): regrade once it is fixed
    unreadable      an archive that cannot be unpacked (damaged, encrypted, hostile member names)
    not_graded      an entry of the class folder that is not a submission (a stray file, an empty folder)

Precedence when several apply: unreadable, harness_error, timeout, graded.
"""
from __future__ import annotations

STATUSES = ("graded", "timeout", "harness_error", "unreadable", "not_graded")
LABELS = {"graded": "graded", "timeout": "timeout", "harness_error": "harness error", "unreadable": "unreadable archive",
          "not_graded": "not graded"}
# the shared palette's classes (report/templates/styles.css.j2) for each status
CSS = {"graded": "pass", "timeout": "timeout", "harness_error": "error", "unreadable": "error", "not_graded": "skip"}


def status_of(result: dict) -> tuple[str, str]:
    """(status, reason) of a result in `harness check --json`'s form."""
    checks = result.get("checks", [])
    faults = [check["id"] for check in checks if check.get("harness_fault")]
    if faults or result.get("error", "").startswith("the harness could not run"):
        which = f" in {', '.join(faults[:3])}{' ...' if len(faults) > 3 else ''}" if faults else ""
        return "harness_error", (result.get("error") or f"the harness failed{which}")
    timed_out = [check["id"] for check in checks if check.get("status") == "timeout"]
    if timed_out:
        return "timeout", f"out of time in {', '.join(timed_out[:3])}{' ...' if len(timed_out) > 3 else ''}"
    return "graded", ""
