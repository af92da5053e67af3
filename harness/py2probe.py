"""Read a submission's sources as their era did: decode them, find the evidence of Python 2 or 3, translate.

This file runs as its own program in a time- and memory-bounded subprocess
(harness.era starts it), never in the grader's process: it parses untrusted
source. It only parses; nothing of the submission is executed. Standard
library only, plus fissix (the maintained fork of lib2to3) imported when a
file is translated.

    stdin   {"mode": "2" | "3" | "auto", "files": {"layers_2.py": "<bytes as latin-1 text>", ...},
             "bytecode": [{"path": "layers_2.pyc", "magic": "03f30d0a", "in_pycache": false}, ...]}
    stdout  {"python": "2.7" | "3", "division": "classic" | "true", "reason": "...", "evidence": [...],
             "notes": [...], "python3_evidence": [...], "files": {"layers_2.py": {plan entry}, ...}}

A plan entry tells the child how to load one file (harness/sandbox/classic.py):
``encoding`` (when Python's own decoding would refuse the file), ``source``
(the translated text, Python 2 files only), ``lines`` (for each line of the
translated text, the original line it came from, when a fixer added or removed
lines), ``division`` ("classic" or "true") and ``error`` (a file that is not
valid Python 2 either: where fissix stopped).

Decoding follows Python 2 where it can: a UTF-8 byte-order mark, else the
coding declaration of the first two lines, else UTF-8; a file that is none of
these is read as GB18030 (a superset of GBK and GB2312, what Chinese Windows
editors save) and, failing that, as Latin-1, with a note. Python 2 itself
refused non-ASCII bytes without a declaration; the course's students ran such
files as Python 2 scripts with only comments in Chinese, so reading them is
the kinder and the intended outcome.
"""
from __future__ import annotations

import ast
import codecs
import difflib
import json
import re
import sys
import time

MAX_EVIDENCE = 12
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_WIDE_CHINESE = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030"}
# Not run: fix_import (implicit relative imports are served by the child's loader, keeping one module
# object per file) and fix_future (the child reads `from __future__ import division` to keep true division).
_SKIPPED_FIXERS = {"fissix.fixes.fix_import", "fissix.fixes.fix_future"}
_FUTURE_OF_PYTHON2 = {"division", "print_function", "absolute_import", "unicode_literals", "with_statement",
                      "generators", "nested_scopes"}
_PRINT_KEYWORDS = {"end", "sep", "file", "flush"}


def main() -> None:
    started = time.perf_counter()
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    answer = probe(request["mode"], {path: text.encode("latin-1") for path, text in request["files"].items()},
                   request.get("bytecode", []))
    answer["seconds"] = round(time.perf_counter() - started, 4)
    sys.stdout.write(json.dumps(answer))


def probe(mode: str, files: dict[str, bytes], bytecode: list[dict]) -> dict:
    """The era of a submission (``mode`` "auto") or the plan for the era given ("2", "3")."""
    facts = {path: _facts(path, raw) for path, raw in sorted(files.items())}
    notes = [fact["decode_note"] for fact in facts.values() if fact.get("decode_note")]
    python, reason, evidence, python3 = _decide(facts, bytecode)
    if mode != "auto":
        python = "2.7" if mode == "2" else "3"
        reason = f"Python {python} semantics were asked for (--python {mode} or the spec's python: key)"
    plan, more_notes = _plan(facts, python)
    division = "classic" if any(entry.get("division") == "classic" for entry in plan.values()) else "true"
    if python == "2.7":
        reason += "; " + _division_words(plan)
    return {"python": python, "division": division, "reason": reason, "evidence": evidence[:MAX_EVIDENCE],
            "notes": notes + more_notes, "python3_evidence": python3[:MAX_EVIDENCE], "files": plan}


# --- what one file shows ---------------------------------------------------------------------------

def _facts(path: str, raw: bytes) -> dict:
    text, encoding, note, native = decode(raw)
    fact = {"path": path, "text": text, "encoding": encoding, "native": native,
            "decode_note": note and f"{path}: {note}",
            "python3": [], "floor_division": [], "future": set(), "python3_error": None, "tree": None}
    try:
        fact["tree"] = ast.parse(text, path)
    except (SyntaxError, ValueError) as error:           # ValueError: a NUL byte in the source
        fact["python3_error"] = (getattr(error, "lineno", None) or 1, _syntax_words(error))
    except (RecursionError, MemoryError):
        fact["python3_error"] = (1, "too deeply nested to parse")
    if fact["tree"] is not None:
        fact["future"] = _future_imports(fact["tree"])
        fact["python3"], fact["floor_division"] = _python3_markers(fact["tree"], fact["future"])
    return fact


