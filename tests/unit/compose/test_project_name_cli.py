"""Which project a command works on, through click's CliRunner: without a compose file, ``-p`` or
``COMPOSE_PROJECT_NAME``, every command fails as compose v2 does (``no configuration file provided: not
found``, exit 14) instead of taking the directory's name; with ``-p`` the commands that need no file go on (to
the daemon, absent here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from moor.cli.main import cli

#: a daemon that is not there: a command that gets as far as the engine fails to connect
NOWHERE = "unix:///nonexistent/moord.sock"

COMMANDS = [["ps"], ["down"], ["stop"], ["rm", "-f"], ["logs"], ["top"], ["port", "web", "80"],
            ["exec", "-T", "web", "true"], ["images"], ["kill"], ["restart"], ["wait", "web"],
            ["start"], ["pause"], ["unpause"]]


def compose(*args: str, env: dict[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"COMPOSE_FILE": None, "COMPOSE_PROJECT_NAME": None, "COMPOSE_ENV_FILES": None,
                                   "COMPOSE_PROFILES": None}
    return CliRunner().invoke(cli, ["-H", NOWHERE, "compose", *args], prog_name="moor", env={**base, **(env or {})})


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "nothing here"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_file_and_no_name_is_an_error(empty_dir: Path, command: list[str]) -> None:
    result = compose(*command)
    assert result.exit_code == 14, result.output
    assert result.output.strip().splitlines()[-1] == "no configuration file provided: not found"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_name_given_needs_no_file(empty_dir: Path, command: list[str]) -> None:
    for result in (compose("-p", "given", *command), compose(*command, env={"COMPOSE_PROJECT_NAME": "given"})):
        assert result.exit_code == 1, result.output
        assert "Cannot connect to the moor daemon" in result.output
        assert "no configuration file" not in result.output
