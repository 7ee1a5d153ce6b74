"""API versions: the range moord speaks, the errors' shape per version and the version gates of the shapes."""

from __future__ import annotations

import io
import tarfile

import pytest

from moor import API_VERSION, MIN_API_VERSION
from moor.api import versions
from moor.api.app import Application, error_response
from moor.api.http import BodyReader, Request, Response
from moor.api.router import Router
from moor.containers import legacycopy
from moor.errors import InvalidParameter


def _request(path: str) -> Request:
    return Request(method="GET", path=path, query={}, headers={}, body=BodyReader(io.BytesIO(b""), 0, False),
                   version="")


def _app() -> Application:
    router = Router()
    router.add("GET", "/echo", lambda request: Response(body=request.version.encode(), content_type="text/plain"))
    return Application(router)


def test_the_range_is_docker_20_10s_minimum_to_1_44() -> None:
    assert (API_VERSION, MIN_API_VERSION) == ("1.44", "1.12")
    assert versions.at_least("1.44", "1.44") and not versions.at_least("1.43", "1.44")
    assert versions.at_least("1.100", "1.44") and versions.at_least("2.0", "1.44")


@pytest.mark.parametrize(("path", "version"), [("/echo", "1.44"), ("/v1.44/echo", "1.44"), ("/v1.41/echo", "1.41"),
                                               ("/v1.12/echo", "1.12")])
def test_the_requested_version_reaches_the_route(path: str, version: str) -> None:
    answer = _app()(_request(path))
    assert isinstance(answer, Response) and answer.body == version.encode()


def test_versions_out_of_range_get_dockers_words() -> None:
    answer = _app()(_request("/v1.99/echo"))
    assert isinstance(answer, Response) and answer.status == 400
    assert answer.body == b'{"message": "client version 1.99 is too new. Maximum supported API version is 1.44"}\n'
    answer = _app()(_request("/v1.11/echo"))
    assert isinstance(answer, Response) and (answer.status, answer.content_type) == (400, "text/plain; charset=utf-8")
    assert answer.body == (b"client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade "
                           b"your client to a newer version\n")
    with pytest.raises(InvalidParameter):
        versions.check("0.9")


def test_errors_before_1_24_are_plain_text() -> None:
    for path in ("/v1.23/nope", "/v1.12/nope"):
        answer = _app()(_request(path))
        assert isinstance(answer, Response)
        assert (answer.status, answer.content_type, answer.body) == (404, "text/plain; charset=utf-8",
                                                                     b"page not found\n")
    for path in ("/v1.24/nope", "/nope", "/v1.44/nope"):
        answer = _app()(_request(path))
        assert isinstance(answer, Response) and answer.body == b'{"message": "page not found"}\n'
    assert error_response(409, "x", "1.20").body == b"x\n"


def test_gates_table_lists_each_change_once() -> None:
    keys = [(gate.since, gate.where) for gate in versions.GATES]
    assert len(keys) == len(set(keys))
    assert all(versions.parse(gate.since) <= versions.parse(API_VERSION) for gate in versions.GATES)


def test_image_rows_by_version() -> None:
    def row() -> dict[str, object]:
        return {"Id": "sha256:a", "RepoTags": [], "RepoDigests": [], "Size": 5}

    assert versions.image_summary(row(), "1.44") == {"Id": "sha256:a", "RepoTags": [], "RepoDigests": [], "Size": 5}
    assert versions.image_summary(row(), "1.43") == {"Id": "sha256:a", "RepoTags": [], "RepoDigests": [], "Size": 5,
                                                     "VirtualSize": 5}
    old = versions.image_summary(row(), "1.41")
    assert (old["RepoTags"], old["RepoDigests"], old["VirtualSize"]) == (["<none>:<none>"], ["<none>@<none>"], 5)
    tagged = versions.image_summary({"RepoTags": ["a:1"], "RepoDigests": [], "Size": 1}, "1.41")
    assert (tagged["RepoTags"], tagged["RepoDigests"]) == (["a:1"], [])
    assert "VirtualSize" not in versions.image_inspect({"Size": 3}, "1.44")
    assert versions.image_inspect({"Size": 3}, "1.43")["VirtualSize"] == 3


