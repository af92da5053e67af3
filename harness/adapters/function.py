"""Check kinds driven by Python statements in the spec: any function or class of a submission, no adapter code.

    - id: batchnorm.forward_train
      kind: function
      target: {file: layers.py}
      options:
        inputs: {x: {shape: [N, D], scale: 4, offset: 12}, gamma: [D], beta: [D]}
        run:
          - bn_param = {'mode': 'train', 'momentum': momentum}
          - out, cache = batchnorm_forward(x, gamma, beta, bn_param)
        compare: {out: out, running_mean: "bn_param['running_mean']"}
        notebook: {rel_error: 1.0e-9, says: "around e-9 or less"}
      cases:
        - {name: small, N: 4, D: 5, momentum: 0.9, public: true}

Three kinds share the statement language of harness.adapters.statements:

``function``
    runs ``run`` in the child and compares the values ``compare`` names with
    the course-layout reference package (``reference.<submission package>``,
    e.g. reference.cs231n) running the same statements in this process; a
    compared value may instead have an ``expect`` formula (the initial loss
    of a classifier is ``log(C)``) and a ``statistic`` (std, mean, max_abs).
``function.gradcheck``
    the student's backward against central differences of the student's own
    forward: no reference, so it belongs in a student kit. Random directions
    decide the verdict; a few single coordinates give CS231n's rel_error.
``function.train``
    the notebook's Solver unrolled into one program: a few steps of the
    student's own update rule on the student's loss and gradients; a
    classifier that cannot then fit ten samples has a bug the per-function
    checks missed.

Expected values are computed once per grading run (LabContext.expected_memo),
before anything is patched: the spec mutation tests and the diagnosis patch
catalogued mistakes into the same reference package. The kernels of a check
are the functions its statements call, named below ``reference.``
(``cs231n.layers.batchnorm_forward``), or ``options.kernels``.

Standard library and numpy at module level (student kits import it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..compare import Comparison, compare_arrays
from ..spec import Tolerance
from . import generators, statements
from .base import ChildFailure, Execution, Kind, KindConfigError, OutputSpec
from .registry import register

STATISTICS = {"std": np.std, "mean": np.mean, "max_abs": lambda value: np.max(np.abs(value))}
NOTEBOOK = {"type": "object", "additionalProperties": False, "required": ["rel_error"],
            "properties": {"rel_error": {"type": "number", "exclusiveMinimum": 0}, "says": {"type": "string"}}}
STATEMENTS = {"type": "array", "items": {"type": "string"}, "minItems": 1}
FILE = {"type": "string", "pattern": r"^([A-Za-z_][A-Za-z0-9_]*/)*[A-Za-z_][A-Za-z0-9_]*\.py$"}
MODULES = {"type": "object", "additionalProperties": FILE}
INPUTS = {"type": "object", "additionalProperties": {"type": ["array", "object"]}}
# Modules a submission may lack that the grader gives it (the interpreter's provide step), by the name the
# submission imports: alias -> the harness module whose source is sent.
PROVIDED = {"cs231n.im2col_cython": "cs231n_im2col"}
PROVIDED_PACKAGE = "nnlab_provided"
COMMON_OPTIONS = {"inputs": INPUTS, "modules": MODULES, "kernels": {"type": "array", "items": {"type": "string"}},
                  "reference": {"type": "string"}, "notebook": NOTEBOOK,
                  "provide": {"type": "array", "items": {"enum": sorted(PROVIDED)}}}
GRADCHECK_TOLERANCE = {"float64": 1e-6, "float32": 2e-2, "float16": 1e-1}
GRADCHECK_STEP = {"float64": 1e-5, "float32": 1e-3, "float16": 1e-1}


@dataclass(frozen=True)
class Entry:
    """One compared value: its output name, the expression that computes it, and how it is judged."""

    name: str
    expr: str
    comparison: str = "close"
    shape_policy: str = "exact"
    label: str = ""
    expect: object = None            # a number or a formula over case parameters (no reference then)
    statistic: str | None = None     # std | mean | max_abs of the value, compared with expect
    shape: object = None             # the value's required shape (formulas allowed), checked before a statistic
    rtol: float | None = None
    atol: float | None = None


def entries(raw) -> list[Entry]:
    """``compare`` as a list of names or a mapping name -> expression | {expr, comparison, expect, ...}."""
    if isinstance(raw, list):
        return [Entry(name, name) for name in raw]
    found = []
    for name, value in (raw or {}).items():
        if isinstance(value, str):
            found.append(Entry(name, value))
        else:
            found.append(Entry(name, value.get("expr", name), value.get("comparison", "close"),
                               value.get("shape_policy", "exact"), value.get("label", ""), value.get("expect"),
                               value.get("statistic"), value.get("shape"), value.get("rtol"), value.get("atol")))
    return found


COMPARE_ENTRY = {"oneOf": [{"type": "string"}, {
    "type": "object", "additionalProperties": False,
    "properties": {"expr": {"type": "string"}, "comparison": {"enum": ["close", "exact", "unchanged"]},
                   "shape_policy": {"enum": ["exact", "squeeze"]}, "label": {"type": "string"},
                   "expect": {"type": ["number", "string"]}, "statistic": {"enum": sorted(STATISTICS)},
                   "shape": {"type": "array"}, "rtol": {"type": "number", "minimum": 0},
                   "atol": {"type": "number", "minimum": 0}}}]}
COMPARE = {"oneOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1},
                     {"type": "object", "minProperties": 1, "additionalProperties": COMPARE_ENTRY}]}


class StatementKind(Kind):
    """What the three kinds share: modules, inputs, case parameters, compilation, reference runs."""

    needs_class = False
    statement_options: tuple[str, ...] = ()        # the options holding statement lists
    expression_options: tuple[str, ...] = ()       # the options holding single expressions

    # --- spec ------------------------------------------------------------------------------------
    def modules(self, check) -> dict[str, str]:
        declared = check.options.get("modules")
        if declared:
            return {alias: _module_name(file) for alias, file in declared.items()}
        return {self.default_alias(check): _module_name(check.target.file)}

    def default_alias(self, check) -> str:
        return _module_name(check.target.file).rsplit(".", 1)[-1]

    def input_specs(self, check, case=None) -> dict[str, dict]:
        """The check's inputs; a case may override some keys of some inputs (``inputs: {x: {dist: linspace}}``)."""
        specs = {name: generators.normalise(value) for name, value in check.options.get("inputs", {}).items()}
        for name, override in ((case.params.get("inputs") or {}) if case is not None else {}).items():
            specs[name] = {**specs.get(name, {}), **generators.normalise(override)}
        return specs

    def parsed(self, check, option: str) -> list:
        raw = check.options.get(option, [])
        return statements.parse([raw] if isinstance(raw, str) else raw)

    def all_statements(self, check) -> list:
        found = []
        for option in self.statement_options:
            found += self.parsed(check, option)
        return found

    def expressions(self, check) -> list[str]:
        return [check.options[option] for option in self.expression_options
                if isinstance(check.options.get(option), str)]

    def case_parameters(self, check) -> list[str]:
        """Names the statements, expressions and input shapes read that only a case can supply."""
        known = set(self.input_specs(check)) | set(self.modules(check))
        names = statements.free_names(self.all_statements(check), known)
        assigned = set(known)
        for statement in self.all_statements(check):
            assigned.update(statements._targets(statement))
        for text in self.expressions(check):
            names += [n for n in statements.free_names([_as_statement(text)], assigned) if n not in names]
        for spec in self.input_specs(check).values():
            for key in ("shape", "scale", "offset", "low", "high", "classes"):
                names += [n for n in sorted(generators.formula_names(spec.get(key))) if n not in names]
        return names

    def validate(self, check) -> None:
        if check.target is None or not check.target.file:
            raise KindConfigError(f"kind {self.name} needs target.file (the module whose functions it calls)", ())
        super().validate(check)
        for option in self.statement_options:
            try:
                self.parsed(check, option)
            except statements.StatementError as error:
                raise KindConfigError(str(error), ("options", option) + ((error.index,) if error.index is not None
                                                                        else ())) from None
        for name, spec in self.input_specs(check).items():
            unknown = set(spec) - generators.GENERATOR_KEYS
            if unknown:
                raise KindConfigError(f"unknown key(s) {sorted(unknown)} "
                                      f"(allowed: {sorted(generators.GENERATOR_KEYS)})",
                                      ("options", "inputs", name))
            if "shape" not in spec and "like" not in spec:
                raise KindConfigError("an input needs a shape (or like: <name of a reference value>)",
                                      ("options", "inputs", name))
            if spec.get("dist", "normal") not in generators.DISTRIBUTIONS:
                raise KindConfigError(f"unknown dist {spec['dist']!r} (known: {', '.join(generators.DISTRIBUTIONS)})",
                                      ("options", "inputs", name, "dist"))
        self.validate_statements(check)

    def validate_statements(self, check) -> None:
        """Compile every case once, so a name nothing defines is a spec error with its line."""
        for index, case in enumerate(check.cases):
            try:
                self.compile_for(check, case.params)
            except statements.StatementError as error:
                raise KindConfigError(f"case {case.name}: {error}", ("options",)) from None

    def case_schema(self, check):
        try:
            names = self.case_parameters(check)
        except (statements.StatementError, generators.FormulaError) as error:
            raise KindConfigError(str(error), ("options",)) from None
        overrides = {"type": "object", "additionalProperties": {"type": ["array", "object"]}}
        return {**{name: {} for name in names}, "inputs": overrides}, tuple(names)

    def validate_case(self, check, case, key_path):
        unknown = set(case.params.get("inputs") or {}) - set(self.input_specs(check))
        if unknown:
            raise KindConfigError(f"inputs {sorted(unknown)} are not inputs of this check", key_path + ("inputs",))

    def compile_for(self, check, params: dict):
        raise NotImplementedError

    def compiler(self, check, params: dict, **settings) -> statements.Compiler:
        return statements.Compiler(self.modules(check), self.default_alias(check), set(self.input_specs(check)),
                                   params, **settings)

    def start(self, check, params: dict, **settings) -> statements.Compiler:
        """A compiler whose program provides the modules the check asks for, then imports the submission's."""
        compiler = self.compiler(check, params, **settings)
        provided = check.options.get("provide", [])
        if provided:
            compiler.program.steps.append({"provide": {
                "package": PROVIDED_PACKAGE, "modules": [[alias, _provided_source(alias)] for alias in provided],
                "aliases": list(provided)}, "as": "_provided"})
        return compiler.imports()

    # --- inputs and reference runs ---------------------------------------------------------------
    def reference_package(self, check) -> str:
        """The course-layout reference the expected values come from: the check's, else the lab's."""
        package = check.options.get("reference") or check.reference
        if not package:
            raise KindConfigError(f"kind {self.name} compares with a course-layout reference: name it in the spec "
                                  "(reference: reference.<package>) or in the check's options.reference", ())
        return package

    def kernels(self, check) -> list[str]:
        """The catalogue kernels this check exercises, named below ``reference.``
        (``cs231n.layers.batchnorm_forward``): every function its statements call, and options.kernels (what
        those call in turn, e.g. a classifier's regularization)."""
        package = check.options.get("reference") or check.reference
        if not package:
            return list(check.options.get("kernels", []))
        modules, found = self.modules(check), list(check.options.get("kernels", []))
        compiled = self.compile_for(check, _placeholder_params(check))
        for path in compiled.called:
            alias, _, rest = path.partition(".")
            if alias in modules and "." not in rest:
                kernel = _defining_kernel(package, modules[alias], rest)
                if kernel not in found:
                    found.append(kernel)
        return found

    def make_inputs(self, check, case, ctx) -> dict:
        memo = ctx.lab.expected_memo
        key = ("inputs", check.id, case.name, case.seed, case.dtype)
        if key not in memo:
            memo[key] = self._generate(check, case, ctx)
        return {name: array.copy() for name, array in memo[key].items()}

    def _generate(self, check, case, ctx) -> dict:
        rng = np.random.default_rng(case.seed)
        specs = self.input_specs(check, case)
        arrays = {name: generators.generate(spec, case.params, case.dtype, rng)
                  for name, spec in specs.items() if "like" not in spec}
        pending = [name for name, spec in specs.items() if "like" in spec]
        if pending:
            shapes = self.reference_shapes(check, case, arrays, {name: specs[name]["like"] for name in pending}, ctx)
            for name in pending:
                arrays[name] = generators.generate(specs[name], case.params, case.dtype, rng, shapes[name])
        return arrays

    def reference_shapes(self, check, case, arrays, likes: dict[str, str], ctx) -> dict[str, tuple]:
        """The shapes of the reference values ``likes`` names, from the statements that come before their use."""
        body = self.all_statements(check)
        first_use = min((index for index, statement in enumerate(body)
                         if set(likes) & _names_read(statement)), default=len(body))
        compiler = self.start(check, case.params, send_returned=False).statements(body[:first_use])
        for name, source in likes.items():
            compiler.output(name, source)
        values = self.reference_values(check, compiler, arrays)
        return {name: np.shape(values[name]) for name in likes}

    def reference_values(self, check, compiler, arrays) -> dict:
        """Run compiled statements on the course-layout reference in this process; name -> value."""
        from ..messages import describe_failure
        from ..mutation import InProcessSession
        program = compiler.program.to_dict()        # the reference needs nothing provided
        program["steps"] = [step for step in program["steps"] if "provide" not in step]
        reply = InProcessSession(self.reference_package(check)).run(program, arrays)
        if reply.status != "ok":
            raise RuntimeError(describe_failure(reply, "running the reference"))
        return {name: reply.values.get(target) for name, target in compiler.outputs.items()}

    def memoised_expected(self, check, case, arrays, ctx, compute) -> dict:
        memo = ctx.lab.expected_memo
        key = ("expected", check.id, case.name, case.seed, case.dtype)
        if key not in memo:
            memo[key] = compute()
        return {name: np.array(value, copy=True) for name, value in memo[key].items()}

    # --- running in the child --------------------------------------------------------------------
    def run_child(self, session, check, compiler, arrays, doing: str, fresh: bool = True):
        """(values by output name, reply), or a structure problem as ``{"__structure__": message}``."""
        reply = session.run(compiler.program.to_dict(), arrays, timeout=check.timeout, fresh=fresh)
        problem = structure_problem(compiler.compiled.unpacked, reply)
        if problem:
            return {"__structure__": problem}, reply
        if reply.status != "ok":
            raise ChildFailure(reply, doing)
        return {name: reply.values.get(target) for name, target in compiler.outputs.items()}, reply

    def doing(self, check) -> str:
        return f"running {check.target.file}"


