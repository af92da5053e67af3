"""Which Python a submission was written for, and how the child loads it (Python 2.7 semantics or 3).

    era = decide(package_dir, "auto")          # "2", "3" or "auto"
    era.plan        -> SandboxConfig.python: how the child loads each planned file (sandbox/classic.py)
    era.semantics   -> SubmissionResult.semantics: {"python", "division", "reason", "evidence"}

The sources are parsed and translated by harness/py2probe.py in a subprocess
bounded in time, memory and CPU: the grader never parses untrusted code
itself. The probe only parses; the child runs the code. What it reads is
bounded too (MAX_SOURCE_BYTES a file, MAX_TOTAL_BYTES in all, smallest files
first: translating a megabyte of Python 2 takes fissix about 35 s); a file
beyond is not examined and the semantics' notes say so.

A probe runs once per submission content: its answer is kept by the hash of
what it read and the mode, in this process and, when a batch names one
(``use_cache``), in a folder every worker and the similarity report share; a
probe that ran out of time or memory is not run again for the same files in
any mode. Its seconds (``Era.probe_seconds``, 0 for a kept answer) are charged
to the submission's time budget (harness.runner), and the probe gets no more
time than that budget has.

Auto mode decides from evidence (py2probe._decide): Python-2-only syntax
(the file fails to compile as Python 3 and compiles once translated) and Python
2 bytecode. ``from __future__`` imports are no evidence (Python 3 students kept
CS231n's ``from __future__ import print_function``), and ``from __future__
import division`` keeps its own file on true division whatever is decided.
Without any evidence, the submission runs as Python 3; if that run fails with an error classic
division explains (a float where an integer is needed, in the submission's
own code) and nothing in the submission is Python 3 only (f-strings,
``print(..., end=)``, ``//`` written on purpose, ...), the runner checks the
whole submission again with Python 2 semantics (``Era.as_python2``). Python 3
code never gets classic division: it would turn ``1 / (2 * N * C * H * W)``
into 0.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("2", "3", "auto")
PROBE_SECONDS = 60.0
PROBE_ADDRESS_SPACE = 2 << 30
MAX_SOURCE_BYTES = 1 << 20              # per file (fissix: ~35 s a megabyte of dense Python 2)
MAX_TOTAL_BYTES = 1 << 20               # in all, smallest files first
MAX_SOURCES = 500
MEMO_ENTRIES = 16                       # answers kept in this process (each holds translated sources)
_SKIPPED_DIRECTORIES = {".git", ".hg", ".svn", ".idea", ".vscode", ".ipynb_checkpoints"}
_MAX_DEPTH = 8
# The messages of a float where Python needs an integer: what `/` between integers causes once it
# divides truly (sizes, ranges, slices, indices, reshape and zeros arguments).
FLOAT_WHERE_INT = (
    "'float' object cannot be interpreted as an integer",
    "slice indices must be integers",
    "indices must be integers",
    "only integers, slices",
    "expected an integer",
    "integer argument expected, got float",
    "cannot be safely interpreted as an integer",
    "must be integer",
    "'numpy.float64' object cannot be interpreted as an integer",
    "'numpy.float32' object cannot be interpreted as an integer",
)

@dataclass
class Era:
    mode: str                               # what was asked: "2", "3", "auto"
    python: str                             # "2.7" | "3"
    division: str                           # "classic" | "true"
    reason: str
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: dict = field(default_factory=dict)               # the plan: relative path -> entry (py2probe)
    python3_evidence: list[str] = field(default_factory=list)
    probe_seconds: float = 0.0              # wall-clock seconds of the probe (reading the files, the subprocess)
    package_dir: Path | None = None
    probe_limit: float | None = None        # the most a probe of this submission may take (its budget)

    @property
    def plan(self) -> dict | None:
        """What the child needs (SandboxConfig.python), or None when every file loads as Python reads it."""
        return {"python": self.python, "files": self.files} if self.files else None

    @property
    def semantics(self) -> dict:
        return {"python": self.python, "division": self.division, "reason": self.reason,
                "evidence": list(self.evidence) + [f"note: {note}" for note in self.notes],
                "mode": self.mode, "probe_seconds": round(self.probe_seconds, 3)}

    @property
    def may_retry(self) -> bool:
        """Whether a float-where-int error would send the submission back with Python 2 semantics."""
        return self.mode == "auto" and self.python == "3" and not self.python3_evidence and self.package_dir is not None

    def retry_as_python2(self, error) -> "Era | None":
        """The era to check again with after a Python 3 run failed with ``error`` (a ChildError), or None.

        Only in auto mode, only when the run was Python 3 with nothing Python 3 only in the submission,
        and only for an error that classic division explains, raised in the submission's own code.
        """
        if not self.may_retry or not classic_division_explains(error):
            return None
        where = f"{error.file}:{error.line}" if error.line else str(error.file)
        retried = decide(self.package_dir, "2", self.probe_limit)
        retried.mode = "auto"
        retried.reason = (f"the Python 3 run failed in {where} ({error.exc_type}: {_first_line(error.message)}), "
                          "an error classic division explains, and nothing in the submission is Python 3 only; "
                          f"checked again with Python 2.7 semantics: {_after_semicolon(retried.reason)}")
        retried.evidence = [f"{where}: {error.exc_type}: {_first_line(error.message)} under Python 3"] + self.evidence
        retried.probe_seconds += self.probe_seconds
        return retried


def classic_division_explains(error) -> bool:
    """Whether a child's error is a float where an integer was needed, raised through the submission's code."""
    if error is None or not getattr(error, "file", None):
        return False
    if getattr(error, "exc_type", "") not in ("TypeError", "IndexError", "ValueError"):
        return False
    message = str(getattr(error, "message", ""))
    return any(text in message for text in FLOAT_WHERE_INT)


def decide(package_dir: Path, mode: str = "auto", seconds: float | None = None) -> Era:
    """The era of the submission in ``package_dir`` (``mode`` "auto") or the plan for the one given.

    ``seconds``: the most the probe may take (what is left of the submission's budget; at most PROBE_SECONDS).
    """
    if mode not in MODES:
        raise ValueError(f"python must be one of {', '.join(MODES)}, not {mode!r}")
    package_dir = Path(package_dir)
    started = time.perf_counter()
    try:
        files, bytecode, skipped = _sources(package_dir)
        skipped = _sourceless(package_dir, bytecode) + skipped
        answer, failure = _probe(mode, files, bytecode, seconds)
    except (OSError, ValueError) as error:     # an unreadable file: the run goes on as Python 3, and says why
        answer, failure, skipped = None, f"{type(error).__name__}: {error}", []
    spent = time.perf_counter() - started
    if answer is None:
        python = "2.7" if mode == "2" else "3"
        return Era(mode, "3", "true", f"the sources could not be examined ({failure}); run as Python 3",
                   notes=skipped + ([f"Python {python} was asked for but could not be applied"] if mode == "2" else []),
                   probe_seconds=spent, package_dir=package_dir, probe_limit=seconds)
    return Era(mode, answer["python"], answer["division"], answer["reason"], list(answer.get("evidence", [])),
               skipped + list(answer.get("notes", [])), dict(answer.get("files", {})),
               list(answer.get("python3_evidence", [])), spent, package_dir, seconds)


def _sources(package_dir: Path) -> tuple[dict[str, bytes], list[dict], list[str]]:
    """The .py files (bytes) and the .pyc files (first four bytes) under ``package_dir``, as the sandbox copies
    them: regular files only (no symbolic links), bounded in size and number, the smallest first."""
    candidates, bytecode = [], []
    for directory, subdirectories, names in os.walk(package_dir):
        relative_dir = Path(directory).relative_to(package_dir)
        subdirectories[:] = sorted(name for name in subdirectories if name not in _SKIPPED_DIRECTORIES
                                   and not os.path.islink(os.path.join(directory, name))
                                   and len(relative_dir.parts) < _MAX_DEPTH)
        for name in sorted(names):
            path, relative = Path(directory, name), (relative_dir / name).as_posix()
            if path.is_symlink() or not path.is_file():
                continue
            if name.endswith(".pyc"):
                bytecode.append({"path": relative, "magic": _head(path), "in_pycache": "__pycache__" in path.parts})
            elif name.endswith(".py") and "__pycache__" not in relative_dir.parts:
                candidates.append((path.stat().st_size, relative, path))
    files, skipped, total = {}, [], 0
    for size, relative, path in sorted(candidates):
        if size > MAX_SOURCE_BYTES or total + size > MAX_TOTAL_BYTES or len(files) >= MAX_SOURCES:
            skipped.append(f"{relative} ({size >> 10} KB) was not examined for its Python version: the probe reads "
                           f"at most {MAX_SOURCE_BYTES >> 10} KB a file and {MAX_TOTAL_BYTES >> 10} KB in all, "
                           "so it loads as Python 3 reads it")
            continue
        files[relative] = path.read_bytes()[:MAX_SOURCE_BYTES]
        total += len(files[relative])
    return files, bytecode[:MAX_SOURCES], skipped


def _sourceless(package_dir: Path, bytecode: list[dict]) -> list[str]:
    """A note for compiled code shipped without its source (``_impl.pyc`` beside no ``_impl.py``): Python imports
    it as it would the source, so it runs, but no report shows it and the similarity report cannot compare it."""
    lone = [item["path"] for item in bytecode
            if not item["in_pycache"] and not (package_dir / item["path"][:-1]).is_file()]
    if not lone:
        return []
    return [f"compiled code without its source: {', '.join(lone[:8])}{' ...' if len(lone) > 8 else ''} "
            "(imported as the source would be: it runs when the code imports it, but cannot be read or compared)"]


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            return stream.read(4).hex()
    except OSError:
        return ""


def _probe(mode: str, files: dict[str, bytes], bytecode: list[dict],
           seconds: float | None = None) -> tuple[dict | None, str]:
    """py2probe's answer, from a subprocess bounded in time, memory and CPU, or kept from an earlier probe of the
    same files; (None, why) when it failed."""
    from . import bounded
    content = _content_key(files, bytecode)
    kept = _recall(content, mode)
    if kept is not None:
        return kept
    seconds = PROBE_SECONDS if seconds is None else max(0.0, min(PROBE_SECONDS, seconds))
    if seconds <= 0:
        return None, "no time was left of the submission's budget"
    request = {"mode": mode, "files": {path: raw.decode("latin-1") for path, raw in files.items()},
               "bytecode": bytecode}
    limits = bounded.Bounds(address_space=PROBE_ADDRESS_SPACE, cpu_seconds=int(seconds) + 1,
                            wall_seconds=seconds)
    answer, failure = bounded.run("py2probe.py", request, limits, translator_path())
    if answer is None:
        failure = ("reading them " + failure[3:]) if failure.startswith("it ") else failure
        if seconds >= PROBE_SECONDS:            # not cut short by a budget: the same files fail in every mode
            _remember(content, None, (None, failure))
        return None, failure
    if answer.get("python") not in ("2.7", "3"):
        return None, "no answer"
    _remember(content, mode, (answer, ""))
    return answer, ""


# --- one probe per submission content ---------------------------------------------------------------------

_MEMO: OrderedDict = OrderedDict()
_CACHE_DIR: list = [None]


def use_cache(directory: Path | None) -> None:
    """Keep probe answers in ``directory`` too (a batch's .work/probes: its workers and its similarity report
    share them); None: in this process only."""
    _CACHE_DIR[0] = Path(directory) if directory is not None else None


def _content_key(files: dict[str, bytes], bytecode: list[dict]) -> str:
    digest = hashlib.sha256(_probe_version().encode())
    for path, raw in sorted(files.items()):
        name = path.encode("utf-8", "surrogatepass")
        digest.update(len(name).to_bytes(4, "big") + name + len(raw).to_bytes(8, "big") + raw)
    digest.update(json.dumps(bytecode, sort_keys=True).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _probe_version() -> str:
    """The probe program's own hash: a kept answer of another version of it is not used."""
    if not hasattr(_probe_version, "value"):
        import pkgutil
        _probe_version.value = hashlib.sha256(pkgutil.get_data(__package__ or "harness", "py2probe.py") or b"").hexdigest()
    return _probe_version.value


def _recall(content: str, mode: str) -> tuple[dict | None, str] | None:
    for key in (f"{content}-failed", f"{content}-{mode}"):
        if key in _MEMO:
            _MEMO.move_to_end(key)
            answer, failure = _MEMO[key]
            return (json.loads(json.dumps(answer)) if answer is not None else None), failure   # callers' own copy
        directory = _CACHE_DIR[0]
        if directory is not None:
            try:
                kept = json.loads((directory / f"{key}.json").read_text(encoding="utf-8"))
                return kept.get("answer"), str(kept.get("failure", ""))
            except (OSError, ValueError, AttributeError):
                continue
    return None


def _remember(content: str, mode: str | None, outcome: tuple[dict | None, str]) -> None:
    key = f"{content}-{mode or 'failed'}"
    _MEMO[key] = outcome
    while len(_MEMO) > MEMO_ENTRIES:
        _MEMO.popitem(last=False)
    directory = _CACHE_DIR[0]
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            temporary = directory / f".{os.getpid()}-{os.urandom(3).hex()}.tmp"
            temporary.write_text(json.dumps({"answer": outcome[0], "failure": outcome[1]}), encoding="utf-8")
            temporary.replace(directory / f"{key}.json")
        except OSError:                 # a cache that cannot be written costs a probe later, nothing else
            pass


def translator_path() -> list[str]:
    """Where fissix and appdirs are installed: the probes run without site (-S), which saves their start-up."""
    import importlib.util
    found = []
    for name in ("fissix", "appdirs"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            location = Path(spec.origin).parent
            found.append(str(location.parent if spec.submodule_search_locations else location))
    return list(dict.fromkeys(found))


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0][:200] if str(text).strip() else ""


def _after_semicolon(reason: str) -> str:
    return reason.rpartition("; ")[2] or reason


class ErrorWatch:
    """A session as the adapters see it, remembering the first error classic division explains.

    Every attribute but ``run`` is the session's own.
    """

    def __init__(self, session):
        self._session = session
        self.first_float_error = None

    def run(self, *args, **kwargs):
        reply = self._session.run(*args, **kwargs)
        error = getattr(reply, "error", None)
        if self.first_float_error is None and classic_division_explains(error):
            self.first_float_error = error
        return reply

    def __getattr__(self, name):
        return getattr(self._session, name)
