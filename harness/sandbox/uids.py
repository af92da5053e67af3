"""A host user id of its own for each sandbox running at the same time (when the grader runs as root).

RLIMIT_NPROC counts the processes of a user id, so with one id per sandbox the
limit counts that sandbox's processes and nothing else, and two sandboxes
cannot signal or read each other's processes. Ids are slots in a range no
account uses (SLOT_BASE upwards, far above the ranges of useradd, systemd's
dynamic users and the usual subordinate-id ranges); a slot is held with an
exclusive flock on a file of its own for as long as the session lives, across
processes (the workers of a batch), and freed by the kernel when its holder
dies.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

SLOT_BASE = 1_900_000_000
SLOTS = 4096
LOCK_DIR = Path(tempfile.gettempdir()) / "nnlab-sandbox-uids"


class UidSlot:
    """One held slot: ``uid`` (also used as the gid). ``release()`` frees it; safe to repeat."""

    def __init__(self, uid: int, lock_fd: int):
        self.uid, self._lock_fd = uid, lock_fd

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)             # closing the descriptor drops the flock
            self._lock_fd = -1


def acquire(lock_dir: Path = LOCK_DIR) -> UidSlot:
    """The first free slot; OSError when the lock directory cannot be used or every slot is taken."""
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    if lock_dir.is_symlink() or lock_dir.stat().st_uid != os.geteuid():
        raise OSError(f"{lock_dir} is not a directory of this user; the sandbox cannot allocate user ids there")
    for slot in range(SLOTS):
        fd = os.open(lock_dir / f"slot-{slot}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidSlot(SLOT_BASE + slot, fd)
    raise OSError(f"all {SLOTS} sandbox user ids are in use")
