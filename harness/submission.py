"""Find the course's files in what a student handed in, and the submissions in a class folder.

A submission is a folder or an archive (harness.archives: .zip in any case,
.tar, .tar.gz, .tgz, made on Windows or macOS). The package directory is the
folder anywhere in its tree that holds the most of the spec's files, the one
named like the spec's package (stu_upload) on a tie, then the shallowest: so
stu_upload/ itself, the folder above it, stu_upload/ three folders deep, or
the files zipped without their folder all work. When no folder holds any,
an archive inside the submission (a zip in the zip, a student folder holding
its upload) is unpacked, one level, and searched the same way.

The harness never imports from here: the sandbox copies the package
directory into a scratch directory and runs it there.

``discover_entries`` lists a class folder: one entry per student folder or
archive, with the entries that cannot be graded and why.
"""
from __future__ import annotations

import difflib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .archives import JUNK_NAMES, archive_kind, looks_like_archive, unpack, unreadable_reason
from .errors import HarnessError
from .spec import LabSpec

MAX_DIRECTORIES = 5_000          # folders searched per submission
MAX_DEPTH = 12
MAX_INNER_ARCHIVES = 4
SHOWN_FILES = 8


@dataclass
class Submission:
    root: Path                   # the folder searched (an archive is unpacked into a temporary one first)
    package_dir: Path            # the directory holding layers_1.py etc.
    origin: Path | None = None   # the path as given (the archive itself for an archive)
    present: set[str] = field(default_factory=set)
    expected: tuple[str, ...] = ()
    unpacked: bool = False       # root is a temporary directory the archive was extracted into
    temporary: list[Path] = field(default_factory=list)     # more unpacked directories (inner archives)
    contents: tuple[str, ...] = ()                          # the files the tree holds, when none was found
    inner: tuple[Path, str] | None = None                   # (unpacked dir, name) of the archive inside used

    def cleanup(self) -> None:
        """Remove the unpacked copies of archives (a directory submission is left alone)."""
        for directory in self.temporary + ([self.root] if self.unpacked else []):
            shutil.rmtree(directory, ignore_errors=True)

    def missing_file(self, file_name: str) -> str | None:
        """A message when the check's file is absent: where the harness looked, what it found, and a near
        match when the student misnamed it (never another file the course requires)."""
        if file_name in self.present:
            return None
        if self.present:
            where = f"{self._shown(self.package_dir)}/ holds {', '.join(sorted(self.present))}"
        else:
            shown = ", ".join(self.contents[:SHOWN_FILES]) or "no files"
            more = f" and {len(self.contents) - SHOWN_FILES} more" if len(self.contents) > SHOWN_FILES else ""
            where = (f"no folder in {shown_path(self.origin or self.root)} holds any of {', '.join(self.expected)}; "
                     f"it has {shown}{more}")
        return f"{file_name} is missing from the submission ({where}){self._near_match(file_name)}"

    def _near_match(self, file_name: str) -> str:
        others = sorted({path.relative_to(self.package_dir).as_posix() for path in _files(self.package_dir, ".py")}
                        - set(self.expected))
        close = difflib.get_close_matches(file_name, others, n=1, cutoff=0.6)
        return f"; found {shown_path(close[0])}: the course's file name is {file_name}" if close else ""

    def _shown(self, directory: Path) -> str:
        """The directory as the student knows it: relative to what they handed in."""
        base, name = self.root, self.origin.name if self.origin else self.root.name
        if self.inner is not None and directory.is_relative_to(self.inner[0]):
            base, name = self.inner[0], f"{name}/{self.inner[1]}"
        relative = directory.relative_to(base).as_posix()
        return shown_path(name if relative == "." else f"{name}/{relative}")


def locate_submission(path: Path, spec: LabSpec) -> Submission:
    """The submission at ``path`` (a folder or an archive) with its package directory found.

    Raises HarnessError when ``path`` does not exist or is an archive that cannot be unpacked.
    """
    if not path.exists():
        raise HarnessError(f"{path}: no such file or directory")
    origin = path.resolve()
    unpacked = path.is_file()
    root = unpack(path) if unpacked else path
    submission = Submission(root, root, origin, set(), spec.files, unpacked)
    found = _best_package_dir(root, spec)
    if found is None:
        found = _search_inner_archives(submission, spec)
    if found is not None:
        submission.package_dir, submission.present = found
        return submission
    # Nothing found: point at the directory we would have used, so every check reports the missing file.
    submission.package_dir = root / spec.package if (root / spec.package).is_dir() else root
    submission.contents = tuple(shown_path(path.relative_to(root).as_posix()) for path in _files(root))
    return submission


def _best_package_dir(root: Path, spec: LabSpec) -> tuple[Path, set[str]] | None:
    best, best_key = None, None
    for directory, depth in _directories(root):
        present = {name for name in spec.files if (directory / name).is_file()}
        if not present:
            continue
        key = (len(present), directory.name == spec.package, -depth)
        if best_key is None or key > best_key:
            best, best_key = (directory, present), key
    return best


