"""Hints for Python 2 leftovers, integer division and the sandbox's limits."""
from __future__ import annotations

import numpy as np
import pytest

from harness.sandbox.hints import hint_for

LIMITS = {"address_space": 4 << 30, "file_size": 64 << 20}


def raised(function) -> BaseException:
    try:
        function()
    except BaseException as exc:            # the test wants the exception object itself
        return exc
    raise AssertionError("expected an exception")


def syntax_error(source: str) -> SyntaxError:
    return raised(lambda: compile(source, "layers_1.py", "exec"))


@pytest.mark.parametrize("source, construct", [
    ('print "loss", loss\n', "print statement"),
    ("try:\n    pass\nexcept ValueError, e:\n    pass\n", "except X, e"),
    ("x = `y`\n", "backquotes"),
    ("mode = 0777\n", "octal"),
    ("if a <> b:\n    pass\n", "<>"),
])
def test_python2_syntax_is_named(source, construct):
    hint = hint_for(syntax_error(source), LIMITS)
    assert hint is not None and "Python 2" in hint and construct in hint


def test_an_ordinary_syntax_error_gets_no_python2_hint():
    assert hint_for(syntax_error("def f(:\n    pass\n"), LIMITS) is None


def test_mixed_tabs_and_spaces_are_explained():
    hint = hint_for(syntax_error("if True:\n        x = 1\n\ty = 2\n"), LIMITS)
    assert "tabs and spaces" in hint


def test_gbk_source_is_recognised():
    source = "# 卷积层\nx = '卷积'\n".encode("gbk")
    error = raised(lambda: compile(source, "layers_2.py", "exec"))
    hint = hint_for(error, LIMITS, source)
    assert "not UTF-8" in hint and "GBK" in hint and "coding" in hint


HALF_OF_FOUR = 4 / 2


@pytest.mark.parametrize("failing", [
    lambda: np.zeros((6 / 2, 3)),
    lambda: range(5 / 1),
    lambda: np.arange(4)[4 / 2],
    lambda: [1, 2, 3][HALF_OF_FOUR],      # a float index (a literal one would be a compile-time SyntaxWarning)
    lambda: np.arange(4)[: 4 / 2],
    lambda: np.arange(6).reshape(3 / 1, 2),
])
def test_float_sizes_and_indices_point_at_integer_division(failing):
    assert "//" in hint_for(raised(failing), LIMITS)


@pytest.mark.parametrize("failing, words", [
    (lambda: eval("xrange(3)"), "use range"),
    (lambda: {}.has_key("a"), "key in d"),
    (lambda: __import__("cPickle"), "pickle"),
])
def test_python2_names_modules_and_methods(failing, words):
    assert words in hint_for(raised(failing), LIMITS)


def test_limits_are_named_with_their_values():
    assert "4.0 GB" in hint_for(MemoryError(), LIMITS)
    assert "64 MB" in hint_for(OSError(27, "File too large"), LIMITS)


def test_an_ordinary_error_gets_no_hint():
    assert hint_for(ValueError("shapes (2,3) and (4,5) not aligned"), LIMITS) is None
