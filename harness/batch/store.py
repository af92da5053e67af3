"""The batch's record of finished submissions: one SQLite database in the output folder (stdlib sqlite3).

Every finished submission is written in one transaction (its result JSON, its report page, its content
hash, the grading log line), so a grader killed at any moment, SIGKILL included, has either recorded a
submission completely or not at all; the files in the output folder are written from the store after
the commit and can always be written again from it. The database runs in WAL mode: a reader (the
cohort page, a second terminal) never blocks the grader.

Tables:
    results    id -> the latest grading: lab, folder, content and spec hashes, status, score, level,
               result JSON, report HTML (zlib), when and in which run
    graded     the grading log: one row per grading ever done (a resumed run adds none for the
               submissions it kept); a regrade that changed a score says by how much
    entries    the entries of the last run that were not graded, with the reason
    problems   submissions whose files (result.json, report.html, gradescope/) could not be written: why
               (shown in the row's reason until a later run writes them)
    runs       one row per run: mode, jobs, executor, start and end

Text is stored as valid UTF-8 whatever it holds: a lone surrogate (a file name that is not UTF-8, as
``os`` hands it over) is written as a backslash escape, never a reason to lose the submission.
"""
from __future__ import annotations

import json
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, mode TEXT, jobs INTEGER,
    executor TEXT, harness_version TEXT);
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, lab TEXT NOT NULL, folder TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', score REAL, max_score REAL,
    level INTEGER, result_json TEXT NOT NULL, report_html BLOB, graded_at REAL NOT NULL, run INTEGER NOT NULL,
    wall_seconds REAL, submission_seconds REAL);
CREATE TABLE IF NOT EXISTS graded (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, run INTEGER NOT NULL, at REAL NOT NULL,
    previous_score REAL, score REAL, previous_level INTEGER, level INTEGER, status TEXT);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (id TEXT PRIMARY KEY, problem TEXT NOT NULL);
"""


@dataclass
class Record:
    """One submission's latest grading, as stored."""

    id: str
    lab: str
    folder: str
    content_hash: str
    spec_sha256: str
    status: str
    reason: str
    score: float | None
    max_score: float | None
    level: int | None
    result_json: str
    report_html: str | None
    graded_at: float
    run: int
    wall_seconds: float | None = None
    submission_seconds: float | None = None

    @property
    def result(self) -> dict:
        return json.loads(self.result_json)


@dataclass
class Change:
    id: str
    previous_score: float | None
    score: float | None
    previous_level: int | None
    level: int | None


