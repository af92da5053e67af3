"""The child's code: sent over the request pipe, never read from the harness directory by the child.

The parent reads the sources of this package's child-side modules (each
imports only the standard library and numpy) and writes them, length-prefixed
JSON, as the first bytes on the request pipe. The stub given to the
interpreter with -c reads them, executes each in a module object of its own
(not in sys.modules, with a private copy of the builtins, so a submission that
replaces builtins.len does not change the bootstrap) and calls child.main.
The same files are the modules the parent imports (channel.py frames both
ends), so nothing is written twice.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

# in execution order; child.main receives them by name
CHILD_MODULES = ("channel", "policy", "rlimits", "compat", "classic", "loader", "hints", "failure", "values",
                 "interpreter", "child")
LENGTH_DIGITS = 16

_STUB = """\
import builtins, json, os, sys, types
def _boot(request_fd, reply_fd, step_fd):
    def read_exact(size):
        data = b""
        while len(data) < size:
            chunk = os.read(request_fd, size - len(data))
            if not chunk:
                os._exit(70)
            data += chunk
        return data
    bundle = json.loads(read_exact(int(read_exact({digits}))))
    sys.path.extend(bundle["path"])
    private_builtins = dict(builtins.__dict__)
    modules = {{}}
    for name, source in bundle["modules"]:
        module = types.ModuleType("sandbox_" + name)
        module.__builtins__ = private_builtins
        exec(compile(source, "<sandbox " + name + ">", "exec"), module.__dict__)
        modules[name] = module
    modules["child"].main(modules, request_fd, reply_fd, step_fd)
_boot({request_fd}, {reply_fd}, {step_fd})
"""


def stub(request_fd: int, reply_fd: int, step_fd: int) -> str:
    """The -c program: fd numbers only, nothing secret (argv is visible to every process)."""
    return _STUB.format(digits=LENGTH_DIGITS, request_fd=request_fd, reply_fd=reply_fd, step_fd=step_fd)


def payload(sys_path: list[str]) -> bytes:
    """The first bytes on the request pipe: the child's sys.path additions and its modules' sources."""
    body = json.dumps({"path": sys_path, "modules": [[name, source] for name, source in _sources()]}).encode()
    return f"{len(body):0{LENGTH_DIGITS}d}".encode() + body


@functools.cache
def _sources() -> tuple[tuple[str, str], ...]:
    here = Path(__file__).parent
    return tuple((name, (here / f"{name}.py").read_text(encoding="utf-8")) for name in CHILD_MODULES)
