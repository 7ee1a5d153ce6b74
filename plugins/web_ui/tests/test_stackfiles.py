"""Stacks kept as files: names, saves validated before anything changes, and what the list says of each."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from moor_web_ui.stackfiles import MAX_COMPOSE_BYTES, StackError, StackStore, check_name
from moor_web_ui.stackops import LineSink, StackOperations, summary, validator

GOOD = "services:\n  web:\n    image: busybox\n    command: sleep 100\n  db:\n    image: ${DB_IMAGE}\n"


@pytest.mark.parametrize("name", ["web", "a", "my-stack_2", "0x", "a" * 63])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "..", ".env", "../etc", "a/b", "Web", "-x", "_x", "a b", "a" * 64, "é",
                                  "x\x00", ".new-abc"])
def test_names_that_are_not_project_names_are_refused(name: str) -> None:
    with pytest.raises(StackError) as caught:
        check_name(name)
    assert caught.value.status == 400
    assert "invalid stack name" in caught.value.message


def test_a_save_writes_both_files_privately(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    assert store.save("demo", GOOD, "DB_IMAGE=busybox\n", validator("demo")) is True
    directory = tmp_path / "stacks" / "demo"
    assert (directory / "compose.yaml").read_text() == GOOD
    assert (directory / ".env").read_text() == "DB_IMAGE=busybox\n"
    assert stat.S_IMODE(os.stat(directory / ".env").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert store.names() == ["demo"]
    assert store.read("demo").env == "DB_IMAGE=busybox\n"
    # saved again: the same directory, new contents, not new
    assert store.save("demo", GOOD.replace("100", "200"), "DB_IMAGE=x\n", validator("demo")) is False
    assert "sleep 200" in (directory / "compose.yaml").read_text()
    assert [entry.name for entry in (tmp_path / "stacks").iterdir()] == ["demo"]  # no staging left behind


def test_a_file_the_loader_refuses_is_not_saved_and_the_message_names_file_and_line(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    store.save("demo", GOOD, "DB_IMAGE=busybox\n", validator("demo"))
    with pytest.raises(StackError) as caught:
        store.save("demo", "services:\n  web:\n    imgae: busybox\n", "", validator("demo"))
    assert caught.value.status == 400
    assert caught.value.message == "validating compose.yaml: services.web additional properties 'imgae' not " \
                                   "allowed (line 3)"
    assert store.read("demo").compose == GOOD  # the stored stack is untouched
    assert [entry.name for entry in (tmp_path / "stacks").iterdir()] == ["demo"]


def test_interpolation_uses_the_env_file_not_the_ui_process_environment(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_IMAGE", "from-the-process")
    store = StackStore(tmp_path / "stacks")
    text = "services:\n  db:\n    image: ${DB_IMAGE:?set DB_IMAGE in .env}\n"
    with pytest.raises(StackError) as caught:
        store.save("demo", text, "", validator("demo"))
    assert "required variable DB_IMAGE is missing a value: set DB_IMAGE in .env (compose.yaml, line 3)" \
        in caught.value.message
    assert not store.exists("demo")
    store.save("demo", text, "DB_IMAGE=busybox:1\n", validator("demo"))
    project = StackOperations(store, client=None).project("demo")  # type: ignore[arg-type]
    assert project.services["db"]["image"] == "busybox:1"
    assert project.name == "demo"  # the stack's name wins over a name: in the file
    assert project.working_dir == str(tmp_path / "stacks" / "demo")


def test_the_stack_name_overrides_the_file_name_key(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    store.save("demo", "name: other\n" + GOOD, "DB_IMAGE=b\n", validator("demo"))
    assert StackOperations(store, client=None).project("demo").name == "demo"  # type: ignore[arg-type]


@pytest.mark.parametrize(("compose", "env", "message"), [
    (None, "", '"compose" must be a string'),
    (["services"], "", '"compose" must be a string'),
    ("services: {}\n", 5, '"env" must be a string'),
    ("  \n", "", "the compose file is empty"),
    ("x" * (MAX_COMPOSE_BYTES + 1), "", "the compose file is larger than 1024 KiB"),
    ("services:\n  a:\n    image: b\x00\n", "", "the compose file contains a NUL character"),
    ("services:\n  a:\n    image: \udc80\n", "", "the compose file is not valid Unicode text"),
])
def test_bad_contents_are_refused_before_anything_is_written(tmp_path: Path, compose: object, env: object,
                                                             message: str) -> None:
    store = StackStore(tmp_path / "stacks")
    with pytest.raises(StackError) as caught:
        store.save("demo", compose, env, validator("demo"))
    assert (caught.value.status, caught.value.message) == (400, message)
    assert store.names() == []


def test_read_and_remove(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    with pytest.raises(StackError) as caught:
        store.read("nope")
    assert caught.value.status == 404
    assert store.remove("nope") is False
    store.save("demo", GOOD, "DB_IMAGE=b\n")
    assert store.remove("demo") is True
    assert not (tmp_path / "stacks" / "demo").exists()


def test_names_skip_what_is_not_a_stack(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    store.save("real", GOOD, "")
    (tmp_path / "stacks" / "empty").mkdir()
    (tmp_path / "stacks" / ".new-x").mkdir()
    (tmp_path / "stacks" / ".new-x" / "compose.yaml").write_text(GOOD)
    (tmp_path / "stacks" / "Upper").mkdir()
    (tmp_path / "stacks" / "Upper" / "compose.yaml").write_text(GOOD)
    (tmp_path / "stacks" / "link").symlink_to(tmp_path / "stacks" / "real")
    assert store.names() == ["real"]


def _container(service: str, state: str, oneoff: bool = False) -> dict[str, object]:
    return {"Id": service + state, "Names": [f"/p-{service}-1"], "State": state, "Status": state,
            "Labels": {"com.docker.compose.project": "p", "com.docker.compose.service": service,
                       "com.docker.compose.oneoff": "True" if oneoff else "False"}}


@pytest.mark.parametrize(("containers", "status", "running"), [
    ([], "not deployed", 0),
    ([_container("web", "exited"), _container("db", "created")], "stopped", 0),
    ([_container("web", "running"), _container("db", "exited")], "partial", 1),
    ([_container("web", "running"), _container("db", "running")], "running", 2),
    ([_container("web", "running")], "partial", 1),  # db has no container at all
    ([_container("web", "exited"), _container("web", "running", oneoff=True)], "stopped", 0),
])
def test_the_status_of_a_stack(containers: list[dict[str, object]], status: str, running: int) -> None:
    entry = summary("p", ["web", "db"], containers)
    assert (entry["status"], entry["services"], entry["running"]) == (status, 2, running)


def test_a_line_sink_hands_over_complete_lines() -> None:
    lines: list[str] = []
    sink = LineSink(lines.append)
    sink.write(" Container a  Crea")
    assert lines == []
    sink.write("ted\n Container b  Started\r\nrest")
    assert lines == [" Container a  Created", " Container b  Started"]
    sink.close()
    assert lines[-1] == "rest"


class _NoContainers:
    """A client for a moord that runs nothing: every list is empty."""

    def call(self, method: str, path: str, params: object = None, body: object = None,
             headers: object = None) -> list[object]:
        return []


def test_a_stack_broken_by_hand_on_disk_is_listed_with_the_loader_message(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "stacks")
    store.save("fine", GOOD, "DB_IMAGE=b\n", validator("fine"))
    store.save("hand", GOOD, "DB_IMAGE=b\n", validator("hand"))
    (tmp_path / "stacks" / "hand" / "compose.yaml").write_text("services:\n  web:\n    image: [\n")
    listed = StackOperations(store, _NoContainers()).summaries()  # type: ignore[arg-type]
    assert [entry["name"] for entry in listed] == ["fine", "hand"]
    assert listed[0] == {"name": "fine", "status": "not deployed", "services": 2, "running": 0, "external": False}
    assert listed[1]["error"].startswith("failed to parse compose.yaml: line 4")
    assert listed[1]["services"] == 0
