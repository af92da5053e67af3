"""The DLP check kinds through the harness: the pycnnl variant of exp 2-2 (a spec option), and the forward-time
check telling a forward() that skips the network, or runs it twice, from one that runs it once."""
import shutil
from pathlib import Path

import pytest
import yaml

from harness import api
from harness.context import build_context
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-2" / "correct"
PYCNNL = Path(__file__).resolve().parent / "fixtures" / "pycnnl-mlp"


def _spec_file(tmp_path: Path, **options) -> Path:
    """aics-exp2-2 with the given options on every check (e.g. api: pycnnl)."""
    data = yaml.safe_load((ROOT / "specs" / "aics-exp2-2.yaml").read_text())
    for check in data["checks"]:
        check["options"] = {**check["options"], **options}
    path = tmp_path / "aics-exp2-2-variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab():
    return build_context(load_spec("aics-exp2-2"))


def test_the_2024_pycnnl_lab_is_a_spec_option(tmp_path):
    spec = load_spec(_spec_file(tmp_path, api="pycnnl"))
    result = api.check(PYCNNL, context=build_context(spec))
    assert {check.id: check.status for check in result.checks} == {
        "dlp.mlp.softmax": "pass", "dlp.mlp.labels": "pass", "dlp.forward_time": "pass"}, \
        [(check.id, check.message) for check in result.checks]
    softmax = result.check("dlp.mlp.softmax").cases[0].metrics["softmax"]
    assert softmax["tolerance_dtype"] == "float32" and softmax["max_abs_error"] < 1e-5
    assert "pycnnl emulated" in result.resources["dlp"]["backend"]


def test_a_pycnml_submission_fails_under_the_pycnnl_option(tmp_path):
    spec = load_spec(_spec_file(tmp_path, api="pycnnl"))
    result = api.check(CORRECT, context=build_context(spec), only=["dlp.mlp.softmax"])
    assert result.check("dlp.mlp.softmax").status == "error"          # CnmlNet's quantized layers: no pycnnl


def _variant(tmp_path: Path, forward: str) -> Path:
    target = tmp_path / "submission"
    shutil.copytree(CORRECT, target)
    demo = target / "stu_upload" / "mnist_mlp_demo.py"
    old = "    def forward(self):\n        return self.net.forward()\n"
    assert old in demo.read_text()
    demo.write_text(demo.read_text().replace(old, forward))
    return target


@pytest.mark.parametrize("forward,message", [
    ("    def forward(self):\n"
     "        if getattr(self, 'ran', False):\n"
     "            return None\n"
     "        self.ran = True\n"
     "        return self.net.forward()\n", "does not run the network on each call"),
    ("    def forward(self):\n"
     "        self.net.forward()\n"
     "        return self.net.forward()\n", "does more than run the network once"),
])
def test_forward_time_rejects_a_forward_that_skips_or_repeats_the_network(tmp_path, lab, forward, message):
    result = api.check(_variant(tmp_path, forward), context=lab)
    assert result.check("dlp.mlp.softmax").status == "pass"      # the first forward's output is right
    timing = result.check("dlp.forward_time")
    assert timing.status == "fail" and message in timing.message, timing.message