def decode(raw: bytes) -> tuple[str, str, str | None, bool]:
    """(text, encoding, note or None, whether Python 3's own import decodes the file the same way)."""
    declared = _declared_encoding(raw)
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig", None, True
        except UnicodeDecodeError:
            pass
    elif declared:
        encoding = _WIDE_CHINESE.get(declared, declared)
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass
        else:
            native = _decodes(raw, declared)
            return text, encoding, None if native else f"declares {declared}; read as {encoding}, its superset", native
    else:
        try:
            return raw.decode("utf-8"), "utf-8", None, True
        except UnicodeDecodeError:
            pass
    for encoding, words in (("gb18030", "GBK (GB18030), the encoding of Chinese Windows editors"),
                            ("latin-1", "Latin-1")):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        said = f"declares {declared}, which does not decode it" if declared else "has no coding declaration"
        return text, encoding, f"the file is not UTF-8 and {said}; it was read as {words}", False
    raise AssertionError("latin-1 decodes every byte string")


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
        return True
    except (LookupError, UnicodeDecodeError):
        return False


def _declared_encoding(raw: bytes) -> str | None:
    for line in raw.split(b"\n", 2)[:2]:
        match = _COOKIE.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace").lower().replace("_", "-")
            try:
                return codecs.lookup(name).name if name not in _WIDE_CHINESE else name
            except LookupError:
                return name
        if line.strip() and not line.lstrip().startswith(b"#"):
            break
    return None


_PYTHON2_CONSTRUCTS = (("Missing parentheses in call to 'print'", "a print statement"),
                       ("Missing parentheses in call to 'exec'", "an exec statement"),
                       ("multiple exception types must be parenthesized", "except X, e"),
                       ("leading zeros in decimal integer literals", "an octal literal like 0777"),
                       ("inconsistent use of tabs", "tabs and spaces mixed in the indentation"))


def _syntax_words(error: SyntaxError) -> str:
    message = str(getattr(error, "msg", None) or error).split("\n")[0]
    return next((words for start, words in _PYTHON2_CONSTRUCTS if message.startswith(start)), message[:160])


def _future_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            names.update(alias.name for alias in node.names)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            break                                       # future imports come first (after a docstring)
    return names


def _python3_markers(tree: ast.Module, future: set[str]) -> tuple[list[tuple[int, str]], list[int]]:
    """Constructs only Python 3 accepts, as (line, words); and the lines that use // (weaker evidence)."""
    found, floor = [], []
    for node in ast.walk(tree):
        words = _python3_only(node, future)
        if words:
            found.append((getattr(node, "lineno", 0), words))
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.FloorDiv):
            floor.append(node.lineno)
    return sorted(found), sorted(set(floor))


def _python3_only(node: ast.AST, future: set[str]) -> str | None:
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.Nonlocal):
        return "nonlocal"
    if isinstance(node, ast.YieldFrom):
        return "yield from"
    if isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
        return "async/await"
    if isinstance(node, ast.NamedExpr):
        return "the := operator"
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
        return "the @ operator"
    if isinstance(node, ast.AnnAssign):
        return "a variable annotation"
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        arguments = node.args
        if arguments.kwonlyargs or arguments.posonlyargs:
            return "keyword-only or positional-only parameters"
        if isinstance(node, ast.FunctionDef) and (node.returns or any(
                arg.annotation for arg in arguments.args + [arguments.vararg, arguments.kwarg] if arg)):
            return "a function annotation"
    if isinstance(node, ast.Raise) and node.cause is not None:
        return "raise ... from ..."
    if isinstance(node, (ast.Assign, ast.For)) and any(
            isinstance(target, (ast.Tuple, ast.List)) and any(isinstance(item, ast.Starred) for item in target.elts)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])):
        return "starred assignment (a, *rest = ...)"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "print" and "print_function" not in future and any(
                keyword.arg in _PRINT_KEYWORDS for keyword in node.keywords):
            return "print(..., end=/sep=/file=)"
        if node.func.id == "super" and not node.args and not node.keywords:
            return "super() without arguments"
    if type(node).__name__ in ("Match", "TryStar"):
        return "match or except*"
    if isinstance(node, ast.Name) and not node.id.isascii():
        return "a non-ASCII identifier"
    return None


# --- the era ------------------------------------------------------------------------------------

