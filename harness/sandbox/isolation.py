"""Which isolation a session runs under, and whether this machine can give it.

    bwrap      (default) bubblewrap with a seccomp filter; refuses to run (IsolationUnavailable,
               saying how to install what is missing) when either cannot be used
    fallback   the best of the above that works here, and plain child processes when nothing
               does; ``Plan.record()`` says what was in force and why
    process    a plain child process (scrubbed environment, rlimits, audit hook): the student kit,
               on the student's own machine, where the code checked is the student's own

bubblewrap runs in one of two ways. When the grader is root, bwrap runs as
root (it needs no user namespace then, and can reach an interpreter under
/root) and the child drops, before Python starts, to a user id of its own
(uids.py) with setpriv: no capabilities, an empty bounding set, no_new_privs.
Otherwise bwrap makes an unprivileged user namespace in which the child keeps
the grader's own user id, without capabilities. Either way the child is an
unprivileged user of the host.

In modes bwrap and fallback each sandbox also gets a cgroup of its own where
the host allows (cgroup.py: memory, processes and a CPU quota for the whole
tree, enforced by the kernel); where it does not, the plan's notes say what is
missing, and the watch of the tree through /proc is what remains.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field

MODES = ("bwrap", "fallback", "process")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap; "
                "Arch: pacman -S bubblewrap), or pass --isolation fallback to run with the isolation this "
                "machine has (every result records which)")
BWRAP_LAYERS = ["bubblewrap", "mount-namespace", "fresh-root", "read-only-binds", "private-tmp", "own-proc",
                "minimal-dev", "pid-namespace", "net-namespace", "ipc-namespace", "uts-namespace", "new-session",
                "die-with-parent", "no-capabilities"]
_PROBE_TIMEOUT = 20
_NPROC_NOTE = ("RLIMIT_NPROC is not set: without a user id or user namespace of the sandbox's own it would count "
               "every process of the user; the audit hook refuses starting processes instead")


class IsolationUnavailable(RuntimeError):
    """The isolation asked for cannot be had on this machine; the message says how to get it."""


@dataclass(frozen=True)
class Probe:
    """What this machine offers, probed once per process."""

    bwrap: str | None                       # path of a working bwrap
    version: str | None
    bwrap_problem: str | None               # why bwrap cannot be used, in plain words
    privileged: bool                        # the grader is root: bwrap runs as root, the child drops with setpriv
    setpriv: str | None
    seccomp_problem: str | None


@dataclass
class Plan:
    """The isolation one session runs under."""

    mode: str                               # as asked: bwrap | fallback | process
    bwrap: str | None = None                # None: a plain child process
    version: str | None = None
    privileged: bool = False
    setpriv: str | None = None
    seccomp: bool = False
    notes: list[str] = field(default_factory=list)
    cgroup: object = None                   # a usable cgroup.Host, or None

    @property
    def layers(self) -> list[str]:
        group = ["cgroup"] if self.cgroup is not None else []
        if not self.bwrap:
            return group
        user = ["dedicated-uid", "setpriv"] if self.privileged else ["user-namespace"]
        return BWRAP_LAYERS + user + (["seccomp"] if self.seccomp else []) + group

    @property
    def hostile(self) -> bool:
        """Whether the code run may be a determined attacker's (every mode but the kit's "process")."""
        return self.mode != "process"

    def record(self) -> dict:
        """What a result says about it (SubmissionResult.sandbox["isolation"])."""
        in_force = "bubblewrap" + (" + seccomp" if self.seccomp else "") if self.bwrap else "process"
        return {"mode": self.mode, "tool": "bubblewrap" if self.bwrap else None, "version": self.version,
                "in_force": in_force + (" + cgroup" if self.cgroup is not None else ""),
                "cgroup": self.cgroup.describe() if self.cgroup is not None else None,
                "layers": self.layers, "notes": list(self.notes)}


def plan(mode: str) -> Plan:
    """The plan for ``mode``; IsolationUnavailable when mode is "bwrap" and this machine cannot give it."""
    if mode not in MODES:
        raise ValueError(f"isolation must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "process":
        return Plan(mode, notes=[_NPROC_NOTE])
    found = probe()
    problems = [problem for problem in (found.bwrap_problem, found.seccomp_problem) if problem]
    if mode == "bwrap" and problems:
        raise IsolationUnavailable(f"submissions run under bubblewrap with a seccomp filter, but {problems[0]}")
    host = cgroup_host()
    group, group_notes = (host, []) if host.usable else (None, [_no_cgroup_note(host)])
    if found.bwrap_problem:
        return Plan(mode, notes=[f"no bubblewrap: {found.bwrap_problem}; the child is a plain process (rlimits, "
                                 "audit hook), which is not a boundary against a determined submission",
                                 _NPROC_NOTE] + group_notes, cgroup=group)
    notes = [f"no seccomp filter: {found.seccomp_problem}"] if found.seccomp_problem else []
    return Plan(mode, found.bwrap, found.version, found.privileged, found.setpriv, not found.seccomp_problem,
                notes + group_notes, cgroup=group)


def cgroup_host():
    """cgroup.probe(), unless $HARNESS_NO_CGROUP is set (to run as a machine without cgroups would)."""
    from . import cgroup
    if os.environ.get("HARNESS_NO_CGROUP"):
        return cgroup.Host(problem="switched off with HARNESS_NO_CGROUP")
    return cgroup.probe()


def _no_cgroup_note(host) -> str:
    return (f"{host.describe()}; missing then: a kernel-enforced memory limit that also counts tmpfs files and "
            "shared memory, a CPU quota for the whole tree, and a kill by cgroup membership; what remains is the "
            "parent's watch of the tree through /proc (resident memory, CPU time), the size-capped tmpfs "
            "directories and per-process rlimits")


@functools.cache
def probe() -> Probe:
    privileged = os.geteuid() == 0
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    seccomp_problem = _seccomp_problem()
    bwrap = shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if bwrap is None:
        return Probe(None, None, f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}", privileged, setpriv,
                     seccomp_problem)
    version = _version(bwrap)
    if privileged and setpriv is None:
        return Probe(None, version, "setpriv (util-linux) is missing, and a grader running as root needs it to "
                     "drop the child to an unprivileged user", privileged, None, seccomp_problem)
    problem = _trial(bwrap, privileged)
    if problem:
        hint = ("" if privileged else "; unprivileged user namespaces may be disabled (sysctl "
                "kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0, or an AppArmor rule for "
                "bwrap on Ubuntu 24.04+), or run the grader as root")
        return Probe(None, version, f"bubblewrap ({bwrap}) cannot create a sandbox here: {problem}{hint}; "
                     f"{INSTALL_HINT}", privileged, setpriv, seccomp_problem)
    return Probe(bwrap, version, None, privileged, setpriv, seccomp_problem)


def _seccomp_problem() -> str | None:
    from .seccomp import SeccompUnavailable, bpf_program
    try:
        bpf_program()
    except SeccompUnavailable as error:
        return str(error)
    return None


def _version(bwrap: str) -> str | None:
    try:
        output = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return output.split()[-1] if output.split() else None


def _trial(bwrap: str, privileged: bool) -> str | None:
    """None when a minimal sandbox starts and runs /bin/true, else bwrap's complaint."""
    command = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
               *([] if privileged else ["--unshare-user"]), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
               "true"]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
