"""Helpers of the Python 2.7 tests: the real 2.7 oracle, and running a submission translated under Python 3.

The oracle is pyenv's 2.7.18 with NumPy 1.16.6 (the course's image of its time; .ci/setup installs them);
``HARNESS_PYTHON27`` names another interpreter. Without one, the oracle tests skip with the reason.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Runs in a fresh Python 3 interpreter: the submission under <root>/stu_upload is probed and loaded exactly
# as the sandbox child loads it (harness.py2probe's plan, loader.SubmissionModules with classic.py); then a
# driver inside stu_upload/ is imported as the submission's module, one outside runs with `modules` (the
# loader) in its namespace.
TRANSLATED_RUNNER = """
import json, pathlib, sys
sys.path.insert(0, {harness_root!r})
from harness import py2probe
from harness.sandbox import classic, loader
root, mode, driver = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
package = root / "stu_upload"
files = {{path.relative_to(package).as_posix(): path.read_bytes() for path in package.rglob("*.py")}}
plan = py2probe.probe(mode, files, [])
sys.path.insert(0, str(root))
modules = loader.SubmissionModules("stu_upload", str(package), {{}}, plan, classic)
modules.install()
sys.stderr.write(json.dumps({{"python": plan["python"], "division": plan["division"]}}) + "\\n")
if pathlib.Path(driver).parent == package:           # a Python 2 program: imported as the submission's module
    modules.import_module(pathlib.Path(driver).stem)
else:                                                # a driver written for both: run as it is
    exec(compile(pathlib.Path(driver).read_text(), driver, "exec"), {{"__name__": "__main__", "modules": modules}})
"""


def python27_with_numpy() -> tuple[str | None, str]:
    """(interpreter, "") or (None, why not)."""
    candidates = [os.environ.get("HARNESS_PYTHON27")]
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip()
        candidates.append(f"{root}/versions/2.7.18/bin/python")
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/2.7.*/bin/python"))) + [shutil.which("python2.7")]
    for candidate in filter(None, candidates):
        if not Path(candidate).is_file():
            continue
        probe = subprocess.run([candidate, "-c", "import numpy, sys; sys.stdout.write(numpy.__version__)"],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return candidate, ""
        return None, f"{candidate} has no NumPy (run .ci/setup, which installs numpy==1.16.6 for it)"
    return None, "no Python 2.7 interpreter here (pyenv's 2.7.18, or set HARNESS_PYTHON27)"


def run_python27(python27: str, root: Path, driver: Path) -> subprocess.CompletedProcess:
    """The driver under the real Python 2.7, with the submission importable the course's two ways."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": f"{root}{os.pathsep}{root / 'stu_upload'}", "OPENBLAS_NUM_THREADS": "1"}
    env.update({name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "HOME") if name in os.environ})
    return subprocess.run([python27, str(driver)], capture_output=True, timeout=300, cwd=root, env=env)


def run_translated(root: Path, driver: Path, mode: str = "auto") -> subprocess.CompletedProcess:
    """The same driver under this Python 3, the submission loaded as the sandbox child loads it."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1")
    program = TRANSLATED_RUNNER.format(harness_root=str(ROOT))
    return subprocess.run([sys.executable, "-c", program, str(root), mode, str(driver)], capture_output=True,
                          timeout=300, cwd=root, env=env)


def last_json(output: bytes) -> dict:
    return json.loads(output.decode("utf-8").strip().splitlines()[-1])


def python2_style(text: str) -> str:
    """Python 3 example code rewritten as a 2.7-era student wrote it: / for sizes, print statements, xrange,
    list-returning map, iteritems, has_key, ``except E, e``."""
    text = re.sub(r"(_out\s*=\s*\([^\n]*?\))\s*//\s*", r"\1 / ", text)
    text = re.sub(r"\bfor (\w+) in range\(", r"for \1 in xrange(", text)
    text = re.sub(r"^(\s*)print\((.*)\)\s*$", r"\1print \2", text, flags=re.M)
    text = re.sub(r"except (\w+) as (\w+):", r"except \1, \2:", text)
    return text


def make_python2_submission(source: Path, target: Path, edits: dict | None = None) -> Path:
    """A copy of an example submission's stu_upload rewritten in the 2.7 style; returns the experiment folder."""
    shutil.copytree(source / "stu_upload", target / "stu_upload",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in (target / "stu_upload").glob("*.py"):
        text = python2_style(path.read_text(encoding="utf-8"))
        for old, new in (edits or {}).get(path.name, ()):
            assert old in text, (path.name, old)
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    return target
