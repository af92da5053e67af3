"""Is the speedup verdict stable, and what does it cost? Check submissions' speedup checks N times in a row.

    python benchmarks/bench_speedup_stability.py [SUBMISSION ...] [--runs 5] [--json FILE]

Default submissions: submissions/aics-exp3-3/correct-vectorized and correct-plain. Selects the four
speedup checks (their dependencies run too; the seconds reported are the four checks' own).

Targets: the same verdict on every speedup check in every run, a coefficient of variation of the judged
ratio (the course's plain loop / the student's speedup path) under 10% across runs, and the seconds per
check (median over runs) with the pairs measured and why measuring stopped. Prints a table; --json writes
every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEEDUP_CHECKS = ("conv.speedup_forward", "conv.speedup_backward", "pool.speedup_forward", "pool.speedup_backward")
DEFAULT = [ROOT / "submissions" / "aics-exp3-3" / name for name in ("correct-vectorized", "correct-plain")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--lab", default="aics-exp3-3")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_info
    report = {"lab": args.lab, "date": time.strftime("%Y-%m-%d %H:%M"), "load_average_before": os.getloadavg(),
              "blas": [{k: info.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                       for info in threadpool_info()], "submissions": {}}
    stable = True
    for submission in args.submissions:
        runs = [_run(submission, args.lab) for _ in range(args.runs)]
        summary = _summarise(runs)
        report["submissions"][str(submission)] = {"runs": runs, "summary": summary}
        print(f"\n{submission.name}")
        for check_id, item in summary.items():
            print(f"  {check_id:<24} verdicts {'/'.join(item['verdicts'])}  ratio median {item['ratio_median']:.1f}x "
                  f"CV {item['ratio_cv']:.1%}  {item['seconds_median']:.2f} s per check  pairs {item['pairs']}")
            stable &= item["same_verdict"] and item["ratio_cv"] < 0.10
        print(f"  four checks: {statistics.median(sum(r['checks'][c]['seconds'] for c in SPEEDUP_CHECKS) for r in runs):.2f} s "
              "(median over runs)")
    report["load_average_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print("stable" if stable else "NOT stable")
    return 0


def _run(submission: Path, lab: str) -> dict:
    from harness import api
    started = time.perf_counter()
    result = api.check(submission, lab, only=list(SPEEDUP_CHECKS))
    checks = {}
    for check in result.checks:
        if check.id in SPEEDUP_CHECKS:
            metrics = check.metrics
            checks[check.id] = {"status": check.status, "seconds": check.duration,
                                **{key: metrics.get(key) for key in (
                                    "ratio", "own_ratio", "reference_ratio", "ratio_cv", "pairs", "stopped",
                                    "calls_per_measurement", "raw_seconds", "speedup_seconds", "reference_raw_seconds",
                                    "speedup_cpu_share", "pinned_cpu", "judged_by_wall_time")}}
    return {"seconds": time.perf_counter() - started, "checks": checks}


def _summarise(runs: list[dict]) -> dict:
    summary = {}
    for check_id in SPEEDUP_CHECKS:
        items = [run["checks"][check_id] for run in runs]
        verdicts = [item["status"] for item in items]
        ratios = [item["ratio"] for item in items if item.get("ratio")]
        summary[check_id] = {
            "verdicts": verdicts, "same_verdict": len(set(verdicts)) == 1, "ratios": ratios,
            "ratio_median": statistics.median(ratios) if ratios else float("nan"),
            "ratio_cv": statistics.stdev(ratios) / statistics.mean(ratios) if len(ratios) > 1 else 0.0,
            "seconds_median": statistics.median(item["seconds"] for item in items),
            "pairs": sorted({item["pairs"] for item in items if item.get("pairs")}),
        }
    return summary


if __name__ == "__main__":
    sys.exit(main())
