"""The student kit's checker: what `python check.pyz [PATH]` runs (see harness.kit for what a kit holds).

    python check.pyz .                       check the folder holding stu_upload/ (or a .zip of it)
    python check.pyz path/to/exp_dir --only conv.forward_raw --json result.json
    python check.pyz --list                  the kit's checks, with ids and points

Standard library and numpy only (OWNERSHIP.md, "Kit constraint"): the spec is JSON, the expected values
of the public cases are arrays in expected.npz, and the report is the console text and JSON (--html
only where jinja2 happens to be installed). The student's code runs in a child process (isolation
"process": no bubblewrap on a student's machine), so a crash costs one check, not the run.

Exit status as `harness check`: 0 every check passed, 1 one did not, 2 the kit could not run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from . import __version__
from .errors import HarnessError

SPEC_NAME, STORE_NAME, MANIFEST_NAME = "spec.json", "expected.npz", "manifest.json"
EXIT_OK, EXIT_FAILED_CHECKS, EXIT_HARNESS_ERROR = 0, 1, 2


MISTAKE_PART, SUMMARY_KEY, SAME_PREFIX = "mistake", ".summary", "="


@dataclass
class KitStore:
    """Inputs and expected values of a kit's cases, keyed check/case/{in,out}/name, and what each catalogued
    mistake computes on them, keyed check/case/mistake/NNN/... (see mistake_arrays)."""

    arrays: dict

    @classmethod
    def load(cls, path: Path) -> "KitStore":
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls({key: data[key] for key in data.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise HarnessError(f"{path}: not a readable kit store ({error})") from None

    def inputs(self, check_id: str, case_name: str) -> dict:
        return self._section(check_id, case_name, "in")

    def expected(self, check_id: str, case_name: str) -> dict:
        return self._section(check_id, case_name, "out")

    def mistakes(self, check_id: str, case_name: str, expected: dict) -> list[tuple[str, dict]]:
        """(summary, outputs) of each catalogued mistake stored for the case, in catalogue order: the candidates
        harness.diagnose matches a failed output against, as the grader matches the ones it computes. An output
        a mistake leaves right is the case's ``expected`` value."""
        grouped: dict[str, dict] = {}
        for name, value in self._section(check_id, case_name, MISTAKE_PART).items():
            index, _, output = name.partition("/")
            grouped.setdefault(index, {})[output] = value
        found = []
        for index in sorted(grouped):
            entry = grouped.pop(index)
            summary = entry.pop(SUMMARY_KEY, None)
            if summary is None:
                continue
            outputs = {}
            for name, value in entry.items():
                if not name.startswith(SAME_PREFIX):
                    outputs[name] = value
                elif name[len(SAME_PREFIX):] in expected:       # left right by the mistake: the expected value
                    outputs[name[len(SAME_PREFIX):]] = expected[name[len(SAME_PREFIX):]]
            found.append((bytes(np.asarray(summary, dtype=np.uint8)).decode("utf-8"), outputs))
        return found

    def _section(self, check_id, case_name, part) -> dict:
        prefix = f"{check_id}/{case_name}/{part}/"
        return {key[len(prefix):]: value for key, value in self.arrays.items() if key.startswith(prefix)}


