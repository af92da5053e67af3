"""The specs cannot pass a wrong submission and do not fail a right one.

Every catalogued mistake, patched into the course-layout reference, must fail at least one correctness
check of every lab that computes the kernel it breaks; every correct variant (float32, other loop order,
other tie rule, ReLU's gradient 1 at 0) must pass every check. A spec edit that weakens a check fails here.
"""
import pytest

from harness.mutation import LAB_KERNELS, mutation_report

LABS = sorted(LAB_KERNELS)


@pytest.fixture(scope="module", params=LABS)
def report(request):
    return request.param, mutation_report(request.param)


def test_every_mistake_fails_a_check(report):
    lab, (mistakes, _) = report
    assert mistakes, f"{lab}: no catalogued mistake applies"
    escaped = [outcome.name for outcome in mistakes if not outcome.failed_checks]
    assert not escaped, f"{lab} lets these mistakes through: {escaped}"


def test_correct_variants_pass_every_check(report):
    lab, (_, variants) = report
    rejected = {outcome.name: {cid: outcome.statuses[cid] for cid in outcome.failed_checks}
                for outcome in variants if outcome.failed_checks}
    assert not rejected, f"{lab} fails correct variants: {rejected}"
