"""The child's stdout and stderr: drained all the time by threads, kept per request as head and tail.

A child printing without end can neither block on a full pipe nor fill the
parent's memory: a capture keeps the first and the last ``limit // 2`` bytes
and counts the rest. Nothing the child prints is ever parsed.
"""
from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
import time

_READ_BYTES = 1 << 16


class Capture:
    """Bytes written to one stream during one request: head, tail and how many were left out."""

    def __init__(self, limit: int):
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def append(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-self.half]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        marker = f"\n[... {omitted} bytes omitted ...]\n".encode() if omitted > 0 else b""
        return (bytes(self.head) + marker + bytes(self.tail)).decode("utf-8", errors="replace")


class Drain:
    """A daemon thread reading one pipe into the current Capture until the child closes it."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit = fd, limit
        self.capture = Capture(limit)
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name=f"sandbox-drain-{fd}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            poller.poll()
            with self.lock:             # a read and its append are one step for take()
                try:
                    data = os.read(self.fd, _READ_BYTES)
                except OSError:
                    data = b""
                if not data:
                    self.closed = True
                    return
                self.capture.append(data)

    def take(self, settle_seconds: float = 0.2) -> str:
        """What was written since the last take. Bytes already in the pipe when called are included."""
        deadline = time.monotonic() + settle_seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.closed or _unread_bytes(self.fd) == 0:
                    break
            time.sleep(0.001)
        with self.lock:
            text, self.capture = self.capture.text(), Capture(self.limit)
        return text


def _unread_bytes(fd: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0
