"""A sandbox session: one submission, one scratch directory, a child interpreter started on demand.

    with Session(config) as session:
        reply = session.run(program, arrays, timeout=10.0, fresh=True)

The parent generates inputs, holds expected values and compares; the child
only computes. A request that raises, hangs, crashes or interferes with the
channel costs that request: the reply says what happened and the next request
starts a new child (the state of earlier requests is then gone; ``Reply.new_child``
says so). Every wait has a deadline, so no child can hang the parent.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from . import bundle, channel, launch, scratch as scratch_dir
from .channel import ChannelClosed, ChannelTimeout, ProtocolError
from .config import SandboxConfig
from .output import Drain
from .policy import describe
from .reply import Reply, parse_result

START_SECONDS = 30.0              # the child must be ready within this (imports on a loaded machine)
KILL_WAIT_SECONDS = 5.0
SCRATCH_POLL_SECONDS = 0.25
PARENT_LAYERS = ["process-group", "scrubbed-environment", "isolated-interpreter", "private-channel"]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class SandboxError(RuntimeError):
    """The sandbox cannot run at all as configured (e.g. namespaces required but unavailable)."""


class Session:
    def __init__(self, config: SandboxConfig):
        self.config = config
        self.limits = config.limits
        self.scratch: scratch_dir.Scratch | None = None
        self._child: _Child | None = None
        self._request_id = 0
        self._compat_used: set[str] = set()
        self._notes: list[str] = []
        self._layers: list[str] = []
        self.startup_seconds: list[float] = []

    def __enter__(self) -> "Session":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        """Copy the submission into a fresh scratch directory (the child starts with the first request)."""
        if self.scratch is None:
            self.scratch = scratch_dir.prepare(self.config.submission_dir, self.config.package_name,
                                               self.limits.source_file_bytes, self.limits.scratch_bytes)
            self._notes += [f"{path} was not copied: {reason}" for path, reason in self.scratch.refused.items()]

    def close(self) -> None:
        """Kill the child's whole process group and remove the scratch directory."""
        if self._child is not None:
            self._child.discard()
            self._child = None
        if self.scratch is not None:
            self.scratch.remove()
            self.scratch = None

    def summary(self) -> dict:
        """What the result records about the sandbox: layers, notes, shims used, children started."""
        return {"layers": list(self._layers), "notes": list(dict.fromkeys(self._notes)),
                "compat_used": sorted(self._compat_used), "children_started": len(self.startup_seconds),
                "startup_seconds": [round(seconds, 4) for seconds in self.startup_seconds],
                "requests": self._request_id}

    @property
    def layers(self) -> list[str]:
        return list(self._layers)

    def run(self, program: dict, arrays: dict[str, np.ndarray] | None = None, timeout: float | None = None,
            fresh: bool = True) -> Reply:
        """Run one program in the child; never raises for anything the submission does."""
        arrays = dict(arrays or {})
        _check_request(program, arrays)
        self.open()
        self._request_id += 1
        request_id = self._request_id
        new_child = self._child is None or not self._child.alive()
        if new_child:
            if self._child is not None:
                self._child.discard()
            self._child, failure = self._start(request_id)
            if failure is not None:
                return failure
        seconds = timeout if timeout is not None else self.limits.wall_time
        reply = self._exchange(self._child, request_id, program, arrays, fresh, seconds)
        reply.new_child, reply.layers = new_child, list(self._layers)
        self._compat_used.update(reply.compat_used)
        if reply.status not in ("ok", "error", "blocked") or self._child.fatal:
            self._child.discard()
            self._child = None
        return reply

    # --- the child's life ----------------------------------------------------------------------
    def _start(self, request_id: int) -> tuple["_Child | None", Reply | None]:
        level = self._namespace_level()
        started = time.perf_counter()
        try:
            protected, notes = _protected_paths(self.config, self.scratch)
            self._notes += notes
            child = _Child.spawn(self.config, self.scratch, level, protected)
        except OSError as error:
            return None, Reply("crashed", request_id=request_id, new_child=True,
                               detail=f"the sandbox child could not be started: {error}")
        try:
            ready = child.boot(_child_config(self.config, self.scratch, protected), time.monotonic() + START_SECONDS)
        except (ChannelClosed, ChannelTimeout, ProtocolError) as error:
            child.kill()
            stderr = child.stderr.take()
            detail = f"the sandbox child did not start ({type(error).__name__}: {error})"
            if any(sign in stderr for sign in ("MemoryError", "Cannot allocate memory", "failed to map segment")):
                detail += (f"; it ran out of memory while starting: the address-space limit "
                           f"({self.config.limits.address_space >> 20} MiB) is too small for Python and numpy")
            failure = Reply("timeout" if isinstance(error, ChannelTimeout) else "crashed", request_id=request_id,
                            new_child=True, stdout=child.stdout.take(), stderr=stderr, detail=detail)
            child.discard()
            return None, failure
        self.startup_seconds.append(time.perf_counter() - started)
        self._layers = PARENT_LAYERS + child.namespace_layers + [layer for layer in ready.get("layers", [])
                                                                 if isinstance(layer, str)]
        self._notes += [note for note in ready.get("notes", []) if isinstance(note, str)]
        return child, None

    def _namespace_level(self) -> str:
        if self.config.namespaces == "off":
            return "none"
        level = launch.available_namespaces()
        if self.config.namespaces == "required" and level != "full":
            raise SandboxError(f"namespaces='required' but this system offers {level!r} (unshare unavailable "
                               "or unprivileged user namespaces disabled)")
        if level != "full":
            self._notes.append("Linux namespaces are unavailable here (unshare or unprivileged user namespaces "
                               f"missing; level {level!r}): no private network/mount/pid namespaces")
        return level

    # --- one request -----------------------------------------------------------------------------
    def _exchange(self, child: "_Child", request_id: int, program: dict, arrays: dict, fresh: bool,
                  seconds: float) -> Reply:
        started, cpu_before = time.perf_counter(), child.cpu_seconds()
        deadline = time.monotonic() + seconds
        records, step, outcome = [], None, None
        with _ScratchWatch(self.scratch.root, self.limits, child) as watch:
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
                        step = _text(frame.meta.get("step")) or step
                    else:
                        outcome = parse_result(frame.meta, frame.arrays)
            except ChannelTimeout:
                child.kill()
                outcome = ("timeout", f"the request did not finish within {seconds:g} s")
            except ChannelClosed:
                outcome = ("crashed", child.exit_description(self.limits))
            except ProtocolError as error:
                child.kill()
                outcome = ("protocol", f"the submission interfered with the result channel ({error})")
        if watch.exceeded:
            records.append({"action": "scratch", "detail": watch.exceeded})
        reply = Reply("ok", request_id=request_id, step=step, blocked=[describe(record) for record in records],
                      stdout=child.stdout.take(), stderr=child.stderr.take(),
                      wall_time=time.perf_counter() - started, cpu_time=_cpu_delta(cpu_before, child.cpu_seconds()))
        if isinstance(outcome, tuple):
            reply.status, reply.detail = outcome
        else:
            reply.status, reply.values, reply.types, reply.error = (outcome.status, outcome.values, outcome.types,
                                                                    outcome.error)
            reply.compat_used = outcome.compat_used
            child.fatal = outcome.fatal
        if watch.exceeded:                      # the next child gets a fresh copy of the submission
            reply.status, reply.detail = "blocked", f"the child was stopped: {describe(records[-1])}"
            child.kill()
            self.scratch.remove()
            self.scratch = None
        return reply


