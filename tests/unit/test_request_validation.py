"""The typed request layer: bodies checked against Docker's Go types, query integers as Go's strconv reads them.

Every expected message here is what dockerd 20.10.24 (Debian's docker.io) answered to the same body, sent
with curl over its socket (Docker 20.10 answers these with a 500; moor answers 400, as later Dockers do).
"""

from __future__ import annotations

import ast
import pathlib
from typing import Any

import pytest

from moor.api import schema
from moor.api.http import Request
from moor.api.params import flag_query, int_query, parse_filters, path_query, tail_query, time_arg, uint_query
from moor.api.validate import decode
from moor.errors import InvalidParameter

#: every message starts so
J = "json: cannot unmarshal "

# (body, dockerd's message)
CREATE_REFUSED: list[tuple[dict[str, Any] | list[Any] | str, str]] = [
    ({"Image": "busybox", "HostConfig": {"Privileged": "false"}},
     J + "string into Go struct field HostConfig.HostConfig.Privileged of type bool"),
    ({"Image": "busybox", "HostConfig": {"privileged": "x"}},
     J + "string into Go struct field HostConfig.HostConfig.Privileged of type bool"),
    ({"Image": "busybox", "HostConfig": {"CapAdd": {"SYS_ADMIN": True}}},
     J + "object into Go struct field HostConfig.HostConfig.CapAdd of type string"),
    ({"Image": 123}, J + "number into Go struct field ContainerConfigWrapper.Image of type string"),
    ({"Image": "busybox", "HostConfig": "x"},
     J + "string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig"),
    ({"Image": "busybox", "Env": [1]},
     J + "number into Go struct field ContainerConfigWrapper.Env of type string"),
    ({"Image": "busybox", "Labels": ["a"]},
     J + "array into Go struct field ContainerConfigWrapper.Labels of type map[string]string"),
    ({"Image": "busybox", "Tty": "true"},
     J + "string into Go struct field ContainerConfigWrapper.Tty of type bool"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": 1}}},
     J + "number into Go struct field RestartPolicy.HostConfig.RestartPolicy.Name of type string"),
    ({"Image": "busybox", "HostConfig": {"Memory": 1.5}},
     J + "number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Image": "busybox", "HostConfig": {"Memory": "1"}},
     J + "string into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Image": "busybox", "HostConfig": {"BlkioWeight": -1}},
     J + "number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    ({"Image": "busybox", "HostConfig": {"BlkioWeight": 70000}},
     J + "number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    ({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"x": {"Aliases": "a"}}}},
     J + "string into Go struct field "
     "EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string"),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": 1}]}},
     J + "number into Go struct field Mount.HostConfig.Mounts.Type of type mount.Type"),
    ({"Image": "busybox", "HostConfig": {"Mounts": {"Type": 1}}},
     J + "object into Go struct field HostConfig.HostConfig.Mounts of type []mount.Mount"),
    ({"Image": "busybox", "HostConfig": {"LogConfig": {"Config": {"a": 1}}}},
     J + "number into Go struct field LogConfig.HostConfig.LogConfig.Config of type string"),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}},
     J + "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string"),
    ({"Image": "busybox", "ExposedPorts": {"80/tcp": 1}},
     J + "number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}"),
    ({"Image": "busybox", "ExposedPorts": ["80/tcp"]},
     J + "array into Go struct field ContainerConfigWrapper.ExposedPorts of type nat.PortSet"),
    ({"Image": "busybox", "Cmd": [1]},
     J + "array into Go struct field ContainerConfigWrapper.Cmd of type string"),
    ({"Image": "busybox", "Entrypoint": 5},
     J + "number into Go struct field ContainerConfigWrapper.Entrypoint of type string"),
    ({"Image": "busybox", "Healthcheck": {"Interval": "1s"}},
     J + "string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"),
    ({"Image": "busybox", "HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "1"}]}},
     J + "string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type int64"),
    ({"Image": "busybox", "HostConfig": {"Ulimits": [1]}},
     J + "number into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit"),
    ({"Image": "busybox", "HostConfig": {"Devices": [{"PathOnHost": 1}]}},
     J + "number into Go struct field DeviceMapping.HostConfig.Devices.PathOnHost of type string"),
    ({"Image": "busybox", "StopTimeout": "1"},
     J + "string into Go struct field ContainerConfigWrapper.StopTimeout of type int"),
    ({"Image": "busybox", "HostConfig": {"ConsoleSize": [-1, 2]}},
     J + "number -1 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint"),
    ({"Image": "busybox", "HostConfig": {"ExtraHosts": "a:1.2.3.4"}},
     J + "string into Go struct field HostConfig.HostConfig.ExtraHosts of type []string"),
    ({"Image": "busybox", "HostConfig": {"BlkioWeightDevice": [{"Weight": "x"}]}},
     J + "string into Go struct field "
     "WeightDevice.HostConfig.BlkioWeightDevice.Weight of type uint16"),
    ({"Image": "busybox", "Volumes": {"/x": 1}},
     J + "number into Go struct field ContainerConfigWrapper.Volumes of type struct {}"),
    ({"Image": "busybox", "HostConfig": {"Init": "x"}},
     J + "string into Go struct field HostConfig.HostConfig.Init of type bool"),
    ([1], J + "array into Go value of type runconfig.ContainerConfigWrapper"),
    ("x", J + "string into Go value of type runconfig.ContainerConfigWrapper"),
]