def structure_problem(unpacked: list, reply) -> str:
    """Plain words when a call returned something other than the tuple its statement unpacks."""
    for entry in unpacked:
        if entry.raw not in reply.values and reply.status == "ok":
            continue
        type_name = reply.types.get(entry.raw)
        value = reply.values.get(entry.raw)
        expected = f"the tuple ({', '.join(entry.names)})"
        if getattr(value, "kind", None) == "none":
            return f"{entry.callee} returned None; it must return {expected} (a missing return statement?)"
        if type_name and type_name not in ("tuple", "list"):
            article = "an" if type_name[:1].lower() in "aeiou" or type_name.startswith("nd") else "a"
            return f"{entry.callee} returned {article} {type_name}; it must return {expected}"
        error = reply.error
        if reply.status != "ok" and error is not None and error.exc_type == "IndexError" \
                and entry.raw in (error.message or ""):
            return f"{entry.callee} returned a {type_name or 'sequence'} with fewer than {len(entry.names)} values; " \
                   f"it must return {expected}"
    return ""


# --- function ---------------------------------------------------------------------------------------------

@register
class FunctionCheck(StatementKind):
    name = "function"
    statement_options = ("run",)
    options_properties = {**COMMON_OPTIONS, "run": STATEMENTS, "compare": COMPARE}

    def validate(self, check):
        if "run" not in check.options or "compare" not in check.options:
            raise KindConfigError("kind function needs options.run (statements) and options.compare", ("options",))
        super().validate(check)

    def expressions(self, check):
        return [entry.expr for entry in entries(check.options.get("compare"))]

    def case_parameters(self, check):
        names = super().case_parameters(check)
        for entry in entries(check.options.get("compare")):
            for value in (entry.expect, entry.shape):
                names += [n for n in sorted(generators.formula_names(value)) if n not in names]
        return names

    def compile_for(self, check, params):
        compiler = self.start(check, params).statements(self.parsed(check, "run"))
        for entry in entries(check.options["compare"]):
            compiler.output(entry.name, entry.expr)
        return _CompiledView(compiler)

    def compared_outputs(self, check):
        return [OutputSpec(entry.name, entry.comparison, entry.shape_policy, entry.label or entry.expr)
                for entry in entries(check.options["compare"]) if entry.expect is None]

    def needs_reference(self, check):
        return any(entry.expect is None for entry in entries(check.options["compare"]))

    def expected(self, check, case, arrays, ctx):
        formulas = {entry.name: np.asarray(generators.evaluate(entry.expect, case.params), dtype=np.float64)
                    for entry in entries(check.options["compare"]) if entry.expect is not None}
        if not self.needs_reference(check):
            return formulas

        def compute():
            found = self.reference_values(check, self.compile_for(check, case.params).compiler, arrays)
            return {entry.name: np.asarray(found[entry.name]) for entry in entries(check.options["compare"])
                    if entry.expect is None}
        return {**self.memoised_expected(check, case, arrays, ctx, compute), **formulas}

    def execute(self, session, check, case, arrays, ctx):
        compiler = self.compile_for(check, case.params).compiler
        values, reply = self.run_child(session, check, compiler, arrays, self.doing(check))
        return Execution(values, [reply])

    def compare(self, check, case, arrays, expected, actual):
        if "__structure__" in actual:
            return [Comparison("return value", "type", actual["__structure__"])]
        comparisons = super().compare(check, case, arrays, expected, actual)
        absolute = {entry.name: entry.atol for entry in entries(check.options["compare"])
                    if entry.expect is None and entry.atol is not None}
        for comparison in comparisons:
            # a value that is 0 in exact arithmetic (the gradient of a bias before batch norm) has no scale of
            # its own: it is rounding noise, bounded in absolute terms
            bound = absolute.get(comparison.output)
            value = actual.get(comparison.output)
            if bound is not None and comparison.problem == "values" and isinstance(value, np.ndarray) and \
                    np.max(np.abs(value.astype(np.float64) - np.asarray(expected[comparison.output]))) <= bound:
                comparison.problem, comparison.message = None, ""
                comparison.metrics["absolute_bound"] = bound
        notebook = check.options.get("notebook")
        for comparison in comparisons:
            if notebook and "max_rel_error" in comparison.metrics:
                comparison.metrics["notebook_rel_error"] = notebook["rel_error"]
                if not comparison.ok and comparison.problem == "values":
                    asked = notebook.get("says") or notebook["rel_error"]
                    comparison.message += f" (the notebook asks for rel_error {asked})"
        for entry in entries(check.options["compare"]):
            if entry.expect is not None:
                comparisons.append(self.compare_expectation(check, case, entry, expected[entry.name],
                                                            actual.get(entry.name)))
        return comparisons

    def compare_expectation(self, check, case, entry: Entry, expected, value) -> Comparison:
        label = entry.label or entry.expr
        if entry.shape is not None and isinstance(value, np.ndarray):
            shape = tuple(int(side) for side in generators.evaluate(entry.shape, case.params))
            if value.shape != shape:
                comparison = Comparison(label, "shape", f"{label}: expected shape {shape}, got {value.shape}")
                comparison.output = entry.name
                return comparison
        if entry.statistic and isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.size:
            value = np.asarray(STATISTICS[entry.statistic](value.astype(np.float64)))
            label = f"{entry.statistic}({label})"
        base = check.tolerance.get("float64")
        tolerance = Tolerance(entry.rtol if entry.rtol is not None else base.rtol,
                              entry.atol if entry.atol is not None else 0.0)
        table = {dtype: tolerance for dtype in ("float16", "float32", "float64")}
        comparison = compare_arrays(label, expected, value, table, None, "squeeze", case.public)
        comparison.output = entry.name
        return comparison

    def mistake_outputs(self, check, mistake, arrays, case, ctx=None) -> dict:
        """What the course-layout reference computes on these inputs with ``mistake`` patched in."""
        from ..mutation import patched
        compiler = self.compile_for(check, case.params).compiler
        with patched({mistake.kernel: mistake.variant}, "reference"):
            return {name: value for name, value in self.reference_values(check, compiler, arrays).items()
                    if isinstance(value, np.ndarray)}


