"""What a request to the child produced, as the parent reports it.

Everything here is built by the parent from a frame it has validated; text
the child supplies is type-checked and truncated, never interpreted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .channel import ProtocolError

STATUSES = ("ok", "error", "timeout", "crashed", "blocked", "protocol")
CHILD_STATUSES = ("ok", "error", "blocked")       # the ones a reply frame may claim
_TEXT_LIMITS = {"exc_type": 200, "message": 4000, "file": 500, "source_line": 1000, "traceback": 16000,
                "step": 500, "hint": 2000, "missing_name": 200}


@dataclass(frozen=True)
class Returned:
    """A result that is not an array: ``kind`` "none" (the code returned None) or "unsupported"."""

    kind: str
    type_name: str
    detail: str = ""            # why it could not be sent ("dtype object", "a ragged nested sequence")


@dataclass
class ChildError:
    """An exception in the child, located in the submission's own files."""

    exc_type: str
    message: str
    file: str | None = None                 # relative to the submission, e.g. "layers_2.py"
    line: int | None = None
    source_line: str | None = None
    traceback: str = ""                     # the submission's frames only
    step: str | None = None                 # "calling ConvolutionalLayer.forward_raw"
    hint: str | None = None                 # Python 2 leftovers, integer division, removed APIs
    candidates: list[str] = field(default_factory=list)   # names the object does have, for "did you mean"
    missing_name: str | None = None         # the attribute or name that was missing


@dataclass
class Reply:
    status: str                             # one of STATUSES
    values: dict = field(default_factory=dict)          # name -> ndarray | Returned
    types: dict = field(default_factory=dict)           # name -> the Python type the code produced ("matrix", "list")
    error: ChildError | None = None
    blocked: list[str] = field(default_factory=list)    # plain-words descriptions of refused actions
    stdout: str = ""
    stderr: str = ""
    wall_time: float = 0.0                  # seconds, measured by the parent
    cpu_time: float | None = None           # CPU seconds of the child's whole process tree during the request,
                                            # forked helpers included, alive or exited (tree.py)
    compat_used: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    detail: str = ""                        # plain words for timeout, crashed and protocol
    step: str | None = None                 # the program step running when the request ended
    request_id: int = 0
    new_child: bool = False                 # this request started a child (state of earlier requests is gone)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ChildResult:
    """The validated content of a reply frame."""

    status: str
    values: dict
    types: dict
    error: ChildError | None
    compat_used: list[str]
    fatal: bool                             # the child asks to be replaced (its state is compromised)


def parse_result(meta: dict, arrays: dict[str, np.ndarray]) -> ChildResult:
    """Check a reply frame's metadata against what a reply may contain; ProtocolError otherwise."""
    try:
        return _parse_result(meta, arrays)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:   # a hostile shape missed
        raise ProtocolError(f"a reply could not be read ({type(error).__name__})") from None


def _parse_result(meta: dict, arrays: dict[str, np.ndarray]) -> ChildResult:
    status = meta.get("status")
    if status not in CHILD_STATUSES:
        raise ProtocolError(f"a reply claimed status {str(status)[:40]!r}")
    described = meta.get("values", {})
    if not isinstance(described, dict):
        raise ProtocolError("a reply's values are not an object")
    values, types = {}, {}
    for name, entry in described.items():
        if not isinstance(entry, dict):
            raise ProtocolError(f"value {name[:80]!r} is not described by an object")
        types[name] = _text(entry.get("type", ""), 200)
        if entry.get("array") is True:
            if name not in arrays:
                raise ProtocolError(f"value {name[:80]!r} names an array the frame does not carry")
            values[name] = arrays[name]
        elif entry.get("returned") in ("none", "unsupported"):
            values[name] = Returned(entry["returned"], types[name], _text(entry.get("detail", ""), 500))
        else:
            raise ProtocolError(f"value {name[:80]!r} is neither an array nor a returned marker")
    if set(arrays) - set(values):
        raise ProtocolError("a reply carries arrays that no value names")
    error = parse_error(meta.get("error"))
    compat = meta.get("compat_used", [])
    if not isinstance(compat, list) or not all(isinstance(name, str) for name in compat):
        raise ProtocolError("a reply's compat_used is not a list of names")
    return ChildResult(status, values, types, error, [name[:100] for name in compat[:100]], meta.get("fatal") is True)


def parse_error(data) -> ChildError | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exc_type"), str):
        raise ProtocolError("a reply's error is not an object with an exception type")
    texts = {key: _text(data.get(key), limit) if data.get(key) is not None else None
             for key, limit in _TEXT_LIMITS.items()}
    line = data.get("line")
    candidates = data.get("candidates") or []
    if not isinstance(candidates, list):
        raise ProtocolError("a reply's candidates are not a list")
    return ChildError(
        exc_type=texts["exc_type"], message=texts["message"] or "", file=texts["file"],
        line=line if type(line) is int and line > 0 else None, source_line=texts["source_line"],
        traceback=texts["traceback"] or "", step=texts["step"], hint=texts["hint"],
        candidates=[_text(name, 100) for name in candidates[:300]], missing_name=texts["missing_name"])


def _text(value, limit: int) -> str:
    if not isinstance(value, str):
        raise ProtocolError("a reply has a non-text field where text belongs")
    return value if len(value) <= limit else value[:limit] + " [...]"
