"""The student kit: a checker a student runs with only Python (3.9+) and NumPy, holding no solution.

    harness kit --lab aics-exp3-3 --out kit/      (instructor: writes kit/check.pyz and kit/README.txt)
    python check.pyz path/to/exp_dir               (student, offline: see harness.kitcheck)

check.pyz is a zipapp (PEP 441, the standard library's ``zipapp``) holding:

    __main__.py       harness/kit_main.py: Python and NumPy present? unpack, run harness.kitcheck
    harness/...       the engine's sources (.py only, no bytecode), without the instructor's modules
    kit/spec.json     the lab spec reduced to its public cases, as JSON (validated here, at build time)
    kit/expected.npz  inputs and expected values of those cases (plain numeric arrays, no pickles)
    kit/manifest.json what the kit was made from, and what it left out and why
    kit/image.*       the image the course hands out, when a kit check classifies it

What stays out: hidden cases (names, inputs, expected values), the reference package (reference/,
reference/aics's course-layout solutions above all), yaml, jsonschema, jinja2, scipy and hypothesis.
A property check becomes a few of its examples, drawn here (derandomized) and stored as public cases
with their expected values; a check with nothing public to run is left out with its reason.
VGG19 checks are in only when the kit is made with the weights file the students have (--weights),
and the student's run then verifies it is that file.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
import zipapp
from pathlib import Path

import numpy as np

from . import __version__
from .adapters import registry
from .context import RunContext, build_context
from .errors import HarnessError
from .kitcheck import MANIFEST_NAME, SPEC_NAME, STORE_NAME, fingerprint, mistake_arrays
from .spec import LabSpec, load_spec, parse_spec, stable_seed

KIT_ARCHIVE, KIT_README, KIT_DATA = "check.pyz", "README.txt", "kit"
REFERENCE_FREE_KINDS = {"aics.gradcheck"}
NEEDS_WEIGHTS = {"aics.vgg19.classify", "aics.style_transfer.run"}
NEEDS_LAB_FILES = ("dlp.",)          # kinds that run the course's own runtime files (harness.dlp)
PROPERTY_EXAMPLES = 8
SUPPORTED_PYTHON = "3.9"
# Modules of the harness a kit never carries: the instructor's command line and library, the kit
# builder, spec YAML parsing, mutation testing against reference.aics, batch grading, and the DLP
# runner (harness.dlp.network builds the exp 2-2 and 3-2 networks as the course's solutions do; no
# kit holds a DLP check, NEEDS_LAB_FILES).
INSTRUCTOR_ONLY = ("cli.py", "api.py", "kit.py", "yamlpos.py", "mutation.py", "__main__.py", "batch", "schemas",
                   "_specs", "dlp")
ENGINE_DATA = ("*.j2",)
# Pure-Python libraries the engine imports where they are needed, carried when installed here (with their
# licences): fissix (PSF licence) translates Python 2.7-era code, appdirs (MIT) is fissix's one dependency.
VENDORED = ("fissix", "appdirs")


def make_kit(lab: str, out: Path, weights: Path | None = None, image: Path | None = None,
             python: str | None = None) -> dict:
    """Write ``out/check.pyz`` and ``out/README.txt`` for ``lab``; return the manifest."""
    from . import yamlpos
    spec = load_spec(lab)
    data, _ = yamlpos.load(spec.path.read_text(encoding="utf-8"))
    context = build_context(spec, weights=weights, image=image)
    kit_data, omitted, examples = _kit_spec_data(data, spec, weights)
    if not kit_data["checks"]:
        raise HarnessError(f"lab {spec.lab}: no check has public cases or stored examples, so a kit would "
                           f"check nothing ({'; '.join(f'{k}: {v}' for k, v in omitted.items())})")
    kit_spec = _validated(kit_data, spec)
    store = _store(kit_spec, RunContext(context))
    # what each catalogued mistake computes on the public cases: the kit names a mistake as the grader does
    store.update(mistake_arrays(kit_spec, store, RunContext(context)))
    manifest = {
        "lab": spec.lab, "title": spec.title, "source_spec_sha256": spec.source_sha256,
        "harness_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "requires": {"python": f">={SUPPORTED_PYTHON}", "packages": ["numpy"]},
        "python": python, "omitted": omitted, "property_examples": examples,
        "weights": fingerprint(context.weights_path) if weights else None,
        "checks": [check.id for check in kit_spec.checks],
        "arrays": _arrays_per_case(store),
    }
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nnlab-kit-build-") as staging:
        staging = Path(staging)
        data_dir = staging / KIT_DATA
        data_dir.mkdir()
        if context.image_path and any(check.kind in NEEDS_WEIGHTS for check in kit_spec.checks):
            image_name = "image" + context.image_path.suffix       # the student's load_image reads this file
            shutil.copyfile(context.image_path, data_dir / image_name)
            kit_data["kit"]["image"] = image_name
        (data_dir / SPEC_NAME).write_text(json.dumps(kit_data, indent=1), encoding="utf-8")
        np.savez_compressed(data_dir / STORE_NAME, **store)
        (data_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _copy_engine(staging)
        zipapp.create_archive(staging, out / KIT_ARCHIVE, interpreter="/usr/bin/env python3", compressed=True)
    (out / KIT_README).write_text(readme(spec, manifest), encoding="utf-8")
    return manifest


def _kit_spec_data(data: dict, spec: LabSpec, weights) -> tuple[dict, dict, dict]:
    """The spec's data reduced to what a kit runs; the omitted checks with reasons; examples per property."""
    kept, omitted, examples = [], {}, {}
    for original, check in zip(data["checks"], spec.checks):
        reason = _omission(check, weights)
        if reason:
            omitted[check.id] = reason
            continue
        raw = {key: value for key, value in original.items() if key not in ("cases", "property")}
        if check.is_property:
            drawn = property_examples(check, registry.get(check.kind))
            if not drawn:
                omitted[check.id] = "hypothesis drew no example of this property"
                continue
            raw["cases"] = [{"name": f"example-{index + 1}", "public": True,
                             "seed": stable_seed(check.id, repr(sorted(params.items()))), **params}
                            for index, params in enumerate(drawn)]
            raw["title"] = f"{check.title} (stored examples of the property)"
            examples[check.id] = len(drawn)
        else:
            public = [raw_case for raw_case in original["cases"] if raw_case.get("public")]
            if not public:
                omitted[check.id] = "no public cases (all of its cases are hidden)"
                continue
            raw["cases"] = public
        if check.kind == "aics.speedup":     # no reference in a kit: the ratio is judged against the threshold
            raw["options"] = dict(raw.get("options", {}), calibrate=False, min_fraction_of_reference=0)
        kept.append(raw)
    kept_ids = {raw["id"] for raw in kept}
    for raw in kept:
        if "depends" in raw:
            raw["depends"] = [dependency for dependency in raw["depends"] if dependency in kept_ids]
    kit_data = {key: value for key, value in data.items() if key not in ("rubric", "checks")}
    kit_data["checks"] = kept
    kit_data["kit"] = {"manifest": MANIFEST_NAME, "store": STORE_NAME}
    return kit_data, omitted, examples


