"""`harness`: a thin command line over harness.api.

    harness check PATH --lab LAB [--only ID[,ID...]] [--json FILE] [--html FILE] ...
    harness grade DIR [--out DIR] [--lab LAB] [--jobs N] [--resume | --regrade] [--executor local|dask] ...
    harness similarity DIR --lab LAB --out DIR [--known DIR]   near-copies among the submissions
    harness labs [LAB]                   the labs; with LAB, its checks (ids, points, tiers)
    harness kit --lab LAB --out DIR      a student kit (check.pyz)
    harness --version

Exit status of `check`: 0 when every (selected) check passed, 1 when a check did not pass, 2 when the
harness itself could not run (bad arguments, a broken spec, an unreadable file); the message is one
line, with the traceback only under --debug (accepted before or after the command). `grade` exits 0
once every submission is graded (the grades, good or bad, are in the reports) and 2 when it could not
grade. Ctrl-C exits 130 (`grade` keeps every finished submission: rerun with --resume). Every option's
help states its default.
"""
from __future__ import annotations

import argparse
import platform
import sys
import traceback
from pathlib import Path

from . import __version__, api
from .errors import HarnessError

EXIT_OK, EXIT_FAILED_CHECKS, EXIT_HARNESS_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130                  # 128 + SIGINT, as a shell reports Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.error(_unexpected(extra, args))
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_HARNESS_ERROR
    try:
        return args.command(args)
    except HarnessError as error:
        if args.debug:                  # the traceback, and still the documented status
            traceback.print_exc()
        print(f"harness: error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:             # `harness check ... | head`: the reader left, nothing to report
        sys.stdout = None
        return EXIT_OK


def _unexpected(extra: list[str], args) -> str:
    words = " ".join(extra)
    if getattr(args, "only", None):
        return (f"unexpected argument(s) {words!r}: --only takes one check id or a comma-separated list "
                "(--only a,b or --only a --only b), and the submission path is given once")
    return f"unrecognized arguments: {words}"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like the harness's own (exit status 2, no usage dump)."""

    def error(self, message: str):
        self.exit(EXIT_HARNESS_ERROR, f"harness: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Check and grade deep-learning-from-scratch lab submissions.",
                     epilog="`harness COMMAND --help` describes a command and its options.")
    parser.add_argument("--version", action="version",
                        version=f"harness {__version__} (nnlab-harness, Python {platform.python_version()})",
                        help="print the version and exit")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the traceback of a harness error (default: one line); also after the command")
    # The same switch after the command: SUPPRESS keeps a subcommand from resetting a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of a harness error (default: one line)")
    commands = parser.add_subparsers(title="commands", parser_class=_Parser, metavar="COMMAND")

    check = commands.add_parser("check", parents=[debug], help="check one submission",
                                description="Check one submission (a directory holding stu_upload/, stu_upload/ "
                                            "itself, or a .zip/.tar.gz of either). "
                                            "Example: harness check my_exp_dir --lab aics-exp3-3 --html report.html")
    check.add_argument("path", type=Path, help="the submission")
    check.add_argument("--lab", required=True, help="lab name (see `harness labs`) or a spec .yaml file (required)")
    check.add_argument("--only", action="append", metavar="ID[,ID...]",
                       help="run only these check ids and the checks they depend on; repeatable "
                            "(default: every check; ids: `harness labs LAB`)")
    check.add_argument("--json", type=Path, metavar="FILE", help="write the result as JSON (default: no file)")
    check.add_argument("--html", type=Path, metavar="FILE",
                       help="write a self-contained HTML report (default: no file)")
    _resources(check)
    check.add_argument("--progress", choices=("auto", "live", "plain", "off"), default="auto",
                       help="what to show while checks run, on stderr: a live line with the running check and its "
                            "time, plain lines, or nothing (default: auto, live on a terminal, plain otherwise)")
    check.add_argument("--verbose", "-v", action="store_true",
                       help="explain passing and skipped checks too (default: only the failures)")
    check.set_defaults(command=_check)

    grade = commands.add_parser("grade", parents=[debug], help="grade a folder of submissions into a reports folder",
                                description="Grade every submission under DIR (DIR/<entry>, one folder or archive per "
                                            "student, with --lab; else DIR/<lab>/<entry> into OUT/<lab>/). OUT gets "
                                            "<entry>-<hash>/result.json and report.html, grades.csv, gradescope/, "
                                            "junit.xml, index.html and the store grades.sqlite. "
                                            "Example: harness grade submissions --out reports")
    grade.add_argument("directory", type=Path, help="the folder of submissions")
    grade.add_argument("--out", type=Path, default=Path("reports"),
                       help="where the results and reports go (default: reports)")
    grade.add_argument("--lab", help="the lab of every submission in DIR (default: from DIR's folder names)")
    _resources(grade)
    _batch(grade)
    grade.set_defaults(command=_grade)

    similar = commands.add_parser("similarity", parents=[debug], help="find near-copies among the submissions",
                                  description="Write OUT/similarity.html: for the lab, the pairs of submissions whose "
                                              "code is unusually similar once names and formatting are normalised, "
                                              "with the shared fragments side by side (copydetect's winnowing). "
                                              "Example: harness similarity uploads --lab aics-exp3-3 --out reports")
    similar.add_argument("directory", type=Path, help="the folder of submissions (one folder or archive per student)")
    similar.add_argument("--lab", required=True, help="the lab of the submissions (required)")
    similar.add_argument("--out", type=Path, default=Path("reports"), help="where similarity.html goes "
                         "(default: reports)")
    similar.add_argument("--known", type=Path, metavar="DIR", help="a folder of known public solutions (one folder "
                         "or archive each) to compare every submission with (default: none)")
    similar.set_defaults(command=_similarity)

    labs = commands.add_parser("labs", parents=[debug], help="list the labs, or one lab's checks",
                               description="Without LAB: every lab with its title, checks and points. With LAB: "
                                           "its checks with ids, points and the tiers (levels) that require them.")
    labs.add_argument("lab", nargs="?", help="a lab name or spec .yaml file (default: list all labs)")
    labs.set_defaults(command=_labs)

    kit = commands.add_parser("kit", parents=[debug], help="write a student self-check kit (check.pyz)",
                              description="Write DIR/check.pyz and DIR/README.txt: a checker students run with only "
                                          "Python 3.9+ and NumPy (python3 check.pyz PATH), holding the lab's public "
                                          "cases with their expected values and no reference code. "
                                          "Example: harness kit --lab aics-exp3-3 --out kit/")
    kit.add_argument("--lab", required=True, help="lab name or spec .yaml file (required)")
    kit.add_argument("--out", type=Path, required=True, help="the folder to write the kit into (required)")
    kit.add_argument("--weights", type=Path, metavar="FILE",
                     help="the VGG19 weights file the students have: includes the VGG19 checks, which then verify "
                          "the student's file is the same (default: those checks are left out)")
    kit.add_argument("--image", type=Path, metavar="FILE",
                     help="the image the students classify (default: the shipped sample)")
    kit.add_argument("--python", choices=("2", "3", "auto"), default=None,
                     help="the semantics the kit runs student code with unless the student says otherwise "
                          "(default: the spec's python: key)")
    kit.set_defaults(command=_kit)

    from .dlp.commands import add_parser as add_dlp_parser      # `harness dlp calibrate|compare`; logic in harness.dlp
    add_dlp_parser(commands, parents=[debug])
    return parser


def _resources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="imagenet-vgg-verydeep-19.mat (default: $HARNESS_VGG19_WEIGHTS, else synthetic weights)")
    parser.add_argument("--image", type=Path, metavar="FILE", help="image to classify (default: the shipped sample)")
    parser.add_argument("--no-compat", dest="compat", action="store_false",
                        help="do not emulate removed APIs such as np.float, scipy.misc.imread (default: emulate)")
    parser.add_argument("--limit", action="append", default=[], metavar="KEY=VALUE", type=_limit,
                        help="override one of the spec's resource limits of the submission's process, e.g. "
                             "address_space=8G, cpu_time=600, open_files=128; repeatable (default: the spec's)")
    parser.add_argument("--python", choices=("2", "3", "auto"), default=None,
                        help="run student code as Python 2.7 (translated, classic division), 3, or decide per "
                             "submission from its code (auto) (default: the spec's python: key, auto)")
    parser.add_argument("--isolation", choices=("bwrap", "fallback"), default="bwrap",
                        help="bwrap: run submissions under bubblewrap with a seccomp filter, or refuse when it is "
                             "missing; fallback: the best isolation this machine has, recorded in each result "
                             "(default: bwrap)")