class _Child:
    """One child process: its pipes, stream drains, channel reader and the pid whose CPU time is read."""

    def __init__(self, process: subprocess.Popen, request_fd: int, reply_fd: int, nonce: bytes, limits,
                 namespace_layers: list[str]):
        self.process = process
        self.request_fd, self.reply_fd, self.nonce = request_fd, reply_fd, nonce
        self.reader = channel.FrameReader(reply_fd, nonce, limits.reply_bytes, (channel.NOTICE, channel.REPLY))
        self.stdout = Drain(process.stdout.fileno(), limits.output_bytes)
        self.stderr = Drain(process.stderr.fileno(), limits.output_bytes)
        self.namespace_layers = namespace_layers
        self.python_pid = process.pid
        self.fatal = False

    @classmethod
    def spawn(cls, config: SandboxConfig, scratch: scratch_dir.Scratch, level: str, protected: list[Path]) -> "_Child":
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        command, layers = launch.wrap(launch.python_command(bundle.stub(request_read, reply_write)), level,
                                      scratch.root, scratch.mounts_dir, protected, config.readable_paths)
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, pass_fds=(request_read, reply_write),
                                       cwd=scratch.root, start_new_session=True,
                                       env=launch.environment(scratch.root, scratch.tmp_dir, config.threads))
        except OSError:
            for fd in (request_write, reply_read):
                os.close(fd)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        os.set_blocking(request_write, False)
        os.set_blocking(reply_read, False)
        return cls(process, request_write, reply_read, channel.new_nonce(), config.limits, layers)

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
        if self.namespace_layers:
            self.python_pid = _only_child(self.process.pid) or self.process.pid
        return frame.meta

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the interpreter and its process group, reap them, close the pipes. Safe to repeat."""
        if self.process.returncode is None and self.python_pid != self.process.pid:
            _send_kill(os.kill, self.python_pid)      # unshare reaps it (no zombie left) and exits with its signal
            self._reap(1.0)
        if self.process.returncode is None:           # before the leader is reaped its group id cannot be reused
            _send_kill(os.killpg, self.process.pid)
            self._reap(KILL_WAIT_SECONDS)
        for fd in (self.request_fd, self.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_fd = self.reply_fd = -1

    def discard(self) -> None:
        """Kill, let the stream drains reach the end of their pipes, close the streams."""
        self.kill()
        for drain, stream in ((self.stdout, self.process.stdout), (self.stderr, self.process.stderr)):
            drain.thread.join(timeout=1.0)
            stream.close()

    def stop(self) -> None:
        """SIGKILL the interpreter from another thread; the thread reading the channel then sees it close."""
        if self.process.returncode is None:
            _send_kill(os.kill, self.python_pid)

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
        if code == 0:
            return "the submission ended the Python process (exit status 0: os._exit(0), or exit() in a thread)"
        if code < 0:
            name = signal.Signals(-code).name
            reason = {"SIGXCPU": f" (the session's CPU-time cap of {limits.session_cpu_time():g} s)",
                      "SIGKILL": " (out of memory, or killed by the harness)", "SIGSEGV": " (a crash in native code)",
                      "SIGXFSZ": f" (a file over the {limits.file_size >> 20} MB limit)"}.get(name, "")
            return f"the Python process running the submission was killed by {name}{reason}"
        return f"the Python process running the submission exited with status {code}"

    def cpu_seconds(self) -> tuple[float, float] | None:
        """(live threads' CPU time to the nanosecond, the whole process's in clock ticks), from /proc."""
        try:
            with open(f"/proc/{self.python_pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            coarse = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            precise = 0.0
            for task in os.listdir(f"/proc/{self.python_pid}/task"):
                with open(f"/proc/{self.python_pid}/task/{task}/schedstat") as schedstat:
                    precise += int(schedstat.read().split()[0]) / 1e9
            return precise, coarse
        except (OSError, ValueError, IndexError):
            return None


def _send_kill(kill, target: int) -> None:
    try:
        kill(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _cpu_delta(before, after) -> float | None:
    """The precise delta, unless the coarse one (which includes threads that have exited) is clearly larger."""
    if before is None or after is None:
        return None
    precise, coarse = after[0] - before[0], after[1] - before[1]
    return coarse if coarse > precise + 2.0 / _CLOCK_TICKS else max(precise, 0.0)


class _ScratchWatch:
    """During a request, polls the scratch directory's size and kills the child when it passes the limit."""

    def __init__(self, root: Path, limits, child: _Child):
        self.root, self.limits, self.child = root, limits, child
        self.exceeded: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-scratch-watch", daemon=True)

    def __enter__(self) -> "_ScratchWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._check()

    def _run(self) -> None:
        while not self._stop.wait(SCRATCH_POLL_SECONDS):
            if self._check():
                return

    def _check(self) -> bool:
        if self.exceeded:
            return True
        used, entries = scratch_dir.usage(self.root)
        if used > self.limits.scratch_bytes:
            self.exceeded = f"{self.limits.scratch_bytes >> 20} MB"
        elif entries > self.limits.files_created + scratch_dir.MAX_ENTRIES:
            self.exceeded = f"{self.limits.files_created} files"
        if self.exceeded:
            self.child.stop()
        return bool(self.exceeded)


def _child_config(config: SandboxConfig, scratch: scratch_dir.Scratch, protected: list[Path]) -> dict:
    limits = config.limits
    return {
        "scratch_root": str(scratch.root), "package_dir": str(scratch.package_dir), "package": config.package_name,
        "refused": dict(scratch.refused), "compat": config.compat, "warm_imports": list(config.warm_imports),
        "python": config.python,
        "limits": {"address_space": limits.address_space, "cpu_time": limits.session_cpu_time(),
                   "open_files": limits.open_files, "file_size": limits.file_size, "processes": limits.processes},
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


def _only_child(pid: int) -> int | None:
    """The pid of the process whose parent is ``pid`` (unshare --fork has exactly one)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                        return int(entry)
            except (OSError, ValueError, IndexError):
                continue
    return None


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
