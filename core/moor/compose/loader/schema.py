"""The compose specification's JSON schema: a file's data checked against it, errors naming file, line and key.

The schema is the one check-jsonschema vendors (``check_jsonschema.builtin_schemas.vendor/compose-spec.json``,
kept current with the specification). Validation has two stages, both built once per process, on first use:

- a fast check, the schema compiled to Python closures (:class:`_Compiler`; the keywords the compose schema
  uses), that only says valid or not: about ten times faster than jsonschema, so a valid file costs little;
- jsonschema (draft 2020-12), for a file the fast check refuses: it finds every failure and has the last word
  (a schema using a keyword the compiler does not know is checked by jsonschema alone).

Of all the ways a file fails, the most specific one is reported (the deepest path, an unknown key before a
wrong type at the same depth), as compose-go does, worded as ``docker compose`` words it::

    validating compose.yaml: services.web additional properties 'imgae' not allowed (line 4)
    validating compose.yaml: services.web.ports[0] must be a number or string (line 7)
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from moor.compose.errors import ComposeError, ComposeFileError
from moor.compose.loader.yamlfile import YamlDocument, format_path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_LOCK = threading.Lock()
_VALIDATOR: Any = None
_SPEC: dict[str, Any] | None = None
_FAST: Callable[[Any], bool] | None = None


def schema_path() -> str:
    """Where check-jsonschema keeps its copy of the compose schema (found without importing check-jsonschema,
    whose import costs about 100 ms)."""
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or not spec.submodule_search_locations:
        raise ComposeError("the compose schema is missing: the check-jsonschema package is not installed")
    return os.path.join(next(iter(spec.submodule_search_locations)), "builtin_schemas", "vendor", "compose-spec.json")


def schema() -> dict[str, Any]:
    """The compose specification's JSON schema (a fresh copy)."""
    with open(schema_path(), encoding="utf-8") as file:
        loaded: dict[str, Any] = json.load(file)
    return loaded


def _spec() -> dict[str, Any]:
    """The schema, read once."""
    global _SPEC
    if _SPEC is None:
        _SPEC = schema()
    return _SPEC


def _fast() -> Callable[[Any], bool]:
    """The compiled fast check (one that always says "check with jsonschema" when the schema has a keyword
    the compiler does not know)."""
    global _FAST
    with _LOCK:
        if _FAST is None:
            try:
                _FAST = _Compiler(_spec()).root()
            except _Unsupported:
                _FAST = _never
        return _FAST


def _never(_instance: Any) -> bool:
    return False


def _always(_instance: Any) -> bool:
    return True


def _validator() -> Any:
    """jsonschema's validator for the schema. jsonschema is imported here, not at the top: it takes about 40 ms
    to import and only a file the fast check refuses needs it."""
    global _VALIDATOR
    with _LOCK:
        if _VALIDATOR is None:
            validators = importlib.import_module("jsonschema.validators")
            spec = _spec()
            cls = validators.validator_for(spec, default=validators.Draft202012Validator)
            _VALIDATOR = cls(spec)
        return _VALIDATOR


def validate(data: Any, document: YamlDocument | None = None) -> None:
    """Check ``data`` (one file's, or files merged so far) against the schema; ``document`` (the file being
    loaded) names the file and gives lines. ``ComposeFileError`` with the most specific failure."""
    filename = document.filename if document is not None else "compose file"
    if not isinstance(data, dict):
        raise ComposeFileError(f"validating {filename}: top-level object must be a mapping")
    if _fast()(data):
        return
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    error = _most_specific(errors)
    path = tuple(error.absolute_path)
    message = _message(error)
    if error.validator == "type":
        # of oneOf: [number, string, mapping], every type allowed at that path
        wanted = {name for leaf in _leaves(errors) if leaf.validator == "type" and tuple(leaf.absolute_path) == path
                  for name in ([leaf.validator_value] if isinstance(leaf.validator_value, str)
                               else leaf.validator_value)}
        message = f"must be {_type_names(wanted)}"
    where = ""
    if document is not None:
        position = document.nearest_position(path + _offending_key(error))
        if position is not None:
            where = f" (line {position[0]})"
    shown = format_path(path) or "(root)"
    raise ComposeFileError(f"validating {filename}: {shown} {message}{where}")


