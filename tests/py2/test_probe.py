"""The era of a submission from its evidence, the plan the child loads it with, and what classic.py compiles.

No real Python 2.7 needed: these are the decisions and the loading (see test_oracle_*.py for the semantics).
"""
from __future__ import annotations

import linecache
import sys
import traceback
from types import SimpleNamespace

import numpy as np
import pytest

from harness import era, py2probe
from harness.sandbox import classic, loader

PY2 = b"def size(h, k, s):\n    print 'size', h\n    return (h - k) / s + 1\n"
PY3 = b"def size(h, k, s):\n    print(f'size {h}')\n    return (h - k) / s + 1\n"
BOTH = b"def size(h, k, s):\n    return (h - k) / s + 1\n"


def decide(files: dict, mode: str = "auto", bytecode=()) -> dict:
    return py2probe.probe(mode, files, list(bytecode))


@pytest.mark.parametrize("files, python, reason", [
    ({"layers_2.py": PY2}, "2.7", "layers_2.py line 2 is Python 2 syntax (a print statement)"),
    ({"layers_2.py": PY3}, "3", "layers_2.py line 2 is Python 3 only (an f-string)"),
    ({"layers_2.py": BOTH}, "3", "nothing in the submission is Python 2 only"),
    ({"a.py": b"from __future__ import print_function\nx = 1 / 2\n"}, "3", "no evidence of Python 2"),
    ({"a.py": b"try:\n    pass\nexcept ValueError, e:\n    pass\n"}, "2.7", "except X, e"),
    ({"a.py": b"x = 0777\n"}, "2.7", "octal"),
    ({"a.py": b"if True:\n        x = 1\n\ty = 2\n"}, "2.7", "tabs and spaces"),
    ({"a.py": b"def f(*, k):\n    nonlocal_ = k\n", "b.py": PY2}, "2.7", "Python 2 syntax"),
    ({"a.py": b"x = y @ z\n"}, "3", "the @ operator"),
    ({"a.py": b"class A(B):\n    def f(self):\n        super().f()\n"}, "3", "super() without arguments"),
    ({"a.py": b"print('x', end='')\n"}, "3", "print(..., end="),
])
def test_auto_decides_from_the_strongest_evidence(files, python, reason):
    answer = decide(files)
    assert answer["python"] == python
    assert reason in answer["reason"]


def test_python2_bytecode_beside_the_sources_is_evidence_and_python3_bytecode_wins_over_future():
    files = {"layers_2.py": BOTH}
    python2_pyc = {"path": "layers_2.pyc", "magic": "03f30d0a", "in_pycache": False}
    python3_pyc = {"path": "__pycache__/layers_2.cpython-36.pyc", "magic": "330d0d0a", "in_pycache": True}
    assert decide(files, bytecode=[python2_pyc])["python"] == "2.7"
    assert decide(files, bytecode=[python3_pyc])["python"] == "3"
    assert decide(files, bytecode=[python3_pyc])["python3_evidence"]
    future = {"a.py": b"from __future__ import division\nx = 1\n"}
    assert decide(future, bytecode=[python3_pyc])["python"] == "3"
    assert py2probe.bytecode_era({"magic": "", "in_pycache": False}) == "2"     # a .pyc beside its source


def test_floor_division_written_on_purpose_keeps_true_division_but_never_beats_python2_syntax():
    on_purpose = decide({"a.py": b"n = (h - k) // s + 1\nm = 1 / n\n"})
    assert on_purpose["python"] == "3" and on_purpose["python3_evidence"]
    mixed = decide({"a.py": b"n = (h - k) // s + 1\nprint n\n"})
    assert mixed["python"] == "2.7" and mixed["division"] == "classic"


def test_future_division_keeps_true_division_in_its_own_module_only():
    answer = decide({"a.py": b"from __future__ import division\nx = 1 / 2\n", "b.py": b"print 1 / 2\n"})
    assert answer["files"]["a.py"]["division"] == "true"
    assert answer["files"]["b.py"]["division"] == "classic"
    assert "classic division in b.py; true division in a.py" in answer["reason"]


def test_python3_only_file_in_a_python2_submission_stays_python3():
    answer = decide({"old.py": PY2, "new.py": PY3})
    assert answer["python"] == "2.7"
    assert "new.py" not in answer["files"] and "old.py" in answer["files"]
    assert any("new.py is Python 3 code" in note for note in answer["notes"])


def test_forced_python3_translates_nothing_and_forced_python2_translates_everything():
    assert decide({"a.py": PY2}, "3")["files"] == {}
    forced = decide({"a.py": BOTH, "b.py": b"x = {}.keys()\n"}, "2")
    assert forced["python"] == "2.7" and forced["files"]["a.py"]["division"] == "classic"
    assert "list(" in forced["files"]["b.py"]["source"]


