"""The TOML config: defaults, every key's validation, and the default file."""

from __future__ import annotations

import tomllib

import pytest

from moor import config
from moor.errors import ConfigError


def test_empty_file_gives_documented_defaults() -> None:
    parsed = config.parse({})
    assert parsed.data_root == "/var/lib/moor"
    assert parsed.exec_root == "/run/moor"
    assert parsed.hosts == ["unix:///run/moor/moor.sock"]
    assert parsed.drivers["storage"].driver == "overlay"
    assert parsed.drivers["network"].enabled() == ["bridge", "host", "none"]
    assert parsed.drivers["volume"].driver == "local"
    assert parsed.drivers["log"].enabled() == ["json-file", "none"]
    assert parsed.runtime.path == "runc"


def test_default_file_parses_to_the_defaults() -> None:
    parsed = config.parse(tomllib.loads(config.DEFAULT_FILE_TEXT))
    assert parsed == config.parse({}, source="")
    assert config.DEFAULT_FILE_TEXT.count("#") > 10


def test_driver_choice_and_options() -> None:
    parsed = config.parse({"log": {"driver": "none", "json-file": {"max-size": "1m"}}})
    assert parsed.drivers["log"].driver == "none"
    assert parsed.drivers["log"].enabled() == ["none", "json-file"]
    assert parsed.drivers["log"].options == {"json-file": {"max-size": "1m"}}


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"data_rot": "/x"}, "'data_rot'"),
        ({"data_root": 3}, "data_root must be a string"),
        ({"data_root": "relative"}, "data_root must be an absolute path"),
        ({"hosts": "unix:///x"}, "hosts must be a list"),
        ({"hosts": [1]}, "hosts must be a list of strings"),
        ({"version": 2}, "unsupported version 2"),
        ({"version": "1"}, "version must be an integer"),
        ({"debug": "yes"}, "debug must be a boolean"),
        ({"storage": "overlay"}, "storage must be a table"),
        ({"storage": {"drivr": "overlay"}}, "'storage.drivr'"),
        ({"log": {"driver": 5}}, "log.driver must be a string"),
        ({"log": {"driver": ""}}, "log.driver must not be empty"),
        ({"network": {"drivers": "bridge"}}, "network.drivers must be a list"),
        ({"runtime": {"binary": "crun"}}, "'runtime.binary'"),
    ],
)
def test_bad_config_names_the_key(document: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(document)
    assert named in str(caught.value)


def test_missing_explicit_file_is_an_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config.load(str(tmp_path / "absent.toml"))


def test_missing_default_file_gives_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(config, "DEFAULT_CONFIG_FILE", str(tmp_path / "absent.toml"))
    assert config.load(None).data_root == "/var/lib/moor"


def test_malformed_toml_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "moor.toml"
    path.write_text("version = = 1\n")
    with pytest.raises(ConfigError, match="invalid config file"):
        config.load(str(path))
