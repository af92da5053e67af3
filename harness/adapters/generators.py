"""Spec-described input arrays and formulas over case parameters, for the statement-driven kinds.

An input is described in the spec by its shape and distribution::

    inputs:
      x: [N, D]                                   normal, the case's dtype
      w: {shape: ["C*H*W", M], scale: 0.01}       normal * scale (+ offset)
      y: {shape: [N], dist: labels, classes: C}   int64 class indices in [0, C)
      var: {shape: [D], dist: uniform, low: 0.5, high: 2}
      v: {shape: [4, 5], dist: linspace, low: -0.6, high: 0.4}    CS231n's notebook vectors
      x: {shape: [N, C, H, W], dist: distinct}    pairwise distinct (max-pool without ties)
      x: {shape: [N, D], dist: away_from_zero}    |x| >= 0.01 (ReLU's kink never hit)
      dout: {like: out}                           normal, the shape of the reference's ``out``

Shape entries and numbers may be formulas over the case parameters
(``"C*H*W"``, ``"(H + 2*pad - HH) // stride + 1"``, ``"log(C)"``): +, -, *, /,
//, %, **, parentheses, log, sqrt, exp, min, max, abs, int.

Standard library and numpy only (student kits import it).
"""
from __future__ import annotations

import ast
import math

import numpy as np

from . import inputs as gen

DISTRIBUTIONS = ("normal", "uniform", "linspace", "labels", "distinct", "away_from_zero", "integers")
GENERATOR_KEYS = {"shape", "dist", "scale", "offset", "low", "high", "classes", "dtype", "like"}
_FUNCTIONS = {"log": math.log, "sqrt": math.sqrt, "exp": math.exp, "min": min, "max": max, "abs": abs, "int": int}
_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
              ast.Pow: lambda a, b: a ** b}


class FormulaError(ValueError):
    pass


def formula_names(value) -> set[str]:
    """Case parameters a number, a formula or a list of them reads."""
    if isinstance(value, list):
        return set().union(*(formula_names(item) for item in value)) if value else set()
    if not isinstance(value, str):
        return set()
    try:
        tree = ast.parse(value, mode="eval")
    except SyntaxError:
        raise FormulaError(f"not a formula: {value!r}") from None
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id not in _FUNCTIONS}


def evaluate(value, params: dict):
    """A number, or a formula's value with the case parameters bound; lists element by element."""
    if isinstance(value, list):
        return [evaluate(item, params) for item in value]
    if not isinstance(value, str):
        return value
    try:
        return _evaluate(ast.parse(value, mode="eval").body, params)
    except SyntaxError:
        raise FormulaError(f"not a formula: {value!r}") from None


def _evaluate(node, params):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in params:
            raise FormulaError(f"{node.id!r} is not a case parameter")
        return params[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, params), _evaluate(node.right, params))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, params)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords:
        return _FUNCTIONS[node.func.id](*(_evaluate(argument, params) for argument in node.args))
    raise FormulaError(f"unsupported formula part {ast.unparse(node)!r}")


def normalise(description) -> dict:
    """The generator mapping of an input (a bare list is a shape)."""
    return {"shape": description} if isinstance(description, list) else dict(description)


def generate(description: dict, params: dict, dtype: str, rng: np.random.Generator,
             like_shape: tuple | None = None) -> np.ndarray:
    """One input array; ``like_shape`` is the shape of the reference value named by ``like``."""
    spec = normalise(description)
    shape = tuple(like_shape) if "like" in spec else tuple(int(side) for side in evaluate(spec["shape"], params))
    dist = spec.get("dist", "normal")
    number = lambda key, default: float(evaluate(spec.get(key, default), params))   # noqa: E731
    dtype = spec.get("dtype", dtype)
    if dist == "labels":
        return rng.integers(0, int(evaluate(spec["classes"], params)), size=shape).astype(spec.get("dtype", "int64"))
    if dist == "integers":
        low, high = int(number("low", 0)), int(number("high", 10))
        return rng.integers(low, high, size=shape).astype(spec.get("dtype", "int64"))
    if dist == "uniform":
        values = rng.uniform(number("low", 0.0), number("high", 1.0), size=shape)
    elif dist == "linspace":
        values = np.linspace(number("low", -1.0), number("high", 1.0), num=int(np.prod(shape))).reshape(shape)
    elif dist == "distinct":
        values = gen.distinct(rng, shape, "float64")
    elif dist == "away_from_zero":
        values = gen.away_from_zero(rng, shape, "float64")
    else:
        values = rng.standard_normal(shape)
    if dist not in ("uniform", "linspace"):
        values = values * number("scale", 1.0) + number("offset", 0.0)
    return np.asarray(values).astype(dtype)