def _batch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="grade N submissions at a time, each in its own worker and sandbox (default: 1); "
                             "speedup timing still runs one at a time, on a CPU of its own")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue a batch in OUT: grade only the submissions "
                       "not stored yet or changed since (content hash) (default: OUT must hold no batch)")
    again.add_argument("--regrade", action="store_true", help="grade every submission in OUT's batch again (after a "
                       "spec fix) and list whose score changed (default: OUT must hold no batch)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="local worker processes, or a dask.distributed cluster (the cluster extra) "
                             "(default: local)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="with --executor dask: the scheduler to use, e.g. "
                        "tcp://10.0.0.5:8786 (default: a local cluster of --jobs workers on the loopback interface)")
    parser.add_argument("--similarity", action="store_true",
                        help="also write OUT/similarity.html: near-copies among the submissions (default: off)")
    parser.add_argument("--known", type=Path, metavar="DIR", help="with --similarity: a folder of known public "
                        "solutions to compare every submission with (default: none)")
    parser.add_argument("--progress", choices=("auto", "live", "plain", "off"), default="auto",
                        help="what to show while submissions are graded, on stderr: a live line (done/total, the "
                             "running submissions, ETA), a plain line per submission, or nothing (default: auto, "
                             "live on a terminal, plain otherwise)")