def _decide(facts: dict, bytecode: list[dict]) -> tuple[str, str, list[str], list[str]]:
    """(python, reason, evidence, Python 3 evidence) from the strongest evidence: syntax, bytecode, __future__.

    The last list is what keeps a submission on true division even when a Python 3 run fails with an
    error that classic division would explain (harness.era decides that re-run).
    """
    python2_syntax = [(path, fact["python3_error"]) for path, fact in facts.items()
                      if fact["python3_error"] and _translates(fact)]
    python3_syntax = [(path, line, words) for path, fact in facts.items() for line, words in fact["python3"]]
    python2_bytecode = [item["path"] for item in bytecode if bytecode_era(item) == "2"]
    python3_bytecode = [item["path"] for item in bytecode if bytecode_era(item) == "3"]
    future = [(path, sorted(fact["future"] & _FUTURE_OF_PYTHON2)) for path, fact in facts.items()
              if fact["future"] & _FUTURE_OF_PYTHON2]
    floor = [f"{path}:{fact['floor_division'][0]}: uses // (integer division written on purpose)"
             for path, fact in facts.items() if fact["floor_division"]]
    python3 = ([f"{path}:{line}: Python 3 only ({words})" for path, line, words in python3_syntax]
               + [f"{path}: Python 3 bytecode" for path in python3_bytecode] + floor)
    evidence = ([f"{path}:{line}: Python 2 syntax ({words})" for path, (line, words) in python2_syntax]
                + [f"{path}: Python 2 bytecode" for path in python2_bytecode] + python3)
    # __future__ imports decide nothing: Python 3 students of 2018-2020 kept CS231n's
    # `from __future__ import print_function`, and classic division would floor their 1 / (2 * N).
    # They are listed beside a Python 2 decision; `division` keeps its own file on true division either way.
    imports = [f"{path}: from __future__ import {', '.join(names)}" for path, names in future]
    if python2_syntax:
        path, (line, words) = python2_syntax[0]
        return "2.7", f"{path} line {line} is Python 2 syntax ({words})", evidence + imports, python3
    if python3_syntax:
        path, line, words = python3_syntax[0]
        return "3", f"{path} line {line} is Python 3 only ({words})", evidence, python3
    if python2_bytecode and not python3_bytecode:
        return ("2.7", f"the submission holds Python 2 bytecode ({python2_bytecode[0]})", evidence + imports,
                python3)
    reason = "nothing in the submission is Python 2 only"
    if future:
        reason += " (from __future__ imports run on Python 3 as well, so they are no evidence of Python 2)"
    return "3", reason, evidence, python3


def bytecode_era(item: dict) -> str | None:
    """"2", "3" or None for a .pyc: {"path", "magic" (hex of its first 4 bytes), "in_pycache"}.

    Python 3 writes bytecode into __pycache__/, Python 2 beside the source; the magic number says
    which interpreter wrote it (2.7: 03f30d0a; Python 3's are 3000-3999 followed by CR LF).
    """
    try:
        magic = bytes.fromhex(item.get("magic") or "")
    except ValueError:
        magic = b""
    if len(magic) == 4 and magic[2:] == b"\r\n":
        number = int.from_bytes(magic[:2], "little")
        if number >= 20000:
            return "2"
        if 3000 <= number < 4000:
            return "3"
    return "3" if item.get("in_pycache") else "2"


def _translates(fact: dict) -> bool:
    """Whether a file that Python 3 refuses compiles once translated (then it is Python 2 code)."""
    result = _translation(fact)
    return result["error"] is None


# --- the plan ------------------------------------------------------------------------------------

def _plan(facts: dict, python: str) -> tuple[dict, list[str]]:
    plan, notes = {}, []
    for path, fact in facts.items():
        entry = {}
        if not fact["native"]:
            entry["encoding"] = fact["encoding"]
        if python == "2.7" and fact["python3"]:
            line, words = fact["python3"][0]
            notes.append(f"{path} is Python 3 code (line {line}: {words}): loaded as Python 3, true division")
        elif python == "2.7" and fact["text"].strip():
            translation = _translation(fact)
            if translation["error"] is not None:
                entry["error"] = translation["error"]
            elif translation["source"] is not None:
                entry["source"] = translation["source"]
                if translation["lines"] is not None:
                    entry["lines"] = translation["lines"]
            entry["division"] = "true" if "division" in fact["future"] or "division" in translation["future"] \
                else "classic"
            entry["encoding"] = fact["encoding"]
        if entry:
            plan[path] = entry
    return plan, notes


def _division_words(plan: dict) -> str:
    classic = sorted(path for path, entry in plan.items() if entry.get("division") == "classic")
    true = sorted(path for path, entry in plan.items() if entry.get("division") == "true")
    if classic and not true:
        return "classic division (/ between integers floors)"
    if not classic:
        return "true division (every file imports division from __future__)"
    return f"classic division in {', '.join(classic)}; true division in {', '.join(true)}"


