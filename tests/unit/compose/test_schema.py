"""The compose specification's schema: valid files pass, each failure is one line naming file, line and key,
and the fast compiled check agrees with jsonschema."""

from __future__ import annotations

import copy
import os
import random

import pytest

from moor.compose.errors import ComposeFileError
from moor.compose.loader import schema
from moor.compose.loader.interpolation import interpolate
from moor.compose.loader.schema import validate
from moor.compose.loader.yamlfile import load_yaml

DATA = os.path.join(os.path.dirname(__file__), "data", "parse")


def document_of(name: str):
    with open(os.path.join(DATA, name), "rb") as file:
        document = load_yaml(file.read(), name)
    document.data = interpolate(document.data, {}.get)
    return document


@pytest.mark.parametrize("name", ["twenty.yaml", "everything.yaml"])
def test_valid_files(name: str) -> None:
    document = document_of(name)
    validate(document.data, document)
    assert schema._validator().is_valid(document.data)


def check(text: str) -> str:
    document = load_yaml(text, "compose.yaml")
    with pytest.raises(ComposeFileError) as caught:
        validate(document.data, document)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web:\n    image: x\n    imgae: y\n",
         "validating compose.yaml: services.web additional properties 'imgae' not allowed (line 4)"),
        ("services:\n  web:\n    image: x\n    foo: 1\n    bar: 2\n",
         "validating compose.yaml: services.web additional properties 'foo', 'bar' not allowed (line 4)"),
        ("version: '3'\nservice:\n  web: {}\n",
         "validating compose.yaml: (root) additional properties 'service' not allowed (line 2)"),
        ("services:\n  web:\n    image: 1\n",
         "validating compose.yaml: services.web.image must be a string (line 3)"),
        ("services:\n  web:\n    image: x\n    bogus: 1\n    privileged: maybe\n",
         "validating compose.yaml: services.web additional properties 'bogus' not allowed (line 4)"),
        ("services:\n  web:\n    image: x\n    environment: 5\n",
         "validating compose.yaml: services.web.environment must be an array or mapping (line 4)"),
        ("services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        bad: 1\n",
         "validating compose.yaml: services.web.ports[0] additional properties 'bad' not allowed (line 6)"),
        ("services:\n  web:\n    image: x\n    ports:\n      - [80]\n",
         "validating compose.yaml: services.web.ports[0] must be a mapping, number or string (line 5)"),
        ("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: started\n",
         "validating compose.yaml: services.web.depends_on.db.condition value must be one of 'service_started', "
         "'service_healthy', 'service_completed_successfully' (line 6)"),
        ("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        restart: true\n",
         "validating compose.yaml: services.web.depends_on.db missing property 'condition' (line 5)"),
        ("services:\n  web:\n    image: x\n    dns: [a, a]\n",
         'validating compose.yaml: services.web.dns must not contain duplicate items ("a") (line 4)'),
        ("services:\n  web:\n    image: x\n    healthcheck:\n      test: [1]\n",
         "validating compose.yaml: services.web.healthcheck.test[0] must be a string (line 5)"),
        ("services: []\n", "validating compose.yaml: services must be a mapping (line 1)"),
        ("services:\n  w e b:\n    image: x\n",
         "validating compose.yaml: services additional properties 'w e b' not allowed (line 2)"),
        ("services:\n  web:\n", "validating compose.yaml: services.web must be a mapping (line 2)"),
        ("volumes:\n  v:\n    driver: 1\n", "validating compose.yaml: volumes.v.driver must be a string (line 3)"),
        ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/8\n          color: red\n",
         "validating compose.yaml: networks.n.ipam.config[0] additional properties 'color' not allowed (line 6)"),
        ("services:\n  web:\n    image: x\n    deploy:\n      resources:\n        limits:\n          cpus: [1]\n",
         "validating compose.yaml: services.web.deploy.resources.limits.cpus must be a number or string (line 7)"),
    ],
)
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    assert check(text) == message


def test_extensions_are_allowed_everywhere_they_should_be() -> None:
    document = load_yaml(
        "x-top: 1\nservices:\n  web:\n    image: x\n    x-svc: {any: [thing]}\nnetworks:\n  n:\n    x-net: 1\n",
        "compose.yaml",
    )
    validate(document.data, document)


def test_top_level_must_be_a_mapping() -> None:
    document = load_yaml("- a\n", "compose.yaml")
    with pytest.raises(ComposeFileError, match=r"^validating compose.yaml: top-level object must be a mapping$"):
        validate(document.data, document)


def test_without_a_document() -> None:
    with pytest.raises(ComposeFileError, match=r"^validating compose file: services.web.image must be a string$"):
        validate({"services": {"web": {"image": 5}}})


