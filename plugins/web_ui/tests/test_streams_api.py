"""The streams, console and actions against a private moord, through the whole UI server (session, CSRF):
logs stream lines as they are written, stats and events arrive, a pull from a TestRegistry and a build from
an uploaded Dockerfile stream their progress, the console runs a command, recreate makes a successor from a
fresh pull; a page that leaves closes its moord request; hostile input gets a 4xx."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from webui_harness import seed_busybox

from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess
from moor.testing.fakes import layer_tar
from moor.testing.registry import TestRegistry
from moor_web_ui.app import make_app
from moor_web_ui.buildform import UPLOAD_LIMIT, dockerfile_tar
from moor_web_ui.settings import Settings
from moor_web_ui.upstream import ACTIVE, STREAM_LIMIT

pytestmark = pytest.mark.root

USER = "streamer"
PASSWORD = "correct horse battery"
#: how long a test waits for something that should come at once (a deadline, not a measure)
WAIT = 60.0


class UI:
    """A logged-in test client of the whole UI app."""

    def __init__(self, client: TestClient[Any, Any], csrf: str) -> None:
        self.client = client
        self.csrf = csrf
        self.app = client.server.app

    @property
    def origin(self) -> str:
        return str(self.client.make_url("/").origin())

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return await self.client.post(path, headers=headers, **kwargs)


def run_ui(moord: DaemonProcess, data_dir: Path, body: Callable[[UI], Awaitable[None]],
           upload_limit: int | None = None, stream_limit: int | None = None) -> None:
    async def main() -> None:
        app = make_app(Settings(data_dir=data_dir, host=moord.host))
        if upload_limit is not None:
            app[UPLOAD_LIMIT] = upload_limit
        if stream_limit is not None:
            app[STREAM_LIMIT] = stream_limit
        async with TestClient(TestServer(app)) as client:
            reply = await client.post("/api/setup", json={"username": USER, "password": PASSWORD})
            assert reply.status == 201, await reply.text()
            await body(UI(client, (await reply.json())["csrf"]))

    asyncio.run(main())


class SSE:
    """The messages of an open SSE answer, read as they come."""

    def __init__(self, reply: aiohttp.ClientResponse) -> None:
        assert reply.status == 200, reply.status
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        self.reply = reply

    async def next(self) -> tuple[str, Any]:
        """``(event, data)`` of the next message (event "" for plain ones); comments skipped."""
        event, data = "", None
        while True:
            raw = await asyncio.wait_for(self.reply.content.readline(), WAIT)
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
            elif line == "" and data is not None:
                return event, data

    async def until(self, found: Callable[[Any], bool]) -> Any:
        """Messages until one for which ``found`` is true (that one); AssertionError if the stream ends."""
        while True:
            event, data = await self.next()
            assert event != "end", f"the stream ended first: {data}"
            if found(data):
                return data

    async def rest(self) -> tuple[list[Any], Any]:
        """Every message to the end, and the end's data."""
        messages = []
        while True:
            event, data = await self.next()
            if event == "end":
                return messages, data
            messages.append(data)


def start_container(moord: DaemonProcess, name: str, cmd: list[str], **config: Any) -> str:
    client = moord.client()
    created = client.call("POST", "/containers/create", {"name": name},
                          body={"Image": "busybox", "Cmd": cmd, **config})
    client.call("POST", f"/containers/{created['Id']}/start")
    return str(created["Id"])


def build_image(moord: DaemonProcess, dockerfile: bytes, tag: str) -> str:
    """Build ``dockerfile`` in ``moord`` as ``tag``; its image ID."""
    client = moord.client()
    reply = client.open("POST", "/build", {"t": tag}, dockerfile_tar(dockerfile, "Dockerfile"),
                        {"Content-Type": "application/x-tar"})
    messages = list(client.stream_json(reply))
    assert not any("error" in m for m in messages), messages
    return str(client.get(f"/images/{tag}/json")["Id"])


