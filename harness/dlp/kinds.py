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
module, or the emulation), and every check records which backend ran. What
the outputs are judged against is the spec's ``against`` option:

* ``float`` (default): the float reference, with the spec's tolerance for the
  DLP's precision (the float16 row for pycnml's int8 / float16, float32 for
  pycnnl), measured by benchmarks/bench_dlp_quant_error.py: every probability
  within ``atol`` of the largest reference probability, and a class differing
  from the reference's only where the reference gives it a probability within
  twice that bound of its top one (a near tie may go either way, a clear
  winner may not);
* ``dlp``: the output of the correct network (harness.dlp.network) on the same
  DLP, in the parent: bit-identical for a correct solution on the emulation or
  a board, so the tolerance is float16 rounding. The float reference's class
  and distance are reported beside. exp 3-2 uses it: with the synthetic
  weights, int8 arithmetic lands far from the float result (see its spec).

A failing output is diagnosed by rebuilding the network the way each mistake
of reference.mistakes.dlp builds it (on the emulation) and comparing.
``dlp.forward_time`` times the student's ``forward()`` against a bare
``net.forward()`` of the same network in the same child: the course's
performance criterion, without rewarding a ``forward()`` that skips the network.
"""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np

from ..adapters.base import NUMBER, POSITIVE, ChildFailure, Execution, Kind, KindConfigError, OutputSpec, add_note
from ..adapters.program import Program, ref
from ..adapters.registry import register
from ..compare import Comparison, compare_arrays
from ..errors import HarnessError
from . import judge, network
from .provide import describe_backend, emulated_flag, installed, provide_step

APIS = ("pycnml", "pycnnl")
NETWORKS = ("vgg19", "mlp")
MISTAKE_KERNEL = {"vgg19": "dlp.vgg19", "mlp": "dlp.mlp"}     # reference.mistakes.dlp's kernels
# The lab context rides along with the inputs (never sent to the child), for the diagnosis, which
# re-runs mistaken networks with the lab's weights and gets only the inputs.
LAB_KEY = "_dlp_lab"
MLP_CASE = {"batch": POSITIVE, "hidden1": POSITIVE, "hidden2": POSITIVE, "weights_seed": {"type": "integer", "minimum": 0}}
CLASSES = 10
TOLERANCE_TABLE = {"type": "object", "additionalProperties": False, "properties": {
    dtype: {"type": "object", "properties": {"rtol": NUMBER, "atol": NUMBER}, "required": ["rtol", "atol"],
            "additionalProperties": False} for dtype in ("float16", "float32")}}
TEMPLATE_MEAN = np.array([123.68, 116.779, 103.939])    # exp 3-2's load_image subtracts this, hard-coded
TIMING_MIN_SECONDS = 0.5           # the shortest timing loop; a slower forward runs once per loop
TIMING_MAX_REPEATS = 100


def _api(check) -> str:
    return check.options.get("api", "pycnml")


def _resources(ctx):
    return _resources_of(ctx.lab)


def _resources_of(lab):
    resources = getattr(lab, "dlp", None)
    if resources is None:
        raise HarnessError(f"lab {lab.spec.lab}: DLP checks need `resources: {{dlp: true}}` in the spec")
    return resources


def _against(check) -> str:
    return check.options.get("against", "float")


def _reference_words(check) -> str:
    return "the correct network on the same DLP" if _against(check) == "dlp" else "the float reference"


def template_image(path) -> np.ndarray:
    """The image as exp 3-2's load_image makes it: imread, imresize to 224x224 (bilinear), float32, minus the
    template's hard-coded mean, NCHW [1, 3, 224, 224] float32."""
    from reference.vgg19 import preprocess
    try:
        rgb = preprocess.load_rgb(path)
    except preprocess.ImageReadError as error:
        raise HarnessError(str(error)) from None
    image = np.asarray(preprocess.resize_bilinear(rgb, (224, 224))).astype(np.float32)
    image -= TEMPLATE_MEAN
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def _dlp_module(api: str, emulated: bool | None = None):
    """The module the child runs: the installed one (on a board), else the emulation; ``emulated`` forces it."""
    import importlib
    if emulated is None:
        emulated = not installed(api)
    return importlib.import_module(f"harness.dlp.{api}" if emulated else api)


