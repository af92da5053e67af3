"""Classic division: ``/`` and ``/=`` translated give what the real Python 2.7 with NumPy 1.16 gave.

Expressions mix Python ints (negative and zero too), floats, bools, NumPy scalars (int32, int64, float32,
float64) and small int and float arrays. Each batch is one module evaluated in one 2.7 subprocess and,
through the harness's own compilation of a Python 2 file (classic.py: the AST rewrite and builtins), here.

Per expression three forms are evaluated on both sides: the classic one (``a / b`` or ``x /= b``), floor
division and true division (``operator.truediv``). Python 2's classic result is one of its floor or true
results; the translated one must be exactly this side's result of the same operation, and equal to
Python 2's in value, kind and container. The dtype must be Python 2's too, except where NumPy 2 computes
that same operation differently from NumPy 1.16 (``np.float32(7) / 2`` is float64 there, float32 here;
``x // 0.0`` is nan there, inf here): NumPy changes, not Python 2 ones, which the README lists.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.sandbox import classic

# Runs under 2.7 and here alike: evaluates every function of the batch module, prints the JSON of the results.
DRIVER = r'''
import json, operator, sys
import numpy as np
np.seterr(all="ignore")


def number(value):
    if isinstance(value, float):
        return repr(value) if value != value or value in (float("inf"), float("-inf")) else value
    return value


def describe(value):
    if isinstance(value, tuple):
        return ["tuple", [describe(item) for item in value]]
    if isinstance(value, np.ndarray):
        return ["ndarray", str(value.dtype), [number(item) for item in value.tolist()]]
    if isinstance(value, np.generic):
        return ["numpy", str(value.dtype), number(value.item())]
    if isinstance(value, bool):
        return ["bool", None, value]
    if isinstance(value, float):
        return ["float", None, number(value)]
    return ["int", None, int(value)]


def builtin_name(error):
    for kind in type(error).__mro__:
        if kind.__module__ in ("builtins", "exceptions"):
            return kind.__name__
    return type(error).__name__


def evaluate(namespace, count):
    results = []
    for index in range(count):
        row = []
        for form in ("classic", "floor", "true"):
            try:
                row.append(describe(namespace["%s_%d" % (form, index)]()))
            except Exception as error:
                row.append(["error", builtin_name(error)])
        results.append(row)
    return results
'''

PYTHON2_MAIN = DRIVER + r'''
namespace = {"np": np, "operator": operator}
source = open(sys.argv[1]).read()
exec(compile(source, "batch.py", "exec", 0, True), namespace)   # dont_inherit: classic division
sys.stdout.write(json.dumps(evaluate(namespace, int(sys.argv[2]))))
'''

INTS = st.integers(-9, 9).map(str)
FLOATS = st.sampled_from([-7.5, -2.0, -0.5, 0.0, 0.25, 1.0, 2.5, 3.0, 1e-3, 6.0]).map(repr)
BOOLS = st.sampled_from(["True", "False"])
NUMPY_SCALARS = st.builds(lambda kind, value: f"np.{kind}({value})", st.sampled_from(["int32", "int64"]), INTS) | \
    st.builds(lambda kind, value: f"np.{kind}({value})", st.sampled_from(["float32", "float64"]), FLOATS)
ARRAYS = st.builds(lambda kind, values: f"np.array([{', '.join(values)}], dtype=np.{kind})",
                   st.sampled_from(["int32", "int64"]), st.lists(INTS, min_size=3, max_size=3)) | \
    st.builds(lambda kind, values: f"np.array([{', '.join(values)}], dtype=np.{kind})",
              st.sampled_from(["float32", "float64"]), st.lists(FLOATS, min_size=3, max_size=3))
OPERANDS = INTS | FLOATS | BOOLS | NUMPY_SCALARS | ARRAYS
EXPRESSIONS = st.tuples(st.sampled_from(["/", "/=", "//"]), OPERANDS, OPERANDS, st.just(""))

# Every pair of these, both ways: each kind of operand meets each other kind at least once.
GRID = ["7", "-7", "0", "3", "True", "2.5", "-0.5", "np.int32(-7)", "np.int64(4)", "np.float32(1.5)",
        "np.float64(-2.0)", "np.array([7, -8, 0], dtype=np.int64)", "np.array([3, -2, 5], dtype=np.int32)",
        "np.array([1.5, -2.0, 0.0], dtype=np.float64)", "np.array([0.5, 4.0, -1.0], dtype=np.float32)"]


def batch_source(expressions) -> str:
    """One module: classic_i, floor_i and true_i for every (operator, a, b, _)."""
    lines = []
    for index, (operator_, a, b, _) in enumerate(expressions):
        if operator_ == "/=":
            forms = {"classic": f"x = {a}\n    y = x\n    x /= {b}\n    return x, x is y",
                     "floor": f"x = {a}\n    y = x\n    x //= {b}\n    return x, x is y",
                     "true": f"x = {a}\n    y = x\n    x = operator.itruediv(x, {b})\n    return x, x is y"}
        else:
            forms = {"classic": f"return {a} {operator_} {b}", "floor": f"return {a} // {b}",
                     "true": f"return operator.truediv({a}, {b})" if operator_ == "/" else f"return {a} // {b}"}
        for form, body in forms.items():
            lines.append(f"def {form}_{index}():\n    {body}\n")
    return "\n".join(lines)


def run_batch(python27: str, expressions, tmp_path: Path) -> tuple[list, list]:
    """(Python 2.7's results, the translated results) of every expression, per form."""
    source = batch_source(expressions)
    module = tmp_path / "batch.py"
    module.write_text(source)
    env = {"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1"}
    env.update({name: os.environ[name] for name in ("OPENBLAS_CORETYPE",) if name in os.environ})
    oracle = subprocess.run([python27, "-c", PYTHON2_MAIN, str(module), str(len(expressions))], capture_output=True,
                            timeout=300, env=env)
    assert oracle.returncode == 0, oracle.stderr.decode()[-3000:]
    return json.loads(oracle.stdout), _translated(module, source, len(expressions))


def _translated(module: Path, source: str, count: int) -> list:
    # the plan entry py2probe gives a Python 2 file that fissix leaves as it is (test_probe covers that path)
    sources = classic.Sources({"batch.py": {"division": "classic", "encoding": "utf-8"}}, str(module.parent))
    code = sources.code(str(module), sources.entry(str(module)))
    namespace = {"__builtins__": classic.python2_builtins(), "__name__": "batch"}
    driver: dict = {}
    exec(compile(DRIVER, "driver", "exec", dont_inherit=True), driver)
    namespace.update(np=np, operator=__import__("operator"))
    exec(code, namespace)
    return driver["evaluate"](namespace, count)


def assert_same(expressions, python2: list, translated: list) -> None:
    numpy_changes = 0
    for (operator_, a, b, _), (classic2, floor2, true2), (classic3, floor3, true3) in zip(expressions, python2,
                                                                                          translated):
        where = f"{a} {operator_} {b}"
        chosen = [(floor2, floor3), (true2, true3)]
        matching = [(two, three) for two, three in chosen if _equal(two, classic2, exact=True)]
        assert matching, f"{where}: Python 2's {classic2} is neither its floor {floor2} nor its true {true2}"
        # this side computed the very operation Python 2 chose
        assert any(_equal(classic3, three, exact=True) for _, three in matching), \
            f"{where}: translated {classic3}, Python 2 gave {classic2} (floor here {floor3}, true {true3})"
        if _equal(classic3, classic2, exact=True):
            continue
        # only a NumPy change may remain: the same operation differs between NumPy 1.16 and 2 (a dtype
        # promotion; or a value, as float // 0.0, nan there and inf here)
        two, three = matching[0]
        assert not _equal(two, three, exact=True), f"{where}: translated {classic3}, Python 2 gave {classic2}"
        if _equal(two, three, exact=False):
            assert _equal(classic3, classic2, exact=False), f"{where}: translated {classic3}, Python 2 {classic2}"
        numpy_changes += 1
    assert numpy_changes < len(expressions) / 2


def _equal(one, other, exact: bool) -> bool:
    """Same container, kind and values; ``exact``: the same dtype too, else only integer-ness must agree."""
    if one[0] != other[0] or len(one) != len(other):
        return False
    if one[0] == "error":
        return one[1] == other[1]
    if one[0] == "tuple":
        return all(_equal(x, y, exact) for x, y in zip(one[1], other[1]))
    if one[0] in ("ndarray", "numpy"):
        if exact and one[1] != other[1]:
            return False
        if not exact and _integral(one[1]) != _integral(other[1]):
            return False
    values, others = ([one[2]], [other[2]]) if one[0] != "ndarray" else (one[2], other[2])
    if len(values) != len(others):
        return False
    loose = not exact or "float32" in (one[1], other[1]) or "float16" in (one[1], other[1])
    return all(_close(x, y, 1e-6 if loose else 1e-12) for x, y in zip(values, others))


def _integral(dtype: str | None) -> bool:
    return dtype is not None and dtype.startswith(("int", "uint", "bool"))


def _close(x, y, rtol: float) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        return x == y                       # "nan", "inf", "-inf"
    if type(x) is bool or type(y) is bool:
        return x == y
    return math.isclose(float(x), float(y), rel_tol=rtol, abs_tol=1e-300)


def test_every_kind_of_operand_meets_every_other(python27, tmp_path):
    expressions = [(operator_, a, b, "") for a in GRID for b in GRID for operator_ in ("/", "/=", "//")]
    assert_same(expressions, *run_batch(python27, expressions, tmp_path))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.data_too_large])
@given(expressions=st.lists(EXPRESSIONS, min_size=150, max_size=150))
def test_generated_expressions_match_python27(python27, tmp_path, expressions):
    assert_same(expressions, *run_batch(python27, expressions, tmp_path))


def test_a_wrong_division_is_caught(python27, tmp_path, monkeypatch):
    """The comparison rejects true division where Python 2 floored (the check can fail)."""
    expressions = [("/", "7", "2", ""), ("/", "np.array([7, -8, 0], dtype=np.int64)", "3", "")]
    python2, _ = run_batch(python27, expressions, tmp_path)
    monkeypatch.setattr(classic, "_floors", lambda a, b: False)
    monkeypatch.setattr(classic, "_INTEGERS", frozenset())
    wrong = _translated(tmp_path / "batch.py", batch_source(expressions), len(expressions))
    with pytest.raises(AssertionError, match="translated"):
        assert_same(expressions, python2, wrong)
