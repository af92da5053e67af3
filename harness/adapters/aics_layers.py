"""The AICS course's layer classes (layers_1.py, layers_2.py, layers_3.py, the Adam optimizer).

Every check builds the layer the way the course driver does (constructor,
init_param, load_param), calls the method named in the spec by its own name
(forward_raw, backward_speedup, ...), and reads back what the course stores
as attributes (d_weight, d_bias) as well as what the method returns. The
caller's input arrays are sent back too, so a layer that modifies its input
in place is caught.

When a named method is missing (a student renamed backward_raw_book to
backward_raw), the check goes the course's own way instead: the template's
constructor binds ``self.forward`` / ``self.backward`` to the raw methods,
or to the speedup ones when built with ``type=1``, and the course's driver
calls ``layer.backward``. The result carries a note saying so (CallPlan).

Each program constructs a fresh layer and calls one backward per forward,
as the course does: a backward may consume what its forward recorded.

Layouts are the course's: FC weight [in, out], bias [1, out]; conv weight
[Cin, K, K, Cout], bias [Cout]; feature maps NCHW.
"""
from __future__ import annotations

import numpy as np

from ..spec import Case, CheckSpec
from . import inputs as gen
from dataclasses import dataclass, field
from typing import Callable

from .base import (NON_NEGATIVE, NUMBER, POSITIVE, ChildFailure, Execution, Kind, KindConfigError, OutputSpec,
                   add_note, shape_schema)
from .program import Program, ref
from .registry import register

DEFAULT_METHODS = {"init": "init_param", "load": "load_param", "update": "update_param", "loss": "get_loss"}
RANGE = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}


def run_program(session, program: Program, arrays: dict, timeout: float, doing: str, fresh: bool = True) -> dict:
    """Run one program; return its values or raise ChildFailure with the reply."""
    reply = session.run(program.to_dict(), arrays, timeout=timeout, fresh=fresh)
    if reply.status != "ok":
        raise ChildFailure(reply, doing)
    return reply.values, reply


@dataclass(frozen=True)
class CallPlan:
    """How a check reaches the submission's methods: by the spec's names, except the roles in ``dispatched``
    (role -> the missing method name), which go through the attribute the course's constructor binds
    (``layer.forward`` / ``layer.backward``), the layer built with ``type`` (None: the constructor's default,
    as the course's driver builds its raw layer)."""

    dispatched: dict = field(default_factory=dict)
    type: int | None = None

    def attribute(self, role: str, method: str) -> str:
        return role if role in self.dispatched else method

    def note(self, class_name: str) -> str:
        if not self.dispatched:
            return ""
        built = "type 0" if self.type is None else f"type={self.type}"
        missing = " and ".join(self.dispatched.values())
        through = " and ".join(f"{class_name}.{role}" for role in self.dispatched)
        verb = "is" if len(self.dispatched) == 1 else "are"
        return f"{missing} {verb} missing; checked through {through} with {built}, as the course's driver calls it"


NO_PLAN = CallPlan()
# The attributes the course's constructors bind by `type` (self.forward = self.forward_raw, ...).
DISPATCHED_ROLES = ("forward", "backward")


def course_type(method: str) -> int | None:
    """The constructor's `type` that binds ``method``: 1 for the speedup paths, else the default (raw)."""
    return 1 if "speedup" in method else None


