"""similarity.html: pairs of submissions whose code is unusually similar, with the shared fragments side by side.

Public solutions of these labs circulate widely. For one lab, each submission becomes one document: every
Python source file of its package folder (found as grading finds it, archives unpacked by the same bounded
unpacker), the spec's files first, then whatever else it ships (a copy moved into a helper module that the
spec's files import is compared too). Python 2.7-era files are first translated to Python 3 the way grading
reads them (harness.era, fissix; the probe's answer is the one grading used when the batch ran), so a
print-statement copy of a Python 3 solution is still a copy. Fingerprinting is copydetect's (winnowing, as in
MOSS: Schleimer, Wilkerson and Aiken, SIGMOD 2003), on code tokenised by Pygments with names, strings and
comments normalised away, so renaming variables or reformatting changes nothing.

What is read is bounded and never followed: files are opened without following symbolic links (O_NOFOLLOW)
and read only when they are regular files (a link to /proc/self/environ or to the grader's secret is a note,
not text in the page); at most MAX_FILE_BYTES a file and MAX_DOCUMENT_BYTES a submission (files beyond are left
out, with a note); a file that cannot be read is a note too. Tokenising, the part a hostile source can make
slow, runs in subprocesses bounded in memory, CPU and wall time (harness/simtokens.py via harness.bounded): a
submission whose code cannot be tokenised within them is listed as not compared. Compiled code shipped
without its source (``_impl.pyc`` beside no ``_impl.py``: the sandbox can import it) cannot be compared: the
page flags it.

Code most of the class shares (the course's templates and drivers, a loop everyone writes the same way)
is not evidence: a fingerprint found in more than ``max(10, half)`` of the submissions is dropped, as
MOSS drops passages common to many programs. A pair is listed when the shared code covers at least
``threshold`` of either submission; the page shows every listed pair's code side by side with the
shared fragments marked. Optionally every submission is also compared with a folder of known public
solutions (one folder or archive each). Similarity is a reason to look, never a verdict.

copydetect is the ``similarity`` extra (pip install 'nnlab-harness[similarity]').
"""
from __future__ import annotations

import errno
import io
import itertools
import os
import stat
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError
from ..spec import LabSpec, load_spec
from .layout import BatchPaths, write_atomically
from .store import valid_text

THRESHOLD = 0.5             # shared code covering half of either submission
MIN_COMMON = 10             # a fingerprint in more than max(MIN_COMMON, half of the submissions) is the course's
MAX_SHOWN = 60              # pairs shown side by side on the page
MAX_FILE_BYTES = 1 << 20    # a larger source file is left out (tokenising a megabyte takes about 2.5 s)
MAX_DOCUMENT_BYTES = 2 << 20    # a submission's sources in all
MAX_FILES = 300             # source files read per submission
CHUNK_BYTES = 4 << 20       # source tokenised by one subprocess; a chunk that fails is tokenised a document at a time
CHUNK_DOCUMENTS = 64
TOKENIZE_ADDRESS_SPACE = 2 << 30
TEMPLATES = Path(__file__).parent / "templates"
REPORT_TEMPLATES = Path(__file__).parent.parent / "report" / "templates"
FILE_MARK = "# ---- {name} ----\n"


@dataclass
class Document:
    id: str
    known: bool                  # a known public solution, not a submission
    text: str                    # the source compared: the spec's files, then the other .py files, one after another
    python: str = "3"            # "2.7" when its files were translated from Python 2
    notes: list = field(default_factory=list)
    fingerprint: object = None
    compiled: list = field(default_factory=list)     # compiled files shipped without their source
    problems: list = field(default_factory=list)     # files left out, unreadable or links; compiled code (in notes too)
    tokens: object = None        # (normalised text, offsets) from the bounded tokeniser


