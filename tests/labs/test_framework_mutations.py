"""The framework lab cannot pass a wrong submission and does not fail a right one (see tests/labs/mutations.py)."""
import pytest

from reference.mistakes import framework as framework_mistakes

from .mutations import LabMutations, diagnosis_of


@pytest.fixture(scope="module")
def lab():
    mutations = LabMutations("framework")
    clean = mutations.grade("reference")
    assert not clean.failed and set(clean.statuses.values()) == {"pass"}, clean.statuses
    return mutations


@pytest.mark.parametrize("mistake", framework_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_fails_a_check(lab, mistake):
    calling = lab.calling(mistake.kernel)
    assert calling, f"no check of framework calls {mistake.kernel}"
    assert lab.mistake(mistake).failed, f"{mistake.id} passes {calling}"


@pytest.mark.parametrize("mistake", framework_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_is_diagnosed_as_itself(lab, mistake):
    diagnoses = diagnosis_of(lab, mistake)
    assert mistake.summary in diagnoses.values(), diagnoses


@pytest.mark.parametrize("variant", framework_mistakes.correct_variants(), ids=lambda variant: variant.id)
def test_correct_variants_pass_every_check(lab, variant):
    outcome = lab.variant(variant)
    assert not outcome.failed, {check_id: outcome.statuses[check_id] for check_id in outcome.failed}