class AicsKind(Kind):
    """Shared plumbing: method names, construction, one-program execution."""

    layer = "layer"                     # the object's name inside the child program
    default_methods: dict[str, str] = {}
    uses_init_param = True
    uses_load_param = False

    def method(self, check: CheckSpec, role: str, plan: CallPlan = NO_PLAN) -> str:
        """The attribute a program calls for ``role``: the spec's method name, or the course's bound one."""
        name = check.target.methods.get(role) or self.default_methods.get(role) or DEFAULT_METHODS.get(role, role)
        return plan.attribute(role, name)

    def constructor_args(self, check: CheckSpec, case: Case, plan: CallPlan = NO_PLAN) -> list:
        values = self.constructor_values(case)
        order = check.target.constructor if check.target.constructor is not None else self.constructor
        # the course's driver passes type positionally: ConvolutionalLayer(3, 256, 256, 1, 1, 1)
        return [values[name] for name in order] + ([plan.type] if plan.type is not None else [])

    def constructor_values(self, case: Case) -> dict:
        return {}

    def constructor_values_keys(self) -> tuple[str, ...]:
        return self.constructor

    def build(self, check: CheckSpec, case: Case, plan: CallPlan = NO_PLAN) -> Program:
        """Import the module, construct the layer and load its parameters, as the course driver does."""
        program = Program().import_module(check.target.module, as_="module")
        program.call(f"module.{check.target.class_name}", *self.constructor_args(check, case, plan), as_=self.layer)
        if self.uses_init_param:
            program.call(f"{self.layer}.{self.method(check, 'init')}")
        if self.uses_load_param:
            program.call(f"{self.layer}.{self.method(check, 'load')}", ref("weight"), ref("bias"))
        return program

    def calls(self, check: CheckSpec, case: Case, program: Program, plan: CallPlan = NO_PLAN) -> None:
        raise NotImplementedError

    def execute(self, session, check: CheckSpec, case: Case, arrays: dict, ctx) -> Execution:
        def program(plan: CallPlan) -> Program:
            built = self.build(check, case, plan)
            self.calls(check, case, built, plan)
            return built
        values, reply, _ = self.run_dispatched(session, check, ctx, program, arrays, f"running {check.target.describe()}")
        return Execution(values, [reply])

    def called_methods(self, check: CheckSpec) -> list[str]:
        """The methods the check's programs call on the layer after building it (for harness.root_cause)."""
        case = check.cases[0] if check.cases else Case("property", 0, {}, check.dtype)
        program = Program()
        try:
            self.calls(check, case, program)
        except (KeyError, TypeError):          # calls that need a case's own parameters: every role may be called
            return [self.method(check, role) for role in self.roles if role not in ("init", "load")]
        prefix = f"{self.layer}."
        return list(dict.fromkeys(step["call"][len(prefix):] for step in program.steps
                                  if step.get("call", "").startswith(prefix)))

    # --- the course's dispatch, when a named method is missing ---------------------------------
    def run_dispatched(self, session, check: CheckSpec, ctx, make: Callable[[CallPlan], Program], arrays: dict,
                       doing: str, fresh: bool = True):
        """Run ``make(plan)``; when it fails because a method the spec names is missing, run it again through
        the course's dispatch for that role (remembered for the check's later cases). Returns
        (values, reply, plan) and notes the course's path on the check (base.add_note); raises ChildFailure with the first failure when the course's path is missing
        too, or with the course's path's own failure (its ``doing`` says which path ran)."""
        memo = getattr(ctx, "memo", None)
        key = ("course-dispatch", check.id)
        plan = memo.get(key, NO_PLAN) if memo is not None else NO_PLAN
        first_failure = None
        while True:
            now_doing = doing if not plan.dispatched else f"{doing} ({plan.note(check.target.class_name)})"
            try:
                values, reply = run_program(session, make(plan), arrays, check.timeout, now_doing, fresh=fresh)
            except ChildFailure as failure:
                wider = self.course_dispatch(check, failure.reply, plan)
                if wider is None:
                    missing_again = first_failure is not None and _missing_method(failure.reply) in plan.dispatched
                    raise (first_failure if missing_again else failure) from None
                first_failure = first_failure or failure
                plan = wider
                continue
            if memo is not None:
                memo[key] = plan
            add_note(ctx, check.id, plan.note(check.target.class_name))
            return values, reply, plan

    def course_dispatch(self, check: CheckSpec, reply, plan: CallPlan) -> CallPlan | None:
        """The plan that reaches a missing method the course's way, or None when the failure is not that."""
        missing = _missing_method(reply)
        if not missing:
            return None
        for role in DISPATCHED_ROLES:
            if role not in self.roles:
                continue
            name = self.method(check, role)
            if name != missing or role == name or role in plan.dispatched:
                continue
            wanted = course_type(name)
            if plan.dispatched and wanted != plan.type:
                return None                 # the roles would need layers of two types
            return CallPlan({**plan.dispatched, role: name}, wanted)
        return None


