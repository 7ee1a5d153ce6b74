"""``moor create IMAGE COMMAND ARGS``: flags end at the image, as docker's (``sh -c ...`` is the command's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from moor.cli.main import cli
from unit.fakedaemon import FakeDaemon, json_answer


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(str(tmp_path)) as daemon:
        yield daemon


def test_the_commands_flags_are_its_own(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/containers/create", json_answer({"Id": "d" * 64}, 201))
    result = CliRunner().invoke(cli, ["-H", fake.host, "create", "-i", "busybox", "sh", "-c", "echo hi"],
                                env={"DOCKER_CONFIG": str(tmp_path / "cfg"), "DOCKER_DEFAULT_PLATFORM": None})
    assert (result.exit_code, result.stdout) == (0, "d" * 64 + "\n"), result.stderr
    body = fake.calls("POST", "/containers/create")[-1].json()
    assert body["Cmd"] == ["sh", "-c", "echo hi"] and body["OpenStdin"] is True
