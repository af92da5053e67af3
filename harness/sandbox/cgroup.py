"""A cgroup of its own for each sandbox's process tree, where the host lets the grader make one.

What the kernel then enforces for the whole tree, whatever the submission does:

    memory   every page the tree is charged for: resident memory, and also what is in no process's
             resident set (tmpfs files, shared memory, page cache, kernel memory); past the limit the
             kernel reclaims, then kills a process of the tree (counted: ``oom_kills``)
    pids     processes and threads of the tree (fork bombs end with EAGAIN)
    cpu      a quota of CPU time per period: a tree that forks 20 spinners gets ``cpus`` CPUs in all,
             never the whole machine
    cpuacct  the tree's CPU time, exited processes included, read from one file (no /proc scan)

and the parent kills the tree by the cgroup's member list, which no reparenting escapes.

Groups are made under the grader's own cgroup (``/proc/self/cgroup``), in each cgroup v1 hierarchy
that has one of the controllers above (memory, pids, cpu, cpuacct: often separate mounts, or
``cpu,cpuacct`` together), or in the unified cgroup v2 hierarchy when the grader's cgroup lets it
hand controllers to sub-groups (a delegated cgroup: ``systemd-run --user --scope -p Delegate=yes``).
Their names hold the grader's pid and its start time, ``nnlab-<pid>-<start>-<n>``; a group whose
grader is gone (it crashed or was SIGKILLed) is emptied and removed by the next grader that probes
(``probe`` calls ``remove_stale`` once per process). Nothing here is required: without a writable
cgroup, ``probe`` says why in plain words and the sandbox runs on its other layers (session.py).

The cgroup v1 freezer is not used to stop a tree between requests: a task frozen by it does not
die of SIGKILL until it is thawed (measured on this kernel), so a grader killed while its sandbox
was frozen would leave the tree behind. session.py stops the tree with SIGSTOP instead.
(Kernel documentation: admin-guide/cgroup-v1/{memory,pids,cpuacct}.rst, scheduler/sched-bwc.rst,
admin-guide/cgroup-v2.rst.)
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "nnlab-"
CPU_PERIOD_US = 100_000
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
V2_CONTROLLERS = ("memory", "pids", "cpu")
KILL_WAIT_SECONDS = 5.0
_NAME = re.compile(rf"^{PREFIX}(\d+)-(\d+)-\d+$")
_counter = itertools.count(1)


class CgroupError(OSError):
    """A group could not be made, filled or limited."""


@dataclass(frozen=True)
class Hierarchy:
    version: int                        # 1 or 2
    controllers: frozenset              # of those this module uses
    own: Path                           # the grader's own cgroup directory in this hierarchy


@dataclass(frozen=True)
class Host:
    """What this machine lets the grader do with cgroups, probed once per process."""

    hierarchies: tuple = ()
    problem: str | None = None          # why there is no usable cgroup, in plain words

    @property
    def usable(self) -> bool:
        return bool(self.hierarchies) and self.problem is None

    @property
    def controllers(self) -> list[str]:
        return sorted({name for hierarchy in self.hierarchies for name in hierarchy.controllers})

    def describe(self) -> str:
        if not self.usable:
            return f"no cgroup: {self.problem}"
        version = "v2" if self.hierarchies[0].version == 2 else "v1"
        return f"cgroup {version} ({', '.join(self.controllers)})"


# --- finding the grader's own cgroups -------------------------------------------------------------

def parse_membership(text: str) -> list[tuple[str, str]]:
    """(controllers, path) per line of /proc/<pid>/cgroup: "memory" or "cpu,cpuacct" (v1), "" (v2)."""
    found = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            found.append((parts[1], parts[2]))
    return found


def parse_mounts(text: str) -> list[tuple[str, str, str, set[str]]]:
    """(filesystem type, mount root, mount point, super options) of each cgroup mount in a mountinfo text."""
    mounts = []
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append((tail[0], _unescape(fields[3]), _unescape(fields[4]), set(tail[2].split(","))))
    return mounts


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def own_hierarchies(membership: list[tuple[str, str]], mounts) -> list[Hierarchy]:
    """The grader's own cgroup directory in each hierarchy with a controller this module uses."""
    found = []
    for controllers, path in membership:
        if controllers:                                     # cgroup v1
            names = set(controllers.split(",")) & set(V1_CONTROLLERS)
            mount = next((m for m in mounts if m[0] == "cgroup" and set(controllers.split(",")) <= m[3]), None)
            version = 1
        else:
            names = set(V2_CONTROLLERS)
            mount = next((m for m in mounts if m[0] == "cgroup2"), None)
            version = 2
        if not names or mount is None:
            continue
        _, root, mount_point, _ = mount
        relative = os.path.relpath(path, root)
        if relative == ".." or relative.startswith("../"):   # our cgroup is outside what is mounted
            continue
        found.append(Hierarchy(version, frozenset(names), Path(os.path.normpath(os.path.join(mount_point, relative)))))
    return found


