"""The command line's documented contract (README "Checking one submission", harness/cli.py):

exit 0 when every (selected) check passed, 1 when one did not, 2 when the harness itself could not
run, with exactly one stderr line naming the problem and no traceback unless --debug; --json writes
the documented schema. Runs go through harness.cli.main in-process (aics-exp2-1, restricted with
--only); one subprocess shows `python -m harness labs` works as installed.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.results import STATUSES

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
EXP2_CORRECT = SUBMISSIONS / "aics-exp2-1" / "correct"
EXP2_RELU_WRONG = SUBMISSIONS / "aics-exp2-1" / "relu-backward-wrong"      # expected.yaml: must_fail relu.backward
EXP2_NO_SHIFT = SUBMISSIONS / "aics-exp2-1" / "softmax-no-shift"           # NaN for large logits (hidden case)
EXP3_1 = SUBMISSIONS / "aics-exp3-1" / "correct-vectorized"
SPEC_2_1 = ROOT / "specs" / "aics-exp2-1.yaml"
LABS = ("aics-exp2-1", "aics-exp3-1", "aics-exp3-3")
PROGRESS_LINE = re.compile(r"^harness: \[ *\d+/\d+\] checking \S+$")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def without_progress(err: str) -> str:
    """stderr without the progress lines a check prints when stderr is not a terminal."""
    return "".join(line for line in err.splitlines(keepends=True) if not PROGRESS_LINE.match(line))


def assert_one_line_error(err: str, *needles: str) -> str:
    """Exactly one stderr line, `harness: error: ...`, naming the problem; no traceback."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- exit 0 and 1 ---------------------------------------------------------------------------------


def test_correct_submission_exits_0(capsys):
    code, out, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--only", "relu.backward")
    assert code == 0, out + err
    assert without_progress(err) == ""
    # --only pulls in the dependency; both ran and passed, the rest is reported as skipped
    assert re.search(r"PASS\s+relu\.forward\b", out) and re.search(r"PASS\s+relu\.backward\b", out), out
    assert re.search(r"SKIP\s+fc\.forward\b", out), out


def test_failing_check_exits_1(capsys):
    code, out, err = run(capsys, "check", EXP2_RELU_WRONG, "--lab", "aics-exp2-1", "--only", "relu.backward")
    assert code == 1, out + err
    assert without_progress(err) == ""
    assert re.search(r"FAIL\s+relu\.backward\b", out), out


def test_only_judges_the_selected_checks(capsys):
    """A submission whose relu.backward is wrong still exits 0 when only checks it gets right are selected."""
    code, out, _ = run(capsys, "check", EXP2_RELU_WRONG, "--lab", "aics-exp2-1", "--only", "fc.forward,relu.forward")
    assert code == 0, out
    assert re.search(r"SKIP\s+relu\.backward\b", out), out


def test_labs_lists_every_lab(capsys):
    code, out, err = run(capsys, "labs")
    assert code == 0 and err == ""
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert set(LABS) <= set(listed) and listed == sorted(listed), out


