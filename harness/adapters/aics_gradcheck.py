"""Finite-difference checks: is the student's backward the gradient of the student's own forward?

No reference is needed, which makes these checks fit for the student kit.
For a few random directions v (seeded), the directional derivative of
L(x) = sum(forward(x) * dout) is estimated by central differences from the
forward outputs the child returns, (L(x + h v) - L(x - h v)) / 2h, and
compared with sum(backward(dout) * v); the same for every parameter of a
layer that has them (weight and bias through load_param, against d_weight and
d_bias). The course's backward computes exactly these: d_weight =
input.T @ top_diff and d_bias = top_diff summed over the batch (the notes'
ones([1, N]) @ top_diff; the conv layer's += over n, h, w), the gradients of
L for the batch, which update_param then uses as they are. The parent does the
arithmetic: the child only runs forward passes, so a submission cannot fake
the estimate. Loss layers (forward(x, target) -> scalar) use
L = forward(x, target).

Inputs avoid kinks: ReLU inputs stay away from 0 and max-pool inputs have no
ties closer than the step, so the estimate is exact up to rounding.
"""
from __future__ import annotations

import numpy as np

from ..compare import Comparison, judged_dtype, nonfinite_problem, precision_problem
from .aics_layers import LossBackward, run_program
from .base import Execution, Kind, KindConfigError, OutputSpec
from .program import Program, ref
from .registry import get, register

TOLERANCE = {"float64": 1e-6, "float32": 2e-2, "float16": 1e-1}
# (gradient the backward sets, prefix of the perturbed forwards' outputs, prefix of the directions)
PARAMETERS = (("bottom_diff", "x", "v"), ("d_weight", "w", "w"), ("d_bias", "b", "b"))
PARAMETER_OF = {"d_weight": "weight", "d_bias": "bias"}
STEP = {"float64": 1e-6, "float32": 1e-2, "float16": 1e-1}