def _vgg_dlp_output(lab, api: str, image: np.ndarray, recipe: dict | None = None, emulated: bool | None = None,
                    memo_key: str = "correct") -> np.ndarray:
    """The softmax (1000,) of the VGG19 a correct solution (or ``recipe``'s mistaken one) builds, on ``api``,
    for ``image`` [1, 3, 224, 224]; once per lab, weights, network and image."""
    import hashlib
    key = ("dlp.vgg19.dlp_output", api, memo_key, emulated, str(lab.weights_path), hashlib.sha1(image.tobytes()).hexdigest())
    if key not in lab.expected_memo:
        from .quant import load_npz
        table = load_npz(_resources_of(lab).vgg19_quant(lab), layers=19) if api == "pycnml" else None
        with contextlib.redirect_stdout(io.StringIO()):
            net = network.vgg19_network(api, _dlp_module(api, emulated), lab.vgg_params, table, recipe=recipe)
            net.setInputData(network.image_data(api, image, recipe))
            net.forward()
        lab.expected_memo[key] = np.asarray(net.getOutputData(), dtype=np.float64)
    return lab.expected_memo[key]


def _float_figures(comparison: Comparison, float_softmax: np.ndarray, probabilities: np.ndarray) -> None:
    """How far the DLP's output is from the float reference: reported, not judged (spec: against dlp)."""
    float_softmax = float_softmax.reshape(probabilities.shape)
    comparison.metrics["float_reference_max_abs_error"] = float(np.max(np.abs(probabilities - float_softmax)))
    classes = float_softmax.reshape(-1, float_softmax.shape[-1]).argmax(axis=1)
    theirs = probabilities.reshape(classes.size, -1).argmax(axis=1)
    comparison.metrics["float_reference_classes_agree"] = float(np.mean(classes == theirs))
    if classes.size == 1:
        comparison.metrics["float_reference_class"] = int(classes[0])


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
    program.call("images.tolist", as_="data")                  # (batch_images.flatten()).tolist()
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
        sent = {} if network == "vgg19" else {"images": arrays["images"].ravel()}     # batch_images.flatten()
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
    return judge.bound(check.tolerance[dtype], expected)


def _with_backend(comparisons: list[Comparison], actual: dict, api: str) -> list[Comparison]:
    emulated = emulated_flag(actual, api)
    if emulated is not None:
        for comparison in comparisons:
            comparison.metrics["backend"] = describe_backend(api, emulated)
    return comparisons


def _record_backend(check, ctx, values: dict) -> None:
    """Say on the check, and in the result's resources, which pycnml / pycnnl ran."""
    emulated = emulated_flag(values, _api(check))
    if emulated is None:
        return
    backend = describe_backend(_api(check), emulated)
    add_note(ctx, check.id, f"ran on {backend}")
    resources = getattr(ctx.lab, "dlp", None)
    if resources is not None:
        resources.memo["backend"] = backend


