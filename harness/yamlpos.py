"""YAML loading that remembers where every key and item came from.

PyYAML's node tree carries line numbers; the constructed Python data does
not. ``load`` builds both and returns a ``Positions`` map from a key path
(``("checks", 3, "tolerance")``) to the line it appears on, so every spec
error can name file, line and key. Duplicate keys, which PyYAML silently
resolves to the last value, are reported as errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import re

import yaml

Path_ = tuple  # a key path: str keys and int indices


class YamlError(ValueError):
    """Malformed YAML; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


@dataclass
class Positions:
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 as a float (YAML 1.1 insists on 1.0e-3, which nobody writes)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load(text: str) -> tuple[object, Positions]:
    try:
        loader = _Loader(text)          # the reader rejects control characters here, before parsing
    except yaml.reader.ReaderError as error:
        raise _reader_error(text, error) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Positions({(): 1})
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"invalid YAML: {error.problem or error}", line) from None
    except yaml.reader.ReaderError as error:
        raise _reader_error(text, error) from None
    except yaml.YAMLError as error:
        raise YamlError(f"invalid YAML: {error}", None) from None
    finally:
        loader.dispose()
    positions = Positions()
    _record(node, (), positions)
    return data, positions


def _reader_error(text: str, error: yaml.reader.ReaderError) -> YamlError:
    """A character YAML does not allow (NUL, other control characters, U+FFFE), on one line."""
    position = error.position if isinstance(error.position, int) else None
    line = text.count("\n", 0, position) + 1 if position is not None else None
    character = error.character
    code = ord(character) if isinstance(character, str) and len(character) == 1 else character
    shown = f"#x{code:04x}" if isinstance(code, int) else repr(character)
    return YamlError(f"invalid YAML: unacceptable character {shown} ({error.reason})", line)


def _record(node: yaml.Node, path: Path_, positions: Positions) -> None:
    positions.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(f"duplicate key {key!r} (first on line {seen[key]})", line)
            seen[key] = line
            positions.lines[path + (key,)] = line
            _record(value_node, path + (key,), positions)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            positions.lines[path + (index,)] = item.start_mark.line + 1
            _record(item, path + (index,), positions)
