"""Resource limits of the child process, set by its bootstrap before any submission code runs.

RLIMIT_NPROC counts the processes (and threads) of a user. Outside a user
namespace that is every process the user runs, so the limit is set only
inside one, where the count is the sandbox's own; and it never binds root
(the real uid 0, also when a user namespace maps it to its root): the notes
say so, and the other layers (the audit hook refuses fork and spawn, the pid
namespace ends every process with the child) carry that job. The CPU limit
caps the whole child, not one request: the parent's wall-clock deadline
handles requests. This module is sent to the child: standard library only.
"""
from __future__ import annotations

import os
import resource

CPU_GRACE_SECONDS = 5          # SIGXCPU at the soft limit, SIGKILL at the hard one
_WHOLE_RANGE = 4294967295      # the uid_map of the initial user namespace maps this many ids


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
    outer_uid = _outer_uid()
    if limits.get("processes") and outer_uid is None:
        notes.append("RLIMIT_NPROC was not set: outside a user namespace it would count every process of the user")
    elif limits.get("processes"):
        wanted["RLIMIT_NPROC"] = (limits["processes"], limits["processes"])
        if outer_uid == 0:
            layers.append("rlimit-nproc (not binding: root)")
            notes.append("RLIMIT_NPROC does not bind: the child runs as root (uid 0); the audit hook refuses fork "
                         "and spawn, and the process group (or pid namespace) is killed at the end instead")
        else:
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


def _outer_uid() -> int | None:
    """The real user id outside the child's user namespace, or None when it has none of its own."""
    try:
        with open("/proc/self/uid_map") as uid_map:
            lines = [tuple(map(int, line.split())) for line in uid_map if line.strip()]
    except (OSError, ValueError):
        return None
    if lines == [(0, 0, _WHOLE_RANGE)]:
        return None
    uid = os.getuid()
    return next((outside + uid - inside for inside, outside, count in lines if inside <= uid < inside + count), None)