@register
class GradCheck(Kind):
    name = "aics.gradcheck"
    outputs = (OutputSpec("directional_derivatives", display="none"),)
    options_properties = {"of": {"type": "string"}, "directions": {"type": "integer", "minimum": 1, "maximum": 8}}
    supports_property = True

    def wrapped(self, check):
        """The backward kind whose construction, inputs and method names this check reuses."""
        return get(check.options["of"])

    @property
    def roles(self):                            # validated through the wrapped kind
        return ("init", "load", "forward", "backward")

    def validate(self, check):
        wrapped = get(check.options.get("of", ""))
        if wrapped is None or not hasattr(wrapped, "calls") or not wrapped.name.endswith(".backward"):
            raise KindConfigError("options.of must name a backward kind (e.g. aics.conv.backward)", ("options", "of"))
        super().validate(check)

    def case_schema(self, check):
        return self.wrapped(check).case_schema(check)

    def validate_case(self, check, case, key_path):
        self.wrapped(check).validate_case(check, case, key_path)

    def strategy(self, check):
        return self.wrapped(check).strategy(check)

    def called_methods(self, check):
        """The forward and backward it runs (for harness.root_cause)."""
        wrapped = self.wrapped(check)
        return [wrapped.method(check, "forward"), wrapped.method(check, "backward")]

    def constructor_values_keys(self):
        return ()

    def make_inputs(self, check, case, ctx):
        arrays = self.wrapped(check).make_inputs(check, case, ctx)
        rng = np.random.default_rng(case.seed + 1)
        for index in range(check.options.get("directions", 3)):
            arrays[f"v{index}"] = _unit(rng, arrays["x"].shape)
            if "weight" in arrays:
                arrays[f"w{index}"] = _unit(rng, arrays["weight"].shape)
                arrays[f"b{index}"] = _unit(rng, arrays["bias"].shape)
        return arrays

    def needs_reference(self, check):
        return False

    def expected(self, check, case, arrays, ctx):
        return {}            # judged against the submission's own forward, not the reference

    def execute(self, session, check, case, arrays, ctx):
        wrapped, is_loss = self.wrapped(check), isinstance(self.wrapped(check), LossBackward)
        with_weight = "weight" in arrays and not is_loss

        def first_program(plan):
            # one forward, then one backward on the same layer, as the course calls them
            program = wrapped.build(check, case, plan)
            forward, backward = wrapped.method(check, "forward", plan), wrapped.method(check, "backward", plan)
            if is_loss:
                program.call(f"layer.{forward}", ref("x"), ref("target"), as_="output")
                program.call(f"layer.{backward}", ref("x"), ref("target"), as_="bottom_diff")
            else:
                program.call(f"layer.{forward}", ref("x"), as_="output")
                program.call(f"layer.{backward}", ref("dout"), as_="bottom_diff")
                if with_weight:
                    program.get("layer.d_weight", as_="d_weight").get("layer.d_bias", as_="d_bias")
            return program.output(*(["output", "bottom_diff"] + (["d_weight", "d_bias"] if with_weight else [])))

        forward, backward = wrapped.method(check, "forward"), wrapped.method(check, "backward")
        values, reply, plan = wrapped.run_dispatched(session, check, ctx, first_program, arrays,
                                                     f"running {forward} and {backward}")
        # The step follows the precision the check is judged at (see harness.compare.judged_dtype): the
        # inputs' dtype, lowered to float32 at most by what the submission returned.
        dtype = judged_dtype(arrays["x"].dtype, *[value.dtype for value in values.values()
                                                  if isinstance(value, np.ndarray)]).name
        step = STEP[dtype]
        perturbed = self._perturbed_inputs(arrays, step, check.options.get("directions", 3))
        second = wrapped.build(check, case, plan)
        forward = wrapped.method(check, "forward", plan)
        for name, (x_name, parameters) in perturbed["calls"].items():
            if "weight" in arrays:        # every forward sees exactly the parameters its estimate assumes
                weight_name, bias_name = parameters or ("weight", "bias")
                second.call(f"layer.{wrapped.method(check, 'load')}", ref(weight_name), ref(bias_name))
            args = [ref(x_name)] + ([ref("target")] if is_loss else [])
            second.call(f"layer.{forward}", *args, as_=name)
        second.output(*perturbed["calls"])
        more, reply2 = run_program(session, second, {**arrays, **perturbed["arrays"]}, check.timeout,
                                   f"running {forward} on perturbed inputs")
        return Execution({**values, **more, "step": step, "dtype": dtype}, [reply, reply2])

    def _perturbed_inputs(self, arrays, step, directions) -> dict:
        """{"calls": output name -> (input, None or the (weight, bias) to load), "arrays": the perturbed arrays}."""
        calls, extra = {}, {}
        for index in range(directions):
            for sign, label in ((1, "plus"), (-1, "minus")):
                extra[f"x_{label}{index}"] = _moved(arrays, "x", f"v{index}", sign * step)
                calls[f"out_x_{label}{index}"] = (f"x_{label}{index}", None)
                if "weight" in arrays:
                    extra[f"w_{label}{index}"] = _moved(arrays, "weight", f"w{index}", sign * step)
                    extra[f"b_{label}{index}"] = _moved(arrays, "bias", f"b{index}", sign * step)
                    calls[f"out_w_{label}{index}"] = ("x", (f"w_{label}{index}", "bias"))
                    calls[f"out_b_{label}{index}"] = ("x", ("weight", f"b_{label}{index}"))
        return {"calls": calls, "arrays": extra}

    def compare(self, check, case, arrays, expected, actual):
        is_loss = isinstance(self.wrapped(check), LossBackward)
        tolerance = TOLERANCE[actual["dtype"]]
        parameters = PARAMETERS if "weight" in arrays and not is_loss else PARAMETERS[:1]
        problems, worst = [], 0.0
        for gradient_name, prefix, direction_prefix in parameters:
            estimates = []
            for index in range(check.options.get("directions", 3)):
                estimate = _estimate(arrays, actual, gradient_name, f"out_{prefix}_{{}}{index}",
                                     f"{direction_prefix}{index}", is_loss)
                if isinstance(estimate, Comparison):
                    return [estimate]
                worst = max(worst, estimate[2])
                estimates.append(estimate)
            bad = [estimate for estimate in estimates if estimate[2] > tolerance]
            if bad:
                numeric, analytic, error = bad[0]
                problems.append(f"{gradient_name} disagrees with finite differences of your own forward: "
                                f"along a random direction the forward changes at rate {numeric:.6g}, your "
                                f"gradient predicts {analytic:.6g} (relative error {error:.2g})"
                                + _scale_hint(gradient_name, estimates, tolerance, arrays["x"].shape[0]))
        metrics = {"max_rel_error": worst, "tolerance": tolerance, "step": actual["step"]}
        return [Comparison("gradient", "values" if problems else None, "; ".join(problems), metrics)]


def _moved(arrays: dict, name: str, direction: str, distance: float) -> np.ndarray:
    return (arrays[name] + distance * arrays[direction]).astype(arrays[name].dtype)