_UNKNOWN_KEYS = ("additionalProperties", "unevaluatedProperties")


def _specificity(error: ValidationError) -> tuple[int, int]:
    """compose-go's: the depth of the path, one more for an unknown key; on a tie, moor prefers any other
    failure to a wrong type (of ``oneOf: [string, list]``, the list's failure when the value is a list)."""
    depth = len(error.absolute_path)
    return (depth + 1 if error.validator in _UNKNOWN_KEYS else depth, 0 if error.validator == "type" else 1)


def _most_specific(errors: Iterable[ValidationError]) -> ValidationError:
    """compose-go's getMostSpecificError: the deepest leaf among the failures (and their oneOf/anyOf causes);
    the first one on a tie. An ``unevaluatedProperties`` failure that names only keys the schema knows is left
    out: it comes from a sibling failure (a known key with a wrong value is "unevaluated" too)."""
    best: ValidationError | None = None
    for error in _leaves(errors):
        if error.validator == "unevaluatedProperties" and not _extra_properties(error):
            continue
        if best is None or _specificity(error) > _specificity(best):
            best = error
    if best is None:
        best = next(iter(_leaves(errors)))
    return best


def _leaves(errors: Iterable[ValidationError]) -> Iterable[ValidationError]:
    for error in errors:
        if error.context:
            yield from _leaves(error.context)
        else:
            yield error


def _offending_key(error: ValidationError) -> tuple[str, ...]:
    if error.validator in _UNKNOWN_KEYS and isinstance(error.instance, dict):
        extra = _extra_properties(error)
        if extra:
            return (extra[0],)
    return ()


def _extra_properties(error: ValidationError) -> list[str]:
    """The keys of the failing mapping that its schema (with its ``$ref``/``allOf``/``oneOf``/``anyOf``
    subschemas) does not name."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    names, patterns = _known_keys(error.schema if isinstance(error.schema, dict) else {},
                                  error.validator == "unevaluatedProperties")
    return [key for key in instance if key not in names and not any(regex.search(key) for regex in patterns)]


def _known_keys(
    node: dict[str, Any], deep: bool, seen: set[int] | None = None
) -> tuple[set[str], list[re.Pattern[str]]]:
    names = set(node.get("properties", {}))
    patterns = [re.compile(pattern) for pattern in node.get("patternProperties", {})]
    if not deep:
        return names, patterns
    seen = seen if seen is not None else set()
    if id(node) in seen:
        return names, patterns
    seen.add(id(node))
    subschemas: list[Any] = []
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = _spec()
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        subschemas.append(target)
    for keyword in ("allOf", "anyOf", "oneOf"):
        subschemas.extend(node.get(keyword, ()))
    for sub in subschemas:
        if isinstance(sub, dict):
            more_names, more_patterns = _known_keys(sub, True, seen)
            names |= more_names
            patterns += more_patterns
    return names, patterns


def _quoted(values: Sequence[Any]) -> str:
    return ", ".join(f"'{value}'" if isinstance(value, str) else json.dumps(value) for value in values)


def _type_names(wanted: Iterable[str]) -> str:
    """compose-go's humanReadableType ("mapping" for object, sorted, "a, b or c"), with its article."""
    names = sorted({"mapping" if name == "object" else name for name in wanted})
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return ("an " if text[0] in "aeiou" else "a ") + text


def _missing(error: ValidationError, value: Any) -> str:
    missing = [name for name in value if isinstance(error.instance, dict) and name not in error.instance]
    return f"missing property {_quoted(missing)}" if len(missing) == 1 else f"missing properties {_quoted(missing)}"


def _count(error: ValidationError, value: Any) -> str:
    return f"{error.validator}: got {len(error.instance)}, want {value}"


