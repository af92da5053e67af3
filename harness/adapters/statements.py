"""Checks written as Python statements: a spec's ``run:`` lines compiled into the child's straight-line programs.

A check of a functional interface reads like the course notebook that exercises it::

    run:
      - bn_param = {'mode': 'train', 'momentum': momentum}
      - out, cache = batchnorm_forward(x, gamma, beta, bn_param)
      - dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    compare: [out, dx, "bn_param['running_mean']"]

The lines are parsed with ``ast`` and translated into the interpreter's steps
(harness.sandbox.interpreter); the parent never executes them. The subset:

  statements    NAME = EXPR                      x2 = x
                NAME, NAME, ... = EXPR           a tuple the call returns, unpacked in order
                EXPR.attr = EXPR                 model.reg = 0.0
                EXPR[key] = EXPR                 model.params['W1'] = W1
                CALL                             g.add('h', fc, ['x'])
                np.random.seed(N)                the child's global generators (np.random and random)
  expressions   numbers, strings, True/False/None, lists, tuples, dicts with string keys,
                names, attribute paths (model.params), subscripts (grads['W1'], caches[0]), calls

A name is an input array, a name an earlier statement assigned, a module
alias (the check's module under its own name: ``layers.affine_forward``), or a
case parameter, which becomes a literal (``{'stride': stride}``). A bare
function name is looked up in the check's module (``affine_forward`` ->
``layers.py``'s). Unpacking keeps the returned value under a hidden name as
well, so the parent can say "returned an ndarray, not the tuple (out, cache)"
instead of reporting a confusing row of an array.

This module is imported by student kits: standard library only.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .program import Program, ref

RAW_PREFIX = "_returned"


class StatementError(ValueError):
    """A statement outside the subset, or a name nothing defines; ``index`` is the statement's position."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


@dataclass
class Unpacked:
    """A call whose result a statement unpacks: how to tell the student what it should have returned."""

    raw: str                    # the hidden name holding the returned value
    callee: str                 # "batchnorm_backward" or "model.loss"
    names: tuple[str, ...]      # what the statement unpacks it into


@dataclass
class Compiled:
    program: Program
    unpacked: list[Unpacked] = field(default_factory=list)
    called: list[str] = field(default_factory=list)        # "layers.affine_forward", "model.loss" ...
    assigned: list[str] = field(default_factory=list)      # names the statements define, in order


def parse(lines: list[str]) -> list[ast.stmt]:
    """One ast statement per line; StatementError(index) for a line that is not a single statement."""
    statements = []
    for index, line in enumerate(lines):
        if not isinstance(line, str):
            raise StatementError(f"a statement must be a string, got {type(line).__name__}", index)
        try:
            tree = ast.parse(line.strip(), mode="exec")
        except SyntaxError as error:
            raise StatementError(f"not a Python statement: {error.msg} in {line!r}", index) from None
        if len(tree.body) != 1:
            raise StatementError(f"one statement per line, got {len(tree.body)} in {line!r}", index)
        statements.append(tree.body[0])
    return statements


def free_names(statements: list[ast.stmt], known: set[str]) -> list[str]:
    """Names read before any statement assigns them and not in ``known`` (they must be case parameters)."""
    assigned, free = set(known), []
    for statement in statements:
        callees = {id(node.func) for node in ast.walk(statement) if isinstance(node, ast.Call)}
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in assigned \
                    and node.id not in free and node.id != "np" and id(node) not in callees:
                free.append(node.id)
        assigned.update(_targets(statement))
    return free


def _targets(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.Assign):
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, (ast.Tuple, ast.List)):
            return [element.id for element in target.elts if isinstance(element, ast.Name)]
    return []