def test_disk_usage_by_version() -> None:
    def doc() -> dict[str, object]:
        return {"Images": [{"RepoTags": ["a:1"], "RepoDigests": [], "Size": 2}], "BuilderSize": 0,
                "BuildCache": [{"ID": "x", "Parent": "y"}, {"ID": "y", "Parent": ""}]}

    new = versions.disk_usage(doc(), "1.44")
    assert "BuilderSize" not in new and "VirtualSize" not in new["Images"][0]  # type: ignore[index]
    assert new["BuildCache"] == [{"ID": "x", "Parents": ["y"]}, {"ID": "y"}]
    old = versions.disk_usage(doc(), "1.41")
    assert old["BuilderSize"] == 0 and old["Images"][0]["VirtualSize"] == 2  # type: ignore[index]
    assert old["BuildCache"] == [{"ID": "x", "Parent": "y"}, {"ID": "y", "Parent": ""}]


def _inspect() -> dict[str, object]:
    return {"Id": "c", "HostConfig": {"KernelMemory": 0, "KernelMemoryTCP": 0, "Memory": 7, "CpuShares": 2,
                                      "CpusetCpus": "0", "VolumeDriver": ""},
            "Config": {"Image": "busybox"}, "NetworkSettings": {"Networks": {"bridge": {}}, "IPAddress": ""},
            "Mounts": [{"Destination": "/data", "Source": "/v/_data", "RW": False}]}


def test_container_inspect_by_version() -> None:
    new = versions.container_inspect(_inspect(), "1.44")
    assert "KernelMemory" not in new["HostConfig"] and "Networks" in new["NetworkSettings"]  # type: ignore[operator]
    assert versions.container_inspect(_inspect(), "1.41")["HostConfig"]["KernelMemoryTCP"] == 0  # type: ignore[index]
    v120 = versions.container_inspect(_inspect(), "1.20")
    assert "Networks" not in v120["NetworkSettings"] and "Mounts" in v120  # type: ignore[operator]
    # v1p20's own Config fields, shown even when empty (Docker 20.10 at /v1.20: NetworkDisabled false too)
    assert v120["Config"] == {"Image": "busybox", "ExposedPorts": None, "MacAddress": "", "NetworkDisabled": False,
                              "VolumeDriver": ""}
    v119 = versions.container_inspect(_inspect(), "1.19")
    assert "Mounts" not in v119 and v119["Volumes"] == {"/data": "/v/_data"} and v119["VolumesRW"] == {"/data": False}
    assert v119["Config"] == {"Image": "busybox", "ExposedPorts": None, "MacAddress": "", "NetworkDisabled": False,
                              "VolumeDriver": "", "Memory": 7, "MemorySwap": 0, "CpuShares": 2, "Cpuset": "0"}


