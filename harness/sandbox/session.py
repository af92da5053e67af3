"""A sandbox session: one submission, one scratch directory, a child interpreter started on demand.

    with Session(config) as session:
        with session.budget(60.0, "check") as check_budget:
            reply = session.run(program, arrays, timeout=10.0, fresh=True)

The parent generates inputs, holds expected values and compares; the child
only computes. A request that raises, hangs, crashes or interferes with the
channel costs that request: the reply says what happened and the next request
starts a new child (the state of earlier requests is then gone; ``Reply.new_child``
says so). Every wait has a deadline, so no child can hang the parent, and the
requests inside a ``budget`` block share its wall-clock seconds, so no
submission can make a check or a run last longer than its spec allows.

The child runs under the session's isolation plan (isolation.py): under
bubblewrap its whole process tree lives in a PID namespace that dies with the
outer bwrap process, which the kernel kills when the grader dies (spawner.py).
Where the host allows, the tree is also in a cgroup of its own (cgroup.py):
the kernel bounds its memory (tmpfs and shared memory included), processes
and CPU rate, the parent reads its CPU time from one file and kills it by
membership.

Between requests the tree is stopped (SIGSTOP to every process in it, SIGCONT
before the next request): a submission cannot compute in the background while
the parent compares, while another worker of a batch measures, or while the
checks sleep. (Not the cgroup v1 freezer: a task it freezes ignores SIGKILL
until thawed, so a grader killed while its sandbox was frozen would leave the
tree behind; a stopped task dies of SIGKILL.) While a request runs, a watch
thread of the child (started once per child) polls the tree: scratch use
(fstatvfs of the size-capped tmpfs mounts, or a descriptor-relative walk of the
scratch directory without bubblewrap), resident memory (without a memory
cgroup), CPU time against the session's cap, and processes the kernel killed
for memory. ``Reply.cpu_time`` is the tree's CPU time during the request,
helpers the submission forked included (tree.py, or the cgroup's cpuacct).
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from . import bundle, bwrap, cgroup, channel, isolation, launch, scratch as scratch_dir, seccomp, spawner, tree, uids
from .channel import ChannelClosed, ChannelTimeout, ProtocolError
from .config import SandboxConfig
from .output import Drain
from .policy import describe
from .reply import Reply, parse_result

START_SECONDS = 30.0              # the child must be ready within this (imports on a loaded machine)
KILL_WAIT_SECONDS = 5.0
WATCH_SECONDS = 0.25
SCRATCH_SLACK = 1 << 20           # the scratch tmpfs is this much larger than the limit, so passing it shows
STEP_PIPE_BYTES = 1 << 20         # room for the step labels of a quarter second of tiny steps
PAUSE_ROUNDS = 20                 # stop-and-list rounds (a process forking as it is stopped is caught next round)
CPU_QUOTA_MARGIN = 0.25           # CPUs above the child's thread count: one busy thread is never throttled
PARENT_LAYERS = ["process-group", "scrubbed-environment", "isolated-interpreter", "private-channel"]


class SandboxError(RuntimeError):
    """The sandbox cannot run at all as configured (e.g. bubblewrap required but unusable here)."""


class Budget:
    """Wall-clock seconds that the requests inside a ``Session.budget`` block share."""

    def __init__(self, seconds: float | None, name: str):
        self.seconds, self.name, self.spent = seconds, name, 0.0

    @property
    def remaining(self) -> float:
        return float("inf") if self.seconds is None else self.seconds - self.spent

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def describe(self) -> str:
        return f"the {self.name}'s time budget of {self.seconds:g} s"


class Session:
    def __init__(self, config: SandboxConfig):
        self.config = config
        self.limits = config.limits
        self.scratch: scratch_dir.Scratch | None = None
        self.plan: isolation.Plan | None = None
        self._child: _Child | None = None
        self._uid: uids.UidSlot | None = None
        self._group: cgroup.Group | None = None
        self._request_id = 0
        self._compat_used: set[str] = set()
        self._notes: list[str] = []
        self._layers: list[str] = []
        self._budgets: list[Budget] = []
        self._affinity: set[int] | None = None
        self.startup_seconds: list[float] = []
        self.request_seconds = 0.0              # wall seconds of every request, child start-ups included (batch metrics)

    def __enter__(self) -> "Session":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        """Decide the isolation (SandboxError when it cannot be had) and copy the submission into a fresh
        scratch directory; the child starts with the first request."""
        if self.plan is None:
            try:
                self.plan = isolation.plan(self.config.isolation)
            except isolation.IsolationUnavailable as error:
                raise SandboxError(str(error)) from None
            self._notes += self.plan.notes
        if self.plan.cgroup is not None and self._group is None:
            try:
                self._group = cgroup.Group.create(self.plan.cgroup, memory_bytes=memory_cap(self.limits),
                                                  pids=(self.limits.processes or 64) + 8,
                                                  cpus=max(self.config.threads, 1) + CPU_QUOTA_MARGIN)
            except cgroup.CgroupError as error:
                self._notes.append(f"{error}; this session ran without a cgroup of its own")
                self.plan.cgroup = None
        if self.plan.privileged and self._uid is None:
            try:
                self._uid = uids.acquire()
            except OSError as error:
                raise SandboxError(f"no user id for the sandbox: {error}") from None
        if self.scratch is None:
            self.scratch = scratch_dir.prepare(self.config.submission_dir, self.config.package_name,
                                               self.limits.source_file_bytes, self.limits.scratch_bytes,
                                               owner=self._uid.uid if self._uid else None)
            self._notes += [f"{path} was not copied: {reason}" for path, reason in self.scratch.refused.items()]

    def close(self) -> None:
        """Kill the child's whole process tree, remove the scratch directory, free the user id."""
        if self._child is not None:
            self._child.discard()
            self._child = None
        if self._group is not None:
            self._group.kill()
            self._group.remove()
            self._group = None
        if self.scratch is not None:
            self.scratch.remove()
            self.scratch = None
        if self._uid is not None:
            self._uid.release()
            self._uid = None

    def summary(self) -> dict:
        """What the result records about the sandbox: isolation, layers, notes, shims used, children started."""
        return {"isolation": self.plan.record() if self.plan else {"mode": self.config.isolation},
                "layers": list(self._layers), "notes": list(dict.fromkeys(self._notes)),
                "compat_used": sorted(self._compat_used), "children_started": len(self.startup_seconds),
                "startup_seconds": [round(seconds, 4) for seconds in self.startup_seconds],
                "requests": self._request_id, "request_seconds": round(self.request_seconds, 4)}

    @property
    def layers(self) -> list[str]:
        return list(self._layers)

    def time_left(self) -> float:
        """Seconds left of the tightest open budget (inf when none is open)."""
        return min((budget.remaining for budget in self._budgets), default=float("inf"))

    def spend(self, seconds: float) -> None:
        """Charge ``seconds`` of the parent's own work for this submission (a source probe) to every open
        budget, as if a request had taken them."""
        for budget in self._budgets:
            budget.spent += seconds

    @contextlib.contextmanager
    def budget(self, seconds: float | None, name: str):
        """Requests inside the block share ``seconds`` of wall time (child start-up included; None: no
        limit). A request gets at most what is left of every open budget; once one is spent, requests
        end at once as ``timeout``, saying which budget. Yields the Budget (``exhausted``, ``spent``)."""
        budget = Budget(seconds, name)
        self._budgets.append(budget)
        try:
            yield budget
        finally:
            self._budgets.remove(budget)

    def set_affinity(self, cpus: set[int] | None) -> None:
        """Pin the child's whole process tree to ``cpus`` (children started later too); None: undo."""
        self._affinity = set(cpus) if cpus else None
        if self._child is not None and self._child.alive():
            tree.set_affinity(self._child.root_pid, self._affinity or spawner.default_affinity())

    def run(self, program: dict, arrays: dict[str, np.ndarray] | None = None, timeout: float | None = None,
            fresh: bool = True) -> Reply:
        """Run one program in the child; never raises for anything the submission does."""
        arrays = dict(arrays or {})
        _check_request(program, arrays)
        self.open()
        self._request_id += 1
        request_id = self._request_id
        limiting = min(self._budgets, key=lambda budget: budget.remaining, default=None)
        if limiting is not None and limiting.exhausted:
            return Reply("timeout", request_id=request_id, layers=list(self._layers),
                         detail=f"not run: {limiting.describe()} was already spent")
        started = time.perf_counter()
        try:
            reply = self._run(request_id, program, arrays, fresh, timeout, limiting)
        finally:
            self.request_seconds += time.perf_counter() - started
            for budget in self._budgets:
                budget.spent += time.perf_counter() - started
        return reply

    def _run(self, request_id: int, program: dict, arrays: dict, fresh: bool, timeout: float | None,
             limiting: Budget | None) -> Reply:
        seconds = timeout if timeout is not None else self.limits.wall_time
        budget_deadline = time.monotonic() + limiting.remaining if limiting is not None else None
        new_child = self._child is None or not self._child.alive()
        if new_child:
            if self._child is not None:
                self._child.discard()
            self._child, failure = self._start(request_id, budget_deadline)
            if failure is not None:
                if budget_deadline is not None and failure.status == "timeout":
                    failure.detail = f"{limiting.describe()} ran out while the child was starting"
                return failure
        deadline = time.monotonic() + seconds       # the request's own timeout starts once the child is ready
        budget_ends = budget_deadline is not None and budget_deadline < deadline
        reply = self._exchange(self._child, request_id, program, arrays, fresh,
                               budget_deadline if budget_ends else deadline)
        if reply.status == "timeout" and reply.detail == _TIMED_OUT:
            reply.detail = (f"{limiting.describe()} ran out during this request" if budget_ends
                            else f"the request did not finish within {seconds:g} s")
        reply.new_child, reply.layers = new_child, list(self._layers)
        self._compat_used.update(reply.compat_used)
        if reply.status not in ("ok", "error", "blocked") or self._child.fatal:
            self._child.discard()
            self._child = None
        return reply

    # --- the child's life ----------------------------------------------------------------------
    def _start(self, request_id: int, deadline: float | None) -> tuple["_Child | None", Reply | None]:
        started = time.perf_counter()
        protected, notes = _protected_paths(self.config, self.scratch)
        self._notes += notes
        try:
            child = spawner.call(lambda: _Child.spawn(self.config, self.scratch, self.plan, protected,
                                                      self._uid.uid if self._uid else None, self._group),
                                 self._affinity)
        except OSError as error:
            return None, Reply("crashed", request_id=request_id, new_child=True,
                               detail=f"the sandbox child could not be started: {error}")
        boot_deadline = time.monotonic() + START_SECONDS
        try:
            ready = child.boot(_child_config(self.config, self.scratch, protected, self.plan),
                               min(boot_deadline, deadline) if deadline is not None else boot_deadline)
        except (ChannelClosed, ChannelTimeout, ProtocolError) as error:
            child.kill()
            stderr = child.stderr.take()
            detail = f"the sandbox child did not start ({type(error).__name__}: {error})"
            if any(sign in stderr for sign in ("MemoryError", "Cannot allocate memory", "failed to map segment")):
                detail += (f"; it ran out of memory while starting: the address-space limit "
                           f"({self.config.limits.address_space >> 20} MiB) is too small for Python and numpy")
            elif "bwrap:" in stderr:
                detail += f"; bubblewrap said: {stderr.strip().splitlines()[-1][:300]}"
            failure = Reply("timeout" if isinstance(error, ChannelTimeout) else "crashed", request_id=request_id,
                            new_child=True, stdout=child.stdout.take(), stderr=stderr, detail=detail)
            child.discard()
            return None, failure
        self.startup_seconds.append(time.perf_counter() - started)
        child.watch = _Watch(child, self.scratch, self.limits, self.plan)
        own = (["stopped-between-requests"] if self.plan.hostile else []) + child.watch.layers
        self._layers = PARENT_LAYERS + self.plan.layers + own + [layer for layer in ready.get("layers", [])
                                                                 if isinstance(layer, str)]
        self._notes += [note for note in ready.get("notes", []) if isinstance(note, str)]
        return child, None

    # --- one request -----------------------------------------------------------------------------
    def _exchange(self, child: "_Child", request_id: int, program: dict, arrays: dict, fresh: bool,
                  deadline: float) -> Reply:
        started = time.perf_counter()
        cpu_before = child.resume()
        records, outcome = [], None
        child.watch.begin()
        try:
            frame = channel.encode(channel.REQUEST, child.nonce, request_id, {"program": program, "fresh": fresh},
                                   arrays)
            channel.write_frame(child.request_fd, frame, deadline)
            budget = self.limits.reply_bytes
            while outcome is None:
                frame = child.reader.read(request_id, deadline, max_body=budget)
                budget -= frame.nbytes
                if frame.kind == channel.NOTICE:
                    records += _records(frame.meta.get("blocked"))
                else:
                    outcome = parse_result(frame.meta, frame.arrays)
        except ChannelTimeout:
            outcome = ("timeout", _TIMED_OUT)
        except ChannelClosed:
            outcome = ("crashed", child.exit_description(self.limits))
        except ProtocolError as error:
            outcome = ("protocol", f"the submission interfered with the result channel ({error})")
        exceeded = child.watch.end()
        keep = not isinstance(outcome, tuple) and not exceeded and not outcome.fatal
        # the tree's CPU time before a kill (it is still there to be read); stopping it reads it anyway
        cpu_after = child.pause() if keep and self.plan.hostile else child.cpu_seconds()
        if isinstance(outcome, tuple) and outcome[0] != "crashed":
            child.kill()
        if exceeded:
            records.append(exceeded)
        reply = Reply("ok", request_id=request_id, step=child.last_step(),
                      blocked=[describe(record) for record in records],
                      stdout=child.stdout.take(), stderr=child.stderr.take(),
                      wall_time=time.perf_counter() - started, cpu_time=_cpu_delta(cpu_before, cpu_after))
        if isinstance(outcome, tuple):
            reply.status, reply.detail = outcome
        else:
            reply.status, reply.values, reply.types, reply.error = (outcome.status, outcome.values, outcome.types,
                                                                    outcome.error)
            reply.compat_used = outcome.compat_used
            child.fatal = outcome.fatal
        if exceeded:
            reply.status, reply.detail = "blocked", f"the child was stopped: {describe(exceeded)}"
            child.kill()
            if exceeded["action"] == "scratch" and not self.plan.bwrap:
                self.scratch.remove()           # the next child gets a fresh copy (under bwrap: a fresh tmpfs)
                self.scratch = None
        return reply