@dataclass
class Pair:
    a: Document
    b: Document
    share_a: float               # the fraction of a's fingerprinted code found in b
    share_b: float
    shared_tokens: int
    html_a: str = ""
    html_b: str = ""

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass
class SimilarityReport:
    lab: str
    documents: list[Document]
    pairs: list[Pair]            # listed pairs (score >= threshold), most similar first
    threshold: float
    scores: list[float]          # every compared pair's score, for the distribution
    path: Path | None = None
    skipped: list = field(default_factory=list)      # (id, reason) of entries with no code to compare

    @property
    def flagged(self) -> list[Document]:
        """Documents with something to say: compiled code without source, files left out or unreadable."""
        return [document for document in self.documents if document.problems]

    def summary(self) -> str:
        submissions = sum(not document.known for document in self.documents)
        head = (f"{self.lab}: {len(self.pairs)} pair{'s' if len(self.pairs) != 1 else ''} of {submissions} submissions "
                f"share at least {self.threshold:.0%} of their code" + (f"; {self.path}" if self.path else ""))
        lines = [head] + [f"  {pair.score:.0%}  {_label(pair.a)}  ~  {_label(pair.b)}" for pair in self.pairs[:20]]
        if len(self.pairs) > 20:
            lines.append(f"  ... and {len(self.pairs) - 20} more in the page")
        lines += [f"  not compared: {entry_id}: {reason}" for entry_id, reason in self.skipped]
        lines += [f"  compiled code without source: {_label(document)}: {', '.join(document.compiled)}"
                  for document in self.documents if document.compiled]
        return "\n".join(lines)


def similarity_report(root: Path, out: Path, lab: str, known: Path | None = None,
                      threshold: float = THRESHOLD) -> SimilarityReport:
    """Compare every submission in ``root`` (and with every solution in ``known``) and write out/similarity.html.

    The era probes' answers are kept in out/.work/probes (a batch graded into ``out`` already holds them)."""
    from .. import era
    spec = load_spec(lab)
    era.use_cache(BatchPaths(Path(out)).probes)
    try:
        documents, skipped = read_documents(Path(root), spec, known=False)
        if known is not None:
            if not Path(known).is_dir():
                raise HarnessError(f"{known}: not a directory (--known: a folder of known solutions)")
            known_documents, known_skipped = read_documents(Path(known), spec, known=True)
            documents += known_documents
            skipped += known_skipped
    finally:
        era.use_cache(None)
    report = compare(documents, spec.lab, threshold)
    report.skipped = skipped + report.skipped
    report.path = Path(out) / "similarity.html"
    write_atomically(report.path, render(report))
    return report


def write_similarity(root: Path, outcome, known: Path | None = None) -> SimilarityReport:
    """similarity.html beside a batch's other files (``harness grade --similarity``)."""
    report = similarity_report(root, outcome.paths.out, outcome.lab, known=known)
    outcome.notes.append(report.summary().splitlines()[0])
    return report


# --- reading ---------------------------------------------------------------------------------------------

def read_documents(root: Path, spec: LabSpec, known: bool) -> tuple[list[Document], list[tuple[str, str]]]:
    from ..submission import discover_entries
    documents, skipped = [], []
    for entry in discover_entries(root):
        if entry.status != "gradable":
            if entry.status == "unreadable":
                skipped.append((entry.id, entry.reason))
            continue
        try:
            document = read_document(entry.id, entry.path, spec, known)
        except (HarnessError, OSError) as error:      # this entry is not compared; the report goes on
            skipped.append((entry.id, str(error) if isinstance(error, HarnessError)
                            else f"it could not be read ({error.strerror or type(error).__name__})"))
            continue
        if document.text.strip():
            documents.append(document)
        else:
            reason = f"no Python source found (none of {', '.join(spec.files)})"
            skipped.append((entry.id, "; ".join([reason] + document.notes)))
    return documents, skipped


