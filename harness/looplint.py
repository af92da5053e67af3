"""What a submission's raw and speedup paths are, judged from their source (syntax tree), never from the child.

The course asks for a raw path written as loops over output positions and a
speedup path that is a separate, faster implementation. Whether a method
loops is read here from its syntax tree, following the calls it makes to
helper methods and functions of the submission (``self.im2col(...)``,
``helper(...)``, ``from .layers_1 import helper``, base classes), and what it
binds at run time when the source rebinds it (``forward_raw =
forward_speedup`` in the class body, ``ConvolutionalLayer.forward_raw = f`` or
``setattr`` at module level, ``self.forward_raw = ...`` in a method).

A "position loop nest" is two or more nested loops (for, while, or the
``for`` clauses of a comprehension) whose variables, or names computed from
them in the loop, index an array (appear inside a subscript): the course's
``for idxh ...: for idxw ...: window = x[..., idxh * s:idxh * s + k, ...]``.
A busy-wait (``while time.time() < t: pass``) or a loop that indexes nothing
is not one. Loops split between a method and the helper it calls inside the
loop count as one nest.

What this cannot see: code built at run time (exec, getattr with computed
names, metaclasses). Such a submission is judged by what its source says,
and the timing itself still decides the speedup verdict.

The grader never parses a submission itself: ``session_reports`` runs this
file as a program (``main``) in a subprocess bounded in memory, CPU and wall
time (harness.bounded), once per submission for every speedup check of the
lab, on the files the sandbox copied (no file the sandbox refused, e.g. one
over source_file_bytes, is read); its time is charged to the check's budget,
and a reader that fails or runs out of time is an error of the check
(``LintFailed``), never a pass.

This module imports only the standard library; fissix (the maintained
lib2to3 fork) is imported when a Python 2 source needs translating first.
"""
from __future__ import annotations

import ast
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_DEPTH = 12                       # helper calls followed from the judged method
SLOW_CALLS = {
    "vectorize": "np.vectorize is a Python loop over every element",
    "apply_along_axis": "np.apply_along_axis calls a Python function once per slice",
    "frompyfunc": "np.frompyfunc is a Python loop over every element",
}


@dataclass
class PathReport:
    """The static facts about one method of one class, as the child would run it."""

    method: str
    found: bool = False
    where: str = ""                                   # "layers_2.py:41 ConvolutionalLayer.forward_raw"
    rebound: str = ""                                 # "forward_raw = forward_speedup (layers_2.py:88)"
    loop_depth: int = 0                               # deepest nest of indexing loops, across helper calls
    loop_lines: list[int] = field(default_factory=list)   # first lines of the outermost loops of that nest
    functions: list[str] = field(default_factory=list)    # every function analysed, "file:line name"
    called_names: set[str] = field(default_factory=set)   # attribute and function names called anywhere
    reaches: set[int] = field(default_factory=set)        # ids of the function nodes reached (internal)
    root_id: int = -1                                 # id of the method's own function node (internal)
    hints: list[str] = field(default_factory=list)        # why a vectorised path may be slow
    note: str = ""                                    # why no judgement could be made

    @property
    def loops_over_positions(self) -> bool:
        return self.loop_depth >= 2


class LintFailed(Exception):
    """The source reader gave no answer (too slow, too much memory, a crash); the message says why."""

    def __init__(self, message: str, timed_out: bool = False, for_this_check: bool = False):
        super().__init__(message)
        self.timed_out = timed_out
        self.for_this_check = for_this_check    # cut short by what was left of a budget: another check may retry


LINT_SECONDS = 30.0
LINT_ADDRESS_SPACE = 1 << 30
MAX_LINT_BYTES = 32 << 20              # the .py files read, in all (each is within source_file_bytes already)
_MEMO_KEY = "looplint"


