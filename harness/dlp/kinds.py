"""Check kinds of the DLP labs: the student's demo class run the way the course's driver runs it.

exp 3-2 (main_exp_3_2.py)::

    vgg = VGG19(); vgg.build_model(param_path=..., quant_param_path=...)   # pycnnl: param_path only
    vgg.load_model(); vgg.load_image('../cat1.jpg')
    vgg.forward(); result = vgg.net.getOutputData(); prob = max(result); top1 = result.index(prob)

exp 2-2 (main_exp_2_2.py)::

    mlp = MNIST_MLP(); mlp.build_model(batch_size=..., hidden1=..., hidden2=..., out_classes=10,
                                       quant_param_path=...)                # pycnnl: no quant_param_path
    mlp.load_model(weights); mlp.net.setInputData(batch.flatten().tolist()); mlp.forward()
    prob = np.array(mlp.net.getOutputData()).reshape((batch_size, out_classes))

The child imports ``pycnml`` / ``pycnnl`` through :mod:`provide` (the board's
module, or the emulation), and every check records which backend ran. The
outputs are judged against the float reference with tolerances for the
DLP's precision (the spec's float16 row for pycnml's int8/float16, float32
for pycnnl): the probabilities element by element (``atol`` relative to the
largest probability), and the classes by what that bound allows: a class
differing from the reference's passes only if the reference gives it a
probability within twice the bound of the top one (so a near tie may go
either way, a clear winner may not). ``dlp.forward_time`` times the
student's ``forward()`` against a bare ``net.forward()`` of the same network
in the same child: the course's performance criterion, without rewarding a
``forward()`` that skips the network.
"""
from __future__ import annotations

import math

import numpy as np

from ..adapters.base import NUMBER, POSITIVE, ChildFailure, Execution, Kind, KindConfigError, OutputSpec
from ..adapters.program import Program, ref
from ..adapters.registry import register
from ..compare import Comparison, compare_arrays
from ..errors import HarnessError
from .provide import describe_backend, emulated_flag, provide_step

APIS = ("pycnml", "pycnnl")
NETWORKS = ("vgg19", "mlp")
MLP_CASE = {"batch": POSITIVE, "hidden1": POSITIVE, "hidden2": POSITIVE, "weights_seed": {"type": "integer", "minimum": 0}}
CLASSES = 10
TIMING_MIN_SECONDS = 0.5           # the shortest timing loop; a slower forward runs once per loop
TIMING_MAX_REPEATS = 100


def _api(check) -> str:
    return check.options.get("api", "pycnml")


def _resources(ctx):
    resources = getattr(ctx.lab, "dlp", None)
    if resources is None:
        raise HarnessError(f"lab {ctx.lab.spec.lab}: DLP checks need `resources: {{dlp: true}}` in the spec")
    return resources


def _reply_failed(reply, doing: str):
    if reply.status != "ok":
        raise ChildFailure(reply, doing)
    return reply


# --- the driver's sequence ---------------------------------------------------------------------------

def _vgg_program(check, ctx) -> Program:
    methods, lab = check.target.methods, ctx.lab
    program = Program()
    program.steps.append(provide_step())
    program.import_module(check.target.module, as_="module")
    program.call(f"module.{check.target.class_name}", as_="net_owner")
    build = {"param_path": str(lab.weights_path)}
    if _api(check) == "pycnml":
        build["quant_param_path"] = str(_resources(ctx).vgg19_quant(lab))
    program.call(f"net_owner.{methods.get('build', 'build_model')}", **build)
    program.call(f"net_owner.{methods.get('load', 'load_model')}")
    program.call(f"net_owner.{methods.get('load_image', 'load_image')}", str(lab.image_path))
    program.call(f"net_owner.{methods.get('forward', 'forward')}")
    program.call("net_owner.net.getOutputData", as_="output")
    return program.output("output", "dlp_emulated")


