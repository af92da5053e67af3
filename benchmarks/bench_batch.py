"""Batch grading: throughput with one and two workers, harness overhead, peak memory, honest speedups.

    python benchmarks/bench_batch.py [--json FILE] [--count 100] [--lab aics-exp2-1] [--repeats 1]
                                     [--speedup-count 10] [--memory-count 2] [--memory-lab aics-exp3-3]
                                     [--skip throughput,speedup,memory]

1. throughput: the lab's example submissions (submissions/<lab>/*) replicated to --count entries, graded by
   `harness grade --jobs 1` and then `--jobs 2` (bubblewrap isolation, a fresh output folder each;
   alternately --repeats times, the fastest run of each setting reported). Reports
   submissions per minute, the ratio jobs 2 / jobs 1 (goal >= 1.8 on 2 cores), the harness overhead per
   submission (the worker's wall time for it minus the time its sandbox spent in requests, child start-up
   excluded; goal < 0.5 s) and the batch's overhead per submission (wall time x jobs / count minus the time in
   submission code), and the peak memory of the grader's process tree (PSS: shared pages counted once).
2. speedup: the exp 3-3 examples (10 by default) graded with only the speedup checks and the checks they
   depend on, with --jobs 1 and with --jobs 2: verdicts must be identical and the judged ratios within 10%;
   reports the pairs each measurement needed (sequential stopping).
3. memory: --memory-count examples of --memory-lab (exp 3-3) graded in full (style transfer included) with --jobs 2: peak
   PSS of the whole tree, of the harness's processes (coordinator and workers) and of the sandbox children
   (the students' code), sampled every 0.2 s. Goal: < 2.5 GB for --jobs 2.

The machine's load average is recorded before and after each run, and how busy the machine's CPUs were
during it (``machine_busy``, from /proc/stat, every process counted): near 1.0 with --jobs 2 means the
batch and whatever else ran used both cores, so the others' share is what the ratio lacks.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEEDUP_CHECKS = ("conv.speedup_forward", "conv.speedup_backward", "pool.speedup_forward", "pool.speedup_backward")
GRADE = """
import json, sys
from pathlib import Path
from harness.batch.run import grade_batch
from harness.batch.task import Settings
args = json.loads(sys.argv[1])
settings = Settings(only=tuple(args["only"]) if args["only"] else None)
outcome = grade_batch(Path(args["root"]), Path(args["out"]), args["lab"], jobs=args["jobs"], settings=settings,
                      progress_mode="off")
