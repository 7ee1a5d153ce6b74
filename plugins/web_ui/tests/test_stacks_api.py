"""The stacks API against a private moord: save, deploy, stop, take down and delete a two-service stack; the
projects moord runs from elsewhere; hostile input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from moor.testing.daemon import DaemonProcess
from moor_web_ui.settings import Settings
from moor_web_ui.stacks import STACKS, setup

pytestmark = pytest.mark.root

USER = "stack-tester"
COMPOSE = """\
services:
  web:
    image: ${WEB_IMAGE}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on: [db]
  db:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "web-ui"


Call = Callable[..., Awaitable[Any]]


def run_with_client(moord: DaemonProcess, data_dir: Path, body: Callable[[TestClient[Any, Any], web.Application],
                                                                         Awaitable[None]]) -> None:
    """The stacks routes alone (no login: a middleware says who the user is) served to ``body``."""

    @web.middleware
    async def as_user(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
        request["user"] = USER
        return await handler(request)

    async def main() -> None:
        app = web.Application(middlewares=[as_user])
        setup(app, Settings(data_dir=data_dir, host=moord.host))
        async with TestClient(TestServer(app)) as client:
            await body(client, app)

    asyncio.run(main())


def sse_messages(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each SSE message (event "" for plain ones)."""
    found = []
    for block in text.split("\n\n"):
        event, data = "", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        if data is not None:
            found.append((event, data))
    return found


async def streamed(client: TestClient[Any, Any], path: str, body: Any = None) -> tuple[list[str], str | None]:
    """The lines of an SSE-over-POST operation and the error its end carried."""
    reply = await client.post(path, json=body)
    assert reply.status == 200, await reply.text()
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    messages = sse_messages(await reply.text())
    assert messages and messages[-1][0] == "end", messages
    return [data["line"] for event, data in messages if not event], messages[-1][1]["error"]


def project_containers(moord: DaemonProcess, project: str) -> list[dict[str, Any]]:
    return list(moord.client().call("GET", "/containers/json", {
        "all": "1", "filters": json.dumps({"label": [f"com.docker.compose.project={project}"]})}) or [])


@pytest.fixture
def clean_projects(moord: DaemonProcess) -> Iterator[None]:
    """Whatever a test leaves of its projects removed (containers, then networks)."""
    yield
    client = moord.client()
    for item in client.call("GET", "/containers/json", {"all": "1", "filters": json.dumps(
            {"label": ["com.docker.compose.project"]})}) or []:
        client.call("DELETE", f"/containers/{item['Id']}", {"force": "1"})
    for network in client.call("GET", "/networks", {"filters": json.dumps(
            {"label": ["com.docker.compose.project"]})}) or []:
        client.call("DELETE", f"/networks/{network['Id']}")


def test_a_two_service_stack_from_save_to_delete(moord: DaemonProcess, data_dir: Path,
                                                 clean_projects: None) -> None:
    began = int(time.time())

    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        # a file compose's loader refuses: 400 naming the file and the line, nothing stored
        reply = await client.put("/api/stacks/demo", json={"compose": "services:\n  web:\n    imgae: x\n"})
        assert reply.status == 400
        assert (await reply.json())["message"] == \
            "validating compose.yaml: services.web additional properties 'imgae' not allowed (line 3)"
        assert not (data_dir / "stacks" / "demo").exists()

        reply = await client.put("/api/stacks/demo", json={"compose": COMPOSE, "env": "WEB_IMAGE=busybox\n"})
        assert reply.status == 200, await reply.text()
        assert await reply.json() == {"name": "demo", "created": True}
        assert (data_dir / "stacks" / "demo" / "compose.yaml").read_text() == COMPOSE
        assert (data_dir / "stacks" / "demo" / ".env").read_text() == "WEB_IMAGE=busybox\n"

        reply = await client.get("/api/stacks")
        assert await reply.json() == [{"name": "demo", "status": "not deployed", "services": 2, "running": 0,
                                       "external": False}]

        lines, error = await streamed(client, "/api/stacks/demo/up")
        assert error is None, lines
        assert " Container demo-db-1  Started" in lines
        assert " Container demo-web-1  Started" in lines
        assert lines.index(" Container demo-db-1  Started") < lines.index(" Container demo-web-1  Starting")

        reply = await client.get("/api/stacks/demo")
        shown = await reply.json()
        assert shown["status"] == "running"
        assert shown["compose"] == COMPOSE and shown["env"] == "WEB_IMAGE=busybox\n"
        assert [entry["service"] for entry in shown["services"]] == ["web", "db"]
        for entry in shown["services"]:
            assert [(c["name"], c["state"]) for c in entry["containers"]] == [(f"demo-{entry['service']}-1",
                                                                               "running")]
        reply = await client.get("/api/stacks")
        assert (await reply.json())[0]["status"] == "running"

        lines, error = await streamed(client, "/api/stacks/demo/stop")
        assert error is None and " Container demo-web-1  Stopped" in lines
        assert {c["State"] for c in project_containers(moord, "demo")} == {"exited"}
        reply = await client.get("/api/stacks")
        assert (await reply.json())[0]["status"] == "stopped"

        # down keeps the files; up again brings it back
        lines, error = await streamed(client, "/api/stacks/demo/down", {"volumes": False})
        assert error is None and " Container demo-db-1  Removed" in lines
        assert project_containers(moord, "demo") == []
        assert (data_dir / "stacks" / "demo" / "compose.yaml").exists()
        _, error = await streamed(client, "/api/stacks/demo/up")
        assert error is None
        assert len(project_containers(moord, "demo")) == 2

        reply = await client.delete("/api/stacks/demo")
        assert reply.status == 204, await reply.text()
        assert project_containers(moord, "demo") == []
        assert moord.client().call("GET", "/networks", {"filters": json.dumps({"name": ["demo_default"]})}) == []
        assert not (data_dir / "stacks" / "demo").exists()
        assert (await client.get("/api/stacks/demo")).status == 404

    run_with_client(moord, data_dir, body)
    # every change was made with the acting user's header: moord records it on the events
    client = moord.client()
    events = list(client.stream_json(client.open("GET", "/events", {
        "since": str(began), "until": str(int(time.time()) + 1),
        "filters": json.dumps({"type": ["container"], "event": ["create"]})})))
    created = {event["Actor"]["Attributes"]["name"]: event["Actor"]["Attributes"] for event in events}
    assert {"demo-web-1", "demo-db-1"} <= set(created)
    assert created["demo-web-1"].get("moor.actor") == USER
    assert created["demo-db-1"].get("moor.actor") == USER


def test_an_operation_that_fails_ends_its_stream_with_the_error(moord: DaemonProcess, data_dir: Path,
                                                              clean_projects: None) -> None:
    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        compose = "services:\n  app:\n    image: no-such-image:9\n    pull_policy: never\n"
        assert (await client.put("/api/stacks/broken", json={"compose": compose})).status == 200
        lines, error = await streamed(client, "/api/stacks/broken/up")
        assert error is not None and "no-such-image:9" in error, (lines, error)
        assert project_containers(moord, "broken") == []
        assert (await client.delete("/api/stacks/broken")).status == 204

    run_with_client(moord, data_dir, body)


def test_projects_from_elsewhere_are_listed_and_can_be_removed(moord: DaemonProcess, data_dir: Path,
                                                              clean_projects: None) -> None:
    labels = {"com.docker.compose.project": "elsewhere", "com.docker.compose.service": "job",
              "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
    made = moord.client().call("POST", "/containers/create", {"name": "elsewhere-job-1"},
                               body={"Image": "busybox", "Cmd": ["sleep", "1000"], "Labels": labels})
    moord.client().call("POST", f"/containers/{made['Id']}/start")

    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        listed = await (await client.get("/api/stacks")).json()
        assert {"name": "elsewhere", "status": "running", "services": 1, "running": 1, "external": True} in listed
        shown = await (await client.get("/api/stacks/elsewhere")).json()
        assert shown["external"] is True and shown["compose"] == ""
        assert shown["services"][0]["service"] == "job"
        assert shown["services"][0]["containers"][0]["id"] == made["Id"]
        # no files to deploy from
        assert (await client.post("/api/stacks/elsewhere/up")).status == 404
        assert (await client.delete("/api/stacks/elsewhere")).status == 204
        assert project_containers(moord, "elsewhere") == []

    run_with_client(moord, data_dir, body)


def test_hostile_requests_get_a_4xx_and_change_nothing(moord: DaemonProcess, data_dir: Path) -> None:
    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        async def status_of(method: str, path: str, **kwargs: Any) -> tuple[int, str]:
            reply = await client.request(method, path, **kwargs)
            answer = await reply.json()
            return reply.status, answer["message"]

        for path in ("/api/stacks/..%2F..%2Fetc", "/api/stacks/Upper", "/api/stacks/.env", "/api/stacks/-x",
                     "/api/stacks/" + "a" * 64):
            status, message = await status_of("GET", path)
            assert status == 400 and message.startswith("invalid stack name"), (path, status, message)
            status, _ = await status_of("PUT", path, json={"compose": COMPOSE})
            assert status == 400
        assert (await status_of("GET", "/api/stacks/nothing"))[0] == 404
        assert (await status_of("POST", "/api/stacks/nothing/up"))[0] == 404
        assert (await status_of("POST", "/api/stacks/nothing/down"))[0] == 404
        assert (await status_of("POST", "/api/stacks/nothing/stop"))[0] == 404
        assert (await status_of("DELETE", "/api/stacks/nothing"))[0] == 404
        as_json = {"Content-Type": "application/json"}
        for bad in (b"{not json", b"\xff\xfe", b"[" * 100000):
            status, message = await status_of("PUT", "/api/stacks/x", data=bad, headers=as_json)
            assert status == 400 and message.startswith("invalid JSON body"), (bad[:10], status, message)
        assert (await status_of("PUT", "/api/stacks/x", data=b"{}", headers={"Content-Type": "text/plain"}))[0] == 415
        assert await status_of("PUT", "/api/stacks/x", json=["compose"]) == (400, "the body must be a JSON object")
        assert await status_of("PUT", "/api/stacks/x") == (400, "a JSON body is required")
        assert (await status_of("PUT", "/api/stacks/x", json={"compose": COMPOSE, "evil": 1}))[0] == 400
        assert await status_of("PUT", "/api/stacks/x", json={"compose": 5}) == (400, '"compose" must be a string')
        assert (await status_of("PUT", "/api/stacks/x", json={"compose": "services:\n  a: !!python/object:os.system"
                                                                         " {}\n"}))[0] == 400
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
            f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
        status, message = await status_of("PUT", "/api/stacks/x", json={"compose": bomb})
        assert status == 400, message
        assert not (data_dir / "stacks" / "x").exists()

        # a stored stack: bad flags, and one operation at a time
        assert (await client.put("/api/stacks/calm", json={"compose": COMPOSE, "env": "WEB_IMAGE=busybox"})
                ).status == 200
        assert (await status_of("POST", "/api/stacks/calm/down", json={"volumes": "yes"})) == \
            (400, '"volumes" must be true or false')
        app[STACKS].busy.add("calm")
        status, message = await status_of("POST", "/api/stacks/calm/up")
        assert (status, message) == (409, "stack calm is busy: another operation on it is under way")
        assert (await status_of("DELETE", "/api/stacks/calm"))[0] == 409
        app[STACKS].busy.discard("calm")
        assert (await client.delete("/api/stacks/calm")).status == 204
        assert not (data_dir / "stacks" / "calm").exists()

    run_with_client(moord, data_dir, body)


def test_an_operation_the_page_leaves_runs_to_its_end(moord: DaemonProcess, data_dir: Path,
                                                     clean_projects: None) -> None:
    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        assert (await client.put("/api/stacks/left", json={"compose": COMPOSE, "env": "WEB_IMAGE=busybox"})
                ).status == 200
        reply = await client.post("/api/stacks/left/up")
        assert reply.status == 200
        await reply.content.readline()  # the first bytes of the output, then the page goes away
        reply.close()
        deadline = time.monotonic() + 120
        while "left" in app[STACKS].busy and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert "left" not in app[STACKS].busy
        assert sorted(c["State"] for c in project_containers(moord, "left")) == ["running", "running"]
        # the stack is free again: the next operation is accepted
        _, error = await streamed(client, "/api/stacks/left/down")
        assert error is None
        assert project_containers(moord, "left") == []
        assert (await client.delete("/api/stacks/left")).status == 204

    run_with_client(moord, data_dir, body)


def test_named_volumes_go_only_when_asked(moord: DaemonProcess, data_dir: Path, clean_projects: None) -> None:
    compose = ("services:\n  app:\n    image: busybox\n    command: [sleep, '1000']\n    stop_grace_period: 1s\n"
               "    volumes: [data:/data]\nvolumes:\n  data: {}\n")

    def volumes() -> set[str]:
        return {v["Name"] for v in moord.client().get("/volumes")["Volumes"] or []}

    async def body(client: TestClient[Any, Any], app: web.Application) -> None:
        assert (await client.put("/api/stacks/vols", json={"compose": compose})).status == 200
        assert (await streamed(client, "/api/stacks/vols/up"))[1] is None
        assert "vols_data" in volumes()
        assert (await streamed(client, "/api/stacks/vols/down", {"volumes": False}))[1] is None
        assert project_containers(moord, "vols") == [] and "vols_data" in volumes()
        assert (await streamed(client, "/api/stacks/vols/up"))[1] is None
        assert (await client.delete("/api/stacks/vols?volumes=1")).status == 204
        assert "vols_data" not in volumes()
        assert not (data_dir / "stacks" / "vols").exists()

    run_with_client(moord, data_dir, body)
