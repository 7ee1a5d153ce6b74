"""Interpolation as compose-go's template package does it: every form, nesting, errors, casts, variables."""

from __future__ import annotations

import copy
import random
import re

import pytest

from moor.compose.errors import ComposeFileError
from moor.compose.loader.interpolation import Variable, interpolate, substitute, variables
from moor.compose.loader.yamlfile import load_yaml

ENV = {"A": "a", "B": "b", "EMPTY": "", "N": "3", "T": "true", "PORT": "8080", "SPACE": "x y"}


def sub(text: str) -> str:
    return substitute(text, ENV.get)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}", "a"),
        ("$A$B", "ab"),
        ("x${A}y", "xay"),
        ("$Ax", ""),  # the name is Ax
        ("${A}x", "ax"),
        ("$a", ""),  # names are case-sensitive
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("$$", "$"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("$$$A", "$a"),
        ("$", "$"),
        ("a$", "a$"),
        ("$1 $- $. $ x", "$1 $- $. $ x"),
        ("price: 5$", "price: 5$"),
        # defaults
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${A:-d}", "a"),
        ("${UNSET-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${A-d}", "a"),
        ("${UNSET:-}", ""),
        ("${UNSET:-with spaces and : colons}", "with spaces and : colons"),
        ("${UNSET:-a-b}", "a-b"),
        ("${UNSET-x:-y}", "x:-y"),
        # alternates
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${A+alt}", "alt"),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        # required, satisfied
        ("${A:?msg}", "a"),
        ("${A?msg}", "a"),
        ("${EMPTY?msg}", ""),
        # nesting
        ("${UNSET:-${A}}", "a"),
        ("${UNSET:-${UNSET2:-deep}}", "deep"),
        ("${UNSET:-${UNSET2:-${B}}}-after", "b-after"),
        ("${UNSET:-$A}", "a"),
        ("${A:+${B}${B}}", "bb"),
        ("${UNSET:-x}${UNSET:-y}", "xy"),
        ("${UNSET:-x} and ${B}", "x and b"),
        ("${A}-${UNSET:-x}", "a-x"),
        ("${UNSET:-$$}", "$"),
        # compose-go's brace matching
        ("${A:-x}}", "a}"),
        ("${UNSET:-{x}}", "{x}"),
        ("${UNSET:-{}", "{"),
        ("${UNSET:-a}b}", "ab}"),
        # a value is not interpolated again
        ("${SPACE}", "x y"),
        ("line1\n${A}\nline3", "line1\na\nline3"),
        ("${UNSET:-é}", "é"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert sub(text) == expected


def test_values_are_not_interpolated_again() -> None:
    assert substitute("${X}", {"X": "${A}"}.get) == "${A}"
    assert substitute("${U:-$X}", {"X": "$$"}.get) == "$$"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?you must set it}", "^required variable UNSET is missing a value: you must set it$"),
        ("${EMPTY:?you must set it}", "^required variable EMPTY is missing a value: you must set it$"),
        ("${UNSET?unset}", "^required variable UNSET is missing a value: unset$"),
        ("${UNSET:?}", "^required variable UNSET is missing a value$"),
        ("${UNSET:?need $A}", "^required variable UNSET is missing a value: need a$"),
        ("x ${UNSET:-${U2:?inner}}", "^required variable U2 is missing a value: inner$"),
        ("${}", "^invalid interpolation format: '\\${}'"),
        ("${A B}", "invalid interpolation format"),
        ("${1A}", "invalid interpolation format"),
        ("${A:x}", "invalid interpolation format"),
        ("${A", "invalid interpolation format"),
        ("${A:-x", "invalid interpolation format"),
        ("${A:-x\ny}", "invalid interpolation format"),
        ("${A}${", "invalid interpolation format"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeFileError, match=message):
        sub(text)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    text = "${U:-" * 300 + "x" + "}" * 300
    with pytest.raises(ComposeFileError, match="invalid interpolation format"):
        sub(text)
    assert sub("${U:-" * 50 + "x" + "}" * 50) == "x"


def test_many_forms_in_one_string() -> None:
    assert sub("${U:-x}" * 20000) == "x" * 20000
    assert sub("$A" * 20000) == "a" * 20000


def test_unset_variables_warn_once() -> None:
    warnings: list[str] = []
    data = {"a": "$NOPE", "b": ["${NOPE}", "${NOPE:-x}", "${OTHER}"], "c": "${EMPTY}"}
    interpolate(data, ENV.get, warn=warnings.append)
    assert warnings == [
        'The "NOPE" variable is not set. Defaulting to a blank string.',
        'The "OTHER" variable is not set. Defaulting to a blank string.',
    ]


def test_yaml_1_1_booleans_warn() -> None:
    warnings: list[str] = []
    result = interpolate(service(tty="yes", init="Off", privileged="true"), ENV.get, warn=warnings.append)
    assert result == service(tty=True, init=False, privileged=True)
    assert warnings == ['"yes" for boolean is not supported by YAML 1.2, please use `true`',
                        '"Off" for boolean is not supported by YAML 1.2, please use `false`']


def test_interpolate_values_never_keys_and_a_new_tree() -> None:
    data = {"services": {"web": {"image": "${A}:${TAG:-latest}", "environment": {"$A": "${B}", "X": None},
                                 "command": ["echo", "$$HOME", 5, True], "x-$A": "$A"}}}
    before = copy.deepcopy(data)
    result = interpolate(data, ENV.get)
    assert data == before
    assert result == {"services": {"web": {"image": "a:latest", "environment": {"$A": "b", "X": None},
                                           "command": ["echo", "$HOME", 5, True], "x-$A": "a"}}}


def service(**keys) -> dict:
    return {"services": {"web": keys}}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"scale": "${N}"}, {"scale": 3}),
        ({"scale": "7"}, {"scale": 7}),
        ({"scale": 7}, {"scale": 7}),
        ({"tty": "${T}", "stdin_open": "false", "privileged": "yes", "read_only": "OFF", "init": "True"},
         {"tty": True, "stdin_open": False, "privileged": True, "read_only": False, "init": True}),
        ({"cpus": "0.5", "cpu_shares": "512", "pids_limit": "-1", "oom_score_adj": "+100"},
         {"cpus": 0.5, "cpu_shares": 512, "pids_limit": -1, "oom_score_adj": 100}),
        ({"ports": [{"target": "${PORT}", "published": "${PORT}"}, "80:80"]},
         {"ports": [{"target": 8080, "published": "8080"}, "80:80"]}),
        ({"ulimits": {"nproc": "65535", "nofile": {"soft": "1024", "hard": "${N}"}}},
         {"ulimits": {"nproc": 65535, "nofile": {"soft": 1024, "hard": 3}}}),
        ({"depends_on": {"db": {"condition": "service_started", "required": "false", "restart": "true"}}},
         {"depends_on": {"db": {"condition": "service_started", "required": False, "restart": True}}}),
        ({"deploy": {"replicas": "${N}", "restart_policy": {"max_attempts": "5"}}},
         {"deploy": {"replicas": 3, "restart_policy": {"max_attempts": 5}}}),
        ({"healthcheck": {"retries": "3", "disable": "no", "interval": "10s"}},
         {"healthcheck": {"retries": 3, "disable": False, "interval": "10s"}}),
        ({"volumes": [{"type": "volume", "source": "v", "target": "/v", "read_only": "true",
                       "volume": {"nocopy": "true"}}]},
         {"volumes": [{"type": "volume", "source": "v", "target": "/v", "read_only": True,
                       "volume": {"nocopy": True}}]}),
        # strings elsewhere stay strings
        ({"environment": {"A": "1", "B": "true"}, "labels": {"x": "3"}, "command": ["1"], "user": "1000"},
         {"environment": {"A": "1", "B": "true"}, "labels": {"x": "3"}, "command": ["1"], "user": "1000"}),
    ],
)
def test_casts(keys: dict, expected: dict) -> None:
    assert interpolate(service(**keys), ENV.get) == service(**expected)


