"""The happy path through a real child: construct, call, read attributes, get arrays back exactly."""
from __future__ import annotations

import numpy as np
import pytest

from harness.sandbox import Returned
from sandbox_helpers import call, program, ref, run_function

LAYERS = """
import numpy as np

class Dense:
    def __init__(self, n_in, n_out, scale=1.0):
        self.weight = scale * np.arange(n_in * n_out, dtype=np.float64).reshape(n_in, n_out)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        self.input = x
        return x @ self.weight

    def backward(self, top_diff):
        self.d_weight = self.input.T @ top_diff
        return top_diff @ self.weight.T

def echo(*values):
    return values[0] if len(values) == 1 else values

def nothing(x):
    x *= 2                      # modifies its input in place

def as_list(x):
    return x.tolist()

def as_matrix(x):
    return np.asmatrix(x)

def shout(text, times):
    import sys
    for _ in range(times):
        print(text)
    print("to stderr", file=sys.stderr)

def layer_table():
    return {"relu1": np.ones(2), "relu2": np.zeros(3)}
"""
COUNTER = """
import numpy as np

TOKEN = np.random.rand()
calls = [0]

def bump():
    calls[0] += 1
    return calls[0]
"""
IMPORTS = """
from layers_1 import Dense as ImplicitDense
from .layers_1 import Dense as RelativeDense
from stu_upload.layers_1 import Dense as AbsoluteDense
import layers_1

SAME = ImplicitDense is RelativeDense is AbsoluteDense
SAME_MODULE = layers_1.Dense is RelativeDense
"""


@pytest.fixture
def session(submission, open_session):
    return open_session(submission(**{"layers_1.py": LAYERS, "counter.py": COUNTER, "layers_2.py": IMPORTS}))


def test_construct_call_and_read_attributes(session):
    x = np.arange(6.0).reshape(2, 3)
    reply = session.run(program(
        {"import": "layers_1", "as": "m"},
        call("m.Dense", 3, 2, as_="layer", scale=0.5),
        call("layer.forward", ref("x"), as_="out"),
        call("layer.backward", ref("dout"), as_="dx"),
        {"get": "layer.d_weight", "as": "dw"},
        {"get": "layer.calls", "as": "calls"},
        outputs=["out", "dx", "dw", "calls"]), {"x": x, "dout": np.ones((2, 2))})
    assert reply.status == "ok", reply.error
    weight = 0.5 * np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(reply.values["out"], x @ weight)
    np.testing.assert_array_equal(reply.values["dx"], np.ones((2, 2)) @ weight.T)
    np.testing.assert_array_equal(reply.values["dw"], x.T @ np.ones((2, 2)))
    assert reply.values["calls"].shape == () and reply.values["calls"] == 1
    assert reply.types["calls"] == "int"
    assert reply.cpu_time is not None and reply.cpu_time >= 0 and reply.wall_time > 0


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", ">f8", "int8", "uint16", "int32", "uint64", "bool",
                                   "complex64", "complex128"])
def test_arrays_of_every_numeric_dtype_round_trip_bit_exactly(session, dtype):
    rng = np.random.default_rng(1)
    sent = rng.normal(size=(3, 4)).astype(dtype) if np.dtype(dtype).kind in "fc" else \
        rng.integers(0, 100, size=(3, 4)).astype(dtype)
    extremes = np.array([np.iinfo(dtype).min, np.iinfo(dtype).max], dtype=dtype) if np.dtype(dtype).kind in "iu" \
        else np.zeros(0, dtype=dtype)
    reply = session.run(program({"import": "layers_1", "as": "m"}, call("m.echo", ref("sent"), as_="back"),
                                outputs=["back", "extremes"]), {"sent": sent, "extremes": extremes})
    assert reply.status == "ok", reply.error
    for name, expected in (("back", sent), ("extremes", extremes)):
        actual = reply.values[name]
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert actual.tobytes() == expected.tobytes()


def test_zero_dimensional_empty_and_strided_inputs_keep_their_shape(session):
    strided = np.arange(20.0).reshape(4, 5)[::2, ::2]
    arrays = {"scalar": np.array(2.5), "empty": np.zeros((0, 7), dtype=np.int16), "strided": strided}
    reply = session.run(program(outputs=list(arrays)), arrays)
    for name, expected in arrays.items():
        assert reply.values[name].shape == expected.shape and reply.values[name].dtype == expected.dtype
        np.testing.assert_array_equal(reply.values[name], expected)


def test_non_array_results_are_described_with_their_type(session):
    reply = session.run(program(
        {"import": "layers_1", "as": "m"},
        call("m.nothing", ref("x"), as_="none"),
        call("m.as_list", ref("x"), as_="listed"),
        call("m.as_matrix", ref("x"), as_="matrix"),
        call("m.layer_table", as_="table"),
        call("m.Dense", 1, 1, as_="layer"),
        outputs=["none", "listed", "matrix", "table", "layer", "x"]), {"x": np.ones((2, 2))})
    assert reply.values["none"] == Returned("none", "NoneType")
    np.testing.assert_array_equal(reply.values["listed"], 2 * np.ones((2, 2)))     # after nothing() doubled x
    assert reply.types["listed"] == "list" and reply.types["matrix"] == "matrix"
    assert isinstance(reply.values["matrix"], np.ndarray) and reply.values["matrix"].shape == (2, 2)
    assert reply.values["table"] == Returned("unsupported", "dict")
    assert reply.values["layer"] == Returned("unsupported", "Dense")
    np.testing.assert_array_equal(reply.values["x"], 2 * np.ones((2, 2)))