class _CompiledView:
    """A compilation's program and names, with the compiler kept for output lookups."""

    def __init__(self, compiler: statements.Compiler):
        self.compiler = compiler
        self.called = compiler.compiled.called
        self.unpacked = compiler.compiled.unpacked


# --- gradient check ---------------------------------------------------------------------------------------

@register
class GradientCheck(StatementKind):
    """L = output (a scalar) or sum(output * dout); every listed gradient against central differences of L."""

    name = "function.gradcheck"
    statement_options = ("forward", "backward")
    expression_options = ("output",)
    options_properties = {**COMMON_OPTIONS, "forward": STATEMENTS, "backward": STATEMENTS,
                          "output": {"type": "string"}, "dout": {"type": ["string", "null"]},
                          "gradients": {"type": "object", "minProperties": 1,
                                        "additionalProperties": {"type": "string"}},
                          "directions": {"type": "integer", "minimum": 1, "maximum": 8},
                          "coordinates": {"type": "integer", "minimum": 0, "maximum": 50}}
    outputs = (OutputSpec("gradient", display="none"),)

    def validate(self, check):
        for key in ("forward", "output", "gradients"):
            if key not in check.options:
                raise KindConfigError(f"kind function.gradcheck needs options.{key}", ("options",))
        super().validate(check)
        inputs = self.input_specs(check)
        for name in check.options["gradients"]:
            if name not in inputs:
                raise KindConfigError(f"{name!r} is not an input of this check", ("options", "gradients", name))

    def expressions(self, check):
        return [check.options["output"]] + list(check.options.get("gradients", {}).values())

    def compile_for(self, check, params):
        compiler = self.start(check, params).statements(self.parsed(check, "forward")
                                                                     + self.parsed(check, "backward"))
        compiler.output("__output", check.options["output"])
        for name, expression in check.options["gradients"].items():
            compiler.output(f"grad:{name}", expression)
        return _CompiledView(compiler)

    def needs_reference(self, check):
        return False

    def expected(self, check, case, arrays, ctx):
        return {}

    def execute(self, session, check, case, arrays, ctx):
        compiled = self.compile_for(check, case.params)
        values, reply = self.run_child(session, check, compiled.compiler, arrays, self.doing(check))
        if "__structure__" in values:
            return Execution(values, [reply])
        floats = [value.dtype for value in values.values() if isinstance(value, np.ndarray) and value.dtype.kind == "f"]
        dtype = min(floats, key=lambda d: d.itemsize).name if floats else "float64"
        step = GRADCHECK_STEP.get(dtype, GRADCHECK_STEP["float64"])
        perturbations = self.perturbations(check, case, arrays, step)
        # one program: the forward once per perturbed input, each under its own names
        program = statements.Program()
        self.start(check, case.params, program=program)
        forward, names, perturbed_arrays = self.parsed(check, "forward"), [], {}
        for index, (input_name, _, _, perturbed) in enumerate(perturbations):
            label = f"__p{index}"
            compiler = self.compiler(check, case.params, rename={input_name: f"{input_name}{label}"}, suffix=label,
                                     program=program, send_returned=False)
            compiler.statements(forward).output(label, check.options["output"])
            names.append(compiler.outputs[label])
            perturbed_arrays[f"{input_name}{label}"] = perturbed
        reply2 = session.run(program.to_dict(), {**arrays, **perturbed_arrays}, timeout=check.timeout, fresh=True)
        if reply2.status != "ok":
            raise ChildFailure(reply2, f"{self.doing(check)} on perturbed inputs")
        values["perturbed"] = [reply2.values.get(name) for name in names]
        values["perturbations"] = [(name, kind, where) for name, kind, where, _ in perturbations]
        values["step"], values["dtype"] = step, dtype
        return Execution(values, [reply, reply2])

    def perturbations(self, check, case, arrays, step) -> list:
        """(input, "direction" | "coordinate", direction array or flat index, perturbed array) for + and -."""
        rng = np.random.default_rng(case.seed + 1)
        found = []
        for name in check.options["gradients"]:
            base = arrays[name]
            for _ in range(check.options.get("directions", 2)):
                direction = rng.standard_normal(base.shape)
                direction /= max(np.sqrt(np.mean(direction * direction)), 1e-300)
                for sign in (1, -1):
                    found.append((name, "direction", direction, (base + sign * step * direction).astype(base.dtype)))
            count = min(check.options.get("coordinates", 3), base.size)
            for flat in rng.choice(base.size, size=count, replace=False) if count else ():
                for sign in (1, -1):
                    moved = base.copy()
                    moved.reshape(-1)[flat] += sign * step
                    found.append((name, "coordinate", int(flat), moved))
        return found

    def compare(self, check, case, arrays, expected, actual):
        if "__structure__" in actual:
            return [Comparison("return value", "type", actual["__structure__"])]
        output = actual.get("__output")
        dout_name = check.options.get("dout", "dout")
        if not isinstance(output, np.ndarray) or output.dtype.kind not in "fiu":
            return [Comparison("output", "type", f"{check.options['output']}: the forward did not return an array "
                               "of numbers")]
        scalar = output.size == 1
        if not scalar and (dout_name not in arrays or arrays[dout_name].shape != output.shape):
            shape = arrays[dout_name].shape if dout_name in arrays else "a scalar"
            return [Comparison("output", "shape", f"{check.options['output']} has shape {output.shape}; for these "
                               f"inputs it must be {shape}")]
        weight = (lambda out: float(np.sum(out.astype(np.float64)))) if scalar else \
            (lambda out: float(np.sum(out.astype(np.float64) * arrays[dout_name])))
        step, tolerance = actual["step"], GRADCHECK_TOLERANCE.get(actual["dtype"], GRADCHECK_TOLERANCE["float64"])
        results = {name: {"directional": [], "numeric": [], "analytic": []} for name in check.options["gradients"]}
        pairs = list(zip(actual["perturbations"], actual["perturbed"]))
        for (plus_meta, plus), (_, minus) in zip(pairs[0::2], pairs[1::2]):
            name, kind, where = plus_meta
            gradient = actual.get(f"grad:{name}")
            for value in (plus, minus):
                if not isinstance(value, np.ndarray) or np.shape(value) != np.shape(output):
                    return [Comparison("output", "shape", f"{check.options['output']}: the forward returned "
                                       f"{getattr(value, 'shape', type(value).__name__)} on a perturbed input, "
                                       f"{output.shape} on the original")]
            numeric = (weight(plus) - weight(minus)) / (2 * step)
            problem = _gradient_problem(check.options["gradients"][name], gradient, arrays[name])
            if problem:
                return [Comparison(check.options["gradients"][name], problem[0], problem[1])]
            gradient = gradient.astype(np.float64)
            if kind == "direction":
                analytic = float(np.sum(gradient * where))
                results[name]["directional"].append((numeric, analytic))
            else:
                results[name]["numeric"].append(numeric)
                results[name]["analytic"].append(float(gradient.reshape(-1)[where]))
        # Differences of L carry rounding of about eps * |L| / step: a derivative smaller than the floor
        # below (a bias before batch norm, whose true gradient is 0) is judged in absolute terms.
        noise = 20 * float(np.finfo(np.dtype(actual["dtype"])).eps) / step
        floor = max(1e-8, noise) * max(1.0, abs(weight(output)))
        return [self.judge(check, name, result, tolerance, step, floor) for name, result in results.items()]

    def judge(self, check, name: str, result: dict, tolerance: float, step: float, floor: float) -> Comparison:
        label = check.options["gradients"][name]
        errors = [abs(n - a) / max(abs(n), abs(a), floor) for n, a in result["directional"]]
        worst = max(errors, default=0.0)
        numeric, analytic = np.asarray(result["numeric"]), np.asarray(result["analytic"])
        metrics = {"directional_error": worst, "tolerance": tolerance, "step": step,
                   "coordinates": int(numeric.size)}
        if numeric.size:
            metrics["max_rel_error"] = float(np.max(np.abs(numeric - analytic) /
                                                    np.maximum(1e-8, np.abs(numeric) + np.abs(analytic))))
        notebook = check.options.get("notebook")
        if notebook:
            metrics["notebook_rel_error"] = notebook["rel_error"]
        comparison = Comparison(label, None, "", metrics)
        if worst > tolerance:
            n, a = result["directional"][int(np.argmax(errors))]
            comparison.problem = "values"
            comparison.message = (f"{label} disagrees with finite differences of your own forward: along a random "
                                  f"direction the forward changes at rate {n:.6g}, your gradient predicts {a:.6g} "
                                  f"(relative error {worst:.2g}, allowed {tolerance:g})")
            if "max_rel_error" in metrics:
                comparison.message += (f"; CS231n's rel_error on {numeric.size} coordinates: "
                                       f"{metrics['max_rel_error']:.2e}")
                if notebook:
                    comparison.message += f" (the notebook asks for {notebook.get('says') or notebook['rel_error']})"
        comparison.output = "gradient"
        return comparison


