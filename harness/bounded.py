"""A harness program that reads untrusted input, run in a subprocess bounded in memory, CPU and wall time.

    answer, failure = bounded.run("unpacker.py", {"archive": ...}, Bounds(address_space=1 << 30, cpu_seconds=60,
                                                                          wall_seconds=120))

What a student hands in is parsed by a program of the harness (harness/<name>.py:
the era probe, the archive unpacker, the loop reader), never in the grader's
process: a parser bomb (a tar header claiming a gigabyte, a source file that
makes a parser quadratic) then costs that subprocess, which the kernel stops at
its limits, and the grader gets one line saying why. The program reads a JSON
request on stdin and writes a JSON answer on stdout; it runs with ``python -I
-S`` from its source text (so also from a student kit's zip), with the
directories of ``path`` first on sys.path. Nothing of the student's is executed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

# The program sets its own limits before it reads a byte, then runs as __main__.
_BOOT = """\
import resource, sys
sys.path[:0] = {path!r}
for limit, value in ((resource.RLIMIT_AS, {address_space}), (resource.RLIMIT_CPU, {cpu}), (resource.RLIMIT_CORE, 0),
                     (resource.RLIMIT_FSIZE, {file_size})):
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass
"""
_ENVIRONMENT = ("PATH", "HOME", "XDG_CACHE_HOME", "LANG")


@dataclass(frozen=True)
class Bounds:
    address_space: int              # RLIMIT_AS, bytes
    cpu_seconds: int                # RLIMIT_CPU
    wall_seconds: float             # killed past this
    file_size: int = 64 << 20       # RLIMIT_FSIZE: the largest file it may write


def run(program: str, request: dict, bounds: Bounds, path: list[str] = ()) -> tuple[dict | None, str]:
    """(the program's answer, "") or (None, why it gave none, in plain words)."""
    try:
        source = _source(program)
    except OSError as error:
        return None, f"harness/{program} cannot be read ({error})"
    boot = _BOOT.format(path=list(path), address_space=bounds.address_space, cpu=bounds.cpu_seconds,
                        file_size=bounds.file_size)
    code = boot + f"exec(compile({source!r}, {program!r}, 'exec'), {{'__name__': '__main__'}})\n"
    env = {name: os.environ[name] for name in _ENVIRONMENT if name in os.environ}
    try:
        completed = subprocess.run([sys.executable, "-I", "-S", "-c", code], input=json.dumps(request).encode(),
                                   capture_output=True, timeout=bounds.wall_seconds, env=env, cwd="/")
    except subprocess.TimeoutExpired:
        return None, f"it took more than {bounds.wall_seconds:g} s"
    except OSError as error:
        return None, f"it could not start ({error})"
    if completed.returncode != 0:
        return None, _failure(completed, bounds)
    try:
        answer = json.loads(completed.stdout)
    except ValueError:
        return None, "its answer was not readable"
    return (answer, "") if isinstance(answer, dict) else (None, "it gave no answer")


def _failure(completed: subprocess.CompletedProcess, bounds: Bounds) -> str:
    code = completed.returncode
    last = (completed.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:200]
    if code in (-signal.SIGXCPU, -signal.SIGKILL) and not last:
        return f"it used more than its {bounds.cpu_seconds} s of CPU time"
    if "MemoryError" in last or code == -signal.SIGSEGV:
        return f"it needed more than its {bounds.address_space >> 20} MB of memory"
    if code == -signal.SIGXFSZ:
        return f"it tried to write a file over {bounds.file_size >> 20} MB"
    return f"it ended with status {code}: {last}"


def _source(program: str) -> str:
    """harness/<program>'s text, also when the harness runs from a zip (a student kit's check.pyz)."""
    import pkgutil
    data = pkgutil.get_data(__package__ or "harness", program)
    if data is None:
        raise FileNotFoundError(f"harness/{program}")
    return data.decode("utf-8")
