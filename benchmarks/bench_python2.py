"""What Python 2.7 semantics cost: the era probe and translation per submission, compiling in the child,
and classic division against Python 3's own operators.

Per example submission (its Python 3 original, and the same rewritten in the 2.7 style: / for sizes,
print statements, xrange): harness.era.decide end to end (the bounded subprocess: start-up, decoding,
parsing, fissix), py2probe.probe in this process (the parsing and translation alone), and classic.py's
compilation of every planned file (what a child does once). Then the classic-division helpers per call
against the operator they replace (``a // b`` / ``a / b``) on ints, floats and a small int array.

    python benchmarks/bench_python2.py                        # table on stdout
    python benchmarks/bench_python2.py --json results.json    # and every figure as JSON

Ratios compare figures measured in the same run; absolute seconds depend on the machine's load.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import era, py2probe  # noqa: E402
from harness.sandbox import classic  # noqa: E402

EXAMPLES = ("aics-exp3-3/correct-plain", "aics-exp3-1/correct-plain", "aics-exp2-1/correct")


def python2_style(text: str) -> str:
    text = re.sub(r"(_out\s*=\s*\([^\n]*?\))\s*//\s*", r"\1 / ", text)
    text = re.sub(r"\bfor (\w+) in range\(", r"for \1 in xrange(", text)
    return re.sub(r"^(\s*)print\((.*)\)\s*$", r"\1print \2", text, flags=re.M)


def _median(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_submission(package: Path, repeats: int) -> dict:
    files = {path.relative_to(package).as_posix(): path.read_bytes() for path in package.rglob("*.py")}
    answer = py2probe.probe("auto", files, [])
    sources = classic.Sources(answer["files"], str(package))

    def compile_all():
        sources._code.clear()
        for relative, entry in answer["files"].items():
            sources.code(str(package / relative), entry)
    return {"python": answer["python"], "files": len(files), "lines": sum(raw.count(b"\n") for raw in files.values()),
            "decide_seconds": _median(lambda: era.decide(package), repeats),
            "probe_in_process_seconds": _median(lambda: py2probe.probe("auto", files, []), repeats),
            "child_compile_seconds": _median(compile_all, repeats) if answer["files"] else 0.0}


def measure_operators(number: int) -> dict:
    array = np.arange(64, dtype=np.int64)
    cases = {"int / int": ("classic.divide(seven, two)", "seven // two"),
             "float / int": ("classic.divide(half, two)", "half / two"),
             "int array / int": ("classic.divide(array, two)", "array // two")}
    figures = {}
    for name, (helper, native) in cases.items():
        namespace = {"classic": classic, "array": array, "seven": 7, "two": 2, "half": 7.5}
        ours = min(timeit.repeat(helper, globals=namespace, number=number, repeat=5)) / number
        theirs = min(timeit.repeat(native, globals=namespace, number=number, repeat=5)) / number
        figures[name] = {"classic_ns": ours * 1e9, "native_ns": theirs * 1e9, "ratio": ours / theirs}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = {"submissions": {}, "operators": measure_operators(200_000)}
    with tempfile.TemporaryDirectory() as temporary:
        for example in EXAMPLES:
            original = ROOT / "submissions" / example / "stu_upload"
            rewritten = Path(temporary, example.replace("/", "_"), "stu_upload")
            shutil.copytree(original, rewritten, ignore=shutil.ignore_patterns("__pycache__"))
            for path in rewritten.glob("*.py"):
                path.write_text(python2_style(path.read_text(encoding="utf-8")), encoding="utf-8")
            results["submissions"][example] = {"python3": measure_submission(original, args.repeats),
                                               "python2_style": measure_submission(rewritten, args.repeats)}
    for example, pair in results["submissions"].items():
        for variant, figures in pair.items():
            print(f"{example:28} {variant:14} -> {figures['python']:3}  decide {figures['decide_seconds']:.3f} s  "
                  f"probe {figures['probe_in_process_seconds']:.3f} s  child compile "
                  f"{figures['child_compile_seconds'] * 1e3:.1f} ms  ({figures['files']} files, {figures['lines']} lines)")
    for name, figures in results["operators"].items():
        print(f"{name:16} classic {figures['classic_ns']:.0f} ns, native {figures['native_ns']:.0f} ns "
              f"(x{figures['ratio']:.1f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
