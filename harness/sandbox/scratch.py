"""The scratch directory a session's child works in: a copy of the submission and room to write.

    <session>/.owner             held with an exclusive flock by the grader process as long as the session lives
    <session>/work/              the copy: on the child's sys.path, its HOME
    <session>/work/<package>/    the copy of the submission, the child's working directory
    <session>/work/tmp/          TMPDIR

Under bubblewrap the child never writes here: <session>/work is bound read-only
at <session>/seed, a size-capped tmpfs is mounted at <session>/work's own path,
and the child copies the seed into it as it starts (bwrap.py, child.py). Without
bubblewrap the child works in <session>/work itself and the parent walks it
(``usage``). When the sandbox runs under a user id of its own (uids.py) the work
tree is handed to that user; <session> stays the grader's.

The parent copies (the child never sees the original): regular files only,
symbolic links are refused, as are files over the per-file limit and whatever
would take the copy past the scratch limit; each refusal keeps its reason, which
the import step reports when the file is needed. An ``__init__.py`` is created
when missing, so the copy is a package.

A grader killed with SIGKILL cannot remove its scratch directories: the next
session of any grader of the same user removes those whose ``.owner`` lock is
free (``remove_stale``, once per process).
"""
from __future__ import annotations

import fcntl
import functools
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

COMPILED_SUFFIXES = {".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib"}
SKIPPED_DIRECTORIES = {"__pycache__", ".git", ".hg", ".svn", ".idea", ".vscode", ".ipynb_checkpoints"}
MAX_DEPTH = 8
MAX_ENTRIES = 2000
MAX_WATCH_DEPTH = 64                  # the parent's walk: deeper nesting is a violation, not a blind spot
PREFIX = "nnlab-sandbox-"
OWNER_FILE = ".owner"
UNLOCKED_GRACE_SECONDS = 600          # a directory without an owner file yet: being made, unless this old


@dataclass
class Scratch:
    session_dir: Path
    root: Path
    package_dir: Path
    tmp_dir: Path
    sources: list[Path] = field(default_factory=list)          # the copied .py files
    refused: dict[str, str] = field(default_factory=dict)      # relative path -> why it was not copied
    lock_fd: int = -1                                          # the flock on <session>/.owner

    @property
    def seed_dir(self) -> Path:
        """Where the child sees the read-only copy under bubblewrap."""
        return self.session_dir / "seed"

    def remove(self) -> None:
        shutil.rmtree(self.session_dir, ignore_errors=True)
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1


def prepare(submission_dir: Path, package: str, max_file_bytes: int, max_total_bytes: int,
            owner: int | None = None) -> Scratch:
    """The scratch directory with a copy of the submission; ``owner``: the user id (and group id) the
    child runs as, when it is not the grader's."""
    _remove_stale_once()
    session_dir = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
    root = session_dir / "work"
    scratch = Scratch(session_dir, root, root / package, root / "tmp", lock_fd=_hold(session_dir / OWNER_FILE))
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
            if _stale_cache(source):        # Python 2 wrote layers_1.pyc beside layers_1.py: nothing to say
                continue
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


def _stale_cache(source: Path) -> bool:
    return source.suffix.lower() in (".pyc", ".pyo") and source.with_suffix(".py").is_file()


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
    if source.suffix.lower() in COMPILED_SUFFIXES:
        # Python would import a lone .pyc (or a native module) in place of a missing .py: code nobody can
        # read, compare for similarity or judge for loops. Beside its .py it is only a stale cache.
        return "it is compiled code, which the grader does not run: hand in the .py source"
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


def usage(root: Path, max_depth: int = MAX_WATCH_DEPTH) -> tuple[int, int, str | None]:
    """(bytes, entries, problem) under ``root``, without following symbolic links.

    Every directory is opened relative to its parent's descriptor, so no path length limit applies
    (a tree nested past PATH_MAX cannot hide). ``problem`` is set, in plain words, when part of the tree
    cannot be read or is nested deeper than ``max_depth``: the caller treats that as a violation, since
    what it cannot see it cannot bound.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        top = os.open(root, flags)
    except OSError as error:
        return 0, 0, f"the scratch directory cannot be read ({error.strerror or error})"
    totals = [0, 0]
    stack = [(top, _listing(top, totals))]
    problem = None
    try:
        while stack and problem is None:
            fd, pending = stack[-1]
            if isinstance(pending, str):
                problem = pending
            elif not pending:
                os.close(stack.pop()[0])
            elif len(stack) > max_depth:
                problem = f"directories nested more than {max_depth} deep"
            else:
                try:
                    inner = os.open(pending.pop(), flags, dir_fd=fd)
                except OSError as error:
                    problem = f"a directory the grader cannot open ({error.strerror or error})"
                    continue
                stack.append((inner, _listing(inner, totals)))
    finally:
        for fd, _ in stack:
            os.close(fd)
    return totals[0], totals[1], problem


def _listing(fd: int, totals: list[int]) -> list[str] | str:
    """The names of the subdirectories of the open directory ``fd`` (its files added to ``totals``), or
    the reason it cannot be listed."""
    directories = []
    try:
        with os.scandir(fd) as iterator:
            for entry in iterator:
                totals[1] += 1
                if entry.is_dir(follow_symlinks=False):
                    directories.append(entry.name)
                else:
                    totals[0] += entry.stat(follow_symlinks=False).st_blocks * 512
    except OSError as error:
        return f"a directory the grader cannot list ({error.strerror or error})"
    return directories


def _hold(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@functools.cache
def _remove_stale_once() -> list[str]:
    return remove_stale()


def remove_stale(parent: Path | None = None) -> list[str]:
    """Remove the scratch directories of graders that are gone (their ``.owner`` lock is free): only
    directories of this user, never a symbolic link; returns their names."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    try:
        entries = [entry for entry in os.scandir(parent) if entry.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.geteuid() or entry.name == f"{PREFIX}uids":
            continue
        if _owner_gone(Path(entry.path), info.st_mtime):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _owner_gone(session_dir: Path, modified: float) -> bool:
    try:
        fd = os.open(session_dir / OWNER_FILE, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:                   # made by mkdtemp a moment ago, or by an older harness
        return time.time() - modified > UNLOCKED_GRACE_SECONDS
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False                            # its grader holds it
    finally:
        os.close(fd)                            # (dropping the lock we may have taken)
    return True
