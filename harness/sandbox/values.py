"""Turning what the submission returned into what a reply can carry.

    ndarray of a numeric or bool dtype       -> sent as is, in its dtype (subclasses as their base array)
    numpy scalar, bool, int, float, complex  -> a 0-d array
    list or tuple                            -> np.asarray, if that gives a numeric or bool array
    None                                     -> returned "none"
    anything else (dicts, objects, strings)  -> returned "unsupported", with the type's name

Each value keeps the name of the Python type the code produced, so a report
can say "returned a list" or "returned an np.matrix". The numpy functions are
bound at import, before submission code can patch numpy.

This module is sent to the child: standard library and numpy only.
"""
from __future__ import annotations

import numpy as np

SENDABLE_KINDS = "biufc"
_asarray = np.asarray
_ndarray = np.ndarray
_generic = np.generic


def to_wire(value) -> tuple[np.ndarray | None, dict]:
    """(the array to send or None, the value's description for the reply's metadata)."""
    type_name = type(value).__name__
    if value is None:
        return None, {"returned": "none", "type": "NoneType"}
    if isinstance(value, (_ndarray, _generic, bool, int, float, complex, list, tuple)):
        try:
            array = _asarray(value)
        except (ValueError, TypeError, OverflowError) as error:
            return None, _unsupported(type_name, f"not convertible to an array ({str(error)[:120]})")
        if type(array) is not _ndarray:
            return None, _unsupported(type_name, "its array conversion is not an ndarray")
        if array.dtype.kind not in SENDABLE_KINDS or array.dtype.fields is not None:
            return None, _unsupported(type_name, f"dtype {array.dtype}")
        return array, {"array": True, "type": type_name}
    return None, _unsupported(type_name, "")


def _unsupported(type_name: str, detail: str) -> dict:
    return {"returned": "unsupported", "type": type_name, "detail": detail}
