"""Kill, commit, diff and exec as Docker 20.10 does them (issue 15), through docker-py as its own suite uses them.

Each expectation was checked against a private dockerd 20.10 doing the same.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from e2e.containerhelpers import moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture
def client(moord: DaemonProcess) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=moord.host, version="1.41", timeout=60)
    made: list[str] = []
    client.made = made  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        for ident in made:
            try:
                client.api.remove_container(ident, force=True)
            except docker.errors.NotFound:
                pass
        client.close()


def _sleeper(client: docker.DockerClient, name: str) -> docker.models.containers.Container:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name)
    client.made.append(container.id)  # type: ignore[attr-defined]
    return container


@pytest.mark.parametrize("signal", [None, "SIGKILL", "KILL", 9])
def test_kill_returns_once_the_container_exited_137(client: docker.DockerClient, signal: str | int | None) -> None:
    container = _sleeper(client, f"killed-{str(signal).lower()}")
    container.kill(**({"signal": signal} if signal is not None else {}))
    container.reload()  # no wait: as Docker, kill returns once the exit is recorded
    assert (container.status, container.attrs["State"]["ExitCode"]) == ("exited", 137)


def test_commit_with_pause_of_a_container_just_killed_or_exited(client: docker.DockerClient) -> None:
    container = _sleeper(client, "commit-killed")
    client.api.kill(container.id)
    assert client.api.commit(container.id, repository="killed", tag="c", pause=True)["Id"].startswith("sha256:")
    done = client.containers.run("busybox", ["touch", "/x"], detach=True, name="commit-exited")
    client.made.append(done.id)  # type: ignore[attr-defined]
    done.wait()
    assert done.commit("exited", "c", pause=True).id.startswith("sha256:")
    client.images.remove("killed:c")
    client.images.remove("exited:c")


def test_diff_lists_only_what_the_container_wrote(client: docker.DockerClient) -> None:
    container = client.containers.run("busybox", ["touch", "/test"], detach=True, name="differ")
    client.made.append(container.id)  # type: ignore[attr-defined]
    container.wait()
    assert container.diff() == [{"Path": "/test", "Kind": 1}]


def test_exec_ids_list_the_execs_not_ended(client: docker.DockerClient) -> None:
    container = _sleeper(client, "exec-ids")
    assert container.attrs["ExecIDs"] is None
    created = client.api.exec_create(container.id, ["true"])["Id"]
    running = client.api.exec_create(container.id, ["sleep", "300"])["Id"]
    client.api.exec_start(running, detach=True)
    container.reload()
    assert sorted(container.attrs["ExecIDs"]) == sorted([created, running])
    client.api.exec_start(created)
    container.reload()
    assert container.attrs["ExecIDs"] == [running]
    client.api.exec_create(container.id, ["true"])  # never started: gone with this run
    container.restart(timeout=0)  # as Docker: a stopped container has none, its next run none of the last
    container.reload()
    assert container.attrs["ExecIDs"] is None


def test_exec_tty_line_ends_and_detached_exec(client: docker.DockerClient) -> None:
    container = _sleeper(client, "exec-tty")
    assert container.exec_run(["sh", "-c", "echo a; echo b"], tty=True) == (0, b"a\r\nb\r\n")
    assert container.exec_run(["sh", "-c", "echo a; echo b"]) == (0, b"a\nb\n")
    assert not container.exec_run(["sh", "-c", "echo c > /c"], detach=True).output
    exec_id = client.api.exec_create(container.id, ["sh", "-c", "echo d > /d"], tty=True)["Id"]
    assert not client.api.exec_start(exec_id, detach=True)
    for _ in range(100):
        if container.exec_run(["cat", "/c", "/d"]).output == b"c\nd\n":
            break
    assert container.exec_run(["cat", "/c", "/d"]) == (0, b"c\nd\n")


def test_invalid_detach_keys_are_refused(client: docker.DockerClient) -> None:
    container = _sleeper(client, "exec-keys")
    with pytest.raises(docker.errors.APIError) as refused:
        client.api.exec_create(container.id, ["true"], detach_keys="foo")
    assert refused.value.response.status_code == 400  # Docker 20.10: a 500 with the same message
    assert refused.value.explanation == "Invalid escape keys (foo) provided"


def test_an_exec_ends_cleanly_though_the_client_sent_unread_input(client: docker.DockerClient) -> None:
    container = _sleeper(client, "exec-unread")
    exec_id = client.api.exec_create(container.id, ["echo", "out"])["Id"]  # no stdin: nothing reads what comes
    raw = client.api.exec_start(exec_id, socket=True)._sock
    try:
        raw.sendall(b"unread input\n")
        raw.settimeout(30)
        received = b""
        while chunk := raw.recv(4096):  # a reset (the docker CLI's "connection reset by peer") raises here
            received += chunk
        assert received == b"\x01\x00\x00\x00\x00\x00\x00\x04out\n"
    finally:
        raw.close()


def test_a_hijacked_attach_takes_stdin(client: docker.DockerClient) -> None:
    made = client.api.create_container("busybox", ["cat"], stdin_open=True, name="attach-stdin")
    client.made.append(made["Id"])  # type: ignore[attr-defined]
    sock = client.api.attach_socket(made["Id"], params={"stdin": 1, "stdout": 1, "stream": 1})
    raw = sock._sock
    try:
        client.api.start(made["Id"])
        raw.sendall(b"hello\n")
        raw.settimeout(30)
        assert raw.recv(100) == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
    finally:
        raw.close()


def test_attach_refuses_invalid_detach_keys_in_docker_words(client: docker.DockerClient) -> None:
    container = _sleeper(client, "attach-keys")
    with pytest.raises(docker.errors.APIError) as refused:
        client.api.attach_socket(container.id, params={"stdin": 1, "stream": 1, "detachKeys": "foo"})
    assert refused.value.response.status_code == 400
    assert "Invalid detach keys (foo) provided" in str(refused.value)


def test_exec_tty_ends_with_its_command_though_a_child_holds_the_terminal(client: docker.DockerClient) -> None:
    container = _sleeper(client, "exec-bg")
    assert container.exec_run(["sh", "-c", "sleep 300 & echo bg"], tty=True) == (0, b"bg\r\n")


def test_exec_terminal_is_the_creates_and_the_stream_shape_the_starts(client: docker.DockerClient) -> None:
    made = client.api.create_container("busybox", "cat", detach=True, stdin_open=True, name="exec-shape")
    client.made.append(made["Id"])  # type: ignore[attr-defined]
    client.api.start(made["Id"])
    command = 'sh -c "echo hello out; echo hello err >&2"'
    pty = client.api.exec_create(made["Id"], command, tty=True)["Id"]
    assert client.api.exec_start(pty) == b"hello out\r\nhello err\r\n"  # framed stdout, read as such
    assert client.api.exec_start(client.api.exec_create(made["Id"], command, tty=True)["Id"], demux=True) == (
        b"hello out\r\nhello err\r\n", None)
    plain = client.api.exec_create(made["Id"], command)["Id"]
    assert client.api.exec_start(plain, tty=True) == b"hello out\n"  # unframed; Docker drops stderr there
