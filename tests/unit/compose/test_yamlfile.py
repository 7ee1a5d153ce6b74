"""Compose YAML read as go-yaml reads it: scalars, anchors and merges, positions, merge tags, hostile input."""

from __future__ import annotations

import math
import os
import random
import threading

import pytest

from moor.compose.errors import ComposeFileError
from moor.compose.loader import yamlfile
from moor.compose.loader.yamlfile import format_path, load_yaml, resolve_plain

DATA = os.path.join(os.path.dirname(__file__), "data", "parse")


def value_of(scalar: str):
    return load_yaml(f"v: {scalar}\n", "f.yaml").data["v"]


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
        # YAML 1.2 as go-yaml: these stay strings
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("tRue", "tRue"),
        ("~", None), ("null", None), ("NULL", None), ("", None),
        ("12", 12), ("+5", 5), ("-5", -5), ("1_000", 1000), ("0x1F", 31), ("0o17", 15), ("0b101", 5),
        # Go's ParseInt(s, 0, 64): a leading 0 is octal (file modes: mode: 0440)
        ("0440", 0o440), ("0", 0), ("08", 8.0), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0),
        ("-0", -0.0), ("9223372036854775807", 2**63 - 1), ("18446744073709551615", 2**64 - 1),
        ("99999999999999999999", 1e20), ("1e999", "1e999"),
        # dates stay the text written
        ("2024-01-31", "2024-01-31"), ("2024-01-31T10:00:00Z", "2024-01-31T10:00:00Z"),
        ("1.2.3", "1.2.3"), ("0x", "0x"), ("12abc", "12abc"), ("inf", "inf"), ("nan", "nan"),
        ("'12'", "12"), ('"true"', "true"), ("!!str 12", "12"), ("!!int '12'", 12), ("!!float 1", 1.0),
        ("!!bool true", True), ("!!null ''", None), ("! 12", "12"),
        ("!!binary aGVsbG8=", "hello"), ("!!timestamp 2024-01-01", "2024-01-01"),
    ],
)
def test_scalars_resolve_as_go_yaml(scalar: str, expected) -> None:
    got = value_of(scalar)
    assert got == expected
    assert type(got) is type(expected)


def test_special_floats() -> None:
    assert math.isnan(value_of(".nan"))
    assert value_of(".inf") == math.inf
    assert value_of("-.Inf") == -math.inf
    assert math.copysign(1, value_of("-0")) == -1


def test_block_and_quoted_scalars_are_strings() -> None:
    data = load_yaml("a: |\n  12\nb: >-\n  true\nc: '0440'\n", "f.yaml").data
    assert data == {"a": "12\n", "b": "true", "c": "0440"}


def test_resolve_plain_is_exposed_for_the_cli() -> None:
    assert resolve_plain("0440") == 288
    assert resolve_plain("yes") == "yes"


def test_anchors_are_copies() -> None:
    document = load_yaml("a: &x {p: [1]}\nb: *x\n", "f.yaml")
    document.data["a"]["p"].append(2)
    assert document.data["b"] == {"p": [1]}


def test_merge_keys_explicit_keys_win_wherever_they_are() -> None:
    text = (
        "x-base: &base {image: base, restart: always, labels: {a: '1'}}\n"
        "x-other: &other {image: other, user: nobody, tty: true}\n"
        "services:\n"
        "  web:\n"
        "    image: mine\n"
        "    <<: [*base, *other]\n"
        "    tty: false\n"
    )
    web = load_yaml(text, "f.yaml").data["services"]["web"]
    # explicit keys beat merged ones; among merged mappings the earlier wins
    assert web == {"image": "mine", "restart": "always", "labels": {"a": "1"}, "user": "nobody", "tty": False}


def test_merge_of_merge_and_inline_mapping() -> None:
    text = "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\nd: {<<: {w: 4}}\n"
    data = load_yaml(text, "f.yaml").data
    assert data["c"] == {"x": 1, "y": 2, "z": 3}
    assert data["d"] == {"w": 4}


def test_merge_of_a_scalar_is_an_error() -> None:
    with pytest.raises(ComposeFileError, match=r"f.yaml: line 2: map merge requires map"):
        load_yaml("a: &a 1\nb: {<<: *a}\n", "f.yaml")


def test_positions_of_keys_and_items() -> None:
    text = "services:\n  web:\n    image: x\n    ports:\n      - '80'\n      - target: 81\n"
    document = load_yaml(text, "f.yaml")
    assert document.position(["services"]) == (1, 1)
    assert document.position(["services", "web", "image"]) == (3, 5)
    assert document.position(("services", "web", "ports", 0)) == (5, 9)
    assert document.position(["services", "web", "ports", 1, "target"]) == (6, 9)
    assert document.position(["services", "db"]) is None
    assert document.nearest_position(["services", "web", "ports", 7, "x"]) == (4, 5)


