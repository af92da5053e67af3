"""Is the speedup verdict stable? Check one submission's speedup checks N times in a row.

    python benchmarks/bench_speedup_stability.py [SUBMISSION] [--runs 5] [--json FILE]

Target (issue: trustworthy speedup grading): the same verdict on every speedup
check in every run, and a coefficient of variation of the measured ratio under
10% across runs. Prints a table and, with --json, all figures.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEEDUP_CHECKS = ("conv.speedup_forward", "conv.speedup_backward", "pool.speedup_forward", "pool.speedup_backward")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", type=Path,
                        default=ROOT / "submissions" / "aics-exp3-3" / "correct-vectorized")
    parser.add_argument("--lab", default="aics-exp3-3")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_info

    from harness import api
    runs = []
    for index in range(args.runs):
        started = time.perf_counter()
        result = api.check(args.submission, args.lab, only=list(SPEEDUP_CHECKS))
        runs.append({"seconds": time.perf_counter() - started,
                     "checks": {check.id: {"status": check.status, **_figures(check)}
                                for check in result.checks if check.id in SPEEDUP_CHECKS}})
        print(f"run {index + 1}: " + ", ".join(f"{cid} {c['status']} {c.get('ratio', float('nan')):.1f}x"
                                                for cid, c in runs[-1]["checks"].items()), flush=True)
    summary = {}
    for check_id in SPEEDUP_CHECKS:
        verdicts = [run["checks"][check_id]["status"] for run in runs]
        ratios = [run["checks"][check_id].get("ratio") for run in runs if run["checks"][check_id].get("ratio")]
        cv = statistics.stdev(ratios) / statistics.mean(ratios) if len(ratios) > 1 else 0.0
        summary[check_id] = {"verdicts": verdicts, "same_verdict": len(set(verdicts)) == 1, "ratios": ratios,
                             "ratio_cv": cv, "reference_ratios": [run["checks"][check_id].get("reference_ratio")
                                                                  for run in runs]}
        print(f"{check_id:<24} verdicts {'/'.join(verdicts)}  ratio median {statistics.median(ratios):.1f}x  "
              f"CV {cv:.1%}")
    report = {"submission": str(args.submission), "lab": args.lab, "runs": runs, "summary": summary,
              "blas": [{k: info.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                       for info in threadpool_info()]}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    stable = all(item["same_verdict"] and item["ratio_cv"] < 0.10 for item in summary.values())
    print("stable" if stable else "NOT stable")
    return 0


def _figures(check) -> dict:
    for case in check.cases:
        metrics = case.metrics.get("speedup")
        if metrics:
            return {key: metrics.get(key) for key in ("ratio", "ratio_spread", "reference_ratio", "judged_ratio",
                                                       "raw_seconds", "speedup_seconds")}
    return {}


if __name__ == "__main__":
    sys.exit(main())
