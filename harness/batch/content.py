"""The content hash of a class folder's entry: a resumed batch grades again what changed since, and only that.

A folder's hash covers every regular file under it (relative path and bytes, in path order); an
archive's, its bytes. Links are not followed (the sandbox never copies them either), and what
operating systems and editors add (__pycache__, .DS_Store, __MACOSX, .pyc) is left out, so opening a
folder in Finder or running it once does not make it "changed".
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..submission import _junk       # the same files the harness itself ignores in a submission

_CHUNK = 1 << 20
# Bytes read of one file: a file beyond it is hashed by its size and its first and last bytes. The sandbox
# never copies a file this large, and a sparse file of a terabyte (what `tar -S` unpacks) would otherwise
# hold the whole batch while the coordinator reads zeros (red team 2: 20 GB, a minute before any grading).
MAX_HASHED_BYTES = 64 << 20


def content_hash(path: Path) -> str:
    """sha256 hex digest of the entry at ``path`` (a folder or a file)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file() and not path.is_symlink():
        digest.update(b"file\0")
        _add_bytes(digest, path)
        return digest.hexdigest()
    digest.update(b"folder\0")
    for relative, full in _files(path):
        encoded = relative.encode("utf-8", "surrogateescape")
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
        digest.update(full.stat().st_size.to_bytes(8, "big"))
        _add_bytes(digest, full)
    return digest.hexdigest()


def _files(root: Path) -> list[tuple[str, Path]]:
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not _junk(name)
                                   and not os.path.islink(os.path.join(directory, name)))
        for name in sorted(names):
            full = Path(directory, name)
            if _junk(name) or full.is_symlink() or not full.is_file():
                continue
            found.append((full.relative_to(root).as_posix(), full))
    return found


def _add_bytes(digest, path: Path) -> None:
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_HASHED_BYTES:
                digest.update(b"large\0" + size.to_bytes(8, "big") + stream.read(_CHUNK))
                stream.seek(size - _CHUNK)
                digest.update(stream.read(_CHUNK))
                return
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except OSError as error:            # unreadable now: hash the reason, so a later readable copy differs
        digest.update(f"unreadable: {error.strerror}".encode())
