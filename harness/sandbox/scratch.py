"""The scratch directory a session's child works in: a copy of the submission and room to write.

    <session>/work/              the child's scratch root: on its sys.path, its HOME, the only writable place
    <session>/work/<package>/    the copy of the submission, the child's working directory
    <session>/work/tmp/          TMPDIR

Under bubblewrap the child sees only <session>/work, at the same path. When the
sandbox runs under a user id of its own (uids.py) the work tree is handed to
that user; <session> stays the grader's.

The parent copies (the child never sees the original): regular files only,
symbolic links are refused, as are files over the per-file limit and whatever
would take the copy past the scratch limit; each refusal keeps its reason, which
the import step reports when the file is needed. An ``__init__.py`` is created
when missing, so the copy is a package.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRECTORIES = {"__pycache__", ".git", ".hg", ".svn", ".idea", ".vscode", ".ipynb_checkpoints"}
MAX_DEPTH = 8
MAX_ENTRIES = 2000


@dataclass
class Scratch:
    session_dir: Path
    root: Path
    package_dir: Path
    tmp_dir: Path
    sources: list[Path] = field(default_factory=list)          # the copied .py files
    refused: dict[str, str] = field(default_factory=dict)      # relative path -> why it was not copied

    def remove(self) -> None:
        shutil.rmtree(self.session_dir, ignore_errors=True)


def prepare(submission_dir: Path, package: str, max_file_bytes: int, max_total_bytes: int,
            owner: int | None = None) -> Scratch:
    """The scratch directory with a copy of the submission; ``owner``: the user id (and group id) the
    child runs as, when it is not the grader's."""
    session_dir = Path(tempfile.mkdtemp(prefix="nnlab-sandbox-")).resolve()
    root = session_dir / "work"
    scratch = Scratch(session_dir, root, root / package, root / "tmp")
    for directory in (scratch.package_dir, scratch.tmp_dir):
        directory.mkdir(parents=True)
    if submission_dir.is_dir():
        _copy_tree(submission_dir, scratch, max_file_bytes, max_total_bytes)
    init = scratch.package_dir / "__init__.py"
    if not init.exists():
        init.touch()
    if owner is not None:
        _hand_over(root, owner)
    return scratch


def _hand_over(root: Path, owner: int) -> None:
    for directory, subdirectories, files in os.walk(root):
        os.chown(directory, owner, owner, follow_symlinks=False)
        for name in files:
            os.chown(os.path.join(directory, name), owner, owner, follow_symlinks=False)


def _copy_tree(source_dir: Path, scratch: Scratch, max_file_bytes: int, max_total_bytes: int) -> None:
    copied_bytes, entries = 0, 0
    for directory, subdirectories, files in os.walk(source_dir):
        relative_dir = Path(directory).relative_to(source_dir)
        if len(relative_dir.parts) >= MAX_DEPTH:
            subdirectories[:] = []
        subdirectories[:] = sorted(name for name in subdirectories if name not in SKIPPED_DIRECTORIES
                                   and not _refused_link(Path(directory, name), relative_dir / name, scratch))
        for name in sorted(files):
            source, relative = Path(directory, name), (relative_dir / name).as_posix()
            entries += 1
            reason = _refusal(source, max_file_bytes, copied_bytes, max_total_bytes, entries)
            if reason:
                scratch.refused[relative] = reason
                continue
            target = scratch.package_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target, follow_symlinks=False)
            copied_bytes += target.stat().st_size
            if target.suffix == ".py":
                scratch.sources.append(target)


def _refused_link(path: Path, relative: Path, scratch: Scratch) -> bool:
    if path.is_symlink():
        scratch.refused[relative.as_posix()] = "it is a symbolic link, which the grader does not follow"
        return True
    return False


def _refusal(source: Path, max_file_bytes: int, copied_bytes: int, max_total_bytes: int, entries: int) -> str | None:
    if source.is_symlink():
        return "it is a symbolic link, which the grader does not follow"
    if not source.is_file():
        return "it is not a regular file"
    size = source.stat().st_size
    if size > max_file_bytes:
        return f"it is {_size(size)}, over the {_size(max_file_bytes)} limit for a submission file"
    if copied_bytes + size > max_total_bytes:
        return f"the submission is larger than the {_size(max_total_bytes)} the scratch directory holds"
    if entries > MAX_ENTRIES:
        return f"the submission has more than {MAX_ENTRIES} files"
    return None


def _size(count: int) -> str:
    return f"{count / 2 ** 20:.1f} MB" if count >= 2 ** 20 else f"{count / 2 ** 10:.1f} KB"


def usage(root: Path) -> tuple[int, int]:
    """(bytes, entries) under ``root``, without following symbolic links."""
    total, entries, pending = 0, 0, [str(root)]
    while pending:
        try:
            with os.scandir(pending.pop()) as iterator:
                for entry in iterator:
                    entries += 1
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return total, entries
