"""The child's audit hook (PEP 578): what submission code may not do, and how refusals are worded.

``install`` runs in the child after the bootstrap's own imports and before
any submission code; an audit hook cannot be removed. A refused action raises
SandboxViolation (a PermissionError) where the submission attempted it, so
its code stops there, and is recorded; the child's main thread forwards each
record to the parent at once, and the parent words it with ``describe``.

    reads    an allow-list: the scratch directory, the Python installation,
             the readable paths, a few device and /proc files; protected paths
             are refused even inside an allowed root (readable paths win)
    writes   only inside the scratch directory, never the submission's sources,
             at most ``max_files`` new files and directories
    refused  network, processes (fork, exec, spawn, subprocess), ctypes, new
             audit hooks, other threads' frames and the garbage collector's
             object graph, trace functions, rlimit changes, signals to other
             processes, importing the harness or the reference by name

The hook is not a boundary, and nothing relies on it: it is how a refusal
reaches the student in plain words. Submission code can switch it off (the
Policy class is reachable through object.__subclasses__, and ctypes, which
numpy and scipy import, rewrites memory without an audit event; PEP 578 says
as much), and calls made in C raise no event (os.mknod, sqlite's ATTACH). The
boundary is bubblewrap, the unprivileged user and the seccomp filter
(isolation.py): what the hook refuses, they make impossible or harmless.

This module is sent to the child: standard library only.
"""
from __future__ import annotations

import os
import sys

ACTIONS = {
    "network": "the submission tried to use the network ({detail})",
    "process": "the submission tried to start another process ({detail})",
    "native": "the submission tried to load or call native code through ctypes ({detail})",
    "audit": "the submission tried to install its own audit hook",
    "introspect": "the submission tried to inspect the interpreter's internals ({detail})",
    "trace": "the submission tried to install a trace or profile function ({detail})",
    "read": "the submission tried to read {detail}, which is outside what it may read",
    "read_protected": "the submission tried to read {detail}, which belongs to the grader or to other submissions",
    "write": "the submission tried to write {detail}, outside its scratch directory",
    "modify_source": "the submission tried to modify its own source file {detail}",
    "import": "the submission tried to import {detail}, which the sandbox does not allow",
    "files": "the submission tried to create more than {detail} files",
    "threads": "the submission tried to run more than {detail} threads at once",
    "signal": "the submission tried to send a signal to another process ({detail})",
    "limits": "the submission tried to change its resource limits ({detail})",
    "scratch": "the submission filled its scratch directory beyond {detail}",
    "memory": "the submission's processes held more than {detail} of memory together",
    "cpu": "the submission's processes used more than {detail} of CPU time together",
    "more": "and {detail} more refused actions",
}
# Names no submission may import: the grader itself and the back doors to native code and processes.
BLOCKED_IMPORTS = ("harness", "reference", "nnlab_harness", "_ctypes", "cffi", "_cffi_backend",
                   "_posixsubprocess", "_thread", "_signal", "_xxsubinterpreters", "_testcapi", "_testinternalcapi")
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/etc/localtime")
SYSTEM_READ_ROOTS = ("/usr/share/zoneinfo", "/sys/devices/system/cpu", "/sys/fs/cgroup", "/proc/meminfo",
                     "/proc/cpuinfo")
