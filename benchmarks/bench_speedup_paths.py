"""Which speedup threshold separates genuine speedup paths from faked ones? Measure them all.

    python benchmarks/bench_speedup_paths.py [--runs 2] [--json FILE] [--small] [--only conv|pool] [--no-harness]

Every kind of genuine speedup path students write for conv and max pooling, forward and backward
(tests/fixtures/speedup_paths/genuine: im2col with a Python loop over positions, vectorised im2col,
as_strided, sliding_window_view + einsum with and without optimize=True, tensordot, per-channel loops,
per-kernel-offset loops, pool via reshape, strided windows, a repeat mask), and every kind of faked one
(tests/fixtures/speedup_paths/gamed), on the spec's timing shapes:

1. in one process, without the sandbox: CPU seconds per call of each path and of the reference's plain
   loop (reference/aics/layers_2.py), alternating, the ratio of the medians;
2. through the harness (`harness check` with a spec holding one speedup check per class): the judged
   ratio, the student's own raw / speedup ratio, the verdict, the pairs measured and the check's time.

Target: with the spec's min_ratio, every genuine path passes and every faked one scores 0, with a factor
of at least 1.5 between the threshold and the nearest genuine path's judged ratio (`margin` in the
summary). Prints a table; --json writes every figure.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "speedup_paths"
sys.path.insert(0, str(FIXTURES))
import specs as fixture_specs  # noqa: E402  (tests/fixtures/speedup_paths/specs.py)

CHECKS = {"conv": ("conv.speedup_forward", "conv.speedup_backward"), "pool": ("pool.speedup_forward", "pool.speedup_backward")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="harness runs per path (the table shows the worst)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--small", action="store_true", help="the tests' smaller shapes instead of the spec's")
    parser.add_argument("--only", choices=("conv", "pool"))
    parser.add_argument("--no-harness", action="store_true", help="in-process figures only")
    args = parser.parse_args(argv)

    genuine, gamed = _load(fixture_specs.GENUINE), _load(fixture_specs.GAMED)
    layers = [args.only] if args.only else ["conv", "pool"]
    shapes = fixture_specs.SMALL if args.small else {}
    report = {"machine": _machine(), "shapes": "small (tests)" if args.small else "spec", "in_process": {},
              "harness": {}, "summary": {}}
    for layer in layers:
        report["in_process"][layer] = _in_process(layer, genuine, shapes)
    if not args.no_harness:
        for layer in layers:
            for check in CHECKS[layer]:
                report["harness"][check] = _through_harness(check, genuine, gamed, shapes, args.runs)
        report["summary"] = _summary(report["harness"])
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")
    return 0


def _load(root: Path):
    spec = importlib.util.spec_from_file_location(f"paths_{root.name}", root / "stu_upload" / "layers_2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _machine() -> dict:
    from threadpoolctl import threadpool_info
    import os
    return {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "blas": [{k: info.get(k) for k in ("internal_api", "architecture", "version")} for info in threadpool_info()]}


# --- in one process ---------------------------------------------------------------------------------

def _spec_case(check_id: str, shapes: dict) -> dict:
    import yaml
    data = yaml.safe_load((ROOT / "specs" / "aics-exp3-3.yaml").read_text())
    check = next(check for check in data["checks"] if check["id"] == check_id)
    return {**check["cases"][0], **shapes.get(check["options"]["layer"], {})}


def _in_process(layer: str, genuine, shapes: dict, calls: int = 20) -> dict:
    """CPU seconds per call of each path and of the plain loop, on new inputs each call (median of rounds)."""
    from threadpoolctl import threadpool_limits

    from reference.aics import layers_2 as reference
    case = _spec_case(CHECKS[layer][0], shapes)
    rng = np.random.default_rng(0)
    n, c, h, w = case["shape"]
    k, s = case["kernel"], case["stride"]
    if layer == "conv":
        p, cout = case["padding"], case["channels_out"]
        weight, bias = rng.standard_normal((c, k, k, cout)) / np.sqrt(c * k * k), rng.standard_normal(cout)
        out_shape = (n, cout, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        loops = {"forward": lambda x, dout: reference.conv_forward_raw(x, weight, bias, p, s),
                 "backward": lambda x, dout: reference.conv_backward_raw(dout, x, weight, p, s)}

        def build(name):
            layer_object = getattr(genuine, name)(k, c, cout, p, s)
            layer_object.init_param()
            layer_object.load_param(weight, bias)
            return layer_object
        names = genuine.CONV_PATHS
    else:
        out_shape = (n, c, (h - k) // s + 1, (w - k) // s + 1)
        loops = {"forward": lambda x, dout: reference.pool_forward_raw(x, k, s),
                 "backward": lambda x, dout: reference.pool_backward_raw(dout, x, k, s)}
        build = lambda name: getattr(genuine, name)(k, s)                                        # noqa: E731
        names = genuine.POOL_PATHS
    inputs = [(rng.standard_normal((n, c, h, w)), rng.standard_normal(out_shape)) for _ in range(calls)]
    results = {}
    with threadpool_limits(limits=1):
        loop = {stage: _cpu(lambda index: function(*inputs[index]), 2) for stage, function in loops.items()}
        for name in names:
            objects = [build(name) for _ in range(calls)]
            forward = _cpu(lambda index: objects[index].forward_speedup(inputs[index][0]), calls)
            backward = _cpu(lambda index: objects[index].backward_speedup(inputs[index][1]), calls)   # after forward
            results[name] = {"forward_seconds": forward, "backward_seconds": backward,
                             "forward_ratio": loop["forward"] / forward, "backward_ratio": loop["backward"] / backward}
    return {"case": case, "plain_loop_seconds": loop, "paths": results}


def _cpu(function, calls: int, rounds: int = 3) -> float:
    """Median over rounds of CPU seconds per call of function(0), ..., function(calls - 1)."""
    samples = []
    for _ in range(rounds):
        started = time.thread_time()
        for index in range(calls):
            function(index)
        samples.append((time.thread_time() - started) / calls)
    return statistics.median(samples)


# --- through the harness ------------------------------------------------------------------------------

def _through_harness(check: str, genuine, gamed, shapes: dict, runs: int) -> dict:
    from harness import api
    layer, stage = check.split(".")[0], check.rsplit("_", 1)[1]
    genuine_names = genuine.CONV_PATHS if layer == "conv" else genuine.POOL_PATHS
    gamed_names = getattr(gamed, f"{layer.upper()}_{stage.upper()}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, submission, names in (("genuine", fixture_specs.GENUINE, genuine_names),
                                        ("gamed", fixture_specs.GAMED, gamed_names)):
            spec = fixture_specs.derive(Path(tmp) / f"{kind}.yaml", [(check, name) for name in names], shapes=shapes)
            for run in range(runs):
                result = api.check(submission, str(spec))
                for name, outcome in zip(names, result.checks):
                    metrics = outcome.metrics
                    row = rows.setdefault(name, {"kind": kind, "runs": []})
                    row["runs"].append({
                        "status": outcome.status, "points": outcome.points, "seconds": outcome.duration,
                        "ratio": metrics.get("ratio"), "own_ratio": metrics.get("own_ratio"),
                        "pairs": metrics.get("pairs"), "calls": metrics.get("calls_per_measurement"),
                        "speedup_ms": (metrics.get("speedup_seconds") or float("nan")) * 1e3,
                        "plain_loop_ms": (metrics.get("reference_raw_seconds") or float("nan")) * 1e3,
                        "cpu_share": metrics.get("speedup_cpu_share"), "message": outcome.message[:300]})
    return rows


def _summary(harness: dict) -> dict:
    summary = {}
    for check, rows in harness.items():
        genuine = [run for row in rows.values() if row["kind"] == "genuine" for run in row["runs"]]
        gamed = [run for row in rows.values() if row["kind"] == "gamed" for run in row["runs"]]
        ratios = [run["ratio"] for run in genuine if run["ratio"] is not None]
        threshold = _threshold(check)
        slowest = min(ratios) if ratios else float("nan")
        summary[check] = {
            "min_ratio": threshold, "slowest_genuine_ratio": slowest, "margin": slowest / threshold,
            "genuine_all_pass": all(run["status"] == "pass" for run in genuine),
            "gamed_all_zero": all(run["points"] == 0 for run in gamed),
            "seconds_per_check_median": statistics.median(run["seconds"] for run in genuine + gamed),
            "pairs": sorted({run["pairs"] for run in genuine + gamed if run["pairs"]}),
        }
    return summary


def _threshold(check: str) -> float:
    import yaml
    data = yaml.safe_load((ROOT / "specs" / "aics-exp3-3.yaml").read_text())
    options = next(item for item in data["checks"] if item["id"] == check).get("options", {})
    if "min_ratio" in options:
        return options["min_ratio"]
    from harness.adapters.aics_timing import DEFAULT_OPTIONS
    return DEFAULT_OPTIONS["min_ratio"]


def _print(report: dict) -> None:
    for layer, figures in report["in_process"].items():
        loop = figures["plain_loop_seconds"]
        print(f"\n{layer}, in one process ({figures['case']['shape']}): plain loop forward {loop['forward'] * 1e3:.1f} ms, "
              f"backward {loop['backward'] * 1e3:.1f} ms")
        for name, row in figures["paths"].items():
            print(f"  {name:<22} forward {row['forward_seconds'] * 1e3:8.3f} ms {row['forward_ratio']:7.1f}x   "
                  f"backward {row['backward_seconds'] * 1e3:8.3f} ms {row['backward_ratio']:7.1f}x")
    for check, rows in report["harness"].items():
        print(f"\n{check}, through the harness (judged ratio: plain loop / your speedup, worst of the runs)")
        for name, row in rows.items():
            runs = row["runs"]
            worst = min(runs, key=lambda run: run["ratio"] if run["ratio"] is not None else float("inf"))
            statuses = "/".join(run["status"] for run in runs)
            ratio = f"{worst['ratio']:7.1f}x" if worst["ratio"] is not None else "      -"
            own = f"{worst['own_ratio']:7.1f}x" if worst["own_ratio"] is not None else "      -"
            print(f"  {row['kind']:<8} {name:<22} {statuses:<10} judged {ratio} own {own} pairs {worst['pairs']} "
                  f"{statistics.median(run['seconds'] for run in runs):5.2f} s")
    for check, item in report["summary"].items():
        print(f"{check}: min_ratio {item['min_ratio']:g}, slowest genuine {item['slowest_genuine_ratio']:.1f}x "
              f"(margin {item['margin']:.1f}), genuine all pass: {item['genuine_all_pass']}, "
              f"faked all 0: {item['gamed_all_zero']}, median check {item['seconds_per_check_median']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
