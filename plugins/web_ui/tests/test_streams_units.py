"""The pure parts of the streams, console and actions: log frames to lines, stats figures, the recreate body,
references, uploads, console controls, SSE encoding (no moord, no root)."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import tarfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from moor_web_ui.buildform import dockerfile_tar, is_tar
from moor_web_ui.console import close_reason, resize_request
from moor_web_ui.loglines import MAX_LINE, LogLines, split_timestamp
from moor_web_ui.moord import MoordError
from moor_web_ui.pullref import given_auth, pull_params, reference_of
from moor_web_ui.recreate import create_body, kept_volumes
from moor_web_ui.sse import encode, with_keepalive
from moor_web_ui.statsview import summary
from moor_web_ui.streams import forward

STAMP = "2026-12-07T06:22:28.123456789Z"


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


# ---------------------------------------------------------------------------------------------------- logs


def test_multiplexed_frames_become_lines_of_their_stream() -> None:
    data = frame(1, f"{STAMP} out one\n{STAMP} out two\n".encode()) + frame(2, f"{STAMP} err\n".encode())
    lines = LogLines(multiplexed=True).feed(data)
    assert [line.message() for line in lines] == [
        {"stream": "stdout", "time": STAMP, "line": "out one"},
        {"stream": "stdout", "time": STAMP, "line": "out two"},
        {"stream": "stderr", "time": STAMP, "line": "err"},
    ]


def test_a_frame_split_anywhere_gives_the_same_lines() -> None:
    data = frame(1, f"{STAMP} héllo\n".encode()) + frame(2, f"{STAMP} partial ".encode()) \
        + frame(2, b"rest\n")
    whole = [line.message() for line in LogLines(multiplexed=True).feed(data)]
    for cut in range(1, len(data)):
        lines = LogLines(multiplexed=True)
        pieces = lines.feed(data[:cut]) + lines.feed(data[cut:])
        assert [line.message() for line in pieces] == whole
    assert whole[-1] == {"stream": "stderr", "time": STAMP, "line": "partial rest"}


def test_a_tty_stream_is_stdout_and_loses_its_carriage_returns() -> None:
    lines = LogLines(multiplexed=False)
    assert lines.feed(f"{STAMP} prompt$ ls\r\n{STAMP} no end".encode())[0].message() == \
        {"stream": "stdout", "time": STAMP, "line": "prompt$ ls"}
    assert [line.message() for line in lines.flush()] == [{"stream": "stdout", "time": STAMP, "line": "no end"}]


def test_a_line_without_end_is_cut_at_the_limit() -> None:
    lines = LogLines(multiplexed=False).feed(b"x" * (MAX_LINE * 2 + 5))
    assert [len(line.line) for line in lines] == [MAX_LINE, MAX_LINE]


def test_a_line_without_a_stamp_keeps_its_text() -> None:
    assert split_timestamp("hello world") == ("", "hello world")
    assert split_timestamp("2026-01-02T03:04:05+01:00 x") == ("2026-01-02T03:04:05+01:00", "x")


# --------------------------------------------------------------------------------------------------- stats


def test_stats_figures_are_the_docker_clis() -> None:
    sample = {
        "read": STAMP,
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000}, "system_cpu_usage": 20_000_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
        "memory_stats": {"usage": 10_000, "limit": 40_000, "stats": {"total_inactive_file": 2_000}},
        "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 7}, "eth1": {"rx_bytes": 5, "tx_bytes": 3}},
        "pids_stats": {"current": 4},
    }
    assert summary(sample) == {"time": STAMP, "cpu_percent": 40.0, "mem_usage": 8000, "mem_limit": 40_000,
                               "mem_percent": 20.0, "net_rx": 105, "net_tx": 10, "pids": 4}


def test_a_first_or_broken_sample_gives_zeros_not_an_error() -> None:
    figures = summary({"cpu_stats": "nonsense", "memory_stats": {"usage": True}, "networks": [1, 2]})
    assert figures == {"time": "", "cpu_percent": 0.0, "mem_usage": 0, "mem_limit": 0, "mem_percent": 0.0,
                       "net_rx": 0, "net_tx": 0, "pids": 0}


# ------------------------------------------------------------------------------------------------ recreate


IMAGE_CONFIG = {"Cmd": ["sh"], "Entrypoint": None, "Env": ["PATH=/bin", "FROM_IMAGE=1"], "WorkingDir": "",
                "Labels": {"org.image": "x"}, "ExposedPorts": {"80/tcp": {}}, "User": ""}


def container(**config: Any) -> dict[str, Any]:
    return {
        "Id": "a" * 64,
        "Config": {"Hostname": "a" * 12, "Image": "app:1", "Cmd": ["sh"], "Entrypoint": None,
                   "Env": ["PATH=/bin", "FROM_IMAGE=1", "MINE=2"], "WorkingDir": "", "User": "",
                   "Labels": {"org.image": "x", "mine": "y"}, "ExposedPorts": {"80/tcp": {}, "81/tcp": {}},
                   **config},
        "HostConfig": {"Binds": ["/srv:/srv"], "RestartPolicy": {"Name": "always"}, "NetworkMode": "net1"},
        "Mounts": [{"Type": "volume", "Name": "b" * 64, "Destination": "/data", "RW": True},
                   {"Type": "volume", "Name": "named", "Destination": "/named", "RW": True},
                   {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": True}],
        "NetworkSettings": {"Networks": {"net1": {"Aliases": ["web", "a" * 12], "IPAMConfig": None,
                                                  "IPAddress": "10.0.0.5", "EndpointID": "e"}}},
    }


def test_the_successor_keeps_what_the_container_was_given_and_takes_the_rest_from_the_new_image() -> None:
    body = create_body(container(), IMAGE_CONFIG)
    assert "Hostname" not in body  # the made-up one
    assert "Cmd" not in body and "Entrypoint" not in body  # the image's
    assert body["Env"] == ["MINE=2"]
    assert body["Labels"] == {"mine": "y"}
    assert body["ExposedPorts"] == {"81/tcp": {}}
    assert body["Image"] == "app:1"
    assert body["HostConfig"]["RestartPolicy"] == {"Name": "always"}
    assert body["HostConfig"]["Binds"] == ["/srv:/srv", f"{'b' * 64}:/data"]
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"net1": {"Aliases": ["web"]}}}


def test_a_command_of_its_own_is_kept_and_so_is_one_given_with_its_own_entrypoint() -> None:
    assert create_body(container(Cmd=["sleep", "9"]), IMAGE_CONFIG)["Cmd"] == ["sleep", "9"]
    body = create_body(container(Entrypoint=["/init"]), IMAGE_CONFIG)
    assert body["Entrypoint"] == ["/init"] and body["Cmd"] == ["sh"]


def test_without_the_old_image_every_value_is_kept() -> None:
    body = create_body(container(Hostname="myhost"), None)
    assert body["Hostname"] == "myhost" and body["Cmd"] == ["sh"] and len(body["Env"]) == 3


def test_anonymous_volumes_already_named_in_the_host_config_are_not_added_twice() -> None:
    found = container()
    found["HostConfig"]["Binds"].append(f"{'b' * 64}:/data:ro")
    assert kept_volumes(found) == []
    found["HostConfig"]["Binds"].pop()
    found["Mounts"][0]["RW"] = False
    assert kept_volumes(found) == [f"{'b' * 64}:/data:ro"]


def test_host_network_takes_no_endpoints() -> None:
    found = container()
    found["HostConfig"]["NetworkMode"] = "host"
    assert "NetworkingConfig" not in create_body(found, IMAGE_CONFIG)


# ----------------------------------------------------------------------------------------- pull and build


@pytest.mark.parametrize(("reference", "expected"), [
    ("busybox", ("busybox", "latest")),
    ("docker.io/library/busybox:1.36", ("busybox", "1.36")),
    ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest")),
    ("127.0.0.1:5000/app:2", ("127.0.0.1:5000/app", "2")),
    ("app@sha256:" + "0" * 64, ("app", "sha256:" + "0" * 64)),
])
def test_a_reference_without_a_tag_pulls_latest_not_every_tag(reference: str, expected: tuple[str, str]) -> None:
    params = pull_params(reference_of(reference))
    assert (params["fromImage"], params["tag"]) == expected


@pytest.mark.parametrize("bad", ["", "busy box", "Busybox", "a" * 600, "0" * 64, "app:tag:more", None, ["x"]])
def test_a_bad_reference_is_a_400_in_dockers_words(bad: object) -> None:
    with pytest.raises(web.HTTPException) as refused:
        reference_of(bad)
    assert refused.value.status == 400
    assert json.loads(refused.value.text or "")["message"]


def test_credentials_given_with_a_pull_are_checked() -> None:
    reference = reference_of("127.0.0.1:5000/app")
    auth = given_auth({"auth": {"username": "u", "password": "p"}}, reference)
    assert auth is not None and (auth.username, auth.password, auth.serveraddress) == ("u", "p", "127.0.0.1:5000")
    assert given_auth({}, reference) is None
    for bad in ("u:p", {"username": 1}, {"user": "u"}, {"password": "x" * 5000}):
        with pytest.raises(web.HTTPException):
            given_auth({"auth": bad}, reference)


def test_an_upload_is_a_tar_or_a_dockerfile() -> None:
    context = dockerfile_tar(b"FROM busybox\n", "build/Dockerfile.dev")
    assert is_tar(context[:512])
    with tarfile.open(fileobj=io.BytesIO(context)) as archive:
        assert archive.getnames() == ["build/Dockerfile.dev"]
        handle = archive.extractfile("build/Dockerfile.dev")
        assert handle is not None and handle.read() == b"FROM busybox\n"
    assert is_tar(b"\x1f\x8b\x08\x00rest")
    assert not is_tar(b"FROM busybox\nRUN true\n".ljust(512, b" "))
    assert not is_tar(b"FROM busybox\n")


# --------------------------------------------------------------------------------------------------- console


def test_a_resize_frame_is_checked() -> None:
    assert resize_request('{"resize": [120, 40]}') == (120, 40)
    for bad in ("nope", "[]", '{"resize": [0, 40]}', '{"resize": [true, 4]}', '{"resize": [1, 2, 3]}',
                '{"resize": [100000, 4]}', '{"resize": ["80", "24"]}', "[" * 100000):
        with pytest.raises(ValueError):
            resize_request(bad)


def test_a_close_reason_is_cut_between_characters() -> None:
    reason = close_reason("é" * 100)
    assert len(reason) <= 123 and reason.decode() == "é" * 60
    assert close_reason("short") == b"short"


# ------------------------------------------------------------------------------------------------------ sse


def test_sse_messages_are_one_data_line_each() -> None:
    assert encode({"line": "a\nb"}) == b'data: {"line":"a\\nb"}\n\n'
    assert encode({"error": None}, event="end") == b'event: end\ndata: {"error":null}\n\n'


def test_a_quiet_stream_sends_comments_and_then_its_items() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.comments = 0

        async def comment(self) -> None:
            self.comments += 1

    async def slow() -> AsyncIterator[int]:
        await asyncio.sleep(0.2)
        yield 1
        yield 2

    async def main() -> tuple[list[int], int]:
        recorder = Recorder()
        got = [item async for item in with_keepalive(slow(), recorder, interval=0.01)]  # type: ignore[arg-type]
        return got, recorder.comments

    got, comments = asyncio.run(main())
    assert got == [1, 2]
    assert comments >= 1


@pytest.mark.parametrize(("failure", "told"), [
    (MoordError(404, "No such container: gone"), "No such container: gone"),
    (aiohttp.ClientPayloadError("Response payload is not completed"),
     "moord's stream broke: Response payload is not completed"),
    (None, None),
])
def test_a_stream_moord_refuses_or_breaks_off_ends_with_why(failure: Exception | None, told: str | None) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sent: list[Any] = []
            self.ended: list[str | None] = []

        async def send(self, message: Any) -> None:
            self.sent.append(message)

        async def comment(self) -> None:
            pass

        async def end(self, error: str | None) -> None:
            self.ended.append(error)

    async def messages() -> AsyncIterator[dict[str, str]]:
        yield {"line": "first"}
        if failure is not None:
            raise failure

    recorder = Recorder()
    asyncio.run(forward(None, recorder, messages()))  # type: ignore[arg-type]
    assert recorder.sent == [{"line": "first"}]
    assert recorder.ended == [told]
