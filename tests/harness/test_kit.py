"""The student kit (README "The student flow", harness/kit.py, harness/kitcheck.py).

`harness kit` writes check.pyz (a zipapp) and README.txt. The kit holds the public cases with their
expected values and reference-free checks; hidden cases (names, inputs, expected values), the
reference and compiled code are not in it. It runs with only Python and NumPy: the end-to-end tests
use a virtual environment whose site-packages holds numpy (linked) and nothing else, where
`import harness`, `import reference`, yaml, jsonschema, jinja2, scipy and hypothesis all fail.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness import cli, kitcheck
from harness.adapters import registry
from harness.context import RunContext, build_context
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
COURSE_FILES = {"layers_1.py", "layers_2.py", "layers_3.py", "vgg_cpu.py", "exp_3_3_style_transfer.py"}
FORBIDDEN_IMPORTS = ("harness", "reference", "yaml", "jsonschema", "jinja2", "scipy", "hypothesis", "PIL")


def _make_kit(tmp_path_factory, lab: str) -> Path:
    out = tmp_path_factory.mktemp(lab) / "kit"
    assert cli.main(["kit", "--lab", lab, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def kit21(tmp_path_factory):
    return _make_kit(tmp_path_factory, "aics-exp2-1")


@pytest.fixture(scope="module")
def kit33(tmp_path_factory):
    return _make_kit(tmp_path_factory, "aics-exp3-3")


def _unpacked(kit_dir: Path, into: Path) -> Path:
    with zipfile.ZipFile(kit_dir / "check.pyz") as archive:
        archive.extractall(into)
    return into


@pytest.fixture(scope="module")
def data21(kit21, tmp_path_factory):
    """The unpacked kit/ data directory of the exp 2-1 kit (spec.json, expected.npz, manifest.json)."""
    return _unpacked(kit21, tmp_path_factory.mktemp("unpacked21")) / "kit"


@pytest.fixture(scope="module")
def numpy_only_python(tmp_path_factory) -> Path:
    """A venv whose site-packages holds numpy (symbolic links to this environment's) and nothing else."""
    venv = tmp_path_factory.mktemp("numpy-only") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    numpy_home = Path(np.__file__).resolve().parent.parent
    for entry in numpy_home.iterdir():
        if entry.name == "numpy" or entry.name.startswith(("numpy.", "numpy-")):
            os.symlink(entry, Path(site) / entry.name)
    return python


def _clean_env() -> dict:
    return {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "HARNESS_"))}


def run_kit(python: Path, kit_dir: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(kit_dir / "check.pyz"), *map(str, args)], cwd=cwd, env=_clean_env(),
                          capture_output=True, text=True, timeout=600)


# --- what the kit holds ----------------------------------------------------------------------------------


def test_kit_is_one_archive_and_a_readme(kit21):
    assert {path.name for path in kit21.iterdir()} == {"check.pyz", "README.txt"}
    with zipfile.ZipFile(kit21 / "check.pyz") as archive:
        names = archive.namelist()
    assert "__main__.py" in names and "harness/kitcheck.py" in names and "harness/sandbox/child.py" in names
    assert {"kit/spec.json", "kit/expected.npz", "kit/manifest.json"} <= set(names)
    assert not [name for name in names if name.startswith("reference/") or "/reference/" in name]
    assert not [name for name in names if name.endswith((".pyc", ".pyo", ".so", ".pyd", ".dll", ".yaml"))]
    assert not [name for name in names if Path(name).name in COURSE_FILES]
    for instructor_only in ("harness/cli.py", "harness/api.py", "harness/kit.py", "harness/mutation.py"):
        assert instructor_only not in names
    # harness.dlp.network builds the exp 2-2 and 3-2 networks as the course's solutions do
    assert not [name for name in names if name.startswith("harness/dlp/")]


@functools.lru_cache(maxsize=None)          # both kits carry the same engine: scan each source once
def _function_statements(source: str) -> frozenset:
    """Fragments of functions that compute something (a numpy call, arithmetic or indexing), normalised by
    ast.unparse: pairs of consecutive such statements, and single ones of 70 characters or more. (One
    short line like ``h, w = h // 2, w // 2`` may well be written twice independently; two in a row or a
    long one is copied.)"""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        computing = []
        for statement in ast.walk(node):
            if isinstance(statement, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr)) and any(
                    isinstance(part, (ast.BinOp, ast.Subscript, ast.Attribute)) for part in ast.walk(statement)):
                text = ast.unparse(statement)
                if "np." in text or any(isinstance(part, (ast.BinOp, ast.Subscript)) for part in ast.walk(statement)):
                    if len(text) >= 25:
                        computing.append(text)
                    if len(text) >= 70:
                        found.add(text)
        found |= set(zip(computing, computing[1:]))
    return frozenset(found)