class _DlpKind(Kind):
    options_properties = {"api": {"enum": list(APIS)}, "against": {"enum": ["float", "dlp"]}}

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
                          # the DLP against the float reference, for `harness dlp compare` (which builds the
                          # network itself and can cut it at pool5): the figures the benchmark measured
                          "float_tolerance": TOLERANCE_TABLE, "pool5_tolerance": TOLERANCE_TABLE}

    def make_inputs(self, check, case, ctx):
        lab = ctx.lab
        key = ("dlp.vgg19.image", str(lab.image_path))
        if key not in lab.expected_memo:
            lab.expected_memo[key] = template_image(lab.image_path)
        return {"image": lab.expected_memo[key], LAB_KEY: lab}

    def expected(self, check, case, arrays, ctx):
        lab, image = ctx.lab, arrays["image"]
        key = ("dlp.vgg19.float", str(lab.weights_path), str(lab.image_path))
        if key not in lab.expected_memo:
            lab.expected_memo[key] = lab.reference_vgg.forward(image.astype(np.float64), capture=("softmax",))["softmax"][0]
        float_softmax = lab.expected_memo[key]
        reference = _vgg_dlp_output(lab, _api(check), image) if _against(check) == "dlp" else float_softmax
        return {"softmax": reference, "top1": np.asarray(int(np.argmax(reference))), "float_softmax": float_softmax}

    def execute(self, session, check, case, arrays, ctx):
        run = _setup(session, check, case, arrays, ctx, "vgg19")
        _record_backend(check, ctx, run.values)
        output = run.values.get("output")
        values = {"softmax": output, "dlp_emulated": run.values.get("dlp_emulated")}
        if isinstance(output, np.ndarray) and output.size and output.dtype.kind in "fiu":
            values["top1"] = np.asarray(int(np.argmax(output)))
        else:
            values["top1"] = output
        return Execution(values, run.replies)

    def kernels(self, check):
        """The catalogue's DLP mistakes (reference.mistakes.dlp) are pycnml layouts."""
        return [MISTAKE_KERNEL["vgg19"]] if _api(check) == "pycnml" else []

    def mistake_outputs(self, check, mistake, arrays, case):
        """What the network built as ``mistake`` builds it outputs on the emulated pycnml (once per lab)."""
        if "softmax" not in (check.outputs or ("softmax",)):
            return {}             # the class follows from the softmax, whose check names the mistake
        lab, recipe = arrays[LAB_KEY], mistake.variant()
        image = arrays["image"]
        if not recipe.get("subtract_mean", True):
            image = (image + TEMPLATE_MEAN[None, :, None, None]).astype(np.float32)
        return {"softmax": _vgg_dlp_output(lab, "pycnml", image, recipe, emulated=True, memo_key=mistake.id)}

    def compare(self, check, case, inputs, expected, actual):
        dtype, wanted = self.tolerance_dtype(check), [spec.name for spec in self.compared_outputs(check)]
        probabilities, problem = _probabilities(actual.get("softmax"), (1, expected["softmax"].size), case.public)
        if problem is not None:
            problem.name = problem.output = wanted[0]
            return _with_backend([problem], actual, _api(check))
        comparisons = self._judge(check, case, expected["softmax"], probabilities, wanted, dtype)
        if _against(check) == "dlp":
            _float_figures(comparisons[0], expected["float_softmax"], probabilities[0])
        return _with_backend(comparisons, actual, _api(check))

    def _judge(self, check, case, reference, probabilities, wanted, dtype) -> list[Comparison]:
        reference = reference.reshape(1, -1)
        bound = _bound(check, dtype, reference)
        comparisons = []
        if "softmax" in wanted:
            softmax = compare_arrays("softmax", reference[0], probabilities[0], check.tolerance,
                                     np.dtype(dtype), "exact", case.public)
            top5 = judge.top5(reference[0], probabilities[0], bound, case.public)
            softmax.output = top5.output = "softmax"
            comparisons += [softmax, top5]
        if "top1" in wanted:
            top1 = judge.classes("top-1 class", reference, probabilities, bound, case.public, _reference_words(check))
            top1.output = "top1"
            comparisons.append(top1)
        return comparisons


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
        return {"images": digit_images(case.params["batch"], seed=case.seed).astype(np.int64), LAB_KEY: ctx.lab}

    def expected(self, check, case, arrays, ctx):
        from .mlp import forward_float
        files = _mlp_files(case, ctx)
        float_softmax = forward_float(files.weights, arrays["images"])
        if _against(check) == "dlp":
            reference = self._dlp_output(_api(check), files, arrays["images"]).reshape(float_softmax.shape)
        else:
            reference = float_softmax
        return {"softmax": reference, "labels": reference.argmax(axis=1), "float_softmax": float_softmax}

    @staticmethod
    def _dlp_output(api, files, images, recipe=None, emulated=None) -> np.ndarray:
        with contextlib.redirect_stdout(io.StringIO()):
            net = network.mlp_network(api, _dlp_module(api, emulated), files.weights, images.shape[0], files.quant,
                                      recipe=recipe)
            net.setInputData(images.ravel())
            net.forward()
        return np.asarray(net.getOutputData(), dtype=np.float64)

    def kernels(self, check):
        return [MISTAKE_KERNEL["mlp"]] if _api(check) == "pycnml" else []

    def mistake_outputs(self, check, mistake, arrays, case):
        """What the MLP built as ``mistake`` builds it outputs on the emulated pycnml."""
        if "softmax" not in (check.outputs or ("softmax",)):
            return {}
        files = _resources_of(arrays[LAB_KEY]).mlp(case.params["hidden1"], case.params["hidden2"],
                                                   case.params.get("weights_seed", 0))
        return {"softmax": self._dlp_output("pycnml", files, arrays["images"], mistake.variant(), emulated=True)}

    def execute(self, session, check, case, arrays, ctx):
        run = _setup(session, check, case, arrays, ctx, "mlp")
        _record_backend(check, ctx, run.values)
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
            labels = judge.classes("labels", reference, probabilities, _bound(check, dtype, reference), case.public,
                                   _reference_words(check))
            labels.output = "labels"
            comparisons.append(labels)
        if _against(check) == "dlp":
            _float_figures(comparisons[0], expected["float_softmax"], probabilities)
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
        _record_backend(check, ctx, run.values)
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
        metrics = {"forward_ms": 1e3 * student, "network_forward_ms": 1e3 * network, "forward_ratio": ratio,
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
