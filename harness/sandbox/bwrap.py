"""The bubblewrap command line of one child: a fresh root holding only what the child needs.

    /usr, /bin, /lib*, /etc/ld.so.cache      read-only (the C library, shared libraries)
    the Python installation                   read-only: sys.prefix, base_prefix, site-packages
    the readable files                        read-only, each bound alone (weights, images)
    the submission's copy                     read-only, at <session>/seed (scratch.py)
    the scratch directory                     a private tmpfs of bounded size at the scratch root's path:
                                              the child copies the seed into it as it starts
    /tmp                                      a private tmpfs of bounded size
    /proc, /dev                               the PID namespace's own procfs, bwrap's minimal /dev
                                              (remounted read-only: no files in /dev/shm)
    /                                         remounted read-only once everything is in place

No host directory is writable: what the child writes lives in the two tmpfs
mounts, whose sizes the kernel enforces (a write past them fails with ENOSPC,
however deep the directories). The parent reads their use with fstatvfs
(session.py), which no directory layout can hide from.

Every path keeps its host name, so tracebacks and the audit hook's messages
name the files the student knows. Protected paths (the harness and reference
packages, specs, other submissions) that lie inside a bound directory (an
installed, non-editable harness in site-packages) are covered with an empty
tmpfs, or /dev/null for a file; readable files inside them are bound back
after. Nothing else of the host exists in the child: not the repository or
its .git, not other sandboxes' scratch directories (those live under the
host's /tmp, which the child never sees), not the editable install's source
tree (the finder module in site-packages points at paths that do not exist).
"""
from __future__ import annotations

import os
from pathlib import Path

from .isolation import Plan

SYSTEM_DIRECTORIES = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
CPU_INFO = "/sys/devices/system/cpu"          # what glibc and BLAS read to count the CPUs
TMP_BYTES = 64 << 20


def command(plan: Plan, python_argv: list[str], *, scratch_root: Path, seed_dir: Path, scratch_size: int,
            python_roots: list[str], readable: list[Path], protected: list[Path], seccomp_fd: int | None,
            uid: int | None) -> list[str]:
    """The whole command: bwrap's options, then (as root) setpriv, then the interpreter's argv.

    ``scratch_root`` (the host copy of the submission) is bound read-only at ``seed_dir``, and a tmpfs of
    ``scratch_size`` bytes is mounted at ``scratch_root`` itself, the child's working place."""
    args = [plan.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]
    if plan.privileged:
        # bwrap keeps root's capabilities by default: only the three setpriv needs to drop to ``uid``
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--disable-userns"]
    made: set[str] = {"/", "/usr"}
    args += ["--ro-bind", "/usr", "/usr"]
    for path in SYSTEM_DIRECTORIES:
        args += _system_directory(path)
    args += _directory("/etc", made)
    for path in SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    args += _parents(Path(CPU_INFO), made) + ["--ro-bind-try", CPU_INFO, CPU_INFO]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
             "--perms", "01777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    made.update(("/proc", "/dev", "/tmp"))
    bound = [Path("/usr")]
    for root in _outermost([Path(path) for path in python_roots]):
        if not any(_inside(root, outer) for outer in bound):
            args += _parents(root, made) + ["--ro-bind", str(root), str(root)]
            bound.append(root)
    covered = _outermost([path for path in protected if any(_inside(path, outer) for outer in bound)])
    for path in covered:
        args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    made.update(str(path) for path in covered)
    for path in readable:
        if path.exists():
            existing = {str(parent) for parent in path.parents if any(_inside(parent, outer) for outer in bound)
                        and not any(_inside(parent, hidden) for hidden in covered)}
            made.update(existing)
            args += _parents(path, made) + ["--ro-bind", str(path), str(path)]
    for path in covered:                # the covering tmpfs mounts hold nothing writable (no size of their own)
        args += ["--remount-ro", str(path)] if path.is_dir() else []
    args += _parents(seed_dir, made) + ["--ro-bind", str(scratch_root), str(seed_dir)]
    args += _parents(scratch_root, made) + ["--perms", "01777", "--size", str(scratch_size), "--tmpfs",
                                            str(scratch_root)]
    args += ["--remount-ro", "/", "--chdir", str(scratch_root)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    if plan.privileged:
        args += [plan.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    return args + python_argv


def _system_directory(path: str) -> list[str]:
    """/bin, /lib ... as on the host: the same symbolic link (merged /usr), or a read-only bind."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    return ["--ro-bind", path, path] if os.path.isdir(path) else []


def _directory(path: str, made: set[str]) -> list[str]:
    """bwrap would create a missing mount point's parents 0700, unreadable to an unprivileged child."""
    if path in made:
        return []
    made.add(path)
    return ["--perms", "0755", "--dir", path]


def _parents(path: Path, made: set[str]) -> list[str]:
    """--dir for each missing parent of ``path``; ``made`` (updated) holds the directories that exist."""
    args = []
    for parent in reversed(path.parents):
        args += _directory(str(parent), made)
    return args


def _inside(path: Path, outer: Path) -> bool:
    return path == outer or outer in path.parents


def _outermost(paths: list[Path]) -> list[Path]:
    unique = sorted(set(paths))
    return [path for path in unique if not any(other != path and _inside(path, other) for other in unique)]
