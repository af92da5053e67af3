"""One-line hints for the errors the course's submissions typically hit on today's Python.

Most come from code written for the course's old environment (Python 2,
numpy < 1.24): print statements, ``except X, e``, ``/`` that used to divide
integers, xrange, dict.has_key, GBK-encoded source. The rest name the
sandbox limit a MemoryError or a failed write ran into.

This module is sent to the child: standard library only.
"""
from __future__ import annotations

import errno
import re

_PYTHON2_SYNTAX = (
    (re.compile(r"^\s*print\s+[^\s(=]"), "a print statement (print x)"),
    (re.compile(r"^\s*print\s*$"), "a print statement (print x)"),
    (re.compile(r"^\s*exec\s+[\"'\w]"), "an exec statement"),
    (re.compile(r"except\s+[\w.]+\s*,\s*\w+\s*:"), "except X, e"),
    (re.compile(r"raise\s+[\w.]+\s*,"), "raise E, message"),
    (re.compile(r"`[^`]+`"), "backquotes for repr"),
    (re.compile(r"<>"), "the <> operator"),
    (re.compile(r"(?<![\w.])0[0-7]+\b"), "an octal literal like 0777"),
    (re.compile(r"\bur[\"']"), "a ur'...' string"),
)
_PYTHON2_MESSAGES = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'",
                     "multiple exception types must be parenthesized", "leading zeros in decimal integer literals")
_PYTHON2_NAMES = {
    "xrange": "use range", "raw_input": "use input", "unicode": "use str", "unichr": "use chr",
    "long": "use int", "basestring": "use str", "reduce": "use functools.reduce", "file": "use open",
    "execfile": "use exec(open(path).read())", "cmp": "compare with < and > instead", "izip": "use zip",
}
_PYTHON2_ATTRIBUTES = {
    "has_key": "use `key in d`", "iteritems": "use d.items()", "itervalues": "use d.values()",
    "iterkeys": "use d.keys()", "next": "use the builtin next(iterator)",
}
_PYTHON2_MODULES = {
    "cPickle": "pickle", "Queue": "queue", "ConfigParser": "configparser", "StringIO": "io",
    "cStringIO": "io", "urllib2": "urllib.request", "__builtin__": "builtins", "commands": "subprocess",
}
_FLOAT_INDEX_MESSAGES = (
    "object cannot be interpreted as an integer",
    "indices must be integers",
    "only integers, slices",
    "expected an integer",
    "integer argument expected, got float",
    "cannot be safely interpreted as an integer",
)
_INTEGER_DIVISION = ("in Python 3, / always produces a float (5 / 2 == 2.5); sizes, indices and ranges need "
                     "integer division with // (e.g. (height - kernel) // stride + 1)")


def hint_for(exc: BaseException, limits: dict, source: bytes | None = None) -> str | None:
    """A hint for ``exc``, or None. ``source`` is the bytes of the file a SyntaxError points into."""
    if isinstance(exc, SyntaxError):
        return syntax_hint(exc, source)
    if isinstance(exc, MemoryError):
        return (f"the submission ran out of memory: the sandbox allows {limits['address_space'] / 2 ** 30:.1f} GB "
                "of address space (a huge array, or an array allocated inside a loop?)")
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return f"a file grew beyond the sandbox's {limits['file_size'] >> 20} MB file-size limit"
    if isinstance(exc, (TypeError, IndexError, ValueError)) and any(text in str(exc) for text in _FLOAT_INDEX_MESSAGES):
        return _INTEGER_DIVISION
    if isinstance(exc, ModuleNotFoundError) and exc.name in _PYTHON2_MODULES:
        return f"{exc.name} is a Python 2 module; in Python 3 it is {_PYTHON2_MODULES[exc.name]}"
    if isinstance(exc, NameError) and getattr(exc, "name", None) in _PYTHON2_NAMES:
        return f"{exc.name} is Python 2; {_PYTHON2_NAMES[exc.name]}"
    if isinstance(exc, AttributeError) and getattr(exc, "name", None) in _PYTHON2_ATTRIBUTES \
            and isinstance(getattr(exc, "obj", None), dict):
        return f"dict.{exc.name} is Python 2; {_PYTHON2_ATTRIBUTES[exc.name]}"
    if isinstance(exc, SystemExit):
        return ("a module the grader imports must not call sys.exit() or exit(); put script code under "
                "`if __name__ == '__main__':`")
    return None


def syntax_hint(exc: SyntaxError, source: bytes | None) -> str | None:
    message = str(exc.msg or "")
    if "codec can't decode" in message or "Non-UTF-8 code" in message:
        return _encoding_hint(source)
    line = exc.text or ""
    construct = next((name for pattern, name in _PYTHON2_SYNTAX if pattern.search(line)), None)
    if construct or any(message.startswith(text) for text in _PYTHON2_MESSAGES):
        found = f" ({construct})" if construct else ""
        return (f"this looks like Python 2 code{found}; the grader runs Python 3: use print(...), "
                "`except X as e:`, repr() instead of backquotes, 0o777 for octal")
    if isinstance(exc, TabError):
        return "Python 3 refuses indentation that mixes tabs and spaces (Python 2 allowed it): indent with spaces only"
    return None


def _encoding_hint(source: bytes | None) -> str:
    looks_like = ""
    if source:
        try:
            source.decode("gbk")
            looks_like = " (it decodes as GBK, the usual encoding of Chinese Windows editors)"
        except UnicodeDecodeError:
            pass
    return (f"the file is not UTF-8 text{looks_like}: save it as UTF-8, or declare its encoding on the first "
            "line, e.g. # -*- coding: gbk -*-")