@functools.lru_cache(maxsize=None)
def _function_bodies(source: str) -> frozenset:
    bodies = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if sum(isinstance(part, ast.stmt) for s in body for part in ast.walk(s)) >= 3:
                bodies.add(ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False))
    return frozenset(bodies)


@pytest.fixture(scope="module")
def reference_fragments() -> tuple[list[str], set, set]:
    """(sources, function bodies, computing fragments) of every module of reference/."""
    sources = [path.read_text(encoding="utf-8").strip() for path in sorted((ROOT / "reference").rglob("*.py"))]
    bodies, statements = set(), set()
    for source in sources:
        bodies |= _function_bodies(source)
        statements |= _function_statements(source)
    assert len(bodies) > 100 and len(statements) > 500          # the scan has something to find
    return sources, bodies, statements


@pytest.mark.parametrize("lab_kit", ["kit21", "kit33"])
def test_kit_carries_no_solution(lab_kit, request, reference_fragments):
    """No reference source, no function body or computing fragment of reference/, no compiled code."""
    kit_dir = request.getfixturevalue(lab_kit)
    reference_sources, reference_bodies, reference_statements = reference_fragments
    with zipfile.ZipFile(kit_dir / "check.pyz") as archive:
        sources = {name: archive.read(name).decode("utf-8") for name in archive.namelist() if name.endswith(".py")}
        text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                         if name.endswith((".py", ".json", ".j2")))
    assert [source[:60] for source in reference_sources if len(source) >= 40 and source in text] == []
    kit_bodies = set().union(*(_function_bodies(source) for source in sources.values()))
    kit_statements = set().union(*(_function_statements(source) for source in sources.values()))
    assert reference_bodies & kit_bodies == set()
    assert reference_statements & kit_statements == set()
    # the control: the scan does find a reference function planted in an engine file
    planted = (ROOT / "reference" / "aics" / "layers_2.py").read_text(encoding="utf-8")
    assert _function_bodies(planted) & reference_bodies and _function_statements(planted) & reference_statements


def _store_keys(data_dir: Path) -> list[str]:
    with np.load(data_dir / "expected.npz", allow_pickle=False) as data:
        return list(data.files)


def test_kit_holds_only_the_public_cases(data21):
    source = load_spec("aics-exp2-1")
    kit_spec, store, manifest = kitcheck.load_kit(data21)
    kit_checks = {check.id: check for check in kit_spec.checks}
    kept, hidden_count = set(), 0
    for check in source.checks:
        public = [case.name for case in check.cases if case.public]
        hidden_count += sum(not case.public for case in check.cases)
        if check.id not in kit_checks:
            assert check.id in manifest["omitted"], check.id
            continue
        assert [case.name for case in kit_checks[check.id].cases] == public, check.id
        kept |= {(check.id, name) for name in public}
    assert hidden_count >= 10
    for key in _store_keys(data21):
        check_id, case_name, part, _ = key.split("/", 3)
        # "mistake": what catalogued mistakes compute on the case, for the kit's diagnoses (kitcheck.mistake_arrays)
        assert (check_id, case_name) in kept and part in ("in", "out", "mistake"), key
    with np.load(data21 / "expected.npz", allow_pickle=False) as data:
        assert all(data[key].dtype.kind in "biuf" for key in data.files)
    assert "rubric" not in json.loads((data21 / "spec.json").read_text())


