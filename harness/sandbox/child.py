"""The child's bootstrap: contain the interpreter, then serve requests until the parent closes the pipe.

It runs inside the sandboxed interpreter, built from the sources the parent
sends (see bundle.py). Two threads:

    main    reads requests, forwards refusals, writes replies;
            only it holds the nonce and the policy's records
    worker  runs the program interpreter, which runs the submission's code

The worker names each step it starts ("calling ConvolutionalLayer.forward")
on a pipe of its own, the step pipe: one write, no waiting for the main
thread, and the parent still has the name when the step ends the process at
once (os._exit at import, a crash in native code). The step pipe carries
labels for messages only; whatever is on it is untrusted text to the parent,
like everything else that comes from the child.

Submission code runs in the worker (and in threads it starts), so frame
walking never reaches the main thread's frames, and the audit hook refuses the
ways around that (other threads' frames, the garbage collector's object graph,
trace functions). After submission code has run, the main thread calls only
functions of the bootstrap and C functions bound beforehand, never a method of
an object the worker can reach, and it treats what the worker hands over as
untrusted data: plain dicts, lists, strings and numbers and plain ndarrays of
numeric dtypes survive, anything else is dropped.

This module is sent to the child: standard library and numpy only.
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
from _thread import _count as running_threads, allocate_lock, get_ident
from os import _exit, write as _write
from time import monotonic, perf_counter, sleep

from numpy import ndarray

POLL_SECONDS = 0.05
FORWARD_WAIT_SECONDS = 1.0
MAX_STEP_CHARS = 300
_JOB, _RESULT = range(2)                        # slots of the list the two threads share


def main(modules: dict, request_fd: int, reply_fd: int, step_fd: int) -> None:
    started = perf_counter()
    channel = modules["channel"]
    reader = channel.FrameReader(request_fd, None, channel.MAX_META_BYTES, (channel.HELLO,))
    config = reader.read().meta["config"]
    reader.kinds, reader.max_body = (channel.REQUEST,), 1 << 40
    send = _sender(channel, reply_fd, reader.nonce)

    notes = _prepare(config)
    shared = [None, None]
    job_ready, wake = allocate_lock(), allocate_lock()
    job_ready.acquire()
    wake.acquire()
    os.set_blocking(step_fd, False)
    run = _build_interpreter(modules, config, step_fd)
    threading.Thread(target=_worker, args=(shared, job_ready, wake, run), name="sandbox-worker", daemon=True).start()
    compat_used = modules["compat"].used
    layers, limit_notes = modules["rlimits"].apply(config["limits"])
    refusals = [0, 0]                               # recorded, forwarded
    notify = _notifier(refusals, wake, get_ident())
    policy = modules["policy"].install(config["policy"], notify,
                                       trusted_codes={modules["interpreter"].traced_call.__code__})
    send(channel.READY, 0, {"layers": layers + ["audit-hook", "worker-thread"], "notes": notes + limit_notes,
                            "startup_seconds": perf_counter() - started})
    max_threads = config["policy"]["max_threads"]

    while True:
        try:
            frame = reader.read()
        except channel.ChannelClosed:
            _exit(0)
        request_id = frame.request_id
        shared[_JOB], shared[_RESULT] = (frame.meta.get("program"), frame.arrays, frame.meta.get("fresh") is not False), None
        _signal(job_ready)
        while shared[_RESULT] is None:
            wake.acquire(True, POLL_SECONDS)
            _forward_refusals(policy, refusals, send, channel.NOTICE, request_id)
            if running_threads() > max_threads + 1:     # + the worker
                _end_for_threads(policy, refusals, send, channel, request_id, max_threads)
        _forward_refusals(policy, refusals, send, channel.NOTICE, request_id)
        meta, arrays = _reply(shared[_RESULT], compat_used)
        send(channel.REPLY, request_id, meta, arrays)


def _sender(channel, reply_fd: int, nonce: bytes):
    encode, write, closed = channel.encode, channel.write_frame, channel.ChannelClosed

    def send(kind: int, request_id: int, meta: dict, arrays: dict | None = None) -> None:
        try:
            write(reply_fd, encode(kind, nonce, request_id, meta, arrays))
        except (closed, OSError):
            _exit(0)                            # the parent is gone or the submission broke the pipe
    return send


def _prepare(config: dict) -> list[str]:
    """The scratch copy, working directory, sys.path and the imports done before the policy is in force."""
    if config.get("seed_dir"):
        _copy_seed(config["seed_dir"], config["scratch_root"])
    sys.path.insert(0, config["scratch_root"])
    os.chdir(config["package_dir"])
    notes = []
    for name in config["warm_imports"]:
        try:
            importlib.import_module(name)
        except Exception as error:              # the lab may not need it; the submission's import will say
            notes.append(f"warm import of {name} failed: {type(error).__name__}: {error}")
    return notes


def _copy_seed(seed: str, root: str) -> None:
    """Copy the read-only submission copy into the (empty, size-capped) scratch tmpfs, keeping the tree."""
    for directory, subdirectories, files in os.walk(seed):
        relative = os.path.relpath(directory, seed)
        target = root if relative == "." else os.path.join(root, relative)
        os.makedirs(target, exist_ok=True)
        for name in files:                      # (not shutil: importing it costs the start-up 9 ms)
            with open(os.path.join(directory, name), "rb") as source, \
                    open(os.path.join(target, name), "wb") as copy:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    copy.write(chunk)


def _build_interpreter(modules: dict, config: dict, step_fd: int):
    """The worker's side. Nothing built here can reach the nonce or the policy."""
    compat, hints, failure = modules["compat"], modules["hints"], modules["failure"]
    limits, package_dir = config["limits"], config["package_dir"]
    if config["compat"]:
        compat.install()
    submission = modules["loader"].SubmissionModules(config["package"], package_dir, config["refused"],
                                                     config.get("python"), modules["classic"])
    submission.install()

    def hint(exc, source):
        return hints.hint_for(exc, limits, source) or compat.removed_api_hint(exc)

    def describe_failure(exc, doing, callee):
        return failure.describe(exc, doing, package_dir, hint=hint, callee=callee)

    def progress(doing: str) -> None:
        # written before the step runs, so a step that ends the process at once is still named; a full
        # pipe (the parent behind) drops the label rather than wait
        text = str(doing)[:MAX_STEP_CHARS].replace("\n", " ")
        try:
            _write(step_fd, text.encode("utf-8", "replace") + b"\n")
        except OSError:
            pass

    interpreter = modules["interpreter"].Interpreter(submission, describe_failure, modules["values"].to_wire,
                                                      progress, modules["policy"].SandboxViolation)
    return interpreter.run