print(json.dumps({"graded": len(outcome.graded_now), "seconds": outcome.seconds}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--lab", default="aics-exp2-1", help="the lab whose examples make the throughput batch")
    parser.add_argument("--count", type=int, default=100, help="submissions in the throughput batch")
    parser.add_argument("--repeats", type=int, default=1, help="throughput runs per setting, alternating (the fastest "
                        "of each is reported)")
    parser.add_argument("--speedup-count", type=int, default=10, help="exp 3-3 submissions in the speedup part")
    parser.add_argument("--memory-count", type=int, default=2, help="submissions in the memory part")
    parser.add_argument("--memory-lab", default="aics-exp3-3", help="the lab whose examples the memory part grades in full")
    parser.add_argument("--skip", default="", help="parts to leave out: throughput,speedup,memory")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    figures = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        scratch = Path(scratch)
        if "throughput" not in skip:
            figures["throughput"] = throughput(scratch, args.lab, args.count, args.repeats)
        if "speedup" not in skip:
            figures["speedup"] = speedup(scratch, args.speedup_count)
        if "memory" not in skip:
            figures["memory"] = memory(scratch, args.memory_lab, args.memory_count)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


# --- the parts ---------------------------------------------------------------------------------------------

def throughput(scratch: Path, lab: str, count: int, repeats: int = 1) -> dict:
    """jobs 1 and jobs 2 alternately, ``repeats`` times each; the figures of each setting's fastest run (the
    one least disturbed by other work on the machine), and every run."""
    root = replicate(scratch / f"class-{lab}", lab, count)
    every = {"jobs1": [], "jobs2": []}
    for repeat in range(repeats):
        for jobs in (1, 2):
            every[f"jobs{jobs}"].append(run_batch(root, scratch / f"out-{lab}-{jobs}-{repeat}", lab, jobs))
    runs = {label: max(results, key=lambda run: run["submissions_per_minute"]) for label, results in every.items()}
    one, two = runs["jobs1"], runs["jobs2"]
    return {"lab": lab, "count": count, "repeats": repeats, **runs, "every_run": every,
            "throughput_ratio": two["submissions_per_minute"] / one["submissions_per_minute"],
            "goals": {"overhead_under_0.5s": max(one["overhead_mean"], two["overhead_mean"]) < 0.5,
                      "jobs2_at_least_1.8x": two["submissions_per_minute"] >= 1.8 * one["submissions_per_minute"],
                      "peak_under_2.5GB_jobs2": two["peak_pss_bytes"] < 2.5e9}}


def speedup(scratch: Path, count: int) -> dict:
    """jobs 1, jobs 2, then jobs 1 again: the last pair gives the measurement's own repeatability on this
    machine, the yardstick for the jobs 1 / jobs 2 difference."""
    root = replicate(scratch / "class-speedup", "aics-exp3-3", count)
    runs, verdicts, ratios, pairs = {}, {}, {}, {}
    for label, jobs in (("jobs1", 1), ("jobs2", 2), ("jobs1_again", 1)):
        out = scratch / f"out-speedup-{label}"
        runs[label] = run_batch(root, out, "aics-exp3-3", jobs, only=SPEEDUP_CHECKS)
        verdicts[label], ratios[label], pairs[label] = {}, {}, {}
        for entry_id, result in stored_results(out).items():
            for check in result["checks"]:
                if check["id"] in SPEEDUP_CHECKS:
                    key = f"{entry_id}/{check['id']}"
                    verdicts[label][key] = check["status"]
                    if isinstance(check.get("metrics", {}).get("ratio"), (int, float)):
                        ratios[label][key] = check["metrics"]["ratio"]
                        pairs[label][key] = check["metrics"].get("pairs")
    compared = {"jobs1_vs_jobs2": _differences(ratios["jobs1"], ratios["jobs2"]),
                "jobs1_vs_jobs1_again": _differences(ratios["jobs1"], ratios["jobs1_again"])}
    return {"count": count, **runs, "verdicts_identical": verdicts["jobs1"] == verdicts["jobs2"] == verdicts["jobs1_again"],
            "verdicts": verdicts, "ratios": ratios, **compared,
            "ratios_within_10pct": compared["jobs1_vs_jobs2"]["max"] is not None and compared["jobs1_vs_jobs2"]["max"] < 0.10,
            "pairs": pairs, "pairs_median": {label: statistics.median(values.values()) if values else None
                                             for label, values in pairs.items()}}


def _differences(first: dict, second: dict) -> dict:
    keys = sorted(set(first) & set(second))
    values = [abs(second[key] - first[key]) / first[key] for key in keys]
    return {"compared": len(values), "max": max(values, default=None),
            "median": statistics.median(values) if values else None,
            "within_10pct": sum(value < 0.10 for value in values)}


def memory(scratch: Path, lab: str, count: int) -> dict:
    root = replicate(scratch / f"class-memory-{lab}", lab, count)
    run = run_batch(root, scratch / f"out-memory-{lab}", lab, 2)
    return {"lab": lab, "count": count, "jobs2": run, "goal_peak_under_2.5GB": run["peak_pss_bytes"] < 2.5e9}


# --- running and measuring ---------------------------------------------------------------------------------

def replicate(root: Path, lab: str, count: int) -> Path:
    """The lab's examples copied round-robin to ``count`` entries (names like 003-correct)."""
    examples = sorted(path for path in (ROOT / "submissions" / lab).iterdir() if path.is_dir())
    root.mkdir(parents=True)
    for index in range(count):
        source = examples[index % len(examples)]
        shutil.copytree(source, root / f"{index:03d}-{source.name}",
                        ignore=shutil.ignore_patterns("__pycache__", "EXPECT*", "*.pyc"))
    return root


def run_batch(root: Path, out: Path, lab: str, jobs: int, only=None) -> dict:
    load_before = os.getloadavg()
    cpu_before = _cpu_ticks()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", GRADE, json.dumps({"root": str(root), "out": str(out), "lab": lab,
                                                                        "jobs": jobs, "only": list(only or ())})],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop()
    idle, total = (after - before for after, before in zip(_cpu_ticks(), cpu_before))
    if process.returncode != 0:
        raise SystemExit(f"the batch failed ({process.returncode}): {stderr[-2000:]}")
    records = stored_rows(out)
    count = len(records)
    overheads = [row["wall_seconds"] - row["submission_seconds"] for row in records
                 if row["wall_seconds"] is not None and row["submission_seconds"] is not None]
    in_submission = [row["submission_seconds"] for row in records if row["submission_seconds"] is not None]
    statuses = {}
    for row in records:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return {"jobs": jobs, "submissions": count, "wall_seconds": round(seconds, 2),
            "submissions_per_minute": round(60 * count / seconds, 2),
            "overhead_mean": round(statistics.mean(overheads), 3) if overheads else None,
            "overhead_median": round(statistics.median(overheads), 3) if overheads else None,
            "submission_seconds_mean": round(statistics.mean(in_submission), 3) if in_submission else None,
            "batch_overhead_per_submission": round(seconds * jobs / count - statistics.mean(in_submission), 3)
            if in_submission else None,
            "machine_busy": round(1 - idle / total, 3) if total else None,
            "statuses": statuses, "peak_pss_bytes": sampler.peak["all"], "peak_pss_harness_bytes": sampler.peak["harness"],
            "peak_pss_sandbox_bytes": sampler.peak["sandbox"], "load_average_before": load_before,
            "load_average_after": os.getloadavg()}


