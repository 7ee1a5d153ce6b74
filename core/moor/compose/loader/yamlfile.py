"""A compose file's YAML to plain data, read as compose's go-yaml reads it, with the position of every key.

ruamel.yaml scans and parses (YAML 1.2 syntax); the events are composed and turned into plain values here,
so that what a value becomes follows go-yaml (the library ``docker compose`` uses), not a Python loader:

- plain scalars: ``true``/``false`` (three spellings each), ``null``/``~``/empty, integers as Go's
  ``ParseInt(s, 0, 64)`` reads them after removing ``_`` (``0x1F``, ``0o17``, ``0b11``, and ``0440`` is
  octal), floats, ``.inf``/``.nan``; everything else, ``yes``/``no``/``on``/``off`` and dates included, stays
  a string; quoted and block scalars are always strings;
- anchors and aliases are expanded into copies, ``<<`` merge keys applied (explicit keys win, then the
  earlier of several merged mappings);
- ``!reset`` and ``!override`` (compose's merge tags) are recorded by path in :attr:`YamlDocument.resets` and
  :attr:`YamlDocument.overrides`; a ``!reset`` value is left out of :attr:`YamlDocument.data`;
- mapping keys must be strings and unique within their mapping.

Hostile input gives one :class:`~moor.compose.errors.ComposeFileError` naming the file and line: bytes that
are not UTF-8, unknown tags (``!!python/object``...), several documents, recursive or undefined aliases,
nesting deeper than :data:`MAX_DEPTH`, alias expansion beyond :data:`MAX_EXPANDED_NODES` (billion laughs),
text larger than :data:`MAX_SIZE`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import math
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from moor.compose.errors import ComposeFileError

#: A path into the data: mapping keys and list indexes from the top
Path = tuple[str | int, ...]

#: nesting deeper than this is refused (compose files need a handful of levels)
MAX_DEPTH = 200
#: nodes that alias expansion may add to a document (a billion-laughs file would need far more)
MAX_EXPANDED_NODES = 200_000
#: largest compose file read, in characters: a 20-service file is about 12 KiB, and ruamel's pure-Python
#: parser needs up to 7 s for a MiB of short lines
MAX_SIZE = 1024 * 1024

_TAG_PREFIX = "tag:yaml.org,2002:"
# what YAML does not allow in a stream (its printable set is tab, line breaks, and the rest of Unicode but C0/C1
# controls, DEL, surrogates and U+FFFE/U+FFFF)
_CONTROL = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KNOWN_TAGS = frozenset(
    _TAG_PREFIX + name for name in ("str", "int", "float", "bool", "null", "binary", "timestamp", "seq", "map")
)
_RESET = "!reset"
_OVERRIDE = "!override"


@dataclass
class YamlDocument:
    """One compose file read: its plain data and where each key and list item is in the file."""

    filename: str
    #: plain dict/list/str/int/float/bool/None; anchors expanded, ``<<`` merge keys applied
    data: Any
    #: path -> 1-based (line, column) of the key (mapping entries) or of the item (list entries)
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    #: paths whose value was tagged ``!reset`` (left out of ``data``): a merge removes them from the base
    resets: list[Path] = field(default_factory=list)
    #: paths whose value was tagged ``!override``: a merge replaces the base value instead of merging into it
    overrides: list[Path] = field(default_factory=list)

    def position(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """The 1-based (line, column) of the key or list item at ``path``, None when the file has no such path."""
        return self.positions.get(tuple(path))

    def nearest_position(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """The position of ``path``, else of its closest ancestor the file has (data merged or interpolated since
        may have paths the file does not)."""
        key = tuple(path)
        while True:
            found = self.positions.get(key)
            if found is not None or not key:
                return found
            key = key[:-1]


def format_path(path: Sequence[str | int]) -> str:
    """``services.web.ports[0].target``: a path as the loader's messages show it."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def load_yaml(text: str | bytes, filename: str) -> YamlDocument:
    """Read one compose file. ``ComposeFileError`` (``failed to parse FILE: line N: ...``) when it is not valid
    YAML or not something compose accepts."""
    if isinstance(text, bytes):
        if len(text) > 4 * MAX_SIZE:  # no decoding of what is too large anyway
            raise ComposeFileError(f"failed to parse {filename}: larger than {MAX_SIZE // (1024 * 1024)} MiB")
        text = _decode(text, filename)
    elif text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_SIZE:
        raise ComposeFileError(f"failed to parse {filename}: larger than {MAX_SIZE // (1024 * 1024)} MiB")
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise ComposeFileError(
            f"failed to parse {filename}: line {line}: control character U+{ord(control.group()):04X} is not allowed"
        )
    root = _compose_cached(text, filename)
    return _Builder(filename).document(root)


