"""Python 2.7 semantics at run time for a submission's translated files: classic division and Python 2 names.

The parent (harness.era, through harness/py2probe.py) decides the era and
translates Python 2 files with fissix; the child compiles each planned file
here, once per child, and the loader (loader.py) runs it:

    source   the translated text (Python 2 files), else the original decoded with the plan's encoding
    lines    the original line of each translated line (when a fixer added or removed lines): the
             compiled code carries the student's line numbers, and linecache holds the student's
             original lines, so tracebacks show what the student wrote
    division "classic": every ``a / b`` becomes ``__classic_div__(a, b)`` and every ``x /= b`` an
             in-place classic division, as Python 2.7 with NumPy 1.16 computed them: floor division
             when both operands are integers (int, bool, NumPy integer scalars, integer arrays),
             true division otherwise. A module importing division from __future__ keeps true division.

Classes of a translated file that define ``__div__`` (``__rdiv__``, ``__idiv__``) and not the true-division
method get it as an alias, as Python 2 called ``__div__`` for ``/``.

This module is sent to the child: standard library and numpy only.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import linecache
import math
import operator
import os
import string
import sys
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np

DIVIDE, DIVIDE_INPLACE = "__classic_div__", "__classic_idiv__"
DIVIDE_ATTRIBUTE, DIVIDE_ITEM, SLICE = "__classic_idiv_attr__", "__classic_idiv_item__", "__classic_slice__"
_DIV_ALIASES = (("__div__", "__truediv__"), ("__rdiv__", "__rtruediv__"), ("__idiv__", "__itruediv__"))

# Exact types for the fast path; np.uint64 is left to the slow path (with a signed integer NumPy
# computes in float64, and Python 2's np.divide then divided truly).
_INTEGERS = frozenset([int, bool, np.bool_] + [np.dtype(code).type for code in "bBhHiIlLqQ"])
_INTEGERS = _INTEGERS - {np.uint64, np.ulonglong}
_FLOATS = frozenset([float, complex] + [np.dtype(code).type for code in "efdgFDG"])


# --- the operators --------------------------------------------------------------------------------

def divide(a, b):
    """``a / b`` as Python 2.7 without ``from __future__ import division`` computed it."""
    kind_a, kind_b = type(a), type(b)
    if kind_a in _INTEGERS:
        if kind_b in _INTEGERS:
            return a // b
        if kind_b in _FLOATS:
            return a / b
    elif kind_a in _FLOATS:
        return a / b
    return a // b if _floors(a, b) else a / b


def divide_inplace(a, b):
    """``a /= b`` (Python 2's __idiv__): in place for arrays, the new value for immutable numbers."""
    if _floors(a, b):
        a //= b
    else:
        a /= b
    return a


def divide_attribute(owner, name: str, b) -> None:
    """``owner.name /= b``."""
    setattr(owner, name, divide_inplace(getattr(owner, name), b))


def divide_item(owner, key, b) -> None:
    """``owner[key] /= b``."""
    owner[key] = divide_inplace(owner[key], b)


def _floors(a, b) -> bool:
    if not (_integral(a) and _integral(b)):
        return False
    if _unsigned64(a) or _unsigned64(b):        # with a signed integer NumPy divides in float64
        try:
            return np.result_type(a, b).kind in "biu"
        except (TypeError, ValueError, OverflowError):
            return True
    return True


def _integral(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biu"
    return isinstance(value, (int, np.integer, np.bool_))


def _unsigned64(value) -> bool:
    dtype = getattr(value, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.kind == "u" and dtype.itemsize == 8


# --- Python 2 names ---------------------------------------------------------------------------------

def python2_round(number, ndigits=0):
    """Python 2's round: a float, halves rounded away from zero (on the exact binary value)."""
    value = float(number)
    ndigits = operator.index(ndigits)
    if not math.isfinite(value) or value == 0.0 or ndigits > 323:
        return value
    if ndigits < -308:
        return 0.0 * value
    with localcontext() as context:
        context.prec = 1000
        rounded = Decimal(value).quantize(Decimal(1).scaleb(-ndigits), rounding=ROUND_HALF_UP)
    return float(rounded)


def cmp(a, b) -> int:
    return (a > b) - (a < b)


@functools.lru_cache(maxsize=1)
def _python2_builtins() -> dict:
    names = dict(builtins.__dict__)
    names.update({
        DIVIDE: divide, DIVIDE_INPLACE: divide_inplace, DIVIDE_ATTRIBUTE: divide_attribute,
        DIVIDE_ITEM: divide_item, SLICE: slice,
        # what fissix leaves to the run time (and fallbacks for what it translates)
        "round": python2_round, "cmp": cmp, "reduce": functools.reduce, "intern": sys.intern, "file": open,
        "reload": importlib.reload, "unichr": chr, "long": int, "unicode": str, "basestring": str,
        "xrange": range, "raw_input": input, "buffer": memoryview,
    })
    return names


def python2_builtins() -> dict:
    """The builtins of a translated module: a copy (round differs), so other modules keep Python 3's."""
    return dict(_python2_builtins())


_STRING_FUNCTIONS = ("capitalize", "center", "count", "expandtabs", "find", "index", "ljust", "lower", "lstrip",
                     "replace", "rfind", "rindex", "rjust", "rstrip", "strip", "swapcase", "translate", "upper",
                     "zfill")


def install_library_names() -> None:
    """Python 2 names of the operator and string modules that student code called (once per child)."""
    for name, value in (("div", divide), ("idiv", divide_inplace), ("isCallable", callable),
                        ("sequenceIncludes", operator.contains)):
        if not hasattr(operator, name):
            setattr(operator, name, value)
    python2_string = {
        "letters": string.ascii_letters, "lowercase": string.ascii_lowercase, "uppercase": string.ascii_uppercase,
        "maketrans": str.maketrans, "atoi": lambda text, base=10: int(text, base), "atol": lambda text, base=10:
        int(text, base), "atof": float, "join": lambda words, sep=" ": sep.join(words),
        "split": lambda text, sep=None, maxsplit=-1: text.split(sep, maxsplit),
    }
    python2_string["joinfields"], python2_string["splitfields"] = python2_string["join"], python2_string["split"]
    python2_string.update({name: _string_method(name) for name in _STRING_FUNCTIONS})
    for name, value in python2_string.items():
        if not hasattr(string, name):
            setattr(string, name, value)


def _string_method(name: str):
    def function(text, *args):
        return getattr(text, name)(*args)
    function.__name__ = name
    return function


# --- compiling a planned file ------------------------------------------------------------------------

class ClassicDivision(ast.NodeTransformer):
    """``/`` and ``/=`` -> calls of the classic-division helpers (names resolved in the module's builtins)."""

    def __init__(self):
        self.classes: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef):
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()
        return node

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Div):
            return node
        return ast.copy_location(_call(DIVIDE, node.left, node.right), node)

    def visit_AugAssign(self, node: ast.AugAssign):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Div):
            return node
        target = node.target
        if isinstance(target, ast.Name):
            new = ast.Assign([ast.Name(target.id, ast.Store())],
                             _call(DIVIDE_INPLACE, ast.Name(target.id, ast.Load()), node.value))
        elif isinstance(target, ast.Attribute):
            new = ast.Expr(_call(DIVIDE_ATTRIBUTE, target.value, ast.Constant(self._mangled(target.attr)),
                                 node.value))
        elif isinstance(target, ast.Subscript):
            new = ast.Expr(_call(DIVIDE_ITEM, target.value, _index(target.slice), node.value))
        else:
            return node
        return ast.copy_location(new, node)

    def _mangled(self, name: str) -> str:
        """``self.__total /= n`` inside class Layer sets ``_Layer__total``, as the compiler would."""
        if self.classes and name.startswith("__") and not name.endswith("__"):
            owner = self.classes[-1].lstrip("_")
            return f"_{owner}{name}" if owner else name
        return name


