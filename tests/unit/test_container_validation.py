"""Values Docker refuses at container create (and the names, hosts and addresses that could inject lines into a
container's /etc files), checked before anything is made. Messages are dockerd 20.10's where it has one, else
the docker CLI's (it checks --dns and -p addresses before sending)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.containers import portspec
from moor.containers.etcfiles import check_dns, check_hostname, extra_host_line
from moor.containers.limits import merge_update, parse_list, update_flags, validate_resources
from moor.containers.mountspec import parse_all
from moor.containers.record import check_name
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.images.reference import HEX64
from moor.netaddr import check_mac_address
from unit.test_container_service import FakeEngine


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path)
    yield engine
    engine.processes.end_all()
    engine.close()


# --------------------------------------------------------------------------- names: a trailing newline never passes


@pytest.mark.parametrize("name", ["web\n", "web\n\n", "\nweb", "we\nb", "a"])
def test_container_names_with_a_newline_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter, match=r"^Invalid container name"):
        check_name(name)
    assert check_name("/web.1_a-b") == "web.1_a-b"


def test_other_validation_patterns_end_at_the_end_of_the_text() -> None:
    assert HEX64.match("a" * 64) and not HEX64.match("a" * 64 + "\n")
    with pytest.raises(InvalidParameter):
        check_mac_address("02:42:ac:11:00:02\n")
    with pytest.raises(ValueError):
        parse_list("1\n")
    assert parse_list("0-1,3") == {0, 1, 3}


# --------------------------------------------------------------------------- /etc/hosts, /etc/hostname, resolv.conf


@pytest.mark.parametrize(("entry", "message"), [
    ("a:1.2.3.4\nevil", 'invalid IP address in add-host: "1.2.3.4\\nevil"'),  # dockerd's words
    ("a:notip", 'invalid IP address in add-host: "notip"'),
    ("a", 'bad format for add-host: "a"'),
    (":1.2.3.4", 'bad format for add-host: ":1.2.3.4"'),
    ("a\nevil:1.2.3.4", 'bad format for add-host: "a\\nevil:1.2.3.4"'),
    ("a b:1.2.3.4", 'bad format for add-host: "a b:1.2.3.4"'),
    ("a:fe80::1%eth0\n9.9.9.9 evil", 'invalid IP address in add-host: "fe80::1%eth0\\n9.9.9.9 evil"'),
])
def test_extra_hosts_cannot_add_lines(entry: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        extra_host_line(entry)
    assert refused.value.message == message


def test_extra_hosts_that_docker_takes() -> None:
    assert extra_host_line("db.local:10.1.2.3") == "10.1.2.3\tdb.local"
    assert extra_host_line("v6:2001:db8::1") == "2001:db8::1\tv6"
    assert extra_host_line("gw:host-gateway") == "host-gateway\tgw"


@pytest.mark.parametrize("hostname", ["bad host", "a\nb", "a" * 64, "-a", "a-", "a..b", "a\x00"])
def test_hostnames_are_rfc1123(hostname: str) -> None:
    with pytest.raises(InvalidParameter, match="^invalid hostname format: "):
        check_hostname(hostname)
    for good in ("boxhost", "web-1", "a.b.c", "my_host", "a" * 63, ""):
        check_hostname(good)


@pytest.mark.parametrize(("servers", "search", "options", "message"), [
    (["notip"], [], [], "notip is not an ip address"),
    (["1.2.3.4\nnameserver 5.6.7.8"], [], [], "1.2.3.4\nnameserver 5.6.7.8 is not an ip address"),
    (["fe80::1%x\nnameserver 5.6.7.8"], [], [], "fe80::1%x\nnameserver 5.6.7.8 is not an ip address"),
    ([], ["a.example\nnameserver 5.6.7.8"], [], "a.example\nnameserver 5.6.7.8 is not a valid domain"),
    ([], [], ["ndots:1\nnameserver 5.6.7.8"], 'invalid DNS option: "ndots:1\\nnameserver 5.6.7.8"'),
])
def test_dns_settings_cannot_add_lines(servers: list[str], search: list[str], options: list[str],
                                       message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        check_dns(servers, search, options)
    assert refused.value.message == message
    check_dns(["8.8.8.8", "2001:4860:4860::8888"], ["example.com", "."], ["ndots:2", "rotate"])


def test_a_bad_port_is_refused_in_dockerds_words() -> None:
    for bindings in ({"abc/tcp": [{"HostPort": "80"}]}, {"80/tcp": [{"HostPort": "abc"}]}):
        with pytest.raises(InvalidParameter, match='^invalid port specification: "abc"$'):
            portspec.validate(bindings)


@pytest.mark.parametrize("host_ip", ["notip", "1.2.3.4\n", "localhost"])
def test_port_binding_host_ip_is_an_address(host_ip: str) -> None:
    with pytest.raises(InvalidParameter, match="^Invalid ip address: "):
        portspec.validate({"80/tcp": [{"HostIp": host_ip, "HostPort": "8080"}]})
    portspec.validate({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "", "HostPort": ""}]})


# --------------------------------------------------------------------------- resources and mounts


@pytest.mark.parametrize(("host_config", "message"), [
    ({"Memory": 1000}, "Minimum memory limit allowed is 6MB"),
    ({"OomScoreAdj": -1001}, "Invalid value -1001, range for oom score adj is [-1000, 1000]"),
    ({"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
])
def test_resource_values_docker_refuses(host_config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        validate_resources(host_config, cpus=2, cpuset="0-1", mems="0")
    assert refused.value.message == message
    validate_resources({"OomScoreAdj": -1000, "ShmSize": 0}, cpus=2, cpuset="0-1", mems="0")


@pytest.mark.parametrize(("host_config", "message"), [
    ({"Tmpfs": {"/x": ""}, "Binds": ["/tmp:/x"]}, "Duplicate mount point: /x"),  # dockerd's
    ({"Tmpfs": {"/x": "", "/x/": ""}}, "Duplicate mount point: /x"),
    ({"Tmpfs": {"/x": ""}, "Mounts": [{"Type": "tmpfs", "Target": "/x"}]}, "Duplicate mount point: /x"),
    ({"Mounts": [{"Type": "tmpfs", "Target": "/x"}, {"Type": "tmpfs", "Target": "/x"}]}, "Duplicate mount point: /x"),
    ({"Tmpfs": {"x": ""}}, "invalid mount path: 'x' mount path must be absolute"),
    ({"Mounts": [{"Type": "foo", "Target": "/x"}]}, 'invalid mount config for type "foo": mount type unknown'),
])
def test_mount_points_docker_refuses(host_config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_all(host_config, None)
    assert refused.value.message == message


# --------------------------------------------------------------------------- the service: nothing is made


@pytest.mark.parametrize("body", [
    {"HostConfig": {"ExtraHosts": ["a:1.2.3.4\nevil"]}},
    {"HostConfig": {"Dns": ["1.2.3.4\nnameserver 5.6.7.8"]}},
    {"Hostname": "a\nb"},
    {"Domainname": "corp\nevil"},
    {"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "notip", "HostPort": "80"}]}}},
    {"HostConfig": {"OomScoreAdj": 5000}},
    {"HostConfig": {"ShmSize": -1}},
    {"HostConfig": {"Tmpfs": {"/x": ""}, "Binds": ["/tmp:/x"]}},
])
def test_create_refuses_before_anything_is_made(fake: FakeEngine, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter):
        fake.create("refused", **body)
    with pytest.raises(InvalidParameter):
        fake.create("refused\n")
    assert fake.containers.store.all() == [] and "prepare" not in fake.storage().operations()


def test_a_paused_container_is_neither_started_nor_execed(fake: FakeEngine) -> None:
    fake.create("frozen")
    fake.containers.start("frozen")
    fake.engine.resources.pause("frozen")
    with pytest.raises(Conflict, match="^cannot start a paused container, try unpause instead$"):
        fake.containers.start("frozen")
    with pytest.raises(Conflict, match="^Container frozen is paused, unpause the container before exec$"):
        fake.engine.container_io.exec_create(fake.containers.get("frozen"), {"Cmd": ["ls"]})
    fake.engine.resources.unpause("frozen")
    fake.engine.container_io.exec_create(fake.containers.get("frozen"), {"Cmd": ["ls"]})


# --------------------------------------------------------------------------- Docker's verifyContainerSettings


@pytest.mark.parametrize(("body", "message"), [  # dockerd 20.10's answers to the same bodies
    ({"Env": ["=foo"]}, "invalid environment variable: =foo"),
    ({"Env": [""]}, "invalid environment variable: "),
    ({"WorkingDir": "rel"}, "the working directory 'rel' is invalid, it needs to be an absolute path"),
    ({"WorkingDir": "/a\x00b"}, "the working directory '/a\x00b' is invalid, it needs to be an absolute path"),
    ({"StopSignal": "FOO"}, "Invalid signal: FOO"),
    ({"StopSignal": "0"}, "Invalid signal: 0"),
    ({"StopSignal": "a\x00b"}, "Invalid signal: a\x00b"),
    ({"Healthcheck": {"Interval": 5}}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"Timeout": -5}}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"StartPeriod": 5}}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"Healthcheck": {"Retries": -1}}, "Retries in Healthcheck cannot be negative"),
    ({"HostConfig": {"CapAdd": ["CAP_X"]}}, 'invalid CapAdd: unknown capability: "CAP_X"'),
    ({"HostConfig": {"CapDrop": ["foo"]}}, 'invalid CapDrop: unknown capability: "CAP_FOO"'),
    ({"HostConfig": {"Isolation": "x"}}, "Invalid isolation: \"x\" - linux only supports 'default'"),
    ({"HostConfig": {"CgroupnsMode": "x"}}, "invalid cgroup namespace mode: x"),
    ({"Cmd": ["ec\x00ho"]}, 'invalid Cmd: "ec\\u0000ho" contains a NUL byte'),
    ({"Env": ["A=\x00"]}, 'invalid Env: "A=\\u0000" contains a NUL byte'),
    ({"User": "a\x00"}, 'invalid User: "a\\u0000" contains a NUL byte'),
    ({"HostConfig": {"Devices": [{"PathOnHost": "/dev/null\x00x"}]}},
     'error gathering device information while adding custom device "/dev/null\x00x": invalid argument'),
])
def test_create_checks_values_as_dockerd(fake: FakeEngine, body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        fake.create("refused", **body)
    assert refused.value.message == message
    assert fake.containers.store.all() == [] and "prepare" not in fake.storage().operations()


def test_create_takes_the_values_dockerd_takes(fake: FakeEngine) -> None:
    fake.create("fine", Env=["A=1", "B"], WorkingDir="/srv", StopSignal="SIGUSR1",
                Healthcheck={"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 0},
                HostConfig={"CapAdd": ["net_admin", "ALL"], "CapDrop": ["CAP_CHOWN"], "Isolation": "Default",
                            "CgroupnsMode": "private"})
    fake.create("numbered", StopSignal="10")


def test_a_bad_signal_is_a_400_before_the_state_is_looked_at(fake: FakeEngine) -> None:
    fake.create("idle")  # never started: a good signal is a 409, a bad one a 400 (Docker parses it first)
    with pytest.raises(InvalidParameter, match="^Invalid signal: SIGNOPE$"):
        fake.containers.kill("idle", "SIGNOPE")
    with pytest.raises(Conflict):
        fake.containers.kill("idle", "KILL")


def test_rename_to_a_bad_name_answers_in_dockers_words(fake: FakeEngine) -> None:
    fake.create("old")
    with pytest.raises(InvalidParameter) as refused:
        fake.containers.rename("old", "bad\n")
    assert refused.value.message == ("Error when allocating new name: Invalid container name (/bad\n), "
                                     "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    assert fake.containers.get("old").name == "old"


@pytest.mark.parametrize(("host_config", "message"), [  # dockerd 20.10's words (its QoS refusals are 500s)
    ({"Runtime": "a b"}, "Unknown runtime specified a b"),
    ({"IOMaximumIOps": 1}, "Invalid QoS settings: linux does not support configuration of maximum IOPs"),
    ({"IOMaximumBandwidth": 1}, "Invalid QoS settings: linux does not support configuration of maximum bandwidth"),
])
def test_runtime_and_windows_only_settings_are_refused(fake: FakeEngine, host_config: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        fake.create("refused", HostConfig=host_config)
    assert refused.value.message == message
    assert fake.containers.store.all() == []
    fake.create("default-runtime", HostConfig={"Runtime": "runc"})


def test_cpu_shares_above_the_kernels_maximum_are_lowered_as_docker_does(fake: FakeEngine) -> None:
    """runc refused them at start, a 500."""
    assert fake.create("shares", HostConfig={"CpuShares": 10**9}).host_config["CpuShares"] == 262144


def test_an_empty_container_name_or_id_is_a_400(fake: FakeEngine) -> None:
    with pytest.raises(InvalidParameter, match='^invalid name or ID supplied: ""$'):
        fake.containers.get("")


@pytest.mark.parametrize("image", ["a\x00b", "Busybox", "a" * 300, "busybox:bad tag"])
def test_an_image_name_that_is_no_reference_is_a_400_not_a_404(fake: FakeEngine, image: str) -> None:
    """A 404 has the docker CLI try to pull; Docker answers 'invalid reference format'."""
    with pytest.raises(InvalidParameter, match="^invalid reference format"):
        fake.containers.create({"Image": image}, "x")
    with pytest.raises(NotFound):
        fake.containers.create({"Image": "nothere:1"}, "x")


def test_host_gateway_needs_a_default_bridge_with_a_gateway(fake: FakeEngine) -> None:
    """The fake drivers' bridge has no address pool: nothing to name, a 400 in Docker's words at create."""
    with pytest.raises(InvalidParameter, match="^unable to derive the IP value for host-gateway$"):
        fake.create("gw", HostConfig={"ExtraHosts": ["gw:host-gateway"]})
    assert fake.containers.store.all() == []


def test_a_negative_memory_reservation_is_no_reservation_as_in_docker() -> None:
    validate_resources({"MemoryReservation": -1}, cpus=2, cpuset="0-1", mems="0")
    with pytest.raises(InvalidParameter, match="^Minimum memory reservation allowed is 6MB$"):
        validate_resources({"MemoryReservation": 1}, cpus=2, cpuset="0-1", mems="0")


@pytest.mark.parametrize(("ports", "message"), [
    ({"abc/tcp": {}}, 'invalid port specification: "abc"'),
    ({"80-81/tcp": {}}, 'invalid port specification: "80-81"'),
    ({"99999/tcp": {}}, 'invalid port specification: "99999"'),
    ({"80/xyz": {}}, "invalid proto: xyz"),
])
def test_exposed_ports_are_single_ports(fake: FakeEngine, ports: dict[str, Any], message: str) -> None:
    """With PublishAllPorts, a start of such a container was a 500 (int('abc'))."""
    with pytest.raises(InvalidParameter) as refused:
        fake.create("exposed", ExposedPorts=ports, HostConfig={"PublishAllPorts": True})
    assert refused.value.message == message
    assert fake.containers.store.all() == []
    fake.create("fine", ExposedPorts={"80/tcp": {}, "53/udp": {}, "8080": {}})


def test_an_update_of_cpu_shares_above_the_maximum_is_lowered() -> None:
    """The stored value made every later start fail with runc's 500 ('the maximum allowed cpu-shares is 262144')."""
    assert merge_update("c", {"CpuShares": 0}, {"CpuShares": 10**9}, swap_supported=True)["CpuShares"] == 262144
    assert update_flags({"CpuShares": 10**9}, swap_supported=True) == ["--cpu-share=262144"]


def test_a_command_that_cannot_run_is_a_400_as_in_docker(fake: FakeEngine) -> None:
    """dockerd answers 400 to the start of a container whose command is not found; moord answered 500."""
    container = fake.create("missing", Cmd=["nothere"])
    fake.processes.start_failures[container.id] = MoorError('exec: "nothere": executable file not found in $PATH')
    with pytest.raises(InvalidParameter, match="executable file not found") as refused:
        fake.containers.start("missing")
    assert refused.value.status == 400 and fake.containers.get("missing").state.ExitCode == 127
    other = fake.create("broken")
    fake.processes.start_failures[other.id] = MoorError("runc exploded")
    with pytest.raises(MoorError) as failed:
        fake.containers.start("broken")
    assert failed.value.status == 500
