"""`harness dlp calibrate` and `harness dlp compare`: argument parsing and printing only.

    harness dlp calibrate --weights imagenet-vgg-verydeep-19.mat --images a.jpg b.jpg --out quant.npz
    harness dlp calibrate --weights weight.npy --images t10k-images-idx3-ubyte --out mnist_quant.npz
    harness dlp compare --weights FILE --quant FILE --image FILE [--junit FILE] [--emulate] [--api pycnnl]

Exit status of compare: 0 no regression, 1 a regression, 2 a harness error, 77 skipped (no DLP present and
no --emulate); of calibrate: 0, or 2 when it cannot read its inputs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .compare import EXIT_SKIPPED


def add_parser(commands, parents=()) -> None:
    """Add the `dlp` command (with `calibrate` and `compare`) to the CLI's subparsers."""
    dlp = commands.add_parser("dlp", parents=list(parents), help="DLP labs (exp 2-2, 3-2): calibrate quantization, compare on a board",
                              description="Tools for the Cambricon DLP labs (pycnml / pycnnl).")
    verbs = dlp.add_subparsers(title="dlp commands", parser_class=type(dlp))
    dlp.set_defaults(command=lambda args: _usage(dlp))
    calibrate = verbs.add_parser(
        "calibrate", parents=list(parents), help="derive int8 (position, scale) pairs in the course's npz format",
        description="Derive int8 (position, scale) pairs, one per conv / fc layer, for the weights and calibration "
                    "images, in the course's npz format ('input' and 'filter': flat [position, scale, ...]). "
                    "A .mat is VGG19 (images: image files; default the shipped ones), a .npy exp 2-1's MLP "
                    "weights (images: an MNIST idx3-ubyte file or a .npy of [N, 784] pixels).")
    calibrate.add_argument("--weights", type=Path, metavar="FILE",
                           help="imagenet-vgg-verydeep-19.mat (default: $HARNESS_VGG19_WEIGHTS, else synthetic) "
                                "or an MLP weight.npy")
    calibrate.add_argument("--images", type=Path, nargs="+", metavar="FILE", help="calibration images")
    calibrate.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .npz to write")
    calibrate.set_defaults(command=_calibrate)
    compare = verbs.add_parser(
        "compare", parents=list(parents), help="run VGG19 on pycnml (or its emulation) against the float reference",
        description="Build exp 3-2's VGG19 with pycnml the way a correct solution does, run it on the board "
                    "(or, with --emulate, the numpy emulation) and compare pool5, the softmax and the classes with "
                    "the float reference within the spec's bounds. Exit status: 0 no regression, 1 regression, "
                    f"2 harness error, {EXIT_SKIPPED} skipped (no DLP present and no --emulate).")
    compare.add_argument("--weights", type=Path, metavar="FILE",
                         help="imagenet-vgg-verydeep-19.mat (default: $HARNESS_VGG19_WEIGHTS, else synthetic)")
    compare.add_argument("--quant", type=Path, metavar="FILE",
                         help="quantization parameters .npz (default: $HARNESS_DLP_VGG19_QUANT, else calibrated)")
    compare.add_argument("--image", type=Path, metavar="FILE", help="image to classify (default: the shipped sample)")
    compare.add_argument("--junit", type=Path, metavar="FILE", help="write the results as JUnit XML")
    compare.add_argument("--emulate", action="store_true", help="use the numpy emulation (runs anywhere)")
    compare.add_argument("--api", choices=("pycnml", "pycnnl"), default="pycnml",
                         help="pycnml (MLU270, int8 / float16; default) or pycnnl (MLU370, float32)")
    compare.add_argument("--layers", nargs="*", default=["pool5"], metavar="LAYER",
                         help="also compare networks cut after these conv-part layers (default: pool5)")
    compare.set_defaults(command=_compare)


def _usage(parser) -> int:
    """`harness dlp` without a verb: its help, exit status 2 like any incomplete command line."""
    parser.print_help(sys.stderr)
    return 2


def _calibrate(args) -> int:
    from .quant import calibrate_files, save_npz
    table, network = calibrate_files(args.weights, args.images)
    save_npz(table, args.out)
    print(f"wrote {len(table)} input and filter (position, scale) pairs of the {network} to {args.out}")
    return 0


def _compare(args) -> int:
    from . import compare
    layers = tuple(args.layers)
    report = compare.run(weights=args.weights, quant=args.quant, image=args.image, emulate=args.emulate,
                         api=args.api, layers=layers, log=lambda text: print(f"harness: {text}", file=sys.stderr))
    print(report.summary())
    if args.junit:
        compare.write_junit(report, args.junit, layers)
    return report.exit_status

