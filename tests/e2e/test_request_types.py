"""Hostile request bodies and query parameters against a real moord: each is a 400 with Docker's message (the
Go decoder's for a wrong JSON type, as dockerd 20.10 words it), nothing is created, and the daemon still serves.

The messages were recorded from dockerd 20.10.24 (Debian's docker.io) with the same requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from e2e.containerhelpers import moor, moord, ok  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

J = "json: cannot unmarshal "


def call(daemon: DaemonProcess, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One request; the status and the decoded JSON answer (or the text)."""
    connection = UnixHTTPConnection(daemon.socket, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    connection.request(method, "/v1.41" + path, body=data,
                       headers={"Content-Type": "application/json"} if data is not None else {})
    response = connection.getresponse()
    text = response.read().decode(errors="replace")
    connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def objects(daemon: DaemonProcess) -> tuple[int, int, int]:
    """How many containers, networks and volumes the daemon has."""
    return (len(call(daemon, "GET", "/containers/json?all=1")[1]), len(call(daemon, "GET", "/networks")[1]),
            len(call(daemon, "GET", "/volumes")[1]["Volumes"] or []))


BODIES = [
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Privileged": "false"}},
     J + "string into Go struct field HostConfig.HostConfig.Privileged of type bool"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"CapAdd": {"SYS_ADMIN": True}}},
     J + "object into Go struct field HostConfig.HostConfig.CapAdd of type string"),
    ("/containers/create", {"Image": 123},
     J + "number into Go struct field ContainerConfigWrapper.Image of type string"),
    ("/containers/create", {"Image": "busybox", "HostConfig": "x"},
     J + "string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig"),
    ("/containers/create", {"Image": "busybox", "Env": [1]},
     J + "number into Go struct field ContainerConfigWrapper.Env of type string"),
    ("/containers/create", {"Image": "busybox", "Labels": ["a"]},
     J + "array into Go struct field ContainerConfigWrapper.Labels of type map[string]string"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}},
     J + "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"PortBindings": {"abc/tcp": [{"HostPort": "80"}]}}},
     'invalid port specification: "abc"'),
    ("/containers/create",
     {"Image": "busybox", "ExposedPorts": {"abc/tcp": {}}, "HostConfig": {"PublishAllPorts": True}},
     'invalid port specification: "abc"'),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Memory": 1000}}, "Minimum memory limit allowed is 6MB"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"OomScoreAdj": -1001}},
     "Invalid value -1001, range for oom score adj is [-1000, 1000]"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"ShmSize": -1}}, "SHM size can not be less than 0"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Tmpfs": {"/x": ""}, "Binds": ["/tmp:/x"]}},
     "Duplicate mount point: /x"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "foo", "Target": "/x"}]}},
     'invalid mount config for type "foo": mount type unknown'),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"ExtraHosts": ["a:1.2.3.4\nevil"]}},
     'invalid IP address in add-host: "1.2.3.4\\nevil"'),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"ExtraHosts": ["a\n6.6.6.6 evil:1.2.3.4"]}},
     'bad format for add-host: "a\\n6.6.6.6 evil:1.2.3.4"'),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Dns": ["1.2.3.4\nnameserver 6.6.6.6"]}},
     "1.2.3.4\nnameserver 6.6.6.6 is not an ip address"),
    ("/containers/create", {"Image": "busybox", "Hostname": "a\nb"}, "invalid hostname format: a\nb"),
    ("/containers/create",
     {"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "1.2.3.4\n", "HostPort": "80"}]}}},
     "Invalid ip address: 1.2.3.4\n"),
    ("/containers/create?name=web%0A", {"Image": "busybox"},
     "Invalid container name (web\n), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    ("/containers/create", [1], J + "array into Go value of type runconfig.ContainerConfigWrapper"),
    ("/networks/create", {"Name": 123}, J + "number into Go struct field NetworkCreateRequest.Name of type string"),
    ("/networks/create", {"Name": "n1", "Internal": "true"},
     J + "string into Go struct field NetworkCreateRequest.Internal of type bool"),
    ("/networks/bridge/connect", {"Container": None}, 'invalid name or ID supplied: ""'),
    ("/networks/bridge/disconnect", {}, 'invalid name or ID supplied: ""'),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Runtime": "a b"}}, "Unknown runtime specified a b"),
    ("/containers/create", {"Image": "busybox", "WorkingDir": "rel"},
     "the working directory 'rel' is invalid, it needs to be an absolute path"),
    ("/volumes/create", {"Name": "v", "Labels": ["a"]},
     J + "array into Go struct field VolumeCreateBody.Labels of type map[string]string"),
]


@pytest.mark.parametrize(("path", "body", "message"), BODIES, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(BODIES)])
def test_hostile_bodies_are_400_with_dockers_message_and_make_nothing(moord: DaemonProcess, path: str, body: Any,
                                                                     message: str) -> None:
    before = objects(moord)
    status, answer = call(moord, "POST", path, body)
    assert (status, answer) == (400, {"message": message})
    assert objects(moord) == before


