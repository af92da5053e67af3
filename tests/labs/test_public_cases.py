"""Public cases show every catalogued mistake, with its diagnosis: a student's kit and the public part of a report
fail what grading fails, and say why.

For each lab and each catalogued mistake of a kernel the lab's checks call, the mistake is applied to the lab's
course-layout reference (tests/labs/mutations.py) and graded twice: on every case, and as a student sees the lab
(public cases only; a property check as the examples a kit stores). Then:

* some public case fails with the mistake's own diagnosis (its catalogue summary);
* no check that earns points fails on hidden cases only (hidden cases are for robustness, other shapes and seeds,
  never the only place a mistake shows), and a failing check of the mistake's own kernel says which mistake it is;
* a mistake in a backward fails the finite-difference check of that layer (which has no reference, so it goes in
  the kit): every gradient the layer produces is checked (d_weight and d_bias too).

The exceptions below say why a public case cannot show a mistake. The AICS labs run their layer checks only.
"""
from __future__ import annotations

import functools

import pytest

from harness.adapters import registry
from harness.mutation import LAB_KERNELS
from reference.mistakes import MISTAKES

from .mutations import AicsMutations, LabMutations, diagnosis_of

AICS_LABS = tuple(sorted(LAB_KERNELS))
STATEMENT_LABS = ("cs231n-a2", "cs231n-a2-2017", "framework")

# (lab, mistake) -> why no public case gives the mistake's diagnosis; the mistake must still fail a public case.
NOT_DIAGNOSED = {
    ("aics-exp3-3", "conv.speedup_backward_no_weight_grad"):
        "not a wrong formula but a missing assignment (backward_speedup never sets d_weight and d_bias): the "
        "catalogue has no output to match; the public cases fail it with a message that names d_weight",
}
# (lab, mistake) -> why the finite-difference check of its backward cannot fail.
_NOTEBOOK_WINDOWS = ("the gradient check pools the notebook's 2x2 windows with stride 2, which never overlap; "
                     "pool.backward_naive's public overlapping case shows the mistake")
GRADIENT_UNSEEN = {
    ("aics-exp3-3", "pool.backward_overwrites"):
        "the gradient check uses the course's windows (stride = kernel), which never overlap; "
        "pool.backward_raw.overlap's public cases show the mistake",
    ("cs231n-a2", "cs231n.pool_backward_overwrites"): _NOTEBOOK_WINDOWS,
    ("cs231n-a2-2017", "cs231n.pool_backward_overwrites"): _NOTEBOOK_WINDOWS,
}


def _applicable(lab: str):
    if lab in AICS_LABS:
        return [mistake for mistake in MISTAKES if mistake.kernel in LAB_KERNELS[lab]]
    kernels = {kernel for check in _lab(lab, False).spec.checks
               for kernel in registry.get(check.kind).kernels(check)}
    return [mistake for mistake in MISTAKES if mistake.kernel in kernels]


@functools.cache
def _lab(lab: str, public: bool):
    if lab in AICS_LABS:
        return AicsMutations(lab, public)
    mutations = LabMutations(lab, public)
    clean = mutations.grade("reference")          # fills the memo of expected values before anything is patched
    assert not clean.failed, clean.statuses
    return mutations


@functools.cache
def _outcomes(lab: str, mistake_id: str):
    """(failed checks on every case, failed checks on public cases, (check, case) -> diagnosis of public cases)."""
    mistake = next(mistake for mistake in MISTAKES if mistake.id == mistake_id)
    full, public = _lab(lab, False), _lab(lab, True)
    if lab in AICS_LABS:
        everything, seen = full.grade(mistake), public.grade(mistake)
        return set(everything.failed), set(seen.failed), seen.diagnoses
    # In process the reference is both the submission and what the diagnosis runs: a statement lab's
    # diagnosis is taken from the mistake's own outputs on the clean reference (mutations.diagnosis_of).
    return set(full.mistake(mistake).failed), set(public.mistake(mistake).failed), diagnosis_of(public, mistake)


CASES = [(lab, mistake.id) for lab in AICS_LABS + STATEMENT_LABS for mistake in _applicable(lab)]


