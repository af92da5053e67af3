"""The contract every check kind fulfils.

A kind knows one interface of one course (the AICS ConvolutionalLayer, the
style-transfer loop, ...): which case keys it needs, how to generate the
inputs, what the reference expects, what program the sandbox child runs and
how outputs are compared. Names that vary between lab variants (files,
classes, methods, constructor order, shapes, thresholds) come from the spec;
the protocol of calling them is Python here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..compare import Comparison, compare_arrays, compare_exact
from ..spec import Case, CheckSpec


class KindConfigError(ValueError):
    """A check's kind-specific configuration is invalid; key_path is relative to the check."""

    def __init__(self, message: str, key_path: tuple = ()):
        super().__init__(message)
        self.key_path = key_path


class ChildFailure(Exception):
    """The child did not answer a request normally (exception, timeout, crash, blocked action)."""

    def __init__(self, reply, doing: str):
        super().__init__(doing)
        self.reply = reply
        self.doing = doing


@dataclass
class OutputSpec:
    """One compared output: how to compare it and whether shape may differ by size-1 axes."""

    name: str
    comparison: str = "close"          # "close" | "exact" | "unchanged" (bit-identical to the input sent)
    shape_policy: str = "exact"
    label: str = ""                    # how the report names it ("bottom_diff", "d_weight")
    display: str = "heatmap"           # how the HTML report pictures a mismatch: "heatmap" | "image" | "curve" | "none"


@dataclass
class Execution:
    values: dict
    replies: list = field(default_factory=list)


def add_note(ctx, check_id: str, note: str) -> None:
    """Keep a plain-words note on how a check ran (the runner puts it in CheckResult.notes, once)."""
    memo = getattr(ctx, "memo", None)
    if memo is not None and note:
        notes = memo.setdefault(("notes", check_id), [])
        if note not in notes:
            notes.append(note)