def test_copy_keeps_the_input_as_it_was_before_the_call(session):
    reply = session.run(program({"import": "layers_1", "as": "m"}, {"copy": "x", "as": "x_before"},
                                call("m.nothing", ref("x")), outputs=["x", "x_before"]), {"x": np.ones(3)})
    np.testing.assert_array_equal(reply.values["x_before"], np.ones(3))
    np.testing.assert_array_equal(reply.values["x"], 2 * np.ones(3))


def test_set_item_and_expressions(session):
    reply = session.run(program(
        {"import": "layers_1", "as": "m"},
        call("m.Dense", 2, 2, as_="layer"),
        {"set": "layer.weight", "value": ref("w")},
        call("layer.forward", ref("x"), as_="out"),
        call("m.layer_table", as_="table"),
        {"item": "table", "key": "relu2", "as": "relu2"},
        call("m.echo", {"tuple": [1, 2]}, {"dict": {"a": ref("x")}}, as_="pair"),
        {"item": "pair", "key": 0, "as": "first"},
        outputs=["out", "relu2", "first"]), {"x": np.ones((1, 2)), "w": np.eye(2) * 3})
    assert reply.status == "ok", reply.error
    np.testing.assert_array_equal(reply.values["out"], [[3.0, 3.0]])
    np.testing.assert_array_equal(reply.values["relu2"], np.zeros(3))
    np.testing.assert_array_equal(reply.values["first"], [1, 2])


def test_seed_makes_the_submissions_randomness_repeatable(session):
    steps = program({"seed": 1234}, {"import": "counter", "as": "c"}, {"get": "c.TOKEN", "as": "token"},
                    outputs=["token"])
    first, second = session.run(steps), session.run(steps)
    assert first.values["token"] == second.values["token"]
    np.random.seed(1234)
    assert first.values["token"] == np.random.rand()


def test_both_import_styles_give_one_module_object(session):
    reply = session.run(program({"import": "layers_2", "as": "m"}, {"get": "m.SAME", "as": "same"},
                                {"get": "m.SAME_MODULE", "as": "same_module"}, outputs=["same", "same_module"]))
    assert reply.status == "ok", reply.error
    assert bool(reply.values["same"]) and bool(reply.values["same_module"])


def test_fresh_requests_rerun_the_modules_and_others_keep_their_state(session):
    bump = program({"import": "counter", "as": "c"}, call("c.bump", as_="n"), outputs=["n"])
    keep = program(call("c.bump", as_="n"), outputs=["n"])
    assert session.run(bump).values["n"] == 1
    assert session.run(bump, fresh=True).values["n"] == 1
    assert session.run(keep, fresh=False).values["n"] == 2
    stale = session.run(keep, fresh=True)
    assert stale.status == "error" and stale.error.exc_type == "ProgramError" and "'c'" in stale.error.message


def test_chain_runs_the_layers_in_the_listed_order_and_captures(submission, open_session):
    network = """
    import numpy as np

    class Scale:
        def __init__(self, factor):
            self.factor = factor
        def forward(self, x):
            return x * self.factor

    class Net:
        def __init__(self):
            self.param_layer_name = ["a", "b", "c", "d"]
            self.layers = {"a": Scale(2.0), "b": Scale(3.0), "c": Scale(5.0), "d": Scale(7.0)}
    """
    session = open_session(submission(**{"vgg.py": network}))
    chain = {"layers": "net.layers", "names": "net.param_layer_name", "input": ref("x"), "method": "forward",
             "capture": ["b", "c"], "until": "c", "as": "acts"}
    reply = session.run(program({"import": "vgg", "as": "m"}, call("m.Net", as_="net"), {"chain": chain},
                                {"item": "acts", "key": "b", "as": "b"}, {"item": "acts", "key": "c", "as": "c"},
                                outputs=["b", "c"]), {"x": np.ones(2)})
    assert reply.status == "ok", reply.error
    np.testing.assert_array_equal(reply.values["b"], [6.0, 6.0])
    np.testing.assert_array_equal(reply.values["c"], [30.0, 30.0])


def test_trace_counts_submission_lines_and_calls_of_watched_methods(submission, open_session):
    layers = """
    import numpy as np

    class Conv:
        def forward_raw(self, x):
            total = 0.0
            for value in x.ravel():
                total += value
            return total

        def forward_speedup(self, x):
            return self.forward_raw(x)

        def forward_vectorised(self, x):
            return x.sum()
    """
    session = open_session(submission(**{"layers_2.py": layers}))
    watch = ["forward_raw"]
    traces = [{"trace": {"call": f"conv.{method}", "args": [ref("x")], "watch": watch, "as": method}}
              for method in ("forward_raw", "forward_speedup", "forward_vectorised")]
    reply = session.run(program({"import": "layers_2", "as": "m"}, call("m.Conv", as_="conv"), *traces,
                                outputs=["forward_raw", "forward_speedup", "forward_vectorised"]), {"x": np.ones(10)})
    assert reply.status == "ok", reply.error
    lines, watched = reply.values["forward_raw"]
    assert lines == 1 + 2 * 10 + 1 + 1 and watched == 0      # total=, (for, +=) x 10, the loop's end, return
    assert reply.values["forward_speedup"][1] == 1
    assert list(reply.values["forward_vectorised"]) == [1, 0]


def test_output_is_captured_per_request_and_bounded(session):
    first = run_function(session, "layers_1", "shout", "hello", 1)
    assert first.status == "ok" and first.stdout == "hello\n" and first.stderr == "to stderr\n"
    flood = run_function(session, "layers_1", "shout", "x" * 999, 2000)
    assert flood.stdout.startswith("x" * 100) and "bytes omitted" in flood.stdout
    assert len(flood.stdout) < session.limits.output_bytes + 100
    assert run_function(session, "layers_1", "echo", 1).stdout == ""
