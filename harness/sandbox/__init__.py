"""Run untrusted submission code in a contained child interpreter and get arrays back.

    from harness.sandbox import SandboxConfig, Limits, Session
    with Session(SandboxConfig(submission_dir=path)) as session:
        reply = session.run({"steps": [...], "outputs": [...]}, {"x": x}, timeout=10.0)

Why: submissions may try to game the grader (print fake results, exit early
with status 0, patch numpy, read the reference or the expected values, reach
the network, start processes, exhaust memory or disk). The parent generates
inputs, holds the reference and the expected values, and compares; the child
only computes, and a crash, exception, hang or timeout costs the request
being served, never the run.

Containment, outermost first (``Reply.layers`` lists those in force):

    process group       killed with SIGKILL at timeout and at session end
    environment         scrubbed; python -I -S -B; the child's code arrives over a pipe
    namespaces          unshare: no network, own pids (all die with the child), read-only
                        filesystem but the scratch directory, protected paths hidden
    rlimits             address space, CPU, open files, file size, core dumps, processes
    audit hook          PEP 578 policy: see policy.py; refusals are reported in plain words
    worker thread       submission code never shares a stack with the channel's writer

What crosses back: frames on a private pipe, tagged with a per-child nonce and
the request id; arrays as raw buffers with a validated numeric dtype; nothing
unpickled, nothing printed or written to disk ever read as a result
(channel.py).

What is not claimed: code inside the child can always forge the values of
its own request (it computes them anyway). The audit hook is not a boundary
against code that rewrites memory through ctypes, whose pointer functions
raise no audit event and which numpy and scipy load: such code could read the
nonce and forge replies, or silence the hook. The namespaces still keep it
off the network, unable to write outside its scratch directory or to see the
protected paths, and kill all its processes with the child; without them
(see ``layers``) the hook is best effort. Reads that raise no audit event
(os.stat) reveal whether a path exists, not what it holds.
"""
from .config import Limits, SandboxConfig
from .reply import ChildError, Reply, Returned
from .session import SandboxError, Session

__all__ = ["ChildError", "Limits", "Reply", "Returned", "SandboxConfig", "SandboxError", "Session"]