@pytest.mark.parametrize(("path", "message"), [
    ("/containers/{c}/exec", "No exec command specified"),
    ("/networks/bridge/connect", 'invalid name or ID supplied: ""'),
    ("/networks/bridge/disconnect", 'invalid name or ID supplied: ""'),
])
@pytest.mark.parametrize("raw", [b"null", b""])
def test_empty_or_null_bodies_are_400s_in_dockers_words(moord: DaemonProcess, sleeper: str, path: str, message: str,
                                                        raw: bytes) -> None:
    """A null exec body was a 500 (None.get)."""
    assert call(moord, "POST", path.format(c=sleeper), raw=raw) == (400, {"message": message})


@pytest.mark.parametrize("raw", [b"not json", b"{", b"\"x\"", b"1"])
def test_bodies_that_are_not_json_objects_are_400(moord: DaemonProcess, raw: bytes) -> None:
    before = objects(moord)
    for path in ("/containers/create", "/networks/create", "/volumes/create"):
        status, answer = call(moord, "POST", path, raw=raw)
        assert status == 400, (path, answer)
    assert objects(moord) == before


@pytest.fixture(scope="module")
def sleeper(moord: DaemonProcess) -> Iterator[str]:
    ok(moor(moord, "run", "-d", "--name", "typed-sleeper", "busybox", "sleep", "1000"))
    yield "typed-sleeper"
    moor(moord, "rm", "-f", "typed-sleeper")


