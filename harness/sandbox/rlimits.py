"""Resource limits of the child process, set by its bootstrap before any submission code runs.

Each limit binds every process of the tree, as children inherit it:
address space, CPU seconds, open files and file size per process, and
RLIMIT_NPROC, which counts the processes and threads of a user id. The parent
asks for RLIMIT_NPROC only where that count is the sandbox's own (bubblewrap:
a user id or a user namespace of its own); the parent's watch adds the
tree-wide memory and CPU limits (session.py). This module is sent to the
child: standard library only.
"""
from __future__ import annotations

import resource

CPU_GRACE_SECONDS = 5          # SIGXCPU at the soft limit, SIGKILL at the hard one


def apply(limits: dict) -> tuple[list[str], list[str]]:
    """Set the limits; returns (layer names, plain-words notes about limits that could not bind)."""
    wanted = {
        "RLIMIT_AS": (limits["address_space"], limits["address_space"]),
        "RLIMIT_CPU": (int(limits["cpu_time"]), int(limits["cpu_time"]) + CPU_GRACE_SECONDS),
        "RLIMIT_NOFILE": (limits["open_files"], limits["open_files"]),
        "RLIMIT_FSIZE": (limits["file_size"], limits["file_size"]),
        "RLIMIT_CORE": (0, 0),
    }
    layers, notes = ["rlimits"], []
    if limits.get("processes"):
        wanted["RLIMIT_NPROC"] = (limits["processes"], limits["processes"])
        layers.append("rlimit-nproc")
    for name, (soft, hard) in wanted.items():
        resource_id = getattr(resource, name)
        _, current_hard = resource.getrlimit(resource_id)
        if current_hard != resource.RLIM_INFINITY:        # an unprivileged child cannot raise its hard limit
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(resource_id, (soft, hard))
        except (ValueError, OSError) as error:
            notes.append(f"{name} could not be set ({error})")
    return layers, notes