def test_casts_at_the_top_level_sections() -> None:
    data = {"networks": {"n": {"external": "true", "internal": "false", "attachable": "true", "enable_ipv6": "no"}},
            "volumes": {"v": {"external": "${T}"}}, "secrets": {"s": {"external": "true"}},
            "configs": {"c": {"external": "false"}}}
    assert interpolate(data, ENV.get) == {
        "networks": {"n": {"external": True, "internal": False, "attachable": True, "enable_ipv6": False}},
        "volumes": {"v": {"external": True}}, "secrets": {"s": {"external": True}},
        "configs": {"c": {"external": False}}}


def test_casts_follow_the_path_argument() -> None:
    assert interpolate({"scale": "2", "tty": "true"}, ENV.get, path=("services", "web")) == {"scale": 2, "tty": True}
    assert interpolate({"scale": "2"}, ENV.get) == {"scale": "2"}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"scale": "many"}, r'^error while interpolating services.web.scale: failed to cast to expected type: '
                            r'strconv.Atoi: parsing "many": invalid syntax$'),
        ({"scale": "1.5"}, r"services.web.scale: failed to cast"),
        ({"scale": " 2"}, r"services.web.scale: failed to cast"),
        ({"scale": "1_000"}, r"services.web.scale: failed to cast"),
        ({"tty": "maybe"}, r"^error while interpolating services.web.tty: failed to cast to expected type: "
                           r"invalid boolean: maybe$"),
        ({"cpus": "half"}, r'strconv.ParseFloat: parsing "half": invalid syntax'),
        ({"ports": ["80", {"target": "${UNSET}"}]}, r"services.web.ports\[1\].target: failed to cast"),
        ({"image": "${TAG:?set TAG}"}, r"^error while interpolating services.web.image: required variable TAG is "
                                       r"missing a value: set TAG$"),
        ({"environment": ["A=${}"]}, r"^invalid interpolation format for services.web.environment\[0\]: "
                                     r"'A=\${}': you may need to escape any \$ with another \$$"),
    ],
)
def test_interpolate_errors_name_the_path(keys: dict, message: str) -> None:
    with pytest.raises(ComposeFileError, match=message):
        interpolate(service(**keys), ENV.get)