def _decode(raw: bytes, filename: str) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ComposeFileError(f"failed to parse {filename}: invalid UTF-16 at byte {error.start}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ComposeFileError(
            f"failed to parse {filename}: line {line}: invalid UTF-8 (byte 0x{raw[error.start]:02x}): "
            "compose files are UTF-8 text"
        ) from None


# --- composing: parser events to a small node tree --------------------------------------------------------


class _Node:
    """A composed YAML node: kind "scalar" (value str), "seq" (value list of nodes) or "map" (value list of
    (key, value) node pairs); ``tag`` is the explicit tag (None when implicit); line and column 1-based."""

    __slots__ = ("column", "complete", "kind", "line", "plain", "tag", "value")

    def __init__(self, kind: str, tag: str | None, line: int, column: int, value: Any, plain: bool = False) -> None:
        self.kind = kind
        self.tag = tag
        self.line = line
        self.column = column
        self.value = value
        self.plain = plain
        self.complete = kind == "scalar"


_CACHE: OrderedDict[tuple[str, str], _Node | None] = OrderedDict()
_CACHE_LOCK = Lock()
_CACHE_ENTRIES = 16
_CACHE_MAX_TEXT = 1024 * 1024


def _compose_cached(text: str, filename: str) -> _Node | None:
    """The composed tree of ``text``; the last few are kept (the tree is never changed once composed), so that
    loading the same file again costs only the conversion."""
    key = (filename, text)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    root = _compose(text, filename)
    if len(text) <= _CACHE_MAX_TEXT:
        with _CACHE_LOCK:
            _CACHE[key] = root
            while len(_CACHE) > _CACHE_ENTRIES:
                _CACHE.popitem(last=False)
    return root


def _events(text: str) -> Iterator[Event]:
    # a YAML instance per parse: ruamel keeps the parse's state (and a growing list) on the instance
    yield from YAML(typ="safe", pure=True).parse(text)


def _compose(text: str, filename: str) -> _Node | None:
    """Parser events to one document's node tree, without recursion (deep nesting cannot exhaust the stack)."""
    roots: list[_Node | None] = []
    anchors: dict[str, _Node] = {}
    stack: list[tuple[_Node, list[_Node]]] = []  # open collections, each with its pending map key (if any)
    document_line = 1
    try:
        for event in _events(text):
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            if isinstance(event, ScalarEvent | MappingStartEvent | SequenceStartEvent):
                tag = event.tag if event.tag not in (None, "!") else None
                if isinstance(event, ScalarEvent):
                    if event.tag == "!":
                        tag = _TAG_PREFIX + "str"
                    node = _Node("scalar", tag, line, column, event.value, plain=event.style is None)
                elif isinstance(event, MappingStartEvent):
                    node = _Node("map", tag, line, column, [])
                else:
                    node = _Node("seq", tag, line, column, [])
                if len(stack) >= MAX_DEPTH:
                    raise _Fail(line, f"nested deeper than {MAX_DEPTH} levels")
                if event.anchor is not None:
                    anchors[event.anchor] = node
                _attach(stack, roots, node)
                if node.kind != "scalar":
                    stack.append((node, []))
            elif isinstance(event, AliasEvent):
                target = anchors.get(event.anchor)
                if target is None:
                    raise _Fail(line, f"unknown anchor {event.anchor!r} referenced")
                if not target.complete:
                    raise _Fail(line, f"anchor {event.anchor!r} value contains itself")
                _attach(stack, roots, target)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                node, _pending = stack.pop()
                node.complete = True
            elif isinstance(event, DocumentStartEvent):
                document_line = line
                anchors = {}
            elif not isinstance(event, DocumentEndEvent | StreamStartEvent | StreamEndEvent):
                raise _Fail(line, f"unexpected {type(event).__name__}")
            if len(roots) > 1 and not _empty(roots[-1]):
                if _empty(roots[0]):
                    del roots[0]
                else:
                    raise _Fail(
                        document_line,
                        "several YAML documents in one file: compose reads one document per file "
                        "(split it into files and pass each with -f)",
                    )
    except _Fail as failure:
        raise ComposeFileError(f"failed to parse {filename}: line {failure.line}: {failure.message}") from None
    except MarkedYAMLError as error:
        raise ComposeFileError(f"failed to parse {filename}: {_yaml_message(error)}") from None
    except YAMLError as error:
        raise ComposeFileError(f"failed to parse {filename}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise ComposeFileError(f"failed to parse {filename}: nested too deeply") from None
    return next((root for root in roots if not _empty(root)), None)


def _empty(node: _Node | None) -> bool:
    return node is None or (node.kind == "scalar" and node.tag is None and node.plain and node.value == "")


def _attach(stack: list[tuple[_Node, list[_Node]]], roots: list[_Node | None], node: _Node) -> None:
    if not stack:
        roots.append(node)
        return
    parent, pending = stack[-1]
    if parent.kind == "seq":
        parent.value.append(node)
    elif pending:
        parent.value.append((pending.pop(), node))
    else:
        pending.append(node)


def _yaml_message(error: MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = f" ({error.context})" if error.context and error.problem else ""
    return f"{where}{problem}{context}"


class _Fail(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# --- building: nodes to plain values, go-yaml's way -------------------------------------------------------

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUES = frozenset(("true", "True", "TRUE"))
_FALSES = frozenset(("false", "False", "FALSE"))
_SPECIAL_FLOATS = {
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    **{f"{sign}{text}": (-math.inf if sign == "-" else math.inf) for sign in ("", "+", "-")
       for text in (".inf", ".Inf", ".INF")},
    "-0": -0.0,
    "-0.0": -0.0,
}
_GO_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))\Z")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?\Z")
_INT64 = 1 << 63
_UINT64 = 1 << 64


