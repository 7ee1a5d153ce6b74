"""Objects as Docker 20.10 answers for them: volumes, networks, images, container settings (issue 15).

Each expectation was read off a private dockerd 20.10 (``moor.testing.dockerd.private_dockerd``) first.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator

import docker
import pytest

from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from e2e.imagehelpers import REPO
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture
def client(moord: DaemonProcess) -> Iterator[docker.APIClient]:
    """docker-py's low-level client at API 1.41, as Docker 20.10 serves it."""
    api = docker.APIClient(base_url=moord.host, version="1.41", timeout=60)
    try:
        yield api
    finally:
        api.close()


def ok(daemon: DaemonProcess, *args: str) -> str:
    result = moor(daemon, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_volume_prune_at_1_41_removes_named_volumes_and_answers_a_list(client: docker.APIClient) -> None:
    """Docker 20.10: every unused volume goes (not only anonymous ones); ``VolumesDeleted`` is a list, ``[]``
    when nothing went; ``label!=`` keeps the labelled ones."""
    client.create_volume("objkeep", labels={"keep": "1"})
    client.create_volume("objgo")
    report = client.prune_volumes(filters={"label!": ["keep=1"]})
    assert report == {"VolumesDeleted": ["objgo"], "SpaceReclaimed": 0}
    assert client.prune_volumes(filters={"label!": ["keep"]}) == {"VolumesDeleted": [], "SpaceReclaimed": 0}
    assert client.prune_volumes()["VolumesDeleted"] == ["objkeep"]


def test_host_config_runtime_is_runc_and_others_are_refused(moord: DaemonProcess, client: docker.APIClient) -> None:
    """``HostConfig.Runtime`` reads ``runc`` (left out, as Docker, when the create body had no HostConfig, as
    docker-py's without host_config); ``--runtime runc`` is accepted, any other name is Docker's error."""
    container = client.create_container("busybox", "true", host_config=client.create_host_config())["Id"]
    bare = client.create_container("busybox", "true")["Id"]
    try:
        assert client.inspect_container(container)["HostConfig"]["Runtime"] == "runc"
        assert "Runtime" not in client.inspect_container(bare)["HostConfig"]
        named = ok(moord, "create", "--runtime", "runc", "busybox", "true").strip()
        assert ok(moord, "inspect", "-f", "{{.HostConfig.Runtime}}", named) == "runc\n"
        ok(moord, "rm", named)
        refused = moor(moord, "create", "--runtime", "foo", "busybox", "true")
        assert refused.returncode == 1  # docker create: 1, docker run: 125
        assert refused.stderr == "Error response from daemon: Unknown runtime specified foo\n"
        refused = moor(moord, "run", "--rm", "--runtime", "foo", "busybox", "true")
        assert refused.returncode == 125 and "Unknown runtime specified foo" in refused.stderr
    finally:
        client.remove_container(container, force=True)
        client.remove_container(bare, force=True)


def test_max_file_without_max_size_is_accepted(moord: DaemonProcess) -> None:
    """Docker 20.10 creates and runs a container with ``--log-opt max-file=3`` alone; its logs read back."""
    result = moor(moord, "run", "--name", "objmaxfile", "--log-opt", "max-file=3", "busybox", "sh", "-c",
                  "echo hi; echo there")
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hi\nthere\n"
        assert ok(moord, "logs", "objmaxfile") == "hi\nthere\n"
        config = json.loads(ok(moord, "inspect", "-f", "{{json .HostConfig.LogConfig}}", "objmaxfile"))
        assert config == {"Type": "json-file", "Config": {"max-file": "3"}}
    finally:
        moor(moord, "rm", "-f", "objmaxfile")


def test_create_flags_of_docker_20_10(moord: DaemonProcess, tmp_path) -> None:
    """The create/run flags moor lacked, compared with ``docker create --help`` of the 20.10 CLI, land in the
    HostConfig fields the docker CLI fills; ``--cidfile`` and ``--label-file`` act as Docker's."""
    labels = tmp_path / "labels"
    labels.write_text("# a comment\ntier=db\n\nbare\n")
    cidfile = tmp_path / "cid"
    container = ok(moord, "create", "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "private",
                   "--oom-score-adj", "5", "--memory-swappiness", "10", "--cgroup-parent", "objparent",
                   "--device-cgroup-rule", "c 1:3 mr", "--label-file", str(labels), "--label", "tier=web",
                   "--cidfile", str(cidfile), "--isolation", "default", "busybox", "true").strip()
    try:
        assert cidfile.read_text() == container
        host = json.loads(ok(moord, "inspect", "-f", "{{json .HostConfig}}", container))
        assert (host["PidMode"], host["IpcMode"], host["UTSMode"], host["CgroupnsMode"]) == (
            "host", "host", "host", "private")
        assert (host["OomScoreAdj"], host["MemorySwappiness"], host["CgroupParent"]) == (5, 10, "objparent")
        assert host["DeviceCgroupRules"] == ["c 1:3 mr"] and host["Isolation"] == "default"
        assert json.loads(ok(moord, "inspect", "-f", "{{json .Config.Labels}}", container)) == {
            "tier": "web", "bare": ""}
        again = moor(moord, "create", "--cidfile", str(cidfile), "busybox", "true")
        assert again.returncode == 125 and again.stderr == (
            f"container ID file found, make sure the other container isn't running or delete {cidfile}\n")
        bad = moor(moord, "create", "--device-cgroup-rule", "c_1:3_mr", "busybox", "true")
        assert bad.returncode == 125 and bad.stderr == (
            'invalid argument "c_1:3_mr" for "--device-cgroup-rule" flag: invalid device cgroup format '
            "'c_1:3_mr'\n")
        bad = moor(moord, "create", "--device-read-bps", "foo", "busybox", "true")
        assert bad.returncode == 125
        assert bad.stderr == 'invalid argument "foo" for "--device-read-bps" flag: bad format: foo\n'
    finally:
        moor(moord, "rm", "-f", container)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", hierarchy, "objparent")
            if os.path.isdir(path):
                os.rmdir(path)


def _commit_child(daemon: DaemonProcess, tag: str) -> str:
    """A one-layer child of busybox, committed (its Parent is busybox), its ID."""
    ok(daemon, "run", "--name", "objchild", "busybox", "sh", "-c", "echo x > /x")
    try:
        ok(daemon, "commit", "objchild", tag)
    finally:
        ok(daemon, "rm", "objchild")
    return ok(daemon, "inspect", "-f", "{{.Id}}", tag).strip()


def test_save_load_keeps_parents_and_last_tag_time(moord: DaemonProcess, tmp_path) -> None:
    """Docker 20.10 writes ``Parent`` in manifest.json for an image whose parent is in the same archive and
    sets it again at load; load never changes LastTagTime (a new image reads 0001-01-01T00:00:00Z)."""
    base = ok(moord, "inspect", "-f", "{{.Id}}", "busybox").strip()
    child = _commit_child(moord, "objparent:1")
    archive = tmp_path / "both.tar"
    ok(moord, "save", "-o", str(archive), "busybox", "objparent:1")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert [entry.get("Parent") for entry in manifest] == [None, base]
    alone = tmp_path / "alone.tar"
    ok(moord, "save", "-o", str(alone), "objparent:1")
    with tarfile.open(alone) as tar:
        assert "Parent" not in json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
    tagged_at = ok(moord, "inspect", "-f", "{{.Metadata.LastTagTime}}", "busybox")
    ok(moord, "rmi", "objparent:1")
    assert ok(moord, "load", "-i", str(archive)) == "Loaded image: busybox:latest\nLoaded image: objparent:1\n"
    try:
        assert ok(moord, "inspect", "-f", "{{.Id}} {{.Parent}}", "objparent:1") == f"{child} {base}\n"
        assert ok(moord, "inspect", "-f", "{{.Metadata.LastTagTime}}", "objparent:1") == "0001-01-01T00:00:00Z\n"
        assert ok(moord, "inspect", "-f", "{{.Metadata.LastTagTime}}", "busybox") == tagged_at
    finally:
        moor(moord, "rmi", "objparent:1")


def test_legacy_v1_archive_loads(moord: DaemonProcess, tmp_path) -> None:
    """A ``docker save`` archive of before Docker 1.10 (``repositories``, ``<id>/json``, ``<id>/layer.tar``, no
    manifest.json) loads as Docker 20.10 loads it: one image per v1 ID, each the parent of the next, configs
    made from the v1 json, no "Loaded image" lines (the IDs matched Docker's for the same archive)."""
    _commit_child(moord, "objlegacy:1")
    archive = tmp_path / "new.tar"
    ok(moord, "save", "-o", str(archive), "objlegacy:1")
    ok(moord, "rmi", "objlegacy:1")
    legacy = tmp_path / "legacy.tar"
    with tarfile.open(archive) as source, tarfile.open(legacy, "w") as target:
        for member in source.getmembers():
            if member.name == "manifest.json" or (member.name.endswith(".json") and "/" not in member.name):
                continue
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    assert ok(moord, "load", "-i", str(legacy)) == ""
    try:
        loaded = json.loads(ok(moord, "inspect", "objlegacy:1"))[0]
        assert len(loaded["RootFS"]["Layers"]) == 2 and loaded["Config"]["Cmd"] == ["sh", "-c", "echo x > /x"]
        middle = json.loads(ok(moord, "inspect", loaded["Parent"]))[0]
        assert middle["RootFS"]["Layers"] == loaded["RootFS"]["Layers"][:1] and middle["Parent"] == ""
        assert middle["Created"] == "1970-01-01T00:00:00Z" and middle["RepoTags"] == []
        history = ok(moord, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "objlegacy:1")
        assert history == "sh -c echo x > /x\n\n"
    finally:
        moor(moord, "rmi", "objlegacy:1")
        moor(moord, "image", "prune", "-f")


def test_load_of_data_that_is_no_tar(moord: DaemonProcess, client: docker.APIClient, tmp_path) -> None:
    """Docker 20.10 streams ``Error processing tar file(exit status 1): unexpected EOF`` (short data) or
    ``...: archive/tar: invalid tar header``; the docker CLI prints it alone and exits 1."""
    short = tmp_path / "short"
    short.write_bytes(b"notatar\n")
    refused = moor(moord, "load", "-i", str(short))
    assert (refused.returncode, refused.stderr) == (1, "Error processing tar file(exit status 1): unexpected EOF\n")
    answer = list(client.load_image(b"hello world, no tar " * 100))  # a 200 stream, as Docker's
    assert answer == [{"errorDetail": {"message": "Error processing tar file(exit status 1): archive/tar: invalid "
                                                  "tar header"},
                       "error": "Error processing tar file(exit status 1): archive/tar: invalid tar header"}]


@pytest.fixture
def rootfs_server(tmp_path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``/rootfs.tar`` (busybox's root filesystem); its base URL."""
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    (tmp_path / "rootfs.tar").write_bytes(rootfs)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_import_from_a_url(moord: DaemonProcess, rootfs_server: str) -> None:
    """``docker import URL``: the daemon downloads it (Docker 20.10's lines: ``Downloading from URL``, then the
    ID; the comment ``Imported from URL``); a 404 and a refused connection are Docker's errors."""
    url = f"{rootfs_server}/rootfs.tar"
    result = ok(moord, "import", url, "objurl:1")
    lines = result.splitlines()
    assert lines[0] == f"Downloading from {url}" and lines[1].startswith("sha256:") and len(lines) == 2
    try:
        assert ok(moord, "inspect", "-f", "{{.Id}} {{.Comment}}", "objurl:1") == f"{lines[1]} Imported from {url}\n"
        assert ok(moord, "run", "--rm", "objurl:1", "/bin/echo", "from the url") == "from the url\n"
    finally:
        moor(moord, "rmi", "objurl:1")
    missing = moor(moord, "import", f"{rootfs_server}/missing.tar")
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"Error response from daemon: failed to GET {rootfs_server}/missing.tar with "
                                     "status 404 File not found: ")
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    refused = moor(moord, "import", f"http://127.0.0.1:{port}/x.tar")
    assert refused.stderr == (f'Error response from daemon: Get "http://127.0.0.1:{port}/x.tar": dial tcp '
                              f"127.0.0.1:{port}: connect: connection refused\n")


def test_ipv6_network(moord: DaemonProcess) -> None:
    """``network create --ipv6 --subnet fd00:..../64`` as Docker 20.10: a picked IPv4 pool first and the IPv6 one
    in IPAM.Config, ``EnableIPv6``, the bridge holds the first address (the gateway), a container gets the next
    one (``GlobalIPv6Address``, ``IPv6Gateway``, prefix 64), a default route through the gateway, and reaches it;
    ``--ip6`` asks for one; only addresses of the test's own network are used."""
    network_id = ok(moord, "network", "create", "--ipv6", "--subnet", "fd00:6a:1::/64", "objv6").strip()
    try:
        shown = json.loads(ok(moord, "network", "inspect", "objv6"))[0]
        assert shown["EnableIPv6"] is True
        assert [pool["Subnet"] for pool in shown["IPAM"]["Config"]][1:] == ["fd00:6a:1::/64"]
        assert ":" not in shown["IPAM"]["Config"][0]["Subnet"]
        bridge = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", f"br-{network_id[:12]}"],
                                capture_output=True, text=True, check=True).stdout
        assert "inet6 fd00:6a:1::1/64 scope global" in bridge
        out = ok(moord, "run", "--rm", "--network", "objv6", "busybox", "sh", "-c",
                 "ip -6 -o addr show dev eth0 scope global; ip -6 route show default; ping6 -c 1 -W 5 fd00:6a:1::1")
        assert "inet6 fd00:6a:1::2/64 scope global" in out
        assert "default via fd00:6a:1::1 dev eth0" in out and "1 packets received" in out
        ok(moord, "run", "-d", "--name", "objv6c", "--network", "objv6", "--ip6", "fd00:6a:1::77", "busybox",
           "sleep", "60")
        settings = json.loads(ok(moord, "inspect", "-f", "{{json .NetworkSettings.Networks.objv6}}", "objv6c"))
        assert (settings["GlobalIPv6Address"], settings["GlobalIPv6PrefixLen"], settings["IPv6Gateway"]) == (
            "fd00:6a:1::77", 64, "fd00:6a:1::1")
        member = json.loads(ok(moord, "network", "inspect", "-f", "{{json .Containers}}", "objv6"))
        assert [entry["IPv6Address"] for entry in member.values()] == ["fd00:6a:1::77/64"]
    finally:
        moor(moord, "rm", "-f", "objv6c")
        moor(moord, "network", "rm", "objv6")


def test_network_connect_honours_mac_address_and_ipam_config(moord: DaemonProcess,
                                                             client: docker.APIClient) -> None:
    """``POST /networks/{id}/connect`` with ``EndpointConfig.MacAddress`` and ``IPAMConfig``: a created container's
    inspect shows them at once (as Docker 20.10); at start (as Docker 25+ does at API 1.44) the interface gets
    that MAC and address, and keeps them across a restart."""
    ok(moord, "network", "create", "--subnet", "10.126.7.0/24", "objmac")
    container = client.create_container("busybox", ["sleep", "60"], name="objmacc")["Id"]
    try:
        client.connect_container_to_network(container, "objmac", ipv4_address="10.126.7.77",
                                            mac_address="02:42:ac:11:00:99")
        settings = client.inspect_container(container)["NetworkSettings"]["Networks"]["objmac"]
        assert settings["MacAddress"] == "02:42:ac:11:00:99"
        assert settings["IPAMConfig"] == {"IPv4Address": "10.126.7.77"}
        for turn in range(2):
            if turn == 0:
                client.start(container)
            else:
                client.restart(container, timeout=1)
            link = ok(moord, "exec", "objmacc", "ip", "-o", "addr", "show", "dev", "eth1")
            assert "10.126.7.77/24" in link
            assert "02:42:ac:11:00:99" in ok(moord, "exec", "objmacc", "cat", "/sys/class/net/eth1/address")
        with pytest.raises(docker.errors.APIError):
            client.connect_container_to_network(container, "bridge", mac_address="zz")
    finally:
        client.remove_container(container, force=True)
        moor(moord, "network", "rm", "objmac")


def test_stats_has_the_networks_of_the_container(moord: DaemonProcess, client: docker.APIClient) -> None:
    """``GET /containers/{id}/stats``: ``networks`` holds each interface of the container's namespace (not ``lo``)
    with Docker's eight counters; a container on ``none`` has no ``networks`` key, as in Docker 20.10."""
    ok(moord, "network", "create", "--subnet", "10.126.8.0/24", "objstats")
    ok(moord, "run", "-d", "--name", "objstatsc", "--network", "objstats", "busybox", "sleep", "60")
    ok(moord, "run", "-d", "--name", "objstatsn", "--network", "none", "busybox", "sleep", "60")
    try:
        ok(moord, "exec", "objstatsc", "ping", "-c", "1", "-W", "5", "10.126.8.1")
        sample = client.stats("objstatsc", stream=False)
        assert list(sample["networks"]) == ["eth0"]
        counters = sample["networks"]["eth0"]
        assert list(counters) == ["rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets",
                                  "tx_errors", "tx_dropped"]
        assert counters["tx_packets"] >= 1 and counters["rx_packets"] >= 1
        assert "networks" not in client.stats("objstatsn", stream=False)
        table = ok(moord, "stats", "--no-stream", "--format", "{{.NetIO}}", "objstatsc").strip()
        assert table != "0B / 0B" and table.endswith("B")
    finally:
        moor(moord, "rm", "-f", "objstatsc", "objstatsn")
        moor(moord, "network", "rm", "objstats")
