"""README's two commands and .ci/run agree: .ci/run runs .ci/setup, then the README's test command
verbatim, and a pytest that collected no tests (exit status 5) fails CI. Run against stand-ins for
.ci/setup and the venv's python, so nothing is installed."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_COMMAND = ".venv/bin/python -m pytest -q"
FIRST_COMMAND = "bash .ci/setup && .venv/bin/harness grade submissions --out reports"


def test_readme_gives_the_two_commands_and_ci_runs_the_second_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)\n```", readme, re.S)
    assert FIRST_COMMAND in blocks and TEST_COMMAND in blocks, blocks[:4]
    run = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in run.splitlines()]
    assert TEST_COMMAND in lines
    assert any(".ci/setup" in line for line in lines[:lines.index(TEST_COMMAND)])


@pytest.mark.parametrize("pytest_status, setup_status, ci_status", [(0, 0, 0), (1, 0, 1), (5, 0, 1), (0, 1, 1)])
def test_ci_run_exit_status(tmp_path, pytest_status, setup_status, ci_status):
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / ".ci" / "setup").write_text(f"exit {setup_status}\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/ran"\nexit {pytest_status}\n')
    python.chmod(0o755)
    completed = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, timeout=60)
    assert completed.returncode == ci_status, completed.stdout + completed.stderr
    if setup_status == 0:
        assert (tmp_path / "ran").read_text().strip() == "-m pytest -q"
    else:
        assert not (tmp_path / "ran").exists()
