"""Diagnosis: every catalogued mistake, run on a spec case, is recognised as itself."""
import numpy as np
import pytest

from harness.adapters import registry
from harness.diagnose import describe_difference, diagnose
from harness.spec import Tolerance, load_spec
from reference.mistakes import MISTAKES

TOLERANCE = Tolerance(1e-7, 1e-9)


def _kinds_and_cases():
    """(mistake, check, kind) for every mistake and every check of every lab whose kind computes its kernel."""
    found = []
    for lab in ("aics-exp2-1", "aics-exp3-1", "aics-exp3-3"):
        for check in load_spec(lab).checks:
            kind = registry.get(check.kind)
            for mistake in MISTAKES:
                if mistake.variant is not None and getattr(kind, "kernel", None) == mistake.kernel:
                    found.append((mistake, check, kind))
    return found


def _cases(check, kind):
    """The spec's cases, or for a property check the examples hypothesis would draw."""
    if check.cases:
        return check.cases
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    from harness.runner import case_for_example
    drawn = []

    def collect(params):
        drawn.append(case_for_example(check, params))
        return False
    try:
        find(kind.strategy(check), collect, settings=settings(max_examples=check.property.max_examples,
                                                              derandomize=True, database=None,
                                                              suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        pass
    return drawn


def _first_case_where_it_differs(mistake, check, kind):
    for case in _cases(check, kind):
        arrays = kind.make_inputs(check, case, None)
        expected = kind.expected(check, case, arrays, None)
        try:
            with np.errstate(all="ignore"):
                produced = kind.variant_outputs(mistake.variant, {k: v.copy() for k, v in arrays.items()}, case)
        except Exception:
            continue
        differs = [name for name, value in produced.items() if name in expected and (
            np.shape(value) != np.shape(expected[name]) or not np.allclose(value, expected[name], rtol=1e-6, atol=1e-9))]
        if differs:
            return case, arrays, expected, produced, differs
    return None


MISTAKE_CHECKS = {}
for _mistake, _check, _kind in _kinds_and_cases():
    MISTAKE_CHECKS.setdefault(_mistake.id, (_mistake, _check, _kind))


@pytest.mark.parametrize("mistake_id", sorted(MISTAKE_CHECKS))
def test_each_mistake_changes_some_case_and_is_recognised(mistake_id):
    mistake, check, kind = MISTAKE_CHECKS[mistake_id]
    found = None
    for candidate_mistake, candidate_check, candidate_kind in _kinds_and_cases():
        if candidate_mistake.id == mistake_id:
            found = _first_case_where_it_differs(candidate_mistake, candidate_check, candidate_kind)
            if found:
                check, kind = candidate_check, candidate_kind
                break
    assert found, f"{mistake_id}: no spec case tells this mistake from the correct kernel"
    case, arrays, expected, produced, differs = found
    actual = {name: np.asarray(value) for name, value in produced.items()}
    diagnosis = diagnose(kind, check, case, arrays, expected, actual, differs)
    assert diagnosis == mistake.summary or diagnosis.startswith("your "), (mistake_id, diagnosis)
    if all(np.shape(actual[name]) == np.shape(expected[name]) for name in differs) and np.all(
            [np.all(np.isfinite(actual[name])) for name in differs]):
        assert diagnosis == mistake.summary, f"{mistake_id} diagnosed as: {diagnosis}"


def test_scale_factor_is_described():
    expected = np.linspace(1, 2, 12).reshape(3, 4)
    assert "multiplied by 2" in describe_difference(expected, 2 * expected, TOLERANCE)
    assert "half" in describe_difference(expected, 0.5 * expected, TOLERANCE)
    assert "opposite sign" in describe_difference(expected, -expected, TOLERANCE)


def test_offsets_are_described():
    expected = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    assert "constant 0.25" in describe_difference(expected, expected + 0.25, TOLERANCE)
    per_channel = expected + np.arange(3).reshape(1, 3, 1, 1)
    assert "each output channel" in describe_difference(expected, per_channel, TOLERANCE)


def test_location_is_described():
    expected = np.random.default_rng(1).standard_normal((1, 4, 6, 6))
    border = expected.copy()
    border[:, :, 0, :] += 1.0
    border[:, :, :, -1] -= 0.5
    assert "border" in describe_difference(expected, border, TOLERANCE)
    one_channel = expected.copy()
    one_channel[:, 2, 2:4, 1:3] *= 3
    note = describe_difference(expected, one_channel, TOLERANCE)
    assert "channel(s) 2" in note and "rows 2-3" in note and "columns 1-2" in note


def test_transposed_output_is_described():
    expected = np.random.default_rng(2).standard_normal((1, 2, 5, 5))
    assert "rows and columns swapped" in describe_difference(expected, np.swapaxes(expected, -1, -2), TOLERANCE)
