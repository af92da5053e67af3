"""Mutation testing of the specs: can a lab's checks tell a wrong submission from a right one?

Every mistake of the catalogue (reference.mistakes) is patched into the
course-layout reference (reference.aics), the lab is graded, and the mistake
must fail at least one correctness check; every correct variant (float32,
other loop orders, other tie rules, ReLU's gradient taken as 1 at 0) must
pass them all. A spec edit that lets a mistake through, or starts failing a
correct variant, shows up here (tests/specs) before it reaches students.

The reference is trusted code, so it runs in this process
(``InProcessSession``): the same program interpreter the sandbox child uses,
without a child. Speedup checks are left out: they judge timing, not the
formulas a mistake changes, and have tests of their own.
"""
from __future__ import annotations

import contextlib
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .context import LabContext, build_context
from .runner import RunOptions, check_submission
from .sandbox import failure, interpreter, values
from .sandbox.reply import Reply, parse_result
from .spec import LabSpec, load_spec

REFERENCE_PACKAGE = "reference.aics"
TIMING_KINDS = {"aics.speedup"}
# Checks that run a whole network; a mistake that a layer check already catches need not pay for them.
NETWORK_KINDS = {"aics.style_transfer.run", "aics.vgg19.classify"}
FAILED = ("fail", "error", "timeout")
# The kernels each lab's submission computes with (a mistake elsewhere cannot be caught by that lab).
LAB_KERNELS = {
    "aics-exp2-1": {"fc_forward", "fc_backward", "relu_forward", "relu_backward", "softmax_forward",
                    "cross_entropy", "softmax_backward"},
    "aics-exp3-1": {"conv_forward", "pool_forward", "flatten_forward", "fc_forward", "relu_forward",
                    "softmax_forward"},
    "aics-exp3-3": {"conv_forward", "conv_backward", "pool_forward", "pool_backward", "content_loss_forward",
                    "content_loss_backward", "style_loss_forward", "style_loss_backward", "adam_update"},
}
TWO_PATHS = {"conv_forward", "conv_backward", "pool_forward", "pool_backward"}
KERNEL_MODULE = {
    "conv_forward": "layers_2", "conv_backward": "layers_2", "pool_forward": "layers_2", "pool_backward": "layers_2",
    "flatten_forward": "layers_2", "flatten_backward": "layers_2", "fc_forward": "layers_1",
    "fc_backward": "layers_1", "relu_forward": "layers_1", "relu_backward": "layers_1",
    "softmax_forward": "layers_1", "cross_entropy": "layers_1", "softmax_backward": "layers_1",
    "content_loss_forward": "layers_3", "content_loss_backward": "layers_3", "style_loss_forward": "layers_3",
    "style_loss_backward": "layers_3", "adam_update": "exp_3_3_style_transfer",
}


class _Violation(Exception):
    """Stands in for the sandbox's policy violation: nothing is blocked in trusted code."""


class _ReferenceModules:
    """The interpreter's view of 'the submission': a course-layout reference package (reference.aics,
    reference.cs231n ...), never re-imported (patches must stay)."""

    def __init__(self, package: str = REFERENCE_PACKAGE):
        self.package = package
        self.package_dir = str(Path(importlib.import_module(package).__file__).parent)

    def import_module(self, name: str):
        return importlib.import_module(f"{self.package}.{name}")

    def is_missing(self, error, name: str) -> bool:
        return isinstance(error, ModuleNotFoundError) and error.name == f"{self.package}.{name}"

    def present(self) -> list[str]:
        return sorted(path.name for path in Path(self.package_dir).glob("*.py"))

    def forget(self) -> None:
        pass


class InProcessSession:
    """The Session interface for trusted code: programs run in this process. Never use it for submissions."""

    def __init__(self, package: str = REFERENCE_PACKAGE):
        modules = _ReferenceModules(package)
        describe = lambda exc, doing, callee: failure.describe(exc, doing, modules.package_dir, callee=callee)  # noqa: E731
        self.interpreter = interpreter.Interpreter(modules, describe, values.to_wire, lambda doing: None, _Violation)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def run(self, program: dict, arrays: dict, timeout: float | None = None, fresh: bool = True) -> Reply:
        # Copies both ways: the caller's arrays must not see in-place changes (the checks look for them),
        # and the results must not alias objects the layer keeps using.
        inputs = {name: np.array(array, copy=True) for name, array in arrays.items()}
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = self.interpreter.run(program, inputs, fresh)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        parsed = parse_result({"status": outcome["status"], "values": outcome["values"], "error": outcome["error"],
                               "compat_used": []},
                              {name: np.array(array, copy=True) for name, array in outcome["arrays"].items()})
        return Reply(status=parsed.status, values=parsed.values, types=parsed.types, error=parsed.error,
                     wall_time=wall, cpu_time=cpu, layers=["in-process (trusted reference code)"])

    def summary(self) -> dict:
        return {"layers": ["in-process (trusted reference code)"]}