def _cpu_ticks() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine since boot (/proc/stat's first line)."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    return values[3] + values[4], sum(values)


def stored_rows(out: Path) -> list[dict]:
    connection = sqlite3.connect(out / "grades.sqlite")
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute("SELECT id, status, wall_seconds, submission_seconds FROM results")]
    finally:
        connection.close()


def stored_results(out: Path) -> dict:
    connection = sqlite3.connect(out / "grades.sqlite")
    try:
        return {entry_id: json.loads(text) for entry_id, text in connection.execute("SELECT id, result_json FROM results")}
    finally:
        connection.close()


class MemorySampler:
    """Peak PSS (proportional set size: a page shared by N processes counts 1/N to each) of a process tree,
    split into the sandbox children (under bwrap) and the harness's own processes."""

    def __init__(self, root_pid: int, interval: float = 0.2):
        self.root_pid, self.interval = root_pid, interval
        self.peak = {"all": 0, "harness": 0, "sandbox": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            harness = sandbox = 0
            for pid, in_sandbox in self._tree():
                pss = _pss(pid)
                if in_sandbox:
                    sandbox += pss
                else:
                    harness += pss
            for key, value in (("all", harness + sandbox), ("harness", harness), ("sandbox", sandbox)):
                self.peak[key] = max(self.peak[key], value)

    def _tree(self) -> list[tuple[int, bool]]:
        parents, names = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            names[int(entry)] = text[text.index("(") + 1:text.rindex(")")]
            parents[int(entry)] = int(text.rpartition(")")[2].split()[1])
        found, pending = [], [(self.root_pid, False)]
        while pending:
            pid, in_sandbox = pending.pop()
            in_sandbox = in_sandbox or names.get(pid) == "bwrap"
            found.append((pid, in_sandbox))
            pending += [(child, in_sandbox) for child, parent in parents.items() if parent == pid]
        return found


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    main()