@pytest.mark.parametrize(("body", "message"), CREATE_REFUSED)
def test_container_create_wrong_types_answer_gos_message(body: Any, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        decode(schema.CONTAINER_CREATE, body)
    assert caught.value.message == message
    assert caught.value.status == 400


OTHER_REFUSED = [
    (schema.EXEC_CONFIG, {"Cmd": "ls"}, J + "string into Go struct field ExecConfig.Cmd of type []string"),
    (schema.EXEC_CONFIG, {"Cmd": [1]}, J + "number into Go struct field ExecConfig.Cmd of type string"),
    (schema.EXEC_CONFIG, {"Cmd": ["ls"], "Privileged": "true"},
     J + "string into Go struct field ExecConfig.Privileged of type bool"),
    (schema.EXEC_CONFIG, {"Cmd": ["ls"], "Env": "x"},
     J + "string into Go struct field ExecConfig.Env of type []string"),
    (schema.EXEC_START, {"Detach": "x"}, J + "string into Go struct field ExecStartCheck.Detach of type bool"),
    (schema.CONTAINER_UPDATE, {"Memory": "1"}, J + "string into Go struct field UpdateConfig.Memory of type int64"),
    (schema.CONTAINER_UPDATE, {"RestartPolicy": "no"},
     J + "string into Go struct field UpdateConfig.RestartPolicy of type container.RestartPolicy"),
    (schema.CONTAINER_UPDATE, [1], J + "array into Go value of type container.UpdateConfig"),
    (schema.NETWORK_CREATE, {"Name": 123},
     J + "number into Go struct field NetworkCreateRequest.Name of type string"),
    (schema.NETWORK_CREATE, {"Name": "n1", "Labels": ["a"]},
     J + "array into Go struct field NetworkCreateRequest.Labels of type map[string]string"),
    (schema.NETWORK_CREATE, {"Name": "n1", "Internal": "true"},
     J + "string into Go struct field NetworkCreateRequest.Internal of type bool"),
    (schema.NETWORK_CREATE, {"Name": "n1", "IPAM": {"Config": [{"Subnet": 1}]}},
     J + "number into Go struct field IPAMConfig.IPAM.Config.Subnet of type string"),
    (schema.NETWORK_CONNECT, {"Container": 1},
     J + "number into Go struct field NetworkConnect.Container of type string"),
    (schema.NETWORK_DISCONNECT, {"Container": "c", "Force": "yes"},
     J + "string into Go struct field NetworkDisconnect.Force of type bool"),
    (schema.VOLUME_CREATE, {"Name": 123}, J + "number into Go struct field VolumeCreateBody.Name of type string"),
    (schema.VOLUME_CREATE, {"Name": "v", "Labels": ["a"]},
     J + "array into Go struct field VolumeCreateBody.Labels of type map[string]string"),
]


@pytest.mark.parametrize(("kind", "body", "message"), OTHER_REFUSED)
def test_other_bodies_wrong_types_answer_gos_message(kind: Any, body: Any, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        decode(kind, body)
    assert caught.value.message == message


def test_valid_bodies_pass_with_canonical_names_and_go_conversions() -> None:
    body = {"image": "busybox", "Cmd": "echo hi", "Entrypoint": [""], "hostconfig": {"privileged": True,
            "CapAdd": "NET_ADMIN", "Memory": 7 * 2**20, "Binds": None, "ConsoleSize": [1, 2, 3]},
            "Labels": {"a": None}, "Unknown": {"kept": 1}}
    assert decode(schema.CONTAINER_CREATE, body) == {
        "Image": "busybox", "Cmd": ["echo hi"], "Entrypoint": [""],
        "HostConfig": {"Privileged": True, "CapAdd": ["NET_ADMIN"], "Memory": 7 * 2**20, "ConsoleSize": [1, 2]},
        "Labels": {"a": ""}, "Unknown": {"kept": 1}}
    assert decode(schema.CONTAINER_CREATE, None) is None


def test_the_docker_cli_create_body_passes_unchanged() -> None:
    body = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
            "AttachStderr": True, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": [], "Cmd": ["sh"],
            "Image": "busybox", "Volumes": {}, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": {},
            "HostConfig": {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
                           "NetworkMode": "default", "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                           "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
                           "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
                           "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
                           "GroupAdd": None, "IpcMode": "", "Cgroup": "", "Links": None, "OomScoreAdj": 0,
                           "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
                           "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
                           "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
                           "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "DeviceCgroupRules": None,
                           "Devices": [], "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None,
                           "Ulimits": None, "MaskedPaths": None, "ReadonlyPaths": None},
            "NetworkingConfig": {"EndpointsConfig": {}}}
    nulls_dropped = {k: v for k, v in body.items() if v is not None}
    nulls_dropped["HostConfig"] = {k: v for k, v in body["HostConfig"].items() if v is not None}  # type: ignore[union-attr]
    assert decode(schema.CONTAINER_CREATE, body) == nulls_dropped


def test_booleans_are_never_truthy_strings() -> None:
    """The finding: "Privileged": "false" made a privileged container, {"SYS_ADMIN": true} added SYS_ADMIN."""
    for body in ({"HostConfig": {"Privileged": "false"}}, {"HostConfig": {"Privileged": 0}},
                 {"HostConfig": {"CapAdd": {"SYS_ADMIN": True}}}, {"HostConfig": {"CapAdd": [["SYS_ADMIN"]]}}):
        with pytest.raises(InvalidParameter):
            decode(schema.CONTAINER_CREATE, {"Image": "busybox", **body})


def _request(query: dict[str, list[str]]) -> Request:
    return Request(method="POST", path="/", query=query, headers={}, body=None, version="1.41")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "message"), [
    ("abc", 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("1.5", 'strconv.Atoi: parsing "1.5": invalid syntax'),
    ("99999999999999999999", 'strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ("1\n", 'strconv.Atoi: parsing "1\n": invalid syntax'),
])
def test_int_query_refuses_as_strconv(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        int_query(_request({"t": [text]}), "t")
    assert caught.value.message == message


def test_int_query_values() -> None:
    assert int_query(_request({}), "t") is None
    assert int_query(_request({"t": [""]}), "t", 7) == 7
    assert int_query(_request({"t": ["-1"]}), "t") == -1
    assert int_query(_request({"t": ["+5"]}), "t") == 5


@pytest.mark.parametrize(("text", "message"), [
    ("-1", 'strconv.ParseUint: parsing "-1": invalid syntax'),
    ("", 'strconv.ParseUint: parsing "": invalid syntax'),
    ("70000", 'strconv.ParseUint: parsing "70000": value out of range'),
])
def test_terminal_sizes_are_unsigned_16_bit(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        uint_query(_request({"h": [text]}), "h")
    assert caught.value.message == message
    assert uint_query(_request({"h": ["40"]}), "h") == 40


def test_tail_that_is_not_a_count_means_all_as_in_docker() -> None:
    tails = ("abc", "all", "", "-3", "5", "1e3")
    assert [tail_query(_request({"tail": [t]})) for t in tails] == [-1, -1, -1, -1, 5, -1]
    assert tail_query(_request({})) == -1


def test_times_refuse_garbage_with_400() -> None:
    assert time_arg("") == 0.0 and time_arg("12.5") == 12.5
    for text in ("abc", "nan", "inf", "2020-01-01T00:00:00+ab"):
        with pytest.raises(InvalidParameter):
            time_arg(text)
    with pytest.raises(InvalidParameter, match='^strconv.ParseInt: parsing "18446744073709551616": value out of range'):
        time_arg("18446744073709551616")  # dockerd's words; an events stream with it waited for ever


def test_a_path_with_a_nul_byte_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        path_query(_request({"path": ["/etc\x00x"]}))
    assert path_query(_request({"path": ["/etc"]})) == "/etc"


@pytest.mark.parametrize(("text", "message"), [  # dockerd 20.10's answers (as 500s)
    ('{"label":[["a"]]}', "json: cannot unmarshal array into Go value of type map[string]bool"),
    ('{"label":{"a":"x"}}', "json: cannot unmarshal string into Go value of type bool"),
    ("[1]", "json: cannot unmarshal array into Go value of type map[string]map[string]bool"),
    ('{"label":5}', "json: cannot unmarshal number into Go value of type map[string]bool"),
])
def test_filters_of_neither_form_are_400s_in_gos_words(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_filters(_request({"filters": [text]}))
    assert caught.value.message == message


def test_filters_in_both_forms() -> None:
    assert parse_filters(_request({"filters": ['{"label":["a=1"],"status":{"running":true,"exited":false}}']})) == {
        "label": ["a=1"], "status": ["running"]}
    assert parse_filters(_request({})) == {}


def test_every_json_body_a_route_reads_is_decoded_against_a_type() -> None:
    """No route hands a service ``request.json()`` as Python's parser made it (``bool("false")`` is True)."""
    routes = pathlib.Path(schema.__file__).parent / "routes"
    unchecked = []
    for module in sorted(routes.glob("*.py")):
        tree = ast.parse(module.read_text())
        decoded = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
                   and isinstance(node.func, ast.Name) and node.func.id == "decode" for arg in node.args}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "json"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "request"
                    and id(node) not in decoded):
                unchecked.append(f"{module.name}:{node.lineno}")
    assert unchecked == []


def test_booleans_as_docker_reads_them() -> None:
    """``?force=none`` forced a removal (Docker: false); ``?pause=`` kept the default (Docker: false)."""
    for text in ("", "0", "no", "false", "none", "NONE", " False "):
        assert flag_query(_request({"force": [text]}), "force", True) is False
    for text in ("1", "true", "yes", "abc", "2"):
        assert flag_query(_request({"force": [text]}), "force") is True
    assert flag_query(_request({}), "pause", True) is True and flag_query(_request({}), "force") is False
