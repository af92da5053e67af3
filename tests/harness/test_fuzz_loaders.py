"""Fuzzing the two loaders that read what people write: lab specs and submissions.

* A spec is specs/aics-exp2-1.yaml with random damage (lines deleted, duplicated or re-indented,
  values replaced, unknown keys inserted, the file truncated, random bytes inserted). Loading it
  either gives a valid spec or raises SpecError whose one-line message names the file and a line;
  any other exception is a bug.
* A submission's layers_1.py is random bytes, empty, Python-ish noise, valid Python defining the
  wrong things, or one huge line, in any of the layouts the harness accepts. Checking it gives
  fail/error results with a message; the parent never raises.
"""
from __future__ import annotations

import itertools
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness import api
from harness.context import build_context
from harness.errors import HarnessError, SpecError
from harness.spec import LabSpec, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC_SOURCE = (ROOT / "specs" / "aics-exp2-1.yaml").read_bytes()
SPEC_LINES = SPEC_SOURCE.splitlines(keepends=True)



def fuzz(max_examples: int) -> settings:
    return settings(derandomize=True, deadline=None, database=None, max_examples=max_examples,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- spec loader -------------------------------------------------------------------------------------

YAML_ODDITIES = [".nan", ".inf", "-.inf", "~", "null", "true", "no", "[]", "{}", "''", "0x1F", "1e400", "-0",
                 "2001-12-14", "*fc", "&anchor", "!!binary eA==", "!!python/object:os.system", "!!set {a}", "|",
                 ">", "'", '"', "[", "{", "? a", "- x", "a: b: c", "<<: *fc", "%TAG", "@", "`", "\t"]
values = st.one_of(
    st.text(max_size=20),
    st.integers(-10**12, 10**12).map(str),
    st.floats().map(repr),
    st.sampled_from(YAML_ODDITIES),
    st.lists(st.one_of(st.integers(-5, 300).map(str), st.text(max_size=5)), max_size=4)
      .map(lambda items: "[" + ", ".join(items) + "]"),
)
keys = st.one_of(
    st.sampled_from(["bogus", "pionts", "null", "~", "1", "-3", "true", "3.5", "''", "[a, b]", "{a: 1}", "<<",
                     "name", "public", "seed", "dtype", "kind", "id", "points", "cases", "depends", "target",
                     "tolerance", "limits", "files", "lr", "batch", "shape", "requires", "level"]),
    st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True),
)
OPERATIONS = ("delete", "duplicate", "indent", "value", "flow-value", "unknown-key", "truncate", "bytes")


@st.composite
def damaged_specs(draw) -> bytes:
    lines = list(SPEC_LINES)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(OPERATIONS))
        if not lines:
            lines = [b""]
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if operation == "delete":
            del lines[i]
        elif operation == "duplicate":
            lines.insert(i, line)
        elif operation == "indent":
            lines[i] = b" " * draw(st.integers(0, 8)) + line.lstrip(b" ")
        elif operation == "value" and b":" in line:
            head = line[: line.index(b":") + 1]
            lines[i] = head + b" " + draw(values).encode() + b"\n"
        elif operation == "flow-value":                 # a value inside {name: small, batch: 3, ...}
            spots = list(re.finditer(rb"(?<=: )[^,{}\[\]\n]+", line))
            if spots:
                spot = spots[draw(st.integers(0, len(spots) - 1))]
                lines[i] = line[: spot.start()] + draw(values).encode() + line[spot.end():]
        elif operation == "unknown-key":
            stripped = line.lstrip(b" ")
            indent = len(line) - len(stripped) + (2 if stripped.startswith(b"- ") else 0)
            lines.insert(i, b" " * indent + draw(keys).encode() + b": " + draw(values).encode() + b"\n")
        elif operation == "truncate":
            whole = b"".join(lines)
            lines = [whole[: draw(st.integers(0, len(whole)))]]
        elif operation == "bytes":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.binary(min_size=1, max_size=8)) + line[at:]
    return b"".join(lines)


def _insert_after(marker: bytes, extra: bytes) -> bytes:
    at = SPEC_SOURCE.index(marker) + len(marker)
    return SPEC_SOURCE[:at] + extra + SPEC_SOURCE[at:]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-spec") / "aics-fuzz.yaml"


@fuzz(400)
@given(text=damaged_specs())
# found by fuzzing or by reading the loader: keys YAML reads as null, numbers or booleans; characters
# YAML refuses (NUL, other controls, U+FFFE); bytes that are not UTF-8; nothing at all; a bare scalar
@example(text=_insert_after(b"    points: 15\n", b"    null: true\n    bogus: 1\n"))
@example(text=_insert_after(b"    points: 15\n", b"    1: 2\n    x: 3\n"))
@example(text=_insert_after(b"lab: aics-exp2-1\n", b"true: 1\nzzz: 2\n"))
@example(text=_insert_after(b"title: ", b"\x00"))
@example(text=_insert_after(b"title: ", "\ufffe".encode()))
@example(text=_insert_after(b"title: ", b"\xff\xfe"))
@example(text=b"")
@example(text=b"lab")
@example(text=SPEC_SOURCE.replace(b"target: &fc", b"target: &other"))
def test_damaged_spec_loads_or_names_file_and_line(spec_file, text):
    spec_file.write_bytes(text)
    try:
        spec = load_spec(spec_file)
    except SpecError as error:
        assert issubclass(SpecError, HarnessError)
        message = str(error)
        assert "\n" not in message, message
        match = re.match(rf"{re.escape(str(spec_file))}:(\d+): \S", message)
        assert match, message
        assert 1 <= int(match.group(1)) <= text.count(b"\n") + 2, message
    else:
        assert isinstance(spec, LabSpec)
        assert spec.lab and spec.checks and spec.files
        assert all(check.id and check.kind for check in spec.checks)