@functools.cache
def probe() -> Host:
    """The cgroups this process may make sandbox groups in; stale groups of dead graders are removed first."""
    try:
        membership = parse_membership(Path("/proc/self/cgroup").read_text())
        mounts = parse_mounts(Path("/proc/self/mountinfo").read_text())
    except OSError as error:
        return Host(problem=f"/proc/self/cgroup cannot be read ({error.strerror or error})")
    hierarchies = own_hierarchies(membership, mounts)
    v1 = [hierarchy for hierarchy in hierarchies if hierarchy.version == 1]
    if v1:
        usable, problems = _writable(v1)
        if usable and {"memory", "pids"} <= {name for h in usable for name in h.controllers}:
            remove_stale(usable)
            return Host(tuple(usable))
        return Host(problem=problems[0] if problems else "the cgroup v1 hierarchies lack memory or pids")
    v2 = [hierarchy for hierarchy in hierarchies if hierarchy.version == 2]
    if v2:
        hierarchy, problem = _delegated_v2(v2[0])
        if hierarchy is not None:
            remove_stale([hierarchy])
            return Host((hierarchy,))
        return Host(problem=problem)
    return Host(problem="no cgroup hierarchy with the memory, pids or cpu controller is mounted")


def _writable(hierarchies: list[Hierarchy]) -> tuple[list[Hierarchy], list[str]]:
    """Those where a sub-group can be made (tried: made and removed at once)."""
    usable, problems = [], []
    for hierarchy in hierarchies:
        trial = hierarchy.own / f"{PREFIX}probe-{os.getpid()}"
        try:
            trial.mkdir()
            trial.rmdir()
        except OSError as error:
            problems.append(f"the grader cannot make a cgroup in {hierarchy.own} ({error.strerror or error}); "
                            "run it as root, or in a cgroup delegated to its user")
            continue
        usable.append(hierarchy)
    return usable, problems


LEAF = f"{PREFIX}grader"


def _delegated_v2(hierarchy: Hierarchy) -> tuple[Hierarchy | None, str]:
    """cgroup v2: controllers go to sub-groups only from a cgroup without processes of its own ("no
    internal processes"). A grader alone in its delegated cgroup moves itself to a leaf, ``nnlab-grader``,
    and makes sandbox groups beside it; batch workers started later are in that leaf and use its parent."""
    base = hierarchy.own.parent if hierarchy.own.name == LEAF else hierarchy.own
    wanted = set(V2_CONTROLLERS)
    try:
        available = set((base / "cgroup.controllers").read_text().split())
    except OSError as error:
        return None, f"cgroup v2: {base} cannot be read ({error.strerror or error})"
    if not wanted <= available:
        return None, (f"cgroup v2: the grader's cgroup {base} is not given the {', '.join(sorted(wanted - available))} "
                      "controller; run the grader in a delegated cgroup (systemd-run --user --scope -p Delegate=yes)")
    enable = " ".join(f"+{name}" for name in sorted(wanted))
    try:
        _write(base / "cgroup.subtree_control", enable)
    except OSError as error:
        if error.errno != 16:                           # EBUSY: processes in the cgroup itself
            return None, f"cgroup v2: {base} is not delegated to the grader ({error.strerror or error})"
        try:
            members = [int(pid) for pid in (base / "cgroup.procs").read_text().split()]
            if members != [os.getpid()]:
                return None, (f"cgroup v2: the grader's cgroup {base} holds other processes, so it cannot give "
                              "controllers to sub-groups; run the grader in a delegated cgroup of its own")
            leaf = base / LEAF
            leaf.mkdir(exist_ok=True)
            _write(leaf / "cgroup.procs", str(os.getpid()))
            _write(base / "cgroup.subtree_control", enable)
        except OSError as inner:
            return None, f"cgroup v2: the grader could not set up {base} ({inner.strerror or inner})"
    return Hierarchy(2, frozenset(wanted), base), ""


# --- one sandbox's group -----------------------------------------------------------------------------