def test_container_create_by_version() -> None:
    body = {"Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 5},
            "HostConfig": {"Annotations": {"a": "b"}, "ConsoleSize": [1, 2],
                           "Mounts": [{"Type": "bind", "Source": "/x", "Target": "/y",
                                       "BindOptions": {"CreateMountpoint": True}}]},
            "NetworkingConfig": {"EndpointsConfig": {"n1": {"MacAddress": "02:42:ac:11:00:09"}}}}
    assert versions.container_create(body, "1.44") == body
    v143 = versions.container_create(body, "1.43")
    assert v143["Healthcheck"] == {"Test": ["CMD", "true"]} and v143["HostConfig"]["Annotations"] == {"a": "b"}
    assert v143["NetworkingConfig"]["EndpointsConfig"] == {"n1": {}}
    assert body["NetworkingConfig"]["EndpointsConfig"]["n1"]  # the caller's body is left as it was
    v141 = versions.container_create(body, "1.41")
    assert "Annotations" not in v141["HostConfig"] and "ConsoleSize" not in v141["HostConfig"]
    assert v141["HostConfig"]["Mounts"][0]["BindOptions"] == {}
    assert versions.container_create(body, "1.42")["HostConfig"]["Mounts"][0]["BindOptions"] == {
        "CreateMountpoint": True}
    two = {"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"n2": {}, "n1": {}}}}
    assert versions.container_create(two, "1.44") == two
    with pytest.raises(InvalidParameter, match="^Container cannot be connected to network endpoints: n1, n2$"):
        versions.container_create(two, "1.41")
    force = {"HostConfig": {"Mounts": [{"Type": "bind", "BindOptions": {"ReadOnlyForceRecursive": True}}]}}
    with pytest.raises(InvalidParameter, match="needs API v1.44 or newer"):
        versions.container_create(force, "1.43")


def test_request_gates() -> None:
    assert versions.exec_create({"Cmd": ["ls"], "ConsoleSize": [1, 2]}, "1.41") == {"Cmd": ["ls"]}
    assert versions.exec_create({"Cmd": ["ls"], "ConsoleSize": [1, 2]}, "1.42")["ConsoleSize"] == [1, 2]
    assert versions.stop_signal("USR1", "1.42") == "USR1" and versions.stop_signal("USR1", "1.41") == ""
    assert versions.legacy_image_filter("1.40") and not versions.legacy_image_filter("1.41")
    assert versions.kill_stopped_ok("1.19") and not versions.kill_stopped_ok("1.20")
    assert versions.ws_streams_chosen("1.42") and not versions.ws_streams_chosen("1.41")
    assert versions.ws_binary_frames("1.28") and not versions.ws_binary_frames("1.27")
    assert versions.start_body_allowed("1.23") and not versions.start_body_allowed("1.24")
    assert versions.legacy_copy("1.23") and not versions.legacy_copy("1.24")
    assert versions.logs_multiplexed_type("1.42") and not versions.logs_multiplexed_type("1.41")


def _tar(names: list[str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type, info.name = tarfile.DIRTYPE, name.rstrip("/")
                tar.addfile(info)
            else:
                info.size = len(name)
                tar.addfile(info, io.BytesIO(name.encode()))
    return out.getvalue()


def test_legacy_copy_puts_a_directorys_contents_at_the_top() -> None:
    data = _tar(["etc/", "etc/hostname", "etc/sub/", "etc/sub/x"])
    chunks = [data[i:i + 700] for i in range(0, len(data), 700)]
    out = b"".join(legacycopy.rebased(chunks, "etc"))
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        assert tar.getnames() == ["hostname", "sub", "sub/x"]
        member = tar.extractfile("hostname")
        assert member is not None and member.read() == b"etc/hostname"
    assert b"".join(legacycopy.rebased([data], "")) == data
    assert legacycopy.is_directory({"mode": (1 << 31) | 0o755}) and not legacycopy.is_directory({"mode": 0o644})


def test_stats_and_info_by_version() -> None:
    sample = {"id": "c", "name": "/c", "read": "t", "networks": {
        "eth0": {"rx_bytes": 1, "tx_bytes": 2, "rx_packets": 3}, "eth1": {"rx_bytes": 10, "tx_dropped": 4}}}
    assert versions.stats(sample, "1.21") is sample
    assert versions.stats(sample, "1.20") == {"read": "t", "network": {
        "rx_bytes": 11, "rx_packets": 3, "rx_errors": 0, "rx_dropped": 0, "tx_bytes": 2, "tx_packets": 0,
        "tx_errors": 0, "tx_dropped": 4}}
    assert versions.stats_one_shot(True, "1.41") and not versions.stats_one_shot(True, "1.40")
    assert versions.info({}, "1.24") == {"ExecutionDriver": "<not supported>", "SecurityOptions": []}
    assert versions.info({}, "1.25") == {} and versions.info({}, "1.44") == {"CDISpecDirs": []}
    options = ["name=seccomp,profile=default", "name=cgroupns"]
    assert versions.info({"SecurityOptions": options}, "1.24")["SecurityOptions"] == ["seccomp", "cgroupns"]
    assert versions.info({"SecurityOptions": options}, "1.25")["SecurityOptions"] == options


def test_wait_condition_by_version() -> None:
    known = ("not-running", "next-exit", "removed")
    assert versions.wait_condition("removed", known, "1.29") == "not-running"
    assert versions.wait_condition("removed", known, "1.30") == "removed"
    assert versions.wait_condition("", known, "1.44") == "not-running"
    assert versions.wait_condition("bogus", known, "1.41") == "not-running"
    with pytest.raises(InvalidParameter, match='^invalid condition: "bogus"$'):
        versions.wait_condition("bogus", known, "1.42")


def test_dns_names_from_1_44() -> None:
    def doc() -> dict[str, object]:
        return {"Id": "0123456789abcdef", "Name": "/web", "Config": {"Hostname": "host1"},
                "NetworkSettings": {"Networks": {
            "bridge": {"EndpointID": "e1", "Aliases": None},
            "mynet": {"EndpointID": "e2", "Aliases": ["db", "0123456789ab"]},
            "later": {"EndpointID": "", "Aliases": ["x"]}}}}

    networks = versions.container_inspect(doc(), "1.44")["NetworkSettings"]["Networks"]  # type: ignore[index]
    assert networks["bridge"]["DNSNames"] is None and networks["later"]["DNSNames"] is None
    assert networks["mynet"]["DNSNames"] == ["web", "db", "0123456789ab", "host1"]
    old = versions.container_inspect(doc(), "1.43")["NetworkSettings"]["Networks"]  # type: ignore[index]
    assert all("DNSNames" not in endpoint for endpoint in old.values())


def test_disk_usage_types_from_1_42() -> None:
    def doc() -> dict[str, object]:
        return {"LayersSize": 9, "Images": [], "Containers": [], "Volumes": [], "BuildCache": []}

    assert versions.disk_usage(doc(), "1.42", ["volume", "image"]) == {
        "LayersSize": 9, "Images": [], "Containers": None, "Volumes": [], "BuildCache": None}
    assert versions.disk_usage(doc(), "1.41", ["volume"])["Containers"] == []
    with pytest.raises(InvalidParameter, match="^unknown object type: bogus$"):
        versions.disk_usage(doc(), "1.44", ["bogus"])


def test_old_clients_host_config_at_create() -> None:
    body = {"Image": "busybox", "HostConfig": {"AutoRemove": True, "KernelMemoryTCP": 5, "Mounts": [
        {"Type": "bind", "Source": "/x", "Target": "/y", "BindOptions": {"NonRecursive": True}}]}}
    v124 = versions.container_create(body, "1.24")["HostConfig"]
    assert v124["AutoRemove"] is False and v124["IpcMode"] == "shareable" and "KernelMemoryTCP" not in v124
    assert v124["Mounts"][0]["BindOptions"] == {}
    v139 = versions.container_create({"Image": "busybox", "HostConfig": {"IpcMode": "host", "AutoRemove": True}},
                                     "1.39")["HostConfig"]
    assert v139 == {"IpcMode": "host", "AutoRemove": True}
    assert "HostConfig" not in versions.container_create({"Image": "busybox"}, "1.24")  # none given: none made
    v140 = versions.container_create(body, "1.40")["HostConfig"]
    assert "IpcMode" not in v140 and v140["KernelMemoryTCP"] == 5 and v140["AutoRemove"] is True


def test_kernel_memory_cpu_shares_and_update_by_version() -> None:
    body = {"Image": "busybox", "HostConfig": {"KernelMemory": 4 << 20, "CpuShares": 1}}
    assert "KernelMemory" not in versions.container_create(body, "1.42")["HostConfig"]
    assert versions.container_create(body, "1.41")["HostConfig"]["KernelMemory"] == 4 << 20
    assert versions.container_create(body, "1.18")["HostConfig"]["CpuShares"] == 2
    assert versions.container_create(body, "1.19")["HostConfig"]["CpuShares"] == 1
    update = {"PidsLimit": 10, "KernelMemory": 5, "Memory": 6}
    assert versions.container_update(update, "1.39") == {"KernelMemory": 5, "Memory": 6}
    assert versions.container_update(update, "1.41") == update
    assert versions.container_update(update, "1.42") == {"PidsLimit": 10, "Memory": 6}


def test_container_wide_mac_from_1_44() -> None:
    body = {"Image": "busybox", "MacAddress": "02:42:ac:11:00:09"}
    assert versions.create_warnings(body, "1.44") == [versions.MAC_DEPRECATED]
    assert versions.create_warnings(body, "1.43") == [] and versions.create_warnings({"Image": "b"}, "1.44") == []
    clash = {**body, "NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "02:42:ac:11:00:0a"}}}}
    with pytest.raises(InvalidParameter, match="^the container-wide MAC address should match"):
        versions.container_create(clash, "1.44")
    same = {**body, "NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "02:42:ac:11:00:09"}}}}
    assert versions.container_create(same, "1.44") == same
    assert versions.container_create({**clash, "HostConfig": {"NetworkMode": "host"}}, "1.44")


@pytest.mark.parametrize(("path", "status", "text"), [
    ("/v1/echo", 400, b"client version 1 is too old"),  # plain text: below 1.24
    ("/v1.41.0/echo", 200, b"1.41.0"),
    ("/v01.041/echo", 200, b"01.041"),
    ("/v1.41./echo", 200, b"1.41."),
    ("/v1..41/echo", 400, b"client version 1..41 is too old"),
    ("/v./echo", 400, b"client version . is too old"),
    ("/v1.44.1/echo", 400, b'{"message": "client version 1.44.1 is too new'),
    ("/v2/echo", 400, b'{"message": "client version 2 is too new'),
])
def test_odd_version_prefixes_read_as_dockers(path: str, status: int, text: bytes) -> None:
    """Docker's ``/v{version:[0-9.]+}`` compared part by part, a part that is no number counting as 0."""
    answer = _app()(_request(path))
    assert isinstance(answer, Response) and answer.status == status and answer.body.startswith(text), answer.body
