"""An installed wheel works like the editable install (README "What the instructor's package contains").

The wheel is built once per session from a copy of the source tree (pip builds in place, and the
shared tree must not get build/ or *.egg-info from a test), installed with --no-deps into a fresh
virtual environment that sees this environment's site-packages (numpy, scipy ... without downloads),
and run from a directory outside the repository: `harness labs` lists the labs from the packaged
specs, and `harness check` grades exp 2-1.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "harness", "reference", "specs")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def _run(command: list, cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORED)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "-w", base / "dist", source], cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel_path,) = (base / "dist").glob("nnlab_harness-*.whl")
    return wheel_path


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(venv, a working directory outside the repository)."""
    base = tmp_path_factory.mktemp("venv")
    venv = base / "venv"
    created = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=base)
    assert created.returncode == 0, created.stderr
    # --ignore-installed: this environment's editable install must not count as "already satisfied"
    pip = _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps",
                "--no-index", "--ignore-installed", wheel], cwd=base)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return venv, elsewhere


def _environment() -> dict:
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "HARNESS_SPECS")}


def _members(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_every_spec_and_runtime_data_file(wheel):
    members = _members(wheel)
    specs = sorted(path.name for path in (ROOT / "specs").glob("*.yaml"))
    assert specs and all(f"harness/_specs/{name}" in members for name in specs), specs
    tracked = _run(["git", "ls-files", "harness", "reference"], cwd=ROOT).stdout.split()
    data_files = [name for name in tracked if not name.endswith(".py")]
    assert "harness/schemas/lab.schema.yaml" in data_files and "reference/vgg19/data/sample.jpg" in data_files
    missing = [name for name in data_files if name not in members]
    assert missing == [], f"runtime data files left out of the wheel: {missing}"
    assert not [name for name in members if name.startswith(("tests/", "submissions/", "specs/"))]
    assert not [name for name in members if name.endswith((".pyc", ".so"))]


def test_instructor_wheel_holds_the_course_layout_reference(wheel):
    """Stated in the README: the instructor's package grades with reference/aics (the kit never does)."""
    members = _members(wheel)
    assert {f"reference/aics/{name}" for name in ("layers_1.py", "layers_2.py", "vgg_cpu.py")} <= members


def test_installed_wheel_lists_the_labs(installed):
    venv, elsewhere = installed
    where = _run([venv / "bin" / "python", "-c",
                  "import harness, harness.spec as s; print(harness.__file__); print(s.SPECS_DIR)"],
                 cwd=elsewhere, env=_environment())
    assert where.returncode == 0, where.stderr
    package_file, specs_dir = where.stdout.split("\n")[:2]
    assert Path(package_file).is_relative_to(venv) and Path(specs_dir).is_relative_to(venv), where.stdout
    labs = _run([venv / "bin" / "harness", "labs"], cwd=elsewhere, env=_environment())
    assert labs.returncode == 0 and labs.stderr == "", labs.stderr
    listed = {line.split()[0] for line in labs.stdout.splitlines() if line.strip()}
    assert {path.stem for path in (ROOT / "specs").glob("*.yaml")} <= listed, labs.stdout


def test_installed_wheel_checks_a_submission(installed, tmp_path):
    venv, elsewhere = installed
    submission = tmp_path / "correct"
    shutil.copytree(ROOT / "submissions" / "aics-exp2-1" / "correct", submission)
    result_file = tmp_path / "result.json"
    checked = _run([venv / "bin" / "harness", "check", submission, "--lab", "aics-exp2-1", "--json", result_file],
                   cwd=elsewhere, env=_environment())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = json.loads(result_file.read_text())
    assert result["score"] == result["max_score"] == 100
    assert {check["status"] for check in result["checks"]} == {"pass"}