def _estimate(arrays: dict, actual: dict, gradient_name: str, outputs: str, direction_name: str, is_loss: bool):
    """(finite-difference rate of L along the direction, the rate ``gradient_name`` predicts, relative error),
    or the failed Comparison when the forward or the gradient cannot be used. ``outputs``: the names of the
    perturbed forwards' outputs, with {} for plus / minus."""
    direction, step = arrays[direction_name], actual["step"]
    plus, minus, gradient = actual.get(outputs.format("plus")), actual.get(outputs.format("minus")), \
        actual.get(gradient_name)
    if not all(isinstance(value, np.ndarray) for value in (plus, minus, gradient)):
        return Comparison("gradient", "type", f"{gradient_name}: the forward or backward did not return arrays")
    gradient = _as_shape(gradient, direction.shape)
    if gradient.shape != direction.shape:
        what = "input" if gradient_name == "bottom_diff" else PARAMETER_OF[gradient_name]
        return Comparison("gradient", "shape", f"{gradient_name} has shape {gradient.shape}, the {what} "
                          f"{direction.shape}")
    if not is_loss and plus.shape != arrays["dout"].shape:
        return Comparison("gradient", "shape", f"the forward output has shape {plus.shape}; for this input it "
                          f"must be {arrays['dout'].shape}")
    computed = arrays["x"].dtype
    unusable = _unusable(gradient_name, gradient, computed) or _unusable("the forward output", plus, computed) \
        or _unusable("the forward output", minus, computed)
    if unusable:
        return unusable
    weight = (lambda out: np.sum(out)) if is_loss else (lambda out: np.sum(out * arrays["dout"]))  # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):
        numeric = (weight(plus.astype(np.float64)) - weight(minus.astype(np.float64))) / (2 * step)
        analytic = float(np.sum(gradient.astype(np.float64) * direction))
        error = abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-12)
    if not np.isfinite(error):
        return Comparison("gradient", "nonfinite",
                          f"{gradient_name}: the finite-difference comparison overflowed (the forward changes at "
                          f"rate {numeric:.6g}, the gradient predicts {analytic:.6g}): values this large are not "
                          "a usable gradient", {"max_rel_error": float("inf")})
    return numeric, analytic, error


def _as_shape(gradient: np.ndarray, shape: tuple) -> np.ndarray:
    """``gradient`` in the parameter's shape when it differs only by axes of length 1 (a bias [1, out] kept
    as [out], which the course's update_param broadcasts alike; fc.backward accepts it the same way)."""
    if gradient.shape != shape and gradient.size == int(np.prod(shape)) and \
            tuple(n for n in gradient.shape if n != 1) == tuple(n for n in shape if n != 1):
        return gradient.reshape(shape)
    return gradient


def _scale_hint(name: str, estimates: list, tolerance: float, batch: int) -> str:
    """When every direction says the same factor, the gradient is the true one scaled: say by how much."""
    ratios = [analytic / numeric for numeric, analytic, _ in estimates if numeric]
    if len(ratios) < len(estimates) or not ratios:
        return ""
    factor = float(np.median(ratios))
    if factor == 0 or any(abs(ratio - factor) > tolerance * 10 * abs(factor) for ratio in ratios):
        return ""
    if batch > 1 and abs(factor * batch - 1) < 1e-6:
        return (f"; your {name} is the gradient divided by {batch}, the batch size: the backward of a layer sums "
                "over the batch (the loss gradient that reaches it already carries the 1/N)")
    if abs(factor + 1) < 1e-6:
        return f"; your {name} has the opposite sign of the gradient"
    return f"; your {name} is the gradient multiplied by {factor:.6g}"


def _unusable(name: str, value: np.ndarray, computed) -> Comparison | None:
    """A failed comparison when ``value`` is not a float array, holds NaN or inf, or is less precise than the
    check accepts (float16 of a float64 check): the finite-difference estimate cannot be trusted then."""
    if value.dtype.kind != "f":
        return Comparison("gradient", "dtype", f"{name}: expected floating-point values, got dtype {value.dtype}")
    problem = nonfinite_problem(name, value)
    if problem:
        return Comparison("gradient", "nonfinite", problem,
                          {"nan": int(np.isnan(value).sum()), "inf": int(np.isinf(value).sum())})
    problem = precision_problem(name, value.dtype, computed)
    return Comparison("gradient", "dtype", problem) if problem else None


def _unit(rng: np.random.Generator, shape) -> np.ndarray:
    direction = rng.standard_normal(shape)
    return direction / np.sqrt(np.mean(direction * direction))
