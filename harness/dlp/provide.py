"""How a sandboxed child gets ``pycnml`` and ``pycnnl``: the installed modules on a DLP board, else the emulations.

The emulations' sources (numerics, pycnml, pycnnl; standard library and numpy
only) travel in the program, in a ``provide`` step the child's interpreter
runs before importing the submission: it executes them as the package
``nnlab_dlp`` and makes ``import pycnml`` / ``import pycnnl`` resolve to the
module installed on the machine when the interpreter's path has one, else to
``nnlab_dlp.pycnml`` / ``nnlab_dlp.pycnnl``. A ``pycnml.py`` among the
submission's own files is never what ``import pycnml`` gives. The step assigns
an int array, 1 per alias served by the emulation, which says which backend
ran.
"""
from __future__ import annotations

import functools
import importlib.machinery
from pathlib import Path

PACKAGE = "nnlab_dlp"
MODULES = ("numerics", "pycnml", "pycnnl")
ALIASES = ("pycnml", "pycnnl")
BACKEND_OUTPUT = "dlp_emulated"


@functools.cache
def _sources() -> tuple[tuple[str, str], ...]:
    here = Path(__file__).parent
    return tuple((name, (here / f"{name}.py").read_text(encoding="utf-8")) for name in MODULES)


def provide_step(as_: str = BACKEND_OUTPUT) -> dict:
    """The program step that provides pycnml and pycnnl; assigns ``as_`` (1 where emulated)."""
    return {"provide": {"package": PACKAGE, "modules": [list(item) for item in _sources()], "aliases": list(ALIASES)},
            "as": as_}


def installed(api: str) -> bool:
    """Whether this interpreter's path has a real ``api`` module (the child's path is the same, minus the harness)."""
    return importlib.machinery.PathFinder.find_spec(api) is not None


def describe_backend(api: str, emulated: bool) -> str:
    if emulated:
        return f"{api} emulated on the CPU (numpy; no {api} module is installed)"
    return f"{api} installed on this machine (a Cambricon DLP board)"


def emulated_flag(values: dict, api: str):
    """True / False from a reply's ``dlp_emulated`` output, None when the reply does not have it."""
    import numpy as np
    flags = values.get(BACKEND_OUTPUT)
    if isinstance(flags, np.ndarray) and flags.shape == (len(ALIASES),):
        return bool(flags[ALIASES.index(api)])
    return None
