"""The sandboxed child gets pycnml / pycnnl from the parent when none is installed, and never the submission's own."""
import textwrap

import numpy as np
import pytest

from harness.dlp.provide import ALIASES, installed, provide_step
from harness.sandbox import Limits, SandboxConfig, Session

DEMO = """
import pycnml
import pycnnl


def run(data):
    net = pycnml.CnmlNet(16)
    net.setInputShape(1, 2, 1, 1)
    net.createMlpLayer('fc', 2, pycnml.QuantParam(0, 1.0))
    net.createSoftmaxLayer('softmax', 1)
    net.loadParams(0, [1.0, 0.0, 0.0, 1.0], [0.0, 0.0], pycnml.QuantParam(-6, 1.0))
    net.setInputData(data.tolist())
    net.forward()
    return net.getOutputData()


def modules():
    return [pycnml.__name__, pycnnl.__name__]
"""
FAKE = "def CnmlNet(*args):\n    raise SystemExit('the submission shipped its own pycnml')\n"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    package = tmp_path_factory.mktemp("dlp") / "stu_upload"
    package.mkdir()
    (package / "demo.py").write_text(textwrap.dedent(DEMO))
    (package / "pycnml.py").write_text(FAKE)            # a fake pycnml among the submission's files
    with Session(SandboxConfig(submission_dir=package, limits=Limits(wall_time=60.0))) as opened:
        yield opened


def _program(*steps, outputs=()):
    return {"steps": [provide_step(), {"import": "demo", "as": "demo"}, *steps],
            "outputs": ["dlp_emulated", *outputs]}


@pytest.mark.skipif(any(installed(api) for api in ALIASES), reason="a real pycnml / pycnnl is installed here")
def test_the_child_imports_the_emulations_and_says_so(session):
    reply = session.run(_program({"call": "demo.run", "args": [{"ref": "x"}], "as": "out"},
                                 {"call": "demo.modules", "as": "names"}, outputs=("out",)),
                        {"x": np.array([2.0, 1.0])}, timeout=60)
    assert reply.status == "ok", (reply.error, reply.stderr)
    assert reply.values["dlp_emulated"].tolist() == [1, 1]
    expected = np.exp([2.0, 1.0]) / np.exp([2.0, 1.0]).sum()
    assert np.allclose(reply.values["out"], expected, atol=2e-3)


def test_a_second_request_keeps_the_provided_modules(session):
    for _ in range(2):
        reply = session.run(_program(), {}, timeout=60, fresh=True)
        assert reply.status == "ok", (reply.error, reply.stderr)
        assert reply.values["dlp_emulated"].shape == (len(ALIASES),)