def test_positions_of_merged_keys_point_at_their_source() -> None:
    text = "x: &x\n  user: nobody\n  tty: true\nweb:\n  <<: *x\n  tty: false\n"
    document = load_yaml(text, "f.yaml")
    assert document.position(["web", "user"]) == (2, 3)
    assert document.position(["web", "tty"]) == (6, 3)


def test_reset_and_override_tags_are_recorded() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    ports: !reset []\n"
        "    command: !reset null\n"
        "    environment: !override\n"
        "      A: '1'\n"
        "    volumes:\n"
        "      - a:/a\n"
        "      - !reset b:/b\n"
    )
    document = load_yaml(text, "f.yaml")
    assert document.data == {"services": {"web": {"environment": {"A": "1"}, "volumes": ["a:/a"]}}}
    assert document.resets == [("services", "web", "ports"), ("services", "web", "command"),
                               ("services", "web", "volumes", 1)]
    assert document.overrides == [("services", "web", "environment")]
    assert document.position(["services", "web", "ports"]) is None


def test_empty_file_and_comments_only() -> None:
    assert load_yaml("", "f.yaml").data is None
    assert load_yaml("# nothing\n", "f.yaml").data is None
    assert load_yaml("---\n", "f.yaml").data is None


def test_bytes_with_and_without_bom() -> None:
    assert load_yaml(b"\xef\xbb\xbfa: \xc3\xa9\n", "f.yaml").data == {"a": "é"}
    assert load_yaml("a: b\n".encode("utf-16"), "f.yaml").data == {"a": "b"}
    assert load_yaml("\ufeffa: b\n", "f.yaml").data == {"a": "b"}


def test_format_path() -> None:
    assert format_path(["services", "web", "ports", 0, "target"]) == "services.web.ports[0].target"
    assert format_path([]) == ""


def test_loading_twice_gives_independent_data() -> None:
    text = "a: {b: [1]}\n"
    first = load_yaml(text, "same.yaml")
    first.data["a"]["b"].append(2)
    assert load_yaml(text, "same.yaml").data == {"a": {"b": [1]}}


def test_twenty_services_file() -> None:
    with open(os.path.join(DATA, "twenty.yaml"), "rb") as file:
        document = load_yaml(file.read(), "twenty.yaml")
    services = document.data["services"]
    assert len(services) == 20
    assert services["svc05"]["restart"] == "unless-stopped"
    assert services["svc05"]["healthcheck"]["retries"] == 3


# --- one clear error for each kind of bad or hostile input ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", r'f.yaml: line 3: mapping key "a" already defined at line 1'),
        ("s:\n  web:\n    image: x\n    image: y\n", r'line 4: mapping key "image" already defined at line 3'),
        ("a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n", r'line 4: mapping key "<<" already defined at line 3'),
        ("b:\n  <<: !!python/object:os.system {x: 1}\n", r"line 2: unknown tag !!python/object:os.system"),
        ("a: !!python/object:os.system {}\n", r"line 1: unknown tag !!python/object:os.system"),
        ("a: !!python/object/apply:os.system [ls]\n", r"line 1: unknown tag !!python/object/apply:os.system"),
        ("a: !!python/name:os.system\n", r"unknown tag !!python/name:os.system"),
        ("a: !Ref x\n", r"unknown tag !Ref"),
        ("a: !!set {x}\n", r"unknown tag !!set"),
        ("a: !!str {x: 1}\n", r"cannot use tag !!str on a mapping"),
        ("a: !!map [1]\n", r"cannot use tag !!map on a sequence"),
        ("a: !!int x\n", r"cannot construct 'x' as a !!int"),
        ("a: !!binary '%%%'\n", r"!!binary value is not base64"),
        ("a: *nope\n", r"line 1: unknown anchor 'nope' referenced"),
        ("a: &x [1, *x]\n", r"line 1: anchor 'x' value contains itself"),
        ("a: 1\n---\nb: 2\n", r"line 2: several YAML documents in one file"),
        ("1: x\n", r"line 1: non-string key at top level: 1"),
        ("s:\n  e:\n    true: x\n", r"line 3: non-string key in s.e: true"),
        ("s: {[a]: 1}\n", r"non-string key in s: seq"),
        ("a: b: c\n", r"line 1, column 5: mapping values are not allowed here"),
        ("a: [1, 2\n", r"line 2, column 1: .*flow sequence"),
        ("\t- a\n", r"line 1, column 1: found character '\\t' that cannot start any token"),
        ("a: 'x\n", r"line 2, column 1: found unexpected end of stream"),
        ("x: " + "[" * 5000, rf"line 1: nested deeper than {yamlfile.MAX_DEPTH} levels"),
        ("".join("  " * i + f"k{i}:\n" for i in range(yamlfile.MAX_DEPTH + 5)), r"nested deeper than"),
    ],
)
def test_bad_yaml_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ComposeFileError, match=message) as caught:
        load_yaml(text, "f.yaml")
    assert str(caught.value).startswith("failed to parse f.yaml: line ")
    assert "\n" not in str(caught.value)


