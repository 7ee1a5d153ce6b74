"""compose run/exec decisions without a daemon: the TTY choice, -e and --env-from-file, exec's target."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from moor.cli.compose.exec import resolve_environment
from moor.cli.compose.run import _environment, _tty_of
from moor.compose.errors import ComposeError
from moor.compose.runtime.execute import target_container


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def terminals(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_terminals(stdin: bool, stdout: bool) -> None:
        monkeypatch.setattr("sys.stdin", Terminal(stdin))
        monkeypatch.setattr("sys.stdout", Terminal(stdout))
    return set_terminals


def test_tty_follows_the_terminals_as_compose(terminals: Any) -> None:
    terminals(True, True)
    assert _tty_of(None, None, None) is True
    assert _tty_of(True, None, None) is False  # -T
    terminals(False, True)
    assert _tty_of(None, None, None) is False  # stdin piped: no TTY by default
    assert _tty_of(None, None, True) is True  # -i given: stdout decides (and run then refuses: not a TTY)
    terminals(True, False)
    assert _tty_of(None, None, None) is False  # stdout piped
    assert _tty_of(None, True, None) is True  # --tty forces one
    with pytest.raises(ComposeError, match="--tty and --no-tty can't be used together"):
        _tty_of(True, True, None)


def test_run_environment_from_flags_then_files(tmp_path: Path) -> None:
    env_file = tmp_path / "vars.env"
    env_file.write_text("A=from-file\nB=from-file\nC=${A}-x\n")
    environment = _environment(("A=flag", "FROM_PROJECT"), (str(env_file),))
    assert environment == {"A": "flag", "FROM_PROJECT": None, "B": "from-file", "C": "flag-x"}


def test_exec_environment_resolves_bare_names() -> None:
    assert resolve_environment(("A=1", "B", "MISSING"), {"B": "two"}) == ["A=1", "B=two"]


class Listing:
    """A client whose ``GET /containers/json`` answers ``items``."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.params: list[dict[str, Any]] = []

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        assert (method, path) == ("GET", "/containers/json")
        self.params.append(params or {})
        return self.items

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)


def container(number: int, oneoff: bool = False, service: str = "web") -> dict[str, Any]:
    labels = {"com.docker.compose.project": "p", "com.docker.compose.service": service,
              "com.docker.compose.oneoff": "True" if oneoff else "False"}
    if not oneoff:
        labels["com.docker.compose.container-number"] = str(number)
    return {"Id": f"id{number}{'o' if oneoff else ''}", "Names": [f"/p-{service}-{number}"], "Labels": labels,
            "State": "running"}


def test_exec_target_is_the_lowest_number_then_one_offs() -> None:
    client: Any = Listing([container(0, oneoff=True), container(3), container(2)])
    assert target_container(client, "p", "web")["Id"] == "id2"
    assert target_container(client, "p", "web", 3)["Id"] == "id3"
    with pytest.raises(ComposeError, match='service "web" is not running container #5'):
        target_container(client, "p", "web", 5)
    only_oneoff: Any = Listing([container(0, oneoff=True)])
    assert target_container(only_oneoff, "p", "web")["Id"] == "id0o"
    nothing: Any = Listing([])
    with pytest.raises(ComposeError, match='^service "web" is not running$'):
        target_container(nothing, "p", "web")
