"""Plain-words messages for what went wrong inside the child.

The student reads these: name their file and line, the exception, what the
harness was doing, and the hint the sandbox found (Python 2 leftovers, a
misspelt method with its closest match).
"""
from __future__ import annotations

import difflib

_STATUS_WORDS = {
    "timeout": "did not finish in time",
    "crashed": "the Python process running the submission died",
    "blocked": "the submission attempted an action the sandbox forbids",
    "protocol": "the submission interfered with the harness's result channel",
}


def describe_failure(reply, doing: str) -> str:
    """One paragraph: what happened, where in the student's code, and a hint when there is one."""
    error = reply.error
    parts = []
    where = f"{doing} ({reply.step})" if getattr(reply, "step", None) and reply.step not in doing else doing
    if reply.status == "timeout":
        parts.append(f"{_STATUS_WORDS['timeout']} while {where} (after {reply.wall_time:.0f} s)"
                     if reply.wall_time else f"{_STATUS_WORDS['timeout']} while {where}")
    elif reply.status in _STATUS_WORDS and not error:
        parts.append(f"{_STATUS_WORDS[reply.status]} while {where}")
    if getattr(reply, "detail", "") and not error:
        parts.append(reply.detail)
    if error is not None:
        where = f"{error.file}, line {error.line}: " if error.file and error.line else ""
        step = error.step or doing
        parts.append(f"{where}{error.exc_type}: {error.message} (while {step})")
        if error.source_line:
            parts.append(f"    {error.source_line.strip()}")
        suggestion = _course_attribute_hint(error) or _did_you_mean(error)
        if suggestion:
            parts.append(suggestion)
        if error.hint:
            parts.append(f"hint: {error.hint}")
    for action in getattr(reply, "blocked", None) or ():
        parts.append(f"blocked: {action}")
    return "\n".join(parts) if parts else f"failed while {doing}"


# Attributes the course's code reads after a call, and the method that must set them.
_COURSE_ATTRIBUTES = {
    "d_weight": "backward", "d_bias": "backward", "input_image": "load_image", "max_index": "forward_raw",
}


def _course_attribute_hint(error) -> str:
    owner = _COURSE_ATTRIBUTES.get(getattr(error, "missing_name", None) or "")
    if not owner or error.exc_type != "AttributeError":
        return ""
    return (f"the course's code reads .{error.missing_name} after calling {owner}: your {owner} "
            f"(every version of it, raw and speedup) must set self.{error.missing_name}")


def _did_you_mean(error) -> str:
    missing = getattr(error, "missing_name", None)
    candidates = getattr(error, "candidates", None) or []
    if not missing or not candidates:
        return ""
    close = difflib.get_close_matches(missing, candidates, n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}? (the course's name is {missing!r})" if close else ""
