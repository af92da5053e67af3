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
import sys
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from . import __version__
from .errors import HarnessError

SPEC_NAME, STORE_NAME, MANIFEST_NAME = "spec.json", "expected.npz", "manifest.json"
EXIT_OK, EXIT_FAILED_CHECKS, EXIT_HARNESS_ERROR = 0, 1, 2


@dataclass
class KitStore:
    """Inputs and expected values of a kit's cases, keyed check/case/{in,out}/name."""

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

    def _section(self, check_id, case_name, part) -> dict:
        prefix = f"{check_id}/{case_name}/{part}/"
        return {key[len(prefix):]: value for key, value in self.arrays.items() if key.startswith(prefix)}


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
    print(format_result(result, None, verbose=args.verbose))
    if args.json:
        result.write_json(args.json)
    if args.html:
        from .report.html import write_html
        write_html(result, args.html, None, audience="student")
    if result.all_passed or (only and all(check.status == "pass" for check in result.checks if check.id in only)):
        return EXIT_OK
    return EXIT_FAILED_CHECKS


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
