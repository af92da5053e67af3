"""CS231n's dropout_forward / dropout_backward, judged by what inverted dropout must do, not by a mask.

A student's mask comes from whatever generator call they chose after
``np.random.seed(seed)`` (``rand < p``, ``binomial``, ``random_sample`` ...), so
no reference can reproduce it. The check runs, in one program::

    out, cache = dropout_forward(x, {'mode': 'train', 'p': p, 'seed': mask_seed})
    dx = dropout_backward(dout, cache)
    out2, _ = dropout_forward(x, {'mode': 'train', 'p': p, 'seed': mask_seed})
    out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})

and asks, with keep = p (spring 2018 on) or 1 - p (2016 and 2017, option
``p_means: drop``): is every output 0 or x / keep (``scale``, the median of
out / x over the kept values, is 1 / keep, the notebook's "mean of train-time
output" stays the input's), is the kept fraction keep within five binomial
standard deviations, is the same seed the same mask, is test mode the
identity, and is dx = dout where the forward kept a value, divided by keep,
and 0 elsewhere. x is positive and far from 0 (the notebook's randn + 10), so
a zero in out can only be a dropped value.
"""
from __future__ import annotations

import numpy as np

from ..compare import Comparison, compare_arrays, compare_exact
from ..spec import Tolerance
from .base import Execution, KindConfigError, OutputSpec
from .function import StatementKind, _CompiledView
from .registry import register

EXACTISH = {dtype: Tolerance(1e-6 if dtype == "float64" else 1e-3, 0.0) for dtype in ("float16", "float32", "float64")}