def shape_schema(min_len: int, max_len: int) -> dict:
    return {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": min_len, "maxItems": max_len}


POSITIVE = {"type": "integer", "minimum": 1}
NON_NEGATIVE = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number"}


class Kind:
    name: str = ""
    roles: tuple[str, ...] = ()                    # method roles the kind calls (target.methods may rename them)
    needs_class: bool = True
    constructor: tuple[str, ...] = ()              # default constructor parameters, in order
    outputs: tuple[OutputSpec, ...] = ()
    case_properties: dict = {}                     # JSON schema properties of a case's own keys
    required_case_keys: tuple[str, ...] = ()
    options_properties: dict = {}
    strategy_properties: dict = {}
    supports_property = False

    # --- spec validation -------------------------------------------------------
    def validate(self, check: CheckSpec) -> None:
        if check.target is None:
            raise KindConfigError(f"kind {self.name} needs a target", ())
        if self.needs_class and not check.target.class_name:
            raise KindConfigError(f"kind {self.name} needs target.class", ("target",))
        for role in check.target.methods:
            if role not in self.roles:
                raise KindConfigError(f"unknown method role {role!r} for kind {self.name} (roles: {', '.join(self.roles)})",
                                      ("target", "methods", role))
        if check.target.constructor is not None:
            unknown = set(check.target.constructor) - set(self.constructor_values_keys())
            if unknown:
                raise KindConfigError(f"constructor names unknown parameter(s) {sorted(unknown)} "
                                      f"(known: {', '.join(self.constructor_values_keys())})", ("target", "constructor"))
        known_outputs = [spec.name for spec in self.outputs]
        for index, name in enumerate(check.outputs or ()):
            if name not in known_outputs:
                raise KindConfigError(f"unknown output {name!r} (outputs of {self.name}: {', '.join(known_outputs)})",
                                      ("outputs", index))
        _validate_object(check.options, self.options_properties, (), ("options",))
        from ..spec import CASE_KEYS
        properties, required = self.case_schema(check)
        # the keys every case has (checked by the lab schema) are named too when a typo is reported
        properties = {**{key: {} for key in CASE_KEYS}, **properties}
        for index, case in enumerate(check.cases):
            _validate_object(case.params, properties, required, ("cases", index))
            self.validate_case(check, case, ("cases", index))
        if check.property is not None:
            if not self.supports_property:
                raise KindConfigError(f"kind {self.name} has no property-based form", ("property",))
            _validate_object(check.property.strategy, self.strategy_properties, (), ("property", "strategy"))

    def case_schema(self, check: CheckSpec) -> tuple[dict, tuple[str, ...]]:
        """JSON schema properties of a case's own keys, and the required ones."""
        return self.case_properties, self.required_case_keys

    def validate_case(self, check: CheckSpec, case: Case, key_path: tuple) -> None:
        """Cross-key checks (e.g. a kernel larger than the padded input); raise KindConfigError."""

    def constructor_values_keys(self) -> tuple[str, ...]:
        return self.constructor

    # --- running -----------------------------------------------------------------
    def make_inputs(self, check: CheckSpec, case: Case, ctx) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def expected(self, check: CheckSpec, case: Case, inputs: dict[str, np.ndarray], ctx) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def execute(self, session, check: CheckSpec, case: Case, inputs: dict[str, np.ndarray], ctx) -> Execution:
        raise NotImplementedError

    def needs_reference(self, check: CheckSpec) -> bool:
        """Whether expected values come from reference/ (a kit stores them instead)."""
        return True

    def compared_outputs(self, check: CheckSpec) -> list[OutputSpec]:
        wanted = check.outputs
        return [spec for spec in self.outputs if wanted is None or spec.name in wanted]

    def compare(self, check: CheckSpec, case: Case, inputs: dict, expected: dict, actual: dict) -> list[Comparison]:
        """One comparison per compared output. The tolerance is the spec's for the inputs' float dtype; a
        submission that computed in single precision anywhere in the check (a float32 d_weight behind a float64
        updated weight; ``actual["compute_dtype"]``, the weakest precision a kind saw in the child's replies)
        is judged at float32 at most; see harness.compare."""
        comparisons = []
        input_dtype = _inputs_float_dtype(inputs)
        shown = _shown_float_dtype(actual)
        for spec in self.compared_outputs(check):
            value = actual.get(spec.name)
            if spec.comparison == "close":
                comparisons.append(compare_arrays(spec.label or spec.name, expected[spec.name], value,
                                                  check.tolerance, input_dtype, spec.shape_policy, case.public,
                                                  shown_dtype=shown))
            elif spec.comparison in ("exact", "unchanged"):
                comparison = compare_exact(spec.label or spec.name, expected[spec.name], value, case.public)
                if spec.comparison == "unchanged" and comparison.problem in ("values", "shape"):
                    comparison.message = f"{spec.label or spec.name} was modified in place: the layer must not change its caller's input"
                comparisons.append(comparison)
            else:
                raise ValueError(f"unknown comparison {spec.comparison!r}")
            comparisons[-1].output = spec.name
        return comparisons

    def gallery(self, case: Case, inputs: dict, expected: dict, actual: dict) -> list[dict]:
        """Pictures worth showing for a public case whether it passed or not (the HTML report draws
        them): ``{"title": str, "images": [CHW RGB-minus-mean arrays], "curves": (expected, actual) or None}``."""
        return []

    def strategy(self, check: CheckSpec):
        """A hypothesis strategy drawing case parameter dicts (for property checks)."""
        raise NotImplementedError


def _inputs_float_dtype(inputs: dict) -> np.dtype | None:
    """The least precise float dtype among the inputs the harness sent (empty arrays carry no values)."""
    dtypes = [array.dtype for array in inputs.values()
              if isinstance(array, np.ndarray) and array.dtype.kind == "f" and array.size]
    if not dtypes:
        return None
    return min(dtypes, key=lambda dtype: dtype.itemsize)


def _shown_float_dtype(actual: dict) -> np.dtype | None:
    """The least precise float dtype among what the submission returned (arrays, or a kind's compute_dtype)."""
    dtypes = [value.dtype for value in actual.values() if isinstance(value, np.ndarray) and value.dtype.kind == "f"]
    computed = actual.get("compute_dtype")
    if isinstance(computed, np.dtype) and computed.kind == "f":
        dtypes.append(computed)
    return min(dtypes, key=lambda dtype: dtype.itemsize) if dtypes else None


def _validate_object(values: dict, properties: dict, required: tuple, key_path: tuple) -> None:
    import jsonschema     # here, not at module level: a student kit has only numpy (OWNERSHIP.md)

    from ..spec import plain_schema_message, error_key_path, most_specific
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(values))
    if errors:
        error = most_specific(errors)
        raise KindConfigError(plain_schema_message(error), key_path + error_key_path(error))
