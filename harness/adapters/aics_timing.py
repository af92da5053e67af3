"""Speedup checks: is the student's speedup path a correct, genuinely faster implementation than the loops?

The course prints raw_time / speedup_time from one run, and a student can set
that number (a default argument, a slowed-down raw path, a memoised or
timing-aware fast path). Here:

* The judged ratio is the reference's plain loop (reference/aics/layers_2.py,
  the course template's four loops) over the student's speedup path, timed in
  the same run on the same machine and CPU, pair by pair in ABBA order
  (harness.timing). Nothing else the student wrote enters it; the student's
  own raw / speedup ratio, as the course prints it, is reported beside it.
  In a student kit (no reference) the student's raw path takes the loop's place.
* Every timed call gets new inputs, drawn by the grader from an unpredictable
  seed, so no two calls share an answer; the timed calls are ordinary call
  steps, as in any check, and return their results. A sample of the outputs,
  chosen after they arrive, is compared with the reference: only correct
  results are timed.
* Every timed backward runs on its own layer object after its own forward,
  done in an earlier request that is not timed: a backward that consumes what
  its forward recorded is right as the course uses it.
* Time is the CPU time of the sandbox's whole process tree (Reply.cpu_time),
  checked against wall time (harness.timing): work handed to a helper the
  accounting does not see is judged by wall time.
* Whether the raw path loops over output positions, and whether the speedup
  path calls the raw one, is read from the source (harness.looplint).
* Measuring stops once the verdict is certain (harness.timing); under a
  ``TimingGate`` (batch grading) one measurement runs at a time, with the
  child and the measuring thread pinned to the gate's CPU (harness.timing_gate).
  Nothing the student controls runs long under the gate: the raw path (its
  time is only reported) runs before it is taken, and each request made while
  it is held is cut at 10 s (hold_max), where a passing batch takes about 1 s.

The threshold (``min_ratio``) and the figures it rests on are in the spec's
comments (specs/aics-exp3-3.yaml) and benchmarks/bench_speedup_paths.py.
"""
from __future__ import annotations

import contextlib
import math
import secrets
import statistics
import time

import numpy as np

from ..compare import Comparison, compare_arrays
from ..spec import Case, CheckSpec
from ..timing import Measurement, PairedTiming, measure_until_certain, repetitions
from ..timing_gate import LocalGate, pinned_thread
from .aics_layers import NO_PLAN, CallPlan, ConvKind, PoolKind, _missing_method, course_type, run_program
from .base import NUMBER, ChildFailure, Execution, Kind, KindConfigError, OutputSpec, add_note
from .program import Program, ref
from .registry import register

# min_ratio 2: judged against the course's plain loop, every genuine speedup path measured on the spec's
# shapes is 4.3x (a per-output-channel multiply-and-sum, conv forward) or faster, and every faked one that
# is timed is 0.8-1.0x; the spec's comments and benchmarks/README.md give the figures. target_seconds: one
# batch of timed calls lasts about this long; max_batch_bytes bounds what a batch holds in the child.
# stop_spread 0.1 and 60 ms batches: one run's judged ratio is within 10% of another's (benchmarks/bench_batch.py:
# at most 10-12% over 32 ratios, where 0.3 and 30 ms gave 15-18%), for 3.5-4 pairs a check instead of 3.
DEFAULT_OPTIONS = {"min_ratio": 2.0, "pairs": 9, "min_pairs": 3, "certain_factor": 1.5, "stop_spread": 0.1,
                   "target_seconds": 0.06, "max_calls": 64, "max_batch_bytes": 64 << 20, "verify": 3,
                   "raw_measurements": 1, "min_fraction_of_reference": 0.0, "calibrate": True,
                   "hold_floor": 5.0, "hold_factor": 50.0, "hold_max": 10.0}