@register
class DropoutCheck(StatementKind):
    name = "cs231n.dropout"
    options_properties = {"p_means": {"enum": ["keep", "drop"]}, "forward": {"type": "string"},
                          "backward": {"type": "string"}}
    case_properties = {"N": {"type": "integer", "minimum": 1}, "D": {"type": "integer", "minimum": 1},
                       "p": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                       "mask_seed": {"type": "integer", "minimum": 0}}
    required_case_keys = ("N", "D", "p", "mask_seed")
    outputs = (OutputSpec("scale", shape_policy="squeeze", label="out / x where kept"),
               OutputSpec("dx_scale", shape_policy="squeeze", label="dx / dout where kept"),
               OutputSpec("test_out", label="test-mode out"))

    def validate(self, check):
        if check.target is None or not check.target.file:
            raise KindConfigError("kind cs231n.dropout needs target.file (the module with dropout_forward)", ())
        super(StatementKind, self).validate(check)

    def case_schema(self, check):
        return self.case_properties, self.required_case_keys

    def input_specs(self, check, case=None):
        return {"x": {"shape": ["N", "D"], "offset": 10.0}, "dout": {"shape": ["N", "D"]}}

    def keep(self, check, case) -> float:
        p = float(case.params["p"])
        return 1.0 - p if check.options.get("p_means", "keep") == "drop" else p

    def compile_for(self, check, params):
        forward = check.options.get("forward", "dropout_forward")
        backward = check.options.get("backward", "dropout_backward")
        lines = [f"out, cache = {forward}(x, {{'mode': 'train', 'p': p, 'seed': mask_seed}})",
                 f"dx = {backward}(dout, cache)",
                 f"out2, cache2 = {forward}(x, {{'mode': 'train', 'p': p, 'seed': mask_seed}})",
                 f"out_test, cache_test = {forward}(x, {{'mode': 'test', 'p': p}})"]
        from . import statements
        compiler = self.start(check, params).statements(statements.parse(lines))
        for name in ("out", "dx", "out2", "out_test"):
            compiler.output(name, name)
        return _CompiledView(compiler)

    def needs_reference(self, check):
        return False

    def expected(self, check, case, arrays, ctx):
        scale = np.asarray(1.0 / self.keep(check, case))
        return {"scale": scale, "dx_scale": scale, "test_out": arrays["x"]}

    def execute(self, session, check, case, arrays, ctx):
        compiler = self.compile_for(check, case.params).compiler
        values, reply = self.run_child(session, check, compiler, arrays, self.doing(check))
        if "__structure__" not in values:
            values.update(self.derived(values, arrays))
        return Execution(values, [reply])

    @staticmethod
    def derived(values: dict, arrays: dict) -> dict:
        out = values.get("out")
        if not isinstance(out, np.ndarray) or out.shape != arrays["x"].shape or out.dtype.kind != "f":
            return {}
        kept = out != 0
        derived = {"scale": _median_ratio(out, arrays["x"], kept), "kept": kept}
        dx = values.get("dx")
        if isinstance(dx, np.ndarray) and dx.shape == out.shape and dx.dtype.kind == "f":
            derived["dx_scale"] = _median_ratio(dx, arrays["dout"], kept)
        return derived

    def mistake_outputs(self, check, mistake, arrays, case, ctx=None) -> dict:
        from ..mutation import patched
        compiler = self.compile_for(check, case.params).compiler
        with patched({mistake.kernel: mistake.variant}, "reference"):
            values = self.reference_values(check, compiler, arrays)
        return {name: value for name, value in {**values, **self.derived(values, arrays)}.items()
                if isinstance(value, np.ndarray)}

    def compare(self, check, case, arrays, expected, actual):
        if "__structure__" in actual:
            return [Comparison("return value", "type", actual["__structure__"])]
        keep, x = self.keep(check, case), arrays["x"]
        out = actual.get("out")
        reveal = case.public
        first = compare_arrays("train-mode out", x, out, {d: Tolerance(np.inf, np.inf) for d in EXACTISH}, None,
                               "exact", reveal)
        if not first.ok:                        # not an array of x's shape: nothing else can be judged
            first.output = "scale"
            return [first]
        kept = actual["kept"]
        # a hidden case's p is not shown (nor 1 / p, which gives it away)
        kept_words = f"{keep:g}" if reveal else "p" if check.options.get("p_means", "keep") == "keep" else "1 - p"
        comparisons = [self._named(compare_arrays("out / x where kept", expected["scale"], actual["scale"],
                                                  EXACTISH, None, "squeeze", reveal), "scale",
                                   f"(inverted dropout keeps each value with probability {kept_words} and divides "
                                   f"it by {kept_words})")]
        comparisons.append(self._named(compare_arrays("train-mode out", x * kept / keep, out, EXACTISH, None,
                                                      "exact", reveal), "out",
                                       "(each output must be 0 or x / p)"))
        if "dx_scale" in actual:
            comparisons.append(self._named(compare_arrays("dx / dout where kept", expected["dx_scale"],
                                                          actual["dx_scale"], EXACTISH, None, "squeeze", reveal),
                                           "dx_scale",
                                           f"(the backward scales the kept gradients by 1 / {kept_words} as "
                                           "the forward scaled the values)"))
        fraction, sigma = float(kept.mean()), np.sqrt(keep * (1 - keep) / kept.size)
        comparison = Comparison("fraction kept", None, "", {"kept_fraction": fraction, "expected": keep,
                                                            "allowed": 5 * sigma})
        if abs(fraction - keep) > 5 * sigma:
            comparison.problem = "values"
            comparison.message = (f"fraction of train-time outputs kept: {fraction:.4f}; with p = {case.params['p']:g} "
                                  f"it must be about {keep:g} (within {5 * sigma:.3f})" if reveal else
                                  f"the fraction of train-time outputs kept is not {kept_words} (beyond five "
                                  "standard deviations)")
        comparison.output = "kept_fraction"
        comparisons.append(comparison)
        repeat = compare_exact("second train-mode out with the same seed", out, actual.get("out2"), reveal)
        comparisons.append(self._named(repeat, "out2", "(dropout_param['seed'] must make the mask repeatable: "
                                                       "seed np.random with it before drawing the mask)"))
        comparisons.append(self._named(compare_arrays("test-mode out", x, actual.get("out_test"), EXACTISH, None,
                                                      "exact", reveal),
                                       "test_out", "(test mode returns x unchanged: inverted dropout already "
                                                   "scaled at train time)"))
        comparisons.append(self._named(compare_arrays("dx", arrays["dout"] * kept / keep, actual.get("dx"), EXACTISH,
                                                      None, "exact", reveal),
                                       "dx", "(dx is dout where the forward kept the value, divided by p, "
                                             "and 0 where it dropped it)"))
        return comparisons

    @staticmethod
    def _named(comparison: Comparison, output: str, explanation: str) -> Comparison:
        comparison.output = output
        if not comparison.ok and comparison.problem == "values":
            comparison.message += f" {explanation}"
        return comparison


def _median_ratio(values: np.ndarray, base: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The typical value of values / base where the forward kept a value (0 when it kept none)."""
    ratios = values[kept].astype(np.float64) / base[kept]
    return np.asarray(np.median(ratios) if ratios.size else 0.0)
