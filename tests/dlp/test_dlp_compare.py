"""`harness dlp compare`: skipped without a DLP, run on the emulation with --emulate (as CI here runs it),
and a regression is exit 1; `harness dlp calibrate` writes the course's npz format."""
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from harness import cli
from harness.dlp import compare, mlp, quant
from harness.dlp.provide import installed
from harness.spec import load_spec

no_board = pytest.mark.skipif(installed("pycnml") or installed("pycnnl"), reason="a DLP library is installed here")


def _cases(path):
    suite = ElementTree.parse(path).getroot().find("testsuite")
    return suite, {case.get("name"): case for case in suite.iter("testcase")}


@no_board
def test_without_a_board_it_says_so_and_exits_skipped(tmp_path, capsys):
    junit = tmp_path / "dlp.xml"
    assert cli.main(["dlp", "compare", "--junit", str(junit)]) == compare.EXIT_SKIPPED == 77
    assert "no DLP is present" in capsys.readouterr().out
    suite, cases = _cases(junit)
    assert suite.get("skipped") == suite.get("tests") == "4" and suite.get("failures") == "0"
    assert all(case.find("skipped") is not None for case in cases.values())


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    junit = tmp_path_factory.mktemp("compare") / "dlp.xml"
    return cli.main(["dlp", "compare", "--emulate", "--junit", str(junit)]), junit


def test_the_emulation_passes_the_measured_bounds(emulated):
    status, junit = emulated
    suite, cases = _cases(junit)
    assert status == 0, ElementTree.tostring(suite).decode()[:3000]
    assert set(cases) == {"pool5", "softmax", "top1", "top5"} and suite.get("failures") == "0"
    properties = {item.get("name"): item.get("value") for item in suite.iter("property")}
    assert "emulated" in properties["backend"] and properties["api"] == "pycnml"


def test_a_softmax_beyond_the_bound_is_a_regression():
    check = load_spec(compare.LAB).check("dlp.vgg19.softmax")
    expected = np.full((1, 1000), 0.5 / 999)
    expected[0, 830] = 0.5
    moved = expected.copy()
    moved[0, 830], moved[0, 7] = 0.3, 0.2 + 0.5 / 999           # |0.2| > 0.35 x 0.5: out of bounds, class kept
    outcomes = {outcome.name: outcome for outcome in compare._softmax_outcomes(expected, moved, check, "float16", 0.0)}
    assert not outcomes["softmax"].passed and outcomes["top1"].passed
    swapped = expected.copy()
    swapped[0, 830], swapped[0, 7] = 0.0, 0.5
    outcomes = {outcome.name: outcome for outcome in compare._softmax_outcomes(expected, swapped, check, "float16", 0.0)}
    assert not outcomes["top1"].passed and not outcomes["top5"].passed
    report = compare.Report("pycnml", "emulated", outcomes=list(outcomes.values()))
    assert report.exit_status == compare.EXIT_REGRESSION == 1 and "REGRESSION" in report.summary()


def test_pool5_is_judged_other_layers_reported():
    check = load_spec(compare.LAB).check("dlp.vgg19.softmax")
    reference = np.linspace(0, 10, 512 * 49).reshape(1, 512, 7, 7)
    assert not compare._layer_outcome("pool5", reference, reference + 7.0, check, "float16", 0.0).passed
    informational = compare._layer_outcome("pool1", reference, reference + 7.0, check, "float16", 0.0)
    assert informational.passed and not informational.judged


def test_calibrate_writes_the_course_format_for_mlp_weights(tmp_path, capsys):
    weights = mlp.synthetic_weights(32, 16, seed=3)
    mlp.write_weights(weights, tmp_path / "weight.npy")
    images = mlp.digit_images(64, seed=4)
    np.save(tmp_path / "images.npy", images)
    out = tmp_path / "mnist_mlp_quant_param.npz"
    assert cli.main(["dlp", "calibrate", "--weights", str(tmp_path / "weight.npy"), "--images",
                     str(tmp_path / "images.npy"), "--out", str(out)]) == 0
    assert "3 input and filter" in capsys.readouterr().out
    with np.load(out) as data:
        assert sorted(data.files) == ["filter", "input"] and data["input"].dtype == np.float64
        assert data["input"].shape == data["filter"].shape == (6,)
        assert data["input"][:2].tolist() == [2.0, pytest.approx(127 * 4 / images.max(), abs=1e-6)]
    assert quant.load_npz(out, layers=3) == quant.calibrate_mlp(weights, images)


@pytest.mark.parametrize("arguments,message", [
    (["--weights", "missing.mat"], "no such VGG19 weights file"),
    (["--weights", "weight.npy"], "not exp 2-1's weight file"),
])
def test_calibrate_refuses_unusable_files_in_one_line(tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weight.npy").write_bytes(b"not numpy")
    assert cli.main(["dlp", "calibrate", *arguments, "--out", "q.npz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_quantization_files_round_trip_and_bad_ones_are_named(tmp_path):
    table = quant.QuantTable(((1, 1.6814398765563965), (3, 1.25)), ((-7, 1.5), (-9, float(np.float32(1.01)))))
    assert quant.load_npz(quant.save_npz(table, tmp_path / "q.npz")) == table       # scales are float32
    np.savez(tmp_path / "odd.npz", input=np.array([1.0, 1.5, 2.0]), filter=np.array([1.0, 1.5]))
    with pytest.raises(quant.QuantFileError, match="flat array of finite"):
        quant.load_npz(tmp_path / "odd.npz")
    with pytest.raises(quant.QuantFileError, match="the network has 19"):
        quant.load_npz(tmp_path / "q.npz", layers=19)
