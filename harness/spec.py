"""Lab specs: YAML -> validated dataclasses.

A spec (specs/<lab>.yaml) is data: which files and symbols a submission must
provide, the checks (kind, target, cases or a property, tolerance, points,
timeout, dependencies) and the rubric tiers. The JSON schema in
harness/schemas/lab.schema.yaml validates the shape; each check kind
validates its own case keys and options. Every error names file, line and
key: ``specs/aics-exp3-3.yaml:42: checks[3].cases[0]: 'stride' is required``.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HarnessError, SpecError

# yaml, jsonschema and yamlpos are imported where they are used: a student kit loads its spec from JSON
# with only the standard library and numpy (OWNERSHIP.md, "Kit constraint").


def _package_data(package: str, fallback: Path) -> Path:
    """A directory shipped as package data (importlib.resources), or ``fallback`` in a source tree whose
    editable install predates the mapping (and in a student kit, which has no specs)."""
    from importlib import resources
    try:
        located = resources.files(package)
    except ModuleNotFoundError:
        return fallback
    return Path(str(located)) if Path(str(located)).is_dir() else fallback


SCHEMA_PATH = Path(__file__).parent / "schemas" / "lab.schema.yaml"
# specs/ at the repository root is the package harness._specs in an installed wheel (setup.py maps it).
SPECS_DIR = _package_data("harness._specs", Path(__file__).resolve().parent.parent / "specs")

# Default tolerances by the dtype of the compared output: |actual - expected|
# <= atol * scale + rtol * |expected|, scale = max |expected|. float64 is tight
# enough that only rounding differences pass; float32 lets a correct
# single-precision implementation through (sums of a few thousand terms).
DEFAULT_TOLERANCE = {
    "float16": {"rtol": 1e-2, "atol": 1e-2},
    "float32": {"rtol": 1e-4, "atol": 1e-5},
    "float64": {"rtol": 1e-7, "atol": 1e-9},
}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    max_mismatch_fraction: float = 0.0


@dataclass(frozen=True)
class Target:
    """Where a check finds the student's code: layers_2.py's ConvolutionalLayer and its method names."""

    file: str
    class_name: str | None = None
    function: str | None = None
    methods: dict[str, str] = field(default_factory=dict)
    constructor: tuple[str, ...] | None = None

    @property
    def module(self) -> str:
        """The module's dotted name inside the package: classifiers/fc_net.py -> classifiers.fc_net."""
        return self.file[:-3].replace("/", ".")

    def method(self, role: str) -> str:
        return self.methods.get(role, role)

    @property
    def key(self) -> tuple:
        """A hashable identity (the dataclass holds a dict)."""
        return (self.file, self.class_name, self.function, tuple(sorted(self.methods.items())), self.constructor)

    def describe(self, role: str | None = None) -> str:
        owner = self.class_name or self.function or self.module
        return f"{self.file}: {owner}.{self.method(role)}" if role else f"{self.file}: {owner}"


@dataclass(frozen=True)
class Case:
    name: str
    seed: int
    params: dict
    dtype: str
    public: bool = False


@dataclass(frozen=True)
class PropertySpec:
    strategy: dict
    max_examples: int = 25


@dataclass
class CheckSpec:
    id: str
    title: str
    kind: str
    target: Target | None
    points: float
    timeout: float
    depends: tuple[str, ...]
    dtype: str
    tolerance: dict[str, Tolerance]
    outputs: tuple[str, ...] | None
    options: dict
    cases: list[Case]
    property: PropertySpec | None
    reference: str | None = None       # the lab's course-layout reference package (spec key `reference`)

    @property
    def is_property(self) -> bool:
        return self.property is not None


@dataclass(frozen=True)
class Tier:
    level: int
    requires: tuple[str, ...]
    title: str = ""


@dataclass(frozen=True)
class LabLimits:
    timeout: float = 60.0
    cpu_time: float | None = None
    address_space: int = 4 << 30
    file_size: int = 64 << 20
    scratch_bytes: int = 256 << 20
    output_bytes: int = 64 << 10
    open_files: int = 64
    processes: int = 64
    threads: int = 1
    check_budget: float = 600.0          # wall seconds all requests of one check may take together
    submission_budget: float = 1800.0    # wall seconds all requests of one submission may take together