def _needles(array: np.ndarray, width: int = 4) -> list[bytes]:
    """Byte patterns of ``width`` consecutive distinct non-integer elements (float64 and float32)."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    for start in range(0, max(flat.size - width + 1, 0)):
        window = flat[start:start + width]
        if np.all(window != np.round(window)) and len(set(window.tolist())) == width:
            return [window.tobytes(), window.astype(np.float32).tobytes()]
    return []


def _case_arrays(spec, public: bool) -> dict[str, np.ndarray]:
    context = RunContext(build_context(spec))
    found = {}
    for check in spec.checks:
        kind = registry.get(check.kind)
        for case in check.cases:
            if case.public != public:
                continue
            arrays = kind.make_inputs(check, case, context)
            outputs = kind.expected(check, case, arrays, context) if kind.needs_reference(check) else {}
            for part, values in (("in", arrays), ("out", outputs)):
                for name, value in values.items():
                    found[f"{check.id}/{case.name}/{part}/{name}"] = np.asarray(value)
    return found


def test_kit_holds_no_hidden_inputs_or_expected_values(kit21):
    """Searches the whole archive's bytes (data and code) for the hidden cases' values."""
    with zipfile.ZipFile(kit21 / "check.pyz") as archive, archive.open("kit/expected.npz") as handle:
        import io
        with np.load(io.BytesIO(handle.read()), allow_pickle=False) as data:
            haystack = b"".join(np.ascontiguousarray(data[key]).tobytes() for key in data.files)
            haystack += b"".join(np.ascontiguousarray(data[key]).astype(np.float64).tobytes() for key in data.files)
    spec = load_spec("aics-exp2-1")
    public = {key: _needles(value) for key, value in _case_arrays(spec, public=True).items()}
    hidden = {key: _needles(value) for key, value in _case_arrays(spec, public=False).items()}
    searchable_public = [key for key, needles in public.items() if needles]
    assert len(searchable_public) >= 10
    assert all(any(needle in haystack for needle in public[key]) for key in searchable_public)
    searchable_hidden = [key for key, needles in hidden.items() if needles]
    assert len(searchable_hidden) >= 15, sorted(hidden)
    assert [key for key in searchable_hidden if any(needle in haystack for needle in hidden[key])] == []


def test_property_checks_become_stored_examples(kit33, tmp_path):
    data_dir = _unpacked(kit33, tmp_path) / "kit"
    kit_spec, store, manifest = kitcheck.load_kit(data_dir)
    assert manifest["property_examples"] == {"conv.forward_raw.property": 8, "pool.backward_raw.property": 8}
    check = kit_spec.check("conv.forward_raw.property")
    assert not check.is_property and len(check.cases) == 8 and all(case.public for case in check.cases)
    assert len({json.dumps(case.params, sort_keys=True) for case in check.cases}) == 8     # distinct examples
    assert len({tuple(case.params["shape"]) for case in check.cases}) >= 4
    assert all(store.expected(check.id, case.name) for case in check.cases)
    assert "style_transfer.run" in manifest["omitted"]      # needs the weights: not in a kit made without them
    speedups = [check for check in kit_spec.checks if check.kind == "aics.speedup"]
    assert len(speedups) == 4 and all(check.options["calibrate"] is False for check in speedups)


def test_kit_sources_parse_as_python_3_9(kit21):
    """The supported minimum: no syntax newer than 3.9 in anything the kit runs."""
    with zipfile.ZipFile(kit21 / "check.pyz") as archive:
        for name in archive.namelist():
            if name.endswith(".py"):
                ast.parse(archive.read(name), filename=name, feature_version=(3, 9))


def test_readme_gives_complete_commands(kit21):
    readme = (kit21 / "README.txt").read_text()
    assert "python3 check.pyz .\n" in readme and "python3 -m pip install numpy" in readme
    assert "python3 path/to/check.pyz path/to/your_exp_folder" in readme
    assert "--kit" not in readme and "harness check" not in readme


# --- running it where only Python and NumPy exist ---------------------------------------------------------


def test_the_venv_has_numpy_and_nothing_else(numpy_only_python, tmp_path):
    probe = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])" % (FORBIDDEN_IMPORTS,)
    completed = subprocess.run([str(numpy_only_python), "-c", "import numpy; " + probe], cwd=tmp_path,
                               env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_readme_command_passes_a_correct_submission(numpy_only_python, kit21, tmp_path):
    """As README.txt says: check.pyz copied beside stu_upload/, `python3 check.pyz .` run there."""
    submission = tmp_path / "exp2-1"
    shutil.copytree(SUBMISSIONS / "aics-exp2-1" / "correct", submission)
    shutil.copy(kit21 / "check.pyz", submission / "check.pyz")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    completed = subprocess.run([str(numpy_only_python), "check.pyz", ".", "--json", "result.json"], cwd=submission,
                               env={**_clean_env(), "TMPDIR": str(temporary)}, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    result = json.loads((submission / "result.json").read_text())
    assert [check["id"] for check in result["checks"]] == json.loads(
        zipfile.ZipFile(kit21 / "check.pyz").read("kit/manifest.json"))["checks"]
    assert {check["status"] for check in result["checks"]} == {"pass"}
    assert result["sandbox"]["isolation"]["mode"] == "process"       # no bubblewrap on a student's machine
    assert list(temporary.iterdir()) == []          # the unpacked kit and the sandbox's scratch are gone


def test_broken_submission_fails_the_kit(numpy_only_python, kit21, tmp_path):
    completed = run_kit(numpy_only_python, kit21, SUBMISSIONS / "aics-exp2-1" / "relu-backward-wrong",
                        "--json", tmp_path / "r.json", cwd=tmp_path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    statuses = {check["id"]: check["status"] for check in json.loads((tmp_path / "r.json").read_text())["checks"]}
    assert statuses["relu.backward"] == "fail"
    assert statuses["relu.backward.gradcheck"] == "fail"       # reference-free: its own forward disagrees
    assert statuses["fc.backward"] == "pass" and statuses["softmax.backward"] == "pass"


def test_style_transfer_kit_where_only_numpy_exists(numpy_only_python, kit33, tmp_path):
    completed = run_kit(numpy_only_python, kit33, SUBMISSIONS / "aics-exp3-3" / "correct-vectorized",
                        "--json", tmp_path / "good.json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    statuses = {check["id"]: check["status"] for check in json.loads((tmp_path / "good.json").read_text())["checks"]}
    assert set(statuses.values()) == {"pass"}, statuses
    assert {"conv.backward_raw.gradcheck", "conv.forward_raw.property", "conv.speedup_forward",
            "pool.speedup_backward"} <= set(statuses)
    completed = run_kit(numpy_only_python, kit33, SUBMISSIONS / "aics-exp3-3" / "missing-bias",
                        "--only", "conv.forward_raw,conv.forward_speedup", "--json", tmp_path / "bad.json",
                        cwd=tmp_path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    statuses = {check["id"]: check["status"] for check in json.loads((tmp_path / "bad.json").read_text())["checks"]}
    assert statuses["conv.forward_raw"] == "fail" and statuses["conv.forward_speedup"] == "fail"


def _kit39_python() -> Path | None:
    """The oldest Python the kit supports, with numpy only (.ci/setup makes .venv-kit39 where pyenv has 3.9)."""
    python = Path(os.environ.get("HARNESS_KIT39_VENV", ROOT / ".venv-kit39")) / "bin" / "python"
    return python if python.is_file() else None


def test_kit_on_python_3_9(kit33, tmp_path):
    python = _kit39_python()
    if python is None:
        pytest.skip("no Python 3.9 venv with numpy here (.ci/setup makes .venv-kit39 where pyenv has 3.9)")
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=60).stdout.strip()
    assert version == "(3, 9)", version
    only = "conv.backward_raw,pool.backward_raw,conv.forward_raw.property,style_loss.backward,adam.update"
    completed = run_kit(python, kit33, SUBMISSIONS / "aics-exp3-3" / "correct-vectorized", "--only", only,
                        "--json", tmp_path / "r.json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    statuses = {check["id"]: check["status"] for check in json.loads((tmp_path / "r.json").read_text())["checks"]}
    assert all(statuses[check_id] == "pass" for check_id in only.split(",")), statuses


def test_python2_era_submission_in_a_kit(numpy_only_python, kit21, tmp_path):
    """Python 2.7-era code (a print statement, integer division) is translated inside the kit too: fissix
    travels with it."""
    with zipfile.ZipFile(kit21 / "check.pyz") as archive:
        assert "fissix/__init__.py" in archive.namelist() and "licences/fissix-LICENSE" in archive.namelist()
    submission = tmp_path / "py2"
    shutil.copytree(SUBMISSIONS / "aics-exp2-1" / "correct", submission)
    source = submission / "stu_upload" / "layers_1.py"
    source.write_text('print "layers_1 loaded"\n' + source.read_text())
    completed = run_kit(numpy_only_python, kit21, submission, "--json", tmp_path / "r.json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert {check["status"] for check in result["checks"]} == {"pass"}, result["checks"]
    assert result.get("semantics", {}).get("python") == "2.7", result.get("semantics")


def test_kit_html_report(numpy_only_python, kit21, tmp_path):
    """--html where jinja2 is installed (a student page: no instructor section); where it is not, one line
    saying what to install, before any check runs."""
    page = tmp_path / "report.html"
    completed = run_kit(Path(sys.executable), kit21, SUBMISSIONS / "aics-exp2-1" / "relu-backward-wrong",
                        "--only", "relu.backward", "--html", page, "--progress", "off", cwd=tmp_path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    text = page.read_text(encoding="utf-8")
    assert "relu.backward" in text and "<details" not in text and "data:image/png;base64," in text
    completed = run_kit(numpy_only_python, kit21, SUBMISSIONS / "aics-exp2-1" / "correct", "--html", page,
                        cwd=tmp_path)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        "check.pyz: error: --html needs jinja2 (python -m pip install jinja2); the console report and --json "
        "work without it"], completed.stderr


def test_old_python_gets_a_plain_message(kit21, tmp_path):
    """A student whose `python` is 2.7 (the course's interpreter until about 2023) is told what to run."""
    from shutil import which
    candidates = [Path(os.popen("pyenv root 2>/dev/null").read().strip() or "/nonexistent") / "versions" / "2.7.18"
                  / "bin" / "python", Path(which("python2.7") or "/nonexistent")]
    python2 = next((path for path in candidates if path.is_file()), None)
    if python2 is None:
        pytest.skip("no Python 2.7 here")
    completed = run_kit(python2, kit21, ".", cwd=tmp_path)
    assert completed.returncode == 2
    assert "needs Python 3.9 or newer" in completed.stderr and "python3 check.pyz" in completed.stderr
    assert "Traceback" not in completed.stderr


# --- a damaged kit is a one-line error (exit 2) ------------------------------------------------------------


@pytest.mark.parametrize("damage", ["no-manifest", "manifest-not-json", "manifest-a-list", "store-not-a-zip",
                                    "store-truncated", "spec-not-utf8", "spec-not-a-spec", "weights-not-an-object",
                                    "store-empty", "store-missing-a-case", "manifest-without-counts"])
def test_damaged_kit_is_one_line_exit_2(data21, tmp_path, capsys, damage):
    kit = tmp_path / "kit"
    shutil.copytree(data21, kit)
    damaged = {
        "no-manifest": lambda: (kit / "manifest.json").unlink(),
        "manifest-not-json": lambda: (kit / "manifest.json").write_text("{not json"),
        "manifest-a-list": lambda: (kit / "manifest.json").write_text("[1, 2]"),
        "store-not-a-zip": lambda: (kit / "expected.npz").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8),
        "store-truncated": lambda: (kit / "expected.npz").write_bytes((data21 / "expected.npz").read_bytes()[:50_000]),
        "spec-not-utf8": lambda: (kit / "spec.json").write_bytes(b'{"lab": "\xff\xfe"}'),
        "spec-not-a-spec": lambda: (kit / "spec.json").write_text('{"lab": "x", "checks": 3}'),
        "weights-not-an-object": lambda: (kit / "manifest.json").write_text(json.dumps(
            {**json.loads((data21 / "manifest.json").read_text()), "weights": "imagenet.mat"})),
        "store-empty": lambda: np.savez(kit / "expected.npz"),
        "store-missing-a-case": lambda: np.savez(kit / "expected.npz", **{
            key: value for key, value in np.load(data21 / "expected.npz").items() if not key.startswith("relu.")}),
        "manifest-without-counts": lambda: (kit / "manifest.json").write_text(json.dumps(
            {key: value for key, value in json.loads((data21 / "manifest.json").read_text()).items()
             if key != "arrays"})),
    }
    damaged[damage]()
    code = kitcheck.main([str(SUBMISSIONS / "aics-exp2-1" / "correct"), "--only", "relu.forward"], kit)
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if not line.startswith("check.pyz: [")]     # progress lines
    assert len(lines) == 1 and lines[0].startswith("check.pyz: error: ") and str(kit) in lines[0], err


def test_a_lab_a_kit_cannot_check_is_one_line_exit_2(capsys, tmp_path):
    """The DLP labs run the course's own runtime files, which a kit does not carry."""
    from harness.spec import available_labs
    if "aics-exp2-2" not in available_labs():
        pytest.skip("no DLP lab here")
    assert cli.main(["kit", "--lab", "aics-exp2-2", "--out", str(tmp_path / "kit")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "a kit would check nothing" in lines[0] and "DLP files" in lines[0], lines
    assert not (tmp_path / "kit" / "check.pyz").exists()


def test_misspelled_check_id_gets_a_suggestion(data21, capsys):
    code = kitcheck.main([str(SUBMISSIONS / "aics-exp2-1" / "correct"), "--only", "relu.backwrd"], data21)
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'relu.backward'" in err and "python check.pyz --list" in err, err