@contextlib.contextmanager
def patched(replacements: dict, package: str = REFERENCE_PACKAGE):
    """Replace ``{"layers_2.conv_forward_raw": function, ...}`` in reference.aics (or in ``package``:
    ``{"cs231n.layers.batchnorm_forward": ...}`` with package "reference") for the duration."""
    originals = []
    try:
        for dotted, replacement in replacements.items():
            module_name, _, attribute = dotted.rpartition(".")
            module = importlib.import_module(f"{package}.{module_name}")
            originals.append((module, attribute, getattr(module, attribute)))
            setattr(module, attribute, replacement)
        yield
    finally:
        for module, attribute, original in reversed(originals):
            setattr(module, attribute, original)


@contextlib.contextmanager
def applied(mistake):
    """A catalogue mistake in reference.aics: its variant in every path it names, or its patch."""
    if mistake.patch is not None:
        modules = {name: importlib.import_module(f"{REFERENCE_PACKAGE}.{name}")
                   for name in ("layers_1", "layers_2", "layers_3", "exp_3_3_style_transfer")}
        undo = mistake.patch(modules)
        try:
            yield
        finally:
            undo()
        return
    with patched(kernel_replacements(mistake.kernel, mistake.variant, mistake.paths)):
        yield


def kernel_replacements(kernel: str, function, paths=("raw", "speedup")) -> dict:
    module = KERNEL_MODULE[kernel]
    if kernel in TWO_PATHS:
        return {f"{module}.{kernel}_{path}": function for path in paths}
    return {f"{module}.{kernel}": function}


@dataclass
class MutationOutcome:
    name: str
    failed_checks: list[str] = field(default_factory=list)
    statuses: dict = field(default_factory=dict)


def grade_reference(spec: LabSpec, context: LabContext, *, until_failure: bool = False) -> dict[str, str]:
    """Check ids -> status for reference.aics (as patched at the time) against ``spec``, timing checks left out.

    ``until_failure``: the question is only whether some check fails, so the checks that run whole
    networks (a VGG19 forward, style-transfer steps: seconds each, and most of the lab's time) run only
    when none of the others failed.
    """
    selected = [check.id for check in spec.checks if check.kind not in TIMING_KINDS]
    if until_failure:
        cheap = [check_id for check_id in selected if spec.check(check_id).kind not in NETWORK_KINDS]
        statuses = _graded(spec, context, cheap)
        if any(status in FAILED for status in statuses.values()) or len(cheap) == len(selected):
            return statuses
    return _graded(spec, context, selected)


def _graded(spec: LabSpec, context: LabContext, selected: list[str]) -> dict[str, str]:
    options = RunOptions(only=tuple(selected), session_factory=lambda *args: InProcessSession())
    result = check_submission(Path(importlib.import_module(REFERENCE_PACKAGE).__file__).parent, spec, context, options)
    return {check.id: check.status for check in result.checks if check.id in selected}


def mutation_report(lab: str) -> tuple[list[MutationOutcome], list[MutationOutcome]]:
    """(one outcome per applicable mistake, one per correct variant) for ``lab``."""
    from reference.mistakes import MISTAKES, correct_variants
    spec = load_spec(lab)
    context = build_context(spec)
    mistakes = []
    for mistake in MISTAKES:
        if mistake.kernel not in LAB_KERNELS.get(lab, ()):
            continue
        with applied(mistake):
            statuses = grade_reference(spec, context, until_failure=True)
        mistakes.append(MutationOutcome(mistake.id, [cid for cid, status in statuses.items() if status in FAILED],
                                        statuses))
    variants = []
    for variant in correct_variants():
        with patched(variant.kernels):
            statuses = grade_reference(spec, context)
        variants.append(MutationOutcome(variant.id, [cid for cid, status in statuses.items() if status != "pass"],
                                        statuses))
    return mistakes, variants