# --- fully connected (layers_1.FullyConnectedLayer) ------------------------------------------------

class FcKind(AicsKind):
    roles = ("init", "load", "forward", "backward", "update")
    constructor = ("num_input", "num_output")
    uses_load_param = True
    case_properties = {"batch": POSITIVE, "num_input": POSITIVE, "num_output": POSITIVE, "lr": NUMBER}
    required_case_keys = ("batch", "num_input", "num_output")

    def constructor_values(self, case):
        return {"num_input": case.params["num_input"], "num_output": case.params["num_output"]}

    def make_inputs(self, check, case, ctx):
        p, rng = case.params, gen.rng_for(case.seed)
        return {
            "x": gen.normal(rng, (p["batch"], p["num_input"]), case.dtype),
            "weight": gen.normal(rng, (p["num_input"], p["num_output"]), case.dtype, 1 / np.sqrt(p["num_input"])),
            "bias": gen.normal(rng, (1, p["num_output"]), case.dtype),
            "dout": gen.normal(rng, (p["batch"], p["num_output"]), case.dtype),
        }

    def reference(self, arrays):
        from reference.layers import dense
        output = dense.fc_forward(arrays["x"], arrays["weight"], arrays["bias"])
        dx, dweight, dbias = dense.fc_backward(arrays["dout"], arrays["x"], arrays["weight"], arrays["bias"])
        return output, dx, dweight, dbias