def read_document(entry_id: str, path: Path, spec: LabSpec, known: bool) -> Document:
    """Every Python source file of one submission's package folder as one text (the spec's files first), Python 2
    files translated as grading reads them; bounded, links never followed (see the module docstring)."""
    from .. import era as eras
    from .. import py2probe
    from ..submission import locate_submission
    submission = locate_submission(path, spec)       # an archive: unpacked by the bounded unpacker grading uses
    try:
        sources, compiled, problems = read_sources(submission.package_dir, spec.files)
        plan = eras.decide(submission.package_dir, "auto") if sources else None
        parts = []
        for relative, raw in sources:
            entry = plan.files.get(relative, {}) if plan is not None else {}
            text = entry.get("source") or py2probe.decode(raw)[0]       # as the probe reads it: declared, UTF-8, GBK
            if not text.strip():
                continue                 # an empty __init__.py: nothing to compare
            parts.append(FILE_MARK.format(name=valid_text(relative)) + valid_text(text).rstrip("\n") + "\n")
        python = plan.python if plan is not None else "3"
        if compiled:
            problems.insert(0, f"compiled code without its source: {', '.join(compiled)} (the sandbox does not run "
                               "it, and its code is not compared)")
        notes = (["Python 2.7 code, compared as translated to Python 3"] if python == "2.7" else []) + problems
        return Document(entry_id, known, "\n".join(parts), python, notes, compiled=compiled, problems=problems)
    finally:
        submission.cleanup()


def read_sources(package_dir: Path, spec_files=()) -> tuple[list[tuple[str, bytes]], list[str], list[str]]:
    """([(relative path, bytes)], compiled files without source, notes) of the Python files under ``package_dir``:
    the spec's files first, then the others, shallowest first; regular files only, never through a link, at
    most MAX_FILE_BYTES each and MAX_DOCUMENT_BYTES in all."""
    from ..submission import _directories
    found, compiled, notes = [], [], []
    for directory, _ in _directories(package_dir):
        try:
            names = sorted(entry.name for entry in os.scandir(directory))
        except OSError as error:
            notes.append(f"{valid_text(Path(directory).relative_to(package_dir).as_posix())}/: not listed "
                         f"({error.strerror or type(error).__name__})")
            continue
        for name in names:
            relative = Path(directory, name).relative_to(package_dir).as_posix()
            if name.endswith(".py") and not name.startswith("._"):
                found.append(relative)
            elif name.endswith((".pyc", ".pyo")) and name[:-1] not in names:
                compiled.append(valid_text(relative))
    first = [name for name in spec_files if name in found]
    ordered = first + [name for name in found if name not in first]
    sources, total = [], 0
    for relative in ordered:
        if len(sources) >= MAX_FILES:
            notes.append(f"{len(ordered) - MAX_FILES} more source files left out (at most {MAX_FILES} are read)")
            break
        raw, problem = read_regular_file(package_dir / relative, MAX_FILE_BYTES)
        if raw is not None and total + len(raw) > MAX_DOCUMENT_BYTES:
            raw, problem = None, f"left out: the submission's sources are read up to {MAX_DOCUMENT_BYTES >> 20} MB"
        if raw is None:
            notes.append(f"{valid_text(relative)}: {problem}")
            continue
        sources.append((relative, raw))
        total += len(raw)
    return sources, compiled, notes