_TIMED_OUT = "timed out"


class _Child:
    """One child: the process the parent started (outer bwrap, or the interpreter), its pipes, stream
    drains, channel reader and watch. ``root_pid`` is the root of the tree found through /proc."""

    def __init__(self, process: subprocess.Popen, request_fd: int, reply_fd: int, step_fd: int, nonce: bytes,
                 limits, under_bwrap: bool, group: cgroup.Group | None):
        self.process = process
        self.request_fd, self.reply_fd, self.step_fd, self.nonce = request_fd, reply_fd, step_fd, nonce
        self.reader = channel.FrameReader(reply_fd, nonce, limits.reply_bytes, (channel.NOTICE, channel.REPLY))
        self.stdout = Drain(process.stdout.fileno(), limits.output_bytes)
        self.stderr = Drain(process.stderr.fileno(), limits.output_bytes)
        self.under_bwrap = under_bwrap
        self.group = group
        self.root_pid = self.python_pid = process.pid
        self.tree = tree.Tree(process.pid)
        self.fatal = False
        self.watch: _Watch | None = None
        self.cpu_start = self.cpu_seconds() or 0.0      # a cgroup outlives its children: their time adds up
        self.oom_start = group.oom_kills() if group is not None else 0
        self._stopped: list[int] = []
        self._cpu_at_pause: float | None = None
        self._step, self._step_tail, self._step_lock = None, b"", threading.Lock()

    @classmethod
    def spawn(cls, config: SandboxConfig, scratch: scratch_dir.Scratch, plan: isolation.Plan, protected: list[Path],
              uid: int | None, group: cgroup.Group | None) -> "_Child":
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        step_read, step_write = os.pipe()
        try:
            fcntl.fcntl(step_write, 1031, STEP_PIPE_BYTES)        # F_SETPIPE_SZ
        except OSError:
            pass
        passed = [request_read, reply_write, step_write]
        python_argv = launch.python_command(bundle.stub(request_read, reply_write, step_write))
        if plan.bwrap:
            filter_fd = seccomp.program_fd() if plan.seccomp else None
            passed += [filter_fd] if filter_fd is not None else []
            command = bwrap.command(plan, python_argv, scratch_root=scratch.root, seed_dir=scratch.seed_dir,
                                    scratch_size=config.limits.scratch_bytes + SCRATCH_SLACK,
                                    python_roots=launch.python_roots(), readable=_resolved(config.readable_paths),
                                    protected=protected, seccomp_fd=filter_fd, uid=uid)
        else:
            command = python_argv
        try:
            process = subprocess.Popen(cgroup.enter_command(group, command), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=passed,
                                       cwd=scratch.root, start_new_session=True,
                                       env=launch.environment(scratch.root, scratch.tmp_dir, config.threads))
        except OSError:
            for fd in (request_write, reply_read, step_read):
                os.close(fd)
            raise
        finally:
            for fd in passed:
                os.close(fd)
        for fd in (request_write, reply_read, step_read):
            os.set_blocking(fd, False)
        return cls(process, request_write, reply_read, step_read, channel.new_nonce(), config.limits,
                   bool(plan.bwrap), group)

    def boot(self, child_config: dict, deadline: float) -> dict:
        """Send the child's code and its configuration (with the nonce); wait for it to report ready."""
        channel.write_frame(self.request_fd, [bundle.payload(launch.site_packages())], deadline)
        hello = channel.encode(channel.HELLO, self.nonce, 0, {"config": child_config})
        channel.write_frame(self.request_fd, hello, deadline)
        self.reader.kinds = (channel.READY,)
        try:
            frame = self.reader.read(0, deadline, max_body=channel.MAX_META_BYTES)
        finally:
            self.reader.kinds = (channel.NOTICE, channel.REPLY)
        found = self.tree.processes()
        if found:                       # outer bwrap -> namespace init -> the interpreter: the only leaf now
            self.python_pid = found[-1].pid
        return frame.meta

    def alive(self) -> bool:
        return self.process.poll() is None

    # --- stopped between requests ----------------------------------------------------------------
    def pause(self) -> float | None:
        """SIGSTOP every process of the tree, listing it again until no new one appears (a stopped process
        cannot fork); returns the tree's CPU seconds, read once it is still."""
        stopped: list[int] = []
        listing: list[tree.ProcessInfo] = []
        for _ in range(PAUSE_ROUNDS):
            if self.group is not None:
                members = self.group.pids()
            else:
                listing = self.tree.processes()
                members = [info.pid for info in listing]
            new = [pid for pid in members if pid not in stopped]
            if not new:
                break
            for pid in new:
                _signal(pid, signal.SIGSTOP)
            stopped += new
        self._stopped = stopped
        # without a cgroup, the last listing (everything in it already stopped) gives the CPU time
        self._cpu_at_pause = self.cpu_seconds() if self.group is not None or not listing else tree.cpu_seconds(listing)
        return self._cpu_at_pause

    def resume(self) -> float | None:
        """SIGCONT what ``pause`` stopped; returns the tree's CPU seconds (as read when it stopped, if it did).
        The step label starts afresh: what is on the pipe now belongs to the last request."""
        self.drain_steps()
        self._step = None
        stopped, self._stopped = self._stopped, []
        for pid in stopped:
            _signal(pid, signal.SIGCONT)
        cpu, self._cpu_at_pause = self._cpu_at_pause, None
        return cpu if stopped and cpu is not None else self.cpu_seconds()

    # --- the step pipe -------------------------------------------------------------------------------
    def drain_steps(self) -> None:
        """Read what is on the step pipe (never blocking), keeping the last complete label."""
        with self._step_lock:
            while self.step_fd >= 0:
                try:
                    chunk = os.read(self.step_fd, 1 << 16)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                if not chunk:
                    return
                lines = (self._step_tail + chunk).split(b"\n")
                self._step_tail = lines.pop()[-4096:]
                if lines:
                    self._step = lines[-1][:1200].decode("utf-8", "replace")

    def last_step(self) -> str | None:
        self.drain_steps()
        return _text(self._step)

    # --- ending ----------------------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL the whole tree (by cgroup membership, then through /proc) and the process group, reap,
        close the pipes. Safe to repeat."""
        if self.process.returncode is None:
            if self.group is not None:
                self.group.kill()
            tree.kill(self.root_pid)
            try:
                os.killpg(self.process.pid, signal.SIGKILL)     # before the leader is reaped its group id is ours
            except (ProcessLookupError, PermissionError):
                pass
            self._reap(KILL_WAIT_SECONDS)
        self._stopped = []
        self.drain_steps()
        with self._step_lock:
            for fd in (self.request_fd, self.reply_fd, self.step_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.request_fd = self.reply_fd = self.step_fd = -1

    def discard(self) -> None:
        """Kill, let the stream drains reach the end of their pipes, close the streams, end the watch."""
        self.kill()
        if self.watch is not None:
            self.watch.close()
        for drain, stream in ((self.stdout, self.process.stdout), (self.stderr, self.process.stderr)):
            drain.thread.join(timeout=1.0)
            stream.close()

    def stop(self) -> None:
        """SIGKILL the tree from another thread; the thread reading the channel then sees it close."""
        if self.process.returncode is None:
            if self.group is not None:
                self.group.kill(wait=0.5)
            tree.kill(self.root_pid)

    def _reap(self, seconds: float) -> None:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass

    def exit_description(self, limits) -> str:
        """Plain words for why the channel closed: how the interpreter ended."""
        try:
            code = self.process.wait(timeout=KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return "the child closed the result channel and had to be killed"
        if self.under_bwrap and 128 < code < 128 + 65:      # bwrap reports a signal as 128 + its number
            code = -(code - 128)
        if code == 0:
            return "the submission ended the Python process (exit status 0: os._exit(0), or exit() in a thread)"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = {"SIGXCPU": f" (the session's CPU-time cap of {limits.session_cpu_time():g} s)",
                      "SIGKILL": " (out of memory, or killed by the harness)", "SIGSEGV": " (a crash in native code)",
                      "SIGSYS": " (a system call the sandbox forbids)",
                      "SIGXFSZ": f" (a file over the {limits.file_size >> 20} MB limit)"}.get(name, "")
            if name == "SIGKILL" and self.oom_kills() > 0:
                reason = f" (the kernel ended it: the tree passed its memory limit of {memory_cap(limits) >> 20} MB)"
            return f"the Python process running the submission was killed by {name}{reason}"
        return f"the Python process running the submission exited with status {code}"

    def cpu_seconds(self) -> float | None:
        """CPU seconds of the whole tree so far: the cgroup's count, or tree.py's through /proc."""
        if self.group is not None:
            seconds = self.group.cpu_seconds()
            if seconds is not None:
                return seconds
        return self.tree.cpu_seconds()

    def oom_kills(self) -> int:
        """Processes of this child's tree the kernel killed for memory."""
        return self.group.oom_kills() - self.oom_start if self.group is not None else 0


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def memory_cap(limits) -> int:
    """The memory cgroup's limit: a tree's processes may hold ``address_space`` together, plus its two
    tmpfs mounts (the scratch directory, /tmp) full."""
    return limits.address_space + limits.scratch_bytes + SCRATCH_SLACK + bwrap.TMP_BYTES