def _search_inner_archives(submission: Submission, spec: LabSpec) -> tuple[Path, set[str]] | None:
    archives = [path for path in _files(submission.root) if archive_kind(path)][:MAX_INNER_ARCHIVES]
    for archive in archives:
        try:
            inner = unpack(archive)
        except HarnessError:
            continue                 # a damaged inner archive: the files are reported missing
        submission.temporary.append(inner)
        found = _best_package_dir(inner, spec)
        if found is not None:
            submission.inner = (inner, archive.relative_to(submission.root).as_posix())
            return found
    return None


def _directories(root: Path):
    """(directory, depth) for ``root`` and the folders under it, breadth first, without junk or links."""
    pending, seen = [(root, 0)], 0
    while pending and seen < MAX_DIRECTORIES:
        directory, depth = pending.pop(0)
        seen += 1
        yield directory, depth
        if depth >= MAX_DEPTH:
            continue
        try:
            children = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        pending += [(Path(entry.path), depth + 1) for entry in children
                    if entry.is_dir(follow_symlinks=False) and not _junk(entry.name)]


def _files(root: Path, suffix: str = "") -> list[Path]:
    """The regular files under ``root`` (junk left out), shallowest first."""
    found = []
    for directory, _ in _directories(root):
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        found += [Path(entry.path) for entry in entries if entry.is_file(follow_symlinks=False)
                  and not _junk(entry.name) and entry.name.endswith(suffix)]
    return found


def _junk(name: str) -> bool:
    return name in JUNK_NAMES or name.startswith("._") or name.endswith((".pyc", ".pyo"))


# --- a class folder ----------------------------------------------------------------------------------------

class Entry(NamedTuple):
    """One entry of a class folder.

    id      the entry's name in full (Unicode, spaces and case kept), unique within the folder, always valid
            Unicode (entry_name: a name that is not UTF-8 is read as GB18030, else shown with escapes)
    path    the folder or archive (the name as the file system has it: for file access, never for display)
    status  "gradable"; "unreadable" (an archive that cannot be unpacked: graded as an error row, with the
            reason); or "skipped" (not a submission: a stray file, an empty folder, system junk)
    reason  plain words for a status other than gradable
    """

    id: str
    path: Path
    status: str
    reason: str = ""


def discover_entries(root: Path) -> list[Entry]:
    """Every entry of the class folder ``root``, in id order, each with its status and reason.

    Ids are unique: a name that is not UTF-8 whose reading (GB18030) another entry already has as its UTF-8
    name is shown with escapes instead (then numbered, should even that be taken)."""
    root = Path(root)
    if not root.is_dir():
        raise HarnessError(f"{root}: {not_a_folder(root)}")
    raw_names = sorted(entry.name for entry in os.scandir(os.fsencode(root)))
    utf8 = {raw.decode("utf-8", "surrogateescape") for raw in raw_names if _is_utf8(raw)}
    entries, taken = [], set(utf8)
    for raw in raw_names:
        path = Path(os.fsdecode(os.path.join(os.fsencode(root), raw)))
        if _is_utf8(raw):
            entries.append(_classify(path, raw.decode("utf-8")))
            continue
        name = entry_name(raw)
        if name in taken:
            name = raw.decode("utf-8", "backslashreplace")
            name = next(candidate for candidate in (name, *(f"{name} ({count})" for count in range(2, len(taken) + 3)))
                        if candidate not in taken)
        taken.add(name)
        entries.append(_classify(path, name))
    return sorted(entries, key=lambda entry: entry.id)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def entry_name(raw: bytes) -> str:
    """The name of a class folder's entry as valid Unicode: UTF-8; else GB18030 (GBK: what ``unzip`` leaves of a
    zip made on Chinese Windows, whose names are not marked UTF-8); else the bytes that are not UTF-8 as
    backslash escapes (``\\xd5``)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "backslashreplace")


def shown_path(path) -> str:
    """``path`` for a message: each name read as ``entry_name`` reads it (a folder named in GBK shows its Chinese
    name, not the escapes of its bytes)."""
    return "/".join(entry_name(part) for part in os.fsencode(str(path)).split(b"/"))


def not_a_folder(path: Path) -> str:
    """Why ``path``, which is not a directory, cannot be a class folder."""
    if not path.exists():
        return "no such file or directory"
    return "not a directory (grade takes the class folder: one folder or archive per student)"


def _classify(path: Path, name: str | None = None) -> Entry:
    raw_name = path.name
    name = raw_name if name is None else name
    if _junk(raw_name) or raw_name.startswith("."):
        return Entry(name, path, "skipped", "system or hidden file, not a submission")
    if path.is_symlink():
        return Entry(name, path, "skipped", "a symbolic link (not followed)")
    if path.is_dir():
        if not _files(path):
            return Entry(name, path, "skipped", "an empty folder")
        return Entry(name, path, "gradable")
    if archive_kind(path):
        return Entry(name, path, "gradable")
    if looks_like_archive(path):
        return Entry(name, path, "unreadable", unreadable_reason(path))
    return Entry(name, path, "skipped", unreadable_reason(path))