def resolve_plain(text: str) -> Any:
    """What go-yaml makes of a plain (unquoted, untagged) scalar when decoding into an interface value."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    special = _SPECIAL_FLOATS.get(text)
    if special is not None:
        return special
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if first in "+-0123456789":
        if _TIMESTAMP.match(text):
            return text  # go-yaml's timestamps: kept as the text the file wrote
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return number
        if _YAML_FLOAT.match(plain):
            value = float(plain)
            return text if math.isinf(value) else value
    return text


def _go_int(plain: str) -> int | None:
    match = _GO_INT.match(plain)
    if match is None:
        return None
    sign, hexa, octal, binary, old_octal, decimal = match.groups()
    if hexa is not None:
        value = int(hexa, 16)
    elif octal is not None:
        value = int(octal, 8)
    elif binary is not None:
        value = int(binary, 2)
    elif old_octal is not None:
        value = int(old_octal or "0", 8)
    else:
        value = int(decimal)
    if sign == "-":
        value = -value
        return value if value >= -_INT64 else None
    if sign == "+":
        return value if value < _INT64 else None
    return value if value < _UINT64 else None


class _Builder:
    """Turns one composed tree into plain values, recording positions, merge tags and the alias budget."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.positions: dict[Path, tuple[int, int]] = {}
        self.resets: list[Path] = []
        self.overrides: list[Path] = []
        self.expanded = 0
        self.seen: set[int] = set()

    def document(self, root: _Node | None) -> YamlDocument:
        data = None
        if root is not None:
            self.positions[()] = (root.line, root.column)
            try:
                data = self.build(root, ())
            except _Fail as failure:
                raise ComposeFileError(
                    f"failed to parse {self.filename}: line {failure.line}: {failure.message}"
                ) from None
            if data is _DROPPED:
                data = None
        return YamlDocument(self.filename, data, self.positions, self.resets, self.overrides)

    def count(self, node: _Node) -> None:
        # a node met a second time comes from an alias: every visit after the first is an expansion
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_EXPANDED_NODES:
                raise _Fail(node.line, f"aliases expand to more than {MAX_EXPANDED_NODES} nodes")
        else:
            self.seen.add(id(node))

    def build(self, node: _Node, path: Path) -> Any:
        self.count(node)
        tag = node.tag
        if tag == _RESET:
            self.resets.append(path)
            return _DROPPED
        if tag == _OVERRIDE:
            self.overrides.append(path)
            tag = None
        if tag is not None and tag not in _KNOWN_TAGS:
            raise _Fail(node.line, _unknown_tag(tag))
        if node.kind == "scalar":
            return self.scalar(node, tag)
        if node.kind == "seq":
            if tag not in (None, _TAG_PREFIX + "seq"):
                raise _Fail(node.line, f"cannot use tag {_show_tag(tag)} on a sequence")
            items: list[Any] = []
            for item in node.value:
                item_path = (*path, len(items))
                self.positions[item_path] = (item.line, item.column)
                value = self.build(item, item_path)
                if value is not _DROPPED:
                    items.append(value)
                else:
                    del self.positions[item_path]
            return items
        if tag not in (None, _TAG_PREFIX + "map"):
            raise _Fail(node.line, f"cannot use tag {_show_tag(tag)} on a mapping")
        return self.mapping(node, path)

    def mapping(self, node: _Node, path: Path) -> dict[str, Any]:
        entries: list[tuple[_Node, _Node]] = node.value
        merged: dict[str, Any] = {}
        # merges first, so that the explicit keys' positions are the ones kept
        merge_line = 0
        for key_node, value_node in entries:
            if _is_merge_key(key_node):
                if merge_line:
                    raise _Fail(key_node.line, f'mapping key "<<" already defined at line {merge_line}')
                merge_line = key_node.line
                self.count(key_node)
                for source in self.merge_sources(value_node, key_node.line):
                    self.count(source)
                    if source.tag not in (None, _TAG_PREFIX + "map"):
                        raise _Fail(source.line, _unknown_tag(source.tag))
                    for key, value in self.mapping(source, path).items():
                        merged.setdefault(key, value)  # the earlier mapping of a merge list wins
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in entries:
            if _is_merge_key(key_node):
                for key, value in merged.items():
                    if key not in result:
                        result[key] = value
                continue
            self.count(key_node)
            key = self.key(key_node, path)
            if key in lines:
                raise _Fail(key_node.line, f'mapping key "{key}" already defined at line {lines[key]}')
            lines[key] = key_node.line
            key_path = (*path, key)
            self.positions[key_path] = (key_node.line, key_node.column)
            value = self.build(value_node, key_path)
            if value is _DROPPED:
                del self.positions[key_path]
                result.pop(key, None)
            else:
                result[key] = value
        return result

    def merge_sources(self, merge: _Node, line: int) -> list[_Node]:
        sources = list(merge.value) if merge.kind == "seq" else [merge]
        if any(source.kind != "map" for source in sources):
            raise _Fail(line, "map merge requires map or sequence of maps as the value")
        return sources

    def key(self, node: _Node, path: Path) -> str:
        key = self.scalar(node, node.tag) if node.kind == "scalar" else node.kind
        if not isinstance(key, str) or node.kind != "scalar":
            where = f"in {format_path(path)}" if path else "at top level"
            shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
            raise _Fail(node.line, f"non-string key {where}: {shown}")
        return key

    def scalar(self, node: _Node, tag: str | None) -> Any:
        text: str = node.value
        if tag is None:
            return resolve_plain(text) if node.plain else text
        short = tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else None
        if short in ("str", "timestamp"):
            return text
        if short == "binary":
            try:
                return base64.b64decode("".join(text.split()), validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise _Fail(node.line, f"!!binary value is not base64: {text[:40]!r}") from None
        if short in ("int", "float", "bool", "null"):
            value = resolve_plain(text) if text else None
            if short == "int" and isinstance(value, int) and not isinstance(value, bool):
                return value
            if short == "float" and isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if (short == "bool" and isinstance(value, bool)) or (short == "null" and value is None):
                return value
            raise _Fail(node.line, f"cannot construct {text!r} as a !!{short}")
        raise _Fail(node.line, _unknown_tag(tag))


def _is_merge_key(node: _Node) -> bool:
    return node.kind == "scalar" and node.plain and node.tag is None and node.value == "<<"


def _unknown_tag(tag: str) -> str:
    return f"unknown tag {_show_tag(tag)}: compose files use plain YAML (and !reset, !override)"


def _show_tag(tag: str | None) -> str:
    if tag is None:
        return "(none)"
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


class _Dropped:
    """The value of a ``!reset`` node: left out of the data."""


_DROPPED: Any = _Dropped()
