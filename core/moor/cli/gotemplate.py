"""The part of Go's text/template that ``--format`` needs.

Supported actions: ``{{.}}``, ``{{.Field.Sub}}``, ``{{json .X}}``,
``{{index .Map "key"}}``, ``{{join .List ", "}}``, ``{{upper .X}}``,
``{{lower .X}}``, ``{{println .X}}``, ``{{range .List}}...{{end}}`` and
``{{if .X}}...{{else}}...{{end}}``. Escapes ``\\t`` and ``\\n`` in the format
are turned into tab and newline, as Docker's CLI does.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


class TemplateError(Exception):
    """The template cannot be parsed or executed."""


def _lookup(value: Any, path: str) -> Any:
    if path == ".":
        return value
    for part in path.strip(".").split("."):
        if isinstance(value, dict):
            if part not in value:
                raise TemplateError(f"can't evaluate field {part}")
            value = value[part]
        elif hasattr(value, part):
            value = getattr(value, part)
        else:
            raise TemplateError(f"can't evaluate field {part} in type {type(value).__name__}")
    return value


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    return str(value)


def _argument(token: str, data: Any) -> Any:
    if token.startswith("."):
        return _lookup(data, token)
    if token.startswith('"'):
        return json.loads(token)
    if token.lstrip("-").isdigit():
        return int(token)
    raise TemplateError(f'function "{token}" not defined')


#: the functions a table's header row renders as the identity of their first argument (Docker's HeaderFunctions)
_HEADER_FUNCTIONS = ("json", "join", "split", "lower", "upper", "title", "truncate")


def _json(value: Any) -> str:
    """Docker's template ``json``: Go's encoder without HTML escaping (raw UTF-8); an object may give its own
    JSON form through ``__json__``."""
    if hasattr(value, "__json__"):
        value = value.__json__()
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _evaluate(expression: str, data: Any, header: bool = False) -> Any:
    try:
        tokens = shlex.split(expression, posix=False)
    except ValueError as err:
        raise TemplateError(str(err)) from None
    if not tokens:
        raise TemplateError("missing value for command")
    name, args = tokens[0], [_argument(t, data) for t in tokens[1:]]
    if name.startswith(".") or name.startswith('"'):
        return _argument(name, data)
    if header and name in _HEADER_FUNCTIONS and args:
        return args[0]
    if name == "json":
        return _json(args[0] if args else data)
    if name == "index":
        value = args[0]
        for key in args[1:]:
            value = value.get(key) if isinstance(value, dict) else value[key]
        return value
    if name == "join":
        return args[1].join(_text(v) for v in (args[0] or []))
    if name in ("upper", "lower"):
        return getattr(_text(args[0]), name)()
    if name == "println":
        return " ".join(_text(a) for a in args) + "\n"
    if name == "len":
        return len(args[0] or [])
    raise TemplateError(f'function "{name}" not defined')


def _parse(template: str) -> list[Any]:
    """A tree of text pieces, ("expr", e), ("range", e, body) and ("if", e, then, else)."""
    position = 0
    root: list[Any] = []
    stack: list[tuple[list[Any], Any]] = []
    current = root
    for match in _ACTION.finditer(template):
        if match.start() > position:
            current.append(template[position:match.start()])
        position = match.end()
        action = match.group(1)
        word = action.split(None, 1)[0] if action else ""
        if word in ("range", "if"):
            node: list[Any] = [word, action[len(word):].strip(), [], []]
            current.append(node)
            stack.append((current, node))
            current = node[2]
        elif word == "else":
            if not stack or stack[-1][1][0] != "if":
                raise TemplateError("unexpected {{else}}")
            current = stack[-1][1][3]
        elif word == "end":
            if not stack:
                raise TemplateError("unexpected {{end}}")
            current, _ = stack.pop()
        else:
            current.append(("expr", action))
    if stack:
        raise TemplateError("unexpected EOF: missing {{end}}")
    current.append(template[position:])
    return root


def _truthy(value: Any) -> bool:
    return bool(value) and value != "false"


def _run(nodes: list[Any], data: Any, out: list[str], header: bool = False) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, tuple):
            out.append(_text(_evaluate(node[1], data, header)))
        elif node[0] == "range":
            for item in (_evaluate(node[1], data, header) or []):
                _run(node[2], item, out, header)
        else:
            _run(node[2] if _truthy(_evaluate(node[1], data, header)) else node[3], data, out, header)


def render(template: str, data: Any, header: bool = False) -> str:
    """Render ``template`` with ``data`` (dicts are looked up by key).

    ``header``: the header row of a ``table`` format, whose functions (``json``, ``upper``, ``join``, ...) give
    back their argument unchanged, as Docker's ``HeaderFunctions`` do (``{{json .Name}}`` heads ``NAME``).
    """
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    out: list[str] = []
    _run(_parse(template), data, out, header)
    return "".join(out)