@dataclass
class LabSpec:
    lab: str
    title: str
    description: str
    path: Path
    package: str
    files: tuple[str, ...]
    resources: dict[str, bool]
    limits: LabLimits
    checks: list[CheckSpec]
    tiers: list[Tier]
    source_sha256: str
    kit: dict = field(default_factory=dict)      # set in a student kit's spec
    python: str = "auto"                         # "2", "3" or "auto": the semantics student code runs with (era.py)

    def check(self, check_id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)


# --- loading -----------------------------------------------------------------


def spec_path(lab_or_path: str, specs_dir: Path | None = None) -> Path:
    """A lab name (aics-exp3-3) from the specs directory, or a path to a YAML file."""
    candidate = Path(lab_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise SpecError(f"{candidate}: no such spec file")
        return candidate
    directory = specs_dir or SPECS_DIR
    path = directory / f"{lab_or_path}.yaml"
    if not path.is_file():
        labs = available_labs(directory)
        close = difflib.get_close_matches(lab_or_path, labs, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(f"unknown lab {lab_or_path!r} ({hint}labs in {directory}: {', '.join(labs) or 'none'})")
    return path


def available_labs(specs_dir: Path | None = None) -> list[str]:
    directory = specs_dir or SPECS_DIR
    return sorted(path.stem for path in directory.glob("*.yaml"))


def load_spec(lab_or_path: str | Path, specs_dir: Path | None = None) -> LabSpec:
    path = spec_path(str(lab_or_path), specs_dir)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise SpecError(f"{path}:{line}: not UTF-8 text (byte {error.start})") from None
    return parse_spec(text, path, hashlib.sha256(raw).hexdigest())


def parse_spec(text: str, path: Path, source_sha256: str = "") -> LabSpec:
    from . import yamlpos
    try:
        data, positions = yamlpos.load(text)
    except yamlpos.YamlError as error:
        raise SpecError(_where(path, error.line, ()) + str(error)) from None
    report = _Reporter(path, positions)
    if not isinstance(data, dict):
        report.fail((), "a lab spec must be a mapping with lab, title, submission and checks")
    _validate_schema(data, report)
    return _build(data, path, report, source_sha256 or hashlib.sha256(text.encode()).hexdigest())


def spec_from_validated_data(data: dict, path: Path, source_sha256: str) -> LabSpec:
    """A spec from data that ``parse_spec`` validated before (a student kit's JSON copy of its lab's
    spec): no YAML, no schema, no kind validation, so only the standard library and numpy are needed."""
    return _build(data, path, _Reporter(path, _NoPositions()), source_sha256, validate=False)


class _NoPositions:
    def line_of(self, key_path) -> None:
        return None


@dataclass
class _Reporter:
    path: Path
    positions: yamlpos.Positions

    def fail(self, key_path: tuple, message: str):
        raise SpecError(_where(self.path, self.positions.line_of(key_path), key_path) + message)


def _where(path: Path, line: int | None, key_path: tuple) -> str:
    location = f"{path}:{line}: " if line else f"{path}: "
    if key_path:
        location += _format_key_path(key_path) + ": "
    return location


def _format_key_path(key_path: tuple) -> str:
    text = ""
    for part in key_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@functools.lru_cache(maxsize=1)
def _schema_validator() -> jsonschema.Draft202012Validator:
    import jsonschema
    import yaml
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _validate_schema(data: dict, report: _Reporter) -> None:
    errors = list(_schema_validator().iter_errors(data))
    if errors:
        error = most_specific(errors)
        report.fail(error_key_path(error), plain_schema_message(error))


def most_specific(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    """The deepest error; at equal depth an unknown key (often a typo) before a missing one."""
    return max(errors, key=lambda e: (len(e.absolute_path), e.validator == "additionalProperties"))


def error_key_path(error: jsonschema.ValidationError) -> tuple:
    """Where the error is; an unknown key points at the key itself, so its line is reported."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        if unknown:
            path += (unknown[0],)
    return path


def plain_schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed), key=str)   # YAML keys may be null, numbers ...
        close = difflib.get_close_matches(str(unknown[0]), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key {unknown[0]!r} ({hint}allowed: {', '.join(allowed) or 'none'})"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    return error.message


def _build(data: dict, path: Path, report: _Reporter, source_sha256: str, validate: bool = True) -> LabSpec:
    from .adapters import registry  # kinds validate their own keys

    defaults = data.get("defaults", {})
    default_dtype = defaults.get("dtype", "float64")
    limits = _limits(data.get("limits", {}), report)
    default_timeout = defaults.get("timeout", limits.timeout)
    base_tolerance = _tolerance_table(DEFAULT_TOLERANCE, defaults.get("tolerance", {}))
    files = tuple(data["submission"]["files"])

    checks: list[CheckSpec] = []
    for index, raw_check in enumerate(data["checks"]):
        key_path = ("checks", index)
        check = _check(raw_check, key_path, default_dtype, default_timeout, base_tolerance, report)
        check.reference = data.get("reference")
        kind = registry.get(check.kind)
        if kind is None:
            report.fail(key_path + ("kind",), f"unknown kind {check.kind!r} (known: {', '.join(registry.names())})")
        if check.target is not None and check.target.file not in files:
            report.fail(key_path + ("target", "file"), f"{check.target.file} is not listed in submission.files")
        try:
            if validate:
                kind.validate(check)
        except registry.KindConfigError as error:
            report.fail(key_path + error.key_path, str(error))
        checks.append(check)

    _check_ids_and_dependencies(checks, report)
    tiers = _tiers(data.get("rubric", {}).get("tiers", []), {c.id for c in checks}, report)
    return LabSpec(
        lab=data["lab"],
        title=data["title"],
        description=data.get("description", ""),
        path=path,
        package=data["submission"]["package"],
        files=files,
        resources={key: bool(value) for key, value in data.get("resources", {}).items()},
        limits=limits,
        checks=checks,
        tiers=tiers,
        source_sha256=source_sha256,
        kit=dict(data.get("kit", {})),
        python=str(data.get("python", "auto")),
    )


def _check(raw: dict, key_path: tuple, default_dtype: str, default_timeout: float,
           base_tolerance: dict[str, Tolerance], report: _Reporter) -> CheckSpec:
    has_cases, has_property = "cases" in raw, "property" in raw
    if has_cases == has_property:
        report.fail(key_path, "a check needs exactly one of 'cases' (fixed inputs) or 'property' (hypothesis)")
    dtype = raw.get("dtype", default_dtype)
    cases = [_case(raw_case, raw["id"], index, dtype) for index, raw_case in enumerate(raw.get("cases", []))]
    names = [case.name for case in cases]
    for index, name in enumerate(names):
        if names.index(name) != index:
            report.fail(key_path + ("cases", index, "name"), f"duplicate case name {name!r}")
    prop = raw.get("property")
    return CheckSpec(
        id=raw["id"],
        title=raw.get("title", raw["id"]),
        kind=raw["kind"],
        target=_target(raw["target"]) if "target" in raw else None,
        points=float(raw["points"]),
        timeout=float(raw.get("timeout", default_timeout)),
        depends=tuple(raw.get("depends", ())),
        dtype=dtype,
        tolerance=_tolerance_table(base_tolerance, raw.get("tolerance", {})),
        outputs=tuple(raw["outputs"]) if "outputs" in raw else None,
        options=dict(raw.get("options", {})),
        cases=cases,
        property=PropertySpec(prop["strategy"], prop.get("max_examples", 25)) if prop else None,
    )


CASE_KEYS = ("name", "seed", "dtype", "public")      # every kind's cases; the rest are the kind's own


def _case(raw: dict, check_id: str, index: int, dtype: str) -> Case:
    params = {k: v for k, v in raw.items() if k not in CASE_KEYS}
    name = raw.get("name", f"case{index}")
    public = bool(raw.get("public", False))
    seed = raw.get("seed", stable_seed(check_id, name))
    if not public:                  # hidden inputs: unpredictable without the grader's secret (harness.secret)
        from .secret import hidden_seed
        seed = hidden_seed(check_id, name, str(seed))
    return Case(
        name=name,
        seed=seed,
        params=params,
        dtype=raw.get("dtype", dtype),
        public=public,
    )


def stable_seed(*parts: str) -> int:
    """A seed derived from names, identical on every machine and Python run."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _target(raw: dict) -> Target:
    return Target(
        file=raw["file"],
        class_name=raw.get("class"),
        function=raw.get("function"),
        methods=dict(raw.get("methods", {})),
        constructor=tuple(raw["constructor"]) if "constructor" in raw else None,
    )


def _tolerance_table(base: dict, override: dict) -> dict[str, Tolerance]:
    table = {}
    for dtype, values in base.items():
        merged = dict(values.__dict__ if isinstance(values, Tolerance) else values)
        merged.update(override.get(dtype, {}))
        table[dtype] = Tolerance(**merged)
    return table


_BYTE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_bytes(value) -> int:
    if isinstance(value, int):
        return value
    return int(float(value[:-1]) * _BYTE_UNITS[value[-1]])


def _limits(raw: dict, report: _Reporter) -> LabLimits:
    values = dict(raw)
    for key in ("address_space", "file_size", "scratch_bytes", "output_bytes"):
        if key in values:
            values[key] = parse_bytes(values[key])
    return LabLimits(**values)


OVERRIDABLE_LIMITS = ("cpu_time", "check_budget", "submission_budget", "address_space", "file_size", "scratch_bytes",
                      "output_bytes", "open_files", "processes", "threads")


def override_limits(limits: LabLimits, overrides: dict[str, str]) -> LabLimits:
    """The spec's limits with ``{"address_space": "8G", "open_files": "128"}`` applied (command-line text).

    Per-check timeouts stay the spec's: they are part of what a check asks of a submission.
    """
    values = {}
    for key, text in overrides.items():
        if key not in OVERRIDABLE_LIMITS:
            raise HarnessError(f"unknown limit {key!r}; the limits that can be overridden: "
                               f"{', '.join(OVERRIDABLE_LIMITS)}")
        in_bytes = key in ("address_space", "file_size", "scratch_bytes", "output_bytes")
        try:
            if in_bytes:
                value = parse_bytes(int(text) if text.isdigit() else text)
            else:
                value = float(text) if key in ("cpu_time", "check_budget", "submission_budget") else int(text)
        except (ValueError, KeyError, IndexError):
            expected_form = "bytes, e.g. 512M or 4G" if in_bytes else "a number"
            raise HarnessError(f"limit {key}={text!r} is not a valid value ({expected_form})") from None
        if value <= 0:
            raise HarnessError(f"limit {key}={text!r} must be positive")
        values[key] = value
    return dataclasses.replace(limits, **values)


def _check_ids_and_dependencies(checks: list[CheckSpec], report: _Reporter) -> None:
    seen: dict[str, int] = {}
    for index, check in enumerate(checks):
        if check.id in seen:
            report.fail(("checks", index, "id"), f"duplicate check id {check.id!r} (also checks[{seen[check.id]}])")
        seen[check.id] = index
    for index, check in enumerate(checks):
        for position, dependency in enumerate(check.depends):
            if dependency not in seen:
                report.fail(("checks", index, "depends", position), f"unknown check id {dependency!r}")
            if seen[dependency] >= index:
                report.fail(("checks", index, "depends", position),
                            f"{dependency!r} must come before {check.id!r} (checks run in file order)")


def _tiers(raw_tiers: list, check_ids: set[str], report: _Reporter) -> list[Tier]:
    tiers, previous_level = [], -1
    for index, raw in enumerate(raw_tiers):
        if raw["level"] <= previous_level:
            report.fail(("rubric", "tiers", index, "level"), "tier levels must increase")
        previous_level = raw["level"]
        for position, check_id in enumerate(raw["requires"]):
            if check_id not in check_ids:
                report.fail(("rubric", "tiers", index, "requires", position), f"unknown check id {check_id!r}")
        tiers.append(Tier(raw["level"], tuple(raw["requires"]), raw.get("title", "")))
    return tiers