#: validator -> its failure in compose-go's words, from the error and the validator's value
_MESSAGES: dict[str, Callable[[ValidationError, Any], str]] = {
    "type": lambda error, value: f"must be {_type_names([value] if isinstance(value, str) else value)}",
    **{kind: (lambda error, value: f"additional properties {_quoted(_extra_properties(error))} not allowed")
       for kind in _UNKNOWN_KEYS},
    "required": _missing,
    "enum": lambda error, value: f"value must be one of {_quoted(value)}",
    "const": lambda error, value: f"value must be {_quoted([value])}",
    "minimum": lambda error, value: f"must be greater than or equal to {value}",
    "maximum": lambda error, value: f"must be less than or equal to {value}",
    "pattern": lambda error, value: f"'{error.instance}' does not match pattern '{value}'",
    **{kind: _count for kind in ("minItems", "maxItems", "minProperties")},
    "uniqueItems": lambda error, value: f"must not contain duplicate items ({_duplicate(error.instance)})",
    "oneOf": lambda error, value: "must match exactly one of the allowed forms",
    "anyOf": lambda error, value: "does not match any of the allowed forms",
    "not": lambda error, value: "is not allowed here",
    "propertyNames": lambda error, value: f"has an invalid key: {error.message}",
}


def _message(error: ValidationError) -> str:
    describe = _MESSAGES.get(str(error.validator))
    return describe(error, error.validator_value) if describe is not None else error.message


def _duplicate(items: Any) -> str:
    seen: list[Any] = []
    for item in items if isinstance(items, list) else []:
        if item in seen:
            return json.dumps(item)
        seen.append(item)
    return ""


# --- the fast check: the schema compiled to closures ---------------------------------------------------------

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(("description", "deprecated", "default", "$schema", "$id", "title", "$defs", "$comment",
                          "examples"))


class _Unsupported(Exception):
    """The schema uses a keyword the compiler does not know."""