def test_gbk_without_a_declaration_is_read_and_said():
    text = "# 卷积层\nx = '池化'\n"
    answer = decide({"a.py": text.encode("gbk")}, "3")
    assert answer["files"]["a.py"] == {"encoding": "gb18030"}
    assert "read as GBK" in answer["notes"][0]
    declared = ("# -*- coding: gbk -*-\n" + text).encode("gbk")
    assert decide({"a.py": declared}, "3")["files"] == {}          # Python reads it itself


def test_not_python2_either_is_reported_where_fissix_stopped():
    answer = decide({"a.py": b"print 'a'\nx = (1,\ny = 2 +\n"}, "2")
    error = answer["files"]["a.py"]["error"]
    assert error["line"] >= 3 and "not valid Python 2 either" in error["message"]


def test_line_map_keeps_lines_when_a_fixer_adds_an_import():
    original = "import sys\nx = reduce(lambda a, b: a + b, [1, 2])\ny = 1 / 0\n"
    translated = py2probe._translate("a.py", original)
    assert translated["source"].count("\n") == original.count("\n") + 1      # from functools import reduce
    assert translated["lines"][-1] == 3


def test_tabs_are_expanded_as_python2_read_them_outside_strings():
    text = 'if x:\n        a = 1\n\tb = """\n\tkept\n"""\n'
    expanded = py2probe.expand_indentation(text)
    assert expanded.splitlines()[2] == '        b = """' and expanded.splitlines()[3] == "\tkept"


# --- the child's side: classic.py through the loader ----------------------------------------------

@pytest.fixture()
def load(tmp_path, monkeypatch):
    """Import files of a submission the way the child does, with the probe's plan."""
    installed = []

    def load_files(files: dict, mode="auto", module="main"):
        package = tmp_path / "stu_upload"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name, data in files.items():
            (package / name).write_bytes(data)
        plan = py2probe.probe(mode, {name: data for name, data in files.items()}, [])
        modules = loader.SubmissionModules("stu_upload", str(package), {}, plan, classic)
        monkeypatch.syspath_prepend(str(tmp_path))
        before = list(sys.meta_path)
        modules.install()
        installed.extend(finder for finder in sys.meta_path if finder not in before)
        return modules.import_module(module), plan

    yield load_files
    for finder in installed:
        sys.meta_path.remove(finder)
    for name in [name for name in sys.modules if name == "stu_upload" or name.startswith("stu_upload.")]:
        del sys.modules[name]


def test_classic_division_in_place_on_attributes_items_and_arrays(load):
    main, plan = load({"main.py": b"""\
import numpy as np
class Layer(object):
    def __init__(self):
        self.count, self.__hidden, self.values = 9, 10, [8, 9]
        self.array = np.arange(6)
    def shrink(self):
        self.count /= 2
        self.__hidden /= 3
        self.values[1] /= 2
        view = self.array[2:]
        view /= 2
        return self.count, self.__hidden, self.values, self.array.tolist()
def sizes(h, k, s):
    print 'sizes'
    return (h - k) / s + 1, h / 2.0, -7 / 2
"""})
    assert plan["python"] == "2.7"
    assert main.Layer().shrink() == (4, 3, [8, 4], [0, 1, 1, 1, 2, 2])
    assert main.sizes(224, 3, 1) == (222, 112.0, -4)


def test_div_methods_serve_slash_and_python2_round(load):
    main, _ = load({"main.py": b"""\
class Money(object):
    def __init__(self, cents):
        self.cents = cents
    def __div__(self, other):
        return Money(self.cents / other)
def check():
    print 'x'
    return (Money(10) / 3).cents, round(2.5), round(-0.5), round(0.125, 2)
"""})
    assert main.check() == (3, 3.0, -1.0, 0.13)


def test_traceback_shows_the_students_own_line_after_a_fixer_added_one(load):
    main, plan = load({"main.py": b"""\
# -*- coding: gbk -*-
import sys
total = reduce(lambda a, b: a + b, [1, 2])
def broken(values):
    print 'about to fail'
    return values[len(values) / 2.0]
"""})
    assert plan["files"]["main.py"]["lines"]
    with pytest.raises(TypeError) as caught:
        main.broken([1, 2, 3])
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert frame.lineno == 6 and frame.line == "return values[len(values) / 2.0]"


def test_gbk_source_without_declaration_loads_and_tracebacks_show_its_text(load):
    source = "# 卷积\ndef f():\n    return '池化' + 1\n".encode("gbk")
    main, plan = load({"main.py": source}, mode="3")
    with pytest.raises(TypeError) as caught:
        main.f()
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert frame.lineno == 3 and frame.line == "return '池化' + 1"