def _worker(shared: list, job_ready, wake, run) -> None:
    while True:
        job_ready.acquire()
        program, arrays, fresh = shared[_JOB]
        try:
            result = run(program if isinstance(program, dict) else {}, arrays, fresh)
        except BaseException as exc:            # the interpreter reports the submission's errors itself
            result = {"status": "error", "error": {"exc_type": type(exc).__name__, "message": str(exc)[:500]}}
        shared[_RESULT] = result
        _signal(wake)


def _signal(wake) -> None:
    try:
        wake.release()
    except RuntimeError:                        # already signalled; the main thread looks at everything anyway
        pass


def _notifier(refusals: list, wake, main_ident: int):
    """Called by the policy after a refusal: wake the main thread and give it time to forward the record,
    so a submission that exits right after a refused action cannot lose the record."""
    def notify() -> None:
        refusals[0] += 1
        mine = refusals[0]
        _signal(wake)
        if get_ident() != main_ident:
            deadline = monotonic() + FORWARD_WAIT_SECONDS
            while refusals[1] < mine and monotonic() < deadline:
                sleep(0.001)
    return notify


def _forward_refusals(policy, refusals: list, send, kind: int, request_id: int) -> None:
    seen = refusals[0]
    records = policy.drain()
    if records:
        send(kind, request_id, {"blocked": records})
    refusals[1] = seen


def _end_for_threads(policy, refusals, send, channel, request_id: int, limit: int) -> None:
    """The submission got past the thread wrapper: report and end the child (the parent starts a new one)."""
    policy.records.append({"action": "threads", "detail": str(limit)})
    _forward_refusals(policy, refusals, send, channel.NOTICE, request_id)
    error = {"exc_type": "SandboxViolation", "message": f"more than {limit} threads were running"}
    send(channel.REPLY, request_id, {"status": "blocked", "values": {}, "error": error, "fatal": True})
    _exit(75)


def _reply(result, compat_used: list) -> tuple[dict, dict]:
    """The reply frame's content from the worker's result, keeping only plain data."""
    if type(result) is not dict:
        result = {"status": "error", "error": {"exc_type": "SandboxError", "message": "the worker produced no result"}}
    arrays = {}
    raw_arrays = result.get("arrays")
    if type(raw_arrays) is dict:
        for name, array in raw_arrays.items():
            if type(name) is str and type(array) is ndarray and array.dtype.kind in "biufc":
                arrays[name] = array
    used = [name for name in compat_used[:100] if type(name) is str]
    del compat_used[:]
    status = result.get("status")
    meta = {"status": status if type(status) is str and status in ("ok", "error", "blocked") else "error",
            "values": _plain(result.get("values")) or {}, "error": _plain(result.get("error")),
            "compat_used": used}
    return meta, arrays


def _plain(value, depth: int = 0):
    """``value`` rebuilt from exact dicts, lists, strings, numbers, booleans and None; anything else is None."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if depth > 8:
        return None
    if kind is list or kind is tuple:
        return [_plain(item, depth + 1) for item in value[:1000]]
    if kind is dict:
        return {key: _plain(item, depth + 1) for key, item in value.items() if type(key) is str}
    return None
