"""cs231n-a2 cannot pass a wrong submission and does not fail a right one (see tests/labs/mutations.py)."""
import pytest

from reference.mistakes import cs231n as cs231n_mistakes

from .mutations import LabMutations, diagnosis_of

# The notebooks run their network-level checks in float64 (they pass dtype=np.float64: float32 finite
# differences and the N=2 batch-norm net are not accurate enough); float32 layers must pass the layer checks.
FLOAT32_FILES = ("layers.py", "optim.py")


@pytest.fixture(scope="module")
def lab():
    mutations = LabMutations("cs231n-a2")
    clean = mutations.grade("reference")
    assert not clean.failed and set(clean.statuses.values()) == {"pass"}, clean.statuses
    return mutations


@pytest.mark.parametrize("mistake", cs231n_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_fails_a_check(lab, mistake):
    calling = lab.calling(mistake.kernel)
    assert calling, f"no check of cs231n-a2 calls {mistake.kernel}"
    assert lab.mistake(mistake).failed, f"{mistake.id} passes {calling}"


@pytest.mark.parametrize("mistake", cs231n_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_is_diagnosed_as_itself(lab, mistake):
    diagnoses = diagnosis_of(lab, mistake)
    assert mistake.summary in diagnoses.values(), diagnoses


@pytest.mark.parametrize("variant", cs231n_mistakes.correct_variants(), ids=lambda variant: variant.id)
def test_correct_variants_pass_every_check(lab, variant):
    outcome = lab.variant(variant)
    judged = [check.id for check in lab.spec.checks
              if variant.id != "cs231n.float32" or check.target.file in FLOAT32_FILES]
    rejected = {check_id: outcome.statuses[check_id] for check_id in outcome.failed if check_id in judged}
    assert not rejected, rejected
