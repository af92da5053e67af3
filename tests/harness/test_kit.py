"""The student kit (README "Student kit", harness/kit.py).

A kit holds the public cases with their expected values and the reference-free checks; hidden cases
(their names, inputs and expected values) and reference code are not in it, and `harness check
--kit` works where the reference package cannot be imported at all. The kit checks run in a
subprocess whose PYTHONPATH starts with a fake `reference` package that records the attempt and
raises ImportError.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.adapters import registry
from harness.context import RunContext, build_context
from harness.kit import load_kit
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
KIT_FILES = {"spec.yaml", "expected.npz", "manifest.json", "README.txt"}

FAKE_REFERENCE = """\
import os
import pathlib
pathlib.Path(os.environ["KIT_TEST_REFERENCE_MARKER"]).write_text("reference was imported")
raise ImportError("the reference package is not available here")
"""


@pytest.fixture(scope="module")
def kit21(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit21") / "kit"
    assert cli.main(["kit", "--lab", "aics-exp2-1", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def kit33(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit33") / "kit"
    assert cli.main(["kit", "--lab", "aics-exp3-3", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def no_reference(tmp_path_factory):
    """(env, cwd, marker): an environment in which `import reference` fails and leaves ``marker`` behind."""
    base = tmp_path_factory.mktemp("no-reference")
    fake = base / "site" / "reference"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_REFERENCE)
    marker = base / "reference-imported"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(fake.parent)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["KIT_TEST_REFERENCE_MARKER"] = str(marker)
    cwd = base / "cwd"               # not the repository root, whose reference/ `python -m` would find first
    cwd.mkdir()
    return env, cwd, marker


def harness_without_reference(no_reference, *args) -> subprocess.CompletedProcess:
    env, cwd, marker = no_reference
    marker.unlink(missing_ok=True)
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# --- what the kit holds ----------------------------------------------------------------------------------


def _store_keys(kit_dir: Path) -> list[str]:
    with np.load(kit_dir / "expected.npz", allow_pickle=False) as data:
        return list(data.files)


def assert_only_public_cases(lab: str, kit_dir: Path) -> int:
    """Every kit check holds exactly its public cases, the store exactly their arrays; returns the hidden count."""
    source = load_spec(lab)
    kit_spec, store, manifest = load_kit(kit_dir)
    kit_checks = {check.id: check for check in kit_spec.checks}
    kept_cases = set()
    hidden_count = 0
    for check in source.checks:
        public = [case.name for case in check.cases if case.public]
        hidden = [case.name for case in check.cases if not case.public]
        hidden_count += len(hidden)
        if check.id not in kit_checks:
            assert check.id in manifest["omitted"], check.id
            continue
        kit_cases = [case.name for case in kit_checks[check.id].cases]
        assert kit_cases == public, (check.id, kit_cases, public)
        assert all(case.public for case in kit_checks[check.id].cases)
        kept_cases |= {(check.id, name) for name in kit_cases}
        for name in hidden:
            assert not [key for key in store.arrays if key.startswith(f"{check.id}/{name}/")], (check.id, name)
    for key in _store_keys(kit_dir):
        check_id, case_name, part, _ = key.split("/", 3)
        assert (check_id, case_name) in kept_cases and part in ("in", "out"), key
    assert "rubric" not in (kit_dir / "spec.yaml").read_text()     # the level is the instructor's to give
    return hidden_count


def test_kit_holds_only_the_public_cases(kit21):
    assert assert_only_public_cases("aics-exp2-1", kit21) >= 10
    assert json.loads((kit21 / "manifest.json").read_text())["omitted"] == {}


def test_kit_holds_data_and_no_code(kit21):
    assert {path.name for path in kit21.rglob("*")} == KIT_FILES
    with zipfile.ZipFile(kit21 / "expected.npz") as bundle:
        assert all(name.endswith(".npy") for name in bundle.namelist())
    with np.load(kit21 / "expected.npz", allow_pickle=False) as data:
        assert all(data[key].dtype.kind in "biuf" for key in data.files)
    kit_text = "\n".join((kit21 / name).read_text() for name in KIT_FILES - {"expected.npz"})
    reference_files = sorted((ROOT / "reference").rglob("*.py"))
    assert reference_files
    for path in reference_files:
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("#", '"""')):
                assert line not in kit_text, (path, line)


def _needles(array: np.ndarray, width: int = 4) -> list[bytes]:
    """Byte patterns of ``width`` consecutive distinct non-zero non-integer elements (float64 and float32)."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    for start in range(0, max(flat.size - width + 1, 0)):
        window = flat[start:start + width]
        if np.all(window != np.round(window)) and len(set(window.tolist())) == width:
            return [window.tobytes(), window.astype(np.float32).tobytes()]
    return []


def _case_arrays(spec, public: bool) -> dict[str, np.ndarray]:
    """Inputs and expected values of the spec's public or hidden cases, computed here with the reference."""
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
    with np.load(kit21 / "expected.npz", allow_pickle=False) as data:
        haystack = b"".join(np.ascontiguousarray(data[key]).tobytes() for key in data.files)
        haystack += b"".join(np.ascontiguousarray(data[key]).astype(np.float64).tobytes() for key in data.files)
    spec = load_spec("aics-exp2-1")
    public = {key: _needles(value) for key, value in _case_arrays(spec, public=True).items()}
    hidden = {key: _needles(value) for key, value in _case_arrays(spec, public=False).items()}
    # the search works: the public cases' arrays are found ...
    searchable_public = [key for key, needles in public.items() if needles]
    assert len(searchable_public) >= 10
    assert all(any(needle in haystack for needle in public[key]) for key in searchable_public)
    # ... and none of the hidden ones
    searchable_hidden = [key for key, needles in hidden.items() if needles]
    assert len(searchable_hidden) >= 15, sorted(hidden)
    leaked = [key for key in searchable_hidden if any(needle in haystack for needle in hidden[key])]
    assert leaked == []


