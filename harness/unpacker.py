"""Unpack one archive into a directory: the program harness.archives runs in a bounded subprocess.

    stdin   {"archive": "/path/a.tar.bz2", "target": "/tmp/harness-zip-x", "kind": "zip" | "tar",
             "max_bytes": 209715200, "max_members": 20000, "max_stream_bytes": 419430400}
    stdout  {"ok": true} or {"error": "<one line>"}

Only regular files and folders are written: links, devices and FIFOs are left
out, member names that climb out with ``..`` make the archive refused, absolute
names (``/home/x/a.py``, ``C:\\Users\\x\\a.py``) are read as relative, and
junk (``__MACOSX/``, ``.DS_Store``) is skipped. Member names in GBK without
the zip UTF-8 flag (Chinese Windows zip tools) are decoded.

What is counted, whatever the headers claim: the bytes written (``max_bytes``),
the members (``max_members``), and for a tar the bytes decompressed
(``max_stream_bytes``): every read and every forward seek of the tar stream,
so a pax header claiming a gigabyte is refused before it is read into memory,
and a skipped member of junk costs what decompressing it costs. The process
itself is bounded in memory, CPU and wall time (harness.bounded), for whatever
the parsers of the standard library do that is not counted here.

Standard library only: it runs from its source text, outside the harness package.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import stat
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

CHUNK = 1 << 16
UTF8_FLAG = 0x800
# Folders and files that operating systems add to archives; never part of a submission
JUNK_NAMES = frozenset(("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", "__pycache__", ".git", ".idea",
                        ".vscode", ".ipynb_checkpoints"))
DRIVE = re.compile(r"^[A-Za-z]:")
GZIP, BZIP2, XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"


class Refused(Exception):
    """The archive is refused; the message is one line, without the archive's path."""


def main() -> None:
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    try:
        unpack(request)
        answer = {"ok": True}
    except Refused as error:
        answer = {"error": str(error)}
    except MemoryError:
        answer = {"error": "unpacking it needs more memory than the harness allows"}
    # A damaged archive (bad CRC, corrupt data, truncated, encrypted, unknown compression) is an unreadable
    # file: one line, never a traceback.
    except Exception as error:
        shown = "a readable .zip file" if request["kind"] == "zip" else "a readable tar archive"
        answer = {"error": f"not {shown} ({type(error).__name__}: {str(error)[:200]})"}
    sys.stdout.write(json.dumps(answer))


def unpack(request: dict) -> None:
    archive, target = Path(request["archive"]), Path(request["target"])
    budget = Budget(request["max_bytes"], request["max_members"])
    if request["kind"] == "zip":
        unpack_zip(archive, target, budget)
    else:
        with open(archive, "rb") as raw:
            unpack_tar(Counted(decompressed(raw), request["max_stream_bytes"]), target, budget)


class Budget:
    def __init__(self, max_bytes: int, max_members: int):
        self.max_bytes, self.max_members, self.bytes, self.members = max_bytes, max_members, 0, 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise Refused(f"more than {self.max_members} members")

    def write(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise Refused(f"unpacks to more than the {self.max_bytes >> 20} MB allowed")


class Counted(io.RawIOBase):
    """A read-only stream that counts every byte read or skipped by a forward seek, and refuses a read or
    seek that would pass ``limit`` before doing it."""

    def __init__(self, stream, limit: int):
        super().__init__()
        self.stream, self.limit, self.position = stream, limit, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _allow(self, end: int) -> None:
        if end > self.limit:
            raise Refused(f"it decompresses to more than {self.limit >> 20} MB (counting the data of skipped "
                          "members and the size its headers claim)")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:                    # everything: as much as is allowed, and one byte more
            data = self.stream.read(self.limit - self.position + 1)
            self._allow(self.position + len(data))
        else:
            self._allow(self.position + size)
            data = self.stream.read(size)
        self.position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self.position + offset if whence == 1 else None
        if target is None:
            raise io.UnsupportedOperation("seek from the end")
        self._allow(target)
        self.position = self.stream.seek(target)
        return self.position

    def tell(self) -> int:
        return self.position


def decompressed(raw):
    """The tar stream inside ``raw`` (gzip, bzip2, xz or none), read lazily."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(GZIP):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(BZIP2):
        return bz2.BZ2File(raw, "rb")
    if head.startswith(XZ):
        return lzma.LZMAFile(raw, "rb")
    return raw


def member_path(name: str) -> PurePosixPath | None:
    """The relative path a member name stands for; None for junk. Raises Refused for ``..``."""
    parts = [part for part in DRIVE.sub("", name.replace("\\", "/")).split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise Refused(f"member {name!r} points outside the archive")
    if not parts or any(part in JUNK_NAMES or part.startswith("._") for part in parts):
        return None
    return PurePosixPath(*parts)


def decode_zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it: zip tools on Chinese Windows write GBK bytes without the
    UTF-8 flag, which zipfile reads as cp437; others write UTF-8 without the flag."""
    if info.flag_bits & UTF8_FLAG or info.filename.isascii():
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _destination(target: Path, name: str) -> Path | None:
    relative = member_path(name)
    return None if relative is None else target.joinpath(*relative.parts)


def unpack_zip(archive: Path, target: Path, budget: Budget) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            budget.member()
            name = decode_zip_name(info)
            destination = _destination(target, name)
            kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0     # 3: Unix
            if destination is None or kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                continue                                   # junk, or a link / device stored by a Unix zip
            if info.is_dir() or name.endswith(("/", "\\")):
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(destination, "wb") as sink:
                _copy(source, sink, budget)


def unpack_tar(stream: Counted, target: Path, budget: Budget) -> None:
    with tarfile.open(fileobj=stream, mode="r:") as bundle:
        for member in bundle:
            budget.member()
            destination = _destination(target, member.name)
            if destination is None:
                continue
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            elif member.isreg():                           # links, devices and FIFOs are left out
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = bundle.extractfile(member)
                with source, open(destination, "wb") as sink:
                    _copy(source, sink, budget)


def _copy(source, sink, budget: Budget) -> None:
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            return
        budget.write(len(chunk))
        sink.write(chunk)


if __name__ == "__main__":
    main()