def _gradient_problem(label: str, gradient, base: np.ndarray):
    if not isinstance(gradient, np.ndarray) or gradient.dtype.kind not in "fiu":
        kind = getattr(gradient, "kind", None)
        what = "None" if kind == "none" else getattr(gradient, "type_name", type(gradient).__name__)
        return "type", f"{label}: expected an array of numbers, got {what}"
    if gradient.shape != base.shape:
        return "shape", (f"{label} has shape {gradient.shape}; the gradient of an input has the input's shape "
                         f"{base.shape}")
    if not np.all(np.isfinite(gradient)):
        return "nonfinite", f"{label} contains NaN or infinite values"
    return None


# --- training on a tiny set -------------------------------------------------------------------------------

@register
class TrainCheck(StatementKind):
    """A few steps of the student's own update rule on the student's loss and gradients, all in one program
    (the notebook's Solver, unrolled): the model must then classify its tiny training set."""

    name = "function.train"
    statement_options = ("setup", "loss", "scores")
    expression_options = ("params", "config")
    options_properties = {**COMMON_OPTIONS, "setup": STATEMENTS, "loss": {"type": "string"},
                          "scores": {"type": "string"}, "params": {"type": "string"},
                          "names": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                          "labels": {"type": "string"}, "grads": {"type": "string"},
                          "update": {"type": "string"}, "config": {"type": "string"},
                          "iterations": {"type": "integer", "minimum": 1, "maximum": 500},
                          "accuracy": {"type": "number", "minimum": 0, "maximum": 1}}
    outputs = (OutputSpec("training", display="none"),)

    def validate(self, check):
        for key in ("setup", "loss", "scores", "params", "names", "labels", "update"):
            if key not in check.options:
                raise KindConfigError(f"kind function.train needs options.{key}", ("options",))
        super().validate(check)

    def expressions(self, check):
        return [check.options["params"], check.options.get("config", "{}")]

    def compile_for(self, check, params):
        options, names = check.options, check.options["names"]
        grads = options.get("grads", "grads")
        compiler = self.start(check, params).statements(self.parsed(check, "setup"))
        compiler.statements(statements.parse([f"config_{index} = {options.get('config', '{}')}"
                                              for index, _ in enumerate(names)]))
        for iteration in range(options.get("iterations", 50)):
            # the returned values' types are checked on the first step only: one tuple per parameter is enough
            compiler.send_returned = iteration == 0
            lines = [options["loss"]]
            for index, name in enumerate(names):
                lines += [f"updated_{index}, config_{index} = {options['update']}({options['params']}[{name!r}], "
                          f"{grads}[{name!r}], config_{index})",
                          f"{options['params']}[{name!r}] = updated_{index}"]
            compiler.statements(statements.parse(lines))
            compiler.output(f"loss{iteration}", "loss")
        compiler.statements(self.parsed(check, "scores")).output("scores", "scores")
        return _CompiledView(compiler)

    def needs_reference(self, check):
        return False

    def expected(self, check, case, arrays, ctx):
        return {}

    def execute(self, session, check, case, arrays, ctx):
        compiler = self.compile_for(check, case.params).compiler
        values, reply = self.run_child(session, check, compiler, arrays, f"{self.doing(check)} (training)")
        if "__structure__" in values:
            return Execution(values, [reply])
        losses = [values.get(f"loss{iteration}") for iteration in range(check.options.get("iterations", 50))]
        return Execution({"losses": losses, "scores": values.get("scores")}, [reply])

    def compare(self, check, case, arrays, expected, actual):
        if "__structure__" in actual:
            return [Comparison("training", "type", actual["__structure__"])]
        bad = next((loss for loss in actual["losses"] if not isinstance(loss, np.ndarray) or loss.size != 1
                    or loss.dtype.kind not in "fiu"), None)
        if bad is not None:
            return [Comparison("training", "type", f"{check.options['loss']}: the loss is not a number")]
        losses = [float(loss.reshape(-1)[0]) for loss in actual["losses"]]
        scores, labels = actual["scores"], arrays[check.options["labels"]]
        if not isinstance(scores, np.ndarray) or scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
            return [Comparison("training", "shape", f"{check.options['scores']}: expected scores of shape "
                               f"({labels.shape[0]}, classes), got {getattr(scores, 'shape', type(scores).__name__)}")]
        accuracy = float(np.mean(np.argmax(scores, axis=1) == labels))
        required = check.options.get("accuracy", 1.0)
        metrics = {"initial_loss": losses[0], "final_loss": losses[-1], "iterations": len(losses),
                   "train_accuracy": accuracy, "required_accuracy": required}
        comparison = Comparison("training", None, "", metrics)
        comparison.output = "training"
        if not all(math.isfinite(loss) for loss in losses):
            comparison.problem = "nonfinite"
            comparison.message = f"the loss became NaN or infinite during training (first value {losses[0]:.4g})"
        elif accuracy < required:
            comparison.problem = "values"
            comparison.message = (f"after {len(losses)} steps of {check.options['update']} on {labels.shape[0]} "
                                  f"samples your model classifies {accuracy:.0%} of them correctly (loss "
                                  f"{losses[0]:.4g} -> {losses[-1]:.4g}); a correct model reaches {required:.0%}: "
                                  "the loss or its gradients are wrong somewhere the per-function checks do not reach")
        return [comparison]


# --- helpers ----------------------------------------------------------------------------------------------

def _defining_kernel(package: str, module: str, name: str) -> str:
    """``<module>.<name>`` below ``reference.``, named where the reference defines it: a year variant
    (reference.cs231n_2017) re-exports most functions of its base package, whose mistakes then apply."""
    import importlib
    try:
        found = getattr(importlib.import_module(f"{package}.{module}"), name)
        home = getattr(found, "__module__", None)
        if isinstance(home, str) and home.startswith("reference.") and getattr(found, "__name__", None) == name:
            return f"{home.removeprefix('reference.')}.{name}"
    except (ImportError, AttributeError):
        pass
    return f"{package.removeprefix('reference.')}.{module}.{name}"


def _provided_source(alias: str) -> str:
    import importlib
    import inspect
    return inspect.getsource(importlib.import_module(f"{__package__}.{PROVIDED[alias]}"))


def _module_name(file: str) -> str:
    return file[:-3].replace("/", ".")


def _as_statement(expression: str):
    return statements.parse([f"_ = {expression}"])[0]


def _names_read(statement) -> set[str]:
    import ast
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _placeholder_params(check) -> dict:
    return dict(check.cases[0].params) if check.cases else {}
