"""cs231n-a2 and cs231n-a2-2017 cannot pass a wrong submission and do not fail a right one (tests/labs/mutations.py).

The 2016-2017 lab shares most functions with the 2018 one (reference.cs231n_2017 forwards to reference.cs231n):
its own mistakes and variants are run on it, and every catalogued mistake of a function it shares must still
fail one of its checks.
"""
import pytest

from reference.mistakes import cs231n as cs231n_mistakes

from .mutations import LabMutations, diagnosis_of

# The notebooks run their network-level checks in float64 (they pass dtype=np.float64: float32 finite
# differences and the N=2 batch-norm net are not accurate enough); float32 layers must pass the layer checks.
FLOAT32_FILES = ("layers.py", "optim.py")
LABS = ("cs231n-a2", "cs231n-a2-2017")


@pytest.fixture(scope="module", params=LABS)
def lab(request):
    mutations = LabMutations(request.param)
    clean = mutations.grade("reference")
    assert not clean.failed and set(clean.statuses.values()) == {"pass"}, clean.statuses
    return mutations


def applicable(lab, mistake) -> list[str]:
    calling = lab.calling(mistake.kernel)
    if not calling:
        year = mistake.kernel.split(".")[0]
        assert year != lab.package.removeprefix("reference."), f"no check of {lab.spec.lab} calls {mistake.kernel}"
        pytest.skip(f"{lab.spec.lab} has no {mistake.kernel}")
    return calling


@pytest.mark.parametrize("mistake", cs231n_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_fails_a_check(lab, mistake):
    calling = applicable(lab, mistake)
    assert lab.mistake(mistake).failed, f"{mistake.id} passes {calling}"


@pytest.mark.parametrize("mistake", cs231n_mistakes.MISTAKES, ids=lambda mistake: mistake.id)
def test_every_mistake_is_diagnosed_as_itself(lab, mistake):
    applicable(lab, mistake)
    diagnoses = diagnosis_of(lab, mistake)
    assert mistake.summary in diagnoses.values(), diagnoses


@pytest.mark.parametrize("variant", cs231n_mistakes.correct_variants(), ids=lambda variant: variant.id)
def test_correct_variants_pass_every_check(lab, variant):
    outcome = lab.variant(variant)
    judged = [check.id for check in lab.spec.checks
              if variant.id != "cs231n.float32" or check.target.file in FLOAT32_FILES]
    rejected = {check_id: outcome.statuses[check_id] for check_id in outcome.failed if check_id in judged}
    assert not rejected, rejected