def session_reports(session, targets: list[tuple[str, str, dict]], memo: dict | None) -> dict:
    """{(file, class, method): PathReport} for every target (file, class, {role: method}) of the lab's
    speedup checks, from one bounded run of this file over the files the sandbox copied. Cached in ``memo``
    (the run's memo: once per submission); the seconds it took are charged to the session's open budgets,
    and it gets no more than what is left of them. Raises LintFailed; {} for a session without a scratch
    copy (trusted in-process code)."""
    if memo is not None and _MEMO_KEY in memo:
        cached = memo[_MEMO_KEY]
        if isinstance(cached, LintFailed):
            raise cached
        return cached
    scratch = getattr(session, "scratch", None)
    if scratch is None:
        open_ = getattr(session, "open", None)
        if callable(open_):
            open_()
            scratch = getattr(session, "scratch", None)
    if scratch is None:
        return {}
    try:
        reports = _run_bounded(session, scratch, targets)
    except LintFailed as failure:
        if memo is not None and not failure.for_this_check:
            memo[_MEMO_KEY] = failure
        raise
    if memo is not None:
        memo[_MEMO_KEY] = reports
    return reports


def _run_bounded(session, scratch, targets) -> dict:
    from . import bounded, era
    copied = sorted(path.relative_to(scratch.package_dir).as_posix() for path in scratch.sources
                    if path.parent == scratch.package_dir)
    sizes = sum(path.stat().st_size for path in scratch.sources if path.is_file())
    if sizes > MAX_LINT_BYTES:
        raise LintFailed(f"the submission's Python files hold {sizes >> 20} MB, more than the {MAX_LINT_BYTES >> 20} "
                         "MB the source reader takes")
    time_left = getattr(session, "time_left", lambda: float("inf"))()
    seconds = min(LINT_SECONDS, time_left)
    if seconds <= 0:
        raise LintFailed("the check's time budget was spent before its source could be read", True, True)
    request = {"package_dir": str(scratch.package_dir), "files": copied,
               "targets": [[file, class_name, methods] for file, class_name, methods in targets]}
    limits = bounded.Bounds(address_space=LINT_ADDRESS_SPACE, cpu_seconds=int(seconds) + 1, wall_seconds=seconds)
    started = time.perf_counter()
    try:
        answer, failure = bounded.run("looplint.py", request, limits, era.translator_path())
    finally:
        spend = getattr(session, "spend", None)
        if callable(spend):
            spend(time.perf_counter() - started)
    if answer is None or not isinstance(answer.get("reports"), list):
        timed_out = failure.startswith("it took more than") or "CPU time" in failure
        raise LintFailed(f"the harness's reader of the raw and speedup paths' source gave no answer: "
                         f"{failure or 'no reports'} (a file too large or too deeply nested to parse in that "
                         "time; the speedup cannot be judged without reading it)", timed_out,
                         timed_out and seconds < LINT_SECONDS)
    reports = {}
    for item in answer["reports"]:
        report = _report_from(item.get("report", {}))
        reports[(item.get("file"), item.get("class"), report.method)] = report
    return reports


def _report_from(data: dict) -> PathReport:
    known = {name: data[name] for name in PathReport.__dataclass_fields__ if name in data}
    report = PathReport(**known)
    report.called_names = set(report.called_names or ())
    report.reaches = set(report.reaches or ())
    return report


def main() -> None:
    """The bounded program: {"package_dir", "files", "targets": [[file, class, {role: method}]]} on stdin,
    {"reports": [{"file", "class", "report": PathReport as a dict}]} on stdout. One index for all targets:
    every file is parsed once, and node ids are comparable across reports (calls_method)."""
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    index = _Index(Path(request["package_dir"]), allowed=set(request["files"]))
    reports = []
    for file_name, class_name, methods in request["targets"]:
        for method in dict.fromkeys(methods.values()):
            report = _analyse(index, file_name, class_name, method)
            data = asdict(report)
            data["called_names"], data["reaches"] = sorted(report.called_names), sorted(report.reaches)
            reports.append({"file": file_name, "class": class_name, "report": data})
    sys.stdout.write(json.dumps({"reports": reports}))


def analyse(package_dir: Path, module_file: str, class_name: str, method: str) -> PathReport:
    """The PathReport of ``class_name.method`` as defined (or imported) in ``module_file`` of the package.
    Parses in this process: for trusted code and tests; submissions go through ``session_reports``."""
    return _analyse(_Index(Path(package_dir)), module_file, class_name, method)