def _mlp_program(check, case, ctx) -> Program:
    methods, params = check.target.methods, case.params
    files = _mlp_files(case, ctx)
    program = Program()
    program.steps.append(provide_step())
    program.import_module(check.target.module, as_="module")
    program.call(f"module.{check.target.class_name}", as_="net_owner")
    build = {"batch_size": params["batch"], "hidden1": params["hidden1"], "hidden2": params["hidden2"],
             "out_classes": CLASSES}
    if _api(check) == "pycnml":
        build["quant_param_path"] = str(files.quant_path)
    program.call(f"net_owner.{methods.get('build', 'build_model')}", **build)
    program.call(f"net_owner.{methods.get('load', 'load_model')}", str(files.weights_path))
    program.call("images.tolist", as_="data")                  # batch_images.flatten().tolist()
    program.call("net_owner.net.setInputData", ref("data"))
    program.call(f"net_owner.{methods.get('forward', 'forward')}")
    program.call("net_owner.net.getOutputData", as_="output")
    return program.output("output", "dlp_emulated")


def _mlp_files(case, ctx):
    params = case.params
    return _resources(ctx).mlp(params["hidden1"], params["hidden2"], params.get("weights_seed", 0))


def _run_key(network: str, check, case) -> tuple:
    """Checks whose runs are the same share one (the MLP's images come from the case's seed)."""
    seed = case.seed if network == "mlp" else None
    return ("dlp.run", network, check.target.key, _api(check), tuple(sorted(case.params.items())), seed)


def _setup(session, check, case, arrays, ctx, network: str):
    """The driver's run, once per submission, target and case: an Execution, or the ChildFailure."""
    key = _run_key(network, check, case)
    if key not in ctx.memo:
        program = _vgg_program(check, ctx) if network == "vgg19" else _mlp_program(check, case, ctx)
        sent = {} if network == "vgg19" else {"images": arrays["images"]}
        reply = session.run(program.to_dict(), sent, timeout=check.timeout, fresh=True)
        ctx.memo[key] = (ChildFailure(reply, f"running the {network.upper()} network as the course's driver does")
                         if reply.status != "ok" else Execution(dict(reply.values), [reply]))
    outcome = ctx.memo[key]
    if isinstance(outcome, ChildFailure):
        raise outcome
    return outcome


# --- comparisons -------------------------------------------------------------------------------------

def _probabilities(actual, shape, public: bool):
    """(getOutputData's values as an array of ``shape``, None) or (None, a Comparison saying why not)."""
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "fiu":
        return None, Comparison("output", "type", "net.getOutputData() did not return a sequence of numbers")
    if actual.size != int(np.prod(shape)):
        return None, Comparison("output", "shape", f"net.getOutputData() returned {actual.size} values; the course's "
                                f"driver reads {' x '.join(map(str, shape))} = {int(np.prod(shape))} (check the "
                                "network's last layers and the shapes given to them)",
                                {"expected_size": int(np.prod(shape)), "actual_size": int(actual.size)})
    return actual.astype(np.float64).reshape(shape), None


def _bound(check, dtype, expected: np.ndarray) -> float:
    """The largest difference a probability may show: atol times the largest reference probability."""
    tolerance = check.tolerance[dtype]
    return tolerance.atol * float(np.max(np.abs(expected)))


def _class_comparison(name: str, expected: np.ndarray, actual: np.ndarray, bound: float, public: bool) -> Comparison:
    """Rows' predicted classes (first maximum, as ``result.index(max(result))``) against the reference's."""
    rows = np.arange(expected.shape[0])
    reference, predicted = expected.argmax(axis=1), actual.argmax(axis=1)
    allowed = expected[rows, predicted] >= expected[rows, reference] - 2 * bound
    same = int(np.sum(predicted == reference))
    metrics = {"agree": same, "total": int(expected.shape[0]), "bound": bound,
               "accepted_near_ties": int(np.sum(allowed & (predicted != reference)))}
    if np.all(allowed):
        return Comparison(name, metrics=metrics)
    row = int(np.flatnonzero(~allowed)[0])
    where = f"sample {row}: " if expected.shape[0] > 1 else ""
    if public:
        detail = (f"{where}class {predicted[row]} (reference probability {expected[row, predicted[row]]:.4f}) instead "
                  f"of {reference[row]} ({expected[row, reference[row]]:.4f})")
    else:
        detail = f"{where}class {predicted[row]} is not the reference's class"
    return Comparison(name, "values", f"{name}: {int(np.sum(~allowed))} of {expected.shape[0]} classified differently "
                      f"from the float reference beyond the DLP's precision; {detail}", metrics)


