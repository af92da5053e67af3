"""Plain-words messages for what went wrong inside the child.

The student reads these: name their file and line, the exception, what the
harness was doing, and the hint the sandbox found (Python 2 leftovers, a
misspelt method with its closest match).
"""
from __future__ import annotations

import builtins
import difflib
import re

_STATUS_WORDS = {
    "timeout": "did not finish in time",
    "crashed": "the Python process running the submission died",
    "blocked": "the submission attempted an action the sandbox forbids",
    "protocol": "the submission interfered with the harness's result channel",
}


WITHHELD = ("(the exception's text is withheld on a hidden case: code can put the case's inputs in it; "
            "the public cases show the same code path with the text)")


def describe_failure(reply, doing: str, reveal: bool = True) -> str:
    """One paragraph: what happened, where in the student's code, and a hint when there is one.

    ``reveal=False`` (a hidden case): only what the child cannot shape after the case's inputs
    (_hidden_case_error); the step label the child reported is left out too."""
    error = reply.error
    parts = []
    step_label = getattr(reply, "step", None) if reveal else None
    where = f"{doing} ({step_label})" if step_label and step_label not in doing else doing
    if reply.status == "timeout":
        parts.append(f"{_STATUS_WORDS['timeout']} while {where} (after {reply.wall_time:.0f} s)"
                     if reply.wall_time else f"{_STATUS_WORDS['timeout']} while {where}")
    elif reply.status in _STATUS_WORDS and not error:
        parts.append(f"{_STATUS_WORDS[reply.status]} while {where}")
    if getattr(reply, "detail", "") and not error:
        parts.append(reply.detail)
    if error is not None and not reveal:
        parts.append(_hidden_case_error(error, doing))
        error = None
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
    blocked = getattr(reply, "blocked", None) or ()
    if reveal:
        parts.extend(f"blocked: {action}" for action in blocked)
    elif blocked:                        # a refused path is the submission's to name, after the inputs if it likes
        parts.append(f"blocked: {len(blocked)} action(s) the sandbox forbids (which, on the public cases)")
    return "\n".join(parts) if parts else f"failed while {doing}"


_BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                                if isinstance(value, type) and issubclass(value, BaseException)) | {
    "LinAlgError", "AxisError", "SandboxViolation"}
_FILE_NAME = re.compile(r"[A-Za-z0-9_\-./]{1,60}\.py")


def _hidden_case_error(error, doing: str) -> str:
    """Only what code cannot shape after the case's inputs: a built-in exception's name (a class the submission
    defines could be named after them), a plain file name and line number, and the grader's own words for what
    was running. The exception's text, the source line (linecache can be fed), the step label and the
    attribute names a suggestion would echo all come from the child, and are left out."""
    exc_type = error.exc_type if error.exc_type in _BUILTIN_EXCEPTIONS else "an exception of the submission's own"
    plain_file = isinstance(error.file, str) and _FILE_NAME.fullmatch(error.file) and isinstance(error.line, int)
    where = f"{error.file}, line {error.line}: " if plain_file else ""
    return f"{where}{exc_type}: {WITHHELD} (while {doing})"


# Attributes a course layer sets for later use, and why each must be there.
_PARAMETER_GRADIENT = (
    "backward must set self.d_weight and self.d_bias, in every version of it (raw and speedup): they are the "
    "gradient of the loss with respect to the layer's own parameters, which the course's template computes in "
    "backward and its update_param uses to train the layer. Exp 3-3's style transfer needs only the returned "
    "bottom_diff, so the course's driver would not notice them missing; the harness checks them because a "
    "backward without them is only part of the layer's gradient")
_COURSE_ATTRIBUTES = {
    "d_weight": _PARAMETER_GRADIENT,
    "d_bias": _PARAMETER_GRADIENT,
    "input_image": "the course's driver reads vgg.input_image after calling load_image: load_image must set "
                   "self.input_image",
    "max_index": "self.max_index is what the course's forward_raw records for the backward: every forward a "
                 "backward may follow (raw and speedup) must set it before the backward reads it",
}


def _course_attribute_hint(error) -> str:
    if error.exc_type != "AttributeError":
        return ""
    return _COURSE_ATTRIBUTES.get(getattr(error, "missing_name", None) or "", "")


def _did_you_mean(error) -> str:
    missing = getattr(error, "missing_name", None)
    candidates = getattr(error, "candidates", None) or []
    if not missing or not candidates:
        return ""
    close = difflib.get_close_matches(missing, candidates, n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}? (the course's name is {missing!r})" if close else ""
