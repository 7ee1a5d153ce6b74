"""The compose specification's JSON schema: a file's data checked against it, errors naming file, line and key.

The schema is the one check-jsonschema vendors (``check_jsonschema.builtin_schemas.vendor/compose-spec.json``,
kept current with the specification). The validator is built once per process, on first use. Of all the
ways a file fails, the most specific one is reported (the deepest path, an unknown key before a wrong type at
the same depth), as compose-go does, worded as ``docker compose`` words it::

    validating compose.yaml: services.web additional properties 'imgae' not allowed (line 4)
    validating compose.yaml: services.web.ports[0] must be a number or string (line 7)
"""

from __future__ import annotations

import importlib.resources
import json
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import jsonschema
import jsonschema.protocols
import jsonschema.validators
from jsonschema.exceptions import ValidationError

from moor.compose.errors import ComposeFileError
from moor.compose.loader.yamlfile import YamlDocument, format_path

_LOCK = threading.Lock()
_VALIDATOR: jsonschema.protocols.Validator | None = None


def schema() -> dict[str, Any]:
    """The compose specification's JSON schema (a fresh copy)."""
    text = (importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text(
        encoding="utf-8"
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validator() -> jsonschema.protocols.Validator:
    global _VALIDATOR
    with _LOCK:
        if _VALIDATOR is None:
            spec = schema()
            cls = jsonschema.validators.validator_for(spec, default=jsonschema.Draft202012Validator)
            _VALIDATOR = cls(spec)
        return _VALIDATOR


def validate(data: Any, document: YamlDocument | None = None) -> None:
    """Check ``data`` (one file's, or files merged so far) against the schema; ``document`` (the file being
    loaded) names the file and gives lines. ``ComposeFileError`` with the most specific failure."""
    filename = document.filename if document is not None else "compose file"
    if not isinstance(data, dict):
        raise ComposeFileError(f"validating {filename}: top-level object must be a mapping")
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    error = _most_specific(errors)
    path = tuple(error.absolute_path)
    message = _message(error)
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
    the first one on a tie."""
    best: ValidationError | None = None
    for error in errors:
        candidate = _most_specific(error.context) if error.context else error
        if best is None or _specificity(candidate) > _specificity(best):
            best = candidate
    assert best is not None
    return best


def _offending_key(error: ValidationError) -> tuple[str, ...]:
    if error.validator in _UNKNOWN_KEYS and isinstance(error.instance, dict):
        extra = _extra_properties(error)
        if extra:
            return (extra[0],)
    return ()


def _extra_properties(error: ValidationError) -> list[str]:
    if error.validator == "unevaluatedProperties":
        # jsonschema names them: "Unevaluated properties are not allowed ('a', 'b' were unexpected)"
        listed = re.search(r"\((.*) (?:was|were) unexpected\)", error.message)
        instance_keys = list(error.instance) if isinstance(error.instance, dict) else []
        if listed:
            return [key for key in instance_keys if repr(key) in listed.group(1)]
        return instance_keys
    schema_ = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema_.get("properties", {}))
    patterns = list(schema_.get("patternProperties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in instance if key not in known and not any(_search(pattern, key) for pattern in patterns)]


def _search(pattern: str, key: str) -> bool:
    return re.search(pattern, key) is not None


def _quoted(values: Sequence[Any]) -> str:
    return ", ".join(f"'{value}'" if isinstance(value, str) else json.dumps(value) for value in values)


def _type_name(name: str) -> str:
    return "mapping" if name == "object" else name


def _message(error: ValidationError) -> str:
    kind = error.validator
    value = error.validator_value
    if kind == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        names = sorted(_type_name(name) for name in wanted)
        text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        return f"must be a {text}"
    if kind in _UNKNOWN_KEYS:
        extra = _extra_properties(error)
        return f"additional properties {_quoted(extra)} not allowed"
    if kind == "required":
        missing = [name for name in value if isinstance(error.instance, dict) and name not in error.instance]
        return f"missing property {_quoted(missing)}" if len(missing) == 1 else f"missing properties {_quoted(missing)}"
    if kind == "enum":
        return f"value must be one of {_quoted(value)}"
    if kind == "const":
        return f"value must be {_quoted([value])}"
    if kind == "minimum":
        return f"must be greater than or equal to {value}"
    if kind == "maximum":
        return f"must be less than or equal to {value}"
    if kind == "pattern":
        return f"'{error.instance}' does not match pattern '{value}'"
    if kind == "minItems":
        return f"minItems: got {len(error.instance)}, want {value}"
    if kind == "maxItems":
        return f"maxItems: got {len(error.instance)}, want {value}"
    if kind == "minProperties":
        return f"minProperties: got {len(error.instance)}, want {value}"
    if kind == "uniqueItems":
        return f"must not contain duplicate items ({_duplicate(error.instance)})"
    if kind == "oneOf":
        return "must match exactly one of the allowed forms"
    if kind == "anyOf":
        return "does not match any of the allowed forms"
    if kind == "not":
        return "is not allowed here"
    if kind == "propertyNames":
        return f"has an invalid key: {error.message}"
    return error.message


def _duplicate(items: Any) -> str:
    seen: list[Any] = []
    for item in items if isinstance(items, list) else []:
        if item in seen:
            return json.dumps(item)
        seen.append(item)
    return ""
