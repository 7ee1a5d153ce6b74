"""The functions a template can call: Go's builtins and the docker CLI's (``json join split ...``).

Each is a :class:`Func`: its Go parameter types (``value`` is a reflect.Value taking anything, ``any`` an
interface{}, ``string``, ``int``, ``[]string``), whether the last one is variadic, and the Python body. A body
raises :class:`CallError` with Go's message; the executor wraps it as ``error calling NAME: ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moor.cli.gotemplate.gofmt import (
    MISSING,
    Uint8,
    go_json,
    go_type,
    sprint,
    sprint_value,
    sprintf,
    sprintln,
)


class CallError(Exception):
    """A function's error (Go's ``error`` result)."""


class Func:
    """A function: its parameters' Go types, whether the last is variadic, its body."""

    __slots__ = ("body", "params", "variadic")

    def __init__(self, params: tuple[str, ...], variadic: bool, body: Callable[..., Any]) -> None:
        self.params = params
        self.variadic = variadic
        self.body = body


def truth(value: Any) -> bool:
    """Go's isTrue: empty strings, maps and slices, zero numbers, false, nil and invalid are false."""
    if value is None or value is MISSING or getattr(value, "is_nil", False):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | str | list | dict | tuple):
        return bool(value)
    return True


def _kind(value: Any) -> str:
    if value is MISSING or value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Uint8):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "string"
    return "other"


_BAD_TYPE = "invalid type for comparison"
_INCOMPATIBLE = "incompatible types for comparison"


def _eq(arg1: Any, *others: Any) -> bool:
    if not others:
        raise CallError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in others:
        k2 = _kind(arg)
        if k1 != k2:
            if {k1, k2} == {"int", "uint"}:
                if arg1 == arg:
                    return True
                continue
            if k1 != "invalid" and k2 != "invalid":
                raise CallError(_INCOMPATIBLE)
            continue
        if k1 == "other":
            if _reflect_kind(arg1) != _reflect_kind(arg):
                raise CallError(f"non-comparable types {sprintf('%s', [arg1])}: {go_type(arg1)}, "
                                f"{go_type(arg)}: {sprint_value(arg)}")
            if isinstance(arg, dict | list):
                raise CallError(f"non-comparable type {sprintf('%s', [arg])}: {go_type(arg)}")
            if arg1 == arg:
                return True
        elif k1 == "invalid" or arg1 == arg:
            return True
    return False


def _reflect_kind(value: Any) -> str:
    return "map" if isinstance(value, dict) else "slice" if isinstance(value, list) else type(value).__name__


def _lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 in ("invalid", "other") or k2 in ("invalid", "other"):
        raise CallError(_BAD_TYPE)
    if k1 != k2:
        if {k1, k2} == {"int", "uint"}:
            return bool(arg1 < arg2)
        raise CallError(_INCOMPATIBLE)
    if k1 in ("bool", "complex"):
        raise CallError(_BAD_TYPE)
    return bool(arg1 < arg2)


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


class IfaceArg:
    """An index that reached ``slice`` as an interface{} (a JSON element): Go's slice does not look inside."""

    __slots__ = ()


def _index_arg(index: Any, cap: int) -> int:
    if isinstance(index, IfaceArg):
        raise CallError("cannot index slice/array with type interface {}")
    kind = _kind(index)
    if kind in ("int", "uint"):
        value = int(index)
    elif kind == "invalid":
        raise CallError("cannot index slice/array with nil")
    else:
        raise CallError(f"cannot index slice/array with type {go_type(index)}")
    if value < 0 or value > cap:
        raise CallError(f"index out of range: {value}")
    return value


def _index(item: Any, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise CallError("index of untyped nil")
    for index in indexes:
        if item is None or item is MISSING:
            raise CallError("index of nil pointer")
        if isinstance(item, list | str):
            position = _index_arg(index, len(item))
            if position >= len(item):
                raise CallError("reflect: slice index out of range" if isinstance(item, list)
                                else "reflect: string index out of range")
            item = Uint8(item.encode("utf-8", "surrogatepass")[position]) if isinstance(item, str) else item[position]
        elif isinstance(item, dict):
            key_type = "string"
            if index is MISSING or index is None:
                raise CallError(f"value is nil; should be of type {key_type}")
            if not isinstance(index, str):
                raise CallError(f"value has type {go_type(index)}; should be {key_type}")
            zero = "" if go_type(item) == "map[string]string" else None
            item = item.get(index, zero)
        else:
            raise CallError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise CallError("slice of untyped nil")
    if len(indexes) > 3:
        raise CallError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise CallError("cannot 3-index slice a string")
    elif not isinstance(item, list):
        raise CallError(f"can't slice item of type {go_type(item)}")
    cap = len(item.encode("utf-8", "surrogatepass")) if isinstance(item, str) else len(item)
    idx = [0, cap, cap]
    for position, index in enumerate(indexes):
        idx[position] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise CallError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise CallError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return item.encode("utf-8", "surrogatepass")[idx[0]:idx[1]].decode("utf-8", "replace")
    return item[idx[0]:idx[1]]


def _len(item: Any) -> int:
    if item is None or getattr(item, "is_nil", False):
        raise CallError("len of nil pointer")
    if item is MISSING:
        raise CallError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, list | dict):
        return len(item)
    raise CallError(f"len of type {go_type(item)}")