@pytest.mark.parametrize(("method", "path", "body", "message"), [
    ("POST", "/containers/{c}/stop?t=abc", None, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("POST", "/containers/{c}/restart?t=abc", None, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("POST", "/containers/{c}/resize?h=-1&w=10", None, 'strconv.ParseUint: parsing "-1": invalid syntax'),
    ("GET", "/containers/json?limit=abc", None, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("GET", "/containers/{c}/logs?stdout=1&since=abc", None, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("GET", "/containers/{c}/archive?path=" + quote("/etc\x00x"), None, "invalid path: the path contains a NUL byte"),
    ("POST", "/containers/{c}/exec", {"Cmd": ["ls"], "Privileged": "true"},
     J + "string into Go struct field ExecConfig.Privileged of type bool"),
    ("POST", "/containers/{c}/exec", {"Cmd": ["ls"], "DetachKeys": "a\x00b"}, "Invalid escape keys (a\x00b) provided"),
    ("POST", "/containers/{c}/exec", {"Cmd": ["ls"], "Env": ["A=\x00"]},
     'invalid Env: "A=\\u0000" contains a NUL byte'),
    ("POST", "/containers/{c}/update", {"Memory": "1"},
     J + "string into Go struct field UpdateConfig.Memory of type int64"),
])
def test_hostile_queries_and_bodies_on_a_running_container(moord: DaemonProcess, sleeper: str, method: str, path: str,
                                                          body: Any, message: str) -> None:
    status, answer = call(moord, method, path.format(c=sleeper), body)
    assert (status, answer) == (400, {"message": message})
    assert call(moord, "GET", f"/containers/{sleeper}/json")[1]["State"]["Running"] is True


def test_logs_tail_that_is_not_a_count_means_all(moord: DaemonProcess, sleeper: str) -> None:
    status, _ = call(moord, "GET", f"/containers/{sleeper}/logs?stdout=1&tail=abc")
    assert status == 200


def test_a_privileged_string_never_makes_a_privileged_container(moord: DaemonProcess) -> None:
    before = objects(moord)
    for value in ("false", "true", 0, 1, [], {}):
        status, _ = call(moord, "POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Privileged": value}})
        assert status == 400
    assert objects(moord) == before
    status, answer = call(moord, "POST", "/containers/create?name=typed-plain",
                          {"Image": "busybox", "hostconfig": {"privileged": False}})  # Go's case-insensitive names
    assert status == 201, answer
    assert call(moord, "GET", "/containers/typed-plain/json")[1]["HostConfig"]["Privileged"] is False
    ok(moor(moord, "rm", "typed-plain"))


def test_a_paused_container_is_neither_started_nor_execed(moord: DaemonProcess) -> None:
    ok(moor(moord, "run", "-d", "--name", "typed-paused", "busybox", "sleep", "1000"))
    try:
        ok(moor(moord, "pause", "typed-paused"))
        assert call(moord, "POST", "/containers/typed-paused/start") == (
            409, {"message": "cannot start a paused container, try unpause instead"})
        assert call(moord, "POST", "/containers/typed-paused/exec", {"Cmd": ["ls"]}) == (
            409, {"message": "Container typed-paused is paused, unpause the container before exec"})
    finally:
        moor(moord, "rm", "-f", "typed-paused")


def test_an_unknown_wait_condition_waits_for_not_running_as_docker(moord: DaemonProcess) -> None:
    """It was refused inside the answer's stream: a traceback and a connection closed without an answer."""
    ok(moor(moord, "create", "--name", "typed-waited", "busybox", "true"))
    try:
        status, answer = call(moord, "POST", "/containers/typed-waited/wait?condition=bogus")
        assert (status, answer) == (200, {"StatusCode": 0, "Error": None})
        assert call(moord, "POST", "/containers/typed-waited/kill?signal=SIGNOPE") == (
            400, {"message": "Invalid signal: SIGNOPE"})
    finally:
        moor(moord, "rm", "-f", "typed-waited")


def test_add_host_host_gateway_names_the_default_bridges_gateway(moord: DaemonProcess) -> None:
    """Validation lets ``host-gateway`` through (Docker 20.10 has it); it was written into /etc/hosts as is."""
    gateway = call(moord, "GET", "/networks/bridge")[1]["IPAM"]["Config"][0]["Gateway"]
    hosts = ok(moor(moord, "run", "--rm", "--add-host", "gw:host-gateway", "busybox", "grep", "gw", "/etc/hosts"))
    assert hosts.split() == [gateway, "gw"]


@pytest.mark.parametrize("name", ["bad\n", "bad\nname", "a"])
def test_volume_names_with_a_newline_are_refused(moord: DaemonProcess, name: str) -> None:
    """A volume name must match its pattern to the end of the text (a trailing newline does not pass)."""
    before = objects(moord)
    status, answer = call(moord, "POST", "/volumes/create", {"Name": name})
    assert status == 400 and "includes invalid characters for a local volume name" in answer["message"]
    assert objects(moord) == before


def test_force_none_is_false_as_in_docker(moord: DaemonProcess, sleeper: str) -> None:
    status, answer = call(moord, "DELETE", f"/containers/{sleeper}?force=none")
    assert status == 409 and "cannot remove a running container" in answer["message"]
    assert call(moord, "GET", f"/containers/{sleeper}/json")[1]["State"]["Running"] is True