def _is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _json_key(value: Any) -> Any:
    """A hashable form under which JSON-equal values (1 and 1.0, not 1 and true) are equal."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))
    return ("other", id(value))


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(instance: Any) -> bool:
        return all(one(instance) for one in checks)

    return check


def _combine(keyword: str, subs: list[Check]) -> Check:
    def all_of(instance: Any) -> bool:
        return all(sub(instance) for sub in subs)

    def any_of(instance: Any) -> bool:
        return any(sub(instance) for sub in subs)

    def one_of(instance: Any) -> bool:
        return sum(1 for sub in subs if sub(instance)) == 1

    return {"allOf": all_of, "anyOf": any_of, "oneOf": one_of}[keyword]


def _items(item_check: Check) -> Check:
    def check(instance: Any) -> bool:
        return not isinstance(instance, list) or all(item_check(item) for item in instance)

    return check


def _required(names: list[str]) -> Check:
    def check(instance: Any) -> bool:
        return all(name in instance for name in names)

    return check


def _on_objects(checks: list[Check]) -> Check:
    def check(instance: Any) -> bool:
        return not isinstance(instance, dict) or all(one(instance) for one in checks)

    return check


def _type(value: Any) -> Check:
    tests = [_TYPES[name] for name in ([value] if isinstance(value, str) else value)]
    if len(tests) == 1:
        return tests[0]

    def check(instance: Any) -> bool:
        return any(test(instance) for test in tests)

    return check


def _enum(value: Any) -> Check:
    allowed = {_json_key(item) for item in value}

    def check(instance: Any) -> bool:
        return _json_key(instance) in allowed

    return check


def _const(value: Any) -> Check:
    return _enum([value])


def _pattern(value: Any) -> Check:
    regex = re.compile(value)

    def check(instance: Any) -> bool:
        return not isinstance(instance, str) or regex.search(instance) is not None

    return check


def _minimum(bound: Any) -> Check:
    def check(instance: Any) -> bool:
        return not _is_number(instance) or instance >= bound

    return check


def _maximum(bound: Any) -> Check:
    def check(instance: Any) -> bool:
        return not _is_number(instance) or instance <= bound

    return check


def _min_items(bound: Any) -> Check:
    def check(instance: Any) -> bool:
        return not isinstance(instance, list) or len(instance) >= bound

    return check


def _unique_items(value: Any) -> Check:
    if not value:
        return _always

    def check(instance: Any) -> bool:
        return not isinstance(instance, list) or len({_json_key(item) for item in instance}) == len(instance)

    return check


_SIMPLE: dict[str, Callable[[Any], Check]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _minimum,
    "maximum": _maximum,
    "minItems": _min_items,
    "uniqueItems": _unique_items,
}


class _Compiler:
    """The subset of JSON Schema 2020-12 the compose schema uses, compiled to ``instance -> bool`` closures.
    ``unevaluatedProperties`` follows the annotation rules: keys evaluated by ``properties``,
    ``patternProperties``, ``additionalProperties`` of the schema, of its ``$ref``/``allOf`` subschemas and of
    the ``anyOf``/``oneOf`` subschemas the instance matches."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.refs: dict[str, Check] = {}
        self.compiled: dict[int, Check] = {}

    def root(self) -> Check:
        return self.compile(self.spec)

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise _Unsupported(ref)
        node: Any = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def ref(self, ref: str) -> Check:
        target = self.resolve(ref)
        refs = self.refs

        def check(instance: Any) -> bool:
            compiled = refs.get(ref)
            if compiled is None:
                compiled = refs[ref] = self.compile(target)
            return compiled(instance)

        return check

    def compile(self, node: Any) -> Check:
        compiled = self.compiled.get(id(node))
        if compiled is None:
            compiled = self.compiled[id(node)] = self.build(node)
        return compiled

    def build(self, node: Any) -> Check:
        if node is True or node == {}:
            return _always
        if node is False:
            return _never
        if not isinstance(node, dict):
            raise _Unsupported(repr(node))
        checks: list[Check] = []
        object_checks: list[Check] = self.property_checks(node)
        for keyword, value in node.items():
            if keyword in _ANNOTATIONS or keyword in ("properties", "patternProperties", "additionalProperties"):
                continue
            if keyword == "$ref":
                checks.append(self.ref(value))
            elif keyword in ("allOf", "anyOf", "oneOf"):
                checks.append(_combine(keyword, [self.compile(sub) for sub in value]))
            elif keyword == "items":
                checks.append(_items(self.compile(value)))
            elif keyword == "required":
                object_checks.append(_required(list(value)))
            elif keyword == "unevaluatedProperties":
                if value is not False:
                    raise _Unsupported("unevaluatedProperties with a schema")
                object_checks.append(self.unevaluated(node))
            elif keyword in _SIMPLE:
                check = _SIMPLE[keyword](value)
                if check is not _always:
                    checks.append(check)
            else:
                raise _Unsupported(keyword)
        if object_checks:
            checks.append(_on_objects(object_checks))
        return _all(checks)

    def unevaluated(self, node: dict[str, Any]) -> Check:
        def check(instance: Any) -> bool:
            evaluated = self.evaluated(node, instance, top=True)
            return evaluated is None or all(key in evaluated for key in instance)

        return check

    def property_checks(self, node: dict[str, Any]) -> list[Check]:
        if not any(keyword in node for keyword in ("properties", "patternProperties", "additionalProperties")):
            return []
        properties = {key: self.compile(sub) for key, sub in node.get("properties", {}).items()}
        patterns = [(re.compile(pattern), self.compile(sub)) for pattern, sub in node.get("patternProperties",
                                                                                           {}).items()]
        additional = self.compile(node["additionalProperties"]) if "additionalProperties" in node else None

        def check(instance: Any) -> bool:
            for key, value in instance.items():
                known = False
                sub = properties.get(key)
                if sub is not None:
                    known = True
                    if not sub(value):
                        return False
                for regex, pattern_check in patterns:
                    if regex.search(key) is not None:
                        known = True
                        if not pattern_check(value):
                            return False
                if not known and additional is not None and not additional(value):
                    return False
            return True

        return [check]

    def evaluated(self, node: Any, instance: dict[str, Any], top: bool = False) -> set[str] | None:
        """The keys of ``instance`` that ``node`` evaluates (None: all of them)."""
        if not isinstance(node, dict):
            return None if node is True else set()
        if "additionalProperties" in node or (not top and "unevaluatedProperties" in node):
            return None
        keys = {key for key in node.get("properties", {}) if key in instance}
        for pattern in node.get("patternProperties", {}):
            regex = re.compile(pattern)
            keys.update(key for key in instance if regex.search(key))
        subschemas: list[Any] = []
        if "$ref" in node:
            subschemas.append(self.resolve(node["$ref"]))
        subschemas.extend(node.get("allOf", ()))
        for keyword in ("anyOf", "oneOf"):
            subschemas.extend(sub for sub in node.get(keyword, ()) if self.compile(sub)(instance))
        for sub in subschemas:
            more = self.evaluated(sub, instance)
            if more is None:
                return None
            keys |= more
        return keys
