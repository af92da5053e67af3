"""What the sandbox's isolation costs: a child's start-up and one small request, bubblewrap against a plain
child process measured in the same run (interleaved, so a loaded machine weighs on both alike).

    start-up   spawn to READY: bwrap and setpriv (or nothing), the interpreter, numpy's import, the
               bootstrap, rlimits and the audit hook (Session.summary()["startup_seconds"])
    request    one import-and-call request to a running child, parent's /proc reads of the tree included
               (and, under bubblewrap, stopping the tree after the request and continuing it before)
    step       one more step of a program (a call): what a statement-heavy check pays per statement

    python benchmarks/bench_sandbox_startup.py                       # JSON on stdout
    python benchmarks/bench_sandbox_startup.py --rounds 30 --json benchmarks/results/sandbox_startup.json

The figure to read is the ratio bwrap / process: the isolation's own cost, whatever the machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.sandbox import SandboxConfig, Session  # noqa: E402

PROGRAM = {"steps": [{"import": "m", "as": "m"}, {"call": "m.f", "args": [{"ref": "x"}], "as": "y"}],
           "outputs": ["y"]}
MANY_STEPS = 200
LONG_PROGRAM = {"steps": PROGRAM["steps"] + PROGRAM["steps"][1:] * MANY_STEPS, "outputs": ["y"]}


def measure(package: Path, isolation: str, requests: int) -> tuple[float, list[float], float]:
    """(start-up seconds, seconds of each small request, seconds per extra step)."""
    with Session(SandboxConfig(submission_dir=package, isolation=isolation)) as session:
        first = session.run(PROGRAM, {"x": np.ones(4)})
        assert first.ok, (first.status, first.detail, first.stderr)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            session.run(PROGRAM, {"x": np.ones(4)})
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        session.run(LONG_PROGRAM, {"x": np.ones(4)})
        per_step = (time.perf_counter() - started - statistics.median(times)) / MANY_STEPS
        return session.summary()["startup_seconds"][0], times, per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="children started per isolation (default 15)")
    parser.add_argument("--requests", type=int, default=10, help="requests timed per child (default 10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    package = Path(tempfile.mkdtemp(prefix="bench-sandbox-")) / "stu_upload"
    package.mkdir()
    (package / "m.py").write_text("def f(x):\n    return 2 * x\n")
    startup: dict[str, list[float]] = {"bwrap": [], "process": []}
    request: dict[str, list[float]] = {"bwrap": [], "process": []}
    step: dict[str, list[float]] = {"bwrap": [], "process": []}
    for _ in range(args.rounds):
        for isolation in startup:
            seconds, times, per_step = measure(package, isolation, args.requests)
            startup[isolation].append(seconds)
            request[isolation] += times
            step[isolation].append(per_step)
    figures = {
        isolation: {"startup_median_s": round(statistics.median(startup[isolation]), 4),
                    "startup_min_s": round(min(startup[isolation]), 4),
                    "request_median_s": round(statistics.median(request[isolation]), 5),
                    "step_median_s": round(statistics.median(step[isolation]), 6)}
        for isolation in startup}
    figures["ratio_bwrap_to_process"] = {
        "startup_median": round(figures["bwrap"]["startup_median_s"] / figures["process"]["startup_median_s"], 3),
        "request_median": round(figures["bwrap"]["request_median_s"] / figures["process"]["request_median_s"], 3)}
    figures["rounds"], figures["requests_per_child"] = args.rounds, args.requests
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
