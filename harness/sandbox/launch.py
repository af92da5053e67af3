"""Starting the child: interpreter flags, a scrubbed environment, Linux namespaces when the kernel allows.

    unshare --user --map-root-user --net --mount --pid --fork --kill-child --mount-proc \\
        /bin/sh -c MOUNTS sh  python -I -S -B -u -c STUB

Inside the namespaces the child has no network interface, sees only its own
processes (all of which die with it), and sees the filesystem read-only except
its scratch directory, with the protected directories hidden under empty
tmpfs mounts (readable files and directories inside them are bound back in). None
of this needs root: an unprivileged user namespace suffices. Whether unshare
works is probed once per parent process; without it the child runs with the
other layers and ``layers`` says which ones.

-S keeps site-packages' .pth files (the project's editable-install finder
among them) from running in the child; the bootstrap adds the parent's
site-packages directories to sys.path itself.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
PASSED_THROUGH = ("OPENBLAS_CORETYPE",)         # numerics must match the parent's BLAS kernel choice
FULL_NAMESPACES = ("--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child",
                   "--mount-proc")
NET_NAMESPACES = ("--user", "--map-root-user", "--net")
LAYERS = {"full": ["user-namespace", "net-namespace", "mount-namespace", "pid-namespace", "read-only-root",
                   "hidden-protected-paths"],
          "net": ["user-namespace", "net-namespace"],
          "none": []}
_PROBE_SCRIPT = 'mount -t tmpfs -o size=64k probe "$1" && mount --bind "$1" "$1" && mount -o remount,bind,ro /'


def python_command(stub: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-B", "-u", "-c", stub]


def python_roots() -> list[str]:
    """Directories of the Python installation the child reads from (stdlib, site-packages)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values(), *site_packages()}
    return sorted(str(Path(root).resolve()) for root in roots if root)


def site_packages() -> list[str]:
    return [path for path in site.getsitepackages() if os.path.isdir(path)]


def environment(home: Path, tmp_dir: Path, threads: int) -> dict[str, str]:
    """The child's whole environment: nothing of the parent's but the BLAS kernel choice."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp_dir)}
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    return env


@functools.cache
def available_namespaces() -> str:
    """"full", "net" or "none": what unshare can do here, probed once per process."""
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if not unshare or not sys.platform.startswith("linux"):
        return "none"
    if mount:
        with tempfile.TemporaryDirectory(prefix="nnlab-probe-") as probe_dir:
            if _succeeds([unshare, *FULL_NAMESPACES, "/bin/sh", "-c", _PROBE_SCRIPT, "sh", probe_dir]):
                return "full"
    return "net" if _succeeds([unshare, *NET_NAMESPACES, "true"]) else "none"


def _succeeds(command: list[str]) -> bool:
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def wrap(command: list[str], level: str, scratch_root: Path, mounts_dir: Path, protected: list[Path],
         readable: list[Path]) -> tuple[list[str], list[str]]:
    """The command run inside the namespaces of ``level``, and the layers that gives."""
    unshare = shutil.which("unshare")
    if level == "none" or not unshare:
        return command, []
    if level == "net":
        return [unshare, *NET_NAMESPACES, *command], LAYERS["net"]
    script = mount_script(scratch_root, mounts_dir, protected, readable)
    return [unshare, *FULL_NAMESPACES, "/bin/sh", "-c", script, "sh", *command], LAYERS["full"]


def mount_script(scratch_root: Path, mounts_dir: Path, protected: list[Path], readable: list[Path]) -> str:
    """Shell commands run as the namespace's root before exec-ing the interpreter.

    ``protected`` must not contain the scratch directory or the Python installation (the
    session leaves such paths out). Readable files and directories inside a hidden directory
    are bound to a staging mount point first and back to their own path after.
    """
    hidden = _outermost([path for path in protected if path.exists()])
    exposed = [path for path in readable if path.exists() and any(_contains(outer, path) for outer in hidden)]
    q = shlex.quote
    lines = ["set -e", f"mount --bind {q(str(scratch_root))} {q(str(scratch_root))}"]
    staged = []
    for index, path in enumerate(exposed):
        stage = mounts_dir / f"stage-{index}"
        if path.is_dir():
            stage.mkdir(exist_ok=True)
        else:
            stage.touch()
        staged.append((stage, path))
        lines.append(f"mount --bind {q(str(path))} {q(str(stage))}")
    for path in hidden:
        if path.is_dir():
            lines.append(f"mount -t tmpfs -o size=1m,mode=0755 hidden {q(str(path))}")
        else:
            lines.append(f"mount --bind /dev/null {q(str(path))}")
    for stage, path in staged:
        make = f"mkdir -p {q(str(path))}" if path.is_dir() else f"mkdir -p {q(str(path.parent))} && touch {q(str(path))}"
        lines.append(f"{make} && mount --bind {q(str(stage))} {q(str(path))}")
    lines += [f"mount -o remount,ro {q(str(path))}" for path in hidden if path.is_dir()]
    lines += ["mount -o remount,bind,ro /",
              "if [ -d /dev/shm ]; then mount -t tmpfs -o size=1m shm /dev/shm; fi",
              'exec "$@"']
    return "\n".join(lines)


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def _outermost(paths: list[Path]) -> list[Path]:
    unique = sorted(set(paths))
    return [path for path in unique if not any(other != path and _contains(other, path) for other in unique)]
