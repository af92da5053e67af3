"""The AICS VGG19 programs: classification (exp 3-1, vgg_cpu.py) and style transfer (exp 3-3).

Classification runs the student's VGG19 as the course driver does:
VGG19(param_path), build_model, init_model, load_model, then the driver's
own loop through vgg.layers in vgg.param_layer_name order, keeping pool5 and
the softmax. The loop starts from the reference's preprocessed image, so
pool5, softmax and top-1 test the layers and the weight loading and do not
depend on the student's load_image, which runs last in the same program; its
result (vgg.input_image) is compared separately, with a tolerance for
resampling differences.

Style transfer drives the student's VGG19 forward/backward, content and
style loss layers and AdamOptimizer through a few steps of the lab's loop
(the glue — weighting and summing the losses and gradients — is the course
driver's, so it is the parent's here) and compares the per-step losses and
images with the reference run from the same initial image.
"""
from __future__ import annotations

import numpy as np

from ..errors import HarnessError
from ..spec import Case, CheckSpec
from .base import NUMBER, POSITIVE, ChildFailure, Execution, Kind, KindConfigError, OutputSpec
from .program import Program, ref
from .registry import register

CAPTURED = ("pool5", "softmax")


def _run(session, program: Program, arrays: dict, timeout: float, doing: str, fresh: bool = True):
    reply = session.run(program.to_dict(), arrays, timeout=timeout, fresh=fresh)
    if reply.status != "ok":
        raise ChildFailure(reply, doing)
    return reply


def _build_vgg(program: Program, check: CheckSpec, weights_path) -> None:
    """VGG19(param_path=...), build_model(), init_model(), load_model() — the driver's sequence."""
    methods = check.target.methods
    program.import_module(check.target.module, as_="module")
    program.call(f"module.{check.target.class_name}", as_="vgg", param_path=str(weights_path))
    for role in ("build", "init", "load"):
        program.call(f"vgg.{methods.get(role, role + '_model')}")


