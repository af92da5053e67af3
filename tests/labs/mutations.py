"""Mutation testing of the statement-driven labs (cs231n-a2 and its year variants, framework).

Their course-layout references (reference.cs231n, reference.framework ...) are graded in this process
(harness.mutation.InProcessSession): first as they are, which must pass every check and leaves the expected
values in the context's memo; then with each catalogued mistake of a kernel the spec calls patched in, running
only the checks that call that kernel (and what they depend on), one of which must fail and name the mistake;
then with each correct variant patched in, which must pass every check that calls a kernel it replaces.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path

from harness.adapters import registry
from harness.context import build_context
from harness.mutation import InProcessSession, patched
from harness.runner import RunOptions, check_submission
from harness.spec import Case, LabSpec, load_spec, stable_seed

NOT_PASSED = ("fail", "error", "timeout")


@dataclass
class Outcome:
    name: str
    statuses: dict = field(default_factory=dict)
    diagnoses: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [check_id for check_id, status in self.statuses.items() if status in NOT_PASSED]


def public_view(spec: LabSpec, leave_out=frozenset()) -> LabSpec:
    """``spec`` as a student sees it: each check with its public cases only, a property check as the examples a
    student kit stores (harness.kit.property_examples: derandomized, the same every run), checks without a public
    case and checks of the ``leave_out`` kinds dropped, and dependencies on dropped checks forgotten."""
    from harness.kit import property_examples
    kept = []
    for check in spec.checks:
        if check.kind in leave_out:
            continue
        if check.is_property:
            examples = property_examples(check, registry.get(check.kind))
            cases = [Case(f"example-{index + 1}", stable_seed(check.id, repr(sorted(params.items()))), params,
                          check.dtype, public=True) for index, params in enumerate(examples)]
            check = dataclasses.replace(check, cases=cases, property=None)
        else:
            check = dataclasses.replace(check, cases=[case for case in check.cases if case.public])
        if check.cases:
            kept.append(check)
    ids = {check.id for check in kept}
    for check in kept:
        check.depends = tuple(dependency for dependency in check.depends if dependency in ids)
    return dataclasses.replace(spec, checks=kept)


class LabMutations:
    def __init__(self, lab: str, public: bool = False):
        self.spec: LabSpec = public_view(load_spec(lab)) if public else load_spec(lab)
        self.package = self.spec.checks[0].reference
        self.context = build_context(self.spec)
        self.kernels = {check.id: set(registry.get(check.kind).kernels(check)) for check in self.spec.checks}

    def grade(self, name: str, only: list[str] | None = None) -> Outcome:
        options = RunOptions(only=tuple(self.with_dependencies(only)) if only else None,
                             session_factory=lambda *args: InProcessSession(self.package))
        folder = Path(importlib.import_module(self.package).__file__).parent
        result = check_submission(folder, self.spec, self.context, options)
        selected = set(options.only) if options.only else None
        return Outcome(name, {c.id: c.status for c in result.checks if selected is None or c.id in selected},
                       {c.id: c.diagnosis for c in result.checks})

    def with_dependencies(self, wanted: list[str]) -> list[str]:
        selected, pending = set(), list(wanted)
        while pending:
            check_id = pending.pop()
            if check_id not in selected:
                selected.add(check_id)
                pending.extend(self.spec.check(check_id).depends)
        return [check.id for check in self.spec.checks if check.id in selected]

    def calling(self, kernel: str) -> list[str]:
        return [check_id for check_id, kernels in self.kernels.items() if kernel in kernels]

    def mistake(self, mistake) -> Outcome:
        with patched({mistake.kernel: mistake.variant}, "reference"):
            return self.grade(mistake.id, self.calling(mistake.kernel))

    def variant(self, variant) -> Outcome:
        """Graded on the checks that call one of the variant's kernels (the clean run passed the others)."""
        touched = sorted({check_id for kernel in variant.kernels for check_id in self.calling(kernel)})
        with patched(variant.kernels, "reference"):
            return self.grade(variant.id, touched or None)


def diagnosis_of(lab: LabMutations, mistake) -> dict:
    """(check id, case) -> the diagnosis of the mistake's own outputs (run on the clean reference with only the
    mistake patched in), for every case a check that calls its kernel fails; the grader's diagnosis path."""
    from harness.context import RunContext
    from harness.diagnose import diagnose
    run_context, found = RunContext(lab.context), {}
    for check_id in lab.calling(mistake.kernel):
        check = lab.spec.check(check_id)
        kind = registry.get(check.kind)
        if not hasattr(kind, "mistake_outputs"):
            continue
        for case in check.cases:
            arrays = kind.make_inputs(check, case, run_context)
            expected = kind.expected(check, case, arrays, run_context)
            try:
                actual = kind.mistake_outputs(check, mistake, arrays, case)
            except Exception:           # the mistake breaks a later statement: that case says nothing here
                continue
            failed = [c.output for c in kind.compare(check, case, arrays, expected, actual) if not c.ok]
            if failed:
                found[(check_id, case.name)] = diagnose(kind, check, case, arrays, expected, actual, failed)
    return found


class AicsMutations:
    """An AICS lab (reference.aics in the course's layout) graded with a catalogued mistake applied the way
    harness.mutation applies it, on its layer checks: the whole-network and timing checks are left out (a
    mistake they could show is a layer's, and the layer checks show it in a fraction of the time)."""

    def __init__(self, lab: str, public: bool = False):
        from harness.mutation import NETWORK_KINDS, TIMING_KINDS
        spec = load_spec(lab)
        self.spec: LabSpec = public_view(spec, TIMING_KINDS | NETWORK_KINDS) if public else dataclasses.replace(
            spec, checks=[check for check in spec.checks if check.kind not in TIMING_KINDS | NETWORK_KINDS])
        self.context = build_context(self.spec)

    def grade(self, mistake=None) -> Outcome:
        from harness.mutation import REFERENCE_PACKAGE, applied
        folder = Path(importlib.import_module(REFERENCE_PACKAGE).__file__).parent
        options = RunOptions(session_factory=lambda *args: InProcessSession())
        if mistake is None:
            result = check_submission(folder, self.spec, self.context, options)
        else:
            with applied(mistake):
                result = check_submission(folder, self.spec, self.context, options)
        # the catalogue's AICS variants run on reference.layers, which the mistake leaves alone: the grader's
        # own diagnosis path is the student's
        return Outcome(mistake.id if mistake else "reference", {check.id: check.status for check in result.checks},
                       {(check.id, case.name): case.diagnosis for check in result.checks for case in check.cases
                        if case.status != "pass"})
