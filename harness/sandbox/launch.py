"""Starting the child: the interpreter's flags, its scrubbed environment, and what it reads of the host.

    python -I -S -B -u -c STUB

-I ignores PYTHON* variables and the user's site directory, -S keeps
site-packages' .pth files (the project's editable-install finder among them)
from running in the child (the bootstrap adds the parent's site-packages
directories to sys.path itself), -B writes no bytecode, -u leaves nothing in a
buffer when the child is killed. Under bubblewrap (bwrap.py) this command runs
inside the sandbox; ``python_roots`` are the directories bound into it.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
PASSED_THROUGH = ("OPENBLAS_CORETYPE",)         # numerics must match the parent's BLAS kernel choice


def python_command(stub: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-B", "-u", "-c", stub]


def python_roots() -> list[str]:
    """Directories of the Python installation the child reads from (stdlib, site-packages, the binary's)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values(), *site_packages(),
             os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(str(Path(root).resolve()) for root in roots if root)


def site_packages() -> list[str]:
    return [path for path in site.getsitepackages() if os.path.isdir(path)]


def environment(home: Path, tmp_dir: Path, threads: int) -> dict[str, str]:
    """The child's whole environment: nothing of the parent's but the BLAS kernel choice."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp_dir)}
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    return env