@register
class VggClassify(Kind):
    """One forward pass of the student's VGG19; checks pick pool5, softmax, top1 or input_image."""

    name = "aics.vgg19.classify"
    roles = ("build", "init", "load", "load_image", "forward")
    outputs = (OutputSpec("pool5"), OutputSpec("softmax", shape_policy="squeeze"), OutputSpec("top1", "exact"),
               OutputSpec("input_image", label="vgg.input_image", display="image"))
    case_properties = {}

    def validate(self, check):
        super().validate(check)
        if not check.cases:
            raise KindConfigError("needs one case (the image and weights come from the run's resources)", ())

    def make_inputs(self, check, case, ctx):
        return {"image": self._reference_image(ctx)}

    def _reference_image(self, ctx) -> np.ndarray:
        from reference.vgg19 import preprocess
        lab = ctx.lab
        key = ("vgg19.image", str(lab.image_path))
        if key not in lab.expected_memo:
            try:
                rgb = preprocess.load_rgb(lab.image_path)
            except preprocess.ImageReadError as error:      # a bad --image is the harness's input, not the student's
                raise HarnessError(str(error)) from None
            lab.expected_memo[key] = preprocess.to_network_input(preprocess.resize_bilinear(rgb, (224, 224)),
                                                                 lab.vgg_params.mean_rgb).astype(np.float32)
        return lab.expected_memo[key]

    def expected(self, check, case, arrays, ctx):
        lab = ctx.lab
        key = ("vgg19.classify", str(lab.weights_path), str(lab.image_path))
        if key not in lab.expected_memo:
            activations = lab.reference_vgg.forward(arrays["image"].astype(np.float64), capture=CAPTURED)
            softmax = activations["softmax"]
            lab.expected_memo[key] = {"pool5": activations["pool5"], "softmax": softmax,
                                      "top1": np.asarray(int(np.argmax(softmax[0]))), "input_image": arrays["image"]}
        return lab.expected_memo[key]

    def execute(self, session, check, case, arrays, ctx):
        key = ("vgg19.run", check.target.key)
        if key not in ctx.memo:            # pool5, softmax, top1 and input_image share one (slow) run
            ctx.memo[key] = self._run_student(session, check, arrays, ctx)
        wanted = {spec.name for spec in self.compared_outputs(check)}
        parts = ([ctx.memo[key]["forward"]] if wanted - {"input_image"} else []) + \
                ([ctx.memo[key]["load_image"]] if "input_image" in wanted else [])
        values, replies = {}, []
        for part in parts:
            if isinstance(part, ChildFailure):
                raise part
            values.update(part.values)
            replies += part.replies
        return Execution(values, replies)

    def _run_student(self, session, check, arrays, ctx) -> dict:
        """{"forward": Execution | ChildFailure, "load_image": Execution | ChildFailure}.

        One program: VGG19(param_path), build, init, load, the driver's loop over vgg.layers from the
        harness's own image (pool5, softmax), and last the student's load_image. So a broken reader or image
        library costs the preprocess check alone: the outputs assigned before a failure come back with it.
        When the child died (timeout, crash) those are lost, and the forward pass runs again on its own.
        """
        methods = check.target.methods
        program = self._forward_program(check, ctx)
        program.call(f"vgg.{methods.get('load_image', 'load_image')}", str(ctx.lab.image_path))
        program.get("vgg.input_image", as_="input_image")
        program.output("pool5", "softmax", "input_image")
        reply = session.run(program.to_dict(), arrays, timeout=check.timeout, fresh=True)
        if reply.status == "ok":
            return {"forward": self._forward_values(reply), "load_image": Execution(dict(reply.values), [reply])}
        forward_done = all(isinstance(reply.values.get(name), np.ndarray) for name in CAPTURED)
        if forward_done:
            return {"forward": self._forward_values(reply), "load_image": ChildFailure(reply, "calling VGG19.load_image")}
        if reply.status == "error":        # an exception before the forward pass had finished: it failed there
            failure = ChildFailure(reply, "running the VGG19 forward pass")
            return {"forward": failure, "load_image": failure}
        program = self._forward_program(check, ctx).output("pool5", "softmax")
        again = session.run(program.to_dict(), arrays, timeout=check.timeout, fresh=True)
        if again.status == "ok":
            return {"forward": self._forward_values(again), "load_image": ChildFailure(reply, "calling VGG19.load_image")}
        failure = ChildFailure(again, "running the VGG19 forward pass")
        return {"forward": failure, "load_image": failure}

    def _forward_program(self, check, ctx) -> Program:
        program = Program()
        _build_vgg(program, check, ctx.lab.weights_path)
        program.chain("vgg.layers", "vgg.param_layer_name", ref("image"), capture=CAPTURED,
                      method=check.target.methods.get("forward", "forward"), as_="acts")
        program.item("acts", "pool5", as_="pool5").item("acts", "softmax", as_="softmax")
        return program

    @staticmethod
    def _forward_values(reply) -> Execution:
        values = {name: reply.values.get(name) for name in CAPTURED}
        softmax = values["softmax"]
        if isinstance(softmax, np.ndarray) and softmax.size and np.all(np.isfinite(softmax)):
            values["top1"] = np.asarray(int(np.argmax(softmax.reshape(softmax.shape[0], -1)[0])))
        else:
            values["top1"] = softmax
        return Execution(values, [reply])