def test_line_of_the_nearest_key_for_merged_data() -> None:
    document = load_yaml("services:\n  web:\n    image: x\n", "compose.yaml")
    data = copy.deepcopy(document.data)
    data["services"]["web"]["ports"] = [{"target": "eighty", "nope": 1}]
    with pytest.raises(ComposeFileError, match=r"services.web.ports\[0\] additional properties 'nope' not allowed "
                                               r"\(line 2\)$"):
        validate(data, document)


def test_validators_are_built_once() -> None:
    assert schema._fast() is schema._fast()
    assert schema._validator() is schema._validator()


def test_schema_is_the_vendored_one() -> None:
    assert schema.schema_path().endswith(os.path.join("check_jsonschema", "builtin_schemas", "vendor",
                                                      "compose-spec.json"))
    assert "services" in schema.schema()["properties"]


def test_jsonschema_alone_when_the_fast_check_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "_FAST", schema._never)
    document = document_of("everything.yaml")
    validate(document.data, document)
    with pytest.raises(ComposeFileError, match="additional properties 'imgae'"):
        validate({"services": {"web": {"imgae": "x"}}})


# --- the compiled check -------------------------------------------------------------------------------------


def compiled(spec: dict):
    return schema._Compiler(spec).root()


def test_compiler_json_semantics() -> None:
    integer = compiled({"type": "integer"})
    assert integer(1) and integer(1.0) and not integer(True) and not integer(1.5)
    number = compiled({"type": "number"})
    assert number(1) and number(0.5) and not number(False) and not number("1")
    enum = compiled({"enum": [1, "a"]})
    assert enum(1) and enum(1.0) and enum("a") and not enum(True)
    unique = compiled({"uniqueItems": True})
    assert unique([1, True]) and not unique([1, 1.0]) and not unique([{"a": [1]}, {"a": [1]}]) and unique("xx")
    bounded = compiled({"minimum": 0, "maximum": 10})
    assert bounded(0) and bounded(10) and not bounded(-1) and bounded("x") and bounded(True)
    pattern = compiled({"pattern": "^a"})
    assert pattern("ab") and not pattern("ba") and pattern(5)


def test_compiler_unevaluated_properties() -> None:
    spec = {
        "$defs": {"base": {"type": "object", "properties": {"a": {"type": "string"}},
                           "patternProperties": {"^x-": {}}}},
        "allOf": [{"$ref": "#/$defs/base"}],
        "oneOf": [{"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                  {"properties": {"c": {"type": "integer"}}, "required": ["c"]}],
        "properties": {"d": True},
        "unevaluatedProperties": False,
    }
    check_ = compiled(spec)
    assert check_({"a": "x", "b": 1, "x-y": 0, "d": None})
    assert check_({"c": 2})
    assert not check_({"b": 1, "e": 1})
    assert not check_({"b": 1, "c": 1})


def test_compiler_refuses_keywords_it_does_not_know() -> None:
    with pytest.raises(schema._Unsupported):
        compiled({"if": {"type": "string"}, "then": {"minLength": 1}})


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


_VALUES = [None, True, False, 0, 1, -1, 1.5, "", "x", "80:80", "service_healthy", [], {}, ["a"], ["a", "a"],
           {"a": 1}, {"x-y": 1}, [{"target": 80}], {"condition": "service_started"}, {"type": "bind"}, 65535,
           {"soft": 1, "hard": 2}]
_KEYS = ["image", "bogus", "x-ext", "target", "condition", "type", "source", "driver", "external", "name",
         "aliases", "soft", "required", "restart", "test", "file", "mode", "cpus", "context"]


def _mutate(data, rng: random.Random):
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [path for path in _paths(data) if path]
        path = rng.choice(paths)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        operation = rng.random()
        if operation < 0.5:
            parent[path[-1]] = copy.deepcopy(rng.choice(_VALUES))
        elif operation < 0.7:
            del parent[path[-1]]
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[rng.choice(_KEYS)] = copy.deepcopy(rng.choice(_VALUES))
            elif isinstance(target, list):
                target.append(copy.deepcopy(target[0] if target and rng.random() < 0.5 else rng.choice(_VALUES)))
    return data


def test_fast_check_agrees_with_jsonschema() -> None:
    """Random mutations of valid files: the compiled check and jsonschema say the same, and every invalid one
    gives a one-line error."""
    rng = random.Random(16)
    base = document_of("everything.yaml").data
    fast, slow = schema._fast(), schema._validator()
    verdicts = set()
    for _ in range(300):
        mutated = _mutate(base, rng)
        valid = slow.is_valid(mutated)
        verdicts.add(valid)
        assert fast(mutated) == valid, [error.message for error in slow.iter_errors(mutated)]
        if not valid:
            with pytest.raises(ComposeFileError) as caught:
                validate(mutated)
            assert "\n" not in str(caught.value)
    assert verdicts == {True, False}