def read_regular_file(path: Path, limit: int) -> tuple[bytes | None, str]:
    """(the bytes of ``path``, "") when it is a regular file of at most ``limit`` bytes, else (None, why). The file
    is opened without following a symbolic link and without blocking (a FIFO), and checked on the open file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "a symbolic link, not followed"
        return None, f"could not be read ({error.strerror or type(error).__name__})"
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file, not read"
        if info.st_size > limit:
            return None, f"left out: {info.st_size >> 10} KB, over the {limit >> 10} KB read of a source file"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"left out: over the {limit >> 10} KB read of a source file"
        return b"".join(chunks), ""
    except OSError as error:
        return None, f"could not be read ({error.strerror or type(error).__name__})"
    finally:
        os.close(descriptor)


# --- comparing -------------------------------------------------------------------------------------------

def compare(documents: list[Document], lab: str, threshold: float = THRESHOLD) -> SimilarityReport:
    """Every pair of ``documents`` compared (known solutions not with each other); a document whose code could not
    be tokenised within the bounds is left out, in the report's ``skipped``."""
    copydetect = _copydetect()
    import numpy as np
    skipped = tokenize(documents, copydetect)
    documents_ = [document for document in documents if document.tokens is not None]
    fingerprint = _fingerprinter(copydetect, np)
    for document in documents_:
        document.fingerprint = fingerprint(document, ())
    common = _common_hashes([document for document in documents_ if not document.known])
    if common.size:
        for document in documents_:
            document.fingerprint = fingerprint(document, common)
    pairs, scores = [], []
    for a, b in itertools.combinations(documents_, 2):
        if a.known and b.known:
            continue
        overlap, (share_a, share_b), slices = copydetect.compare_files(a.fingerprint, b.fingerprint)
        pair = Pair(a, b, float(share_a), float(share_b), int(overlap))
        scores.append(pair.score)
        if pair.score >= threshold and overlap > 0:
            pair.html_a = _highlight(copydetect, a.text, slices[0], np)
            pair.html_b = _highlight(copydetect, b.text, slices[1], np)
            pairs.append(pair)
    pairs.sort(key=lambda pair: (-pair.score, pair.a.id, pair.b.id))
    return SimilarityReport(lab, documents_, pairs, threshold, scores, skipped=skipped)


def tokenize(documents: list[Document], copydetect) -> list[tuple[str, str]]:
    """Each document's (normalised text, offsets) into ``document.tokens``, from bounded subprocesses (chunks of
    documents; a chunk that gives no answer is tokenised a document at a time, so only the document that cannot
    be tokenised within the bounds is left out). Returns (label, why) of those left out."""
    skipped = []
    for chunk in _chunks(documents):
        answers, failure = _tokenize_bounded([document.text for document in chunk], copydetect)
        if answers is None and len(chunk) > 1:
            for document in chunk:
                single, why = _tokenize_bounded([document.text], copydetect)
                if single is None:
                    skipped.append((_label(document), f"its code could not be tokenised: {why}"))
                else:
                    document.tokens = single[0]
            continue
        if answers is None:
            skipped.append((_label(chunk[0]), f"its code could not be tokenised: {failure}"))
            continue
        for document, answer in zip(chunk, answers):
            document.tokens = answer
    return skipped


def _chunks(documents: list[Document]):
    chunk, size = [], 0
    for document in documents:
        length = len(document.text)
        if chunk and (size + length > CHUNK_BYTES or len(chunk) >= CHUNK_DOCUMENTS):
            yield chunk
            chunk, size = [], 0
        chunk.append(document)
        size += length
    if chunk:
        yield chunk


def _tokenize_bounded(texts: list[str], copydetect) -> tuple[list | None, str]:
    """[(normalised text, offsets (N, 2) array)] for ``texts``, or (None, why the subprocess gave no answer)."""
    from .. import bounded
    import numpy as np
    megabytes = sum(len(text) for text in texts) / (1 << 20)
    cpu = int(20 + 15 * megabytes)                       # ~2.5 s a megabyte measured, on a loaded machine
    limits = bounded.Bounds(address_space=TOKENIZE_ADDRESS_SPACE, cpu_seconds=cpu, wall_seconds=2.0 * cpu)
    request = {"copydetect": str(Path(copydetect.__file__).parent), "documents": texts}
    answer, failure = bounded.run("simtokens.py", request, limits, _library_path())
    items = answer.get("documents") if answer is not None else None
    if not isinstance(items, list) or len(items) != len(texts):
        return None, failure or "it gave no answer"
    results = []
    for item in items:
        offsets = np.asarray(item.get("offsets", []), dtype=np.int64)
        results.append((str(item.get("filtered", "")), offsets.reshape(-1, 2) if offsets.size else np.array([])))
    return results, ""


