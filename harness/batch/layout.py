"""Where a batch's outputs go, and the file names derived from submission ids.

    DIR/grades.sqlite                 the store (harness.batch.store): every finished submission
    DIR/<folder>/result.json          one per submission: `harness check --json`'s schema
    DIR/<folder>/report.html          its self-contained page
    DIR/grades.csv, DIR/junit.xml, DIR/index.html, DIR/gradescope/<folder>.json
    DIR/similarity.html               with --similarity
    DIR/.work/                        the run's scratch: shared reference values, the timing lock, era probes

A submission's id is its entry name in full (Unicode, spaces and case kept). Its folder is the id made
safe for every file system a report folder may be copied to (no separators, control or reserved
characters, no leading dot, at most 60 characters and 120 bytes of UTF-8, also once decomposed as macOS
stores names) plus a short hash of the exact id, so `alice smith` and `alice_smith`, `Bob` and `bob` (on a
case-insensitive disk), or two long Chinese names with the same first 60 characters never share a folder.
Folders are recorded in the store and never reused for another id.

File names are limited in bytes (NAME_MAX, 255 on Linux and macOS; 143 on eCryptfs): a folder name of
at most 120 + 1 + 64 bytes leaves room for ``gradescope/<folder>.json``, and temporary files have short
names of their own (``.<pid>-<hex>.tmp``), never the target's name with more added.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

MAX_STEM = 60                  # characters
MAX_STEM_BYTES = 120           # UTF-8 bytes, composed (NFC) and decomposed (NFD, as macOS stores names)
HASH_CHARS = 8
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\s\ud800-\udfff]+')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
STORE_NAME = "grades.sqlite"


def folder_name(submission_id: str, taken: set[str] = frozenset(), hash_chars: int = HASH_CHARS) -> str:
    """A file-system-safe, collision-free folder name for ``submission_id``.

    ``taken``: folder names (compared without case) already used by other ids; the hash grows until
    the name is free.
    """
    stem = unicodedata.normalize("NFC", submission_id)
    stem = _UNSAFE.sub("_", stem).strip("._ ") or "submission"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = _bounded(stem[:MAX_STEM]).rstrip("._ ") or "submission"
    digest = hashlib.sha256(submission_id.encode("utf-8", "surrogatepass")).hexdigest()
    taken_folded = {name.casefold() for name in taken}
    for length in range(hash_chars, len(digest) + 1):
        name = f"{stem}-{digest[:length]}"
        if name.casefold() not in taken_folded:
            return name
    raise ValueError(f"no free folder name for {submission_id!r}")        # 64 hex digits all taken: impossible


def _bounded(stem: str) -> str:
    """``stem`` cut, at a character boundary, to MAX_STEM_BYTES of UTF-8 in both normal forms."""
    while stem and max(len(stem.encode("utf-8")),
                       len(unicodedata.normalize("NFD", stem).encode("utf-8"))) > MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem


@dataclass(frozen=True)
class BatchPaths:
    """The files of a batch in ``out`` (see the module docstring)."""

    out: Path

    @property
    def store(self) -> Path:
        return self.out / STORE_NAME

    @property
    def work(self) -> Path:
        return self.out / ".work"

    @property
    def timing_lock(self) -> Path:
        return self.work / "timing.lock"

    @property
    def shared_values(self) -> Path:
        return self.work / "shared"

    @property
    def probes(self) -> Path:
        """The era probes' answers (harness.era.use_cache), shared by the workers and the similarity report."""
        return self.work / "probes"

    def result_json(self, folder: str) -> Path:
        return self.out / folder / "result.json"

    def report_html(self, folder: str) -> Path:
        return self.out / folder / "report.html"

    def gradescope(self, folder: str) -> Path:
        return self.out / "gradescope" / f"{folder}.json"

    @property
    def grades_csv(self) -> Path:
        return self.out / "grades.csv"

    @property
    def junit(self) -> Path:
        return self.out / "junit.xml"

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    @property
    def similarity(self) -> Path:
        return self.out / "similarity.html"


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, then a rename): a grader killed while
    writing leaves the previous file, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{_token()}.tmp")          # short: the target's name may be near NAME_MAX
    # a lone surrogate (a path that is not UTF-8, quoted in a message) is written as its escape, never an error
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    try:
        with open(temporary, "wb") as stream:
            stream.write(payload)
        temporary.replace(path)
    except BaseException:               # a full disk, a refused name: no temporary file left behind
        temporary.unlink(missing_ok=True)
        raise


def _token() -> str:
    import os
    return f"{os.getpid()}-{os.urandom(3).hex()}"
