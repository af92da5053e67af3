"""similarity.html: pairs of submissions whose code is unusually similar, with the shared fragments side by side.

Public solutions of these labs circulate widely. For one lab, each submission's own files (the spec's
``files``, found as grading finds them, archives included) become one document; Python 2.7-era files
are first translated to Python 3 the way grading reads them (harness.era, fissix), so a print-statement
copy of a Python 3 solution is still a copy. Fingerprinting is copydetect's (winnowing, as in MOSS:
Schleimer, Wilkerson and Aiken, SIGMOD 2003), on code tokenised by Pygments with names, strings and
comments normalised away, so renaming variables or reformatting changes nothing.

Code most of the class shares (the course's templates and drivers, a loop everyone writes the same way)
is not evidence: a fingerprint found in more than ``max(10, half)`` of the submissions is dropped, as
MOSS drops passages common to many programs. A pair is listed when the shared code covers at least
``threshold`` of either submission; the page shows every listed pair's code side by side with the
shared fragments marked. Optionally every submission is also compared with a folder of known public
solutions (one folder or archive each). Similarity is a reason to look, never a verdict.

copydetect is the ``similarity`` extra (pip install 'nnlab-harness[similarity]').
"""
from __future__ import annotations

import io
import itertools
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError
from ..spec import LabSpec, load_spec
from .layout import write_atomically

THRESHOLD = 0.5             # shared code covering half of either submission
MIN_COMMON = 10             # a fingerprint in more than max(MIN_COMMON, half of the submissions) is the course's
MAX_SHOWN = 60              # pairs shown side by side on the page
TEMPLATES = Path(__file__).parent / "templates"
REPORT_TEMPLATES = Path(__file__).parent.parent / "report" / "templates"
FILE_MARK = "# ---- {name} ----\n"


@dataclass
class Document:
    id: str
    known: bool                  # a known public solution, not a submission
    text: str                    # the normalised-for-reading source: the spec's files, one after another
    python: str = "3"            # "2.7" when its files were translated from Python 2
    notes: list = field(default_factory=list)
    fingerprint: object = None


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

    def summary(self) -> str:
        submissions = sum(not document.known for document in self.documents)
        head = (f"{self.lab}: {len(self.pairs)} pair{'s' if len(self.pairs) != 1 else ''} of {submissions} submissions "
                f"share at least {self.threshold:.0%} of their code" + (f"; {self.path}" if self.path else ""))
        lines = [head] + [f"  {pair.score:.0%}  {_label(pair.a)}  ~  {_label(pair.b)}" for pair in self.pairs[:20]]
        if len(self.pairs) > 20:
            lines.append(f"  ... and {len(self.pairs) - 20} more in the page")
        lines += [f"  not compared: {entry_id}: {reason}" for entry_id, reason in self.skipped]
        return "\n".join(lines)


def similarity_report(root: Path, out: Path, lab: str, known: Path | None = None,
                      threshold: float = THRESHOLD) -> SimilarityReport:
    """Compare every submission in ``root`` (and with every solution in ``known``) and write out/similarity.html."""
    spec = load_spec(lab)
    documents, skipped = read_documents(Path(root), spec, known=False)
    if known is not None:
        if not Path(known).is_dir():
            raise HarnessError(f"{known}: not a directory (--known: a folder of known solutions)")
        known_documents, known_skipped = read_documents(Path(known), spec, known=True)
        documents += known_documents
        skipped += known_skipped
    report = compare(documents, spec.lab, threshold)
    report.skipped = skipped
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
        except HarnessError as error:
            skipped.append((entry.id, str(error)))
            continue
        if document.text.strip():
            documents.append(document)
        else:
            skipped.append((entry.id, f"none of {', '.join(spec.files)} found"))
    return documents, skipped


def read_document(entry_id: str, path: Path, spec: LabSpec, known: bool) -> Document:
    """The spec's files of one submission as one text, Python 2 files translated as grading reads them."""
    from .. import era as eras
    from ..submission import locate_submission
    submission = locate_submission(path, spec)
    try:
        plan = eras.decide(submission.package_dir, "auto")
        parts = []
        for name in spec.files:
            file = submission.package_dir / name
            if not file.is_file():
                continue
            entry = plan.files.get(name, {})
            text = entry.get("source") or _decode(file.read_bytes(), entry.get("encoding"))
            parts.append(FILE_MARK.format(name=name) + text.rstrip("\n") + "\n")
        notes = [f"Python 2.7 code, compared as translated to Python 3"] if plan.python == "2.7" else []
        return Document(entry_id, known, "\n".join(parts), plan.python, notes)
    finally:
        submission.cleanup()


def _decode(raw: bytes, encoding: str | None) -> str:
    for candidate in filter(None, (encoding, "utf-8", "gb18030")):
        try:
            return raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")


# --- comparing -------------------------------------------------------------------------------------------

def compare(documents: list[Document], lab: str, threshold: float = THRESHOLD) -> SimilarityReport:
    copydetect = _copydetect()
    import numpy as np
    fingerprint = _fingerprinter(copydetect)
    for document in documents:
        document.fingerprint = fingerprint(document, ())
    common = _common_hashes([document for document in documents if not document.known])
    if common.size:
        for document in documents:
            document.fingerprint = fingerprint(document, common)
    pairs, scores = [], []
    for a, b in itertools.combinations(documents, 2):
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
    return SimilarityReport(lab, documents, pairs, threshold, scores)


def _copydetect():
    try:
        import copydetect
        import copydetect.utils  # noqa: F401
    except ImportError:
        raise HarnessError("the similarity report needs copydetect: pip install 'nnlab-harness[similarity]' "
                           "(or pip install copydetect)") from None
    return copydetect


def _fingerprinter(copydetect):
    from copydetect import defaults
    k = defaults.NOISE_THRESHOLD
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1

    def fingerprint(document: Document, boilerplate):
        return copydetect.CodeFingerprint(f"{document.id}.py", k, window, boilerplate=boilerplate, filter=True,
                                          language="python", fp=io.StringIO(document.text))
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
        "min_common": MIN_COMMON,
    }


def _label(document: Document) -> str:
    return f"known: {document.id}" if document.known else document.id