def _top5_comparison(expected: np.ndarray, actual: np.ndarray, bound: float, public: bool) -> Comparison:
    """The reference's top-5 classes that no error within ``bound`` can push out must be in the DLP's top 5."""
    order = np.argsort(-expected, kind="stable")
    sixth = expected[order[5]]
    required = [int(c) for c in order[:5] if expected[c] - sixth > 2 * bound]
    theirs = [int(c) for c in np.argsort(-actual, kind="stable")[:5]]
    missing = [c for c in required if c not in theirs]
    metrics = {"overlap": len(set(theirs) & {int(c) for c in order[:5]}), "required": required, "top5": theirs}
    if not missing:
        return Comparison("top-5", metrics=metrics)
    shown = f"class {missing[0]} (reference probability {expected[missing[0]]:.4f})" if public else f"class {missing[0]}"
    return Comparison("top-5", "values", f"top-5: {shown} is missing from your top 5 {theirs}, though the DLP's "
                      "precision cannot explain its absence", metrics)


def _with_backend(comparisons: list[Comparison], actual: dict, api: str) -> list[Comparison]:
    emulated = emulated_flag(actual, api)
    if emulated is not None:
        for comparison in comparisons:
            comparison.metrics["backend"] = describe_backend(api, emulated)
    return comparisons


class _DlpKind(Kind):
    options_properties = {"api": {"enum": list(APIS)}}

    def validate(self, check):
        super().validate(check)
        if not check.cases:
            raise KindConfigError("needs one case", ())

    def tolerance_dtype(self, check) -> str:
        """pycnml computes in int8 and float16: the spec's float16 row; pycnnl in float32."""
        return "float16" if _api(check) == "pycnml" else "float32"


