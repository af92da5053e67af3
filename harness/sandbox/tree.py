"""A sandbox's whole process tree, seen from the parent through /proc: CPU time, memory, pinning, killing.

The tree is every process descending from the one the parent started (the
outer bubblewrap, or the interpreter itself without it). Inside a PID
namespace an orphan is adopted by the namespace's init, which is in the
tree, so nothing the submission starts leaves it; without one an orphan
leaves the tree (the layers say so).

CPU time of the tree at one instant counts every process once, alive or dead:

    live process      its own time: the sum of its threads' /proc/<pid>/task/<tid>/schedstat
                      (nanoseconds), or utime + stime from /proc/<pid>/stat (clock ticks, and
                      including threads that have exited) when that is clearly larger
    reaped child      in its reaper's cutime + cstime (clock ticks), which is in the tree
    zombie            still its own utime + stime

so the difference of two readings is the CPU the tree used in between, helpers
that were forked and have exited included. A child that is reaped without
being waited for (SIGCHLD ignored) would vanish from the count: the seccomp
filter refuses setting a SIGCHLD action. (proc(5): utime, stime, cutime,
cstime; sched-stats.rst: the first field of schedstat is time spent on the CPU
in nanoseconds.)
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str
    own_ticks: int              # utime + stime
    reaped_ticks: int           # cutime + cstime
    rss_pages: int


def read_stat(pid: int) -> ProcessInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return ProcessInfo(pid, int(fields[1]), fields[0].decode(), int(fields[11]) + int(fields[12]),
                           int(fields[13]) + int(fields[14]), int(fields[21]))
    except (OSError, ValueError, IndexError):
        return None


class Tree:
    """The processes descending from ``root_pid``, found with a cache: the stat file of a process outside
    the tree is read once, of a process in the tree at every look (it may have been reparented or have
    exited). A full scan every RESCAN_SECONDS guards against a pid reused by a new process of the tree.
    Thread-safe (the request's thread and the watch both read it)."""

    RESCAN_SECONDS = 1.0

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self._outside: set[int] = set()
        self._scanned = 0.0
        self._lock = threading.Lock()

    def processes(self) -> list[ProcessInfo]:
        """The root and all its descendants (root first), as they are now."""
        with self._lock:
            if time.monotonic() - self._scanned > self.RESCAN_SECONDS:
                self._outside.clear()
                self._scanned = time.monotonic()
            children: dict[int, list[ProcessInfo]] = {}
            root = None
            try:
                entries = os.listdir("/proc")
            except OSError:                 # no procfs (macOS running the student kit): nothing to read
                return []
            for entry in entries:
                if not entry.isdigit() or int(entry) in self._outside:
                    continue
                info = read_stat(int(entry))
                if info is None:
                    continue
                if info.pid == self.root_pid:
                    root = info
                children.setdefault(info.ppid, []).append(info)
            if root is None:
                return []
            found, pending = [root], [root.pid]
            while pending:
                for child in children.get(pending.pop(), ()):
                    found.append(child)
                    pending.append(child.pid)
            inside = {info.pid for info in found}
            self._outside.update(pid for kids in children.values() for info in kids
                                 if (pid := info.pid) not in inside)
            return found

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.processes())

    def resident_bytes(self) -> int:
        return resident_bytes(self.processes())


def processes(root_pid: int) -> list[ProcessInfo]:
    """``root_pid`` and all its descendants (root first), from one scan of /proc."""
    return Tree(root_pid).processes()


def _thread_nanoseconds(pid: int) -> int | None:
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as schedstat:
                total += int(schedstat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def cpu_seconds(tree: list[ProcessInfo]) -> float | None:
    """CPU seconds used by the tree so far, dead processes included (see the module docstring)."""
    if not tree:
        return None
    total = 0.0
    for info in tree:
        coarse = info.own_ticks / CLOCK_TICKS
        precise = _thread_nanoseconds(info.pid) if info.state not in "ZX" else None
        own = coarse if precise is None or coarse > precise / 1e9 + 2.0 / CLOCK_TICKS else precise / 1e9
        total += own + info.reaped_ticks / CLOCK_TICKS
    return total


def resident_bytes(tree: list[ProcessInfo]) -> int:
    """Resident memory of the tree's live processes, summed (shared pages count once per process)."""
    return sum(info.rss_pages for info in tree if info.state not in "ZX") * PAGE_BYTES


def set_affinity(root_pid: int, cpus: set[int]) -> None:
    """Pin every thread of every process in the tree (new ones inherit the mask of their creator)."""
    for info in processes(root_pid):
        try:
            tasks = [int(task) for task in os.listdir(f"/proc/{info.pid}/task")]
        except OSError:
            continue
        for task in tasks:
            try:
                os.sched_setaffinity(task, cpus)
            except OSError:             # exited meanwhile
                pass


def kill(root_pid: int) -> None:
    """SIGKILL every process of the tree, leaves first (a PID namespace's init takes the rest with it)."""
    for info in reversed(processes(root_pid)):
        try:
            os.kill(info.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
