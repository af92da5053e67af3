"""The raw path's loops and the speedup path's calls are read from the source (harness.looplint), never
from a trace the child reports: a busy-wait or a patched numpy.asarray fooled the trace."""
import textwrap
from pathlib import Path

import pytest

from harness import looplint

ROOT = Path(__file__).resolve().parents[2]

COURSE_RAW = """
    def forward_raw(self, input):
        out = np.zeros((1, 2, 3, 4))
        for idxn in range(input.shape[0]):
            for idxc in range(self.channel_out):
                for idxh in range(3):
                    for idxw in range(4):
                        hs = idxh * self.stride
                        window = self.input_pad[idxn, :, hs:hs + 3, idxw * self.stride:idxw * self.stride + 3]
                        out[idxn, idxc, idxh, idxw] = np.sum(window * self.weight[:, :, :, idxc])
        return out
"""


def _package(tmp_path: Path, source: str, **others: str) -> Path:
    package = tmp_path / "stu_upload"
    package.mkdir(parents=True)
    (package / "layers_2.py").write_text(textwrap.dedent(source))
    for name, text in others.items():
        (package / f"{name}.py").write_text(textwrap.dedent(text))
    return package


def _layer(body: str, prefix: str = "", suffix: str = "") -> str:
    return (f"import numpy as np\n{textwrap.dedent(prefix)}\nclass Layer(object):\n"
            + textwrap.indent(textwrap.dedent(body), "    ") + textwrap.dedent(suffix))


def test_the_course_loops_are_a_position_loop_nest(tmp_path):
    report = looplint.analyse(_package(tmp_path, _layer(COURSE_RAW)), "layers_2.py", "Layer", "forward_raw")
    assert report.found and report.loop_depth == 4 and report.loops_over_positions


@pytest.mark.parametrize("body", [
    # a busy-wait: a loop, but it indexes nothing
    """
    def forward_raw(self, input):
        out = self.forward_speedup(input)
        deadline = time.time() + 0.05
        while time.time() < deadline:
            pass
        for _ in range(1000):
            for _ in range(10):
                spin = 1
        return out
    """,
    # vectorised, one loop over kernel cells only
    """
    def forward_raw(self, input):
        out = 0
        for cell in range(9):
            out = out + input[:, cell]
        return out
    """,
])
def test_loops_that_index_nothing_or_one_level_are_not_position_loops(tmp_path, body):
    report = looplint.analyse(_package(tmp_path, _layer(body)), "layers_2.py", "Layer", "forward_raw")
    assert report.found and not report.loops_over_positions, report


def test_loops_split_across_helpers_and_modules_count_as_one_nest(tmp_path):
    source = _layer("""
        def forward_raw(self, input):
            for idxh in range(3):
                self.row(input, idxh)

        def row(self, input, idxh):
            return helper(input, idxh)
        """, prefix="from .helpers import cell as helper\n")
    helpers = """
        def cell(input, idxh):
            for idxw in range(4):
                input[0, 0, idxh, idxw] += 1
        """
    report = looplint.analyse(_package(tmp_path, source, helpers=helpers), "layers_2.py", "Layer", "forward_raw")
    assert report.loops_over_positions and any("helpers.py" in name for name in report.functions), report


def test_comprehension_and_while_loops_count(tmp_path):
    source = _layer("""
        def forward_raw(self, input):
            rows = [[np.max(input[0, 0, i:i + 2, j:j + 2]) for j in range(4)] for i in range(3)]
            i = 0
            while i < 3:
                j = 0
                while j < 4:
                    input[0, 0, i, j] = 0
                    j += 1
                i += 1
            return rows
        """)
    report = looplint.analyse(_package(tmp_path, source), "layers_2.py", "Layer", "forward_raw")
    assert report.loop_depth == 2


