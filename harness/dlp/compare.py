"""`harness dlp compare`: the float reference against a pycnml network the harness builds itself.

For CI on machines with a Cambricon board: with the lab's weights (--weights,
$HARNESS_VGG19_WEIGHTS or the synthetic ones), quantization parameters
(--quant, $HARNESS_DLP_VGG19_QUANT, or calibrated as the harness calibrates
them) and image (--image or the shipped sample), it builds exp 3-2's VGG19 the
way a correct solution does (harness.dlp.network) on the installed pycnml (or
pycnnl), runs it, and compares with the float64 reference:

* the outputs of the network cut after each of ``layers`` (pycnml gives only a
  network's final output, so each cut is a network of its own; pool5 is judged
  with the spec's ``pool5_tolerance``, other cuts are reported, not judged);
* the softmax, the top-1 class and the top 5, with the aics-exp3-2 spec's
  ``float_tolerance`` (the figures benchmarks/bench_dlp_quant_error.py measured
  for the emulation with the synthetic weights and the shipped sample image).

It writes JUnit XML (--junit) and exits 0 when every judged output is within
its bound, 1 on a regression, 2 when it cannot run (a missing or malformed
file), and 77 (EXIT_SKIPPED, the automake / CTest convention for "skipped")
when no DLP is present and --emulate was not given: no pycnml module, or no
/dev/cambricon* device. With --emulate it runs the numpy emulation anywhere.
"""
from __future__ import annotations

import contextlib
import glob
import importlib
import io
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import HarnessError
from . import judge, network
from .provide import describe_backend, installed

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR, EXIT_SKIPPED = 0, 1, 2, 77
LAB = "aics-exp3-2"
DEVICE_GLOB = "/dev/cambricon*"


@dataclass
class Outcome:
    """One JUnit test case: a compared output."""

    name: str
    passed: bool = True
    judged: bool = True
    message: str = ""
    seconds: float = 0.0
    figures: dict = field(default_factory=dict)


@dataclass
class Report:
    api: str
    backend: str = ""
    skipped: str = ""                        # why nothing ran (no DLP here), else ""
    outcomes: list[Outcome] = field(default_factory=list)
    properties: dict = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        if self.skipped:
            return EXIT_SKIPPED
        return EXIT_OK if all(outcome.passed for outcome in self.outcomes) else EXIT_REGRESSION

    def summary(self) -> str:
        if self.skipped:
            return f"dlp compare: skipped: {self.skipped}"
        lines = [f"dlp compare on {self.backend}"]
        for outcome in self.outcomes:
            status = "PASS" if outcome.passed else "FAIL"
            status = status if outcome.judged else "INFO"
            lines.append(f"  {status:<5} {outcome.name:<12} {outcome.message}")
        lines.append("no regression" if self.exit_status == EXIT_OK else "REGRESSION: an output is outside its bound")
        return "\n".join(lines)


def dlp_present(api: str) -> str:
    """"" when ``api`` can run on a board here, else why not (in plain words)."""
    if not installed(api):
        return f"no DLP is present: the {api} module is not installed (run with --emulate to use the emulation)"
    if not glob.glob(DEVICE_GLOB):
        return (f"no DLP is present: {api} is installed but there is no Cambricon device ({DEVICE_GLOB}); "
                "run with --emulate to use the emulation")
    return ""


def run(weights=None, quant=None, image=None, emulate: bool = False, api: str = "pycnml",
        layers=("pool5",), log=None) -> Report:
    """Compare; raises HarnessError for unusable inputs. ``log(text)`` hears about progress."""
    from ..context import build_context
    from ..spec import load_spec
    if api not in network.APIS:
        raise HarnessError(f"unknown DLP API {api!r} (known: {', '.join(network.APIS)})")
    report = Report(api)
    if not emulate:
        report.skipped = dlp_present(api)
        if report.skipped:
            return report
    say = log or (lambda text: None)
    spec = load_spec(LAB)
    context = build_context(spec, weights=weights, image=image)
    if quant is not None:
        from .resources import DlpResources
        context.dlp = DlpResources.prepare(quant_path=quant)
    module = importlib.import_module(f"harness.dlp.{api}" if emulate else api)
    report.backend = describe_backend(api, emulate)
    dtype = "float16" if api == "pycnml" else "float32"
    say("reading the weights and running the float reference")
    params = context.vgg_params
    image_nchw = _image(context)
    wanted = [name for name in layers if name]
    reference = context.reference_vgg.forward(image_nchw.astype(np.float64), capture=tuple(wanted) + ("softmax",))
    table = None
    if api == "pycnml":
        say("quantization parameters")
        from .quant import load_npz
        quant_path = context.dlp.vgg19_quant(context)
        table = load_npz(quant_path, layers=19)
        report.properties["quant"] = str(quant_path)
    report.properties.update({"backend": report.backend, "api": api, "weights": str(context.weights_path),
                              "image": str(context.image_path)})
    softmax_check = spec.check("dlp.vgg19.softmax")
    for name in wanted:
        say(f"network up to {name}")
        started = time.perf_counter()
        output = _network_output(api, module, params, table, name, image_nchw, reference[name].shape)
        report.outcomes.append(_layer_outcome(name, reference[name], output, softmax_check, dtype,
                                              time.perf_counter() - started))
    say("the whole network")
    started = time.perf_counter()
    probabilities = _network_output(api, module, params, table, None, image_nchw, (1, 1000))
    seconds = time.perf_counter() - started
    report.outcomes += _softmax_outcomes(reference["softmax"], probabilities, softmax_check, dtype, seconds)
    return report