def mistake_arrays(kit_spec, store: dict, run_context) -> dict:
    """Store entries of what each catalogued mistake computes on a kit's cases, for the kit's diagnoses.

    ``store`` holds the kit's inputs and expected values (check/case/in/... and check/case/out/...; a kind
    that needs no reference computes its expected values from the case, with ``run_context``). A kit holds no
    reference, so the catalogue's outputs are computed here, when the kit is made (instructor side: needs
    reference/), for every case and every mistake that runs on it and changes one of its outputs:

        check/case/mistake/NNN/.summary   the mistake's summary, UTF-8 bytes (NNN: catalogue order)
        check/case/mistake/NNN/NAME       an output the mistake changes, as it computes it
        check/case/mistake/NNN/=NAME      an empty marker: an output it leaves right

    These are wrong answers, never the right ones: the expected values are in the kit already.
    """
    from .adapters import registry
    from .diagnose import catalogue_outputs
    kit = KitStore(store)
    entries = {}
    for check in kit_spec.checks:
        kind = registry.get(check.kind)
        for case in check.cases:
            arrays = kit.inputs(check.id, case.name)
            expected = (kit.expected(check.id, case.name) if kind.needs_reference(check)
                        else kind.expected(check, case, arrays, run_context))
            if not expected:
                continue            # judged without expected values (a gradient check): nothing to match
            index = 0
            for mistake, produced in catalogue_outputs(kind, check, case, arrays):
                shown = {name: np.asarray(value) for name, value in produced.items() if name in expected
                         and np.asarray(value).dtype.kind in "biuf"}        # plain arrays only: no pickles
                changed = {name: value for name, value in shown.items() if not _identical(value, expected[name])}
                if not changed:
                    continue        # right on this case: it cannot be what a failed output shows
                prefix = f"{check.id}/{case.name}/{MISTAKE_PART}/{index:03d}/"
                entries[prefix + SUMMARY_KEY] = np.frombuffer(mistake.summary.encode("utf-8"), dtype=np.uint8)
                for name, value in shown.items():
                    if name in changed:
                        entries[prefix + name] = value
                    else:
                        entries[prefix + SAME_PREFIX + name] = np.zeros(0, dtype=np.uint8)
                index += 1
    return entries


def _identical(value: np.ndarray, expected) -> bool:
    expected = np.asarray(expected)
    return value.shape == expected.shape and value.dtype.kind in "biuf" and bool(
        np.array_equal(value.astype(np.float64), expected.astype(np.float64), equal_nan=True))


def load_kit(directory: Path):
    """(LabSpec, KitStore, manifest) of a kit's data directory; a damaged kit is a HarnessError."""
    from .spec import spec_from_validated_data
    spec_file = directory / SPEC_NAME
    manifest = _json_object(directory / MANIFEST_NAME, "kit manifest")
    data = _json_object(spec_file, "kit spec")
    weights = manifest.get("weights")
    if weights is not None and not (isinstance(weights, dict) and isinstance(weights.get("sha256"), str)):
        raise HarnessError(f"{directory / MANIFEST_NAME}: 'weights' must be an object with the file's sha256")
    try:
        spec = spec_from_validated_data(data, spec_file, hashlib.sha256(spec_file.read_bytes()).hexdigest())
    except HarnessError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise HarnessError(f"{spec_file}: not a kit spec ({type(error).__name__}: {error}); "
                           "make the kit again with `harness kit`") from None
    store = KitStore.load(directory / STORE_NAME)
    _verify_store(directory, spec, store, manifest)
    return spec, store, manifest


def _verify_store(directory: Path, spec, store: KitStore, manifest: dict) -> None:
    """Every case of the kit's spec has the arrays the manifest says were stored for it."""
    expected = manifest.get("arrays")
    if not isinstance(expected, dict):
        raise HarnessError(f"{directory / MANIFEST_NAME}: 'arrays' must map check/case to a count")
    held: dict[str, int] = {}
    for key in store.arrays:
        case_key = "/".join(key.split("/", 2)[:2])
        held[case_key] = held.get(case_key, 0) + 1
    cases = [f"{check.id}/{case.name}" for check in spec.checks for case in check.cases]
    wrong = [case for case in cases if held.get(case, 0) != expected.get(case, 0)]
    if wrong or set(held) - set(cases):
        named = ", ".join((wrong or sorted(set(held) - set(cases)))[:5])
        raise HarnessError(f"{directory / STORE_NAME}: the stored arrays do not match the kit's cases ({named}): "
                           "the kit is incomplete or damaged; make it again with `harness kit`")