def _call(name: str, *arguments) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(arguments), [])


def _index(node):
    """A subscript's index as an ordinary expression (``a[1:3, 0]`` -> ``(slice(1, 3, None), 0)``)."""
    if isinstance(node, ast.Slice):
        none = ast.Constant(None)
        return _call(SLICE, node.lower or none, node.upper or none, node.step or none)
    if isinstance(node, ast.Tuple):
        return ast.Tuple([_index(item) for item in node.elts], ast.Load())
    return node


def alias_division_methods(tree: ast.Module) -> None:
    """``__truediv__ = __div__`` (and the reflected and in-place pairs) in classes that define only __div__."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        defined = set()
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.add(statement.name)
            elif isinstance(statement, ast.Assign):
                defined.update(target.id for target in statement.targets if isinstance(target, ast.Name))
        for python2, python3 in _DIV_ALIASES:
            if python2 in defined and python3 not in defined:
                alias = ast.Assign([ast.Name(python3, ast.Store())], ast.Name(python2, ast.Load()))
                node.body.append(ast.copy_location(alias, node.body[-1]))


def has_future_division(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            if any(alias.name == "division" for alias in node.names):
                return True
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return False
    return False


def remap_lines(tree: ast.AST, lines: list[int]) -> None:
    """Line numbers of the translated text -> the student's original lines."""
    last = len(lines)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None):
            start = lines[min(node.lineno, last) - 1]
            node.lineno = start
            end = getattr(node, "end_lineno", None)
            if end:
                node.end_lineno = max(lines[min(end, last) - 1], start)


