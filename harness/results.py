"""What a check run produces: per-case outcomes, per-check results, the submission's result.

The JSON form (``SubmissionResult.to_json``) is the stable interface other
tools read: {"lab", "submission", "score", "max_score", "level", "checks":
[{"id", "status", "points", "max_points", "message", "metrics", ...}], ...}.
Status is one of pass, fail, error, timeout, skip: a crash or a timeout is
not a wrong answer, and a check that could not run because one it depends on
failed is a skip (worth nothing).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("pass", "fail", "error", "timeout", "skip")


@dataclass
class CaseOutcome:
    """One case (or one hypothesis example) of a check."""

    name: str
    status: str
    message: str = ""
    public: bool = False
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)       # per output: the comparison figures
    diagnosis: str = ""
    # In-memory only (never in the JSON): expected and actual arrays of failed outputs, for the HTML report,
    # which shows values only for public cases and property counterexamples.
    artifacts: dict = field(default_factory=dict, repr=False, compare=False)
    # In-memory only: pictures of a public case shown whatever its status (Kind.gallery).
    gallery: list = field(default_factory=list, repr=False, compare=False)


@dataclass
class CheckResult:
    id: str
    title: str
    status: str
    points: float
    max_points: float
    message: str = ""
    metrics: dict = field(default_factory=dict)
    cases: list[CaseOutcome] = field(default_factory=list)
    diagnosis: str = ""
    counterexample: dict | None = None               # a property's shrunk failing input
    details: dict = field(default_factory=dict)      # kind-specific extras (timing series, images ...)
    duration: float = 0.0
    # The harness itself failed while checking (an exception in the harness, not in the submission): the
    # check is an error worth nothing, and the traceback is kept for maintainers (the JSON has it; a report
    # a student sees shows it only behind the instructor toggle).
    harness_fault: bool = False
    traceback: str = ""
    # The id of the failing check that explains this one's failure (harness.root_cause), e.g.
    # style_transfer.run -> conv.forward_speedup; reports show root causes first.
    root_cause: str | None = None
    notes: list = field(default_factory=list)        # plain-words notes on how the check ran (one per kind of note)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict:
        data = {key: value for key, value in self.__dict__.items() if key != "cases"}
        data["cases"] = [_case_json(case) for case in self.cases]
        return data


@dataclass
class SubmissionResult:
    lab: str
    submission: str
    checks: list[CheckResult]
    score: float
    max_score: float
    level: int | None
    spec_sha256: str = ""
    harness_version: str = ""
    sandbox: dict = field(default_factory=dict)      # containment layers, compat shims used
    resources: dict = field(default_factory=dict)    # which weights and images were used
    duration: float = 0.0
    error: str = ""                                  # set when the submission could not be checked at all
    # The Python semantics the submission ran with (harness.era): {"python": "2.7" | "3", "division":
    # "classic" | "true", "reason": plain words, "evidence": [...]}; empty when no child ran.
    semantics: dict = field(default_factory=dict)

    @property
    def all_passed(self) -> bool:
        return all(check.status in ("pass",) for check in self.checks) and not self.error

    def check(self, check_id: str) -> CheckResult:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def to_json(self) -> dict:
        return {
            "lab": self.lab,
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "level": self.level,
            "checks": [check.to_json() for check in self.checks],
            "error": self.error,
            "spec_sha256": self.spec_sha256,
            "harness_version": self.harness_version,
            "sandbox": self.sandbox,
            "resources": self.resources,
            "semantics": self.semantics,
            "duration": round(self.duration, 3),
        }

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        """The result ``to_json`` wrote (a batch's stored results); the in-memory artifacts are not in it."""
        checks = [CheckResult(**{**{key: value for key, value in check.items() if key in _CHECK_FIELDS},
                                 "cases": [CaseOutcome(**{key: value for key, value in case.items() if key in _CASE_FIELDS})
                                           for case in check.get("cases", [])]})
                  for check in data.get("checks", [])]
        return cls(**{**{key: value for key, value in data.items() if key in _RESULT_FIELDS}, "checks": checks})

    def json_text(self) -> str:
        """The text `harness check --json` writes."""
        return json.dumps(self.to_json(), indent=2, default=_json_default) + "\n"

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.json_text())


_CHECK_FIELDS = set(CheckResult.__dataclass_fields__) - {"cases"}
_CASE_FIELDS = set(CaseOutcome.__dataclass_fields__) - {"artifacts", "gallery"}
_RESULT_FIELDS = set(SubmissionResult.__dataclass_fields__) - {"checks"}


def _case_json(case: CaseOutcome) -> dict:
    data = {key: value for key, value in case.__dict__.items() if key not in ("artifacts", "gallery")}
    if not case.public and case.name != "counterexample":
        data.pop("params", None)          # hidden cases stay hidden in exports a student may see
    return data


def _json_default(value):
    """numpy scalars and arrays that reach the result (metrics) as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
