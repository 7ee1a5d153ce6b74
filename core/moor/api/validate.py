"""Check a request's JSON against Go types, as Docker's JSON decoder does, before any service sees it.

Docker decodes each request body into Go structs; a value of the wrong JSON type is refused with
Go's error, for example ``json: cannot unmarshal string into Go struct field
HostConfig.HostConfig.Privileged of type bool`` (the innermost struct's name, then the path of
field names from the top, then the Go type of the value). :func:`decode` does the same on the
value Python's JSON parser made and returns it with each known field under its canonical name
(Go matches field names case-insensitively), so ``"privileged": "false"`` never turns into a
privileged container through Python's ``bool()``.

Go's rules kept here: ``null`` is accepted everywhere (a field given as null is as if absent, a
null list or map element is the element's zero value); a number into an integer type must be an
integer within the type's range (else ``number 1.5``, ``number -1``); unknown fields are left as
they are (Go ignores them); the first error in document order wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moor.errors import InvalidParameter

#: Go's integer types and their ranges.
INT_RANGES = {
    "int": (-(2**63), 2**63 - 1), "int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1),
    "int16": (-(2**15), 2**15 - 1), "uint": (0, 2**64 - 1), "uint64": (0, 2**64 - 1),
    "uint32": (0, 2**32 - 1), "uint16": (0, 2**16 - 1), "uint8": (0, 255),
}  # fmt: skip


class GoType:
    """A Go type: its name as Go prints it (``go``) and how a JSON value decodes into it."""

    go: str = ""

    def check(self, value: Any, path: _Path) -> Any:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def zero(self) -> Any:
        """What a null element of a list or map becomes."""
        return None


@dataclass
class _Path:
    """Go's error context: the innermost struct being decoded and the field names from the top."""

    struct: str = ""
    fields: tuple[str, ...] = ()

    def error(self, value: Any, go: str, kind: str = "") -> InvalidParameter:
        kind = kind or json_kind(value)
        where = f"Go struct field {self.struct}.{'.'.join(self.fields)}" if self.fields else "Go value"
        return InvalidParameter(f"json: cannot unmarshal {kind} into {where} of type {go}")


def json_kind(value: Any) -> str:
    """The kind Go names in its error (``number 1.5`` for a number that does not fit the type)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


class Str(GoType):
    def __init__(self, go: str = "string") -> None:
        self.go = go

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, str):
            raise path.error(value, self.go)
        return value

    def zero(self) -> Any:
        return ""


class Bool(GoType):
    go = "bool"

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, bool):
            raise path.error(value, self.go)
        return value

    def zero(self) -> Any:
        return False


class Int(GoType):
    """A Go integer type (``int64``, ``uint16``, ``time.Duration``...): ``kind`` gives its range."""

    def __init__(self, kind: str = "int64", go: str = "") -> None:
        self.low, self.high = INT_RANGES[kind]
        self.go = go or kind

    def check(self, value: Any, path: _Path) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise path.error(value, self.go)
        if isinstance(value, float) or not self.low <= value <= self.high:
            raise path.error(value, self.go, f"number {_number_text(value)}")
        return value

    def zero(self) -> Any:
        return 0


class Float(GoType):
    go = "float64"

    def check(self, value: Any, path: _Path) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise path.error(value, self.go)
        return value

    def zero(self) -> Any:
        return 0.0


class Anything(GoType):
    """``interface{}``: any JSON value."""

    go = "interface {}"

    def check(self, value: Any, path: _Path) -> Any:
        return value


class List(GoType):
    """A Go slice (``[]string``) or, with ``length``, an array (``[2]uint``: extra elements are dropped)."""

    def __init__(self, element: GoType, go: str = "", length: int | None = None) -> None:
        self.element = element
        self.length = length
        self.go = go or (f"[{length}]{element.go}" if length is not None else f"[]{element.go}")

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, list):
            raise path.error(value, self.go)
        items = [self.element.zero() if item is None else self.element.check(item, path) for item in value]
        if self.length is not None:
            items = (items + [self.element.zero()] * self.length)[: self.length]
        return items


class StrSlice(GoType):
    """Docker's ``strslice.StrSlice`` (Cmd, Entrypoint, CapAdd...): a string or a list of strings."""

    go = "string"

    def check(self, value: Any, path: _Path) -> Any:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) or item is None for item in value):
            return ["" if item is None else item for item in value]
        raise path.error(value, self.go)  # Go reports the value against its last try, a string


class Map(GoType):
    """A Go map with string keys (``map[string]string``)."""

    def __init__(self, element: GoType, go: str = "") -> None:
        self.element = element
        self.go = go or f"map[string]{element.go}"

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, dict):
            raise path.error(value, self.go)
        return {key: self.element.zero() if item is None else self.element.check(item, path)
                for key, item in value.items()}


@dataclass
class Struct(GoType):
    """A Go struct: ``name`` is what errors call it inside (``HostConfig``), ``go`` its full type name
    (``container.HostConfig``); ``fields`` maps each JSON field name to its type."""

    name: str
    fields: Mapping[str, GoType]
    go: str = ""
    _folded: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.go = self.go or self.name
        self._folded = {name.casefold(): name for name in self.fields}

    def canonical(self, key: str) -> str | None:
        """The field a JSON key names: an exact match, else a case-insensitive one (as Go's decoder)."""
        if key in self.fields:
            return key
        return self._folded.get(key.casefold())

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, dict):
            raise path.error(value, self.go)
        result: dict[str, Any] = {}
        for key, item in value.items():
            name = self.canonical(key)
            if name is None:
                result[key] = item  # unknown to the API: Go ignores it, and so do the services
                continue
            if item is None:
                result.pop(name, None)
                continue
            result[name] = self.fields[name].check(item, _Path(self.name, (*path.fields, name)))
        return result

    def zero(self) -> Any:
        return {}


class Empty(Struct):
    """``struct {}`` (the values of ``ExposedPorts`` and ``Volumes``): any object."""

    def __init__(self) -> None:
        super().__init__("", {}, go="struct {}")

    def check(self, value: Any, path: _Path) -> Any:
        if not isinstance(value, dict):
            raise path.error(value, self.go)
        return {}


def decode(kind: GoType, value: Any) -> Any:
    """``value`` checked against ``kind`` (a top-level type), known fields under their canonical names.

    Raises :class:`InvalidParameter` (400) with Go's message for the first value of the wrong type.
    """
    if value is None:
        return None
    return kind.check(value, _Path())


def embed(*parts: Mapping[str, GoType], **more: GoType) -> dict[str, GoType]:
    """The fields of structs embedded in one another (Go promotes an embedded struct's fields)."""
    merged: dict[str, GoType] = {}
    for part in parts:
        merged.update(part)
    merged.update(more)
    return merged
