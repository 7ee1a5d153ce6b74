"""Go's encodings that Docker's history texts and image configs are made of, and the build cache key."""

from __future__ import annotations

import json

import pytest

from moor.build import history as h


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (0, "0s"), (1, "1ns"), (1_500, "1.5\u00b5s"), (1_500_000, "1.5ms"), (1_000_000_000, "1s"),
    (1_500_000_000, "1.5s"), (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"),
    (7_200_000_000_000, "2h0m0s"), (3_661_000_000_001, "1h1m1.000000001s"), (-5_000_000_000, "-5s"),
])
def test_go_duration(nanoseconds: int, text: str) -> None:
    assert h.go_duration(nanoseconds) == text


@pytest.mark.parametrize(("value", "text"), [
    ("plain", '"plain"'), ('a "q" \\', r'"a \"q\" \\"'), ("tab\tnl\n", r'"tab\tnl\n"'), ("\x01\x7f", r'"\x01\x7f"'),
    ("ünï <&>", '"ünï <&>"'), ("\u2028", r'"\u2028"'),
])
def test_go_quote(value: str, text: str) -> None:
    assert h.go_quote(value) == text


@pytest.mark.parametrize(("value", "text"), [(0, r"'\x00'"), (4, r"'\x04'"), (10, r"'\n'"), (65, "'A'"),
                                             (39, r"'\''"), (7, r"'\a'")])
def test_go_quote_rune(value: int, text: str) -> None:
    assert h.go_quote_rune(value) == text


def test_healthcheck_text() -> None:
    assert h.healthcheck_text({"Test": ["CMD-SHELL", "x"], "Interval": 5_000_000_000, "Retries": 65}) == \
        '&{["CMD-SHELL" "x"] "5s" "0s" "0s" \'A\'}'
    assert h.healthcheck_text({"Test": ["NONE"]}) == '&{["NONE"] "0s" "0s" "0s" \'\\x00\'}'


def test_the_config_is_written_in_go_order_with_go_omissions() -> None:
    data = h.new_image_config(None, {"Labels": {"b": "1", "a": "<2>"}, "Cmd": ["x"], "Shell": [], "StopTimeout": 0,
                                     "Healthcheck": {"Test": ["NONE"], "Interval": 0}, "Unknown": 1},
                              {"Cmd": ["c"]}, "t", None)
    assert '"Labels":{"a":"\\u003c2\\u003e","b":"1"},"StopTimeout":0}' in data.decode()
    config = json.loads(data)["config"]
    assert list(config) == ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                            "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "Image", "Volumes", "WorkingDir",
                            "Entrypoint", "OnBuild", "Labels", "StopTimeout"]
    assert config["Healthcheck"] == {"Test": ["NONE"]}


def test_new_image_config_from_scratch() -> None:
    data = h.new_image_config(None, {"Env": ["A=1"]}, {"Env": ["A=1"], "Cmd": ["/bin/sh", "-c", "#(nop) ", "x"]},
                              "2026-01-02T03:04:05.5Z", None, host_arch="arm64")
    config = json.loads(data)
    assert list(config) == ["architecture", "config", "container_config", "created", "docker_version", "history",
                            "os", "rootfs"]
    assert config["architecture"] == "arm64"
    assert config["rootfs"] == {"type": "layers"}
    assert config["history"] == [{"created": "2026-01-02T03:04:05.5Z", "created_by": "/bin/sh -c #(nop)  x",
                                  "empty_layer": True}]
    assert config["docker_version"] == h.DOCKER_VERSION


def test_new_image_config_keeps_the_parent_platform_and_layers() -> None:
    parent = {"architecture": "arm", "variant": "v7", "os": "linux", "os.version": "1",
              "rootfs": {"type": "layers", "diff_ids": ["sha256:a"]},
              "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "x", "extra": 1, "empty_layer": False}]}
    config = json.loads(h.new_image_config(parent, {"Image": "sha256:p"}, {"Cmd": ["run"], "Image": "sha256:p"},
                                           "2021-01-01T00:00:00.5Z", "sha256:b", author="me", container="c" * 64))
    assert (config["architecture"], config["variant"], config["os.version"]) == ("arm", "v7", "1")
    assert config["rootfs"]["diff_ids"] == ["sha256:a", "sha256:b"]
    assert config["history"] == [{"created": "2020-01-01T00:00:00Z", "created_by": "x"},
                                 {"created": "2021-01-01T00:00:00.5Z", "author": "me", "created_by": "run"}]
    assert config["config"]["Image"] == config["container_config"]["Image"] == "sha256:p"
    assert (config["author"], config["container"]) == ("me", "c" * 64)


def test_cache_key() -> None:
    key = h.cache_key("sha256:p", "/bin/sh -c true", {"Env": ["A=1"], "Image": "sha256:p", "Hostname": "abc"})
    assert key.startswith("sha256:") and len(key) == 71
    assert key == h.cache_key("sha256:p", "/bin/sh -c true", {"Env": ["A=1"]})
    assert key != h.cache_key("sha256:q", "/bin/sh -c true", {"Env": ["A=1"]})
    assert key != h.cache_key("sha256:p", "/bin/sh -c false", {"Env": ["A=1"]})
    assert key != h.cache_key("sha256:p", "/bin/sh -c true", {"Env": ["A=2"]})
    assert key != h.cache_key("sha256:p", "/bin/sh -c true", {"Env": ["A=1"]}, ["mount"])


@pytest.mark.parametrize(("stamp", "written"), [
    ("2023-01-01T00:00:00.000000000Z", "2023-01-01T00:00:00Z"),
    ("2023-01-01T00:00:00.120Z", "2023-01-01T00:00:00.12Z"),
    ("2023-01-01T00:00:00.123456789123Z", "2023-01-01T00:00:00.123456789Z"),
    ("2023-01-01T02:00:00.5+02:00", "2023-01-01T02:00:00.5+02:00"),
    ("2023-01-01T02:00:00+00:00", "2023-01-01T02:00:00Z"),
])
def test_parent_history_times_as_go_writes_them_back(stamp: str, written: str) -> None:
    config = json.loads(h.new_image_config({"history": [{"created": stamp}]}, {}, {"Cmd": ["x"]}, "t", None))
    assert config["history"][0] == {"created": written}