def _cpu_delta(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return max(after - before, 0.0)


def _resolved(paths: list[Path]) -> list[Path]:
    return [Path(path).resolve() for path in paths]


class _Watch:
    """The parent's watch over one child, a thread started once per child that polls while a request runs
    (``begin``/``end``) and stops the child when a limit is passed; ``end`` returns the refusal record.

    scratch    under bubblewrap: fstatvfs of the scratch and /tmp tmpfs mounts, opened through
               /proc/<pid>/root once the child runs (bytes and inodes used, whatever the directory
               layout); without: a descriptor-relative walk of the scratch directory, where a part
               that cannot be read or nests too deep is itself a violation
    memory     the tree's resident memory, against ``address_space``; and with a memory cgroup, the
               kernel's out-of-memory kills in the group (memory no process holds counts there)
    cpu        the tree's CPU seconds since the child started, against the session's cap
    """

    def __init__(self, child: _Child, scratch: scratch_dir.Scratch, limits, plan: isolation.Plan):
        self.child, self.scratch, self.limits = child, scratch, limits
        self.mounts: list[tuple[int, str, int, int]] = []       # (fd, name, bytes allowed, inodes allowed)
        self.layers: list[str] = []
        if plan.bwrap:
            self._open_mounts()
        self.exceeded: dict | None = None
        self._active = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sandbox-watch", daemon=True)
        self._thread.start()

    def _open_mounts(self) -> None:
        limits, inodes = self.limits, self.limits.files_created + scratch_dir.MAX_ENTRIES
        for path, name, allowed in ((self.scratch.root, "scratch", limits.scratch_bytes),
                                    (Path("/tmp"), "tmp", bwrap.TMP_BYTES)):
            try:
                fd = os.open(f"/proc/{self.child.python_pid}/root{path}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            if os.fstatvfs(fd).f_files:
                self.mounts.append((fd, name, allowed, inodes))
            else:
                os.close(fd)
        if len(self.mounts) == 2:
            self.layers.append("tmpfs-usage-watch")

    def begin(self) -> None:
        self.exceeded = None
        self._active.set()

    def end(self) -> dict | None:
        self._active.clear()
        with self._lock:
            self._check(final=True)     # files written at the very end; memory the kernel took back
        return self.exceeded

    def close(self) -> None:
        self._closed.set()
        self._active.set()
        self._thread.join(timeout=2.0)
        for fd, *_ in self.mounts:
            os.close(fd)
        self.mounts = []

    def _run(self) -> None:
        while not self._closed.is_set():
            self._active.wait()
            if self._closed.wait(WATCH_SECONDS):
                return
            with self._lock:
                if self._active.is_set() and self._check():
                    self.child.drain_steps()

    def _check(self, final: bool = False) -> bool:
        if self.exceeded:
            return True
        listing = None if final else self.child.tree.processes()
        self.exceeded = self._scratch() or self._memory(listing) or (None if final else self._cpu(listing))
        if self.exceeded:
            self.child.stop()
        else:
            self.child.drain_steps()    # keeps the step pipe from filling up
        return bool(self.exceeded)

    def _scratch(self) -> dict | None:
        limits = self.limits
        if self.mounts:
            for fd, name, allowed, inodes in self.mounts:
                try:
                    stats = os.fstatvfs(fd)
                except OSError:
                    continue
                used_bytes, used_inodes = (stats.f_blocks - stats.f_bfree) * stats.f_frsize, stats.f_files - stats.f_ffree
                where = "" if name == "scratch" else " (/tmp)"
                if used_bytes > allowed:
                    return {"action": "scratch", "detail": f"{allowed >> 20} MB{where}"}
                if used_inodes > inodes:
                    return {"action": "scratch", "detail": f"{limits.files_created} files{where}"}
            return None
        if self.scratch is None or self.child.under_bwrap:
            return None
        used, entries, problem = scratch_dir.usage(self.scratch.root)
        if problem:
            return {"action": "scratch", "detail": f"what the grader can watch: {problem}"}
        if used > limits.scratch_bytes:
            return {"action": "scratch", "detail": f"{limits.scratch_bytes >> 20} MB"}
        if entries > limits.files_created + scratch_dir.MAX_ENTRIES:
            return {"action": "scratch", "detail": f"{limits.files_created} files"}
        return None

    def _memory(self, listing) -> dict | None:
        limits = self.limits
        if self.child.oom_kills() > 0:
            return {"action": "memory", "detail": f"{memory_cap(limits) >> 20} MB"}
        if listing is not None and tree.resident_bytes(listing) > limits.address_space:
            return {"action": "memory", "detail": f"{limits.address_space >> 20} MB"}
        return None

    def _cpu(self, listing) -> dict | None:
        seconds = self.child.cpu_seconds() if listing is None or self.child.group else tree.cpu_seconds(listing)
        if seconds is not None and seconds - self.child.cpu_start > self.limits.session_cpu_time():
            return {"action": "cpu", "detail": f"{self.limits.session_cpu_time():g} s"}
        return None


def _child_config(config: SandboxConfig, scratch: scratch_dir.Scratch, protected: list[Path],
                  plan: isolation.Plan) -> dict:
    limits = config.limits
    # RLIMIT_NPROC counts a user's processes: it binds per sandbox only with a user id of its own
    # (bubblewrap as root) or a user namespace of its own (bubblewrap otherwise)
    processes = limits.processes if plan.bwrap else None
    return {
        "scratch_root": str(scratch.root), "package_dir": str(scratch.package_dir), "package": config.package_name,
        "seed_dir": str(scratch.seed_dir) if plan.bwrap else None,
        "refused": dict(scratch.refused), "compat": config.compat, "warm_imports": list(config.warm_imports),
        "python": config.python,
        "limits": {"address_space": limits.address_space, "cpu_time": limits.session_cpu_time(),
                   "open_files": limits.open_files, "file_size": limits.file_size, "processes": processes},
        "policy": {"scratch_root": str(scratch.root), "sources": [str(path) for path in scratch.sources],
                   "readable": [str(path.resolve()) for path in config.readable_paths],
                   "protected": [str(path) for path in protected], "python_roots": launch.python_roots(),
                   "max_files": limits.files_created, "max_threads": limits.python_threads},
    }


def _protected_paths(config: SandboxConfig, scratch: scratch_dir.Scratch) -> tuple[list[Path], list[str]]:
    """The configured protected paths plus the harness and reference packages and the original submission.

    A path that contains the scratch directory or the Python installation cannot be protected
    as a whole (the child could not run); it is left out with a note.
    """
    own = [Path(__file__).resolve().parents[1]]           # the harness package
    spec = importlib.util.find_spec("reference")
    if spec is not None and spec.submodule_search_locations:
        own += [Path(location).resolve() for location in spec.submodule_search_locations]
    needed = [scratch.root, *map(Path, launch.python_roots())]
    kept, notes = [], []
    for path in dict.fromkeys([Path(path).resolve() for path in config.protected_paths] + own
                              + [config.submission_dir.resolve()]):
        if any(path == inner or path in inner.parents for inner in needed):
            notes.append(f"protected path {path} contains the sandbox's scratch directory or the Python "
                         "installation, so it cannot be protected as a whole; it was left out")
        else:
            kept.append(path)
    return kept, notes


def _check_request(program: dict, arrays: dict) -> None:
    """The harness's own mistakes are errors here, not replies."""
    if not isinstance(program, dict) or not isinstance(program.get("steps", []), list):
        raise ValueError("a program is a dict with a list of steps")
    try:
        channel.dumps(program)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the program is not JSON data: {error}") from None
    for name, array in arrays.items():
        if not isinstance(name, str) or not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
            raise ValueError(f"input {name!r} must be an ndarray of a numeric or bool dtype")


def _records(value) -> list[dict]:
    if not isinstance(value, list):
        return []
    return [record for record in value[:100] if isinstance(record, dict) and isinstance(record.get("action"), str)]


def _text(value) -> str | None:
    return value[:300] if isinstance(value, str) else None