def _kernel_checks(lab: str, spec, mistake) -> list[str]:
    """The point-earning checks whose own kernel the mistake replaces (in the path it is made in)."""
    found = []
    for check in spec.checks:
        if check.points <= 0:
            continue
        kind = registry.get(check.kind)
        if lab in AICS_LABS:
            path = (check.target.methods.get("forward") or "").rpartition("_")[2]
            if getattr(kind, "kernel", None) == mistake.kernel and (path not in ("raw", "speedup")
                                                                   or path in mistake.paths):
                found.append(check.id)
        elif mistake.kernel in kind.kernels(check):
            found.append(check.id)
    return found


@pytest.mark.parametrize("lab, mistake_id", CASES, ids=[f"{lab}:{mistake}" for lab, mistake in CASES])
def test_public_cases_fail_the_mistake_with_its_diagnosis(lab, mistake_id):
    mistake = next(mistake for mistake in MISTAKES if mistake.id == mistake_id)
    full_failed, public_failed, diagnoses = _outcomes(lab, mistake_id)
    spec = _lab(lab, True).spec
    assert public_failed, f"no public case of {lab} fails {mistake_id} (grading fails {sorted(full_failed)})"
    if (lab, mistake_id) not in NOT_DIAGNOSED:
        assert mistake.summary in diagnoses.values(), diagnoses
    points = {check.id: check.points for check in _lab(lab, False).spec.checks}
    hidden_only = sorted(check_id for check_id in full_failed
                         if points[check_id] > 0 and check_id not in public_failed)
    assert not hidden_only, f"{mistake_id} fails {hidden_only} on hidden cases only"
    if (lab, mistake_id) not in NOT_DIAGNOSED:
        undiagnosed = [check_id for check_id in _kernel_checks(lab, spec, mistake) if check_id in public_failed
                       and mistake.summary not in [d for (c, _), d in diagnoses.items() if c == check_id]]
        assert not undiagnosed, {check_id: {case: d for (c, case), d in diagnoses.items() if c == check_id}
                                 for check_id in undiagnosed}


def _gradient_checks(lab: str, spec, mistake) -> list[str]:
    """The finite-difference checks of the backward the mistake is made in."""
    found = []
    for check in spec.checks:
        if not check.kind.endswith("gradcheck"):
            continue
        kind = registry.get(check.kind)
        if lab in AICS_LABS:
            path = (check.target.methods.get("backward") or "").rpartition("_")[2]
            if kind.wrapped(check).kernel == mistake.kernel and (path not in ("raw", "speedup")
                                                                 or path in mistake.paths):
                found.append(check.id)
        elif "backward" in mistake.kernel and mistake.kernel in kind.kernels(check):
            found.append(check.id)
    return found


BACKWARD_CASES = [(lab, mistake_id) for lab, mistake_id in CASES if "backward" in
                  next(mistake for mistake in MISTAKES if mistake.id == mistake_id).kernel]


@pytest.mark.parametrize("lab, mistake_id", BACKWARD_CASES, ids=[f"{lab}:{m}" for lab, m in BACKWARD_CASES])
def test_gradient_checks_fail_a_wrong_backward(lab, mistake_id):
    mistake = next(mistake for mistake in MISTAKES if mistake.id == mistake_id)
    checks = _gradient_checks(lab, _lab(lab, True).spec, mistake)
    if not checks or (lab, mistake_id) in GRADIENT_UNSEEN:
        pytest.skip(GRADIENT_UNSEEN.get((lab, mistake_id), "the lab has no gradient check of this backward"))
    _, public_failed, _ = _outcomes(lab, mistake_id)
    assert set(checks) & public_failed, f"{mistake_id} passes {checks}"


@pytest.mark.parametrize("lab", ("aics-exp2-2", "aics-exp3-2"))
def test_the_dlp_labs_hide_no_case(lab):
    """The DLP labs run the course's own runtime on one input per check (harness.dlp; tests/dlp match their
    mistakes): every case is public, so whatever grading fails, the public report fails too."""
    from harness.spec import load_spec
    hidden = [(check.id, case.name) for check in load_spec(lab).checks for case in check.cases if not case.public]
    assert not hidden and all(not check.is_property for check in load_spec(lab).checks), hidden
