"""The ``[web_ui]`` table of moor.toml."""

from __future__ import annotations

import tomllib

import pytest

from moor import config
from moor.errors import ConfigError


def test_disabled_by_default_and_in_the_default_file() -> None:
    assert config.Config().web_ui.enabled is False
    parsed = config.parse(tomllib.loads(config.DEFAULT_FILE_TEXT))
    assert parsed.web_ui == config.WebUIConfig()
    assert "[web_ui]" in config.DEFAULT_FILE_TEXT


def test_a_full_table() -> None:
    parsed = config.parse({"web_ui": {"enabled": True, "listen": "0.0.0.0:9443", "tls_cert": "/etc/c.pem",
                                      "tls_key": "/etc/k.pem", "data_dir": "/srv/ui"}})
    assert parsed.web_ui.enabled
    assert parsed.web_ui.options("/var/lib/moor") == {"listen": "0.0.0.0:9443", "tls_cert": "/etc/c.pem",
                                                      "tls_key": "/etc/k.pem", "data_dir": "/srv/ui"}


def test_the_data_dir_follows_the_data_root() -> None:
    parsed = config.parse({"data_root": "/tmp/root", "web_ui": {"enabled": True}})
    assert parsed.web_ui.options(parsed.data_root)["data_dir"] == "/tmp/root/web-ui"


@pytest.mark.parametrize(("table", "message"), [
    ({"enabled": "yes"}, "web_ui.enabled must be a boolean"),
    ({"listen": 9180}, "web_ui.listen must be a string"),
    ({"listen": "localhost"}, "web_ui.listen must be HOST:PORT"),
    ({"tls_cert": "cert.pem", "tls_key": "/k"}, "web_ui.tls_cert must be an absolute path"),
    ({"tls_cert": "/c"}, "web_ui.tls_cert and web_ui.tls_key go together"),
    ({"port": 1}, "unknown key 'web_ui.port'"),
])
def test_bad_values_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.parse({"web_ui": table})