def _limit(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _check(args) -> int:
    from .progress import live_progress
    from .report.console import format_result
    from .selection import parse_only, select_checks
    from .spec import load_spec

    spec = load_spec(args.lab)
    only = parse_only(args.only)
    selected = select_checks(spec, only)
    with live_progress(sys.stderr, args.progress, ids=list(selected or [c.id for c in spec.checks])) as progress:
        result = api.check(args.path, args.lab, weights=args.weights, image=args.image, only=only,
                           compat=args.compat, limits=dict(args.limit), python=args.python, isolation=args.isolation,
                           progress=progress)
    print(format_result(result, spec, verbose=args.verbose))
    if args.json:
        result.write_json(args.json)
    if args.html:
        from .report.html import write_html
        problem = write_html(result, args.html, spec.tiers)
        if problem:
            print(f"harness: warning: {args.html}: {problem}", file=sys.stderr)
    return EXIT_OK if result.all_passed or _only_selected(result, only) else EXIT_FAILED_CHECKS


def _only_selected(result, only) -> bool:
    return bool(only) and all(check.status == "pass" for check in result.checks if check.id in only)


def _grade(args) -> int:
    from .batch.summary import format_batch
    if args.known and not args.similarity:
        raise HarnessError("--known compares with known solutions in the similarity report: add --similarity")
    graded = api.grade(args.directory, args.out, lab=args.lab, weights=args.weights, image=args.image,
                       compat=args.compat, limits=dict(args.limit), python=args.python, isolation=args.isolation,
                       jobs=args.jobs, resume=args.resume, regrade=args.regrade, executor=args.executor,
                       scheduler=args.scheduler, similarity=args.similarity, known=args.known,
                       progress=args.progress, progress_stream=sys.stderr)
    for outcome in graded.outcomes:
        print(format_batch(outcome))
    return EXIT_OK


def _similarity(args) -> int:
    report = api.similarity(args.directory, args.out, lab=args.lab, known=args.known)
    print(report.summary())
    return EXIT_OK


def _kit(args) -> int:
    manifest = api.kit(args.lab, args.out, weights=args.weights, image=args.image, python=args.python)
    print(f"wrote the {manifest['lab']} kit to {args.out}: check.pyz ({len(manifest['checks'])} checks) and "
          f"README.txt; a student runs: python3 check.pyz path/to/exp_dir")
    for check_id, reason in manifest["omitted"].items():
        print(f"  not in the kit: {check_id} ({reason})")
    return EXIT_OK


def _labs(args) -> int:
    if args.lab:
        from .selection import format_check_list
        from .spec import load_spec
        print(format_check_list(load_spec(args.lab)))
        return EXIT_OK
    for spec in api.labs():
        print(f"{spec.lab:<14} {spec.title}  ({len(spec.checks)} checks, {spec.max_score:g} points)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