def _library_path() -> list[str]:
    """Where pygments, numpy and markupsafe are installed: the tokeniser runs without site (-S)."""
    import importlib.util
    found = []
    for name in ("pygments", "numpy", "markupsafe"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            found.append(str(Path(spec.origin).parent.parent))
    return list(dict.fromkeys(found))


def _copydetect():
    try:
        import copydetect
        import copydetect.utils  # noqa: F401
    except ImportError:
        raise HarnessError("the similarity report needs copydetect: pip install 'nnlab-harness[similarity]' "
                           "(or pip install copydetect)") from None
    return copydetect


def _fingerprinter(copydetect, np):
    """copydetect's fingerprint of a document from its normalised text (tokenised elsewhere): winnowed k-gram
    hashes, boilerplate removed, with the offsets that map the normalised text back to the source."""
    from copydetect import defaults
    k = defaults.NOISE_THRESHOLD
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1

    def fingerprint(document: Document, boilerplate):
        filtered, offsets = document.tokens
        made = copydetect.CodeFingerprint(f"{document.id}.py", k, window, boilerplate=boilerplate, filter=False,
                                          fp=io.StringIO(filtered))
        made.raw_code, made.offsets = document.text, offsets
        return made
    return fingerprint


def _common_hashes(submissions: list[Document]):
    """Fingerprints in more than max(MIN_COMMON, half) of the submissions: the course's code, not a copy."""
    import numpy as np
    limit = max(MIN_COMMON, len(submissions) // 2)
    counts: dict[int, int] = {}
    for document in submissions:
        for value in set(document.fingerprint.hashes):
            counts[value] = counts.get(value, 0) + 1
    return np.array(sorted(value for value, count in counts.items() if count > limit), dtype=np.int64)


def _highlight(copydetect, text: str, slices, np) -> str:
    if slices.size == 0:
        from markupsafe import escape
        return str(escape(text))
    html, _ = copydetect.utils.highlight_overlap(text, np.asarray(slices), '<mark>', '</mark>', escape_html=True)
    return html


# --- the page ----------------------------------------------------------------------------------------------

def render(report: SimilarityReport) -> str:
    import jinja2
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader([TEMPLATES, REPORT_TEMPLATES]), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("similarity.html.j2").render(page=_view(report))


def _view(report: SimilarityReport) -> dict:
    from ..report import svg
    scores = report.scores
    bins = [(f"{low}–{low + 10}%", float(sum(low <= 100 * score < low + 10 or (low == 90 and score >= 1)
                                              for score in scores)),
             "#b02a1e" if low / 100 >= report.threshold else "#6c757d") for low in range(0, 100, 10)]
    return {
        "lab": report.lab, "threshold": report.threshold,
        "submissions": sum(not document.known for document in report.documents),
        "known": sum(document.known for document in report.documents),
        "compared": len(scores), "median": statistics.median(scores) if scores else None,
        "chart": svg.bar_chart(bins, unit="pairs", title="shared code per pair") if scores else "",
        "pairs": [{"a": _label(pair.a), "b": _label(pair.b), "score": pair.score, "share_a": pair.share_a,
                   "share_b": pair.share_b, "tokens": pair.shared_tokens, "html_a": pair.html_a, "html_b": pair.html_b,
                   "notes_a": pair.a.notes, "notes_b": pair.b.notes, "anchor": f"pair-{index}",
                   "shown": index < MAX_SHOWN} for index, pair in enumerate(report.pairs)],
        "skipped": report.skipped,
        "flagged": [{"id": _label(document), "problems": document.problems} for document in report.flagged],
        "min_common": MIN_COMMON,
    }


def _label(document: Document) -> str:
    return f"known: {document.id}" if document.known else document.id