SELF_PROC_FILES = ("stat", "statm", "status")
MAX_RECORDS = 50
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PROCESS_EVENTS = ("os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                   "subprocess.Popen", "os.startfile", "pty.spawn")
_INTROSPECTION_EVENTS = ("sys._current_frames", "sys._current_exceptions", "gc.get_objects",
                         "gc.get_referrers", "gc.get_referents")


class SandboxViolation(PermissionError):
    """An action the sandbox refuses; raised where the submission attempted it."""


def describe(record: dict) -> str:
    """Plain words for one record ({"action", "detail"}), as the report shows them."""
    template = ACTIONS.get(record.get("action"), "the submission attempted a forbidden action ({detail})")
    return template.format(detail=str(record.get("detail", ""))[:300])


class Paths:
    """The filesystem rules, on resolved absolute paths."""

    def __init__(self, settings: dict):
        resolve = os.path.realpath
        self.scratch = resolve(settings["scratch_root"])
        self.sources = {resolve(path) for path in settings["sources"]}
        self.readable = [resolve(path) for path in settings["readable"]]
        self.protected = [resolve(path) for path in settings["protected"]]
        self_proc = resolve("/proc/self")
        self.read_roots = ([self.scratch] + [resolve(path) for path in settings["python_roots"]]
                           + list(SYSTEM_READ_ROOTS) + [f"{self_proc}/{name}" for name in SELF_PROC_FILES]
                           + list(DEVICE_FILES))

    def read_refusal(self, path: str) -> str | None:
        """None when reading (or listing) the resolved path is allowed, else the action refused."""
        if _inside(path, self.readable) or _inside(path, [self.scratch]):
            return None
        if _inside(path, self.protected):
            return "read_protected"
        return None if _inside(path, self.read_roots) else "read"

    def write_refusal(self, path: str) -> str | None:
        if path in self.sources:
            return "modify_source"
        return None if _inside(path, [self.scratch]) else "write"


def _inside(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _resolve(path, dir_fd=None) -> str | None:
    """The absolute real path an audited call names; None for an open file descriptor."""
    if path is None:
        path = "."
    if isinstance(path, int):
        return None
    try:
        path = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.realpath(path)
    except (TypeError, ValueError, OSError):
        return str(path)


class Policy:
    """The hook's state: counters and the records not yet forwarded to the parent.

    Only the audit machinery (in C) and the child's main thread hold a reference
    to it; nothing reachable from submission code does.
    """

    def __init__(self, settings: dict, notify):
        self.paths = Paths(settings)
        self.max_files = settings["max_files"]
        self.files_created = 0
        self.records: list[dict] = []
        self.dropped = 0
        self.notify = notify                     # called after each record (forwards it, may wait)
        self.trusted_codes = set()               # code objects allowed to call sys.settrace
        self.pid = os.getpid()

    def refuse(self, action: str, detail="") -> None:
        record = {"action": action, "detail": str(detail)[:300]}
        if len(self.records) < MAX_RECORDS:
            self.records.append(record)
        else:
            self.dropped += 1
        self.notify()
        raise SandboxViolation(f"sandbox: {describe(record)}")

    def drain(self) -> list[dict]:
        records, self.records = self.records, []
        if self.dropped:
            records.append({"action": "more", "detail": self.dropped})
            self.dropped = 0
        return records

    def __call__(self, event: str, args: tuple) -> None:
        check = _CHECKS.get(event)
        if check is not None:
            check(self, args)
        elif event.startswith("socket."):
            self.refuse("network", _network_detail(event, args))
        elif event.startswith("ctypes."):
            self.refuse("native", event)

    def check_read(self, path, dir_fd=None) -> None:
        resolved = _resolve(path, dir_fd)
        if resolved is not None:
            refusal = self.paths.read_refusal(resolved)
            if refusal:
                self.refuse(refusal, resolved)

    def check_write(self, path, dir_fd=None, creates: bool = False) -> None:
        resolved = _resolve(path, dir_fd)
        if resolved is None:
            return
        refusal = self.paths.write_refusal(resolved)
        if refusal:
            self.refuse(refusal, resolved)
        if creates and not os.path.lexists(resolved):
            self.files_created += 1
            if self.files_created > self.max_files:
                self.refuse("files", self.max_files)


def _open(policy: Policy, args) -> None:
    path, mode, flags = args
    mode = mode if isinstance(mode, str) else ""
    flags = flags if isinstance(flags, int) else 0
    if flags & _WRITE_FLAGS or any(letter in mode for letter in "wax+"):
        creates = bool(flags & os.O_CREAT) or any(letter in mode for letter in "wxa")
        policy.check_write(path, creates=creates)
    else:
        policy.check_read(path)


def _settrace(policy: Policy, args) -> None:
    caller = sys._getframe(2).f_code            # 0: this check, 1: the hook, 2: whoever called settrace
    if caller not in policy.trusted_codes:
        policy.refuse("trace", "sys.settrace or sys.setprofile")


def _kill(policy: Policy, args) -> None:
    if args[0] not in (policy.pid, os.getpid()):
        policy.refuse("signal", f"signal {args[1]} to process {args[0]}")


def _import(policy: Policy, args) -> None:
    name = str(args[0])
    top = name.partition(".")[0]
    if top in BLOCKED_IMPORTS or top.startswith("__editable__"):
        policy.refuse("import", name)


def _network_detail(event: str, args) -> str:
    if event in ("socket.connect", "socket.bind", "socket.sendto") and len(args) >= 2:
        address = args[-1]
        if isinstance(address, tuple) and len(address) >= 2:
            return f"{event} to {address[0]}:{address[1]}"
        return f"{event} to {address!r}"[:200]
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr") and args:
        return f"{event} for {args[0]!r}"[:200]
    return event


def _refusing(action: str, detail):
    """A check that always refuses; ``detail`` is text or a function of the event's arguments."""
    return lambda policy, args: policy.refuse(action, detail(args) if callable(detail) else detail)


_CHECKS = {
    "open": _open,
    "os.listdir": lambda policy, args: policy.check_read(args[0]),
    "os.scandir": lambda policy, args: policy.check_read(args[0]),
    "os.chdir": lambda policy, args: policy.check_read(args[0]),
    "os.mkdir": lambda policy, args: policy.check_write(args[0], args[2], creates=True),
    "os.remove": lambda policy, args: policy.check_write(args[0], args[1]),
    "os.rmdir": lambda policy, args: policy.check_write(args[0], args[1]),
    "os.rename": lambda policy, args: (policy.check_write(args[0], args[2]), policy.check_write(args[1], args[3])),
    "os.link": lambda policy, args: (policy.check_write(args[0], args[2]),
                                     policy.check_write(args[1], args[3], creates=True)),
    "os.symlink": lambda policy, args: policy.check_write(args[1], args[2], creates=True),
    "os.truncate": lambda policy, args: policy.check_write(args[0]),
    "os.chmod": lambda policy, args: policy.check_write(args[0], args[2]),
    "os.chown": lambda policy, args: policy.check_write(args[0], args[3]),
    "os.chflags": lambda policy, args: policy.check_write(args[0]),
    "os.utime": lambda policy, args: policy.check_write(args[0], args[3]),
    "os.setxattr": lambda policy, args: policy.check_write(args[0]),
    "os.removexattr": lambda policy, args: policy.check_write(args[0]),
    # sqlite opens its files in C, without an "open" event
    "sqlite3.connect": lambda policy, args: None if str(args[0]) == ":memory:" else policy.check_write(args[0]),
    "sqlite3.enable_load_extension": _refusing("native", "sqlite3.enable_load_extension"),
    "import": _import,
    "sys.settrace": _settrace,
    "sys.setprofile": _settrace,
    "sys.addaudithook": _refusing("audit", ""),
    "resource.setrlimit": _refusing("limits", "resource.setrlimit"),
    "resource.prlimit": _refusing("limits", "resource.prlimit"),
    "os.kill": _kill,
    "os.killpg": _refusing("signal", lambda args: f"signal {args[1]} to process group {args[0]}"),
    "urllib.Request": _refusing("network", lambda args: f"urllib request to {args[0]}"),
    "sandbox.threads": _refusing("threads", lambda args: args[0]),
    **{event: _refusing("process", event) for event in _PROCESS_EVENTS},
    **{event: _refusing("introspect", event) for event in _INTROSPECTION_EVENTS},
}


def install(settings: dict, notify, trusted_codes=()) -> Policy:
    """Install the hook (for good) and the process and thread guards; returns the policy for draining.

    ``notify`` is called after every refusal, from whichever thread attempted it.
    """
    policy = Policy(settings, notify)
    policy.trusted_codes.update(trusted_codes)
    _replace_native_spawn()
    _limit_threads(settings["max_threads"])
    sys.addaudithook(policy)
    return policy


# The replacements below become attributes of importable modules, so submission code can
# reach them and everything they reference: they see only sys.audit (which reports through
# the hook) and, for threads, the original functions, never the policy.
_SPAWN_SOURCE = """
def fork_exec(*args, **kwargs):
    _audit("subprocess.Popen", "_posixsubprocess.fork_exec", None, None, None)
    raise PermissionError("sandbox: starting processes is not allowed")
"""
_THREAD_SOURCE = """
def start_new_thread(function, args, kwargs=None):
    if _running() > _limit:             # the count includes the sandbox's worker thread
        _audit("sandbox.threads", _limit)
    return _start(function, args, {} if kwargs is None else kwargs)
"""


def _replace_native_spawn() -> None:
    """_posixsubprocess.fork_exec starts processes without an audit event."""
    import _posixsubprocess
    _posixsubprocess.fork_exec = _define(_SPAWN_SOURCE, "fork_exec", _audit=sys.audit)


def _limit_threads(max_threads: int) -> None:
    """Python 3.11 has no audit event for new threads: wrap the one function that starts them.

    A submission can dig the original out of the wrapper; the child's main thread also
    watches the thread count and ends the child when it passes the limit.
    """
    import _thread
    import threading
    wrapper = _define(_THREAD_SOURCE, "start_new_thread", _audit=sys.audit, _limit=max_threads,
                      _start=_thread.start_new_thread, _running=_thread._count)
    _thread.start_new_thread = _thread.start_new = threading._start_new_thread = wrapper


def _define(source: str, name: str, **names):
    namespace = {"__builtins__": {"PermissionError": PermissionError}, **names}
    exec(source, namespace)
    return namespace[name]
