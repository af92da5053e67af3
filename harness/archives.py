"""Unpack a student's archive safely, as students make them.

Formats: .zip (any case of the extension; what decides is the content),
.tar, .tar.gz / .tgz, .tar.bz2, .tar.xz. Students' archives come from
Windows (backslash separators, drive letters, member names in GBK from
Chinese zip tools that do not set the UTF-8 flag) and macOS (__MACOSX/ and
.DS_Store beside the files).

The archive is unpacked by harness/unpacker.py in a subprocess bounded in
memory, CPU and wall time (harness.bounded), never in the grader's process: a
tar header that claims a gigabyte, or gigabytes of junk to decompress, cost
that subprocess and end in an ArchiveError. What it writes, links and devices
left out and ``..`` refused, is described there. Telling an archive from a
stray file (``archive_kind``, called for every entry of a class folder) reads
only the zip directory or the first decompressed tar header block.

Every failure is an ``ArchiveError`` with one line saying why.
"""
from __future__ import annotations

import bz2
import lzma
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from . import bounded
from .errors import HarnessError
from .unpacker import JUNK_NAMES  # noqa: F401  (folders and files operating systems add)

MAX_UNPACKED_BYTES = 200 << 20
MAX_MEMBERS = 20_000
STREAM_FACTOR = 2                # a tar may decompress to this many times MAX_UNPACKED_BYTES, skipped junk included
UNPACK_BOUNDS = bounded.Bounds(address_space=1 << 30, cpu_seconds=60, wall_seconds=120.0,
                               file_size=MAX_UNPACKED_BYTES + (1 << 20))
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
READABLE = ", ".join((".zip",) + TAR_SUFFIXES)
OTHER_ARCHIVES = (".rar", ".7z", ".gz", ".bz2", ".xz", ".zipx")
_HEAD_BYTES = 1 << 20            # compressed bytes read to find the first tar header (one bzip2 block)


class ArchiveError(HarnessError):
    """An archive that cannot be unpacked (damaged, encrypted, too large, or with hostile member names)."""


def archive_kind(path: Path) -> str | None:
    """"zip" or "tar" when ``path`` is an archive the harness reads (by content, whatever the extension).

    Reads the zip's end-of-directory record, or decompresses at most one header block of a tar: never
    a member, never a header's claimed contents."""
    if not path.is_file():
        return None
    try:
        if zipfile.is_zipfile(path):
            return "zip"
        with open(path, "rb") as stream:
            head = stream.read(_HEAD_BYTES)
    except OSError:
        return None
    block = _first_block(head)
    if block is None or len(block) < tarfile.BLOCKSIZE:
        return None
    try:
        tarfile.TarInfo.frombuf(block[:tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return None
    return "tar"


def _first_block(head: bytes) -> bytes | None:
    """The first 512 bytes of the tar stream in ``head`` (gzip, bzip2, xz or none)."""
    try:
        if head.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(wbits=31).decompress(head, tarfile.BLOCKSIZE)
        if head.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(head, max_length=tarfile.BLOCKSIZE)
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMADecompressor().decompress(head, max_length=tarfile.BLOCKSIZE)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    return head[:tarfile.BLOCKSIZE]


def looks_like_archive(path: Path) -> bool:
    """Named like an archive (so a damaged one is reported, not taken for a stray file)."""
    name = path.name.lower()
    return name.endswith((".zip",) + TAR_SUFFIXES + OTHER_ARCHIVES)


def unpack(archive: Path, target: Path | None = None) -> Path:
    """Unpack ``archive`` into ``target`` (a new temporary directory by default) and return it.

    Raises ArchiveError (a HarnessError) with one line when the archive cannot be read or is refused.
    """
    kind = archive_kind(archive)
    if kind is None:
        raise ArchiveError(f"{archive}: {unreadable_reason(archive)}")
    made = target is None
    target = Path(tempfile.mkdtemp(prefix="harness-zip-")) if made else target
    request = {"archive": str(Path(archive).resolve()), "target": str(Path(target).resolve()), "kind": kind,
               "max_bytes": MAX_UNPACKED_BYTES, "max_members": MAX_MEMBERS,
               "max_stream_bytes": STREAM_FACTOR * MAX_UNPACKED_BYTES}
    answer, failure = bounded.run("unpacker.py", request, UNPACK_BOUNDS)
    if answer is None:
        error = f"unpacking was stopped: {failure}"
    else:
        error = answer.get("error") or (None if answer.get("ok") is True else "unpacking gave no answer")
    if error:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        raise ArchiveError(f"{archive}: {str(error)[:300]}")
    return target


def unreadable_reason(path: Path) -> str:
    """Why ``path``, which archive_kind does not read, is no submission archive (plain words)."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "not a readable .zip file (damaged or truncated: no zip directory found)"
    if name.endswith(TAR_SUFFIXES):
        return "not a readable tar archive (damaged or truncated)"
    if name.endswith(OTHER_ARCHIVES):
        return (f"a {name[name.rindex('.'):]} archive: the harness reads {READABLE}; "
                "unpack it, or ask for one of those")
    return f"not a folder or an archive ({READABLE})"