def test_labs_as_a_module_in_a_subprocess():
    completed = subprocess.run([sys.executable, "-m", "harness", "labs"], capture_output=True, text=True,
                               timeout=120, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    for lab in LABS:
        assert re.search(rf"^{re.escape(lab)}\s", completed.stdout, re.M), completed.stdout


# --- exit 2: one line, no traceback -----------------------------------------------------------------


def test_unknown_lab_lists_the_labs(capsys):
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp9-9")
    assert code == 2
    assert_one_line_error(err, "aics-exp9-9", *LABS)


def test_unknown_check_id(capsys):
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--only", "relu.fwd")
    assert code == 2
    assert_one_line_error(err, "relu.fwd")


def test_nonexistent_submission(capsys, tmp_path):
    missing = tmp_path / "no-such-dir"
    code, out, err = run(capsys, "check", missing, "--lab", "aics-exp2-1")
    assert code == 2
    assert_one_line_error(err, str(missing))
    assert out == ""


def test_a_plain_file_is_not_a_submission(capsys, tmp_path):
    not_zip = tmp_path / "layers_1.py"
    not_zip.write_text("x = 1\n")
    code, _, err = run(capsys, "check", not_zip, "--lab", "aics-exp2-1")
    assert code == 2
    assert_one_line_error(err, str(not_zip), ".zip")


def _damaged_zips(tmp_path: Path) -> dict[str, Path]:
    source = (EXP2_CORRECT / "stu_upload" / "layers_1.py").read_bytes()
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("stu_upload/layers_1.py", source)
    data = bytearray(stored.read_bytes())
    at = data.index(b"class ReLULayer")
    data[at:at + 5] = b"XXXXX"                   # the CRC no longer matches
    bad_crc = tmp_path / "bad-crc.zip"
    bad_crc.write_bytes(bytes(data))
    deflated = tmp_path / "deflated.zip"
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("stu_upload/layers_1.py", source)
    data = bytearray(deflated.read_bytes())
    data[60:80] = b"\xff" * 20                   # the deflate stream is garbage, the central directory intact
    bad_deflate = tmp_path / "bad-deflate.zip"
    bad_deflate.write_bytes(bytes(data))
    return {"crc": bad_crc, "deflate": bad_deflate}


@pytest.mark.parametrize("damage", ["crc", "deflate"])
def test_damaged_zip_is_an_unreadable_file(capsys, tmp_path, damage):
    archive = _damaged_zips(tmp_path)[damage]
    assert zipfile.is_zipfile(archive)           # it passes the harness's first test, then fails to unpack
    code, _, err = run(capsys, "check", archive, "--lab", "aics-exp2-1", "--only", "relu.forward")
    assert code == 2
    assert_one_line_error(err, str(archive))


def _spec_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """specs/aics-exp2-1.yaml with the first ``old`` replaced; the 1-based line of the change."""
    text = SPEC_2_1.read_text()
    assert old in text
    at = text.index(old)
    path = tmp_path / "lab.yaml"
    path.write_text(text[:at] + new + text[at + len(old):])
    return path, text.count("\n", 0, at) + 1


def test_malformed_spec_yaml(capsys, tmp_path):
    path, line = _spec_copy(tmp_path, "  files: [layers_1.py]", "  files: [layers_1.py")
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", path)
    assert code == 2
    message = assert_one_line_error(err, "invalid YAML")
    match = re.search(rf"{re.escape(str(path))}:(\d+): ", message)
    assert match, message
    assert line <= int(match.group(1)) <= line + 2, message     # the parser notices within a line or two


def test_spec_with_unknown_key(capsys, tmp_path):
    path, line = _spec_copy(tmp_path, "    points: 15\n", "    points: 15\n    pionts: 3\n")
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", path)
    assert code == 2
    assert_one_line_error(err, f"{path}:{line + 1}: checks[0].pionts: unknown key 'pionts'")


def test_spec_with_wrong_type(capsys, tmp_path):
    path, line = _spec_copy(tmp_path, "    points: 20\n", "    points: twenty\n")
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", path)
    assert code == 2
    message = assert_one_line_error(err, f"{path}:{line}: checks[1].points: ")
    assert "twenty" in message and "number" in message, message


def test_spec_that_is_not_utf8(capsys, tmp_path):
    path = tmp_path / "lab.yaml"
    text = SPEC_2_1.read_bytes()
    at = text.index(b"title:")
    path.write_bytes(text[:at] + b"\xff\xfe" + text[at:])
    line = text.count(b"\n", 0, at) + 1
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", path)
    assert code == 2
    assert_one_line_error(err, f"{path}:{line}: ", "UTF-8")


def test_debug_shows_the_exception_and_keeps_the_exit_status(capsys):
    code = cli.main(["--debug", "check", str(EXP2_CORRECT), "--lab", "aics-exp9-9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback (most recent call last)" in err and "SpecError" in err and "aics-exp9-9" in err
    assert err.rstrip().splitlines()[-1].startswith("harness: error: ")


def test_debug_shows_the_exception_of_a_bad_spec(tmp_path, capsys):
    path, _ = _spec_copy(tmp_path, "    points: 20\n", "    points: twenty\n")
    assert cli.main(["--debug", "check", str(EXP2_CORRECT), "--lab", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "twenty" in err


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.api, "check", interrupted)
    assert cli.main(["check", str(EXP2_CORRECT), "--lab", "aics-exp2-1"]) == 130
    assert capsys.readouterr().err == "harness: interrupted\n"


# Corrupt resources of aics-exp3-1. --only vgg19.pool5 also runs conv.forward and pool.forward (its
# dependencies, about a second); the bad file is read when vgg19.pool5 computes its inputs.


def _corrupt_weights(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.mat"
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    else:                                         # a readable .mat that is not the MatConvNet VGG19
        import scipy.io
        scipy.io.savemat(path, {"x": np.arange(3)})
    return path


# conv.forward does not read the weights or the image: a damaged file given explicitly still stops the run
@pytest.mark.parametrize("only", ["vgg19.pool5", "conv.forward"])
@pytest.mark.parametrize("kind", ["random", "empty", "other-mat"])
def test_corrupt_weights(capsys, tmp_path, kind, only):
    weights = _corrupt_weights(tmp_path, kind)
    code, _, err = run(capsys, "check", EXP3_1, "--lab", "aics-exp3-1", "--weights", weights, "--only", only)
    assert code == 2
    assert_one_line_error(err, str(weights), "VGG19 weights")


def test_missing_weights_file(capsys, tmp_path):
    weights = tmp_path / "imagenet-vgg-verydeep-19.mat"
    code, _, err = run(capsys, "check", EXP3_1, "--lab", "aics-exp3-1", "--weights", weights, "--only", "vgg19.pool5")
    assert code == 2
    assert_one_line_error(err, str(weights))


@pytest.mark.parametrize("only", ["vgg19.pool5", "conv.forward"])
@pytest.mark.parametrize("kind", ["random", "truncated-jpeg"])
def test_corrupt_image(capsys, tmp_path, kind, only):
    image = tmp_path / "cat1.jpg"
    if kind == "random":
        image.write_bytes(np.random.default_rng(1).bytes(4096))
    else:
        from reference.vgg19 import preprocess
        data = preprocess.shipped_image("sample").read_bytes()
        image.write_bytes(data[: len(data) // 3])
    code, _, err = run(capsys, "check", EXP3_1, "--lab", "aics-exp3-1", "--image", image, "--only", only)
    assert code == 2
    assert_one_line_error(err, str(image), "image")


def test_weights_for_a_lab_without_weights(capsys, tmp_path):
    weights = _corrupt_weights(tmp_path, "empty")
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--weights", weights)
    assert code == 2
    assert_one_line_error(err, "aics-exp2-1", "--weights")


# --- a submission without the lab's files is a failed check, not a harness error --------------------


def test_directory_without_the_labs_files_fails_its_checks(capsys, tmp_path):
    (tmp_path / "stu_upload").mkdir()
    (tmp_path / "stu_upload" / "mnist_mlp_cpu.py").write_text("print('hello')\n")
    json_path = tmp_path / "result.json"
    code, out, err = run(capsys, "check", tmp_path, "--lab", "aics-exp2-1", "--json", json_path)
    assert code == 1, out + err
    assert without_progress(err) == ""
    assert "layers_1.py is missing from the submission" in out
    checks = json.loads(json_path.read_text())["checks"]
    independent = [check for check in checks if check["id"] in ("fc.forward", "relu.forward", "softmax.forward")]
    assert independent and all(check["status"] == "error" for check in independent), independent
    assert all("layers_1.py is missing" in check["message"] for check in independent)
    assert all(check["status"] in ("error", "skip") for check in checks)
    assert json.loads(json_path.read_text())["score"] == 0


def test_misnamed_file_gets_a_hint(capsys, tmp_path):
    (tmp_path / "stu_upload").mkdir()
    shutil.copy(EXP2_CORRECT / "stu_upload" / "layers_1.py", tmp_path / "stu_upload" / "layer_1.py")
    code, out, _ = run(capsys, "check", tmp_path, "--lab", "aics-exp2-1", "--only", "relu.forward")
    assert code == 1
    assert "layers_1.py is missing from the submission" in out, out
    assert "found layer_1.py: the course's file name is layers_1.py" in out, out


# --- --json ------------------------------------------------------------------------------------------


def _no_nan(token):
    raise AssertionError(f"{token} in the JSON output: not valid JSON for other tools")


def test_statuses_are_the_documented_ones():
    assert STATUSES == ("pass", "fail", "error", "timeout", "skip")


def test_json_schema(capsys, tmp_path):
    """softmax-no-shift: relu.forward passes, softmax.forward fails (NaN output), the rest is skipped."""
    json_path = tmp_path / "out" / "result.json"
    code, _, _ = run(capsys, "check", EXP2_NO_SHIFT, "--lab", "aics-exp2-1", "--only", "relu.forward",
                     "--only", "softmax.forward", "--json", json_path)
    assert code == 1
    data = json.loads(json_path.read_text(), parse_constant=_no_nan)
    assert {"lab", "submission", "score", "max_score", "level", "checks"} <= set(data)
    assert data["lab"] == "aics-exp2-1"
    assert data["submission"] == str(EXP2_NO_SHIFT)
    assert isinstance(data["score"], (int, float)) and isinstance(data["max_score"], (int, float))
    assert data["max_score"] == 100 and data["score"] == 10
    assert data["level"] is None or isinstance(data["level"], int)
    ids = [check["id"] for check in data["checks"]]
    assert ids[:3] == ["fc.forward", "fc.backward", "fc.update"] and len(ids) == len(set(ids)) == 10
    for check in data["checks"]:
        assert {"id", "status", "points", "max_points", "message", "metrics"} <= set(check), check
        assert check["status"] in STATUSES
        assert isinstance(check["message"], str) and isinstance(check["metrics"], dict)
        assert 0 <= check["points"] <= check["max_points"]
        assert check["points"] == (check["max_points"] if check["status"] == "pass" else 0)
        if check["status"] != "pass":
            assert check["message"], check
    status = {check["id"]: check["status"] for check in data["checks"]}
    assert status["relu.forward"] == "pass" and status["softmax.forward"] == "fail"
    assert {value for key, value in status.items() if key not in ("relu.forward", "softmax.forward")} == {"skip"}
    assert math.isclose(data["score"], sum(check["points"] for check in data["checks"]))


@pytest.mark.parametrize("argv, words", [
    (["check", "somewhere"], "the following arguments are required: --lab"),
    (["check", "somewhere", "--lab", "aics-exp2-1", "--limit", "no-equals-sign"], "expected KEY=VALUE"),
    (["no-such-command"], "invalid choice"),
])
def test_argument_errors_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("harness: error: ") and words in error


# --- the command line itself: version, --debug anywhere, help, labs LAB, --only, progress ---------------


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0
    from harness import __version__
    assert capsys.readouterr().out.startswith(f"harness {__version__} ")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_in_any_position(where, capsys):
    argv = ["check", str(EXP2_CORRECT), "--lab", "aics-exp9-9"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    assert cli.main(argv) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def _parsers():
    parser = cli._parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return [("harness", parser)] + list(commands.choices.items())


def test_every_option_has_help_stating_its_default():
    missing = []
    for name, parser in _parsers():
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            text = action.help or ""
            if not text or (action.option_strings and "default" not in text and "required" not in text):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert missing == []
    assert {"check", "grade", "labs", "kit"} <= {name for name, _ in _parsers()}


def test_labs_lab_lists_checks_with_ids_points_and_tiers(capsys):
    code, out, err = run(capsys, "labs", "aics-exp3-1")
    assert code == 0 and err == ""
    from harness.spec import load_spec
    spec = load_spec("aics-exp3-1")
    for check in spec.checks:
        row = next(line for line in out.splitlines() if line.split()[:1] == [check.id])
        assert f" {check.points:g} " in row, row
        tiers = [str(tier.level) for tier in spec.tiers if check.id in tier.requires]
        assert (",".join(tiers) or "-") in row.split(), row
    assert "tiers (level): 60" in out and "80" in out and "100" in out


@pytest.mark.parametrize("form", [["--only", "relu.forward,softmax.forward"],
                                  ["--only", "relu.forward", "--only", "softmax.forward"],
                                  ["--only", "relu.forward, softmax.forward"]])
def test_only_forms(capsys, form):
    code, out, _ = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", *form)
    assert code == 0, out
    assert re.search(r"PASS\s+relu\.forward\b", out) and re.search(r"PASS\s+softmax\.forward\b", out), out
    assert re.search(r"SKIP\s+fc\.forward\b", out), out


@pytest.mark.parametrize("argv", [
    ["check", "--lab", "aics-exp2-1", "--only", "relu.forward", "softmax.forward", "SUBMISSION"],
    ["check", "SUBMISSION", "--lab", "aics-exp2-1", "--only", "relu.forward", "softmax.forward"],
])
def test_only_never_swallows_the_path(capsys, argv):
    argv = [str(EXP2_CORRECT) if part == "SUBMISSION" else part for part in argv]
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert_one_line_error(capsys.readouterr().err, "--only a,b")


def test_misspelled_check_id_gets_a_suggestion(capsys):
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--only", "softmax.bakward")
    assert code == 2
    assert_one_line_error(err, "'softmax.bakward'", "did you mean 'softmax.backward'", "harness labs aics-exp2-1")


def test_progress_is_plain_lines_off_a_terminal(capsys):
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--only", "relu.backward")
    assert code == 0
    assert err.splitlines() == ["harness: [1/2] checking relu.forward", "harness: [2/2] checking relu.backward"]
    code, _, err = run(capsys, "check", EXP2_CORRECT, "--lab", "aics-exp2-1", "--only", "relu.forward",
                       "--progress", "off")
    assert code == 0 and err == ""


def test_progress_is_a_live_line_on_a_terminal():
    """The running check and its time, rewritten in place while it runs, erased when it ends."""
    import io
    import time
    from types import SimpleNamespace

    from harness.progress import TICK_SECONDS, live_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    check = SimpleNamespace(id="conv.speedup_forward")
    with live_progress(terminal, ids=["conv.forward_raw", "conv.speedup_forward"]) as progress:
        progress(check, None)
        time.sleep(TICK_SECONDS * 3.5)
        progress(check, object())
    text = terminal.getvalue()
    frames = [frame for frame in text.split("\r\x1b[2K") if frame]
    assert len(frames) >= 3 and all(frame.startswith("[2/2] conv.speedup_forward") for frame in frames), frames
    seconds = [float(frame.split()[-2]) for frame in frames]
    assert seconds == sorted(seconds) and seconds[-1] >= TICK_SECONDS * 3
    assert text.endswith("\r\x1b[2K") and "\n" not in text


def test_a_misspelled_lab_or_spec_key_gets_a_suggestion(capsys, tmp_path):
    assert cli.main(["check", str(EXP2_CORRECT), "--lab", "aics-exp21"]) == 2
    assert "did you mean 'aics-exp2-1'?" in capsys.readouterr().err
    path, _ = _spec_copy(tmp_path, "public: true", "pubic: true")
    assert cli.main(["check", str(EXP2_CORRECT), "--lab", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'pubic' (did you mean 'public'?" in err and "seed" in err


def test_grade_names_a_missing_or_empty_class_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", str(tmp_path / "missing"), "--lab", "aics-exp2-1", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"harness: error: {tmp_path / 'missing'}: no such file or directory\n"
    assert cli.main(["grade", str(tmp_path / "empty"), "--lab", "aics-exp2-1", "--out", str(tmp_path / "o")]) == 2
    assert "empty, nothing to grade" in capsys.readouterr().err