def _analyse(index: "_Index", module_file: str, class_name: str, method: str) -> PathReport:
    report = PathReport(method)
    module = index.module(module_file)
    if module is None:
        report.note = index.problem(module_file)
        return report
    target = index.class_method(module, class_name, method, report)
    if target is None:
        report.note = report.note or f"{module_file} defines no method {class_name}.{method} the harness can follow"
        return report
    report.found = True
    report.where = target.describe()
    walker = _Walker(index, report)
    report.loop_depth, report.loop_lines = walker.depth_of(target)
    report.functions = [function.describe() for function in walker.seen.values()]
    report.reaches = set(walker.seen)
    return report


def calls_method(path: PathReport, other: PathReport) -> bool:
    """Whether ``path`` reaches ``other``'s method: calls its name, or runs the function it resolves to."""
    if not path.found:
        return False
    if other.method in path.called_names:
        return True
    return bool(other.found and other.root_id in path.reaches)


# --- source files ---------------------------------------------------------------------------------

def parse_source(text: str) -> ast.Module | None:
    """The syntax tree of Python 3 source, or of Python 2 source after fissix's translation; None if neither."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        pass
    try:
        from fissix import refactor
    except ImportError:
        return None
    try:
        tool = refactor.RefactoringTool(refactor.get_fixers_from_package("fissix.fixes"))
        source = (text.expandtabs(8) if "\t" in text else text).rstrip("\n") + "\n"
        return ast.parse(str(tool.refactor_string(source, "<submission>")))
    except Exception:                   # fissix's own parse errors and anything it produces that is not Python 3
        return None


@dataclass
class _Module:
    name: str                           # file name relative to the package, "layers_2.py"
    tree: ast.Module
    functions: dict = field(default_factory=dict)     # name -> FunctionDef
    classes: dict = field(default_factory=dict)       # name -> ClassDef
    imports: dict = field(default_factory=dict)       # local name -> (module file, name or None for a module)
    patches: dict = field(default_factory=dict)       # (class, attribute) -> (value expression, line)


@dataclass
class _Function:
    module: _Module
    node: ast.AST                       # FunctionDef, AsyncFunctionDef or Lambda
    owner: str | None                   # the class whose method this is (for self.<name> calls)
    name: str

    def describe(self) -> str:
        qualified = f"{self.owner}.{self.name}" if self.owner else self.name
        return f"{self.module.name}:{self.node.lineno} {qualified}"


class _Index:
    """The submission's parsed modules, by file name, read on demand."""

    def __init__(self, package_dir: Path, allowed: set[str] | None = None):
        self.package_dir = package_dir
        self.allowed = allowed                  # the files that may be read (None: any in the package)
        self.modules: dict[str, _Module | None] = {}
        self.problems: dict[str, str] = {}

    def exists(self, name: str) -> bool:
        return (self.allowed is None or name in self.allowed) and (self.package_dir / name).is_file()

    def problem(self, name: str) -> str:
        return self.problems.get(name, f"{name} was not found")

    def module(self, name: str) -> _Module | None:
        if name in self.modules:
            return self.modules[name]
        self.modules[name] = None
        path = self.package_dir / name
        if self.allowed is not None and name not in self.allowed:
            self.problems[name] = f"{name} was not found among the files the sandbox copied"
            return None
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as error:
            self.problems[name] = f"{name} could not be read ({error.strerror or error})"
            return None
        tree = parse_source(text.lstrip("\ufeff"))
        if tree is None:
            self.problems[name] = f"{name} could not be parsed as Python 3 or as Python 2"
            return None
        module = _Module(name, tree)
        _collect(module)
        self.modules[name] = module
        return module

    def imported(self, module: _Module, local: str) -> tuple[_Module | None, str | None]:
        """(the submission module, the name in it) that ``local`` was imported as; (None, None) otherwise."""
        source = module.imports.get(local)
        if source is None:
            return None, None
        file_name, name = source
        return self.module(file_name) if self.exists(file_name) else None, name

    def find_class(self, module: _Module, name: str, depth: int = 0) -> tuple[_Module, ast.ClassDef] | None:
        if name in module.classes:
            return module, module.classes[name]
        other, imported_name = self.imported(module, name)
        if other is not None and imported_name and depth < MAX_DEPTH:
            return self.find_class(other, imported_name, depth + 1)
        return None

    def find_function(self, module: _Module, name: str, depth: int = 0) -> _Function | None:
        if name in module.functions:
            return _Function(module, module.functions[name], None, name)
        other, imported_name = self.imported(module, name)
        if other is not None and imported_name and depth < MAX_DEPTH:
            return self.find_function(other, imported_name, depth + 1)
        return None

    def class_method(self, module: _Module, class_name: str, method: str, report: PathReport | None = None,
                     depth: int = 0) -> _Function | None:
        """What ``class_name().method`` runs: module-level patches, self.<method> assignments, the class
        body (a def or an alias), then the base classes."""
        found = self.find_class(module, class_name)
        if found is None or depth > MAX_DEPTH:
            return None
        home, cls = found
        patch = home.patches.get((class_name, method)) or module.patches.get((class_name, method))
        if patch is not None:
            value, line = patch
            _note_rebound(report, method, value, home, line)
            return self.resolve_value(home, value, None, depth + 1)
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and any(_is_self_attribute(target, method) for target in node.targets):
                _note_rebound(report, method, node.value, home, node.lineno)
                return self.resolve_value(home, node.value, class_name, depth + 1)
        for statement in cls.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == method:
                return _Function(home, statement, class_name, method)
            if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == method
                                                         for t in statement.targets):
                _note_rebound(report, method, statement.value, home, statement.lineno)
                value = statement.value
                if isinstance(value, ast.Name):             # an alias of another method of the class body
                    for other in cls.body:
                        if isinstance(other, (ast.FunctionDef, ast.AsyncFunctionDef)) and other.name == value.id:
                            return _Function(home, other, class_name, value.id)
                return self.resolve_value(home, value, class_name, depth + 1)
        for base in cls.bases:
            if isinstance(base, ast.Name):
                target = self.class_method(home, base.id, method, report, depth + 1)
                if target is not None:
                    return target
        return None

    def resolve_value(self, module: _Module, value: ast.AST, owner: str | None, depth: int) -> _Function | None:
        """The function an expression names: a def, Class.method, self.method, an imported function, a lambda."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(value, ast.Lambda):
            return _Function(module, value, owner, "<lambda>")
        if isinstance(value, ast.Name):
            return self.find_function(module, value.id)
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
            base = value.value.id
            if base == "self" and owner:
                return self.class_method(module, owner, value.attr, None, depth + 1)
            if self.find_class(module, base) is not None:
                return self.class_method(module, base, value.attr, None, depth + 1)
            other, imported_name = self.imported(module, base)
            if other is not None and imported_name is None:         # import helpers as h; h.function
                return self.find_function(other, value.attr)
        return None


def _note_rebound(report: PathReport | None, method: str, value: ast.AST, module: _Module, line: int) -> None:
    if report is not None and not report.rebound:
        report.rebound = f"{method} = {_source_of(value)} ({module.name}:{line})"


def _source_of(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:
        text = type(node).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _is_self_attribute(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.value, ast.Name) \
        and node.value.id == "self"


def _collect(module: _Module) -> None:
    """Top-level functions, classes, imports of submission modules, and attribute patches of classes."""
    for statement in module.tree.body:
        for node in _top_level(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                module.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                module.classes[node.name] = node
            elif isinstance(node, ast.ImportFrom) and node.module:
                file_name = node.module.split(".")[-1] + ".py"
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (file_name, alias.name)
            elif isinstance(node, ast.ImportFrom):                   # from . import helpers
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (alias.name + ".py", None)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    module.imports[alias.asname or alias.name.split(".")[0]] = (alias.name.split(".")[-1] + ".py", None)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        module.patches[(target.value.id, target.attr)] = (node.value, node.lineno)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                call = node.value
                if (isinstance(call.func, ast.Name) and call.func.id == "setattr" and len(call.args) == 3
                        and isinstance(call.args[0], ast.Name) and isinstance(call.args[1], ast.Constant)
                        and isinstance(call.args[1].value, str)):
                    module.patches[(call.args[0].id, call.args[1].value)] = (call.args[2], node.lineno)


def _top_level(statement: ast.stmt):
    """A module-level statement, and those inside module-level if/try blocks (try: from .x import y ...)."""
    yield statement
    if isinstance(statement, (ast.If, ast.Try)):
        blocks = [statement.body, statement.orelse]
        if isinstance(statement, ast.Try):
            blocks += [handler.body for handler in statement.handlers] + [statement.finalbody]
        for block in blocks:
            for inner in block:
                yield from _top_level(inner)


# --- walking a path ---------------------------------------------------------------------------------

class _Walker:
    """Loop depth, calls and hints of a function and every submission function it calls."""

    def __init__(self, index: _Index, report: PathReport):
        self.index, self.report = index, report
        self.seen: dict[int, _Function] = {}
        self.depths: dict[int, tuple[int, list[int]]] = {}

    def depth_of(self, function: _Function, level: int = 0) -> tuple[int, list[int]]:
        key = id(function.node)
        if level == 0:
            self.report.root_id = key
        if key in self.depths:
            return self.depths[key]
        self.depths[key] = (0, [])          # a recursive call adds nothing
        self.seen[key] = function
        if level > MAX_DEPTH:
            return 0, []
        body = function.node.body if isinstance(function.node.body, list) else [function.node.body]
        self._hints(function, body)
        result = self._nest(function, body, frozenset(), level)
        self.depths[key] = result
        return result

    def _nest(self, function: _Function, nodes: list, loop_names: frozenset, level: int) -> tuple[int, list[int]]:
        """The deepest indexing loop nest among ``nodes`` (statements or expressions)."""
        best, lines = 0, []
        for node in nodes:
            depth, where = self._nest_node(function, node, loop_names, level)
            if depth > best:
                best, lines = depth, where
        return best, lines

    def _nest_node(self, function, node, loop_names, level) -> tuple[int, list[int]]:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            variables = _loop_variables(node)
            names = _derived(node, loop_names | variables)
            inner, where = self._nest(function, node.body + node.orelse, names, level)
            own_names = _derived(node, variables)
            own = 1 if _indexes(node.body, own_names) or self._passes_on(function, node.body, own_names, level) else 0
            return own + inner, [node.lineno] if own else where
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self._comprehension(function, node, loop_names, level)
        if isinstance(node, ast.Call):
            depth, where = self._call(function, node, level)
            rest = self._nest(function, list(ast.iter_child_nodes(node)), loop_names, level)
            return max((depth, where), rest, key=lambda item: item[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            if isinstance(node, ast.ClassDef):
                return 0, []
            body = node.body if isinstance(node.body, list) else [node.body]
            return self._nest(function, body, loop_names, level)
        return self._nest(function, list(ast.iter_child_nodes(node)), loop_names, level)

    def _comprehension(self, function, node, loop_names, level) -> tuple[int, list[int]]:
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        names, depth = set(loop_names), 0
        for generator in node.generators:
            own = _names_in(generator.target)
            names |= own
            used = elements + list(generator.ifs) + [other.iter for other in node.generators]
            if any(_subscript_uses(part, own) for part in used):
                depth += 1
        inner, _ = self._nest(function, elements, frozenset(names), level)
        return depth + inner, [node.lineno] if depth else []

    def _passes_on(self, function: _Function, body: list, names: frozenset, level: int) -> bool:
        """Whether the loop hands its variables to a submission function (which then indexes with them)."""
        for node in (inner for statement in body for inner in ast.walk(statement)):
            if isinstance(node, ast.Call) and any(_names_in(argument) & names
                                                  for argument in node.args + [k.value for k in node.keywords]):
                if self._resolve_call(function, node.func, level) is not None:
                    return True
        return False

    def _call(self, function: _Function, call: ast.Call, level: int) -> tuple[int, list[int]]:
        callee_name = _callee_name(call.func)
        if callee_name:
            self.report.called_names.add(callee_name)
        target = self._resolve_call(function, call.func, level)
        if target is None:
            return 0, []
        return self.depth_of(target, level + 1)

    def _resolve_call(self, function: _Function, func: ast.AST, level: int) -> _Function | None:
        index, module = self.index, function.module
        if isinstance(func, ast.Name):
            return index.find_function(module, func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            base = func.value.id
            if base in ("self", "cls") and function.owner:
                return index.class_method(module, function.owner, func.attr, None, level)
            if index.find_class(module, base) is not None:
                return index.class_method(module, base, func.attr, None, level)
            other, imported_name = index.imported(module, base)
            if other is not None and imported_name is None:
                return index.find_function(other, func.attr)
        return None

    def _hints(self, function: _Function, body: list) -> None:
        for node in (inner for statement in body for inner in ast.walk(statement)):
            if not isinstance(node, ast.Call):
                continue
            name = _callee_name(node.func)
            where = f"{function.module.name}:{node.lineno}"
            if name == "einsum" and not _optimized(node):
                self._hint(f"np.einsum without optimize=True ({where}) runs numpy's own multiply-add loops, "
                           "not BLAS; optimize=True, np.tensordot or a matrix product (np.dot, @) use BLAS")
            elif name == "at" and isinstance(node.func, ast.Attribute) and _callee_name(node.func.value) == "add":
                self._hint(f"np.add.at ({where}) is unbuffered and slow; when windows do not overlap "
                           "(stride >= kernel) a plain indexed assignment does the same")
            elif name in SLOW_CALLS:
                self._hint(f"{SLOW_CALLS[name]} ({where})")
            elif name == "sum" and _sums_a_product(node):
                self._hint(f"an elementwise product summed with sum() ({where}) builds a temporary as large as "
                           "both operands and uses no BLAS; np.tensordot, np.dot or np.matmul compute the same "
                           "sums of products in one BLAS call")

    def _hint(self, text: str) -> None:
        if text not in self.report.hints:
            self.report.hints.append(text)


def _sums_a_product(call: ast.Call) -> bool:
    """np.sum(a * b, ...) or (a * b).sum(...)."""
    operands = list(call.args[:1])
    if isinstance(call.func, ast.Attribute):
        operands.append(call.func.value)
    return any(isinstance(operand, ast.BinOp) and isinstance(operand.op, ast.Mult) for operand in operands)


def _optimized(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "optimize":
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value in (False, None))
    return False


def _callee_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _loop_variables(node: ast.AST) -> frozenset:
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return frozenset(_names_in(node.target))
    # while: the names its condition reads that its body assigns (i += 1)
    assigned = set()
    for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
        if isinstance(inner, ast.AugAssign):
            assigned |= _names_in(inner.target)
        elif isinstance(inner, ast.Assign):
            for target in inner.targets:
                assigned |= _names_in(target)
    return frozenset(_names_in(node.test) & assigned)


def _derived(loop: ast.AST, names: frozenset) -> frozenset:
    """``names`` plus the names the loop's body computes from them (hs = idxh * stride), to a fixpoint."""
    result = set(names)
    assignments = [node for statement in loop.body for node in ast.walk(statement)
                   if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))]
    changed = True
    while changed:
        changed = False
        for node in assignments:
            value = node.value
            if value is None or not (_names_in(value) & result):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                new = _names_in(target) - result
                if new and not isinstance(target, (ast.Subscript, ast.Attribute)):
                    result |= new
                    changed = True
    return frozenset(result)


def _indexes(body: list, names: frozenset) -> bool:
    """Whether a subscript in ``body`` (outside nested defs) reads one of ``names``."""
    return bool(names) and any(_subscript_uses(statement, names) for statement in body)


def _subscript_uses(node: ast.AST, names) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Subscript) and _names_in(inner.slice) & set(names):
            return True
    return False


def _names_in(node: ast.AST) -> set:
    return {inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name)}


if __name__ == "__main__":
    main()