def test_the_undamaged_spec_loads(spec_file):
    spec_file.write_bytes(SPEC_SOURCE)
    assert load_spec(spec_file).lab == "aics-exp2-1"


# --- submission loader -------------------------------------------------------------------------------

PYTHONISH = ["def", "class", "import", "numpy", "as", "np", "return", "self", "(", ")", ":", "\n", "    ", "=",
             "+", "*", "[", "]", "{", "}", "'", '"', "#", "lambda", "None", "1", "2.5", "x", "ReLULayer",
             "forward", ",", ".", "@", "if", "else", "pass", "raise", "yield", "from", "\\", "\t", "\u4e2d"]
names = st.sampled_from(["ReLULayer", "SoftmaxLossLayer", "Relu", "relu_layer", "ReluLayer", "Softmax",
                         "FullyConnectedLayer", "SoftmaxLayer"])
methods = st.sampled_from(["forward", "backward", "Forward", "fwd", "__call__", "get_loss"])
returns = st.sampled_from(["None", "1", "'text'", "[1, 2]", "input", "input.tolist()", "float('nan')",
                           "np.zeros(3)", "input.astype(int)", "self"])


@st.composite
def wrong_python(draw) -> bytes:
    """Valid Python that defines the wrong names, the right names with the wrong methods, or wrong results."""
    blocks = ["import numpy as np\n"]
    for _ in range(draw(st.integers(0, 3))):
        method = draw(methods)
        blocks.append(f"class {draw(names)}(object):\n"
                      f"    def __init__(self, *args, **kwargs):\n        pass\n"
                      f"    def {method}(self, input=None, *args):\n        return {draw(returns)}\n")
    return "".join(blocks).encode()


file_contents = st.one_of(
    st.binary(max_size=2000),
    st.just(b""),
    st.lists(st.sampled_from(PYTHONISH), max_size=60).map(lambda tokens: " ".join(tokens).encode()),
    wrong_python(),
    st.builds(lambda n, closed: b"x = '" + b"a" * n + (b"'\n" if closed else b"\n"),
              st.integers(10_000, 300_000), st.booleans()),
)
LAYOUTS = ("package", "flat", "nested", "zip", "misnamed")
CHEAP = ("relu.forward", "softmax.forward")
_counter = itertools.count()


@pytest.fixture(scope="module")
def exp2_context():
    return build_context(load_spec("aics-exp2-1"))


@pytest.fixture(scope="module")
def submissions_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-submissions")


def _write_submission(base: Path, content: bytes, layout: str) -> Path:
    root = base / f"s{next(_counter)}"
    package = {"package": root / "stu_upload", "flat": root, "nested": root / "handin" / "stu_upload",
               "zip": root / "src" / "stu_upload", "misnamed": root / "stu_upload"}[layout]
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / ("layer_1.py" if layout == "misnamed" else "layers_1.py")).write_bytes(content)
    if layout != "zip":
        return root
    archive = root / "handin.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(package.rglob("*")):
            bundle.write(path, path.relative_to(package.parent))
    return archive


@fuzz(15)
@given(content=file_contents, layout=st.sampled_from(LAYOUTS))
@example(content="# 注释: 中文\nx = 1\n".encode("gbk"), layout="package")
@example(content=b"class ReLULayer:\n    def forward(self, input):\n        raise SystemExit(3)\n", layout="zip")
@example(content=b"\xef\xbb\xbf" + b"x" * 200_000, layout="flat")
@example(content=b"import numpy as np\nclass ReLULayer:\n    def forward(self, input):\n        return input.tolist()\n"
                 b"class SoftmaxLossLayer:\n    def forward(self, input):\n        return input * float('nan')\n",
         layout="nested")
def test_any_submission_file_gives_results(exp2_context, submissions_dir, content, layout):
    path = _write_submission(submissions_dir, content, layout)
    result = api.check(path, context=exp2_context, only=list(CHEAP))
    assert result.lab == "aics-exp2-1" and not result.error
    for check in result.checks:
        if check.id in CHEAP:
            assert check.status in ("fail", "error"), (check.id, check.status, check.message)
            assert check.message.strip(), check.id
            assert len(check.message) < 20_000                   # a huge line is cut, not copied whole
            if layout == "misnamed":
                assert "layers_1.py is missing" in check.message and "layer_1.py" in check.message
        else:
            assert check.status == "skip", (check.id, check.status)
    assert result.score == 0
