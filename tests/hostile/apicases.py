"""API cases generated from the committed table of the Engine API (``data/api_table.json``).

Each request body of the table gets, for each of its fields, every wrong JSON type for that field's type
(a string for a bool, an object for a list, a list for an object, a number for a string, null), extreme
values (huge, negative and the largest integers, ``1e999``, very long strings, a NUL) and deeply nested
JSON; each endpoint also gets bodies that are not objects at all. The expected answer of each case is
what Docker 20.10 answered (``data/docker_answers.json``, recorded by ``record_docker.py``).
"""

from __future__ import annotations

import io
import json
import pathlib
import tarfile
from dataclasses import dataclass, field
from typing import Any

DATA = pathlib.Path(__file__).with_name("data")
TABLE = json.loads((DATA / "api_table.json").read_text())

#: the objects the cases act on; the fixtures make them on the daemon under test
IDLE = "hostile-idle"          # a created, never started container on NETWORK
RUNNING = "hostile-run"        # a running container on NETWORK
NETWORK = "hostile-net"        # a user-defined bridge network
NETWORK2 = "hostile-net2"      # a second one, for connect/disconnect

#: a long string: longer than any name, path component or label a daemon should take without thought
LONG = "a" * 65536
#: nesting far past any sane JSON document (Go's decoder stops at 10000)
DEEP = 100_000


@dataclass(frozen=True)
class Raw:
    """A JSON value written as given (numbers Python's json cannot write, nesting it would overflow on)."""

    text: str


@dataclass
class Endpoint:
    """Where a body goes and the valid body the cases start from."""

    method: str
    path: str
    base: dict[str, Any]
    #: what an accepted request made and the cleanup must remove: "container", "network", "volume", "connect"
    makes: str = ""
    #: the request needs a fresh exec to start
    needs_exec: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    "container_create": Endpoint("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]},
                                 makes="container"),
    "container_update": Endpoint("POST", f"/containers/{IDLE}/update", {}),
    "exec_create": Endpoint("POST", f"/containers/{RUNNING}/exec", {"Cmd": ["true"]}),
    "exec_start": Endpoint("POST", "/exec/{exec}/start", {"Detach": True}, needs_exec=True),
    "network_create": Endpoint("POST", "/networks/create", {"Name": "hostile-made"}, makes="network"),
    "network_connect": Endpoint("POST", f"/networks/{NETWORK2}/connect", {"Container": IDLE}, makes="connect"),
    "network_disconnect": Endpoint("POST", f"/networks/{NETWORK2}/disconnect", {"Container": IDLE}),
    "volume_create": Endpoint("POST", "/volumes/create", {"Name": "hostile-made"}, makes="volume"),
}

#: short names for the test ids
SHORT = {"container_create": "create", "container_update": "update", "exec_create": "exec",
         "exec_start": "execstart", "network_create": "netcreate", "network_connect": "connect",
         "network_disconnect": "disconnect", "volume_create": "volcreate"}


@dataclass
class Case:
    """One request: ``body`` is the JSON text sent."""

    id: str
    endpoint: str
    method: str
    path: str
    body: bytes
    query: dict[str, str] = field(default_factory=dict)


