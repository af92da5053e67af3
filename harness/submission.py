"""Find the course's files in what a student handed in.

A submission is a directory that contains stu_upload/ (the course's package
name, from the spec), or is stu_upload/ itself, or holds the files directly
(students often zip the contents rather than the folder), or a .zip of any of
these. The harness never imports from here: the sandbox copies the package
directory into a scratch directory and runs it there.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HarnessError
from .spec import LabSpec

MAX_ZIP_BYTES = 200 << 20


@dataclass
class Submission:
    root: Path                   # what the user named (a directory; a zip is extracted first)
    package_dir: Path            # the directory holding layers_1.py etc.
    origin: Path | None = None   # the path as given (the .zip itself for an archive)
    present: set[str] = field(default_factory=set)
    expected: tuple[str, ...] = ()
    unpacked: bool = False       # root is a temporary directory the archive was extracted into

    def cleanup(self) -> None:
        """Remove the extracted copy of an archive (a directory submission is left alone)."""
        if self.unpacked:
            shutil.rmtree(self.root, ignore_errors=True)

    def missing_file(self, file_name: str) -> str | None:
        """A message when the check's file is absent, with a near match if the student misnamed it."""
        if file_name in self.present:
            return None
        others = sorted(path.name for path in self.package_dir.glob("*.py"))
        import difflib
        close = difflib.get_close_matches(file_name, others, n=1, cutoff=0.6)
        hint = f" (found {close[0]}: the course's file name is {file_name})" if close else ""
        return f"{file_name} is missing from the submission{hint}"


def locate_submission(path: Path, spec: LabSpec) -> Submission:
    if not path.exists():
        raise HarnessError(f"{path}: no such file or directory")
    origin = path.resolve()
    unpacked = path.is_file()
    if unpacked:
        if not zipfile.is_zipfile(path):
            if path.suffix.lower() == ".zip":
                raise HarnessError(f"{path}: not a readable .zip file (damaged or truncated: no zip directory found)")
            raise HarnessError(f"{path}: a submission is a directory or a .zip file")
        path = _extract(path)
    candidates = [path / spec.package, path] + sorted(p for p in path.glob(f"*/{spec.package}") if p.is_dir())
    for candidate in candidates:
        present = {name for name in spec.files if (candidate / name).is_file()}
        if present:
            return Submission(path, candidate, origin, present, spec.files, unpacked)
    # Nothing found: point at the directory we would have used, so every check reports the missing file.
    package_dir = path / spec.package if (path / spec.package).is_dir() else path
    return Submission(path, package_dir, origin, set(), spec.files, unpacked)


def _extract(archive: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="harness-zip-"))
    try:
        with zipfile.ZipFile(archive) as bundle:
            total = sum(info.file_size for info in bundle.infolist())
            if total > MAX_ZIP_BYTES:
                raise HarnessError(f"{archive}: unpacks to {total >> 20} MB, more than the {MAX_ZIP_BYTES >> 20} MB allowed")
            for info in bundle.infolist():
                destination = (target / info.filename).resolve()
                if not destination.is_relative_to(target.resolve()):   # "zip slip": ../ in member names
                    raise HarnessError(f"{archive}: member {info.filename!r} points outside the archive")
            bundle.extractall(target)
    except HarnessError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    # A damaged archive (bad CRC, corrupt deflate data, truncated, encrypted, unknown compression) is an
    # unreadable file: one line, exit status 2, never a traceback.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as error:
        shutil.rmtree(target, ignore_errors=True)
        raise HarnessError(f"{archive}: not a readable .zip file ({type(error).__name__}: {error})") from None
    return target