@pytest.mark.parametrize("rebinding, shown", [
    ("class Fast(Layer):\n    forward_raw = Layer.forward_speedup\n", "Layer.forward_speedup"),
    ("Layer.forward_raw = Layer.forward_speedup\n", "Layer.forward_speedup"),
    ("setattr(Layer, 'forward_raw', Layer.forward_speedup)\n", "Layer.forward_speedup"),
    ("Layer.forward_raw = lambda self, x: self.forward_speedup(x)\n", "lambda"),
])
def test_a_rebound_raw_method_is_judged_by_what_it_is_bound_to(tmp_path, rebinding, shown):
    body = COURSE_RAW + """
    def forward_speedup(self, input):
        return np.tensordot(input, self.weight, axes=1)
    """
    source = _layer(body, suffix="\n" + rebinding)
    class_name = "Fast" if rebinding.startswith("class") else "Layer"
    report = looplint.analyse(_package(tmp_path, source), "layers_2.py", class_name, "forward_raw")
    assert report.found and not report.loops_over_positions and shown in report.rebound, report


def test_self_assignment_in_init_rebinds(tmp_path):
    body = COURSE_RAW + """
    def __init__(self):
        self.forward_raw = self.forward_speedup

    def forward_speedup(self, input):
        return input
    """
    report = looplint.analyse(_package(tmp_path, _layer(body)), "layers_2.py", "Layer", "forward_raw")
    assert not report.loops_over_positions and "self.forward_speedup" in report.rebound


def test_a_speedup_path_calling_the_raw_one_is_seen_through_helpers(tmp_path):
    body = COURSE_RAW + """
    def forward_speedup(self, input):
        return self.shortcut(input)

    def shortcut(self, input):
        return Layer.forward_raw(self, input)

    def backward_speedup(self, dout):
        return dout * 2
    """
    package = _package(tmp_path, _layer(body))
    raw = looplint.analyse(package, "layers_2.py", "Layer", "forward_raw")
    fast = looplint.analyse(package, "layers_2.py", "Layer", "forward_speedup")
    other = looplint.analyse(package, "layers_2.py", "Layer", "backward_speedup")
    assert looplint.calls_method(fast, raw) and not looplint.calls_method(other, raw)


def test_inherited_methods_and_slow_idioms(tmp_path):
    source = _layer(COURSE_RAW, suffix="""
        class Child(Layer):
            def forward_speedup(self, input):
                a = np.einsum('nchw,co->nohw', input, self.weight)
                b = np.einsum('nchw,co->nohw', input, self.weight, optimize=True)
                np.add.at(a, (0, 0), 1)
                return a + b
        """)
    package = _package(tmp_path, source)
    assert looplint.analyse(package, "layers_2.py", "Child", "forward_raw").loops_over_positions
    hints = looplint.analyse(package, "layers_2.py", "Child", "forward_speedup").hints
    assert len(hints) == 2 and "optimize=True" in hints[0] and "np.add.at" in hints[1], hints


def test_python2_source_is_read_after_translation(tmp_path):
    source = """
        import numpy as np
        class Layer(object):
            def forward_raw(self, input):
                print 'forward'
                for idxh in xrange(3):
                    for idxw in xrange(4):
                        input[0, 0, idxh, idxw] = 0
                return input
        """
    report = looplint.analyse(_package(tmp_path, source), "layers_2.py", "Layer", "forward_raw")
    assert report.found and report.loops_over_positions, report


def test_what_cannot_be_found_or_parsed_is_no_verdict(tmp_path):
    package = _package(tmp_path, "def broken(:\n")
    report = looplint.analyse(package, "layers_2.py", "Layer", "forward_raw")
    assert not report.found and "could not be parsed" in report.note
    assert "defines no method" in looplint.analyse(_package(tmp_path / "b", _layer(COURSE_RAW)), "layers_2.py",
                                                   "Layer", "backward_raw").note


def test_example_submissions_raw_paths_loop_and_speedup_paths_do_not_call_them():
    package = ROOT / "submissions" / "aics-exp3-3" / "correct-plain" / "stu_upload"
    for class_name, pairs in (("ConvolutionalLayer", [("forward_raw", "forward_speedup"), ("backward_raw", "backward_speedup")]),
                              ("MaxPoolingLayer", [("forward_raw", "forward_speedup"), ("backward_raw_book", "backward_speedup")])):
        for raw_name, fast_name in pairs:
            raw = looplint.analyse(package, "layers_2.py", class_name, raw_name)
            fast = looplint.analyse(package, "layers_2.py", class_name, fast_name)
            assert raw.loops_over_positions and not looplint.calls_method(fast, raw), (class_name, raw_name)