def _omission(check, weights) -> str | None:
    if check.kind in NEEDS_WEIGHTS and weights is None:
        return "needs the course's VGG19 weights: make the kit with --weights to include it"
    if check.kind.startswith(NEEDS_LAB_FILES):
        return "runs the course's DLP files, which a kit does not carry: it is checked when grading"
    return None


def property_examples(check, kind, count: int = PROPERTY_EXAMPLES) -> list[dict]:
    """The first ``count`` distinct examples hypothesis draws for a property check (derandomized: the
    same kit every time); the first is the strategy's simplest case."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    drawn: list[dict] = []

    def enough(params: dict) -> bool:
        if params not in drawn:
            drawn.append(json.loads(json.dumps(params)))
        return len(drawn) >= count

    try:
        find(kind.strategy(check), enough, settings=settings(
            max_examples=20 * count, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        pass
    return drawn[:count]


def _validated(kit_data: dict, spec: LabSpec) -> LabSpec:
    """The kit's spec through the full validation (schema and kinds), as the student's run will not redo it."""
    import yaml
    return parse_spec(yaml.safe_dump(kit_data, sort_keys=False), spec.path.with_name(f"{spec.lab}.kit.yaml"),
                      spec.source_sha256)


def _store(kit_spec: LabSpec, run_context: RunContext) -> dict:
    """check/case/in/name and check/case/out/name arrays; "out" only where expected values need the reference."""
    store = {}
    for check in kit_spec.checks:
        kind = registry.get(check.kind)
        for case in check.cases:
            arrays = kind.make_inputs(check, case, run_context)
            for name, value in arrays.items():
                store[f"{check.id}/{case.name}/in/{name}"] = _plain(value, check.id, case.name, name)
            if kind.needs_reference(check):
                for name, value in kind.expected(check, case, arrays, run_context).items():
                    store[f"{check.id}/{case.name}/out/{name}"] = _plain(value, check.id, case.name, name)
    return store


def _arrays_per_case(store: dict) -> dict[str, int]:
    """check/case -> how many arrays the store holds for it (the student's run verifies the store)."""
    counts: dict[str, int] = {}
    for key in store:
        check_id, case_name, _ = key.split("/", 2)
        counts[f"{check_id}/{case_name}"] = counts.get(f"{check_id}/{case_name}", 0) + 1
    return counts


def _plain(value, check_id: str, case_name: str, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise HarnessError(f"{check_id}, case {case_name}: {name} is not a numeric array ({array.dtype}); "
                           "a kit stores plain arrays only")
    return array


def engine_files() -> list[tuple[Path, str]]:
    """(source file, name in the archive) of every engine file a kit carries."""
    package = Path(__file__).resolve().parent
    chosen = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or "__pycache__" in relative.parts or relative.parts[0] in INSTRUCTOR_ONLY:
            continue
        if path.suffix == ".py" or any(path.match(pattern) for pattern in ENGINE_DATA):
            chosen.append((path, f"harness/{relative.as_posix()}"))
    return chosen


def vendored_files() -> list[tuple[Path, str]]:
    """(source file, name in the archive) of the vendored libraries found here: sources, grammar files
    and licence texts, never bytecode or tests."""
    import importlib.util
    chosen = []
    for name in VENDORED:
        found = importlib.util.find_spec(name)
        if found is None or found.origin is None:
            continue
        origin = Path(found.origin)
        if found.submodule_search_locations:
            package = origin.parent
            for path in sorted(package.rglob("*")):
                relative = path.relative_to(package)
                skipped = {"__pycache__", "tests"} & set(relative.parts)
                if path.is_file() and path.suffix in (".py", ".txt") and not skipped:
                    chosen.append((path, f"{name}/{relative.as_posix()}"))
        else:
            chosen.append((origin, origin.name))
        site = origin.parent.parent if found.submodule_search_locations else origin.parent
        for licence in sorted(site.glob(f"{name}-*.dist-info/LICENSE*")):
            chosen.append((licence, f"licences/{name}-{licence.name}"))
    return chosen


def _copy_engine(staging: Path) -> None:
    for source, name in engine_files() + vendored_files():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.copyfile(Path(__file__).with_name("kit_main.py"), staging / "__main__.py")


def readme(spec: LabSpec, manifest: dict) -> str:
    omitted = "".join(f"  - {check_id}: {reason}\n" for check_id, reason in manifest["omitted"].items())
    examples = "".join(f"  - {check_id}: {count} examples\n"
                       for check_id, count in manifest["property_examples"].items())
    weights = manifest.get("weights")
    weights_line = (f"\nThe VGG19 checks need the course's weights file, {weights['name']}: add\n"
                    f"    --weights path/to/{weights['name']}\n" if weights else "")
    return f"""Self-check kit for {spec.lab}: {spec.title}

Needs Python {SUPPORTED_PYTHON} or newer and NumPy, nothing else (no internet, no harness, no reference):
    python3 -m pip install numpy

Copy check.pyz into the folder that holds your stu_upload/, and run there:
    python3 check.pyz .

or name that folder (or stu_upload/ itself, or a .zip of it) from anywhere:
    python3 path/to/check.pyz path/to/your_exp_folder
{weights_line}
More:
    python3 check.pyz --list                          the checks, with ids and points
    python3 check.pyz . --only ID[,ID...]             only these checks (and what they depend on)
    python3 check.pyz . --json result.json            the result as JSON too
    python3 check.pyz --help                          every option

Your code runs in a separate process, so a crash costs one check. Exit status: 0 every check
passed, 1 a check did not, 2 the kit could not run.

The kit runs the lab's public cases, with their expected values, and checks that need no expected
values (finite-difference gradients, speedup ratios against the spec's threshold). Passing it does
not guarantee full marks: grading also uses hidden cases and compares speedups with the reference
on the grading machine.
""" + (f"\nProperty checks in this kit are a few stored examples:\n{examples}" if examples else "") + (
        f"\nNot in this kit:\n{omitted}" if omitted else "")