class Compiler:
    """Translates parsed statements into one Program.

    ``modules``: alias -> submission module ("layers" -> "layers", "fc_net" -> "classifiers.fc_net"), each
    imported under its alias; ``default``: the alias a bare function name belongs to; ``inputs``: array names
    the request carries; ``params``: case parameters, substituted as literals; ``rename``: input name ->
    the name to read instead (a perturbed copy); ``suffix``: appended to every name the statements assign,
    so several compilations can share one namespace.
    """

    def __init__(self, modules: dict[str, str], default: str | None, inputs: set[str], params: dict,
                 rename: dict[str, str] | None = None, suffix: str = "", program: Program | None = None,
                 send_returned: bool = True):
        self.modules, self.default = dict(modules), default
        self.inputs, self.params = set(inputs), dict(params)
        self.rename, self.suffix = dict(rename or {}), suffix
        self.send_returned = send_returned      # send unpacked results back (their type tells a tuple from an array)
        self.local: dict[str, str] = {}
        self.outputs: dict[str, str] = {}       # output name -> the namespace name sent back
        self.temps = 0
        self.program = program if program is not None else Program()
        self.compiled = Compiled(self.program)

    # --- entry points ---------------------------------------------------------------------------
    def imports(self) -> "Compiler":
        for alias, module in self.modules.items():
            self.program.import_module(module, as_=alias)
        return self

    def statements(self, statements: list[ast.stmt]) -> "Compiler":
        for index, statement in enumerate(statements):
            try:
                self._statement(statement)
            except StatementError as error:
                raise StatementError(str(error), index if error.index is None else error.index) from None
        return self

    def output(self, name: str, expression: str) -> "Compiler":
        """Evaluate ``expression`` into ``name`` and send it back."""
        value = self._expression(_parse_expression(expression))
        target = self._fresh()
        self.program.set(target, value)
        self.program.output(target)
        self.outputs[name] = target
        return self

    def name_of(self, name: str) -> str:
        """The namespace name a statement's variable ended up under."""
        return self.local.get(name, name)

    # --- statements -----------------------------------------------------------------------------
    def _statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if _is_seed(node.value):
                self._seed(node.value)
            else:
                self._call(node.value, None)
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                self._assign_name(target.id, node.value)
                return
            if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
                self._unpack([element.id for element in target.elts], node.value)
                return
            if isinstance(target, ast.Attribute):
                value = self._expression(node.value)
                self.program.set(f"{self._path(target.value)}.{target.attr}", value)
                return
            if isinstance(target, ast.Subscript):
                value = self._expression(node.value)
                key = self._key(target.slice)
                self.program.call(f"{self._path(target.value)}.__setitem__", key, value)
                return
        raise StatementError(f"unsupported statement {ast.unparse(node)!r} (allowed: assignments, unpacking, "
                             "attribute and item assignment, calls, np.random.seed)")

    def _assign_name(self, name: str, value_node: ast.expr) -> None:
        target = self._bind(name)
        if isinstance(value_node, ast.Call) and not _is_seed(value_node):
            self._call(value_node, target)
        else:
            self.program.set(target, self._expression(value_node))

    def _unpack(self, names: list[str], value_node: ast.expr) -> None:
        raw = self._fresh(RAW_PREFIX)
        if isinstance(value_node, ast.Call):
            callee = self._call(value_node, raw)
        else:
            self.program.set(raw, self._expression(value_node))
            callee = ast.unparse(value_node)
        # the raw value goes back too: its type tells a tuple from the array a student returned by mistake
        if self.send_returned:
            self.program.output(raw)
        self.compiled.unpacked.append(Unpacked(raw, callee, tuple(names)))
        for position, name in enumerate(names):
            self.program.item(raw, position, as_=self._bind(name))

    def _seed(self, node: ast.Call) -> None:
        if len(node.args) != 1 or node.keywords:
            raise StatementError("np.random.seed takes one argument")
        value = self._expression(node.args[0])
        if not isinstance(value, int) or isinstance(value, bool):
            raise StatementError("np.random.seed needs an integer (a literal or a case parameter)")
        self.program.seed(value)

    def _call(self, node: ast.Call, as_: str | None) -> str:
        path = self._callee(node.func)
        args = [self._expression(argument) for argument in node.args]
        if any(isinstance(argument, ast.Starred) for argument in node.args):
            raise StatementError("*args is not supported")
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise StatementError("**kwargs is not supported")
            kwargs[keyword.arg] = self._expression(keyword.value)
        self.program.call(path, *args, as_=as_, **kwargs)
        described = path.split(".", 1)[1] if path.split(".")[0] in self.modules else path
        self.compiled.called.append(path)
        return described

    # --- expressions ----------------------------------------------------------------------------
    def _expression(self, node: ast.expr):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, str, bool)) or node.value is None:
                return node.value
            raise StatementError(f"unsupported literal {node.value!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._expression(node.operand)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return -value
            raise StatementError(f"only a number can be negated: {ast.unparse(node)!r}")
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.List):
            return [self._expression(element) for element in node.elts]
        if isinstance(node, ast.Tuple):
            return {"tuple": [self._expression(element) for element in node.elts]}
        if isinstance(node, ast.Dict):
            items = {}
            for key, value in zip(node.keys, node.values):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise StatementError(f"dict keys must be strings: {ast.unparse(node)!r}")
                items[key.value] = self._expression(value)
            return {"dict": items}
        if isinstance(node, ast.Attribute):
            return ref(self._path(node))
        if isinstance(node, (ast.Subscript, ast.Call)):
            temp = self._fresh()
            if isinstance(node, ast.Call):
                self._call(node, temp)
            else:
                self.program.item(self._path(node.value), self._key(node.slice), as_=temp)
            return ref(temp)
        raise StatementError(f"unsupported expression {ast.unparse(node)!r}")

    def _name(self, name: str):
        if name in self.local:
            return ref(self.local[name])
        if name in self.inputs:
            return ref(self.rename.get(name, name))
        if name in self.params:
            value = self.params[name]
            return {"tuple": list(value)} if isinstance(value, tuple) else value
        if name in self.modules:
            return ref(name)
        raise StatementError(f"{name!r} is not an input, a case parameter or a name an earlier statement assigned")

    def _path(self, node: ast.expr) -> str:
        """A dotted path the interpreter resolves (subscripts and calls go through temporaries)."""
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return self.local[node.id]
            if node.id in self.inputs:
                return self.rename.get(node.id, node.id)
            if node.id in self.modules:
                return node.id
            raise StatementError(f"{node.id!r} is not defined by an earlier statement")
        if isinstance(node, ast.Attribute):
            return f"{self._path(node.value)}.{node.attr}"
        value = self._expression(node)
        if isinstance(value, dict) and set(value) == {"ref"}:
            return value["ref"]
        raise StatementError(f"{ast.unparse(node)!r} cannot be used as an object")

    def _callee(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name) and node.id not in self.local and node.id not in self.inputs:
            if node.id in self.modules:
                raise StatementError(f"{node.id!r} is a module, not a function")
            if self.default is None:
                raise StatementError(f"{node.id!r}: this check has no module to look functions up in")
            return f"{self.default}.{node.id}"
        return self._path(node)

    def _key(self, node: ast.expr):
        key = self._expression(node)
        if isinstance(key, (str, int)) and not isinstance(key, bool):
            return key
        raise StatementError(f"a subscript must be a string or an integer, got {ast.unparse(node)!r}")

    # --- names ------------------------------------------------------------------------------------
    def _bind(self, name: str) -> str:
        if name in self.modules:
            raise StatementError(f"{name!r} is the name of a module")
        target = f"{name}{self.suffix}"
        self.local[name] = target
        if name not in self.compiled.assigned:
            self.compiled.assigned.append(name)
        return target

    def _fresh(self, prefix: str = "_t") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}{self.suffix}"


def _is_seed(node: ast.Call) -> bool:
    return ast.unparse(node.func) in ("np.random.seed", "numpy.random.seed")


def _parse_expression(text: str) -> ast.expr:
    try:
        return ast.parse(str(text).strip(), mode="eval").body
    except SyntaxError as error:
        raise StatementError(f"not a Python expression: {error.msg} in {text!r}") from None


def parse_expression(text: str) -> ast.expr:
    return _parse_expression(text)