class Sources:
    """The planned files of one submission: {relative path: plan entry}; their code objects, compiled once."""

    def __init__(self, files: dict, package_dir: str):
        self.files = files if isinstance(files, dict) else {}
        self.package_dir = os.path.realpath(package_dir)
        self._code: dict[str, object] = {}

    def entry(self, path: str) -> dict | None:
        relative = os.path.relpath(os.path.realpath(path), self.package_dir).replace(os.sep, "/")
        entry = self.files.get(relative)
        return entry if isinstance(entry, dict) else None

    @property
    def translates(self) -> bool:
        return any(isinstance(entry, dict) and "division" in entry for entry in self.files.values())

    def original(self, path: str, entry: dict) -> str:
        """The student's own text, decoded as the plan says; linecache gets it (tracebacks show it)."""
        with open(path, "rb") as source:
            raw = source.read()
        encoding = entry.get("encoding") or "utf-8"
        text = raw.decode(encoding, "replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        status = os.stat(path)
        linecache.cache[path] = (status.st_size, status.st_mtime, text.splitlines(keepends=True), path)
        return text

    def code(self, path: str, entry: dict):
        if path not in self._code:
            self._code[path] = self._compile(path, entry)
        return self._code[path]

    def _compile(self, path: str, entry: dict):
        original = self.original(path, entry)
        error = entry.get("error")
        if isinstance(error, dict):
            raise _syntax_error(str(error.get("message", "invalid syntax")), path, error.get("line"), original)
        text = entry.get("source") if isinstance(entry.get("source"), str) else original
        lines = entry.get("lines") if isinstance(entry.get("lines"), list) else None
        try:
            tree = ast.parse(text, path)
        except SyntaxError as exc:
            line = lines[exc.lineno - 1] if lines and exc.lineno and exc.lineno <= len(lines) else exc.lineno
            raise _syntax_error(str(exc.msg), path, line, original) from None
        if lines:
            remap_lines(tree, lines)
        if "division" in entry:                 # a Python 2 file
            alias_division_methods(tree)
            if entry["division"] == "classic" and not has_future_division(tree):
                tree = ClassicDivision().visit(tree)
        ast.fix_missing_locations(tree)
        return compile(tree, path, "exec", dont_inherit=True)


def _syntax_error(message: str, path: str, line, original: str) -> SyntaxError:
    lines = original.splitlines()
    line = line if isinstance(line, int) and 1 <= line <= max(len(lines), 1) else 1
    text = lines[line - 1] if lines else ""
    return SyntaxError(message, (path, line, 1, text))