def test_not_utf8() -> None:
    with pytest.raises(ComposeFileError, match=r"f.yaml: line 2: invalid UTF-8 \(byte 0xff\)"):
        load_yaml(b"a: 1\nb: \xff\n", "f.yaml")


def test_control_characters() -> None:
    with pytest.raises(ComposeFileError, match=r"^failed to parse f.yaml: line 2: control character U\+0007 is not "
                                               r"allowed$"):
        load_yaml("a: 1\nb: x\x07y\n", "f.yaml")
    with pytest.raises(ComposeFileError, match=r"line 1: control character U\+0000"):
        load_yaml(b"a: \x00\n", "f.yaml")
    assert load_yaml("a: \"tab\there \u00e9 \U0001f600\"\r\n", "f.yaml").data == {"a": "tab\there é \U0001f600"}


def test_mutated_files_give_compose_file_errors_only() -> None:
    """Random damage to a valid file: the loader, interpolation and the schema raise ComposeFileError, one line,
    and nothing else."""
    from moor.compose.loader.interpolation import interpolate
    from moor.compose.loader.schema import validate

    with open(os.path.join(DATA, "everything.yaml"), "rb") as file:
        base = file.read()
    tokens = [b"&a ", b"*a", b"<<: ", b"!!python/object ", b"!reset ", b"{", b"}", b"[", b"]", b"- ", b": ", b"\t",
              b"\n", b"'", b'"', b"\xff", b"---\n", b"? ", b"|", b"%YAML 1.1\n", b"${", b"$$", b"#", b"~", b"&b "]
    rng = random.Random(16)
    for _ in range(60):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position:position] = rng.choice(tokens)
            elif choice < 0.7:
                del data[position : position + rng.randint(1, 20)]
            else:
                data[position] = rng.randrange(256)
        try:
            document = load_yaml(bytes(data), "f.yaml")
            if isinstance(document.data, dict):
                validate(interpolate(document.data, {}.get, document=document), document)
        except ComposeFileError as error:
            assert "\n" not in str(error)


def test_billion_laughs_is_refused() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    with pytest.raises(ComposeFileError, match=r"aliases expand to more than \d+ nodes"):
        load_yaml(text, "f.yaml")


def test_merge_bomb_is_refused() -> None:
    text = "a0: &a0 {k: v}\n"
    for index in range(1, 40):
        text += f"a{index}: &a{index} {{<<: [*a{index - 1}], x{index}: [*a{index - 1}, *a{index - 1}]}}\n"
    with pytest.raises(ComposeFileError, match=r"aliases expand to more than"):
        load_yaml(text, "f.yaml")


def test_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlfile, "MAX_SIZE", 100)
    with pytest.raises(ComposeFileError, match=r"failed to parse f.yaml: larger than"):
        load_yaml("a: " + "x" * 200, "f.yaml")
    with pytest.raises(ComposeFileError, match=r"failed to parse f.yaml: larger than"):
        load_yaml(b"a: " + b"x" * 1000, "f.yaml")


def test_threads_load_at_the_same_time() -> None:
    texts = [f"services:\n  s{index}:\n    image: i{index}\n    ports: ['{index}']\n" * 1 for index in range(16)]
    results: dict[int, object] = {}

    def load(index: int) -> None:
        for _ in range(5):
            results[index] = load_yaml(texts[index] + f"x-n: {index}\n", f"f{index}.yaml").data

    threads = [threading.Thread(target=load, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(16):
        assert results[index] == {"services": {f"s{index}": {"image": f"i{index}", "ports": [str(index)]}},
                                  "x-n": index}


def test_empty_documents_around_the_one_document_are_fine() -> None:
    assert load_yaml("---\n---\na: 1\n...\n", "f.yaml").data == {"a": 1}