def test_a_file_python2_rejects_too_raises_a_syntax_error_at_its_line(load):
    with pytest.raises(SyntaxError) as caught:
        load({"main.py": b"print 'a'\nx = (1,\ny = 2 +\n"}, mode="2")
    assert caught.value.lineno >= 3 and "not valid Python 2 either" in caught.value.msg
    assert linecache.getline(caught.value.filename, 1) == "print 'a'\n"


def test_python3_code_keeps_true_division(load):
    main, plan = load({"main.py": b"def scale(n, c, h, w):\n    return 1 / (2 * n * c * h * w)\n"})
    assert plan["python"] == "3" and plan["files"] == {}
    assert main.scale(1, 2, 3, 4) == 1 / 48


# --- the parent's side: the bounded probe and the re-run rule --------------------------------------

def test_decide_runs_the_probe_in_a_subprocess_and_reads_the_files_as_the_sandbox_copies_them(tmp_path):
    (tmp_path / "layers_2.py").write_bytes(PY2)
    (tmp_path / "link.py").symlink_to(tmp_path / "layers_2.py")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "layers_2.pyc").write_bytes(bytes.fromhex("03f30d0a") + b"\0" * 12)
    decided = era.decide(tmp_path)
    assert decided.python == "2.7" and decided.division == "classic"
    assert set(decided.files) == {"layers_2.py"}                      # the symbolic link is not read
    assert "layers_2.pyc: Python 2 bytecode" in decided.evidence
    assert decided.semantics["python"] == "2.7" and decided.probe_seconds > 0


def test_a_probe_that_fails_leaves_python3_and_says_why(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_bytes(PY2)
    monkeypatch.setattr(era, "PROBE_SECONDS", 0.001)
    decided = era.decide(tmp_path)
    assert decided.python == "3" and "could not be examined" in decided.reason


def _error(message: str, exc_type: str = "TypeError", file: str | None = "layers_2.py"):
    return SimpleNamespace(exc_type=exc_type, message=message, file=file, line=40)


def test_a_float_where_int_error_sends_a_submission_without_python3_evidence_back_as_python2(tmp_path):
    (tmp_path / "layers_2.py").write_bytes(BOTH)
    decided = era.decide(tmp_path)
    assert decided.python == "3" and decided.may_retry
    retried = decided.retry_as_python2(_error("'float' object cannot be interpreted as an integer"))
    assert retried.python == "2.7" and retried.division == "classic"
    assert "the Python 3 run failed in layers_2.py:40" in retried.reason
    assert decided.retry_as_python2(_error("unsupported operand")) is None
    assert decided.retry_as_python2(_error("'float' object cannot be interpreted as an integer", file=None)) is None


def test_python3_evidence_or_a_forced_mode_never_retries(tmp_path):
    (tmp_path / "layers_2.py").write_bytes(b"n = (h - k) // s + 1\n")
    error = _error("slice indices must be integers or None or have an __index__ method")
    assert era.decide(tmp_path).retry_as_python2(error) is None
    (tmp_path / "layers_2.py").write_bytes(BOTH)
    assert era.decide(tmp_path, "3").retry_as_python2(error) is None


def test_classic_divide_floors_integers_only():
    assert classic.divide(7, 2) == 3 and classic.divide(-7, 2) == -4 and classic.divide(7.0, 2) == 3.5
    assert classic.divide(np.uint64(7), np.int64(2)) == 3.5            # NumPy divides these in float64
    result = classic.divide(np.arange(5, dtype=np.int32), 2)
    assert result.dtype == np.int32 and result.tolist() == [0, 0, 1, 1, 2]
    assert classic.divide(np.arange(5), 2.0).dtype == np.float64


def test_an_unreadable_source_leaves_python3_and_says_why(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_bytes(PY2)

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(era.Path, "read_bytes", refuse)
    decided = era.decide(tmp_path)
    assert decided.python == "3" and "could not be examined (PermissionError" in decided.reason


SPEC = """\
lab: demo
title: demo lab
{python}submission:
  package: stu_upload
  files: [layers_1.py]
checks:
  - id: relu.forward
    kind: aics.relu.forward
    target: {{file: layers_1.py, class: ReLULayer}}
    points: 10
    cases:
      - {{name: small, shape: [2, 3]}}
"""


@pytest.mark.parametrize("line, python", [("", "auto"), ("python: 2\n", "2"), ("python: '3'\n", "3"),
                                          ("python: auto\n", "auto")])
def test_the_spec_names_the_default_semantics(line, python, tmp_path):
    from harness.spec import parse_spec
    assert parse_spec(SPEC.format(python=line), tmp_path / "demo.yaml").python == python


def test_a_wrong_python_key_names_file_line_and_key(tmp_path):
    from harness.errors import SpecError
    from harness.spec import parse_spec
    with pytest.raises(SpecError, match=r"demo.yaml:3: python: 4 is not one of"):
        parse_spec(SPEC.format(python="python: 4\n"), tmp_path / "demo.yaml")