@register
class FcForward(FcKind):
    name = "aics.fc.forward"
    kernel = "fc_forward"

    def variant_outputs(self, variant, arrays, case):
        return {"output": variant(arrays["x"], arrays["weight"], arrays["bias"])}
    outputs = (OutputSpec("output"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="output").output("output", "x")

    def expected(self, check, case, arrays, ctx):
        return {"output": self.reference(arrays)[0], "x": arrays["x"]}


@register
class FcBackward(FcKind):
    name = "aics.fc.backward"
    kernel = "fc_backward"

    def variant_outputs(self, variant, arrays, case):
        dx, dweight, dbias = variant(arrays["dout"], arrays["x"], arrays["weight"], arrays["bias"])
        return {"bottom_diff": dx, "d_weight": dweight, "d_bias": dbias}
    outputs = (OutputSpec("bottom_diff"), OutputSpec("d_weight"), OutputSpec("d_bias", shape_policy="squeeze"),
               OutputSpec("dout", "unchanged", label="top_diff"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"), as_="bottom_diff")
        program.get("layer.d_weight", as_="d_weight").get("layer.d_bias", as_="d_bias")
        program.output("bottom_diff", "d_weight", "d_bias", "dout")

    def expected(self, check, case, arrays, ctx):
        _, dx, dweight, dbias = self.reference(arrays)
        return {"bottom_diff": dx, "d_weight": dweight, "d_bias": dbias, "dout": arrays["dout"]}


@register
class FcUpdate(FcKind):
    name = "aics.fc.update"
    outputs = (OutputSpec("weight"), OutputSpec("bias", shape_policy="squeeze"))

    def make_inputs(self, check, case, ctx):
        arrays = super().make_inputs(check, case, ctx)
        arrays["lr"] = np.asarray(case.params.get("lr", 0.1), dtype=np.float64)
        return arrays

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"))
        program.get("layer.d_weight", as_="d_weight")       # its dtype tells the precision the update used
        program.call(f"layer.{self.method(check, 'update', plan)}", float(case.params.get("lr", 0.1)))
        program.get("layer.weight", as_="weight").get("layer.bias", as_="bias").output("weight", "bias", "d_weight")

    def expected(self, check, case, arrays, ctx):
        _, _, dweight, dbias = self.reference(arrays)
        lr = float(arrays["lr"])
        return {"weight": arrays["weight"] - lr * dweight, "bias": arrays["bias"] - lr * dbias}


# --- ReLU (layers_1.ReLULayer) -------------------------------------------------------------------

class ReluKind(AicsKind):
    roles = ("forward", "backward")
    uses_init_param = False
    case_properties = {"shape": shape_schema(1, 4)}
    required_case_keys = ("shape",)

    def make_inputs(self, check, case, ctx):
        rng = gen.rng_for(case.seed)
        shape = case.params["shape"]
        return {"x": gen.away_from_zero(rng, shape, case.dtype), "dout": gen.normal(rng, shape, case.dtype)}


@register
class ReluForward(ReluKind):
    name = "aics.relu.forward"
    kernel = "relu_forward"

    def variant_outputs(self, variant, arrays, case):
        x = arrays["x"]
        output = variant(x)
        return {"output": output, "x": x}
    outputs = (OutputSpec("output"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="output").output("output", "x")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import activations
        return {"output": activations.relu_forward(arrays["x"]), "x": arrays["x"]}


@register
class ReluBackward(ReluKind):
    name = "aics.relu.backward"
    kernel = "relu_backward"

    def variant_outputs(self, variant, arrays, case):
        return {"bottom_diff": variant(arrays["dout"], arrays["x"])}
    outputs = (OutputSpec("bottom_diff"), OutputSpec("dout", "unchanged", label="top_diff"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"), as_="bottom_diff")
        program.output("bottom_diff", "dout")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import activations
        return {"bottom_diff": activations.relu_backward(arrays["dout"], arrays["x"]), "dout": arrays["dout"]}


# --- softmax with loss (layers_1.SoftmaxLossLayer) -------------------------------------------------

class SoftmaxKind(AicsKind):
    roles = ("forward", "loss", "backward")
    uses_init_param = False
    case_properties = {"batch": POSITIVE, "classes": POSITIVE, "scale": NUMBER, "offset": NUMBER}
    required_case_keys = ("batch", "classes")

    def make_inputs(self, check, case, ctx):
        p, rng = case.params, gen.rng_for(case.seed)
        # A large offset (e.g. 1000) makes exp overflow unless the maximum is subtracted first.
        logits = rng.standard_normal((p["batch"], p["classes"])) * p.get("scale", 1.0) + p.get("offset", 0.0)
        return {"x": logits.astype(case.dtype), "label": gen.labels(rng, p["batch"], p["classes"])}

    def reference(self, arrays):
        from reference.layers import losses
        return losses.aics_softmax_loss(arrays["x"], arrays["label"])


@register
class SoftmaxForward(SoftmaxKind):
    name = "aics.softmax.forward"
    kernel = "softmax_forward"

    def variant_outputs(self, variant, arrays, case):
        return {"prob": variant(arrays["x"])}
    outputs = (OutputSpec("prob"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="prob").output("prob", "x")

    def expected(self, check, case, arrays, ctx):
        prob, _, _ = self.reference(arrays)
        return {"prob": prob, "x": arrays["x"]}


@register
class SoftmaxLoss(SoftmaxKind):
    name = "aics.softmax.loss"
    kernel = "cross_entropy"

    def variant_outputs(self, variant, arrays, case):
        prob, _, _ = self.reference(arrays)
        return {"loss": np.asarray(variant(prob, arrays["label"]))}
    outputs = (OutputSpec("loss", shape_policy="squeeze"),)

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'loss', plan)}", ref("label"), as_="loss").output("loss")

    def expected(self, check, case, arrays, ctx):
        _, loss, _ = self.reference(arrays)
        return {"loss": np.asarray(loss)}


@register
class SoftmaxBackward(SoftmaxKind):
    name = "aics.softmax.backward"
    kernel = "softmax_backward"

    def variant_outputs(self, variant, arrays, case):
        prob, _, _ = self.reference(arrays)
        return {"bottom_diff": variant(prob, arrays["label"])}
    outputs = (OutputSpec("bottom_diff"),)

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'loss', plan)}", ref("label"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", as_="bottom_diff").output("bottom_diff")

    def expected(self, check, case, arrays, ctx):
        _, _, dx = self.reference(arrays)
        return {"bottom_diff": dx}


# --- convolution (layers_2.ConvolutionalLayer) ---------------------------------------------------

CONV_CASE = {"shape": shape_schema(4, 4), "channels_out": POSITIVE, "kernel": POSITIVE,
             "padding": NON_NEGATIVE, "stride": POSITIVE}
CONV_STRATEGY = {key: RANGE for key in ("batch", "channels_in", "channels_out", "height", "width",
                                        "kernel", "padding", "stride")}


def _check_window(case: Case, key_path: tuple, padding: int) -> None:
    _, _, height, width = case.params["shape"]
    kernel = case.params["kernel"]
    if kernel > min(height, width) + 2 * padding:
        raise KindConfigError(f"kernel {kernel} is larger than the padded input {height}x{width} "
                              f"(padding {padding})", key_path + ("kernel",))


class ConvKind(AicsKind):
    roles = ("init", "load", "forward", "backward")
    constructor = ("kernel", "channels_in", "channels_out", "padding", "stride")
    uses_load_param = True
    case_properties = CONV_CASE
    required_case_keys = tuple(CONV_CASE)
    strategy_properties = CONV_STRATEGY
    supports_property = True

    def validate_case(self, check, case, key_path):
        _check_window(case, key_path, case.params["padding"])

    def constructor_values(self, case):
        p = case.params
        return {"kernel": p["kernel"], "channels_in": p["shape"][1], "channels_out": p["channels_out"],
                "padding": p["padding"], "stride": p["stride"]}

    def make_inputs(self, check, case, ctx):
        p, rng = case.params, gen.rng_for(case.seed)
        n, c, h, w = p["shape"]
        k, cout = p["kernel"], p["channels_out"]
        out_h = (h + 2 * p["padding"] - k) // p["stride"] + 1
        out_w = (w + 2 * p["padding"] - k) // p["stride"] + 1
        return {
            "x": gen.normal(rng, (n, c, h, w), case.dtype),
            "weight": gen.normal(rng, (c, k, k, cout), case.dtype, 1 / np.sqrt(c * k * k)),   # [Cin, K, K, Cout]
            "bias": gen.normal(rng, (cout,), case.dtype),
            "dout": gen.normal(rng, (n, cout, out_h, out_w), case.dtype),
        }

    def reference_forward(self, arrays, case):
        from reference.layers import conv
        p = case.params
        return conv.conv2d_forward(arrays["x"], conv.aics_to_oihw(arrays["weight"]), arrays["bias"],
                                   stride=p["stride"], padding=p["padding"])

    def reference_backward(self, arrays, case):
        from reference.layers import conv
        p = case.params
        dx, dweight, dbias = conv.conv2d_backward(arrays["dout"], arrays["x"], conv.aics_to_oihw(arrays["weight"]),
                                                  stride=p["stride"], padding=p["padding"])
        return dx, conv.oihw_to_aics(dweight), dbias

    def strategy(self, check):
        return conv_case_strategy(check.property.strategy)


@register
class ConvForward(ConvKind):
    name = "aics.conv.forward"
    kernel = "conv_forward"

    def variant_outputs(self, variant, arrays, case):
        p = case.params
        return {"output": variant(arrays["x"], arrays["weight"], arrays["bias"], p["padding"], p["stride"])}
    outputs = (OutputSpec("output"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="output").output("output", "x")

    def expected(self, check, case, arrays, ctx):
        return {"output": self.reference_forward(arrays, case), "x": arrays["x"]}


@register
class ConvBackward(ConvKind):
    name = "aics.conv.backward"
    kernel = "conv_backward"

    def variant_outputs(self, variant, arrays, case):
        p = case.params
        dx, dweight, dbias = variant(arrays["dout"], arrays["x"], arrays["weight"], p["padding"], p["stride"])
        return {"bottom_diff": dx, "d_weight": dweight, "d_bias": dbias}
    outputs = (OutputSpec("bottom_diff"), OutputSpec("d_weight"), OutputSpec("d_bias", shape_policy="squeeze"),
               OutputSpec("dout", "unchanged", label="top_diff"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"), as_="bottom_diff")
        program.get("layer.d_weight", as_="d_weight").get("layer.d_bias", as_="d_bias")
        program.output("bottom_diff", "d_weight", "d_bias", "dout")

    def expected(self, check, case, arrays, ctx):
        dx, dweight, dbias = self.reference_backward(arrays, case)
        return {"bottom_diff": dx, "d_weight": dweight, "d_bias": dbias, "dout": arrays["dout"]}


def conv_case_strategy(ranges: dict):
    """Hypothesis strategy of valid conv case parameters within the spec's ranges."""
    from hypothesis import strategies as st

    def bounds(key, default):
        low, high = ranges.get(key, default)
        return st.integers(min_value=low, max_value=high)

    @st.composite
    def draw_case(draw):
        kernel = draw(bounds("kernel", (1, 4)))
        padding = draw(bounds("padding", (0, 2)))
        smallest = max(1, kernel - 2 * padding)
        height = draw(bounds("height", (1, 9)).filter(lambda size: size >= smallest))
        width = draw(bounds("width", (1, 9)).filter(lambda size: size >= smallest))
        return {
            "shape": [draw(bounds("batch", (1, 3))), draw(bounds("channels_in", (1, 4))), height, width],
            "channels_out": draw(bounds("channels_out", (1, 4))),
            "kernel": kernel, "padding": padding, "stride": draw(bounds("stride", (1, 3))),
        }

    return draw_case()


# --- max pooling (layers_2.MaxPoolingLayer) -----------------------------------------------------

POOL_CASE = {"shape": shape_schema(4, 4), "kernel": POSITIVE, "stride": POSITIVE}


class PoolKind(AicsKind):
    roles = ("forward", "backward")
    constructor = ("kernel", "stride")
    uses_init_param = False
    case_properties = POOL_CASE
    required_case_keys = tuple(POOL_CASE)
    strategy_properties = {key: RANGE for key in ("batch", "channels", "height", "width", "kernel", "stride")}
    supports_property = True

    def validate_case(self, check, case, key_path):
        _check_window(case, key_path, 0)

    def constructor_values(self, case):
        return {"kernel": case.params["kernel"], "stride": case.params["stride"]}

    def make_inputs(self, check, case, ctx):
        p, rng = case.params, gen.rng_for(case.seed)
        n, c, h, w = p["shape"]
        out_h, out_w = (h - p["kernel"]) // p["stride"] + 1, (w - p["kernel"]) // p["stride"] + 1
        return {"x": gen.distinct(rng, (n, c, h, w), case.dtype), "dout": gen.normal(rng, (n, c, out_h, out_w), case.dtype)}

    def strategy(self, check):
        from hypothesis import strategies as st
        ranges = check.property.strategy

        def bounds(key, default):
            low, high = ranges.get(key, default)
            return st.integers(min_value=low, max_value=high)

        @st.composite
        def draw_case(draw):
            kernel = draw(bounds("kernel", (1, 3)))
            height = draw(bounds("height", (1, 9)).filter(lambda size: size >= kernel))
            width = draw(bounds("width", (1, 9)).filter(lambda size: size >= kernel))
            return {"shape": [draw(bounds("batch", (1, 3))), draw(bounds("channels", (1, 3))), height, width],
                    "kernel": kernel, "stride": draw(bounds("stride", (1, 3)))}

        return draw_case()


@register
class PoolForward(PoolKind):
    name = "aics.pool.forward"
    kernel = "pool_forward"

    def variant_outputs(self, variant, arrays, case):
        return {"output": variant(arrays["x"], case.params["kernel"], case.params["stride"])}
    outputs = (OutputSpec("output"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="output").output("output", "x")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import pool
        p = case.params
        return {"output": pool.maxpool2d_forward(arrays["x"], p["kernel"], p["stride"]), "x": arrays["x"]}


@register
class PoolBackward(PoolKind):
    name = "aics.pool.backward"
    kernel = "pool_backward"

    def variant_outputs(self, variant, arrays, case):
        return {"bottom_diff": variant(arrays["dout"], arrays["x"], case.params["kernel"], case.params["stride"])}
    outputs = (OutputSpec("bottom_diff"), OutputSpec("dout", "unchanged", label="top_diff"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"), as_="bottom_diff")
        program.output("bottom_diff", "dout")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import pool
        p = case.params
        return {"bottom_diff": pool.maxpool2d_backward(arrays["dout"], arrays["x"], p["kernel"], p["stride"]),
                "dout": arrays["dout"]}


# --- flatten (layers_2.FlattenLayer) ---------------------------------------------------------------

class FlattenKind(AicsKind):
    roles = ("forward", "backward")
    constructor = ("input_shape", "output_shape")
    uses_init_param = False
    case_properties = {"shape": shape_schema(4, 4)}
    required_case_keys = ("shape",)

    def constructor_values(self, case):
        _, c, h, w = case.params["shape"]
        return {"input_shape": [c, h, w], "output_shape": [c * h * w]}

    def make_inputs(self, check, case, ctx):
        rng = gen.rng_for(case.seed)
        n, c, h, w = case.params["shape"]
        return {"x": gen.normal(rng, (n, c, h, w), case.dtype), "dout": gen.normal(rng, (n, c * h * w), case.dtype)}


@register
class FlattenForward(FlattenKind):
    name = "aics.flatten.forward"
    kernel = "flatten_forward"

    def variant_outputs(self, variant, arrays, case):
        return {"output": variant(arrays["x"])}
    outputs = (OutputSpec("output"), OutputSpec("x", "unchanged", label="input"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), as_="output").output("output", "x")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import flatten
        return {"output": flatten.flatten_nhwc_forward(arrays["x"]), "x": arrays["x"]}


@register
class FlattenBackward(FlattenKind):
    name = "aics.flatten.backward"
    kernel = "flatten_backward"

    def variant_outputs(self, variant, arrays, case):
        return {"bottom_diff": variant(arrays["dout"], arrays["x"].shape)}
    outputs = (OutputSpec("bottom_diff"),)

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("dout"), as_="bottom_diff").output("bottom_diff")

    def expected(self, check, case, arrays, ctx):
        from reference.layers import flatten
        return {"bottom_diff": flatten.flatten_nhwc_backward(arrays["dout"], arrays["x"].shape)}


# --- content and style losses (layers_3.py) -----------------------------------------------------

class LossLayerKind(AicsKind):
    """forward(input_layer, target) -> loss; backward(input_layer, target) -> bottom_diff."""

    roles = ("forward", "backward")
    uses_init_param = False
    case_properties = {"shape": shape_schema(4, 4)}
    required_case_keys = ("shape",)
    reference_name = ""

    def make_inputs(self, check, case, ctx):
        rng = gen.rng_for(case.seed)
        shape = case.params["shape"]
        return {"x": gen.normal(rng, shape, case.dtype), "target": gen.normal(rng, shape, case.dtype)}

    def reference(self, stage, arrays):
        from reference import style
        function = getattr(style, f"{self.reference_name}_{stage}")
        return function(arrays["x"], arrays["target"])


class LossForward(LossLayerKind):
    @property
    def kernel(self):
        return f"{self.reference_name}_forward"

    def variant_outputs(self, variant, arrays, case):
        return {"loss": np.asarray(variant(arrays["x"], arrays["target"]))}

    outputs = (OutputSpec("loss", shape_policy="squeeze"), OutputSpec("x", "unchanged", label="input_layer"))

    def calls(self, check, case, program, plan=NO_PLAN):
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), ref("target"), as_="loss").output("loss", "x")

    def expected(self, check, case, arrays, ctx):
        return {"loss": np.asarray(self.reference("forward", arrays)), "x": arrays["x"]}


class LossBackward(LossLayerKind):
    @property
    def kernel(self):
        return f"{self.reference_name}_backward"

    def variant_outputs(self, variant, arrays, case):
        return {"bottom_diff": variant(arrays["x"], arrays["target"])}

    outputs = (OutputSpec("bottom_diff"), OutputSpec("x", "unchanged", label="input_layer"))

    def calls(self, check, case, program, plan=NO_PLAN):
        # The course calls forward first; backward may rely on what forward stored (gram matrices).
        program.call(f"layer.{self.method(check, 'forward', plan)}", ref("x"), ref("target"))
        program.call(f"layer.{self.method(check, 'backward', plan)}", ref("x"), ref("target"), as_="bottom_diff")
        program.output("bottom_diff", "x")

    def expected(self, check, case, arrays, ctx):
        return {"bottom_diff": self.reference("backward", arrays), "x": arrays["x"]}


@register
class ContentLossForward(LossForward):
    name = "aics.content_loss.forward"
    reference_name = "content_loss"


@register
class ContentLossBackward(LossBackward):
    name = "aics.content_loss.backward"
    reference_name = "content_loss"


@register
class StyleLossForward(LossForward):
    name = "aics.style_loss.forward"
    reference_name = "style_loss"


@register
class StyleLossBackward(LossBackward):
    name = "aics.style_loss.backward"
    reference_name = "style_loss"


# --- Adam (exp_3_3_style_transfer.AdamOptimizer) --------------------------------------------------

@register
class AdamUpdate(AicsKind):
    """AdamOptimizer(lr, diff_shape).update(input, grad), several steps in a row on one optimizer."""

    name = "aics.adam.update"
    kernel = "adam_update"

    def variant_outputs(self, variant, arrays, case):
        lr, param, state, trajectory = float(case.params.get("lr", 1.0)), arrays["x0"].astype(np.float64), None, []
        for step in range(case.params["steps"]):
            param, state = variant(param, arrays[f"grad{step}"].astype(np.float64), state, lr)
            trajectory.append(param)
        return {"params": np.stack(trajectory)}
    roles = ("update",)
    default_methods = {"update": "update"}
    constructor = ("lr", "diff_shape")
    uses_init_param = False
    # grad_decades: the gradients' scales are drawn from 10 ** [low, high] (default [-3, 1])
    case_properties = {"shape": shape_schema(1, 4), "lr": NUMBER, "steps": {"type": "integer", "minimum": 1, "maximum": 20},
                       "grad_decades": {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2}}
    required_case_keys = ("shape", "steps")
    outputs = (OutputSpec("params"),)

    def constructor_values(self, case):
        return {"lr": float(case.params.get("lr", 1.0)), "diff_shape": list(case.params["shape"])}

    def make_inputs(self, check, case, ctx):
        rng = gen.rng_for(case.seed)
        shape, steps = case.params["shape"], case.params["steps"]
        arrays = {"x0": gen.normal(rng, shape, case.dtype)}
        low, high = case.params.get("grad_decades", (-3, 1))
        for step in range(steps):
            # Gradients of changing size and sign, so a missing bias correction or a wrong step count shows;
            # tiny ones (a case's grad_decades) make eps's place in 3.17 show whatever the seed.
            arrays[f"grad{step}"] = gen.normal(rng, shape, case.dtype, scale=10.0 ** rng.uniform(low, high))
        return arrays

    def calls(self, check, case, program, plan=NO_PLAN):
        update = f"layer.{self.method(check, 'update', plan)}"
        for step in range(case.params["steps"]):
            program.call(update, ref(f"x{step}"), ref(f"grad{step}"), as_=f"x{step + 1}")
        program.output(*[f"x{step + 1}" for step in range(case.params["steps"])])

    def execute(self, session, check, case, arrays, ctx):
        execution = super().execute(session, check, case, arrays, ctx)
        steps = case.params["steps"]
        values = execution.values
        missing = [f"x{step + 1}" for step in range(steps) if not isinstance(values.get(f"x{step + 1}"), np.ndarray)]
        if missing:
            execution.values = {"params": values.get(missing[0])}
        else:
            execution.values = {"params": np.stack([np.asarray(values[f"x{step + 1}"]) for step in range(steps)])}
        return execution

    def expected(self, check, case, arrays, ctx):
        from reference import optim
        lr, steps = float(case.params.get("lr", 1.0)), case.params["steps"]
        param, state, trajectory = arrays["x0"].astype(np.float64), None, []
        for step in range(steps):
            param, state = optim.adam(param, arrays[f"grad{step}"].astype(np.float64), state, learning_rate=lr)
            trajectory.append(param)
        return {"params": np.stack(trajectory)}


def _missing_method(reply) -> str | None:
    """The attribute a failed lookup by the harness itself did not find (never an AttributeError raised inside
    the submission's own code, which has a location in its files)."""
    error = getattr(reply, "error", None)
    if error is None or error.exc_type != "AttributeError" or error.file or not error.missing_name:
        return None
    return error.missing_name
