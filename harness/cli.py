"""`harness`: a thin command line over harness.api.

Exit status of `check`: 0 when every check passed, 1 when a check did not
pass, 2 when the harness itself could not run (bad arguments, a broken spec,
an unreadable file); the message is one line, with the traceback only under
--debug. `grade` exits 0 once every submission is graded (the grades, good or
bad, are in the reports) and 2 when it could not grade.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import api
from .errors import HarnessError

EXIT_OK, EXIT_FAILED_CHECKS, EXIT_HARNESS_ERROR = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_HARNESS_ERROR
    try:
        return args.command(args)
    except HarnessError as error:
        if args.debug:
            raise
        print(f"harness: error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    except BrokenPipeError:             # `harness check ... | head`: the reader left, nothing to report
        sys.stdout = None
        return EXIT_OK


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like the harness's own (exit status 2, no usage dump)."""

    def error(self, message: str):
        self.exit(EXIT_HARNESS_ERROR, f"harness: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Check deep-learning-from-scratch lab submissions.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of harness errors")
    commands = parser.add_subparsers(title="commands", parser_class=_Parser)

    check = commands.add_parser("check", help="check one submission",
                                description="Check one submission (a directory holding stu_upload/, or a .zip). "
                                            "Example: harness check my_exp_dir --lab aics-exp3-3")
    check.add_argument("path", type=Path)
    check.add_argument("--lab", required=True, help="lab name (see `harness labs`) or a spec .yaml file")
    _resources(check)
    check.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON")
    check.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    check.add_argument("--only", nargs="+", metavar="CHECK", help="run only these check ids")
    check.add_argument("--verbose", "-v", action="store_true", help="explain passing and skipped checks too")
    check.set_defaults(command=_check)

    grade = commands.add_parser("grade", help="grade a folder of submissions into a reports folder",
                                description="Grade every submission under DIR (DIR/<lab>/<name>/, or DIR/<name>/ "
                                            "with --lab). Example: harness grade submissions --out reports")
    grade.add_argument("directory", type=Path)
    grade.add_argument("--out", type=Path, default=Path("reports"))
    grade.add_argument("--lab", help="the lab of every submission in DIR")
    _resources(grade)
    grade.set_defaults(command=_grade)

    labs = commands.add_parser("labs", help="list the labs")
    labs.set_defaults(command=_labs)

    kit = commands.add_parser("kit", help="write a student self-check kit",
                              description="Write what a course hands students for self-checking: the spec's public "
                                          "cases with expected values, and reference-free checks. "
                                          "Example: harness kit --lab aics-exp3-3 --out kit/")
    kit.add_argument("--lab", required=True)
    kit.add_argument("--out", type=Path, required=True)
    kit.add_argument("--weights", type=Path, metavar="FILE",
                     help="the weights file the students have (includes the VGG19 checks)")
    kit.add_argument("--image", type=Path, metavar="FILE")
    kit.add_argument("--python", choices=("2", "3", "auto"), default=None,
                     help="the semantics the kit runs student code with by default (default: the spec's)")
    kit.set_defaults(command=_kit)
    return parser


def _resources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="imagenet-vgg-verydeep-19.mat (default: $HARNESS_VGG19_WEIGHTS, else synthetic weights)")
    parser.add_argument("--image", type=Path, metavar="FILE", help="image to classify (default: the shipped sample)")
    parser.add_argument("--no-compat", dest="compat", action="store_false",
                        help="do not emulate removed APIs (np.float, scipy.misc.imread ...)")
    parser.add_argument("--limit", action="append", default=[], metavar="KEY=VALUE", type=_limit,
                        help="override one of the spec's resource limits of the submission's process, e.g. "
                             "address_space=8G, cpu_time=600, open_files=128 (repeatable)")


def _limit(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _check(args) -> int:
    from .report.console import format_result
    from .spec import load_spec

    result = api.check(args.path, args.lab, weights=args.weights, image=args.image, only=args.only,
                       compat=args.compat, limits=dict(args.limit))
    print(format_result(result, load_spec(args.lab), verbose=args.verbose))
    if args.json:
        result.write_json(args.json)
    if args.html:
        from .report.html import write_html
        write_html(result, args.html, load_spec(args.lab).tiers)
    return EXIT_OK if result.all_passed or _only_selected(result, args.only) else EXIT_FAILED_CHECKS


def _only_selected(result, only) -> bool:
    return bool(only) and all(check.status == "pass" for check in result.checks if check.id in only)


def _grade(args) -> int:
    def progress(item):
        level = f", level {item.result.level}" if item.result.level is not None else ""
        print(f"{item.result.lab}/{item.name}: {item.result.score:g}/{item.result.max_score:g}{level}", flush=True)

    graded = api.grade(args.directory, args.out, lab=args.lab, weights=args.weights, image=args.image,
                       compat=args.compat, on_result=progress, limits=dict(args.limit))
    print(f"graded {len(graded)} submissions into {args.out}")
    return EXIT_OK


def _kit(args) -> int:
    manifest = api.kit(args.lab, args.out, weights=args.weights, image=args.image, python=args.python)
    print(f"wrote the {manifest['lab']} kit to {args.out}: check.pyz ({len(manifest['checks'])} checks) and "
          f"README.txt; a student runs: python3 check.pyz path/to/exp_dir")
    for check_id, reason in manifest["omitted"].items():
        print(f"  not in the kit: {check_id} ({reason})")
    return EXIT_OK


def _labs(args) -> int:
    for spec in api.labs():
        print(f"{spec.lab:<14} {spec.title}  ({len(spec.checks)} checks, {spec.max_score:g} points)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