class Store:
    """The SQLite store of one output folder. ``Store(path)`` creates it when absent."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT), one per submission
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")     # WAL + NORMAL: a killed process loses no commit
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- runs -------------------------------------------------------------------------------------
    def start_run(self, mode: str, jobs: int, executor: str, harness_version: str) -> int:
        cursor = self._db.execute("INSERT INTO runs (started, mode, jobs, executor, harness_version) "
                                  "VALUES (?, ?, ?, ?, ?)", (time.time(), mode, jobs, executor, harness_version))
        return int(cursor.lastrowid)

    def finish_run(self, run: int) -> None:
        self._db.execute("UPDATE runs SET finished = ? WHERE run = ?", (time.time(), run))

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def has_results(self) -> bool:
        return self._db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is not None

    # --- results ----------------------------------------------------------------------------------
    def record(self, record: Record) -> Change | None:
        """Store one finished submission in one transaction; the change of score when it replaces an
        earlier grading whose score or level differs."""
        record = _valid(record)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.execute("SELECT score, level FROM results WHERE id = ?", (record.id,)).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO results (id, lab, folder, content_hash, spec_sha256, status, reason, score, "
                "max_score, level, result_json, report_html, graded_at, run, wall_seconds, submission_seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.lab, record.folder, record.content_hash, record.spec_sha256, record.status,
                 record.reason, record.score, record.max_score, record.level, record.result_json,
                 _pack(record.report_html), record.graded_at, record.run, record.wall_seconds,
                 record.submission_seconds))
            db.execute("INSERT INTO graded (id, run, at, previous_score, score, previous_level, level, status) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (record.id, record.run, record.graded_at, before[0] if before else None, record.score,
                        before[1] if before else None, record.level, record.status))
            db.execute("DELETE FROM entries WHERE id = ?", (record.id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if before is not None and (before[0] != record.score or before[1] != record.level):
            return Change(record.id, before[0], record.score, before[1], record.level)
        return None

    def get(self, submission_id: str) -> Record | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM results WHERE id = ?", (valid_text(submission_id),)).fetchone()
        return self._with_problem(_record(row)) if row else None

    def records(self) -> list[Record]:
        """Every stored submission, by id."""
        return [self._with_problem(_record(row))
                for row in self._db.execute(f"SELECT {_COLUMNS} FROM results ORDER BY id")]

    def set_file_problem(self, submission_id: str, problem: str | None) -> None:
        """Why the submission's files could not be written (None: they were): its row's reason says so."""
        if problem:
            self._db.execute("INSERT OR REPLACE INTO problems (id, problem) VALUES (?, ?)",
                             (valid_text(submission_id), valid_text(problem)))
        else:
            self._db.execute("DELETE FROM problems WHERE id = ?", (valid_text(submission_id),))

    def _with_problem(self, record: Record) -> Record:
        row = self._db.execute("SELECT problem FROM problems WHERE id = ?", (record.id,)).fetchone()
        if row:
            record.reason = f"{record.reason}; {row[0]}" if record.reason else row[0]
        return record

    def folders(self) -> dict[str, str]:
        """id -> folder of every submission ever stored (a folder is never given to another id)."""
        return dict(self._db.execute("SELECT id, folder FROM results"))

    def times_graded(self) -> dict[str, int]:
        """id -> how many gradings the log holds."""
        return dict(self._db.execute("SELECT id, COUNT(*) FROM graded GROUP BY id"))

    def changes(self, run: int) -> list[Change]:
        """The submissions whose score or level this run changed."""
        rows = self._db.execute(
            "SELECT id, previous_score, score, previous_level, level FROM graded WHERE run = ? AND seq IN "
            "(SELECT MAX(seq) FROM graded WHERE run = ? GROUP BY id) AND previous_score IS NOT NULL "
            "AND (previous_score IS NOT score OR previous_level IS NOT level) ORDER BY id", (run, run))
        return [Change(*row) for row in rows]

    # --- entries not graded -------------------------------------------------------------------------
    def set_not_graded(self, entries: list[tuple[str, str, str]]) -> None:
        """The entries of this run that are not submissions: (id, status, reason), replacing the last run's."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM entries")
            db.executemany("INSERT OR REPLACE INTO entries (id, status, reason) VALUES (?, ?, ?)",
                           [tuple(valid_text(value) for value in entry) for entry in entries])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def not_graded(self) -> list[tuple[str, str, str]]:
        return list(self._db.execute("SELECT id, status, reason FROM entries ORDER BY id"))


_COLUMNS = ("id, lab, folder, content_hash, spec_sha256, status, reason, score, max_score, level, result_json, "
            "report_html, graded_at, run, wall_seconds, submission_seconds")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (undecodable bytes of a file name, as os.fsdecode gives them)
    become backslash escapes of the bytes they stand for (``\\xd5``); anything else is kept."""
    if not isinstance(text, str):
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if _escapable(text) else "surrogatepass").decode(
            "utf-8", "backslashreplace")


def _escapable(text: str) -> bool:
    return all(not 0xD800 <= ord(character) <= 0xDFFF or 0xDC80 <= ord(character) <= 0xDCFF for character in text)


def _valid(record: Record) -> Record:
    import dataclasses
    return dataclasses.replace(record, **{name: valid_text(getattr(record, name)) for name in
                                          ("id", "lab", "folder", "status", "reason", "result_json", "report_html")})


def _record(row) -> Record:
    values = list(row)
    values[11] = _unpack(values[11])
    return Record(*values)


def _pack(text: str | None) -> bytes | None:
    return zlib.compress(text.encode("utf-8"), 6) if text is not None else None


def _unpack(blob: bytes | None) -> str | None:
    return zlib.decompress(blob).decode("utf-8") if blob is not None else None