STYLE_CASE = {"height": POSITIVE, "width": POSITIVE, "steps": {"type": "integer", "minimum": 1, "maximum": 10},
              "alpha": NUMBER, "beta": NUMBER, "lr": NUMBER, "noise": NUMBER}
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@register
class StyleTransferRun(Kind):
    """A few steps of the lab's style-transfer loop through the student's own classes."""

    name = "aics.style_transfer.run"
    roles = ("build", "init", "load", "forward", "backward")
    outputs = (OutputSpec("losses", display="curve"), OutputSpec("image", display="image"))
    case_properties = STYLE_CASE
    required_case_keys = ("height", "width", "steps")
    options_properties = {
        "loss_module": {"type": "string"}, "content_loss_class": {"type": "string"},
        "style_loss_class": {"type": "string"}, "adam_class": {"type": "string"},
    }

    def settings(self, case: Case) -> dict:
        p = case.params
        return {"alpha": float(p.get("alpha", 1.0)), "beta": float(p.get("beta", 500.0)),
                "lr": float(p.get("lr", 1.0)), "noise": float(p.get("noise", 0.5)), "steps": int(p["steps"])}

    def make_inputs(self, check, case, ctx):
        from reference import style
        from reference.vgg19 import preprocess
        lab, size = ctx.lab, (case.params["height"], case.params["width"])
        mean = lab.vgg_params.mean_rgb
        content = preprocess.to_network_input(preprocess.resize_bilinear(preprocess.load_rgb(lab.content_image_path), size), mean)
        style_image = preprocess.to_network_input(preprocess.resize_bilinear(preprocess.load_rgb(lab.style_image_path), size), mean)
        initial = style.initial_image(content, noise=self.settings(case)["noise"], seed=case.seed)
        return {"content": content, "style": style_image, "initial": initial}

    def expected(self, check, case, arrays, ctx):
        from reference import style
        key = ("style_transfer", str(ctx.lab.weights_path), check.id, case.name)
        memo = ctx.lab.expected_memo
        if key not in memo:
            s = self.settings(case)
            run = style.style_transfer(ctx.lab.reference_vgg, arrays["content"], arrays["style"], steps=s["steps"],
                                       seed=case.seed, alpha=s["alpha"], beta=s["beta"], lr=s["lr"], noise=s["noise"],
                                       initial=arrays["initial"])
            memo[key] = {"losses": np.asarray(run.losses, dtype=np.float64), "image": np.asarray(run.images[-1])}
        return memo[key]

    def compare(self, check, case, inputs, expected, actual):
        # The losses are summed in the parent in float64, but a submission whose features are float32 computed
        # in float32: judge with the tolerance of the weakest precision it used.
        computed_in = actual.get("compute_dtype")
        if computed_in is not None:
            inputs = {**inputs, "compute_dtype": np.empty(0, dtype=computed_in)}
        return super().compare(check, case, inputs, expected, actual)

    def gallery(self, case, inputs, expected, actual):
        steps = case.params["steps"]
        pictures = [{"title": "content and style images", "images": [inputs["content"][0], inputs["style"][0]]}]
        image = actual.get("image")
        if isinstance(image, np.ndarray) and image.shape == expected["image"].shape:
            pictures.append({"title": f"after {steps} steps: yours, reference",
                             "images": [image[0], expected["image"][0]]})
        losses = actual.get("losses")
        if isinstance(losses, np.ndarray) and losses.ndim == 2 and losses.shape[1:] == expected["losses"].shape[1:]:
            pictures.append({"title": "total loss per step", "curves": (expected["losses"], losses)})
        return pictures

    def execute(self, session, check, case, arrays, ctx):
        execution = self._execute(session, check, case, arrays, ctx)
        floats = [reply_value.dtype for reply in execution.replies for reply_value in reply.values.values()
                  if isinstance(reply_value, np.ndarray) and reply_value.dtype.kind == "f"]
        if floats:
            execution.values["compute_dtype"] = min(floats, key=lambda dtype: dtype.itemsize)
        return execution

    def _execute(self, session, check, case, arrays, ctx):
        s, options = self.settings(case), check.options
        replies = [self._setup(session, check, case, arrays, ctx)]
        image, losses = arrays["initial"], []
        for step in range(s["steps"]):
            reply = self._step(session, check, image, step)
            replies.append(reply)
            values = reply.values
            content = [_scalar(values, f"loss_{name}") for name in CONTENT_LAYERS]
            style_losses = [_scalar(values, f"loss_{name}") for name in STYLE_LAYERS]
            if any(value is None for value in content + style_losses):
                return Execution({"losses": _first_bad(values, CONTENT_LAYERS + STYLE_LAYERS, "loss_"), "image": None}, replies)
            grads = [values.get(f"grad_{name}") for name in CONTENT_LAYERS + STYLE_LAYERS]
            if not all(isinstance(grad, np.ndarray) and grad.shape == image.shape for grad in grads):
                return Execution({"losses": np.asarray(losses or [[np.nan] * 3]),
                                  "image": _first_bad(values, CONTENT_LAYERS + STYLE_LAYERS, "grad_")}, replies)
            total = s["alpha"] * np.mean(content) + s["beta"] * np.mean(style_losses)
            losses.append([total, float(np.mean(content)), float(np.mean(style_losses))])
            content_diff = sum(grads[: len(CONTENT_LAYERS)])
            style_diff = sum(grads[len(CONTENT_LAYERS):])
            image_diff = s["alpha"] * content_diff / len(CONTENT_LAYERS) + s["beta"] * style_diff / len(STYLE_LAYERS)
            update = Program().call(f"adam.{check.target.methods.get('update', 'update')}", ref("image"), ref("image_diff"),
                                    as_="new_image").output("new_image")
            reply = _run(session, update, {"image": image, "image_diff": image_diff}, check.timeout,
                         f"calling AdamOptimizer.update (step {step + 1})", fresh=False)
            replies.append(reply)
            image = reply.values.get("new_image")
            if not isinstance(image, np.ndarray):
                return Execution({"losses": np.asarray(losses), "image": image}, replies)
        return Execution({"losses": np.asarray(losses), "image": image}, replies)

    def _setup(self, session, check, case, arrays, ctx):
        options, s = check.options, self.settings(case)
        loss_module = options.get("loss_module", "layers_3")
        program = Program()
        _build_vgg(program, check, ctx.lab.weights_path)
        program.import_module(loss_module, as_="losses")
        program.call(f"losses.{options.get('content_loss_class', 'ContentLossLayer')}", as_="content_loss")
        program.call(f"losses.{options.get('style_loss_class', 'StyleLossLayer')}", as_="style_loss")
        program.call(f"module.{options.get('adam_class', 'AdamOptimizer')}", s["lr"], list(arrays["initial"].shape), as_="adam")
        forward = f"vgg.{check.target.methods.get('forward', 'forward')}"
        program.call(forward, ref("content"), list(CONTENT_LAYERS), as_="content_features")
        program.call(forward, ref("style"), list(STYLE_LAYERS), as_="style_features")
        for name in CONTENT_LAYERS:
            program.item("content_features", name, as_=f"target_{name}")
        for name in STYLE_LAYERS:
            program.item("style_features", name, as_=f"target_{name}")
        return _run(session, program, {"content": arrays["content"], "style": arrays["style"]}, check.timeout,
                    "building the VGG19 and computing the content and style features")

    def _step(self, session, check, image, step):
        methods = check.target.methods
        program = Program()
        program.call(f"vgg.{methods.get('forward', 'forward')}", ref("image"), list(CONTENT_LAYERS + STYLE_LAYERS),
                     as_="features")
        for name in CONTENT_LAYERS + STYLE_LAYERS:
            layer = "content_loss" if name in CONTENT_LAYERS else "style_loss"
            program.item("features", name, as_=f"x_{name}")
            program.call(f"{layer}.forward", ref(f"x_{name}"), ref(f"target_{name}"), as_=f"loss_{name}")
            program.call(f"{layer}.backward", ref(f"x_{name}"), ref(f"target_{name}"), as_=f"dloss_{name}")
            program.call(f"vgg.{methods.get('backward', 'backward')}", ref(f"dloss_{name}"), name, as_=f"grad_{name}")
            program.output(f"loss_{name}", f"grad_{name}")
        return _run(session, program, {"image": image}, check.timeout,
                    f"running style-transfer step {step + 1} (forward, losses, backward)", fresh=False)


def _scalar(values: dict, name: str):
    value = values.get(name)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fi":
        return float(value.reshape(()))
    return None


def _first_bad(values: dict, names, prefix: str):
    for name in names:
        value = values.get(prefix + name)
        if not isinstance(value, np.ndarray):
            return value
    return np.asarray([[np.nan] * 3])