@register
class Vgg19Classify(_DlpKind):
    """exp 3-2: the student's VGG19 on pycnml / pycnnl classifies the lab's image; softmax and class."""

    name = "dlp.vgg19.classify"
    roles = ("build", "load", "load_image", "forward")
    outputs = (OutputSpec("softmax", shape_policy="squeeze", display="none"), OutputSpec("top1", "exact", display="none"))
    options_properties = {**_DlpKind.options_properties,
                          "pool5_tolerance": {"type": "object", "properties": {"rtol": NUMBER, "atol": NUMBER},
                                              "required": ["rtol", "atol"], "additionalProperties": False}}

    def make_inputs(self, check, case, ctx):
        from reference.vgg19 import preprocess
        lab = ctx.lab
        key = ("dlp.vgg19.image", str(lab.image_path))
        if key not in lab.expected_memo:
            try:
                rgb = preprocess.load_rgb(lab.image_path)
            except preprocess.ImageReadError as error:
                raise HarnessError(str(error)) from None
            lab.expected_memo[key] = preprocess.to_network_input(preprocess.resize_bilinear(rgb, (224, 224)),
                                                                 lab.vgg_params.mean_rgb)
        return {"image": lab.expected_memo[key]}

    def expected(self, check, case, arrays, ctx):
        lab = ctx.lab
        key = ("dlp.vgg19.expected", str(lab.weights_path), str(lab.image_path))
        if key not in lab.expected_memo:
            softmax = lab.reference_vgg.forward(arrays["image"].astype(np.float64), capture=("softmax",))["softmax"][0]
            lab.expected_memo[key] = {"softmax": softmax, "top1": np.asarray(int(np.argmax(softmax)))}
        return lab.expected_memo[key]

    def execute(self, session, check, case, arrays, ctx):
        run = _setup(session, check, case, arrays, ctx, "vgg19")
        output = run.values.get("output")
        values = {"softmax": output, "dlp_emulated": run.values.get("dlp_emulated")}
        if isinstance(output, np.ndarray) and output.size and output.dtype.kind in "fiu":
            values["top1"] = np.asarray(int(np.argmax(output)))
        else:
            values["top1"] = output
        return Execution(values, run.replies)

    def compare(self, check, case, inputs, expected, actual):
        dtype = self.tolerance_dtype(check)
        probabilities, problem = _probabilities(actual.get("softmax"), (1, expected["softmax"].size), case.public)
        wanted = [spec.name for spec in self.compared_outputs(check)]
        if problem is not None:
            problem.name = problem.output = wanted[0]
            return _with_backend([problem], actual, _api(check))
        reference = expected["softmax"].reshape(1, -1)
        bound = _bound(check, dtype, reference)
        comparisons = []
        if "softmax" in wanted:
            softmax = compare_arrays("softmax", reference[0], probabilities[0], check.tolerance,
                                     np.dtype(dtype), "exact", case.public)
            softmax.output = "softmax"
            top5 = _top5_comparison(reference[0], probabilities[0], bound, case.public)
            top5.output = "softmax"
            comparisons += [softmax, top5]
        if "top1" in wanted:
            top1 = _class_comparison("top-1 class", reference, probabilities, bound, case.public)
            top1.output = "top1"
            comparisons.append(top1)
        return _with_backend(comparisons, actual, _api(check))


@register
class MlpClassify(_DlpKind):
    """exp 2-2: the student's MNIST MLP on pycnml / pycnnl classifies a batch of digit images."""

    name = "dlp.mlp.classify"
    roles = ("build", "load", "forward")
    outputs = (OutputSpec("softmax", display="none"), OutputSpec("labels", "exact", display="none"))
    case_properties = MLP_CASE
    required_case_keys = ("batch", "hidden1", "hidden2")

    def make_inputs(self, check, case, ctx):
        from .mlp import digit_images
        return {"images": digit_images(case.params["batch"], seed=case.seed).astype(np.int64)}

    def expected(self, check, case, arrays, ctx):
        from .mlp import forward_float
        files = _mlp_files(case, ctx)
        softmax = forward_float(files.weights, arrays["images"])
        return {"softmax": softmax, "labels": softmax.argmax(axis=1)}

    def execute(self, session, check, case, arrays, ctx):
        run = _setup(session, check, case, arrays, ctx, "mlp")
        output = run.values.get("output")
        return Execution({"softmax": output, "labels": output, "dlp_emulated": run.values.get("dlp_emulated")},
                         run.replies)

    def compare(self, check, case, inputs, expected, actual):
        dtype = self.tolerance_dtype(check)
        reference = expected["softmax"]
        probabilities, problem = _probabilities(actual.get("softmax"), reference.shape, case.public)
        wanted = [spec.name for spec in self.compared_outputs(check)]
        if problem is not None:
            problem.name = problem.output = wanted[0]
            return _with_backend([problem], actual, _api(check))
        comparisons = []
        if "softmax" in wanted:
            softmax = compare_arrays("softmax", reference, probabilities, check.tolerance, np.dtype(dtype), "exact",
                                     case.public)
            softmax.output = "softmax"
            comparisons.append(softmax)
        if "labels" in wanted:
            labels = _class_comparison("labels", reference, probabilities, _bound(check, dtype, reference), case.public)
            labels.output = "labels"
            comparisons.append(labels)
        return _with_backend(comparisons, actual, _api(check))


