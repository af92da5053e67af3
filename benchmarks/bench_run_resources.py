"""What a run needs: time per lab and per check, peak memory, disk (the figures in the README's
"What a run needs").

    python benchmarks/bench_run_resources.py [--json [FILE]] [--labs aics-exp2-1 aics-exp3-3] [--isolation fallback]

Each lab's correct example submission is checked in a fresh process (the library's check, all checks,
synthetic VGG19 weights): its wall time, the time of each check (from the result), and the peak resident
memory (RSS) of the harness process, of the largest sandbox process and of the whole process tree at
once, sampled from /proc every 0.1 s (getrusage cannot see the sandbox children: bubblewrap's pid
namespace reaps them); and the sizes on disk of the weight cache, the installed packages and a student
kit. Timings depend on the machine and its load: the JSON records the CPU count and load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = {"aics-exp2-1": "aics-exp2-1/correct", "aics-exp3-1": "aics-exp3-1/correct-vectorized",
               "aics-exp3-3": "aics-exp3-3/correct-vectorized"}

_MEASURE = """
import json, sys, time
from harness import api
started = time.perf_counter()
result = api.check(sys.argv[1], sys.argv[2], isolation=sys.argv[3])
elapsed = time.perf_counter() - started
print(json.dumps({
    "seconds": round(elapsed, 2), "score": result.score, "max_score": result.max_score,
    "statuses": sorted({check.status for check in result.checks}),
    "check_seconds": {check.id: round(check.duration, 2) for check in result.checks},
}))
"""
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> tuple[int, int, int]:
    """(bytes of ``root``, of its largest descendant, of the whole tree) resident now, from /proc."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rpartition(")")[2].split()[1])
                with open(f"/proc/{entry}/statm") as statm:
                    rss[int(entry)] = int(statm.read().split()[1]) * PAGE
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    descendants = [rss.get(pid, 0) for pid in tree - {root}]
    return rss.get(root, 0), max(descendants, default=0), sum(rss.get(pid, 0) for pid in tree)


def measure_lab(lab: str, isolation: str) -> dict:
    process = subprocess.Popen([sys.executable, "-c", _MEASURE, str(ROOT / "submissions" / SUBMISSIONS[lab]), lab,
                                isolation], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = [0, 0, 0]
    while process.poll() is None:
        peaks = [max(old, new) for old, new in zip(peaks, _tree_rss(process.pid))]
        time.sleep(0.1)
    out, err = process.communicate()
    if process.returncode != 0:
        return {"error": err.strip().splitlines()[-1:] or ["failed"]}
    figures = json.loads(out.strip().splitlines()[-1])
    figures.update({"harness_peak_rss_mib": round(peaks[0] / 2**20),
                    "largest_child_peak_rss_mib": round(peaks[1] / 2**20),
                    "tree_peak_rss_mib": round(peaks[2] / 2**20)})
    return figures


def directory_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) if path.is_dir() else 0


def disk() -> dict:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nnlab-harness"
    import numpy
    site = Path(numpy.__file__).resolve().parents[1]
    packages = {name: directory_bytes(site / name) for name in ("numpy", "scipy", "PIL", "torch", "hypothesis")}
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "harness", "kit", "--lab", "aics-exp3-3", "--out", out], cwd=ROOT,
                       capture_output=True, timeout=600, check=True)
        kit = (Path(out) / "check.pyz").stat().st_size
    return {"weight_cache_mib": round(directory_bytes(cache) / 2**20), "weight_cache": str(cache),
            "packages_mib": {name: round(size / 2**20) for name, size in packages.items()},
            "kit_exp3_3_check_pyz_mib": round(kit / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write JSON (to stdout with no FILE)")
    parser.add_argument("--labs", nargs="*", default=list(SUBMISSIONS), help="labs to measure (default: all)")
    parser.add_argument("--isolation", default="bwrap", choices=("bwrap", "fallback"),
                        help="sandbox isolation of the runs (default: bwrap)")
    args = parser.parse_args()
    report = {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "labs": {lab: measure_lab(lab, args.isolation) for lab in args.labs}, "disk": disk()}
    text = json.dumps(report, indent=2)
    if args.json and args.json != "-":
        Path(args.json).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