def seed_image(registry: TestRegistry, moord: DaemonProcess, name: str, repo_tag: str) -> None:
    """Push ``moord``'s image ``name`` into ``registry`` as ``repo_tag``, with skopeo."""
    archive = moord.client().call("GET", f"/images/{name}/get")
    with tempfile.NamedTemporaryFile(suffix=".tar") as handle:
        handle.write(archive)
        handle.flush()
        registry.seed(handle.name, repo_tag)


def remove(moord: DaemonProcess, *names: str) -> None:
    for name in names:
        try:
            moord.client().call("DELETE", f"/containers/{name}", {"force": "1", "v": "1"})
        except DaemonError:
            pass


def exec_in(moord: DaemonProcess, container: str, *cmd: str) -> None:
    client = moord.client()
    created = client.call("POST", f"/containers/{container}/exec", body={"Cmd": list(cmd)})
    client.call("POST", f"/exec/{created['Id']}/start", body={"Detach": True})


async def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"still not {what} after {WAIT}s"
        await asyncio.sleep(0.05)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "web-ui"


# ------------------------------------------------------------------------------------------------------ logs


def test_logs_stream_lines_as_they_are_written(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-logs"
    start_container(moord, name, ["sh", "-c", "echo first; echo first-err >&2; exec sleep 300"])

    async def body(ui: UI) -> None:
        async with ui.client.get(f"/api/streams/containers/{name}/logs?tail=all") as reply:
            stream = SSE(reply)
            first = await stream.until(lambda m: m["line"] == "first")
            assert first["stream"] == "stdout" and first["time"].startswith("20")
            assert (await stream.until(lambda m: m["line"] == "first-err"))["stream"] == "stderr"
            exec_in(moord, name, "sh", "-c", "echo written-later > /proc/1/fd/1")
            later = await stream.until(lambda m: m["line"] == "written-later")
            assert later["stream"] == "stdout"
            assert ui.app[ACTIVE]["logs"] == 1
        await wait_until(lambda: ui.app[ACTIVE]["logs"] == 0, "closed after the page left")

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


def test_logs_of_a_tty_container_are_stdout_lines(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-logs-tty"
    start_container(moord, name, ["sh", "-c", "echo from-a-tty; echo to-stderr >&2; exec sleep 300"], Tty=True)

    async def body(ui: UI) -> None:
        async with ui.client.get(f"/api/streams/containers/{name}/logs?tail=all") as reply:
            stream = SSE(reply)
            assert (await stream.until(lambda m: m["line"] == "from-a-tty"))["stream"] == "stdout"
            assert (await stream.until(lambda m: m["line"] == "to-stderr"))["stream"] == "stdout"  # one terminal

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


def test_logs_tail_and_the_end_of_a_container(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-logs-tail"
    start_container(moord, name, ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; sleep 1"])

    async def body(ui: UI) -> None:
        async with ui.client.get(f"/api/streams/containers/{name}/logs?tail=2") as reply:
            messages, end = await SSE(reply).rest()  # the container exits: moord ends the stream, so do we
        assert [m["line"] for m in messages] == ["line4", "line5"]
        assert end == {"error": None}

    try:
        moord.client().call("POST", f"/containers/{name}/wait")
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


def test_streams_past_the_limit_are_refused_until_one_closes(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-limit"
    start_container(moord, name, ["sh", "-c", "echo hello; exec sleep 300"])

    async def body(ui: UI) -> None:
        async with ui.client.get(f"/api/streams/containers/{name}/logs") as reply:
            await SSE(reply).until(lambda m: m["line"] == "hello")
            refused = await ui.client.get(f"/api/streams/containers/{name}/stats")
            assert refused.status == 429 and refused.headers["Retry-After"]
            assert "too many live streams" in (await refused.json())["message"]
            url = f"/api/containers/{name}/console?csrf={ui.csrf}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as ws_refused:
                await ui.client.ws_connect(url, headers={"Origin": ui.origin})
            assert ws_refused.value.status == 429
        await wait_until(lambda: ui.app[ACTIVE]["logs"] == 0, "closed after the page left")
        async with ui.client.get(f"/api/streams/containers/{name}/stats") as reply:
            assert (await SSE(reply).next())[1]["pids"] >= 1

    try:
        run_ui(moord, data_dir, body, stream_limit=1)
    finally:
        remove(moord, name)


# ---------------------------------------------------------------------------------------------- stats, events


def test_stats_arrive_each_second(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-stats"
    start_container(moord, name, ["sleep", "300"], HostConfig={"Memory": 64 << 20})

    async def body(ui: UI) -> None:
        async with ui.client.get(f"/api/streams/containers/{name}/stats") as reply:
            stream = SSE(reply)
            samples = [(await stream.next())[1] for _ in range(2)]
        for sample in samples:
            assert set(sample) == {"time", "cpu_percent", "mem_usage", "mem_limit", "mem_percent", "net_rx",
                                   "net_tx", "pids"}
            assert sample["mem_limit"] == 64 << 20
            assert sample["pids"] >= 1 and sample["mem_usage"] > 0
        assert samples[0]["time"] != samples[1]["time"]
        await wait_until(lambda: ui.app[ACTIVE]["stats"] == 0, "closed after the page left")

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


def test_events_arrive_with_the_acting_user(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-events"

    async def body(ui: UI) -> None:
        async with ui.client.get("/api/streams/events?filters=" + json.dumps({"type": ["container"]})) as reply:
            stream = SSE(reply)
            created = await ui.post(f"/api/docker/containers/create?name={name}", json={"Image": "busybox"})
            assert created.status == 201, await created.text()
            event = await stream.until(lambda m: m.get("Action") == "create"
                                       and m["Actor"]["Attributes"].get("name") == name)
            assert event["Type"] == "container"
            assert event["Actor"]["Attributes"]["moor.actor"] == USER
        await wait_until(lambda: ui.app[ACTIVE]["events"] == 0, "closed after the page left")

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


# ----------------------------------------------------------------------------------------------- pull, build


def fresh_image_archive(path: Path, repo_tag: str) -> Path:
    """A ``docker save`` archive of an image whose two layers no moord has (random bytes)."""
    tars = [layer_tar({"data/noise": os.urandom(1 << 20)}), layer_tar({"etc/made-by": "w2\n"})]
    diff_ids = ["sha256:" + hashlib.sha256(tar).hexdigest() for tar in tars]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{diff_id[7:]}/layer.tar" for diff_id in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as archive:
        for name, data in [("manifest.json", manifest), (config_name, config), *zip(names, tars)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_pull_streams_progress_from_a_registry(moord: DaemonProcess, registry: TestRegistry, data_dir: Path,
                                               tmp_path: Path) -> None:
    image = f"{registry.host}/w2/pulled:1"
    registry.seed(str(fresh_image_archive(tmp_path / "image.tar", "w2/pulled:1")), "w2/pulled:1")

    async def body(ui: UI) -> None:
        reply = await ui.post("/api/images/pull", json={"image": image})
        messages, end = await SSE(reply).rest()
        assert end == {"error": None}, messages
        statuses = [m.get("status", "") for m in messages]
        assert any(s.startswith("Pulling from w2/pulled") for s in statuses), statuses
        assert any("Downloaded newer image" in s for s in statuses), statuses
        layers = {m["id"] for m in messages if m.get("status") == "Pull complete"}
        assert len(layers) == 2, statuses
        assert any(m.get("status") == "Downloading" and m.get("progressDetail", {}).get("total") for m in messages)
        missing = await ui.post("/api/images/pull", json={"image": f"{registry.host}/w2/missing:1"})
        assert 400 <= missing.status < 500, await missing.text()
        assert "message" in await missing.json()

    try:
        run_ui(moord, data_dir, body)
        assert moord.client().get(f"/images/{image}/json")["Id"].startswith("sha256:")
    finally:
        try:
            moord.client().call("DELETE", f"/images/{image}")
        except DaemonError:
            pass


def test_pull_from_a_registry_that_needs_a_login(moord: DaemonProcess, data_dir: Path, tmp_path: Path) -> None:
    with TestRegistry("htpasswd", users={"w2": "pull-secret"}) as private:
        image = f"{private.host}/w2/private:1"
        private.seed(str(fresh_image_archive(tmp_path / "image.tar", "w2/private:1")), "w2/private:1")

        async def body(ui: UI) -> None:
            refused = await ui.post("/api/images/pull", json={"image": image})
            if refused.status == 200:
                _, end = await SSE(refused).rest()
                assert end["error"], end
            else:
                assert 400 <= refused.status < 500, await refused.text()
            wrong = await ui.post("/api/images/pull", json={"image": image, "auth": {"username": "w2",
                                                                                      "password": "nope"}})
            assert wrong.status != 200 or (await SSE(wrong).rest())[1]["error"]
            reply = await ui.post("/api/images/pull", json={"image": image, "auth": {"username": "w2",
                                                                                      "password": "pull-secret"}})
            messages, end = await SSE(reply).rest()
            assert end == {"error": None}, messages

        try:
            run_ui(moord, data_dir, body)
            assert moord.client().get(f"/images/{image}/json")["Id"].startswith("sha256:")
        finally:
            try:
                moord.client().call("DELETE", f"/images/{image}")
            except DaemonError:
                pass


def context_tar(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path, text in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return out.getvalue()


def build_form(context: bytes, filename: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("context", context, filename=filename, content_type="application/octet-stream")
    return form


def test_build_from_an_uploaded_dockerfile_or_context_streams_its_output(moord: DaemonProcess,
                                                                          data_dir: Path) -> None:
    async def body(ui: UI) -> None:
        dockerfile = b"FROM busybox\nRUN echo built-by-$((40+2))\n"
        reply = await ui.post("/api/images/build", data=build_form(dockerfile, "Dockerfile", tag="w2-built:1"))
        messages, end = await SSE(reply).rest()
        assert end == {"error": None}, messages
        output = "".join(m.get("stream", "") for m in messages)
        assert "built-by-42" in output
        image_id = next(m["aux"]["ID"] for m in messages if "aux" in m)
        assert moord.client().get("/images/w2-built:1/json")["Id"] == image_id

        context = context_tar({"app/Containerfile": "FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n",
                               "hello.txt": "hello from the context\n"})
        reply = await ui.post("/api/images/build", data=build_form(context, "ctx.tar", tag="w2-built:2",
                                                                    dockerfile="app/Containerfile"))
        messages, end = await SSE(reply).rest()
        assert end == {"error": None}, messages
        assert "hello from the context" in "".join(m.get("stream", "") for m in messages)

        failing = b"FROM busybox\nRUN echo about-to-fail && exit 3\n"
        messages, end = await SSE(await ui.post("/api/images/build", data=build_form(failing, "Dockerfile"))).rest()
        assert "about-to-fail" in "".join(m.get("stream", "") for m in messages)
        assert end["error"] and "3" in end["error"]

    try:
        run_ui(moord, data_dir, body)
    finally:
        for tag in ("w2-built:1", "w2-built:2"):
            try:
                moord.client().call("DELETE", f"/images/{tag}")
            except DaemonError:
                pass


# --------------------------------------------------------------------------------------------------- console


async def read_until(ws: aiohttp.ClientWebSocketResponse, text: str) -> str:
    seen = ""
    while text not in seen:
        message = await asyncio.wait_for(ws.receive(), WAIT)
        assert message.type == aiohttp.WSMsgType.BINARY, (message, seen)
        seen += message.data.decode(errors="replace")
    return seen


def test_the_console_runs_a_command_in_a_terminal(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-console"
    start_container(moord, name, ["sleep", "300"])

    async def body(ui: UI) -> None:
        url = f"/api/containers/{name}/console?cmd=/bin/sh&cols=100&rows=30&csrf={ui.csrf}"
        async with ui.client.ws_connect(url, headers={"Origin": ui.origin}) as ws:
            await ws.send_bytes(b"echo hi-$((40+2)); [ -t 0 ] && echo on-a-tty\n")
            assert "on-a-tty" in await read_until(ws, "hi-42")
            await ws.send_bytes(b"stty size\n")
            await read_until(ws, "30 100")
            await ws.send_str(json.dumps({"resize": [132, 43]}))
            await ws.send_bytes(b"stty size\n")
            await read_until(ws, "43 132")
            await ws.send_bytes(b"exit 3\n")
            while (message := await asyncio.wait_for(ws.receive(), WAIT)).type == aiohttp.WSMsgType.BINARY:
                pass
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1000
            assert message.extra == "the process exited with code 3"
        await wait_until(lambda: ui.app[ACTIVE]["console"] == 0, "closed after the process ended")

    try:
        since = time.time() - 1
        run_ui(moord, data_dir, body)
        actions = {e["Action"].split(":")[0]: e["Actor"]["Attributes"].get("moor.actor")
                   for e in container_events(moord, name, since)}
        assert actions.get("exec_create") == USER and actions.get("exec_start") == USER, actions
    finally:
        remove(moord, name)


def container_events(moord: DaemonProcess, name: str, since: float) -> list[dict[str, Any]]:
    """moord's events about container ``name`` from ``since`` to now."""
    filters = json.dumps({"container": [name]})
    return list(moord.client().stream("GET", "/events", {"since": f"{since:.9f}", "until": f"{time.time():.9f}",
                                                         "filters": filters}))


def test_a_console_closed_by_the_page_leaves_no_shell_behind(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-console-left"
    start_container(moord, name, ["sleep", "300"])

    async def body(ui: UI) -> None:
        url = f"/api/containers/{name}/console?cmd=sh&csrf={ui.csrf}"
        async with ui.client.ws_connect(url, headers={"Origin": ui.origin}) as ws:
            await ws.send_bytes(b"echo $$ > /tmp/console-pid; echo ready\n")
            await read_until(ws, "ready")
        await wait_until(lambda: ui.app[ACTIVE]["console"] == 0, "closed after the page left")

    def shells() -> list[str]:
        top = moord.client().get(f"/containers/{name}/top", ps_args="-o pid,args")
        return [" ".join(process) for process in top["Processes"] if "sh" in " ".join(process).split()]

    try:
        run_ui(moord, data_dir, body)
        deadline = time.monotonic() + WAIT
        while shells():
            assert time.monotonic() < deadline, f"the console's shell still runs: {shells()}"
            time.sleep(0.1)
    finally:
        remove(moord, name)


# -------------------------------------------------------------------------------------------------- recreate


def test_recreate_with_a_fresh_pull_keeps_the_name_settings_and_data(moord: DaemonProcess, registry: TestRegistry,
                                                                     data_dir: Path) -> None:
    name = "w2-recreated"
    image = f"{registry.host}/w2/app:1"
    seed_busybox(registry, moord, "w2/app:1")
    client = moord.client()
    list(client.stream("POST", "/images/create", {"fromImage": f"{registry.host}/w2/app", "tag": "1"}))
    old_image = client.get(f"/images/{image}/json")["Id"]
    network = client.call("POST", "/networks/create", body={"Name": "w2-recreate-net"})["Id"]
    host_config = {"RestartPolicy": {"Name": "unless-stopped"}, "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]},
                   "NetworkMode": "w2-recreate-net", "Memory": 96 << 20}
    created = client.call("POST", "/containers/create", {"name": name}, body={
        "Image": image, "Cmd": ["sleep", "300"], "Env": ["MINE=yes"], "Tty": True, "Labels": {"mine": "yes"},
        "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "WorkingDir": "/data",
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000},
        "HostConfig": host_config,
        "NetworkingConfig": {"EndpointsConfig": {"w2-recreate-net": {"Aliases": ["web-alias"]}}}})
    old_id = created["Id"]
    client.call("POST", f"/containers/{old_id}/start")
    exec_in(moord, old_id, "sh", "-c", "echo precious > /data/precious")
    old = client.get(f"/containers/{old_id}/json")
    old_volume = next(m["Name"] for m in old["Mounts"] if m["Destination"] == "/data")
    # the tag moves on in the registry: a new layer over busybox
    dockerfile = b"FROM busybox\nRUN echo v2 > /version\n"
    new_image = build_image(moord, dockerfile, "w2-app-v2")
    seed_image(registry, moord, "w2-app-v2", "w2/app:1")

    async def body(ui: UI) -> None:
        reply = await ui.post(f"/api/containers/{name}/recreate", json={"pull": True})
        messages, end = await SSE(reply).rest()
        assert end["error"] is None, (messages, end)
        statuses = [m.get("status", "") for m in messages]
        assert any("Downloaded newer image" in s for s in statuses), statuses
        new_id = end["id"]
        assert new_id != old_id
        found = moord.client().get(f"/containers/{name}/json")
        assert found["Id"] == new_id and found["State"]["Running"]
        assert found["Image"] == new_image != old_image
        assert set(old["Config"]["Env"]) <= set(found["Config"]["Env"])  # (the new image may add its own)
        for key in ("Tty", "Labels", "WorkingDir", "Healthcheck", "Cmd", "ExposedPorts"):
            assert found["Config"][key] == old["Config"][key], key
        for key in ("RestartPolicy", "PortBindings", "NetworkMode", "Memory"):
            assert found["HostConfig"][key] == old["HostConfig"][key], key
        assert "web-alias" in found["NetworkSettings"]["Networks"]["w2-recreate-net"]["Aliases"]
        assert found["Config"]["Hostname"] == new_id[:12]
        with pytest.raises(DaemonError):
            moord.client().get(f"/containers/{old_id}/json")
        assert [m["Name"] for m in found["Mounts"] if m["Destination"] == "/data"] == [old_volume]
        archive = moord.client().call("GET", f"/containers/{name}/archive", {"path": "/data/precious"})
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.extractfile("precious")
            assert member is not None and member.read() == b"precious\n"

    try:
        since = time.time() - 1
        run_ui(moord, data_dir, body)
        events = container_events(moord, name, since)
        actors = {(e["Action"], e["Actor"]["Attributes"].get("moor.actor")) for e in events}
        assert {("create", USER), ("start", USER), ("rename", USER), ("destroy", USER)} <= actors, actors
    finally:
        remove(moord, name, old_id)
        moord.client().call("DELETE", f"/networks/{network}")


def test_a_recreate_that_fails_puts_the_old_container_back(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-recreate-fails"
    client = moord.client()
    client.call("POST", "/images/busybox:latest/tag", {"repo": "w2-short-lived", "tag": "1"})
    old_id = start_container(moord, name, ["sleep", "300"], Image="w2-short-lived:1")
    client.call("DELETE", "/images/w2-short-lived:1")  # the name is gone: the successor cannot be made

    async def body(ui: UI) -> None:
        reply = await ui.post(f"/api/containers/{name}/recreate", json={"pull": False})
        messages, end = await SSE(reply).rest()
        assert end["error"] and "w2-short-lived" in end["error"], (messages, end)
        assert "id" not in end
        found = moord.client().get(f"/containers/{name}/json")
        assert found["Id"] == old_id and found["State"]["Running"] and found["Name"] == f"/{name}"
        names = [n for c in moord.client().get("/containers/json", all="1") for n in c["Names"]]
        assert not [n for n in names if n.startswith(f"/{name}")  and n != f"/{name}"], names

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


# -------------------------------------------------------------------------------------------------- hostile


def test_hostile_input_gets_a_4xx(moord: DaemonProcess, data_dir: Path) -> None:
    stopped = "w2-stopped"
    moord.client().call("POST", "/containers/create", {"name": stopped}, body={"Image": "busybox"})

    async def body(ui: UI) -> None:
        async def status(reply: aiohttp.ClientResponse) -> tuple[int, str]:
            text = await reply.text()
            assert reply.content_type == "application/json", text
            return reply.status, json.loads(text)["message"]

        get = ui.client.get
        assert (await status(await get("/api/streams/containers/bad%20id/logs")))[0] == 400
        assert (await status(await get("/api/streams/containers/..%2F..%2Fimages/logs")))[0] in (400, 404)
        assert (await status(await get("/api/streams/containers/nosuchcontainer/logs")))[0] == 404
        assert (await status(await get("/api/streams/containers/nosuchcontainer/stats")))[0] == 404
        assert (await status(await get(f"/api/streams/containers/{stopped}/logs?tail=-1")))[0] == 400
        assert (await status(await get(f"/api/streams/containers/{stopped}/logs?tail=x" + "9" * 99)))[0] == 400
        assert (await status(await get("/api/streams/events?since=yesterday")))[0] == 400

        post = ui.post
        assert (await status(await post("/api/images/pull", data=b"{nope", headers={
            "Content-Type": "application/json"})))[0] == 400
        assert (await status(await post("/api/images/pull", data=b"x", headers={"Content-Type": "text/plain"})))[0] \
            == 415
        assert (await status(await post("/api/images/pull", json={"image": "busy box"})))[0] == 400
        assert (await status(await post("/api/images/pull", json={"image": ["busybox"]})))[0] == 400
        assert (await status(await post("/api/images/pull", json={"image": "Busybox"})))[0] == 400
        no_csrf = await ui.client.post("/api/images/pull", json={"image": "busybox"})
        assert (await status(no_csrf)) == (403, "missing or wrong CSRF token")

        huge = build_form(os.urandom(2 << 20), "big.tar")
        assert (await status(await post("/api/images/build", data=huge)))[0] == 413
        assert (await status(await post("/api/images/build", json={"context": "FROM busybox"})))[0] == 415
        assert (await status(await post("/api/images/build", data=build_form(b"", "x", tag="t"))))[0] in (400, 413)
        form = aiohttp.FormData()
        form.add_field("tag", "x", content_type="text/plain")  # (multipart: a part with its own type)
        assert (await status(await post("/api/images/build", data=form)))[0] == 400
        form = build_form(b"FROM busybox\n", "Dockerfile", evil="1")
        assert (await status(await post("/api/images/build", data=form)))[0] == 400
        form = build_form(b"FROM busybox\n", "Dockerfile", dockerfile="../../etc/passwd")
        assert (await status(await post("/api/images/build", data=form)))[0] == 400
        context = context_tar({"Dockerfile": "FROM busybox\n"})
        form = build_form(context, "ctx.tar", dockerfile="../../../etc/passwd")
        assert (await status(await post("/api/images/build", data=form)))[0] == 400  # (moord's check)
        form = build_form(context, "ctx.tar", tag="Not A Tag")
        assert (await status(await post("/api/images/build", data=form)))[0] == 400
        assert (await status(await post("/api/images/build", data=b"--x\r\nbroken", headers={
            "Content-Type": "multipart/form-data; boundary=x"})))[0] == 400

        assert (await status(await post("/api/containers/nosuch/recreate", json={"pull": True})))[0] == 404
        assert (await status(await post(f"/api/containers/{stopped}/recreate", json={"pull": "yes"})))[0] == 400

        console = f"/api/containers/{stopped}/console"
        for query, headers, expected in [
            ("", {"Origin": ui.origin}, 403),  # no CSRF token
            (f"?csrf={ui.csrf}", {"Origin": "http://evil.example"}, 403),
            (f"?csrf={ui.csrf}", {}, 403),  # no Origin
            (f"?csrf={ui.csrf}&cmd=%27unbalanced", {"Origin": ui.origin}, 400),
            (f"?csrf={ui.csrf}&cols=0&rows=5", {"Origin": ui.origin}, 400),
            (f"?csrf={ui.csrf}&cmd=" + "x" * 5000, {"Origin": ui.origin}, 400),
        ]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await ui.client.ws_connect(console + query, headers=headers)
            assert refused.value.status == expected, (query, headers, refused.value)
        for target, code in [(stopped, 4409), ("nosuchcontainer", 4404)]:  # moord's refusal, said in the page
            url = f"/api/containers/{target}/console?csrf={ui.csrf}"
            async with ui.client.ws_connect(url, headers={"Origin": ui.origin}) as ws:
                said = await asyncio.wait_for(ws.receive(), WAIT)
                assert said.type == aiohttp.WSMsgType.TEXT and json.loads(said.data)["error"], said
                closed = await asyncio.wait_for(ws.receive(), WAIT)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code == code, (target, closed)
        plain = await get(f"/api/containers/{stopped}/console")
        assert plain.status in (400, 403)
        assert sum(ui.app[ACTIVE].values()) == 0

    try:
        run_ui(moord, data_dir, body, upload_limit=1 << 20)
    finally:
        remove(moord, stopped)


def test_a_command_that_cannot_run_says_why_in_the_terminal(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-console-missing"
    start_container(moord, name, ["sleep", "300"])

    async def body(ui: UI) -> None:
        url = f"/api/containers/{name}/console?cmd=/bin/no-such-shell&csrf={ui.csrf}"
        async with ui.client.ws_connect(url, headers={"Origin": ui.origin}) as ws:
            seen = ""
            while (message := await asyncio.wait_for(ws.receive(), WAIT)).type == aiohttp.WSMsgType.BINARY:
                seen += message.data.decode(errors="replace")
            assert "no-such-shell" in seen, seen
            assert ws.close_code == 1000 and message.extra == "the process exited with code 127", (message, seen)

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)


def running_commands(marker: str) -> list[str]:
    """The command lines of the host's processes that hold ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                line = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in line:
            found.append(line)
    return found


def test_a_build_the_page_leaves_is_stopped(moord: DaemonProcess, data_dir: Path) -> None:
    marker = f"w2-left-{os.getpid()}"

    async def body(ui: UI) -> None:
        dockerfile = f"FROM busybox\nRUN echo started && sleep 3000 && echo {marker}\n".encode()
        async with await ui.post("/api/images/build", data=build_form(dockerfile, "Dockerfile")) as reply:
            stream = SSE(reply)
            await stream.until(lambda m: m.get("stream", "").strip() == "started")  # (not the step's line)
            assert running_commands(marker), ("the build's RUN is not running", running_commands("sleep 3000"))
            assert ui.app[ACTIVE]["build"] == 1
        await wait_until(lambda: ui.app[ACTIVE]["build"] == 0, "closed after the page left")
        await wait_until(lambda: not running_commands(marker), "stopped after the page left")

    run_ui(moord, data_dir, body)


def test_a_bad_control_frame_closes_the_console(moord: DaemonProcess, data_dir: Path) -> None:
    name = "w2-console-bad"
    start_container(moord, name, ["sleep", "300"])

    async def body(ui: UI) -> None:
        url = f"/api/containers/{name}/console?csrf={ui.csrf}"
        async with ui.client.ws_connect(url, headers={"Origin": ui.origin}) as ws:
            await ws.send_str("{not json")
            while (message := await asyncio.wait_for(ws.receive(), WAIT)).type == aiohttp.WSMsgType.BINARY:
                pass
            assert ws.close_code == 1008, message
        await wait_until(lambda: ui.app[ACTIVE]["console"] == 0, "closed")

    try:
        run_ui(moord, data_dir, body)
    finally:
        remove(moord, name)
