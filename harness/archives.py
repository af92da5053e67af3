"""Unpack a student's archive safely, as students make them.

Formats: .zip (any case of the extension; what decides is the content),
.tar, .tar.gz / .tgz, .tar.bz2, .tar.xz. Students' archives come from
Windows (backslash separators, drive letters, member names in GBK from
Chinese zip tools that do not set the UTF-8 flag) and macOS (__MACOSX/ and
.DS_Store beside the files).

Only regular files and folders are written: links, devices and FIFOs are
left out, member names that climb out with ``..`` make the archive refused,
absolute names (``/home/x/a.py``, ``C:\\Users\\x\\a.py``) are read as
relative. The bytes written and the number of members are limited while
unpacking (a header's claimed size is not trusted).

Every failure is an ``ArchiveError`` with one line saying why.
"""
from __future__ import annotations

import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .errors import HarnessError

MAX_UNPACKED_BYTES = 200 << 20
MAX_MEMBERS = 20_000
_CHUNK = 1 << 16
_UTF8_FLAG = 0x800
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
OTHER_ARCHIVES = (".rar", ".7z", ".gz", ".bz2", ".xz", ".zipx")
# Folders and files that operating systems add to archives; never part of a submission
JUNK_NAMES = frozenset(("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", "__pycache__", ".git", ".idea",
                        ".vscode", ".ipynb_checkpoints"))
_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(HarnessError):
    """An archive that cannot be unpacked (damaged, encrypted, too large, or with hostile member names)."""


def archive_kind(path: Path) -> str | None:
    """"zip" or "tar" when ``path`` is an archive the harness reads (by content, whatever the extension)."""
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, tarfile.TarError, zlib.error):
        pass
    return None


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
    try:
        budget = _Budget(archive)
        if kind == "zip":
            _unpack_zip(archive, target, budget)
        else:
            _unpack_tar(archive, target, budget)
    except ArchiveError:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        raise
    # A damaged archive (bad CRC, corrupt data, truncated, encrypted, unknown compression) is an unreadable
    # file: one line, never a traceback.
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
            ValueError, UnicodeError) as error:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        shown = "a readable .zip file" if kind == "zip" else "a readable tar archive"
        raise ArchiveError(f"{archive}: not {shown} ({type(error).__name__}: {error})") from None
    return target


def unreadable_reason(path: Path) -> str:
    """Why ``path``, which archive_kind does not read, is no submission archive (plain words)."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "not a readable .zip file (damaged or truncated: no zip directory found)"
    if name.endswith(TAR_SUFFIXES):
        return "not a readable tar archive (damaged or truncated)"
    if name.endswith(OTHER_ARCHIVES):
        return (f"a {name[name.rindex('.'):]} archive: the harness reads .zip, .tar, .tar.gz and .tgz; "
                "unpack it, or ask for one of those")
    return "not a folder or an archive (.zip, .tar, .tar.gz, .tgz)"


class _Budget:
    def __init__(self, archive: Path):
        self.archive, self.bytes, self.members = archive, 0, 0

    def member(self) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise ArchiveError(f"{self.archive}: more than {MAX_MEMBERS} members")

    def write(self, size: int) -> None:
        self.bytes += size
        if self.bytes > MAX_UNPACKED_BYTES:
            raise ArchiveError(f"{self.archive}: unpacks to more than the {MAX_UNPACKED_BYTES >> 20} MB allowed")


def member_path(name: str) -> PurePosixPath | None:
    """The relative path a member name stands for; None for junk. Raises ArchiveError for ``..``."""
    parts = [part for part in _DRIVE.sub("", name.replace("\\", "/")).split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ArchiveError(f"member {name!r} points outside the archive")
    if not parts or any(part in JUNK_NAMES or part.startswith("._") for part in parts):
        return None
    return PurePosixPath(*parts)


def decode_zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it: zip tools on Chinese Windows write GBK bytes without the
    UTF-8 flag, which zipfile reads as cp437; others write UTF-8 without the flag."""
    if info.flag_bits & _UTF8_FLAG or info.filename.isascii():
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


def _unpack_zip(archive: Path, target: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            budget.member()
            name = decode_zip_name(info)
            try:
                destination = _destination(target, name)
            except ArchiveError:
                raise ArchiveError(f"{archive}: member {name!r} points outside the archive") from None
            kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0     # 3: Unix
            if destination is None or kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                continue                                   # junk, or a link / device stored by a Unix zip
            if info.is_dir() or name.endswith(("/", "\\")):
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(destination, "wb") as sink:
                _copy(source, sink, budget)


def _unpack_tar(archive: Path, target: Path, budget: _Budget) -> None:
    with tarfile.open(archive) as bundle:
        for member in bundle:
            budget.member()
            try:
                destination = _destination(target, member.name)
            except ArchiveError:
                raise ArchiveError(f"{archive}: member {member.name!r} points outside the archive") from None
            if destination is None:
                continue
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            elif member.isreg():                           # links, devices and FIFOs are left out
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = bundle.extractfile(member)
                with source, open(destination, "wb") as sink:
                    _copy(source, sink, budget)


def _copy(source, sink, budget: _Budget) -> None:
    while True:
        chunk = source.read(_CHUNK)
        if not chunk:
            return
        budget.write(len(chunk))
        sink.write(chunk)