def _wrong_values(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs of wrong types and extreme values for a field of the table."""
    kind = row["type"]
    values: list[tuple[str, Any]] = [("null", None)]
    if kind == "boolean":
        values += [("str", "false"), ("num", 1), ("obj", {})]
    elif kind == "integer":
        values += [("str", "1"), ("float", 1.5), ("bool", True), ("huge", 2**64), ("neg", -1),
                   ("max", 2**63 - 1), ("inf", Raw("1e999"))]
    elif kind == "string":
        values += [("num", 123), ("bool", True), ("list", ["x"]), ("obj", {}), ("long", LONG), ("nul", "a\x00b"),
                   ("newline", "bad\n"), ("dotdot", "../../../../x")]
    elif kind == "array":
        wrong_item: Any = {"string": 1, "integer": "x", "object": "x"}.get(row.get("items", ""), Raw("1e999"))
        values += [("obj", {"a": "b"}), ("str", "x"), ("num", 1), ("item", [wrong_item])]
    elif kind == "object":
        wrong_value: Any = 1 if row.get("values") == "string" else "x"
        values += [("list", ["x"]), ("str", "x"), ("num", 1), ("value", {"k": wrong_value})]
    return values


def encode(value: Any) -> bytes:
    """JSON text of ``value``, with :class:`Raw` values written as they are."""
    raws: list[str] = []

    def default(item: Any) -> str:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x01raw{len(raws) - 1}\x01"
        raise TypeError(item)

    text = json.dumps(value, default=default)
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{index}\x01"), raw)
    return text.encode()


def _with(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``value`` at ``path`` (objects made on the way)."""
    body = json.loads(json.dumps(base))
    node = body
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return body


def field_cases() -> list[Case]:
    """Every field of every body of the table, with each wrong value."""
    cases = []
    for key, endpoint in ENDPOINTS.items():
        for row in TABLE["bodies"][key]["fields"]:
            for label, value in _wrong_values(row):
                body = encode(_with(endpoint.base, row["path"], value))
                case_id = f"{SHORT[key]}-{'.'.join(row['path'])}-{label}"
                cases.append(Case(case_id, key, endpoint.method, endpoint.path, body))
    return cases


def body_cases() -> list[Case]:
    """Bodies that are not the object the endpoint wants, and nesting past any limit."""
    shapes: list[tuple[str, bytes]] = [
        ("list", b"[]"), ("string", b'"x"'), ("number", b"1"), ("null", b"null"), ("truncated", b'{"Image": "bus'),
        ("notjson", b"\xff\xfe garbage"), ("inf", b"1e999"),
        ("deepobj", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        ("deeplist", b"[" * DEEP + b"]" * DEEP),
        ("dupkeys", b'{"Image": "busybox", "Image": 1}'),
    ]
    cases = []
    for key, endpoint in ENDPOINTS.items():
        for label, body in shapes:
            cases.append(Case(f"{SHORT[key]}-body-{label}", key, endpoint.method, endpoint.path, body))
        nested = [r for r in TABLE["bodies"][key]["fields"] if r["type"] in ("array", "object")]
        if nested:
            deep = encode(_with(endpoint.base, nested[0]["path"], Raw("[" * DEEP + "]" * DEEP)))
            cases.append(Case(f"{SHORT[key]}-{'.'.join(nested[0]['path'])}-deep", key, endpoint.method,
                              endpoint.path, deep))
    return cases


#: (id, method, path, query): wrong and extreme query parameters, on targets they cannot harm
_QUERY_CASES: list[tuple[str, str, str, dict[str, str]]] = []


def _add_query(case_id: str, method: str, url: str, **params: str) -> None:
    _QUERY_CASES.append((case_id, method, url, params))


BAD_INTS = {"str": "abc", "float": "1.5", "huge": str(2**64), "empty-ish": " ", "hex": "0x10"}
BAD_FILTERS = {"malformed": "{", "list": '["x"]', "string": '"x"', "number": "1", "num-values": '{"label": 1}',
               "nested": '{"label": [["x"]]}', "unknown": '{"nosuchfilter": ["x"]}', "deep": "[" * 20000 + "]" * 20000}
for _label, _value in BAD_INTS.items():
    _add_query(f"q-containers-json-limit-{_label}", "GET", "/containers/json", limit=_value)
    _add_query(f"q-stop-t-{_label}", "POST", f"/containers/{IDLE}/stop", t=_value)
    _add_query(f"q-restart-t-{_label}", "POST", f"/containers/{IDLE}/restart", t=_value)
    _add_query(f"q-resize-h-{_label}", "POST", f"/containers/{RUNNING}/resize", h=_value, w="80")
    _add_query(f"q-logs-tail-{_label}", "GET", f"/containers/{IDLE}/logs", stdout="1", tail=_value)
    _add_query(f"q-logs-since-{_label}", "GET", f"/containers/{IDLE}/logs", stdout="1", since=_value)
    _add_query(f"q-events-until-{_label}", "GET", "/events", since="1", until=_value)
for _label, _value in {"neg": "-1", "neg-huge": str(-(2**63)), "max": str(2**63 - 1)}.items():
    _add_query(f"q-resize-h-{_label}", "POST", f"/containers/{RUNNING}/resize", h=_value, w="80")
    _add_query(f"q-resize-w-{_label}", "POST", f"/containers/{RUNNING}/resize", h="24", w=_value)
    _add_query(f"q-logs-tail-{_label}", "GET", f"/containers/{IDLE}/logs", stdout="1", tail=_value)
    _add_query(f"q-containers-json-limit-{_label}", "GET", "/containers/json", limit=_value)
for _label, _value in BAD_FILTERS.items():
    _add_query(f"q-containers-json-filters-{_label}", "GET", "/containers/json", all="1", filters=_value)
    _add_query(f"q-images-json-filters-{_label}", "GET", "/images/json", filters=_value)
    _add_query(f"q-networks-filters-{_label}", "GET", "/networks", filters=_value)
    _add_query(f"q-volumes-filters-{_label}", "GET", "/volumes", filters=_value)
    _add_query(f"q-events-filters-{_label}", "GET", "/events", since="1", until="2", filters=_value)
for _label, _value in {"unknown": "SIGNOPE", "number": "99999", "negative": "-1", "huge": str(2**64)}.items():
    _add_query(f"q-kill-signal-{_label}", "POST", f"/containers/{IDLE}/kill", signal=_value)
for _label, _value in {"empty": "", "slash": "/a/b", "space": "bad name", "newline": "bad\n", "dash": "-x",
                       "nul": "a\x00b", "dots": ".."}.items():
    _add_query(f"q-rename-{_label}", "POST", f"/containers/{IDLE}/rename", name=_value)
for _label, _value in {"empty": "", "nul": "/etc/pass\x00wd", "long": "/" + "a" * 5000, "missing": "/no/such"}.items():
    _add_query(f"q-archive-head-path-{_label}", "HEAD", f"/containers/{IDLE}/archive", path=_value)
    _add_query(f"q-archive-get-path-{_label}", "GET", f"/containers/{IDLE}/archive", path=_value)
for _label, _value in {"bogus": "bogus", "empty-name": "", "upper": "BUSY", "space": "a b", "nul": "a\x00b"}.items():
    _add_query(f"q-wait-condition-{_label}", "POST", f"/containers/{IDLE}/wait", condition=_value)
    _add_query(f"q-tag-repo-{_label}", "POST", "/images/busybox/tag", repo=_value, tag="x")
_add_query("q-tag-tag-bad", "POST", "/images/busybox/tag", repo="hostile", tag="bad tag")
_add_query("q-tag-tag-long", "POST", "/images/busybox/tag", repo="hostile", tag="t" * 200)
_add_query("q-top-idle", "GET", f"/containers/{IDLE}/top", ps_args="-o pid;id")
_add_query("q-logs-nostream", "GET", f"/containers/{IDLE}/logs")
_add_query("q-create-name-nul", "POST", "/containers/create", name="a\x00b")
_add_query("q-create-name-newline", "POST", "/containers/create", name="bad\n")
_add_query("q-create-name-slash", "POST", "/containers/create", name="a/b")
_add_query("q-images-create-none", "POST", "/images/create")
_add_query("q-images-get-missing", "GET", "/images/get", names="no-such-image:never")
_add_query("q-commit-missing", "POST", "/commit", container="no-such-container")
_add_query("q-commit-bad-repo", "POST", "/commit", container=IDLE, repo="UPPER")


def query_cases() -> list[Case]:
    cases = []
    for case_id, method, path, params in _QUERY_CASES:
        body = b'{"Image": "busybox", "Cmd": ["true"]}' if path == "/containers/create" else b""
        cases.append(Case(case_id, "query", method, path, body, params))
    return cases


#: query parameters the table-driven cases leave alone: they stream without end, hijack the connection,
#: pull from a registry, need a body of their own, or start a target (the hand-written cases cover them)
_SKIPPED_PATHS = ("/attach", "/stats", "/events", "/wait", "/images/search", "/push", "/images/create",
                  "/images/load", "/build", "/start", "/archive")
_SKIPPED_PARAMS = {("GET", "/containers/{id}/logs", "follow")}
ABSENT = "hostile-absent"
_WRONG_QUERY = {
    "integer": {"str": "abc", "float": "1.5", "huge": str(2**64), "neg": "-1"},
    "boolean": {"word": "notabool", "two": "2"},
    "string": {"nul": "a\x00b", "long": "a" * 20000},
    "array": {"nul": "a\x00b", "long": "a" * 20000},
}


def _target(method: str, path: str) -> str:
    """The path with its parameter filled in: a target it cannot harm, or one that does not exist."""
    if method == "DELETE" or path.startswith("/volumes/"):
        return path.replace("{id}", ABSENT).replace("{name}", f"{ABSENT}:never")
    if path.startswith("/containers/{id}/"):
        running = path.endswith(("/top", "/resize"))
        return path.replace("{id}", RUNNING if running else IDLE)
    if path.startswith("/exec/"):
        return path.replace("{id}", "{exec}")
    return path.replace("{id}", NETWORK).replace("{name}", "busybox")


def table_query_cases() -> list[Case]:
    """Each query parameter of the served API in the table, with the wrong values for its type."""
    cases = []
    for row in TABLE["queries"]:
        method, path, param = row["method"], row["path"], row["name"]
        if any(part in path for part in _SKIPPED_PATHS) or (method, path, param) in _SKIPPED_PARAMS:
            continue
        if "prune" in path and row["type"] != "string":
            continue
        base = {"/containers/{id}/logs": {"stdout": "1"}, "/images/{name}/tag": {"repo": "hostile", "tag": "t"},
                "/commit": {"container": IDLE}}.get(path, {})
        for label, value in _WRONG_QUERY.get(row["type"], {}).items():
            body = b'{"Image": "busybox", "Cmd": ["true"]}' if path == "/containers/create" else b""
            slug = path.strip("/").replace("{", "").replace("}", "").replace("/", ".")
            cases.append(Case(f"qt-{method.lower()}-{slug}-{param}-{label}", "query", method, _target(method, path),
                              body, {**base, param: value}))
    return cases


#: values of the right type that Docker refuses (or that issue 12 asks to refuse): (id, HostConfig or top-level
#: fields merged into a valid create body)
_SEMANTIC: list[tuple[str, dict[str, Any]]] = [
    ("memory-below-minimum", {"HostConfig": {"Memory": 1}}),
    ("oom-score-adj-1001", {"HostConfig": {"OomScoreAdj": 1001}}),
    ("oom-score-adj--1001", {"HostConfig": {"OomScoreAdj": -1001}}),
    ("shm-size-negative", {"HostConfig": {"ShmSize": -1}}),
    ("restart-always-with-count", {"HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}}),
    ("restart-bogus", {"HostConfig": {"RestartPolicy": {"Name": "bogus"}}}),
    ("mount-bind-relative", {"HostConfig": {"Mounts": [{"Type": "bind", "Source": "relative", "Target": "/x"}]}}),
    ("mount-type-unknown", {"HostConfig": {"Mounts": [{"Type": "nope", "Target": "/x"}]}}),
    ("mount-target-relative", {"HostConfig": {"Mounts": [{"Type": "volume", "Target": "relative"}]}}),
    ("mount-target-missing", {"HostConfig": {"Mounts": [{"Type": "tmpfs"}]}}),
    ("mount-bind-missing-source", {"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/no/such/dir",
                                                              "Target": "/x"}]}}),
    ("mount-duplicate-target", {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/x"},
                                                          {"Type": "tmpfs", "Target": "/x"}]}}),
    ("tmpfs-and-mount-same-target", {"HostConfig": {"Tmpfs": {"/x": ""},
                                                    "Mounts": [{"Type": "tmpfs", "Target": "/x"}]}}),
    ("bind-bad-mode", {"HostConfig": {"Binds": ["/etc:/x:rw,zzz"]}}),
    ("bind-empty-source", {"HostConfig": {"Binds": [":/x"]}}),
    ("bind-too-many-parts", {"HostConfig": {"Binds": ["/a:/b:/c:/d"]}}),
    ("bind-relative-target", {"HostConfig": {"Binds": ["/etc:relative"]}}),
    ("security-opt-bogus", {"HostConfig": {"SecurityOpt": ["bogus"]}}),
    ("security-opt-seccomp-missing-file", {"HostConfig": {"SecurityOpt": ["seccomp=/no/such/profile.json"]}}),
    ("security-opt-unknown-key", {"HostConfig": {"SecurityOpt": ["nope=1"]}}),
    ("cap-add-unknown", {"HostConfig": {"CapAdd": ["CAP_NOPE"]}}),
    ("cap-drop-unknown", {"HostConfig": {"CapDrop": ["NOPE"]}}),
    ("port-spec-not-a-number", {"ExposedPorts": {"abc/tcp": {}}}),
    ("port-spec-too-big", {"ExposedPorts": {"99999/tcp": {}}}),
    ("port-binding-bad-host-port", {"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "notaport"}]}}}),
    ("port-binding-bad-key", {"HostConfig": {"PortBindings": {"80/nope": [{"HostPort": "8080"}]}}}),
    ("volumes-from-missing", {"HostConfig": {"VolumesFrom": ["hostile-absent"]}}),
    ("network-mode-container-missing", {"HostConfig": {"NetworkMode": "container:hostile-absent"}}),
    ("network-mode-missing", {"HostConfig": {"NetworkMode": "hostile-absent"}}),
    ("stop-signal-unknown", {"StopSignal": "SIGNOPE"}),
    ("stop-timeout-negative", {"StopTimeout": -5}),
    ("user-with-nul", {"User": "root\x00"}),
    ("env-with-nul", {"Env": ["A=b\x00c"]}),
    ("cmd-with-nul", {"Cmd": ["echo", "a\x00b"]}),
    ("label-key-empty", {"Labels": {"": "x"}}),
    ("cpus-too-many", {"HostConfig": {"NanoCpus": 10**15}}),
    ("cpuset-garbage", {"HostConfig": {"CpusetCpus": "0-,x"}}),
    ("pids-limit-negative", {"HostConfig": {"PidsLimit": -5}}),
    ("ulimit-garbage", {"HostConfig": {"Ulimits": [{"Name": "nope", "Soft": 1, "Hard": 0}]}}),
    ("log-driver-unknown", {"HostConfig": {"LogConfig": {"Type": "nope"}}}),
    ("log-opt-unknown", {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"nope": "1"}}}}),
    ("ipc-mode-garbage", {"HostConfig": {"IpcMode": "garbage"}}),
    ("pid-mode-container-missing", {"HostConfig": {"PidMode": "container:hostile-absent"}}),
    # issue 12: values 20.10 took without a look
    ("extra-hosts-newline-injection", {"HostConfig": {"ExtraHosts": ["evil:1.2.3.4\n6.6.6.6 injected"]}}),
    ("extra-hosts-no-ip", {"HostConfig": {"ExtraHosts": ["evil"]}}),
    ("extra-hosts-bad-ip", {"HostConfig": {"ExtraHosts": ["evil:999.1.1.1"]}}),
    ("dns-not-an-address", {"HostConfig": {"Dns": ["not-an-address"]}}),
    ("dns-with-port", {"HostConfig": {"Dns": ["127.0.0.1:5353"]}}),
    ("host-ip-not-an-address", {"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "evil", "HostPort": "8080"}]}}}),
    ("hostname-newline", {"Hostname": "bad\nhost"}),
    ("hostname-too-long", {"Hostname": "h" * 300}),
    ("privileged-string-false", {"HostConfig": {"Privileged": "false"}}),
    ("cap-add-as-object", {"HostConfig": {"CapAdd": {"SYS_ADMIN": True}}}),
    ("readonly-string-true", {"HostConfig": {"ReadonlyRootfs": "true"}}),
]


def semantic_cases() -> list[Case]:
    """Well-typed create bodies with values Docker refuses."""
    cases = []
    for case_id, fields in _SEMANTIC:
        body: dict[str, Any] = {"Image": "busybox", "Cmd": ["true"]}
        for key, value in fields.items():
            if key == "HostConfig":
                body.setdefault("HostConfig", {}).update(value)
            else:
                body[key] = value
        cases.append(Case(f"value-{case_id}", "container_create", "POST", "/containers/create", encode(body)))
    return cases


#: Dockerfile instructions for ``changes`` (import and commit) that Docker refuses or parses oddly
_CHANGES = {
    "unknown": "FOO bar", "cmd-empty": "CMD", "env-empty": "ENV", "env-legacy": "ENV A",
    "expose-word": "EXPOSE notaport", "expose-big": "EXPOSE 99999", "user-empty": "USER",
    "workdir-relative": "WORKDIR relative", "label-no-value": "LABEL a", "entrypoint-unterminated": 'ENTRYPOINT ["sh',
    "cmd-json-numbers": "CMD [1, 2]", "stopsignal-unknown": "STOPSIGNAL NOPE", "onbuild-onbuild": "ONBUILD ONBUILD x",
    "run": "RUN true", "nul": "CMD a\x00b", "volume-empty": "VOLUME", "env-many": "ENV " + "A=1 " * 5000,
    "label-long": "LABEL a=" + "x" * 65536, "healthcheck-bad-interval": "HEALTHCHECK --interval=-1s CMD true",
    "from": "FROM busybox", "lowercase-cmd": "cmd true", "line-continuation": "CMD a \\\nRUN b",
}


def _tiny_rootfs() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        member = tarfile.TarInfo("hello")
        member.size = 3
        archive.addfile(member, io.BytesIO(b"hi\n"))
    return out.getvalue()


def changes_cases() -> list[Case]:
    """Hostile ``changes`` for import (with a tiny rootfs) and commit."""
    cases = []
    for label, change in _CHANGES.items():
        cases.append(Case(f"changes-import-{label}", "query", "POST", "/images/create", _tiny_rootfs(),
                          {"fromSrc": "-", "repo": "hostile/changes", "tag": "x", "changes": change}))
        cases.append(Case(f"changes-commit-{label}", "query", "POST", "/commit", b"",
                          {"container": IDLE, "changes": change}))
    return cases


def all_cases() -> list[Case]:
    return field_cases() + body_cases() + query_cases() + table_query_cases() + semantic_cases() + changes_cases()
