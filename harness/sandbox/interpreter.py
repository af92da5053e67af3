"""The child's interpreter for the straight-line programs the parent sends.

    {"steps": [step, ...], "outputs": ["name", ...]}

The namespace starts with the request's arrays by name. A step is a dict
whose key names its kind; each kind is one function registered with
``@step(kind)``, so adding a kind is adding a function:

    {"import": "layers_2", "as": "m"}                    the submission's module, as <package>.layers_2
    {"call": "m.ConvolutionalLayer", "args": [...], "kwargs": {...}, "as": "conv"}
    {"call": "conv.forward_raw", "args": [...], "repeat": 30}    30 calls, one step (a timing loop)
    {"get": "conv.d_weight", "as": "dw"}
    {"set": "conv.weight", "value": expr}
    {"item": "feats", "key": "relu4_2", "as": "x"}       x = feats["relu4_2"] (a dict key or a sequence index)
    {"seed": 1234}                                       np.random.seed and random.seed
    {"copy": "x", "as": "x_before"}                      a deep copy
    {"chain": {"layers": "vgg.layers", "names": "vgg.param_layer_name", "input": expr,
               "method": "forward", "capture": [...], "until": "softmax", "as": "acts"}}
    {"trace": {"call": "layer.forward_raw", "args": [...], "watch": ["forward_raw"], "as": "t"}}
    {"bound": {"layers": "vgg.layers", "names": "vgg.param_layer_name", "classes": [...],
               "attributes": ["forward"], "among": ["forward_raw", "forward_speedup"], "as": "paths"}}

Dotted paths start at a namespace name and follow attributes. Expressions
(args, kwargs, values) are JSON literals, {"ref": "name.attr"}, {"tuple":
[...]}, {"dict": {...}}; lists are lists of expressions. Every step first says
what it is doing ("calling ConvolutionalLayer.forward_raw"), which is what an
error, a timeout or a crash report names.

This module is sent to the child: standard library and numpy only.
"""
from __future__ import annotations

import copy
import os
import random
import sys
import types

import numpy as np

STEPS: dict = {}


class ProgramError(Exception):
    """The program itself is malformed or refers to an undefined name: the harness's bug, not the submission's."""


def step(kind: str):
    def register(function):
        STEPS[kind] = function
        return function
    return register


