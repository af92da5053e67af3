"""Every example submission gets the verdict submissions/expected.yaml promises, through the real harness.

The plain-loop VGG19 of aics-exp3-1/correct-plain takes minutes for one forward pass; its VGG19 checks
are graded by the README's main command, not here (its layer checks are). An entry with ``run: listed``
is checked on the checks it lists (and those they depend on) only: the rest of its lab is the correct
submission's, graded in full by its own entry.
"""
from pathlib import Path

import pytest
import yaml

from harness import api
from harness.context import build_context
from harness.spec import load_spec
from reference.mistakes import MISTAKES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "submissions" / "expected.yaml").read_text())
SLOW_VGG = {"aics-exp3-1/correct-plain"}
SUMMARIES = {mistake.id: mistake for mistake in MISTAKES}
NOT_PASSED = ("fail", "error", "timeout", "skip")


@pytest.fixture(scope="module")
def contexts():
    return {lab: build_context(load_spec(lab)) for lab in sorted({entry["lab"] for entry in MANIFEST.values()})}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_expected_verdict(name, contexts):
    expected = MANIFEST[name]
    spec = load_spec(expected["lab"])
    only = None
    if name in SLOW_VGG:
        only = [check.id for check in spec.checks if not check.id.startswith("vgg19.")]
    if expected.get("run") == "listed":
        only = list(expected["must_fail"]) + list(expected["must_pass"])
    result = api.check(ROOT / "submissions" / name, context=contexts[expected["lab"]], only=only)
    status = {check.id: check.status for check in result.checks}
    messages = {check.id: f"{check.message} {check.diagnosis}" for check in result.checks}
    for check_id in expected["must_fail"]:
        assert status[check_id] in NOT_PASSED and status[check_id] != "skip", (check_id, status[check_id])
    for check_id in expected["must_pass"]:
        if only is None or check_id in only:
            assert status[check_id] == "pass", (check_id, status[check_id], messages[check_id])
    if only is None and expected.get("level") is not None:
        assert result.level == expected["level"], {k: v for k, v in status.items() if v != "pass"}
    for check_id, cause in expected.get("root_causes", {}).items():       # harness.root_cause
        assert result.check(check_id).root_cause == cause, (check_id, result.check(check_id).diagnosis)
    mistake = SUMMARIES.get(expected.get("mistake"))
    if mistake is not None:
        failing = [check for check in result.checks if check.status in ("fail", "error")]
        if mistake.variant is not None:
            assert any(mistake.summary == check.diagnosis for check in failing), \
                [(check.id, check.diagnosis) for check in failing]
        else:
            assert any("d_weight" in check.message for check in failing)