@register
class Speedup(Kind):
    name = "aics.speedup"
    roles = ("raw", "speedup", "raw_forward", "speedup_forward", "init", "load")
    outputs = (OutputSpec("ratio"),)
    options_properties = {
        "layer": {"enum": ["conv", "pool"]}, "stage": {"enum": ["forward", "backward"]},
        "min_ratio": NUMBER,
        "min_fraction_of_reference": {**NUMBER, "description": "also require this fraction of the reference's "
                                      "own loop / fast ratio (0: off)"},
        "pairs": {"type": "integer", "minimum": 3, "description": "the most measurement pairs"},
        "min_pairs": {"type": "integer", "minimum": 1, "description": "pairs before the verdict may stop early"},
        "certain_factor": {"type": "number", "minimum": 1, "description": "how far beyond the threshold every "
                           "pair ratio must lie to stop early"},
        "stop_spread": {"type": "number", "minimum": 0, "description": "stop early only when min_pairs pair "
                        "ratios lie within half this fraction of their median"},
        "target_seconds": NUMBER, "max_calls": {"type": "integer", "minimum": 1},
        "max_batch_bytes": {"type": "integer", "minimum": 1},
        "verify": {"type": "integer", "minimum": 0, "description": "timed calls per batch compared with the "
                   "reference, chosen after the results arrive"},
        "raw_measurements": {"type": "integer", "minimum": 0, "description": "timed calls of the student's raw "
                             "path, for the ratio the course prints"},
        "calibrate": {"type": "boolean", "description": "time the reference's plain loop in the same run "
                      "(needs reference/); false in a student kit: the student's raw path is the loop"},
        "hold_floor": {**NUMBER, "description": "seconds a request may always take while the timing gate is held"},
        "hold_factor": {**NUMBER, "description": "a request under the timing gate may take this many times what "
                        "the estimate before it predicts (or hold_floor, whichever is longer)"},
        "hold_max": {**NUMBER, "description": "seconds a request may never exceed while the timing gate is held"},
    }

    def layer_kind(self, check: CheckSpec):
        return _CONV if check.options.get("layer") == "conv" else _POOL

    def validate(self, check):
        for key in ("layer", "stage"):
            if key not in check.options:
                raise KindConfigError(f"options.{key} is required", ("options",))
        super().validate(check)
        for role in ("raw", "speedup") + (("raw_forward", "speedup_forward") if check.options["stage"] == "backward" else ()):
            if role not in check.target.methods:
                raise KindConfigError(f"target.methods.{role} is required (the method's name in the template)",
                                      ("target", "methods"))

    def case_schema(self, check):
        layer = self.layer_kind(check)
        return layer.case_properties, layer.required_case_keys

    def validate_case(self, check, case, key_path):
        self.layer_kind(check).validate_case(check, case, key_path)

    def options(self, check: CheckSpec) -> dict:
        return {**DEFAULT_OPTIONS, **check.options}

    def make_inputs(self, check, case, ctx):
        return self.layer_kind(check).make_inputs(check, case, ctx)

    def needs_reference(self, check):
        return self.options(check)["calibrate"]

    def expected(self, check, case, arrays, ctx):
        """Nothing to compute up front: the reference is timed beside the student, pair by pair."""
        return {"calibrated": bool(self.options(check)["calibrate"])}

    # --- measuring ----------------------------------------------------------------------------------
    def execute(self, session, check, case, arrays, ctx):
        options = self.options(check)
        static = _static_facts(session, check, ctx)
        run = _Run(session, check, case, arrays, self.layer_kind(check), options, ctx)
        run.setup()
        run.student("speedup", 1)                           # warm-up
        estimate = run.student("speedup", 2)                # the cost of one call, request overhead shared
        run.calls = min(repetitions(estimate.per_call(), options["target_seconds"], options["max_calls"]),
                        max(1, options["max_batch_bytes"] // run.bytes_per_call()))
        fast = lambda index: run.student("speedup", run.calls, index)      # noqa: E731
        settled = _settled_by_source(check, static)
        stopping = (options["min_ratio"], options["min_pairs"], options["pairs"], options["certain_factor"],
                    lambda: "a timed call returned a wrong result" if run.wrong else settled, options["stop_spread"])
        # The student's raw path gives only the ratio the course prints (the verdict is against the reference's
        # loop): it runs before the gate is taken, so however slow it is no other worker waits for it.
        raw = [run.student("raw", 1) for _ in range(options["raw_measurements"])] if run.calibrated else []
        shared_gate = getattr(ctx, "timing_gate", None)
        with _measuring(shared_gate or LocalGate(), session) as conditions:
            run.hold_cap = _hold_cap(estimate, run.calls, options) if shared_gate is not None else None
            if run.calibrated:
                reference_fast = run.reference_fast(ctx)
                timing = measure_until_certain(run.reference_loop, fast, *stopping)
            else:
                reference_fast = None
                timing = measure_until_certain(lambda index: run.student("raw", 1), fast, *stopping)
                raw = list(timing.a)
        return Execution({"timing": timing, "raw": raw, "reference_fast": reference_fast, "calls": run.calls,
                          "static": static, "verified": run.verified, "wrong": run.wrong, **conditions}, run.replies)

    # --- verdict ------------------------------------------------------------------------------------
    def compare(self, check, case, arrays, expected, actual):
        options = self.options(check)
        timing: PairedTiming = actual["timing"]
        calibrated = expected.get("calibrated", False) and actual["reference_fast"] is not None
        speedup_seconds = timing.b_median
        raw_seconds = _median([m.per_call() for m in actual["raw"]])
        loop_seconds = timing.a_median if calibrated else math.nan
        reference_fast = actual["reference_fast"] if calibrated else math.nan
        metrics = {
            "ratio": timing.ratio, "ratio_spread": timing.spread, "ratio_cv": timing.coefficient_of_variation,
            "judged_against": "the reference's plain loop" if calibrated else "your raw path",
            "own_ratio": raw_seconds / speedup_seconds if speedup_seconds > 0 else math.nan,
            "reference_ratio": loop_seconds / reference_fast if calibrated and reference_fast > 0 else math.nan,
            "raw_seconds": raw_seconds, "speedup_seconds": speedup_seconds,
            "reference_raw_seconds": loop_seconds, "reference_speedup_seconds": reference_fast,
            "pairs": len(timing.ratios), "stopped": timing.stop_reason, "calls_per_measurement": actual["calls"],
            "outputs_verified": actual["verified"], "judged_by_wall_time": timing.b_by_wall,
            "speedup_cpu_share": _median([m.share for m in timing.b]), "min_ratio": options["min_ratio"],
            "threads": 1, "pinned_cpu": actual["pinned_cpu"], "gate_wait_seconds": actual["gate_wait_seconds"],
        }
        static = actual["static"]
        metrics.update(_static_metrics(static))
        problems = self._problems(check, options, metrics, static, actual["wrong"], calibrated)
        notes = _notes(check, metrics, static, calibrated)
        if notes:
            metrics["notes"] = "; ".join(notes)
        return [Comparison("speedup", "values" if problems else None, "; ".join(problems), metrics)]

    def _problems(self, check, options, metrics, static, wrong, calibrated) -> list[str]:
        raw_name, fast_name = check.target.methods["raw"], check.target.methods["speedup"]
        problems = []
        if wrong:
            problems.append(f"{wrong}: a speedup counts only with correct results (every timed call gets new inputs)")
        raw, fast = static.get("raw"), static.get("speedup")
        if fast is not None and raw is not None and _calls(fast, raw):
            problems.append(f"the speedup path calls {raw_name}: it is not a separate, faster implementation")
        if raw is not None and raw.found and not raw.loops_over_positions:
            rebound = f" ({raw.rebound})" if raw.rebound else ""
            problems.append(f"{raw_name}{rebound} has no loop over output positions in its source (two nested loops "
                            "indexing arrays, in it or in the helpers it calls): the raw path must be the plain loop "
                            "version, not a vectorised one")
        ratio, needed = metrics["ratio"], options["min_ratio"]
        if not ratio >= needed:
            against = "the course's plain loop" if calibrated else raw_name
            loop = metrics["reference_raw_seconds"] if calibrated else metrics["raw_seconds"]
            why = _slow_reasons(fast)
            problems.append(f"{fast_name} is {ratio:.1f}x as fast as {against} on this machine; at least {needed:g}x "
                            f"is required ({against} {loop * 1e3:.2f} ms, {fast_name} {metrics['speedup_seconds'] * 1e3:.3f} "
                            f"ms per call)" + (f". Why it may be slow: {why}" if why else ""))
        fraction = options["min_fraction_of_reference"]
        if calibrated and fraction and ratio < fraction * metrics["reference_ratio"]:
            problems.append(f"speedup ratio {ratio:.1f}x is below {fraction:.0%} of what the reference achieves "
                            f"on this machine ({metrics['reference_ratio']:.1f}x)")
        return problems


# --- one check's measurements -------------------------------------------------------------------------

class _Run:
    """The programs, inputs and replies of one speedup check; verification of the timed outputs."""

    def __init__(self, session, check: CheckSpec, case: Case, arrays: dict, layer, options: dict, ctx=None):
        self.session, self.check, self.case, self.layer, self.options, self.ctx = session, check, case, layer, options, ctx
        self.stage = check.options["stage"]
        # per path, the course's dispatch when a method the spec names is missing (a renamed backward_raw_book):
        # the layer built with the path's `type`, called through layer.forward / layer.backward
        self.plans = {"raw": NO_PLAN, "speedup": NO_PLAN}
        self.weights = {name: arrays[name] for name in layer.parameter_names}
        self.rng = np.random.default_rng(secrets.randbits(128))    # the child cannot predict the inputs
        self.calibrated = bool(options["calibrate"])
        self.calls = 1
        self.replies, self.verified, self.wrong = [], 0, ""
        self.pair: tuple[int, list[dict], dict] | None = None       # (index, inputs, the plain loop's outputs)
        self.hold_cap: float | None = None      # seconds a request may take while the timing gate is held

    def fresh_inputs(self) -> dict:
        return self.layer.fresh_inputs(self.stage, self.case, self.rng)

    def bytes_per_call(self) -> int:
        """Input and output bytes one timed call holds in the child (backward: its layer's state too)."""
        return sum(array.nbytes for array in self.fresh_inputs().values()) * (4 if self.stage == "backward" else 2)

    def setup(self) -> None:
        program = Program().import_module(self.check.target.module, as_="module")
        if self.stage == "forward":
            for owner, path in (("layer", "speedup"), ("layer_raw", "raw")):
                self.layer.construct(program, self.check, self.case, owner, self.plans[path])
        self.request(program, dict(self.weights), "setting up the layers")

    def method(self, role: str) -> str:
        """The attribute a program calls for ``role`` (raw, speedup, raw_forward, speedup_forward)."""
        path = "raw" if role.startswith("raw") else "speedup"
        if role in self.plans[path].dispatched:
            return "forward" if role.endswith("forward") else self.stage
        return self.check.target.methods[role]

    def dispatch(self, failure: ChildFailure, path: str) -> bool:
        """After a failure: when it is a method of ``path`` the spec names that is missing, go the course's way
        for it (noted on the check) and say so; False for any other failure."""
        missing = _missing_method(failure.reply)
        plan = self.plans[path]
        for role in (path, f"{path}_forward"):
            if role in self.check.target.methods and self.check.target.methods[role] == missing \
                    and role not in plan.dispatched:
                self.plans[path] = CallPlan({**plan.dispatched, role: missing}, course_type(self.check.target.methods[path]))
                add_note(self.ctx, self.check.id, f"{missing} is missing; timed through "
                         f"{self.check.target.class_name}.{self.method(role)} of a layer built with "
                         f"{'type=1' if path == 'speedup' else 'type 0'}, as the course's driver calls it")
                if self.stage == "forward":
                    self.setup()
                return True
        return False

    def request(self, program: Program, arrays: dict, doing: str) -> tuple[dict, object]:
        timeout = self.check.timeout
        if self.hold_cap is not None and self.hold_cap < timeout:
            timeout = self.hold_cap
            doing += (f" while holding the timing lock, which every other worker of a batch waits for: a request "
                      f"may take at most {self.hold_cap:.0f} s there, where a passing batch of calls takes about a second")
        values, reply = run_program(self.session, program, arrays, timeout, doing, fresh=not self.replies)
        self.replies.append(reply)
        return values, reply

    def inputs_of_pair(self, index: int) -> list[dict]:
        """The new inputs of pair ``index``, shared by its two measurements (the loop times call 0's)."""
        if self.pair is None or self.pair[0] != index:
            self.pair = (index, [self.fresh_inputs() for _ in range(self.calls)], {})
        return self.pair[1]

    def student(self, path: str, calls: int, pair: int | None = None) -> Measurement:
        """Time ``calls`` calls of the student's raw or speedup path on new inputs; check a sample."""
        batch = self.inputs_of_pair(pair) if pair is not None and path == "speedup" else \
            [self.fresh_inputs() for _ in range(calls)]
        while True:
            try:
                return self.timed(path, batch, pair)
            except ChildFailure as failure:
                if not self.dispatch(failure, path):
                    raise

    def timed(self, path: str, batch: list[dict], pair: int | None) -> Measurement:
        method = self.method(path)
        owners = self.prepare(path, batch)
        argument = "dout" if self.stage == "backward" else "x"
        program, arrays = Program(), {}
        for index, (owner, inputs) in enumerate(zip(owners, batch)):
            arrays[f"{argument}{index}"] = inputs[argument]
            program.call(f"{owner}.{method}", ref(f"{argument}{index}"), as_=f"out{index}").output(f"out{index}")
            for name in self.layer.attributes(self.stage):
                program.get(f"{owner}.{name}", as_=f"{name}{index}").output(f"{name}{index}")
        values, reply = self.request(program, arrays, f"calling {method} on new inputs")
        if path == "speedup":           # the raw path is judged by its own checks; here it only reports a time
            self.verify(method, batch, values, self.pair[2] if pair is not None and self.pair else {})
        cpu = reply.cpu_time if reply.cpu_time is not None and reply.cpu_time > 0 else reply.wall_time
        return Measurement(cpu, reply.wall_time, len(batch))

    def prepare(self, path: str, batch: list[dict]) -> list[str]:
        """The objects the timed calls run on. Backward: one per call, each after its own forward, in a request
        of its own (so the forward's time is not the backward's)."""
        if self.stage == "forward":
            return ["layer" if path == "speedup" else "layer_raw"] * len(batch)
        forward = self.method(f"{path}_forward")
        program, arrays = Program(), dict(self.weights)
        owners = [f"layer{index}" for index in range(len(batch))]
        for index, (owner, inputs) in enumerate(zip(owners, batch)):
            self.layer.construct(program, self.check, self.case, owner, self.plans[path])
            arrays[f"x{index}"] = inputs["x"]
            program.call(f"{owner}.{forward}", ref(f"x{index}"))
        self.request(program, arrays, f"calling {forward} before {self.method(path)}")
        return owners

    def verify(self, method: str, batch: list[dict], values: dict, loop_outputs: dict) -> None:
        """Compare a sample of the results, chosen now that they have arrived, with the reference's."""
        if not self.calibrated or self.wrong:
            return
        chosen = secrets.SystemRandom().sample(range(len(batch)), min(len(batch), self.options["verify"]))
        chosen = sorted(set(chosen) | ({0} if loop_outputs else set()))       # the loop's result for call 0 is at hand
        for index in chosen:
            expected = loop_outputs if index == 0 and loop_outputs else \
                self.layer.reference(self.stage, "fast", self.case, batch[index], self.weights)
            for output, wire in self.layer.output_names(self.stage):
                comparison = compare_arrays(output, expected[output], values.get(f"{wire}{index}"), self.check.tolerance,
                                            batch[index]["x"].dtype, "squeeze" if output == "d_bias" else "exact",
                                            self.case.public)
                if not comparison.ok:
                    self.wrong = f"timed call {index + 1} of {len(batch)} of {method}: {comparison.message}"
                    return
            self.verified += 1

    def reference_loop(self, pair: int) -> Measurement:
        """The course's plain loop on call 0 of this pair's inputs, timed in this thread."""
        inputs = self.inputs_of_pair(pair)[0]
        started_cpu, started = time.thread_time(), time.perf_counter()
        outputs = self.layer.reference(self.stage, "loop", self.case, inputs, self.weights)
        measurement = Measurement(time.thread_time() - started_cpu, time.perf_counter() - started, 1)
        self.pair[2].update(outputs)
        return measurement

    def reference_fast(self, ctx) -> float:
        """Seconds per call of the reference's fast path, for the reference's own ratio (memoised for the run)."""
        key = ("speedup.reference_fast", self.check.id, self.case.name)
        memo = ctx.lab.expected_memo
        if key not in memo:
            batch = [self.fresh_inputs() for _ in range(8)]
            self.layer.reference(self.stage, "fast", self.case, batch[0], self.weights)      # warm-up
            started = time.thread_time()
            self.layer.reference(self.stage, "fast", self.case, batch[1], self.weights)
            calls = repetitions(time.thread_time() - started, self.options["target_seconds"], 200)
            started = time.thread_time()
            for index in range(calls):
                self.layer.reference(self.stage, "fast", self.case, batch[index % len(batch)], self.weights)
            memo[key] = (time.thread_time() - started) / calls
        return memo[key]


@contextlib.contextmanager
def _measuring(gate, session):
    """Hold the gate; pin the child's process tree and this thread to the gate's CPU when the session can;
    BLAS single-threaded here as in the child. Yields the conditions, for the metrics."""
    started = time.perf_counter()
    with gate.measuring() as cpu:
        conditions = {"gate_wait_seconds": time.perf_counter() - started, "pinned_cpu": None}
        pinned = cpu is not None and _pin(session, cpu)
        try:
            with _single_threaded_blas(), pinned_thread(cpu if pinned else None) as thread_pinned:
                if pinned and thread_pinned:
                    conditions["pinned_cpu"] = cpu
                yield conditions
        finally:
            if pinned:
                _pin(session, None)


def _hold_cap(estimate: Measurement, calls: int, options: dict) -> float:
    """How long one request may take under a batch's shared gate: ``hold_factor`` times what the estimate
    predicts for a batch of ``calls`` (its forward requests included), at least ``hold_floor`` and at most
    ``hold_max`` seconds. Honest code is far inside it (a passing batch takes about a second: the plain loops
    take 0.04-0.16 s a call on the spec's shapes); code that stalls when timed (a sleep on the timing shapes,
    red team 2: 600 s of another student's budget) stops its own check instead of every other worker's timing."""
    predicted = estimate.wall / max(1, estimate.calls) * calls
    return min(options["hold_max"], max(options["hold_floor"], options["hold_factor"] * predicted))


def _single_threaded_blas():
    """threadpoolctl's limit when it is installed (grading); a student kit has only numpy, and no reference to time."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _pin(session, cpu: int | None) -> bool:
    """Pin the sandbox child's process tree to ``cpu`` (None: undo); False when the session cannot."""
    setter = getattr(session, "set_affinity", None)
    if not callable(setter):
        return False
    try:
        setter({cpu} if cpu is not None else None)
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# --- what the source says -------------------------------------------------------------------------------

def _static_facts(session, check: CheckSpec, ctx) -> dict:
    """looplint's reports of the raw and speedup methods: read once per submission for every speedup check, from
    the files the sandbox copied, in a bounded subprocess whose time the check's budget pays; a reader that
    gives no answer makes the check an error (ChildFailure), never a pass."""
    from .. import looplint
    from ..sandbox.reply import Reply
    lab = getattr(getattr(ctx, "lab", None), "spec", None)
    checks = [other for other in getattr(lab, "checks", ()) if other.kind == check.kind] or [check]
    targets = [(other.target.file, other.target.class_name, dict(other.target.methods)) for other in checks]
    try:
        reports = looplint.session_reports(session, targets, getattr(ctx, "memo", None))
    except looplint.LintFailed as failure:
        reply = Reply("timeout" if failure.timed_out else "error", detail=str(failure))
        raise ChildFailure(reply, "reading the raw and speedup paths' source") from None
    if not reports:
        return {}
    target = check.target
    return {role: reports[(target.file, target.class_name, target.methods[role])] for role in ("raw", "speedup")}


def _settled_by_source(check: CheckSpec, static: dict) -> str:
    """Why the source alone fails the check (then one pair of measurements is enough to report), or ""."""
    raw, fast = static.get("raw"), static.get("speedup")
    if raw is not None and raw.found and not raw.loops_over_positions:
        return f"{check.target.methods['raw']} has no loop over output positions"
    if raw is not None and fast is not None and _calls(fast, raw):
        return f"the speedup path calls {check.target.methods['raw']}"
    return ""


def _calls(fast, raw) -> bool:
    from .. import looplint
    return looplint.calls_method(fast, raw)


def _static_metrics(static: dict) -> dict:
    metrics = {}
    raw, fast = static.get("raw"), static.get("speedup")
    if raw is not None:
        metrics["raw_loop_depth"] = raw.loop_depth if raw.found else None
        metrics["raw_source"] = raw.where or raw.note
    if fast is not None:
        metrics["speedup_source"] = fast.where or fast.note
        metrics["speedup_hints"] = list(fast.hints)
    return metrics


def _slow_reasons(fast) -> str:
    if fast is None or not fast.found:
        return ""
    reasons = list(fast.hints)
    if fast.loops_over_positions:
        lines = ", ".join(str(line) for line in fast.loop_lines)
        reasons.append(f"a Python loop nest indexing arrays starts at line {lines}: if it runs over output positions "
                       "(not over a few kernel offsets or channels), each iteration costs microseconds of interpreter time")
    return "; ".join(reasons)


def _notes(check: CheckSpec, metrics: dict, static: dict, calibrated: bool) -> list[str]:
    notes = []
    raw_name = check.target.methods["raw"]
    if calibrated and metrics["raw_seconds"] > 3 * metrics["reference_raw_seconds"]:
        notes.append(f"{raw_name} takes {metrics['raw_seconds'] / metrics['reference_raw_seconds']:.0f}x the time of "
                     "the course's plain loop, so the ratio the course prints (your raw / your speedup, "
                     f"{metrics['own_ratio']:.1f}x) overstates the speedup; the judged ratio uses the plain loop")
    if metrics["judged_by_wall_time"]:
        notes.append(f"the speedup path used {metrics['speedup_cpu_share']:.0%} of the CPU it could have used while it "
                     "ran (work done outside the measured processes, or waiting for it): judged by wall time")
    for role in ("raw", "speedup"):
        report = static.get(role)
        if report is not None and report.note:
            notes.append(f"{check.target.methods[role]}: {report.note}; its source was not judged")
    if not calibrated:
        notes.append("no reference here (a student kit): judged against your own raw path, outputs not verified")
    return notes


# --- layers ---------------------------------------------------------------------------------------------

class _ConvTiming(ConvKind):
    name = "aics.speedup.conv"
    parameter_names = ("weight", "bias")

    def construct(self, program: Program, check: CheckSpec, case: Case, owner: str, plan: CallPlan = NO_PLAN) -> None:
        program.call(f"module.{check.target.class_name}", *self.constructor_args(check, case, plan), as_=owner)
        program.call(f"{owner}.{check.target.methods.get('init', 'init_param')}")
        program.call(f"{owner}.{check.target.methods.get('load', 'load_param')}", ref("weight"), ref("bias"))

    def fresh_inputs(self, stage: str, case: Case, rng) -> dict:
        p = case.params
        n, c, h, w = p["shape"]
        inputs = {"x": rng.standard_normal((n, c, h, w)).astype(case.dtype)}
        if stage == "backward":
            out_h = (h + 2 * p["padding"] - p["kernel"]) // p["stride"] + 1
            out_w = (w + 2 * p["padding"] - p["kernel"]) // p["stride"] + 1
            inputs["dout"] = rng.standard_normal((n, p["channels_out"], out_h, out_w)).astype(case.dtype)
        return inputs

    def attributes(self, stage: str) -> tuple[str, ...]:
        return ("d_weight", "d_bias") if stage == "backward" else ()

    def output_names(self, stage: str) -> list[tuple[str, str]]:
        """(reference output, prefix of its name in the child's program)."""
        if stage == "forward":
            return [("output", "out")]
        return [("bottom_diff", "out"), ("d_weight", "d_weight"), ("d_bias", "d_bias")]

    def reference(self, stage: str, path: str, case: Case, inputs: dict, weights: dict) -> dict:
        from reference.aics import layers_2 as peer
        p = case.params
        if stage == "forward":
            function = peer.conv_forward_raw if path == "loop" else peer.conv_forward_speedup
            return {"output": function(inputs["x"], weights["weight"], weights["bias"], p["padding"], p["stride"])}
        function = peer.conv_backward_raw if path == "loop" else peer.conv_backward_speedup
        dx, d_weight, d_bias = function(inputs["dout"], inputs["x"], weights["weight"], p["padding"], p["stride"])
        return {"bottom_diff": dx, "d_weight": d_weight, "d_bias": d_bias}


class _PoolTiming(PoolKind):
    name = "aics.speedup.pool"
    parameter_names = ()

    def construct(self, program: Program, check: CheckSpec, case: Case, owner: str, plan: CallPlan = NO_PLAN) -> None:
        program.call(f"module.{check.target.class_name}", *self.constructor_args(check, case, plan), as_=owner)

    def fresh_inputs(self, stage: str, case: Case, rng) -> dict:
        p = case.params
        n, c, h, w = p["shape"]
        # continuous values: a tie inside a window has probability zero
        inputs = {"x": rng.standard_normal((n, c, h, w)).astype(case.dtype)}
        if stage == "backward":
            out_h, out_w = (h - p["kernel"]) // p["stride"] + 1, (w - p["kernel"]) // p["stride"] + 1
            inputs["dout"] = rng.standard_normal((n, c, out_h, out_w)).astype(case.dtype)
        return inputs

    def attributes(self, stage: str) -> tuple[str, ...]:
        return ()

    def output_names(self, stage: str) -> list[tuple[str, str]]:
        return [("output" if stage == "forward" else "bottom_diff", "out")]

    def reference(self, stage: str, path: str, case: Case, inputs: dict, weights: dict) -> dict:
        from reference.aics import layers_2 as peer
        p = case.params
        if stage == "forward":
            function = peer.pool_forward_raw if path == "loop" else peer.pool_forward_speedup
            return {"output": function(inputs["x"], p["kernel"], p["stride"])}
        function = peer.pool_backward_raw if path == "loop" else peer.pool_backward_speedup
        return {"bottom_diff": function(inputs["dout"], inputs["x"], p["kernel"], p["stride"])}


_CONV, _POOL = _ConvTiming(), _PoolTiming()
