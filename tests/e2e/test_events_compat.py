"""Events from a real moord as Docker 20.10 publishes them (each checked with ``docker events --format
'{{json .}}'`` against a private dockerd): top, exec_create/start/die, commit with its image's tag, image
tag/untag/delete, the default network's connect/disconnect at start and exit, prunes, and ``since``/``until``
windows that keep a container's create/start/die sequence."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from typing import Any

import pytest

from e2e.containerhelpers import moor, moord, ok  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

pytestmark = pytest.mark.root


def get(daemon: DaemonProcess, path: str) -> tuple[int, bytes]:
    connection = UnixHTTPConnection(daemon.socket, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def events_between(daemon: DaemonProcess, since: str, until: str, **filters: list[str]) -> list[dict[str, Any]]:
    query = f"since={since}&until={until}"
    if filters:
        query += "&filters=" + urllib.parse.quote(json.dumps(filters))
    status, data = get(daemon, f"/events?{query}")
    assert status == 200, data
    return [json.loads(line) for line in data.splitlines()]


def now() -> str:
    nanos = time.time_ns()
    return f"{nanos // 10**9}.{nanos % 10**9:09d}"


def test_a_containers_life_is_published_as_dockers(moord: DaemonProcess) -> None:
    since = now()
    name = f"ev{secrets.token_hex(3)}"
    container = ok(moor(moord, "run", "-d", "--name", name, "--label", "L=v", "busybox", "sleep", "60")).strip()
    try:
        ok(moor(moord, "top", name))
        ok(moor(moord, "exec", name, "true"))
        image = ok(moor(moord, "commit", name, f"{name}img:1")).strip()
    finally:
        ok(moor(moord, "rm", "-f", name))
    time.sleep(0.5)
    events = events_between(moord, since, now())
    mine = [e for e in events if container in (e["Actor"]["ID"], e["Actor"]["Attributes"].get("container"))]
    actions = [(e["Type"], e["Action"]) for e in mine]
    for wanted in (("container", "create"), ("network", "connect"), ("container", "start"), ("container", "top"),
                   ("container", "exec_create: true "), ("container", "exec_start: true "),
                   ("container", "exec_die"), ("container", "commit"), ("container", "die"),
                   ("network", "disconnect"), ("container", "destroy")):
        assert wanted in actions, (wanted, actions)
    assert actions.index(("container", "create")) < actions.index(("network", "connect")) \
        < actions.index(("container", "start")) < actions.index(("container", "die")) \
        < actions.index(("container", "destroy"))
    exec_die = next(e for e in mine if e["Action"] == "exec_die")
    assert exec_die["Actor"]["Attributes"]["exitCode"] == "0" and exec_die["Actor"]["Attributes"]["L"] == "v"
    commit = next(e for e in mine if e["Action"] == "commit")
    assert commit["Actor"]["Attributes"]["imageID"] == image
    assert commit["Actor"]["Attributes"]["imageRef"] == f"{name}img:1"
    tag = next(e for e in events if e["Type"] == "image" and e["Action"] == "tag")
    assert tag["Actor"] == {"ID": image, "Attributes": {"L": "v", "name": f"{name}img:1"}}
    connect = next(e for e in mine if e["Action"] == "connect")
    assert connect["Actor"]["Attributes"] == {"container": container, "name": "bridge", "type": "bridge"}
    ok(moor(moord, "rmi", f"{name}img:1"))


def test_image_tag_untag_and_delete(moord: DaemonProcess) -> None:
    since = now()
    name = f"evtag{secrets.token_hex(3)}"
    ok(moor(moord, "tag", "busybox", f"{name}:one"))
    ok(moor(moord, "rmi", f"{name}:one"))
    busybox = json.loads(ok(moor(moord, "image", "inspect", "busybox")))[0]["Id"]
    events = events_between(moord, since, now(), type=["image"])
    assert [(e["Action"], e["id"], e["Actor"]["Attributes"]["name"]) for e in events] == [
        ("tag", busybox, f"{name}:one"), ("untag", busybox, busybox)]


def test_prunes_publish_their_events(moord: DaemonProcess) -> None:
    since = now()
    network = f"evprune{secrets.token_hex(3)}"
    network_id = ok(moor(moord, "network", "create", network)).strip()
    ok(moor(moord, "network", "prune", "-f"))
    ok(moor(moord, "container", "prune", "-f"))
    events = events_between(moord, since, now())
    actions = [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in events]
    assert actions.index(("network", "destroy", network_id)) < actions.index(("network", "prune", ""))
    prune = next(e for e in events if e["Type"] == "container" and e["Action"] == "prune")
    assert prune["status"] == "prune" and "id" not in prune and prune["Actor"]["Attributes"]["reclaimed"]


def test_a_window_from_the_create_to_the_die_keeps_the_whole_sequence(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "run", "-d", "busybox", "true")).strip()
    ok(moor(moord, "wait", container))
    try:
        kept = events_between(moord, "0", now(), container=[container])
        create = next(e for e in kept if e["Action"] == "create")
        die = next(e for e in kept if e["Action"] == "die")
        since = f"{create['timeNano'] // 10**9}.{create['timeNano'] % 10**9:09d}"
        until = f"{die['timeNano'] // 10**9}.{die['timeNano'] % 10**9:09d}"
        window = events_between(moord, since, until, container=[container])
        assert [e["Action"] for e in window] == ["create", "start", "die"]
    finally:
        ok(moor(moord, "rm", "-f", container))


def test_since_after_until_is_refused_as_docker_does(moord: DaemonProcess) -> None:
    status, data = get(moord, "/events?since=200&until=100")
    assert status == 400
    assert json.loads(data) == {"message": "`since` time (200) cannot be after `until` time (100)"}


def test_stop_and_forced_removal_publish_each_signal_they_send(moord: DaemonProcess) -> None:
    since = now()
    stopped = ok(moor(moord, "run", "-d", "busybox", "sleep", "60")).strip()
    removed = ok(moor(moord, "run", "-d", "busybox", "sleep", "60")).strip()
    try:
        ok(moor(moord, "stop", "-t", "1", stopped))  # sleep as PID 1 ignores TERM: KILL follows
        ok(moor(moord, "rm", "-f", removed))
    finally:
        moor(moord, "rm", "-f", stopped)
    events = events_between(moord, since, now(), type=["container"])
    signals = [(e["id"], e["Action"], e["Actor"]["Attributes"].get("signal")) for e in events
               if e["Action"] in ("kill", "stop", "destroy")]
    assert [s for s in signals if s[0] == stopped][:3] == [(stopped, "kill", "15"), (stopped, "kill", "9"),
                                                           (stopped, "stop", None)]
    assert [s for s in signals if s[0] == removed] == [(removed, "kill", "9"), (removed, "destroy", None)]


def test_a_health_probe_publishes_its_exec_events(moord: DaemonProcess) -> None:
    since = now()
    container = ok(moor(moord, "run", "-d", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep",
                        "60")).strip()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = events_between(moord, since, now(), container=[container])
            if any(e["Action"] == "health_status: healthy" for e in events):
                break
            time.sleep(0.5)
    finally:
        ok(moor(moord, "rm", "-f", container))
    actions = [e["Action"] for e in events]
    assert actions[actions.index("exec_create: /bin/sh -c true"):][:4] == [
        "exec_create: /bin/sh -c true", "exec_start: /bin/sh -c true", "exec_die", "health_status: healthy"]