def _translation(fact: dict) -> dict:
    """fissix's translation of a file, once: {"source", "lines", "error", "future"}."""
    if "translation" not in fact:
        fact["translation"] = _translate(fact["path"], fact["text"])
    return fact["translation"]


def _translate(path: str, text: str) -> dict:
    result = {"source": None, "lines": None, "error": None, "future": []}
    if not text.strip():
        return result
    source = expand_indentation(text)
    if not source.endswith("\n"):
        source += "\n"
    try:
        tool = _tool()
    except ImportError:
        result["error"] = {"line": 1, "message": "this file needs the fissix package to be read as Python 2 "
                                                 "(pip install fissix)"}
        return result
    try:
        translated = str(tool.refactor_string(source, path))
    except Exception as error:                  # fissix's ParseError, TokenError, IndentationError
        result["error"] = {"line": _error_line(error), "message": f"not valid Python 2 either: {_plain(error)}"}
        return result
    except (RecursionError, MemoryError):
        result["error"] = {"line": 1, "message": "too deeply nested to translate"}
        return result
    try:
        tree = ast.parse(translated, path)
    except SyntaxError as error:
        lines = line_map(text, translated)
        line = lines[error.lineno - 1] if lines and error.lineno and error.lineno <= len(lines) else error.lineno
        result["error"] = {"line": line or 1, "message": f"not valid Python 2 either: {_syntax_words(error)}"}
        return result
    except (RecursionError, MemoryError, ValueError):
        result["error"] = {"line": 1, "message": "too deeply nested to translate"}
        return result
    result["future"] = sorted(_future_imports(tree))
    if translated != text:
        result["source"] = translated
        result["lines"] = line_map(text, translated)
    return result


_TOOL = []


def _tool():
    if not _TOOL:
        _usable_cache()
        from fissix.refactor import RefactoringTool, get_fixers_from_package
        fixers = sorted(set(get_fixers_from_package("fissix.fixes")) - _SKIPPED_FIXERS)
        _TOOL.append(RefactoringTool(fixers))
    return _TOOL[0]


def _usable_cache() -> None:
    """fissix caches its grammar under the user's cache directory and fails to import when it cannot create it."""
    import os
    import tempfile
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    probe = cache
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK):
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nnlab-fissix-")


def _error_line(error: Exception) -> int:
    context = getattr(error, "context", None)           # pgen2.parse.ParseError: (prefix, (line, column))
    if isinstance(context, tuple) and len(context) == 2 and isinstance(context[1], tuple):
        return int(context[1][0])
    args = getattr(error, "args", ())
    if len(args) >= 2 and isinstance(args[1], tuple) and args[1] and isinstance(args[1][0], int):
        return args[1][0]                               # TokenError: (message, (line, column))
    return int(getattr(error, "lineno", 1) or 1)


def _plain(error: Exception) -> str:
    message = getattr(error, "msg", None) or (error.args[0] if error.args else type(error).__name__)
    return str(message).split(":")[0][:160]


def expand_indentation(text: str) -> str:
    """Leading tabs expanded to the next multiple of 8 columns, as Python 2 read them.

    Python 3 refuses indentation that mixes tabs and spaces inconsistently; Python 2 counted a tab as
    reaching the next multiple of 8. Lines inside a multi-line string keep their tabs (they are data).
    """
    if "\t" not in text:
        return text
    inside_string = _lines_inside_strings(text)
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if index + 1 in inside_string:
            continue
        stripped = line.lstrip(" \t")
        indent = line[:len(line) - len(stripped)]
        if "\t" in indent:
            lines[index] = indent.expandtabs(8) + stripped
    return "".join(lines)


def _lines_inside_strings(text: str) -> set[int]:
    """Line numbers (1-based) that begin inside a multi-line string token."""
    import io
    import tokenize
    inside = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass                                           # best effort: Python 2 tokens may confuse it late in the file
    return inside


def line_map(original: str, translated: str) -> list[int] | None:
    """For each line of ``translated``, the 1-based line of ``original`` it came from; None when identical.

    A fixer that adds an import (reduce -> functools) or removes a line shifts the rest; the
    tracebacks the child shows must still name the student's own lines.
    """
    before, after = original.splitlines(), translated.splitlines()
    if len(before) == len(after):
        return None
    mapping = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if tag in ("equal", "replace"):
                mapping.append(min(i1 + (j - j1), max(i2 - 1, i1)) + 1)
            else:                                      # inserted: the line it precedes
                mapping.append(min(i1, max(len(before) - 1, 0)) + 1)
    return mapping


if __name__ == "__main__":
    main()