def _image(context) -> np.ndarray:
    from .kinds import template_image
    return template_image(context.image_path)


def _network_output(api, module, params, table, until, image_nchw, shape) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):         # pycnml's per-layer prints
        net = network.vgg19_network(api, module, params, table, until=until)
        net.setInputData(network.image_data(api, image_nchw))
        net.forward()
        values = net.getOutputData()
    if until is None:
        return np.asarray(values, dtype=np.float64).reshape(shape)
    return network.output_array(api, values, shape)


def _tolerances(check, dtype: str, option: str) -> dict:
    """The check's tolerance table with the ``option`` table's entry for ``dtype`` (KeyError when it has none)."""
    from ..spec import Tolerance
    table = dict(check.tolerance)
    table[dtype] = Tolerance(**check.options[option][dtype])
    return table


def _layer_outcome(name, expected, actual, softmax_check, dtype, seconds) -> Outcome:
    from ..compare import compare_arrays
    judged = name == "pool5" and dtype in softmax_check.options.get("pool5_tolerance", {})
    table = _tolerances(softmax_check, dtype, "pool5_tolerance") if judged else softmax_check.tolerance
    comparison = compare_arrays(name, expected, actual, table, np.dtype(dtype))
    scale = float(np.max(np.abs(expected))) or 1.0
    figures = {"max_abs_error": comparison.metrics.get("max_abs_error"),
               "max_abs_error_over_scale": float(np.max(np.abs(actual - expected)) / scale), "scale": scale}
    text = f"max |difference| {figures['max_abs_error']:.4g} = {figures['max_abs_error_over_scale']:.4f} x max |reference|"
    if judged:
        return Outcome(name, comparison.ok, True, text if comparison.ok else comparison.message, seconds, figures)
    return Outcome(name, True, False, text + " (reported, not judged: no measured bound for this layer)", seconds,
                   figures)


def _softmax_outcomes(expected, actual, softmax_check, dtype, seconds) -> list[Outcome]:
    from ..compare import compare_arrays
    table = _tolerances(softmax_check, dtype, "float_tolerance")
    limit = judge.bound(table[dtype], expected)
    comparison = compare_arrays("softmax", expected[0], actual[0], table, np.dtype(dtype))
    top1 = judge.classes("top-1", expected, actual, limit, True)
    top5 = judge.top5(expected[0], actual[0], limit, True)
    return [Outcome("softmax", comparison.ok, True, comparison.message or
                    f"max |difference| {comparison.metrics['max_abs_error']:.4g} (bound {limit:.4g})", seconds,
                    {"max_abs_error": comparison.metrics["max_abs_error"], "bound": limit}),
            Outcome("top1", top1.ok, True, top1.message or f"class {int(np.argmax(actual[0]))}, as the reference's "
                    f"{int(np.argmax(expected[0]))} (or within the bound of it)", 0.0, dict(top1.metrics)),
            Outcome("top5", top5.ok, True, top5.message or f"overlap {top5.metrics['overlap']} of 5", 0.0,
                    dict(top5.metrics))]


def write_junit(report: Report, path, layers=("pool5",)) -> Path:
    """JUnit XML: one testsuite, a testcase per compared output (each <skipped/> when no DLP is present)."""
    path = Path(path)
    names = [outcome.name for outcome in report.outcomes] or [*layers, "softmax", "top1", "top5"]
    failures = sum(not outcome.passed for outcome in report.outcomes)
    suite = ElementTree.Element("testsuite", name="dlp.compare", tests=str(len(names)), failures=str(failures),
                                errors="0", skipped=str(len(names) if report.skipped else 0),
                                time=f"{sum(outcome.seconds for outcome in report.outcomes):.3f}")
    properties = ElementTree.SubElement(suite, "properties")
    for key, value in {"api": report.api, **report.properties}.items():
        ElementTree.SubElement(properties, "property", name=key, value=str(value))
    by_name = {outcome.name: outcome for outcome in report.outcomes}
    for name in names:
        outcome = by_name.get(name)
        case = ElementTree.SubElement(suite, "testcase", classname=f"dlp.compare.vgg19.{report.api}", name=name,
                                      time=f"{outcome.seconds:.3f}" if outcome else "0")
        if report.skipped:
            ElementTree.SubElement(case, "skipped", message=report.skipped)
        elif not outcome.passed:
            ElementTree.SubElement(case, "failure", message=outcome.message[:500]).text = outcome.message
        else:
            ElementTree.SubElement(case, "system-out").text = outcome.message
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return path