class Interpreter:
    """Runs programs against the submission; keeps the namespace between requests unless asked for a fresh one."""

    def __init__(self, modules, describe_failure, to_wire, progress, violation_type):
        self.modules = modules                  # loader.SubmissionModules
        self.describe_failure = describe_failure   # (exc, step, callee) -> error dict
        self.to_wire = to_wire                  # value -> (array | None, description)
        self.progress = progress                # called with the text of each step as it starts
        self.violation_type = violation_type    # policy.SandboxViolation
        self.namespace: dict = {}
        self.doing: str | None = None
        self.callee = None

    def run(self, program: dict, arrays: dict, fresh: bool) -> dict:
        """{"status", "values", "arrays", "error"}; never raises (the submission's exceptions become the error)."""
        if fresh:
            self.modules.forget()
            self.namespace = {}
        self.namespace.update(arrays)
        self.doing = self.callee = None
        try:
            for index, spec in enumerate(program.get("steps", [])):
                self.callee = None
                kind = _kind_of(spec, index)
                STEPS[kind](self, spec[kind], spec)
            self.report("converting the outputs")
            values, outputs = self.outputs(program.get("outputs", []), strict=True)
            return {"status": "ok", "values": values, "arrays": outputs, "error": None}
        except BaseException as exc:            # SystemExit and KeyboardInterrupt from submission code too
            values, outputs = self.outputs(program.get("outputs", []), strict=False)
            status = "blocked" if _caused_by(exc, self.violation_type) else "error"
            return {"status": status, "values": values, "arrays": outputs,
                    "error": self.describe_failure(exc, self.doing, self.callee)}

    def outputs(self, names: list, strict: bool) -> tuple[dict, dict]:
        """Descriptions and arrays of the named outputs; after a failure, those that exist and convert."""
        values, arrays = {}, {}
        for name in names:
            if name not in self.namespace:
                if strict:
                    raise ProgramError(f"output {name!r} was never assigned by the program")
                continue
            try:
                array, description = self.to_wire(self.namespace[name])
            except Exception:
                if strict:
                    raise
                continue
            values[name] = description
            if array is not None:
                arrays[name] = array
        return values, arrays

    # --- helpers the steps share --------------------------------------------------------------
    def report(self, doing: str) -> None:
        self.doing = doing
        self.progress(doing)

    def resolve(self, path: str):
        """The value of a dotted path; a missing attribute is an AttributeError naming its owner."""
        if not isinstance(path, str) or not path:
            raise ProgramError(f"a path must be a non-empty string, not {path!r}")
        first, *attributes = path.split(".")
        if first not in self.namespace:
            raise ProgramError(f"the program refers to {first!r}, which no earlier step defined")
        value = self.namespace[first]
        for attribute in attributes:
            value = self.attribute(value, attribute)
        return value

    def attribute(self, owner, name: str):
        try:
            return getattr(owner, name)
        except AttributeError as error:
            if error.__traceback__ is not None and error.__traceback__.tb_next is not None:
                raise                           # raised inside the submission's own code (a property)
            raise AttributeError(self.missing_words(owner, name), name=name, obj=owner) from None

    def lookup(self, path: str):
        """Like resolve, but a missing last attribute is reported as the call that was about to be made
        ("calling MaxPoolingLayer.backward_raw_book"), not as whatever step ran before it."""
        owner_path, _, name = path.rpartition(".") if isinstance(path, str) else ("", "", path)
        if not owner_path:
            return self.resolve(name)
        owner = self.resolve(owner_path)
        self.doing = f"calling {self.owner_words(owner)}.{name}"     # no progress report: a lookup cannot hang
        return self.attribute(owner, name)

    def owner_words(self, owner) -> str:
        if isinstance(owner, types.ModuleType):
            return self.short_module(owner.__name__)
        return owner.__name__ if isinstance(owner, type) else type(owner).__name__

    def missing_words(self, owner, name: str) -> str:
        if not isinstance(owner, types.ModuleType):
            return f"{type(owner).__name__} object has no attribute {name!r}"
        file_name = self.short_module(owner.__name__).replace(".", "/") + ".py"
        path = getattr(owner, "__file__", None)
        empty = " (the file is empty)" if isinstance(path, str) and os.path.isfile(path) and not os.path.getsize(path) else ""
        return f"{file_name} does not define {name!r}{empty}"

    def short_module(self, name: str) -> str:
        prefix = self.modules.package + "."
        return name[len(prefix):] if name.startswith(prefix) else name

    def evaluate(self, expression):
        if isinstance(expression, list):
            return [self.evaluate(item) for item in expression]
        if isinstance(expression, dict):
            if set(expression) == {"ref"}:
                return self.resolve(expression["ref"])
            if set(expression) == {"tuple"}:
                return tuple(self.evaluate(item) for item in expression["tuple"])
            if set(expression) == {"dict"}:
                return {key: self.evaluate(item) for key, item in expression["dict"].items()}
            raise ProgramError(f"unknown expression {str(expression)[:200]}")
        return expression

    def arguments(self, spec: dict) -> tuple[list, dict]:
        return ([self.evaluate(item) for item in spec.get("args", [])],
                {key: self.evaluate(item) for key, item in spec.get("kwargs", {}).items()})

    def assign(self, spec: dict, value) -> None:
        if spec.get("as"):
            self.namespace[spec["as"]] = value

    def describe_callable(self, function) -> str:
        """ "constructing ConvolutionalLayer", "calling ConvolutionalLayer.forward_raw", "calling layers_1.helper"."""
        name = getattr(function, "__name__", type(function).__name__)
        if isinstance(function, type):
            return f"constructing {name}"
        owner = getattr(function, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            return f"calling {type(owner).__name__}.{name}"
        module = getattr(function, "__module__", None)
        return f"calling {self.short_module(module)}.{name}" if isinstance(module, str) else f"calling {name}"

    def is_submission_code(self, filename: str) -> bool:
        return filename.startswith(self.modules.package_dir + "/")


def _kind_of(spec, index: int) -> str:
    kinds = [key for key in spec if key in STEPS] if isinstance(spec, dict) else []
    if len(kinds) != 1:
        raise ProgramError(f"step {index} must have exactly one of the keys {', '.join(STEPS)}: {str(spec)[:200]}")
    return kinds[0]


def _caused_by(exc: BaseException, kind: type) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# --- the steps -------------------------------------------------------------------------------

@step("import")
def _import(run: Interpreter, name: str, spec: dict) -> None:
    run.report(f"importing {name}")
    try:
        module = run.modules.import_module(name)
    except ModuleNotFoundError as error:
        if not run.modules.is_missing(error, name):
            raise
        present = ", ".join(run.modules.present()) or "no .py files"
        raise ModuleNotFoundError(f"{name.replace('.', '/')}.py is missing from the submission (it has: {present})",
                                  name=name) from None
    run.assign(spec, module)


@step("call")
def _call(run: Interpreter, target: str, spec: dict) -> None:
    function = run.lookup(target)
    args, kwargs = run.arguments(spec)
    repeat = spec.get("repeat", 1)
    if type(repeat) is not int or repeat < 1:
        raise ProgramError(f"repeat must be a positive integer, not {repeat!r}")
    run.callee = function
    # one report for all repetitions: each report wakes the child's main thread, whose
    # work would count in the CPU time of a timing loop
    run.report(run.describe_callable(function))
    for _ in range(repeat):
        result = function(*args, **kwargs)
    run.assign(spec, result)


@step("get")
def _get(run: Interpreter, path: str, spec: dict) -> None:
    owner_path, _, name = path.rpartition(".")
    owner = run.resolve(owner_path) if owner_path else None
    run.report(f"reading {type(owner).__name__}.{name}" if owner_path else f"reading {name}")
    run.assign(spec, run.attribute(owner, name) if owner_path else run.resolve(name))


@step("set")
def _set(run: Interpreter, path: str, spec: dict) -> None:
    owner_path, _, name = path.rpartition(".")
    if not owner_path:
        run.namespace[name] = run.evaluate(spec.get("value"))
        return
    owner = run.resolve(owner_path)
    value = run.evaluate(spec.get("value"))
    run.report(f"setting {type(owner).__name__}.{name}")
    setattr(owner, name, value)


@step("item")
def _item(run: Interpreter, source: str, spec: dict) -> None:
    container, key = run.resolve(source), spec.get("key")
    run.report(f"reading {source}[{key!r}]")
    try:
        value = container[key]
    except (KeyError, IndexError) as error:
        keys = [str(name) for name in container.keys()] if isinstance(container, dict) else []
        shown = f"; it has {', '.join(keys[:40])}" if keys else ""
        raise type(error)(f"{source} ({type(container).__name__}) has no entry {key!r}{shown}") from None
    run.assign(spec, value)


@step("seed")
def _seed(run: Interpreter, value: int, spec: dict) -> None:
    run.report("seeding the random generators")
    np.random.seed(value)
    random.seed(value)


@step("copy")
def _copy(run: Interpreter, source: str, spec: dict) -> None:
    run.report(f"copying {source}")
    run.assign(spec, copy.deepcopy(run.resolve(source)))


@step("chain")
def _chain(run: Interpreter, chain: dict, spec: dict) -> None:
    """current = input; current = layers[name].<method>(current) for each name, as the course's driver loops."""
    layers, names = run.resolve(chain["layers"]), list(run.resolve(chain["names"]))
    method, until = chain.get("method", "forward"), chain.get("until")
    capture = list(chain.get("capture", []))
    run.report(f"preparing to run the layers of {chain['layers']}")
    wanted = capture + ([until] if until else [])
    absent = [name for name in wanted if name not in names]
    if absent:
        raise KeyError(f"{chain['names']} has no layer named {absent[0]!r}; it lists {', '.join(map(str, names))}")
    current, captured = run.evaluate(chain["input"]), {}
    for name in names:
        try:
            layer = layers[name]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{chain['layers']} has no entry for {name!r}, which {chain['names']} lists") from None
        run.doing = f"running layer {name} ({type(layer).__name__}.{method})"
        forward = run.attribute(layer, method)
        run.callee = forward
        run.report(run.doing)
        current = forward(current)
        if name in capture:
            captured[name] = current
        if name == until:
            break
    run.assign(chain, captured)


@step("bound")
def _bound(run: Interpreter, bound: dict, spec: dict) -> None:
    """Which course methods a container's layers have bound (the constructor's `type` switch), as indices.

    {"layers": "vgg.layers", "names": "vgg.param_layer_name", "classes": [...], "attributes": ["forward", ...],
     "among": ["forward_raw", "forward_speedup", ...], "as": "paths"} -> an int64 array, one row per layer
    name: [index of the layer's class ("layers_2.ConvolutionalLayer") in classes, then per attribute the index
    in among of the method it is bound to], -1 where nothing matches. Nothing is called; attributes are only
    looked up.
    """
    layers, names = run.resolve(bound["layers"]), list(run.resolve(bound["names"]))
    classes, attributes, among = list(bound["classes"]), list(bound["attributes"]), list(bound["among"])
    run.report(f"reading which methods the layers of {bound['layers']} use")
    rows = []
    for name in names:
        try:
            layer = layers[name]
        except (KeyError, IndexError, TypeError):
            rows.append([-1] * (1 + len(attributes)))
            continue
        owner = type(layer)
        qualified = f"{run.short_module(str(getattr(owner, '__module__', '')))}.{owner.__name__}"
        row = [classes.index(qualified) if qualified in classes else -1]
        for attribute in attributes:
            row.append(_bound_index(layer, owner, attribute, among))
        rows.append(row)
    run.assign(bound, np.asarray(rows, dtype=np.int64).reshape(len(names), 1 + len(attributes)))


def _bound_index(layer, owner: type, attribute: str, among: list) -> int:
    try:
        bound = getattr(layer, attribute)
    except Exception:                       # absent, or a property of the submission's that raises
        return -1
    function = getattr(bound, "__func__", bound)
    for index, name in enumerate(among):
        try:
            if getattr(owner, name, None) is function:
                return index
        except Exception:                   # a metaclass of the submission's that raises
            continue
    name = getattr(function, "__name__", None)
    return among.index(name) if name in among else -1


@step("trace")
def _trace(run: Interpreter, trace: dict, spec: dict) -> None:
    """Call once under sys.settrace: [Python lines executed in the submission, calls of the watched names].

    The call itself is not counted among the watched calls, only what it calls.
    """
    function = run.lookup(trace["call"])
    args, kwargs = run.arguments(trace)
    run.callee = function
    run.report(f"tracing {run.describe_callable(function).removeprefix('calling ')}")
    counts = traced_call(function, args, kwargs, frozenset(trace.get("watch", ())), run.is_submission_code)
    run.assign(trace, np.asarray(counts, dtype=np.int64))


def traced_call(function, args, kwargs, watch: frozenset, in_submission) -> list[int]:
    # The sandbox's audit hook allows sys.settrace from this function's code object only.
    counts, entered = [0, 0], []

    def count_lines(frame, event, arg):
        if event == "line":
            counts[0] += 1
        return count_lines

    def on_call(frame, event, arg):
        code = frame.f_code
        if not in_submission(code.co_filename):
            return None
        if not entered:
            entered.append(code)
        elif code.co_name in watch:
            counts[1] += 1
        return count_lines

    sys.settrace(on_call)
    try:
        function(*args, **kwargs)
    finally:
        sys.settrace(None)
    return counts


@step("provide")
def _provide(run: Interpreter, provided: dict, spec: dict) -> None:
    """Modules the parent sends (emulations of hardware libraries), importable when nothing installed is.

    {"provide": {"package": "nnlab_dlp", "modules": [[name, source], ...], "aliases": ["pycnml", ...]},
     "as": "emulated"}: executes each source once as <package>.<name> (in order, so later ones may import
    earlier ones relatively); then each alias is imported as the installed module of that name when the
    interpreter's path has one, else bound to <package>.<alias>. The submission's own files never provide
    an alias. Assigns an int64 array, 1 where the alias is the parent's module.
    """
    import importlib.machinery
    import importlib.util
    package = provided["package"]
    run.report(f"providing {', '.join(provided.get('aliases', []))}")
    if package not in sys.modules:
        root = types.ModuleType(package, "Modules the grader provides to the submission.")
        root.__path__ = []
        sys.modules[package] = root
    for name, source in provided.get("modules", []):
        qualified = f"{package}.{name}"
        if qualified not in sys.modules:
            module = types.ModuleType(qualified)
            module.__package__ = package
            sys.modules[qualified] = module
            try:
                exec(compile(source, f"<{qualified}>", "exec"), module.__dict__)
            except BaseException:
                del sys.modules[qualified]
                raise
            setattr(sys.modules[package], name, module)
    emulated = []
    for alias in provided.get("aliases", []):
        current = sys.modules.get(alias)
        if current is None:
            found = importlib.machinery.PathFinder.find_spec(alias)       # sys.path: never the submission's folder
            if found is not None:
                current = importlib.util.module_from_spec(found)
                sys.modules[alias] = current
                found.loader.exec_module(current)
            else:
                current = sys.modules[alias] = sys.modules[f"{package}.{alias}"]
        emulated.append(int(getattr(current, "__name__", "") == f"{package}.{alias}"))
    run.assign(spec, np.asarray(emulated, dtype=np.int64))
