"""An exception in the child, described so that a student can act on it.

The location is the innermost frame in the submission's own files (path
relative to the submission, line, source line) and the traceback keeps only
those frames: the grader's and numpy's internals are noise to a student. A
missing attribute, name or imported name carries the names that do exist, for
"did you mean". When the submission's code never ran (a call with the wrong
number of arguments), the location is the definition that was called.

This module is sent to the child: standard library only.
"""
from __future__ import annotations

import linecache
import os
import re
import sys
import traceback

MAX_CANDIDATES = 300
_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)'")


def describe(exc: BaseException, step: str | None, package_dir: str, hint=None, callee=None) -> dict:
    """The error as the reply sends it; ``hint(exc, source_bytes)`` returns a hint or None."""
    package_dir = os.path.realpath(package_dir)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if _inside(frame.filename, package_dir)]
    error = {"exc_type": type(exc).__name__, "message": _message(exc),
             "step": running_label(step, _running_function(exc.__traceback__, package_dir)), "file": None, "line": None,
             "source_line": None, "traceback": "", "hint": None, "candidates": [], "missing_name": None}
    source = None
    if isinstance(exc, SyntaxError) and exc.filename and _inside(exc.filename, package_dir):
        error.update(file=_relative(exc.filename, package_dir), line=exc.lineno,
                     source_line=(exc.text or "").rstrip("\n") or None)
        source = _read_bytes(exc.filename)
    elif frames:
        innermost = frames[-1]
        error.update(file=_relative(innermost.filename, package_dir), line=innermost.lineno,
                     source_line=innermost.line or None)
    elif callee is not None:
        error.update(_definition(callee, package_dir))
    error["traceback"] = _format(frames, package_dir, error)
    error.update(_missing_name(exc))
    if hint is not None:
        error["hint"] = hint(exc, source)
    return error


def running_label(step: str | None, function: str | None) -> str | None:
    """The program step, and the submission's function that was running when it failed if that is another one:
    "calling MaxPoolingLayer.backward, in MaxPoolingLayer.backward_raw_book"."""
    if not function:
        return step
    if not step:
        return f"in {function}"
    if step.endswith(function) or step.endswith(f"{function})"):
        return step
    return f"{step}, in {function}"


def _running_function(tb, package_dir: str) -> str | None:
    """The qualified name of the innermost submission function on the traceback (None at module level)."""
    name = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if _inside(code.co_filename, package_dir):
            name = _function_words(getattr(code, "co_qualname", code.co_name))
        tb = tb.tb_next
    return name


def _function_words(qualname: str) -> str | None:
    """"Layer.forward.<locals>.<listcomp>" -> "Layer.forward"; "<module>" -> None."""
    parts = [part for part in qualname.split(".") if not part.startswith("<")]
    return ".".join(parts) or None


def _message(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the submission called sys.exit({exc.code!r})"
    if isinstance(exc, SyntaxError):
        return str(exc.msg)
    try:
        return str(exc)
    except Exception:                       # a submission's exception whose __str__ itself fails
        return f"<{type(exc).__name__} whose message could not be read>"


def _missing_name(exc: BaseException) -> dict:
    """The name that was missing and the names that exist where it was looked up."""
    if isinstance(exc, AttributeError) and isinstance(getattr(exc, "name", None), str):
        return {"missing_name": exc.name, "candidates": public_names(getattr(exc, "obj", None))}
    if isinstance(exc, ImportError) and not isinstance(exc, ModuleNotFoundError):
        match = _CANNOT_IMPORT.search(str(exc))
        if match and exc.name in sys.modules:
            return {"missing_name": match.group(1), "candidates": public_names(sys.modules[exc.name])}
    if isinstance(exc, NameError) and isinstance(getattr(exc, "name", None), str):
        innermost = _innermost_frame(exc.__traceback__)
        return {"missing_name": exc.name,
                "candidates": sorted(innermost.f_globals)[:MAX_CANDIDATES] if innermost is not None else []}
    return {}


def public_names(owner) -> list[str]:
    if owner is None:
        return []
    try:
        return [name for name in dir(owner) if not name.startswith("_")][:MAX_CANDIDATES]
    except Exception:                       # a submission's __dir__ may fail
        return []


def _definition(callee, package_dir: str) -> dict:
    """file/line/source of the function (or class constructor) that was called."""
    function = getattr(callee, "__func__", callee)
    if isinstance(function, type):
        function = getattr(function.__init__, "__func__", function.__init__)
    code = getattr(function, "__code__", None)
    if code is None or not _inside(code.co_filename, package_dir):
        return {}
    line = linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n")
    return {"file": _relative(code.co_filename, package_dir), "line": code.co_firstlineno, "source_line": line or None}


def _format(frames, package_dir: str, error: dict) -> str:
    lines = ["Traceback (the submission's frames only):"] if frames else []
    for frame in frames:
        lines.append(f'  File "{_relative(frame.filename, package_dir)}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{error['exc_type']}: {error['message']}")
    return "\n".join(lines)


def _innermost_frame(tb):
    frame = None
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    return frame


def _inside(path: str, directory: str) -> bool:
    # relative names ("<sandbox policy>", "<string>") are code without a file, never the submission's
    return os.path.isabs(path) and os.path.realpath(path).startswith(directory + os.sep)


def _relative(path: str, directory: str) -> str:
    return os.path.relpath(os.path.realpath(path), directory)


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as source:
            return source.read(1 << 20)
    except OSError:
        return None
