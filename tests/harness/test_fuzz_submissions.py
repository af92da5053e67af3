"""No submission can crash the harness: broken variants of the example submissions always give a complete result.

A variant is the correct exp 2-1 submission with one to three of its methods replaced by broken ones: raising
on some inputs only, returning wrong shapes, dtypes, None, lists, NaN, huge or lazily computed arrays,
generators, objects with hostile __array__ / __len__ / __getattr__, mutating shared state, non-deterministic,
recursing without end, exiting. Every run must end with a result whose JSON and HTML are written, where every
check of the spec has a status, no check is a harness fault (that would be a harness bug to fix), and a broken
method never earns its check's points. The exp 3-3 part drives the property engine (hypothesis) with the same
kinds of breakage. Runs also show that a harness exception inside one check costs that check only.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness import api
from harness.context import build_context
from harness.report.html import write_html
from harness.results import STATUSES
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXP2 = ROOT / "submissions" / "aics-exp2-1" / "correct"
EXP3 = ROOT / "submissions" / "aics-exp3-3" / "correct-plain"

# method -> the checks that call it (a broken method must never pass these)
METHODS = {
    "FullyConnectedLayer.forward": ("fc.forward",),
    "FullyConnectedLayer.backward": ("fc.backward",),
    "ReLULayer.forward": ("relu.forward",),
    "ReLULayer.backward": ("relu.backward",),
    "SoftmaxLossLayer.forward": ("softmax.forward",),
    "SoftmaxLossLayer.get_loss": ("softmax.loss",),
    "SoftmaxLossLayer.backward": ("softmax.backward",),
}

# The body of the replacement ``def broken(self, *args, **kwargs)``; ``original`` is the method it replaces.
BEHAVIOURS = {
    "raises-on-some-inputs": "out = original(self, *args, **kwargs)\n"
                             "if np.size(out) % 2 == 0:\n    raise IndexError('only on even sizes')\nreturn out",
    "raises-unprintable": "class Weird(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
                          "raise Weird()",
    "returns-none": "original(self, *args, **kwargs)\nreturn None",
    "returns-list": "return np.asarray(original(self, *args, **kwargs)).tolist()",
    "returns-ragged": "return [[1.0], [1.0, 2.0]]",
    "returns-string": "return 'done'",
    "returns-dict": "return {'out': original(self, *args, **kwargs)}",
    "flattened": "return np.asarray(original(self, *args, **kwargs)).reshape(-1)",
    "transposed": "return np.asarray(original(self, *args, **kwargs)).T",
    "extra-axis": "return np.asarray(original(self, *args, **kwargs))[None]",
    "float16": "return np.asarray(original(self, *args, **kwargs)).astype(np.float16)",
    "complex": "return np.asarray(original(self, *args, **kwargs)) + 1j",
    "object-dtype": "return np.asarray(original(self, *args, **kwargs)).astype(object)",
    "text-dtype": "return np.asarray(original(self, *args, **kwargs)).astype('U8')",
    "structured": "out = np.asarray(original(self, *args, **kwargs))\n"
                  "return np.zeros(out.shape, dtype=[('a', 'f8'), ('b', 'i4')])",
    "nan": "return np.full_like(np.asarray(original(self, *args, **kwargs), dtype=float), np.nan)",
    "inf": "return np.asarray(original(self, *args, **kwargs)) * np.inf",
    "huge-view": "out = np.asarray(original(self, *args, **kwargs))\n"
                 "return np.broadcast_to(out, (2000,) + out.shape)",
    "huge-allocation": "return np.empty((10 ** 6, 10 ** 6))",
    "generator": "return (row for row in original(self, *args, **kwargs))",
    "lazy-array": "out = original(self, *args, **kwargs)\nclass Lazy:\n"
                  "    def __array__(self, dtype=None, copy=None):\n        return np.asarray(out)\nreturn Lazy()",
    "hostile-array": "class Hostile:\n    def __array__(self, *a, **k):\n        raise RuntimeError('no array')\n"
                     "    def __len__(self):\n        return -1\n    def __getattr__(self, name):\n        return self\n"
                     "    def __iter__(self):\n        return self\n    def __next__(self):\n        return self\n"
                     "    def __eq__(self, other):\n        raise RuntimeError('no eq')\n"
                     "    def __repr__(self):\n        raise RuntimeError('no repr')\nreturn Hostile()",
    "matrix": "return np.asmatrix(np.asarray(original(self, *args, **kwargs)).reshape(2, -1))",
    "masked": "out = np.asarray(original(self, *args, **kwargs))\nreturn np.ma.masked_array(out, mask=out > 0)",
    "ndarray-subclass": "class Sub(np.ndarray):\n    def __getitem__(self, key):\n        raise RuntimeError('no')\n"
                        "return np.asarray(original(self, *args, **kwargs)).view(Sub)",
    "mutates-its-input": "for value in args:\n    if isinstance(value, np.ndarray) and value.flags.writeable:\n"
                         "        value *= 2\nreturn original(self, *args, **kwargs)",
    "mutates-numpy": "np.seterr(all='raise')\nnp.zeros = None\nreturn original(self, *args, **kwargs)",
    "non-deterministic": "out = np.asarray(original(self, *args, **kwargs))\n"
                         "return out + np.random.rand() * 1e-2",
    "fails-every-other-call": "STATE['calls'] += 1\nif STATE['calls'] % 2:\n    raise RuntimeError('odd call')\n"
                              "return original(self, *args, **kwargs)",
    "recursion": "def down(n):\n    return down(n + 1)\nreturn down(0)",
    "self-referencing-list": "loop = []\nloop.append(loop)\nreturn loop",
    "deeply-nested-list": "value = []\nfor _ in range(100000):\n    value = [value]\nreturn value",
    "sys-exit": "import sys\nsys.exit(3)",
    "os-exit": "import os\nos._exit(3)",
    "c-stack-overflow": "import sys\nsys.setrecursionlimit(10 ** 8)\nnested = {}\nfor _ in range(10 ** 5):\n"
                        "    nested = {'a': nested}\nreturn repr(nested)",
    "prints-a-flood": "print('x' * 5_000_000)\nreturn original(self, *args, **kwargs)",
    "huge-exception-message": "raise ValueError('x' * 5_000_000)",
}
# behaviours a correct method may show without being wrong (its check may pass)
HARMLESS = {"raises-on-some-inputs", "mutates-its-input", "prints-a-flood", "matrix", "masked", "lazy-array",
            "mutates-numpy", "returns-list", "non-deterministic", "fails-every-other-call", "float16", "generator",
            "ndarray-subclass"}


def _indented(body: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in body.splitlines())


def break_methods(source: str, mutations: list[tuple[str, str]]) -> str:
    """``source`` with each (Class.method, behaviour) replaced at the end of the module."""
    blocks = [source, "\nSTATE = {'calls': 0}\n"]
    for index, (method, behaviour) in enumerate(mutations):
        cls, name = method.split(".")
        blocks.append(f"\ndef _broken_{index}(original):\n    def broken(self, *args, **kwargs):\n"
                      f"{_indented(BEHAVIOURS[behaviour], 8)}    return broken\n"
                      f"{cls}.{name} = _broken_{index}({cls}.{name})\n")
    return "".join(blocks)


@pytest.fixture(scope="module")
def exp2_context():
    return build_context(load_spec("aics-exp2-1"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-broken")


_runs = iter(range(10 ** 6))


def _variant(workdir: Path, base: Path, file_name: str, mutations) -> Path:
    root = workdir / f"v{next(_runs)}"
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("__pycache__", "EXPECT*"))
    target = root / "stu_upload" / file_name
    target.write_text(break_methods(target.read_text(), mutations))
    return root


def assert_complete(result, spec, out: Path) -> dict:
    """The JSON and HTML are written, every check of the spec has a status, no check is a harness fault."""
    result.write_json(out.with_suffix(".json"))
    write_html(result, out.with_suffix(".html"), spec.tiers)
    data = json.loads(out.with_suffix(".json").read_text())
    assert out.with_suffix(".html").stat().st_size > 0
    assert [check["id"] for check in data["checks"]] == [check.id for check in spec.checks]
    for check in data["checks"]:
        assert check["status"] in STATUSES, check
        assert check["harness_fault"] is False, (check["id"], check["message"], check["traceback"])
        if check["status"] != "pass":
            assert check["message"].strip() and check["points"] == 0, check
    assert isinstance(data["score"], (int, float)) and 0 <= data["score"] <= data["max_score"]
    return {check["id"]: check for check in data["checks"]}


mutation = st.tuples(st.sampled_from(sorted(METHODS)), st.sampled_from(sorted(BEHAVIOURS)))


@settings(derandomize=True, deadline=None, database=None, max_examples=8,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(mutation, min_size=1, max_size=3, unique_by=lambda item: item[0]))
@example(mutations=[("ReLULayer.forward", "hostile-array"), ("SoftmaxLossLayer.forward", "c-stack-overflow"),
                    ("FullyConnectedLayer.backward", "huge-view")])
@example(mutations=[("FullyConnectedLayer.forward", "deeply-nested-list"), ("ReLULayer.backward", "os-exit"),
                    ("SoftmaxLossLayer.get_loss", "self-referencing-list")])
@example(mutations=[("FullyConnectedLayer.forward", "mutates-numpy"), ("ReLULayer.forward", "huge-allocation"),
                    ("SoftmaxLossLayer.backward", "ndarray-subclass")])
@example(mutations=[("FullyConnectedLayer.forward", "structured"), ("ReLULayer.backward", "recursion"),
                    ("SoftmaxLossLayer.forward", "huge-exception-message"),
                    ("SoftmaxLossLayer.get_loss", "raises-unprintable")])
def test_broken_methods_cost_their_checks_and_never_the_run(exp2_context, workdir, mutations):
    spec = exp2_context.spec
    path = _variant(workdir, EXP2, "layers_1.py", mutations)
    result = api.check(path, context=exp2_context)
    checks = assert_complete(result, spec, path / "result")
    for method, behaviour in mutations:
        if behaviour not in HARMLESS:
            for check_id in METHODS[method]:
                assert checks[check_id]["status"] != "pass", (method, behaviour, check_id)


# --- the property engine (exp 3-3's pool backward property, hypothesis-driven) -------------------------

PROPERTY = "pool.backward_raw.property"


@pytest.fixture(scope="module")
def exp3_context():
    return build_context(load_spec("aics-exp3-3"))


@pytest.mark.parametrize("behaviour, verdict", [
    ("raises-on-some-inputs", "counterexample"),
    ("non-deterministic", "any"),
    ("fails-every-other-call", "any"),
    ("hostile-array", "counterexample"),
    ("os-exit", "counterexample"),
])
def test_the_property_engine_survives_broken_methods(exp3_context, workdir, behaviour, verdict):
    path = _variant(workdir, EXP3, "layers_2.py", [("MaxPoolingLayer.backward_raw_book", behaviour)])
    result = api.check(path, context=exp3_context, only=[PROPERTY])
    checks = assert_complete(result, exp3_context.spec, path / "result")
    selected = {PROPERTY, "pool.backward_raw", "pool.forward_raw"}
    assert all(checks[check_id]["status"] == "skip" for check_id in set(checks) - selected)
    prop = checks[PROPERTY]
    if verdict == "counterexample" and prop["status"] != "skip":
        assert prop["status"] in ("fail", "error") and prop["counterexample"]["params"], prop


def test_a_method_raising_on_overlapping_windows_gets_the_shrunk_input(exp3_context, workdir):
    """The field kind pool-backward-raises-on-overlap: the 0-point property fails with the minimal input."""
    path = _raises_on_overlap(workdir)
    result = api.check(path, context=exp3_context, only=[PROPERTY])
    checks = assert_complete(result, exp3_context.spec, path / "result")
    assert checks["pool.backward_raw"]["status"] == "pass"
    prop = checks[PROPERTY]
    assert prop["status"] == "error" and "overlapping windows are not handled" in prop["message"]
    params = prop["counterexample"]["params"]
    assert params["stride"] < params["kernel"] and params == {"shape": [1, 1, 2, 2], "kernel": 2, "stride": 1}


def _raises_on_overlap(workdir: Path) -> Path:
    path = _variant(workdir, EXP3, "layers_2.py", [])
    layers = path / "stu_upload" / "layers_2.py"
    layers.write_text(layers.read_text().replace(
        "    def backward_raw_book(self, top_diff):\n",
        "    def backward_raw_book(self, top_diff):\n        if self.stride < self.kernel_size:\n"
        "            raise IndexError('overlapping windows are not handled')\n", 1))
    return path


# --- a harness exception costs its check only --------------------------------------------------------

def test_an_exception_in_the_harness_is_that_checks_harness_fault(exp2_context, workdir, monkeypatch):
    from harness.adapters import registry
    kind = registry.get("aics.relu.forward")

    def broken_compare(*args, **kwargs):
        raise ZeroDivisionError("a harness bug")
    monkeypatch.setattr(type(kind), "compare", broken_compare)
    path = _variant(workdir, EXP2, "layers_1.py", [])
    result = api.check(path, context=exp2_context, only=["relu.forward", "fc.forward"])
    relu, fc = result.check("relu.forward"), result.check("fc.forward")
    assert relu.status == "error" and relu.harness_fault and "ZeroDivisionError: a harness bug" in relu.message
    assert "broken_compare" in relu.traceback and relu.points == 0
    assert fc.status == "pass" and not fc.harness_fault
    data = json.loads(json.dumps(result.to_json(), default=str))
    assert data["checks"][[c["id"] for c in data["checks"]].index("relu.forward")]["harness_fault"] is True


@pytest.mark.parametrize("seen_failure", [True, False])
def test_hypothesis_giving_up_reports_the_failure_seen_or_is_a_harness_fault(exp3_context, workdir, monkeypatch,
                                                                            seen_failure):
    import hypothesis
    from hypothesis.errors import FlakyFailure, Unsatisfiable

    def giving_up(strategy, condition, settings=None):
        if seen_failure:
            condition({"shape": [1, 1, 2, 2], "kernel": 2, "stride": 1})
            raise FlakyFailure("unreliable", [ValueError("x")])
        raise Unsatisfiable("could not find any valid examples")
    monkeypatch.setattr(hypothesis, "find", giving_up)
    result = api.check(_raises_on_overlap(workdir), context=exp3_context, only=[PROPERTY])
    prop = result.check(PROPERTY)
    if seen_failure:
        assert prop.status == "error" and not prop.harness_fault
        assert prop.counterexample["note"] == "shrinking stopped early (FlakyFailure)"
    else:
        assert prop.status == "error" and prop.harness_fault and "Unsatisfiable" in prop.message


def test_a_sandbox_that_cannot_start_gives_every_check_a_harness_fault(exp2_context, workdir):
    from harness.runner import RunOptions, check_submission

    def no_sandbox(*args):
        raise OSError("no child process today")
    result = check_submission(EXP2, exp2_context.spec, exp2_context, RunOptions(session_factory=no_sandbox))
    assert "no child process today" in result.error
    assert [check.status for check in result.checks] == ["error"] * len(exp2_context.spec.checks)
    assert all(check.harness_fault for check in result.checks)