@register
class ForwardTime(_DlpKind):
    """The student's forward() against a bare net.forward() of the same network, timed in the same child."""

    name = "dlp.forward_time"
    roles = ("build", "load", "load_image", "forward")
    outputs = (OutputSpec("forward_time", display="none"),)
    options_properties = {**_DlpKind.options_properties, "network": {"enum": list(NETWORKS)},
                          "ratio_min": {"type": "number", "exclusiveMinimum": 0},
                          "ratio_max": {"type": "number", "exclusiveMinimum": 0}}

    def case_schema(self, check):
        if check.options.get("network", "vgg19") == "mlp":
            return MLP_CASE, ("batch", "hidden1", "hidden2")
        return {}, ()

    def needs_reference(self, check):
        return False

    def _network(self, check) -> str:
        return check.options.get("network", "vgg19")

    def make_inputs(self, check, case, ctx):
        return MlpClassify().make_inputs(check, case, ctx) if self._network(check) == "mlp" else {}

    def expected(self, check, case, arrays, ctx):
        return {}

    def execute(self, session, check, case, arrays, ctx):
        network = self._network(check)
        run = _setup(session, check, case, arrays, ctx, network)
        bare, theirs = "net_owner.net.forward", f"net_owner.{check.target.methods.get('forward', 'forward')}"

        def timed(target: str, times: int) -> float:
            program = Program().repeat_call(target, times=times)
            reply = session.run(program.to_dict(), {}, timeout=check.timeout, fresh=False)
            if reply.status == "error" and reply.error is not None and reply.error.exc_type == "ProgramError":
                # the child lost the network (a check in between started afresh): build it again
                ctx.memo.pop(_run_key(network, check, case), None)
                _setup(session, check, case, arrays, ctx, network)
                reply = session.run(program.to_dict(), {}, timeout=check.timeout, fresh=False)
            _reply_failed(reply, f"timing {target.replace('net_owner', check.target.class_name)}() "
                                 f"({times} call{'s' if times > 1 else ''})")
            replies.append(reply)
            return reply.cpu_time if reply.cpu_time is not None else reply.wall_time

        replies = list(run.replies)
        probe = timed(bare, 1)
        repeats = max(1, min(TIMING_MAX_REPEATS, math.ceil(TIMING_MIN_SECONDS / max(probe, 1e-6))))
        first = probe if repeats == 1 else timed(bare, repeats)
        student = timed(theirs, repeats) + timed(theirs, repeats)       # A B B A: a drift in load hits both
        network_seconds = first + timed(bare, repeats)
        values = {"forward_time": np.asarray([student / (2 * repeats), network_seconds / (2 * repeats)]),
                  "dlp_emulated": run.values.get("dlp_emulated")}
        return Execution(values, replies)

    def compare(self, check, case, inputs, expected, actual):
        times = actual.get("forward_time")
        low, high = check.options.get("ratio_min", 0.5), check.options.get("ratio_max", 1.5)
        student, network = (float(t) for t in times)
        ratio = student / network if network > 0 else math.inf
        metrics = {"forward_ms": 1e3 * student, "network_forward_ms": 1e3 * network, "ratio": ratio,
                   "ratio_min": low, "ratio_max": high}
        method = check.target.methods.get("forward", "forward")
        name = f"{check.target.class_name}.{method}() time"
        if ratio < low:
            comparison = Comparison(name, "values", f"{name}: {1e3 * student:.1f} ms per call, {ratio:.2f}x a forward "
                                    f"pass of its network ({1e3 * network:.1f} ms): it does not run the network on "
                                    f"each call (the course times {method}() as the inference)", metrics)
        elif ratio > high:
            comparison = Comparison(name, "values", f"{name}: {1e3 * student:.1f} ms per call, {ratio:.2f}x a forward "
                                    f"pass of its network ({1e3 * network:.1f} ms): {method}() does more than run "
                                    f"the network once (at most {high:g}x is expected)", metrics)
        else:
            comparison = Comparison(name, metrics=metrics)
        comparison.output = "forward_time"
        return _with_backend([comparison], actual, _api(check))