def _json_object(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:          # missing, unreadable, not UTF-8 or not JSON
        raise HarnessError(f"{path}: not a readable {what} ({error})") from None
    if not isinstance(value, dict):
        raise HarnessError(f"{path}: not a {what} (a JSON object)")
    return value


def verify_weights(manifest: dict, weights: Path | None) -> str | None:
    """None when the student's weights are the kit's; else why the VGG19 checks cannot run."""
    expected = manifest.get("weights")
    if not expected:
        return None
    if weights is None:
        return "this kit's VGG19 checks need the course's weights file: pass --weights FILE"
    if not Path(weights).is_file():
        return f"{weights}: no such file (--weights)"
    if fingerprint(Path(weights))["sha256"] != expected["sha256"]:
        return f"{weights} is not the weights file this kit was made with ({expected.get('name')})"
    return None


def fingerprint(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return {"name": Path(path).name, "bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def run_options(**wanted):
    """RunOptions for a student's machine: a plain child process, whatever else the harness offers."""
    from .runner import RunOptions
    known = {field.name for field in fields(RunOptions)}
    wanted = {key: value for key, value in wanted.items() if value is not None}
    if "isolation" in known:
        wanted["isolation"] = "process"
    else:                                 # a harness without the isolation switch: the closest is no namespaces
        wanted["namespaces"] = "off"
    return RunOptions(**{key: value for key, value in wanted.items() if key in known})


class _Parser(argparse.ArgumentParser):
    """One-line argument errors (exit status 2), like the kit's other errors."""

    def error(self, message: str):
        self.exit(EXIT_HARNESS_ERROR, f"check.pyz: error: {message} (see `python check.pyz --help`)\n")


def _parser(manifest: dict) -> argparse.ArgumentParser:
    lab = manifest.get("lab", "the lab")
    parser = _Parser(
        prog="python check.pyz",
        description=f"Self-check kit for {lab}: runs the lab's public cases against your code. "
                    "Passing it does not guarantee full marks: grading also uses hidden cases.",
        epilog="Exit status: 0 every check passed, 1 a check did not, 2 the kit could not run.")
    parser.add_argument("path", nargs="?", default=".", type=Path,
                        help="the folder holding your stu_upload/ (or stu_upload/ itself, or a .zip of either) "
                             "(default: the current folder)")
    parser.add_argument("--only", action="append", metavar="CHECK[,CHECK...]",
                        help="run only these check ids and what they depend on; repeatable "
                             "(default: every check; ids: --list)")
    parser.add_argument("--list", action="store_true", help="list the kit's checks with ids and points, and exit")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON (default: no file)")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write an HTML report; needs jinja2 installed (default: no file)")
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="the course's imagenet-vgg-verydeep-19.mat, for the VGG19 checks of a kit made "
                             "with weights (default: those checks need it and say so)")
    parser.add_argument("--python", choices=("2", "3", "auto"), default=None,
                        help="run your code with Python 2 or 3 semantics (default: the kit's, "
                             f"{manifest.get('python') or 'auto'})")
    parser.add_argument("--progress", choices=("auto", "live", "plain", "off"), default="auto",
                        help="what to show while checks run: a live line, plain lines, or nothing "
                             "(default: auto, live on a terminal, plain otherwise)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="explain passing and skipped checks too (default: only the failures)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a kit error (default: one line)")
    parser.add_argument("--version", action="version",
                        version=f"nnlab-harness {manifest.get('harness_version', __version__)} kit for {lab}, made "
                                f"{manifest.get('created', '?')}")
    return parser


def main(argv: list[str] | None, kit_dir: Path) -> int:
    """The kit's command line; ``kit_dir`` holds spec.json, expected.npz, manifest.json (and the image)."""
    manifest = _manifest_for_help(kit_dir)
    parser = _parser(manifest)
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.error(f"unexpected argument(s) {' '.join(extra)!r}" + (
            ": --only takes one check id or a comma-separated list (--only a,b or --only a --only b), and the "
            "folder is given once" if args.only else ""))
    try:
        return _check(args, Path(kit_dir))
    except HarnessError as error:
        if args.debug:
            raise
        print(f"check.pyz: error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    except KeyboardInterrupt:
        print("check.pyz: interrupted", file=sys.stderr)
        return EXIT_HARNESS_ERROR


def _manifest_for_help(kit_dir: Path) -> dict:
    try:
        return _json_object(Path(kit_dir) / MANIFEST_NAME, "kit manifest")
    except HarnessError:
        return {}              # the real error is reported once the arguments are parsed


def _check(args, kit_dir: Path) -> int:
    from .context import kit_context
    from .progress import live_progress
    from .report.console import format_result
    from .runner import check_submission
    from .selection import format_check_list, parse_only, select_checks

    spec, store, manifest = load_kit(kit_dir)
    if args.list:
        print(format_check_list(spec))
        for check_id, reason in manifest.get("omitted", {}).items():
            print(f"  not in this kit: {check_id} ({reason})")
        return EXIT_OK
    only = parse_only(args.only)
    selected = select_checks(spec, only)
    problem = verify_weights(manifest, args.weights)
    if problem:
        raise HarnessError(problem)
    context = kit_context(spec, kit_dir, store, args.weights)
    if args.html:
        _require_html_libraries()
    ids = list(selected) if selected else [check.id for check in spec.checks]
    with live_progress(sys.stderr, args.progress, ids=ids, prefix="check.pyz: ") as progress:
        options = run_options(only=selected, python=args.python or manifest.get("python"), progress=progress)
        result = check_submission(args.path, spec, context, options)
    shown, stand_ins = without_stand_ins(result)
    print(format_result(shown, None, verbose=args.verbose))
    for line in stand_in_notes(stand_ins):
        print(f"note: {line}")
    if args.json:
        result.write_json(args.json)
    if args.html:
        from .report.html import write_html
        write_html(shown, args.html, None, audience="student")
    if result.all_passed or (only and all(check.status == "pass" for check in result.checks if check.id in only)):
        return EXIT_OK
    return EXIT_FAILED_CHECKS


# harness.sandbox.compat records a library the submission imports but this Python lacks as
# "NAME (not installed: WHAT)": the import got a stand-in. That is this computer's setup, not an old API the
# submission used, so the kit says so in its own words instead of listing it with the emulated legacy APIs.
_STAND_IN = re.compile(r"^(?P<name>[\w.]+) \(not installed: (?P<what>.*)\)$")
_FAILS_WHEN_USED = "a stand-in that fails when used"


def without_stand_ins(result):
    """(the result without stand-ins among its emulated APIs, [(library, what its stand-in does)])."""
    used = (result.sandbox or {}).get("compat_used") or []
    matches = [_STAND_IN.match(str(entry)) for entry in used]
    stand_ins = [(match["name"], match["what"]) for match in matches if match]
    if not stand_ins:
        return result, []
    legacy = [entry for entry, match in zip(used, matches) if not match]
    return replace(result, sandbox={**result.sandbox, "compat_used": legacy}), stand_ins


def stand_in_notes(stand_ins: list) -> list[str]:
    """Plain words for libraries the submission imports that this Python lacks (see without_stand_ins)."""
    lines = []
    failing = [name for name, what in stand_ins if what == _FAILS_WHEN_USED]
    if failing:
        one = len(failing) == 1
        names = failing[0] if one else ", ".join(failing[:-1]) + " and " + failing[-1]
        lines.append(f"{names} {'is' if one else 'are'} not installed in this Python. Your code imports "
                     f"{'it' if one else 'them'}, so a stand-in was used for the import only: a check that uses "
                     f"{'it' if one else 'one of them'} fails and names the library. "
                     "This is not a fault of your code.")
    lines.extend(f"{name} is not installed in this Python; your code imports it, and a stand-in was used instead "
                 f"({what})." for name, what in stand_ins if what != _FAILS_WHEN_USED)
    return lines


def _require_html_libraries() -> None:
    missing = []
    for module in ("jinja2",):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise HarnessError(f"--html needs {', '.join(missing)} (python -m pip install {' '.join(missing)}); "
                           "the console report and --json work without it")