# --- checking against the kit without the reference ------------------------------------------------------


def test_without_reference_a_lab_check_cannot_run(no_reference):
    """The control: in this environment the normal (non-kit) check does need the reference, and fails."""
    completed = harness_without_reference(no_reference, "check", SUBMISSIONS / "aics-exp2-1" / "correct",
                                          "--lab", "aics-exp2-1", "--only", "relu.forward")
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "reference" in completed.stderr
    assert no_reference[2].exists()


def _kit_run(no_reference, kit_dir: Path, submission: Path, tmp_path: Path, *extra) -> tuple[int, dict]:
    json_path = tmp_path / "result.json"
    completed = harness_without_reference(no_reference, "check", submission, "--kit", kit_dir,
                                          "--json", json_path, *extra)
    assert not no_reference[2].exists(), "kit mode imported the reference package"
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    statuses = {check["id"]: check["status"] for check in json.loads(json_path.read_text())["checks"]}
    return completed.returncode, statuses


def test_correct_submission_passes_the_kit_without_reference(no_reference, kit21, tmp_path):
    code, statuses = _kit_run(no_reference, kit21, SUBMISSIONS / "aics-exp2-1" / "correct", tmp_path)
    assert code == 0
    kit_ids = [check.id for check in load_kit(kit21)[0].checks]
    assert list(statuses) == kit_ids and len(kit_ids) == 10
    assert set(statuses.values()) == {"pass"}, statuses


def test_broken_submission_fails_the_kit_without_reference(no_reference, kit21, tmp_path):
    code, statuses = _kit_run(no_reference, kit21, SUBMISSIONS / "aics-exp2-1" / "relu-backward-wrong", tmp_path)
    assert code == 1
    assert statuses["relu.backward"] == "fail"
    assert statuses["relu.backward.gradcheck"] == "fail"        # reference-free: its own forward disagrees
    assert statuses["fc.backward"] == "pass" and statuses["softmax.backward"] == "pass"


def test_style_transfer_kit_holds_only_public_cases(kit33):
    assert assert_only_public_cases("aics-exp3-3", kit33) >= 10
    omitted = json.loads((kit33 / "manifest.json").read_text())["omitted"]
    assert "style_transfer.run" in omitted          # needs the weights: not in a kit built without --weights
    kit_spec, _, _ = load_kit(kit33)
    speedups = [check for check in kit_spec.checks if check.kind == "aics.speedup"]
    assert len(speedups) == 4 and all(check.options["calibrate"] is False for check in speedups)
    assert {path.name for path in kit33.rglob("*")} == KIT_FILES


def test_style_transfer_kit_without_reference(no_reference, kit33, tmp_path):
    code, statuses = _kit_run(no_reference, kit33, SUBMISSIONS / "aics-exp3-3" / "correct-vectorized", tmp_path)
    assert code == 0
    assert set(statuses.values()) == {"pass"}, statuses
    assert "conv.backward_raw.gradcheck" in statuses
    # speedup ratios against the absolute threshold: the reference's own timing is not in a kit
    assert {"conv.speedup_forward", "conv.speedup_backward", "pool.speedup_forward", "pool.speedup_backward"} <= set(statuses)
    code, statuses = _kit_run(no_reference, kit33, SUBMISSIONS / "aics-exp3-3" / "missing-bias", tmp_path,
                              "--only", "conv.forward_raw", "conv.forward_speedup")
    assert code == 1
    assert statuses["conv.forward_raw"] == "fail" and statuses["conv.forward_speedup"] == "fail"


# --- a damaged kit is a harness error -------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["no-manifest", "manifest-not-json", "manifest-a-list", "store-not-a-zip",
                                    "store-truncated", "spec-not-utf8", "weights-not-an-object", "store-empty"])
def test_damaged_kit_is_one_line_exit_2(kit21, tmp_path, capsys, damage):
    import shutil
    kit = tmp_path / "kit"
    shutil.copytree(kit21, kit)
    damaged = {
        "no-manifest": lambda: (kit / "manifest.json").unlink(),
        "manifest-not-json": lambda: (kit / "manifest.json").write_text("{not json"),
        "manifest-a-list": lambda: (kit / "manifest.json").write_text("[1, 2]"),
        "store-not-a-zip": lambda: (kit / "expected.npz").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8),
        "store-truncated": lambda: (kit / "expected.npz").write_bytes((kit21 / "expected.npz").read_bytes()[:50_000]),
        "spec-not-utf8": lambda: (kit / "spec.yaml").write_bytes(b"lab: \xff\xfe\n"),
        "weights-not-an-object": lambda: (kit / "manifest.json").write_text(json.dumps(
            {**json.loads((kit21 / "manifest.json").read_text()), "weights": "imagenet.mat"})),
        "store-empty": lambda: np.savez(kit / "expected.npz"),
    }
    damaged[damage]()
    code = cli.main(["check", str(SUBMISSIONS / "aics-exp2-1" / "correct"), "--kit", str(kit), "--only", "relu.forward"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: ") and str(kit) in lines[0], err
