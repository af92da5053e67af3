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

Containment, outermost first (``Reply.layers`` lists those in force; the result's
``sandbox["isolation"]`` says which isolation ran, see isolation.py):

    bubblewrap          a fresh root with read-only binds of the interpreter and the libraries, the
                        copy of the submission and the readable files, nothing else of the host and
                        no host directory writable: the scratch directory and /tmp are size-capped
                        tmpfs mounts, /dev is read-only; own /proc; no network; own pid, ipc and uts
                        namespaces; a new session; killed with the grader (bwrap.py)
    unprivileged user   a host user id of its own when the grader is root (uids.py), else the
                        grader's id in a user namespace; no capabilities, no_new_privs
    seccomp             mount, ptrace, namespaces, mknod, bpf, keyctl, memfd, SysV and POSIX IPC,
                        sockets and the like refused (seccomp.py)
    cgroup              where the host allows: the tree's memory (tmpfs and shared memory included),
                        processes and CPU rate bounded by the kernel, killed by membership (cgroup.py)
    process tree        stopped (SIGSTOP) between requests; while one runs, scratch use, resident
                        memory and CPU of the whole tree watched; every process killed at timeout
                        and at session end; CPU time read for the whole tree (tree.py)
    budgets             requests share a check's and a submission's wall-clock budget (Session.budget)
    environment         scrubbed; python -I -S -B; the child's code arrives over a pipe
    rlimits             address space, CPU, open files, file size, core dumps, processes
    audit hook          PEP 578 policy: friendly refusals in plain words, not a boundary (policy.py)
    worker thread       submission code never shares a stack with the channel's writer

What crosses back: frames on a private pipe, tagged with a per-child nonce and
the request id; arrays as raw buffers with a dtype from an allowlist and a shape
bounded before allocation; nothing unpickled, nothing printed or written to disk
ever read as a result; every malformed frame a ProtocolError that costs the
request (channel.py, reply.py).

What is not claimed: code inside the child can always forge the values of
its own request (it computes them anyway), and it can switch the audit hook
off (it is reachable through object.__subclasses__, and ctypes rewrites
memory): the boundary is bubblewrap, the unprivileged user and seccomp. With
``isolation="process"`` (the student kit, on the student's own machine) or a
"fallback" without bubblewrap only the process-level layers hold, and the
result says so.
"""
from .config import Limits, SandboxConfig
from .isolation import IsolationUnavailable
from .reply import ChildError, Reply, Returned
from .session import SandboxError, Session

__all__ = ["ChildError", "IsolationUnavailable", "Limits", "Reply", "Returned", "SandboxConfig", "SandboxError", "Session"]