class Group:
    """One sandbox's cgroup (a directory per hierarchy). Safe to ``kill`` and ``remove`` repeatedly."""

    def __init__(self, host: Host, name: str):
        self.host, self.name = host, name
        self.version = host.hierarchies[0].version
        self.directories = {hierarchy: hierarchy.own / name for hierarchy in host.hierarchies}
        self.controllers = host.controllers

    @classmethod
    def create(cls, host: Host, *, memory_bytes: int, pids: int, cpus: float) -> "Group":
        """A new group with its limits; CgroupError when it cannot be made or limited (nothing is left)."""
        group = cls(host, f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}-{next(_counter)}")
        try:
            for directory in group.directories.values():
                directory.mkdir()
            group._limit(memory_bytes, pids, cpus)
        except OSError as error:
            group.remove()
            raise CgroupError(f"the sandbox's cgroup could not be set up ({error.strerror or error})") from None
        return group

    def _limit(self, memory_bytes: int, pids: int, cpus: float) -> None:
        quota = max(int(cpus * CPU_PERIOD_US), 1000)
        if self.version == 2:
            directory = self._directory("memory")
            _write(directory / "memory.max", str(memory_bytes))
            _write_optional(directory / "memory.swap.max", "0")
            _write(directory / "pids.max", str(pids))
            _write(directory / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return
        memory = self._directory("memory")
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        _write_optional(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))     # no escape to swap
        _write(self._directory("pids") / "pids.max", str(pids))
        cpu = self._directory("cpu")
        if cpu is not None:
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(quota))

    def _directory(self, controller: str) -> Path | None:
        return next((directory for hierarchy, directory in self.directories.items()
                     if controller in hierarchy.controllers), None)

    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join the group in every hierarchy."""
        return [str(directory / "cgroup.procs") for directory in self.directories.values()]

    def pids(self) -> list[int]:
        """The processes in the group now (one hierarchy's member list: the others hold the same)."""
        directory = self._directory("pids") or next(iter(self.directories.values()))
        try:
            return [int(pid) for pid in (directory / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def cpu_seconds(self) -> float | None:
        """CPU seconds of every process that has been in the group, exited ones included."""
        try:
            if self.version == 2:
                for line in (self._directory("cpu") / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
                return None
            directory = self._directory("cpuacct")
            return None if directory is None else int((directory / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, TypeError):
            return None

    def oom_kills(self) -> int:
        """How many processes of the group the kernel killed for passing the memory limit."""
        directory = self._directory("memory")
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (directory / name).read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError, TypeError):
            pass
        return 0

    def memory_peak(self) -> int | None:
        directory = self._directory("memory")
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((directory / name).read_text())
        except (OSError, ValueError, TypeError):
            return None

    def kill(self, wait: float = KILL_WAIT_SECONDS) -> bool:
        """SIGKILL every process in the group until it is empty (a fork racing the kill is caught by the next
        round); True when it is empty within ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            members = self.pids()
            if not members:
                return True
            if self.version == 2 and _write_optional(self._directory("pids") / "cgroup.kill", "1"):
                pass
            else:
                for pid in members:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        """Remove the group's directories (they must be empty: ``kill`` first)."""
        for directory in self.directories.values():
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                time.sleep(0.05)                # the last member's exit is still being accounted
                try:
                    directory.rmdir()
                except OSError:
                    pass


def remove_stale(hierarchies) -> list[str]:
    """Kill and remove the groups of graders that are gone (crashed or SIGKILLed); returns their names."""
    removed = []
    host = Host(tuple(hierarchies))
    names = set()
    for hierarchy in hierarchies:
        try:
            names.update(entry.name for entry in os.scandir(hierarchy.own) if entry.is_dir(follow_symlinks=False))
        except OSError:
            continue
    for name in sorted(names):
        match = _NAME.match(name)
        if match is None or _alive(int(match.group(1)), int(match.group(2))):
            continue
        stale = Group(host, name)
        stale.directories = {h: d for h, d in stale.directories.items() if d.is_dir()}
        stale.kill(wait=1.0)
        stale.remove()
        removed.append(name)
    return removed


def _alive(pid: int, start: int) -> bool:
    return _start_time(pid) == start


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot): a pid and its start time name one process for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as stream:
        stream.write(value)


def _write_optional(path: Path | None, value: str) -> bool:
    if path is None:
        return False
    try:
        _write(path, value)
        return True
    except OSError:
        return False


ENTER_SCRIPT = 'p=$$; while [ "$1" != -- ]; do echo "$p" > "$1" || exit 126; shift; done; shift; exec "$@"'


def enter_command(group: Group | None, command: list[str]) -> list[str]:
    """``command`` started inside ``group``: a shell writes its own pid to the group's member files, then
    execs the command (same pid), so everything the command starts is in the group from its first instant."""
    if group is None:
        return command
    return ["/bin/sh", "-c", ENTER_SCRIPT, "nnlab-enter", *group.procs_files(), "--", *command]