def test_errors_name_file_and_line_with_the_document() -> None:
    text = "services:\n  web:\n    image: busybox\n    environment:\n      - X=${NEED:?please}\n"
    document = load_yaml(text, "compose.yaml")
    with pytest.raises(ComposeFileError) as caught:
        interpolate(document.data, {}.get, document=document)
    assert str(caught.value) == ("error while interpolating services.web.environment[0]: required variable NEED is "
                                 "missing a value: please (compose.yaml, line 5)")


def test_variables() -> None:
    data = {"services": {"web": {"image": "${REPO:-docker.io}/app:${TAG:?tag}", "x": ["$PLAIN", "$$NOT"],
                                 "y": "${ALT:+${INNER:-i}}", "n": 5}}}
    assert variables(data) == {
        "REPO": Variable("REPO", default="docker.io"),
        "TAG": Variable("TAG", required=True),
        "PLAIN": Variable("PLAIN"),
        "ALT": Variable("ALT", alternate="${INNER:-i}"),
        "INNER": Variable("INNER", default="i"),
    }


# --- a reference model: compose-go's algorithm as written (its regular expression, recursion on the rest) ------

_GO_PATTERN = re.compile(r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*"
                         r"(?::?[-+?](.*))?)\}|(?P<invalid>)))")


class _Invalid(Exception):
    pass


class _Missing(Exception):
    pass


def _go_closing(text: str) -> int:
    depth, index = 0, 0
    while index < len(text):
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        if text[index] == "{":
            depth += 1
            index += 1
        index += 1
    return -1


def _go_substitute(template: str, lookup) -> str:
    out, position, first_error = [], 0, None
    for match in _GO_PATTERN.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        try:
            out.append(_go_replace(match.group(), lookup))
        except (_Invalid, _Missing) as error:
            first_error = first_error or error
    out.append(template[position:])
    if first_error:
        raise first_error
    return "".join(out)


def _go_replace(substring: str, lookup) -> str:
    operators = [":?", "?", ":-", "-", ":+", "+"]
    present = sorted((substring.find(op), op) for op in operators if op in substring)
    operator = present[0][1] if present else None
    closing = _go_closing(substring)
    rest = ""
    if closing > -1:
        substring, rest = substring[: closing + 1], substring[closing + 1 :]
    match = _GO_PATTERN.match(substring)
    if match.group("escaped"):
        return "$"
    name, braced = match.group("named"), False
    if not name:
        name, braced = match.group("braced"), True
    if not name:
        raise _Invalid()
    if braced and operator and operator in name:
        name, argument = name.split(operator, 1)
        value = lookup(name)
        if operator in (":-", "-"):
            unset = value is None or (operator == ":-" and value == "")
            result = _go_substitute(argument, lookup) if unset else value
        elif operator in (":+", "+"):
            present_ = value is not None and (operator == "+" or value != "")
            result = _go_substitute(argument, lookup) if present_ else (value or "")
        else:
            if value is None or (operator == ":?" and value == ""):
                _go_substitute(argument, lookup)
                raise _Missing(name)
            result = value
        return result + _go_substitute(rest, lookup)
    return lookup(name) or ""


def test_agrees_with_compose_gos_algorithm_on_random_templates() -> None:
    environ = {"A": "a", "B": "", "AB": "ab"}
    pieces = ["$", "$", "{", "}", "}", ":", "-", "+", "?", "A", "B", "x", "\n", " ", "${", "${A", "${B:-", "$$"]
    rng = random.Random(16)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        try:
            expected: tuple = ("ok", _go_substitute(text, environ.get))
        except _Invalid:
            expected = ("invalid",)
        except _Missing as error:
            expected = ("missing", str(error))
        try:
            got: tuple = ("ok", substitute(text, environ.get))
        except ComposeFileError as error:
            got = ("invalid",) if "invalid interpolation" in str(error) else ("missing", str(error).split()[2])
        assert got == expected, text
