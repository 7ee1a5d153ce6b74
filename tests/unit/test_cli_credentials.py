"""~/.docker/config.json as the docker CLI reads and writes it, and the docker-credential-* helper protocol."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from moor.dockerconfig import (
    INDEX_SERVER,
    ConfigFile,
    CredentialsError,
    auth_key,
    convert_to_hostname,
    encode_auth_header,
    resolve_auth,
)

#: a docker-credential-* helper keeping its secrets in $HELPER_DB (a JSON file), as the real ones answer
HELPER = Path(__file__).parent.parent / "fixtures" / "credential-helper" / "docker-credential-moortest"


def install_helper(bin_dir: Path, name: str) -> None:
    """The test helper as ``bin_dir/docker-credential-NAME``, run by this Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / f"docker-credential-{name}"
    program.write_text(f"#!{sys.executable}\n" + HELPER.read_text().split("\n", 1)[1])
    program.chmod(0o755)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    return directory


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docker-credential-fake on $PATH; returns its database file."""
    install_helper(tmp_path / "bin", "fake")
    db = tmp_path / "helper.json"
    monkeypatch.setenv("HELPER_DB", str(db))
    return db


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_login_is_written_as_the_docker_cli_writes_it(config_dir: Path) -> None:
    config = ConfigFile.load()
    config.store_for("127.0.0.1:5000").store({"username": "me", "password": "s3cret",
                                              "serveraddress": "127.0.0.1:5000"})
    config.store_for(INDEX_SERVER).store({"username": "hub", "password": "pw", "serveraddress": INDEX_SERVER})
    path = config_dir / "config.json"
    assert path.read_text() == (
        '{\n\t"auths": {\n'
        f'\t\t"127.0.0.1:5000": {{\n\t\t\t"auth": "{_basic("me", "s3cret")}"\n\t\t}},\n'
        f'\t\t"https://index.docker.io/v1/": {{\n\t\t\t"auth": "{_basic("hub", "pw")}"\n\t\t}}\n'
        "\t}\n}"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert sorted(os.listdir(config_dir)) == ["config.json"]  # no temp file left
    again = ConfigFile.load()
    assert again.get_auth("127.0.0.1:5000") == {"username": "me", "password": "s3cret",
                                                "serveraddress": "127.0.0.1:5000"}


def test_other_keys_and_the_files_mode_are_kept(config_dir: Path) -> None:
    config_dir.mkdir()
    path = config_dir / "config.json"
    path.write_text(json.dumps({"psFormat": "table {{.ID}}", "auths": {"old:1": {"auth": _basic("a", "b")}},
                                "plugins": {"x": {"y": "z"}}, "future": [1, "<&>"]}))
    path.chmod(0o640)
    config = ConfigFile.load()
    config.store_for("new:2").store({"username": "u", "password": "p", "serveraddress": "new:2"})
    data = json.loads(path.read_text())
    assert list(data) == ["auths", "psFormat", "plugins", "future"]  # the docker CLI's order, then the rest
    assert data["future"] == [1, "<&>"] and "\\u003c\\u0026\\u003e" in path.read_text()  # Go's escaping
    assert data["auths"] == {"new:2": {"auth": _basic("u", "p")}, "old:1": {"auth": _basic("a", "b")}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_symlinked_file_is_written_through_the_link(config_dir: Path, tmp_path: Path) -> None:
    config_dir.mkdir()
    real = tmp_path / "real.json"
    real.write_text("{}")
    (config_dir / "config.json").symlink_to(real)
    ConfigFile.load().store_for("h:1").store({"username": "u", "password": "p", "serveraddress": "h:1"})
    assert (config_dir / "config.json").is_symlink()
    assert json.loads(real.read_text())["auths"]["h:1"]["auth"] == _basic("u", "p")


def test_a_malformed_file_warns_and_is_never_overwritten(config_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config_dir.mkdir()
    path = config_dir / "config.json"
    path.write_text("{not json")
    config = ConfigFile.load()
    assert capsys.readouterr().err.startswith(f"WARNING: Error loading config file: {path}: ")
    assert config.get_auth("h:1") == {}
    with pytest.raises(CredentialsError):
        config.store_for("h:1").store({"username": "u", "password": "p", "serveraddress": "h:1"})
    assert path.read_text() == "{not json"


def test_entries_saved_with_a_scheme_are_found_by_host(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps(
        {"auths": {"https://reg.example:5000/v1/": {"auth": _basic("u", "p:with:colons"), "email": "e@x"}}}))
    auth = ConfigFile.load().get_auth("reg.example:5000")
    assert auth == {"username": "u", "password": "p:with:colons", "email": "e@x",
                    "serveraddress": "https://reg.example:5000/v1/"}
    assert resolve_auth("unknown:1") == {}


def test_registry_auth_header_is_base64url_of_gos_json() -> None:
    header = encode_auth_header({"serveraddress": "h:1", "password": "p?>", "username": "u"})
    assert header == base64.urlsafe_b64encode(
        b'{"username":"u","password":"p?\\u003e","serveraddress":"h:1"}').decode()
    assert encode_auth_header({}) == "e30="


def test_keys_and_hostnames() -> None:
    assert auth_key("docker.io") == INDEX_SERVER and auth_key("127.0.0.1:5000") == "127.0.0.1:5000"
    assert convert_to_hostname("https://h:5000/v2/") == "h:5000" and convert_to_hostname("h") == "h"


def test_creds_store_keeps_secrets_in_the_helper(config_dir: Path, helper: Path) -> None:
    config_dir.mkdir()
    path = config_dir / "config.json"
    path.write_text(json.dumps({"credsStore": "fake"}))
    config = ConfigFile.load()
    store = config.store_for("h:1")
    assert not store.is_file_store
    store.store({"username": "u", "password": "pw", "serveraddress": "h:1"})
    assert json.loads(helper.read_text()) == {"h:1": ["u", "pw"]}
    assert json.loads(path.read_text()) == {"credsStore": "fake", "auths": {"h:1": {}}}
    assert ConfigFile.load().get_auth("h:1") == {"username": "u", "password": "pw", "serveraddress": "h:1"}
    assert ConfigFile.load().get_auth("other:2") == {}
    store.erase("h:1")
    assert json.loads(helper.read_text()) == {}
    assert json.loads(path.read_text())["auths"] == {}
    with pytest.raises(CredentialsError) as caught:
        ConfigFile.load().store_for("h:1").erase("h:1")
    assert str(caught.value) == ("error erasing credentials - err: exit status 1, "
                                 "out: `credentials not found in native keychain`")


def test_identity_tokens_go_to_the_helper_as_token_user(config_dir: Path, helper: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    ConfigFile.load().store_for("h:1").store({"username": "u", "identitytoken": "tok", "serveraddress": "h:1"})
    assert json.loads(helper.read_text()) == {"h:1": ["<token>", "tok"]}
    assert ConfigFile.load().get_auth("h:1") == {"identitytoken": "tok", "serveraddress": "h:1"}
    assert ConfigFile.load().store_for("h:1").list() == {"h:1": "<token>"}


def test_cred_helpers_win_over_creds_store_for_their_registry(config_dir: Path, helper: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps(
        {"credsStore": "absent", "credHelpers": {"h:1": "fake"}}))
    config = ConfigFile.load()
    config.store_for("h:1").store({"username": "u", "password": "pw", "serveraddress": "h:1"})
    assert config.get_auth("h:1")["password"] == "pw"
    with pytest.raises(CredentialsError) as caught:
        config.get_auth("other:2")
    assert str(caught.value) == ('error getting credentials - err: exec: "docker-credential-absent": '
                                 "executable file not found in $PATH, out: ``")
    assert resolve_auth("other:2", config) == {}


def test_a_helper_on_path_is_the_default_store_when_nothing_is_configured(config_dir: Path, helper: Path,
                                                                          tmp_path: Path) -> None:
    (tmp_path / "bin" / "docker-credential-fake").rename(tmp_path / "bin" / "docker-credential-secretservice")
    config = ConfigFile.load()
    assert not config.store_for("h:1").is_file_store
    config.store_for("h:1").store({"username": "u", "password": "pw", "serveraddress": "h:1"})
    assert json.loads((config_dir / "config.json").read_text()) == {"credsStore": "secretservice",
                                                                    "auths": {"h:1": {}}}


def test_a_directory_that_cannot_be_made_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", "/proc/moor-no-such-dir")  # nobody, not even root, makes it
    with pytest.raises(CredentialsError) as caught:
        ConfigFile.load().store_for("h:1").store({"username": "u", "password": "p", "serveraddress": "h:1"})
    assert str(caught.value) == "open /proc/moor-no-such-dir: no such file or directory"


def test_a_config_that_cannot_be_read_is_left_alone(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_dir.parent.mkdir(exist_ok=True)
    config_dir.write_text("a file where the directory should be")
    config = ConfigFile.load()
    assert capsys.readouterr().err == f"WARNING: Error loading config file: {config_dir}/config.json: not a directory\n"
    with pytest.raises(CredentialsError):
        config.store_for("h:1").store({"username": "u", "password": "p", "serveraddress": "h:1"})
    assert config_dir.read_text() == "a file where the directory should be"
