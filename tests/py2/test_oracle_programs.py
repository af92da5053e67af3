"""Python 2.7-era code gives under the harness what the real Python 2.7 with NumPy 1.16 gave.

Each program or submission runs twice: under the real 2.7 (the oracle, see conftest.py) and under this
Python 3 loaded exactly as the sandbox child loads it (py2probe's plan, the loader, classic division).
Printed lines must be identical, computed arrays equal to rounding.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from py2_helpers import HERE, ROOT, last_json, make_python2_submission, run_python27, run_translated

PROGRAMS = sorted(path.name for path in (HERE / "programs").iterdir() if path.is_dir())
DRIVERS = HERE / "drivers"
FIELD_KINDS = ROOT.parent / "shared" / "field-kinds" / "make_cases.py"


def _compare_runs(python27: str, root: Path, driver: Path, arrays: bool) -> dict:
    oracle = run_python27(python27, root, driver)
    assert oracle.returncode == 0, oracle.stderr.decode("utf-8", "replace")[-3000:]
    ours = run_translated(root, driver)
    assert ours.returncode == 0, ours.stderr.decode("utf-8", "replace")[-3000:]
    semantics = json.loads(ours.stderr.decode("utf-8").strip().splitlines()[0])
    if arrays:                  # printed lines exactly, the JSON of arrays to rounding
        expected_lines, actual_lines = (run.stdout.decode("utf-8").strip().splitlines()[:-1] for run in (oracle, ours))
        assert actual_lines == expected_lines
        expected, actual = last_json(oracle.stdout), last_json(ours.stdout)
        assert sorted(actual) == sorted(expected)
        for name in expected:
            np.testing.assert_allclose(_flat(actual[name]), _flat(expected[name]), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
    else:
        assert ours.stdout.decode("utf-8") == oracle.stdout.decode("utf-8")
    return semantics


def _flat(value) -> list[float]:
    if isinstance(value, list):
        return [number for item in value for number in _flat(item)]
    return [float(value)]


@pytest.mark.parametrize("program", PROGRAMS)
def test_python2_program_prints_what_python27_printed(python27, program, tmp_path):
    """Hand-written Python 2 programs (print statements, xrange, iteritems, has_key, list-returning map/filter/
    zip/range/keys, except E, e, long, unicode, basestring, reduce, octal, backquotes, <>, tabs, exec, string
    functions, sorted with cmp, round, __div__, classic division of ints, negative ints and int arrays,
    GBK sources with and without a coding declaration, implicit relative imports)."""
    shutil.copytree(HERE / "programs" / program, tmp_path / "stu_upload")
    semantics = _compare_runs(python27, tmp_path, tmp_path / "stu_upload" / "main.py", arrays=False)
    assert semantics["python"] == "2.7"


@pytest.mark.parametrize("lab, example, driver, edits", [
    ("aics-exp3-3", "correct-plain", "exp3_3_layers.py",
     {"layers_2.py": [("class MaxPoolingLayer(object):\n",
                       "class MaxPoolingLayer(object):\n    shapes = map(int, ['2', '2'])  # a list in Python 2\n"
                       "    first = shapes[0]\n")]}),
    ("aics-exp3-1", "correct-plain", "exp3_1_layers.py", None),
])
def test_python2_era_submission_computes_what_python27_computed(python27, lab, example, driver, edits, tmp_path):
    """The example submissions rewritten as the 2.7-era kind (/ for sizes, print statements, xrange, map as a
    list): under the real 2.7 and translated, every layer output equal."""
    root = make_python2_submission(ROOT / "submissions" / lab / example, tmp_path / "exp", edits)
    semantics = _compare_runs(python27, root, DRIVERS / driver, arrays=True)
    assert semantics == {"python": "2.7", "division": "classic"}


@pytest.mark.skipif(not FIELD_KINDS.is_file(), reason="the field kinds (../shared/field-kinds) are not beside the repo")
@pytest.mark.parametrize("case, driver", [("py2-era-exp3-3", "exp3_3_layers.py"),
                                          ("py2-era-exp3-1-scipy-misc", "exp3_1_layers.py")])
def test_field_kind_computes_what_python27_computed(python27, case, driver, tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / "field-kinds"
    if not (out / case).is_dir():
        subprocess.run([sys.executable, str(FIELD_KINDS), str(out)], cwd=ROOT, check=True, capture_output=True)
    semantics = _compare_runs(python27, out / case, DRIVERS / driver, arrays=True)
    assert semantics == {"python": "2.7", "division": "classic"}