def _call(fn: Any, *args: Any) -> Any:
    if fn is MISSING or fn is None:
        raise CallError("call of nil")
    if not callable(fn):
        raise CallError(f"non-function of type {go_type(fn)}")
    return fn(*args)


def _eval_args(args: tuple[Any, ...]) -> str:
    """Go's evalArgs: one string as is, else Sprint of the arguments, a nil one printed ``<no value>``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None or a is MISSING else a for a in args])


_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}


def _html(*args: Any) -> str:
    text = _eval_args(args)
    return "".join(_HTML.get(c, c) for c in text)


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def _js(*args: Any) -> str:
    out = []
    for ch in _eval_args(args):
        if ch in _JS:
            out.append(_JS[ch])
        elif ord(ch) < 0x20 or (ord(ch) >= 0x80 and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _urlquery(*args: Any) -> str:
    out = []
    for byte in _eval_args(args).encode("utf-8", "surrogatepass"):
        ch = chr(byte)
        if ch in _URL_SAFE:
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _title(text: str) -> str:
    out = []
    prev = " "
    for ch in text:
        if _is_separator(prev):
            out.append(ch.upper() if len(ch.upper()) == 1 else ch)
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


def _is_separator(ch: str) -> bool:
    if ord(ch) <= 0x7F:
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


def _split(text: str, sep: str) -> list[str]:
    if sep == "":
        return list(text)
    return text.split(sep)


def _pad(source: str, prefix: int, suffix: int) -> str:
    if source == "":
        return source
    return " " * max(prefix, 0) + source + " " * max(suffix, 0)


def _truncate(source: str, length: int) -> str:
    data = source.encode("utf-8", "surrogatepass")
    if len(data) < length:
        return source
    if length < 0:
        raise CallError(f"runtime error: slice bounds out of range [:{length}]")
    return data[:length].decode("utf-8", "replace")


def _json_func(value: Any) -> str:
    try:
        return go_json(value)
    except ValueError as err:
        raise CallError(str(err)) from None


def _typed_json_func(value: Any) -> str:
    try:
        return go_json(value, struct_order=True)
    except ValueError as err:
        raise CallError(str(err)) from None


#: ``json`` of objects that are Docker's typed structs (inspect's): struct-like objects in their key order
TYPED_JSON = Func(("any",), False, _typed_json_func)


def _and_or(*_args: Any) -> Any:  # evaluated lazily by the executor
    raise AssertionError


BUILTINS: dict[str, Func] = {
    "and": Func(("value", "value"), True, _and_or),
    "or": Func(("value", "value"), True, _and_or),
    "not": Func(("value",), False, lambda v: not truth(v)),
    "call": Func(("value", "value"), True, _call),
    "html": Func(("any",), True, _html),
    "js": Func(("any",), True, _js),
    "urlquery": Func(("any",), True, _urlquery),
    "index": Func(("value", "value"), True, _index),
    "slice": Func(("value", "value"), True, _slice),
    "len": Func(("value",), False, _len),
    "print": Func(("any",), True, lambda *a: sprint(list(a))),
    "printf": Func(("string", "any"), True, lambda f, *a: sprintf(f, list(a))),
    "println": Func(("any",), True, lambda *a: sprintln(list(a))),
    "eq": Func(("value", "value"), True, _eq),
    "ne": Func(("value", "value"), False, lambda a, b: not _eq(a, b)),
    "lt": Func(("value", "value"), False, _lt),
    "le": Func(("value", "value"), False, _le),
    "gt": Func(("value", "value"), False, lambda a, b: not _le(a, b)),
    "ge": Func(("value", "value"), False, lambda a, b: not _lt(a, b)),
}

#: the docker CLI's template functions (cli/templates)
DOCKER: dict[str, Func] = {
    "json": Func(("any",), False, _json_func),
    "split": Func(("string", "string"), False, _split),
    "join": Func(("[]string", "string"), False, lambda items, sep: sep.join(items)),
    "title": Func(("string",), False, _title),
    "lower": Func(("string",), False, str.lower),
    "upper": Func(("string",), False, str.upper),
    "pad": Func(("string", "int", "int"), False, _pad),
    "truncate": Func(("string", "int"), False, _truncate),
}


def _first(value: str, *_: Any) -> str:
    return value


#: a table header's functions: each gives back its first argument (the docker CLI's HeaderFunctions)
HEADER: dict[str, Func] = {
    "json": Func(("string",), False, _first),
    "split": Func(("string", "string"), False, _first),
    "join": Func(("string", "string"), False, _first),
    "title": Func(("string",), False, _first),
    "lower": Func(("string",), False, _first),
    "upper": Func(("string",), False, _first),
    "truncate": Func(("string", "int"), False, _first),
}
