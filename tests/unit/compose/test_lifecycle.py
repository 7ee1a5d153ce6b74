"""The lifecycle and status commands' decisions (moor.compose.runtime.lifecycle / status) against a fake API:
which containers each command acts on, in which order, and what it reports."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from moor.client import Client, DaemonError
from moor.compose.errors import ComposeError, DependencyError, ServiceNotFound
from moor.compose.model import Project
from moor.compose.runtime import lifecycle, status
from moor.compose.runtime.progress import Progress


def container(project: str, service: str, number: int = 1, *, state: str = "running", oneoff: bool = False,
              depends_on: str = "", ports: list[dict[str, Any]] | None = None, config_files: str | None = None,
              name: str | None = None) -> dict[str, Any]:
    """A ``GET /containers/json`` item as compose labels it."""
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(number),
              "com.docker.compose.oneoff": "True" if oneoff else "False",
              "com.docker.compose.config-hash": "abc", "com.docker.compose.depends_on": depends_on}
    if config_files is not None:
        labels["com.docker.compose.project.config_files"] = config_files
    cid = f"{project}-{service}-{number}{'-run' if oneoff else ''}".encode().hex().ljust(64, "0")[:64]
    return {"Id": cid, "Names": [f"/{name or f'{project}-{service}-{number}'}"], "Image": "busybox",
            "Command": "sleep 1000", "Created": 1700000000, "State": state, "Status": "Up 2 minutes",
            "Labels": labels, "Ports": ports or [], "Mounts": [],
            "NetworkSettings": {"Networks": {f"{project}_default": {}}}}


class FakeClient(Client):
    """The API calls the runtime makes, answered from a list of containers; every call recorded."""

    def __init__(self, containers: list[dict[str, Any]], health: dict[str, str] | None = None) -> None:
        # no socket: every call is answered here
        self.containers = containers
        self.names = {c["Id"]: c["Names"][0][1:] for c in containers}
        self.health = health or {}
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.lock = threading.Lock()

    def _find(self, ident: str) -> dict[str, Any]:
        for item in self.containers:
            if item["Id"] == ident:
                return item
        raise DaemonError(404, f"No such container: {ident}")

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        with self.lock:
            self.calls.append((method, path, params))
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/containers/json":
            params = params or {}
            labels = json.loads(params.get("filters", "{}")).get("label", [])
            found = []
            for item in self.containers:
                if not params.get("all") and item["State"] not in ("running", "paused", "restarting"):
                    continue
                ok = True
                for wanted in labels:
                    key, _, value = wanted.partition("=")
                    if key not in item["Labels"] or ("=" in wanted and item["Labels"][key] != value):
                        ok = False
                if ok:
                    found.append(item)
            return found
        item = self._find(parts[1])
        action = parts[2] if len(parts) > 2 else ""
        if method == "GET" and action == "json":
            state: dict[str, Any] = {"Status": item["State"], "Running": item["State"] == "running",
                                     "ExitCode": 3 if item["State"] == "exited" else 0}
            if item["Id"] in self.health:
                state["Health"] = {"Status": self.health[item["Id"]]}
            return {"Id": item["Id"], "State": state, "Config": {"Healthcheck": {"Test": ["CMD", "true"]}}
                    if item["Id"] in self.health else {}}
        if method == "GET" and action == "top":
            return {"Titles": ["UID", "PID", "CMD", "TIME"], "Processes": [["root", "1", "sleep", "00:00"]]}
        if method == "POST" and action in ("start", "restart", "unpause"):
            item["State"] = "running"
        elif method == "POST" and action in ("stop", "kill"):
            item["State"] = "exited"
        elif method == "POST" and action == "pause":
            item["State"] = "paused"
        elif method == "POST" and action == "wait":
            return {"StatusCode": 7}
        elif method == "DELETE":
            self.containers.remove(item)
        return None

    def actions(self, verb: str) -> list[str]:
        """The container names ``verb`` (start, stop, ...) was posted to, in order."""
        names = self.names
        wanted = [path for method, path, _ in self.calls
                  if (method == "POST" and path.endswith("/" + verb)) or (verb == "rm" and method == "DELETE")]
        return [names.get(path.split("/")[2], path.split("/")[2]) for path in wanted]


def project(**services: dict[str, Any]) -> Project:
    return Project(name="p", working_dir="/w", config_files=["/w/compose.yaml"], services=dict(services))


def plain() -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress("plain", out), out


# --------------------------------------------------------------------------- the project without files


def test_project_from_containers_reads_depends_on_labels() -> None:
    rebuilt = lifecycle.project_from_containers("p", [
        container("p", "web", depends_on="db:service_healthy:true,cache:service_started:false"),
        container("p", "db"), container("p", "db", 2), container("p", "web", oneoff=True)])
    assert sorted(rebuilt.services) == ["db", "web"]
    # a dependency without containers is no node of the graph; none is required
    assert rebuilt.services["web"]["depends_on"] == {
        "db": {"condition": "service_healthy", "required": False, "restart": True}}


# --------------------------------------------------------------------------- start, stop, restart


def test_start_in_dependency_order_with_dependencies_of_named_services() -> None:
    client = FakeClient([container("p", "web", state="exited"), container("p", "db", state="exited"),
                         container("p", "other", state="exited")])
    progress, out = plain()
    lifecycle.start(client, "p", project(web={"depends_on": {"db": {"condition": "service_started"}}}, db={},
                                         other={}), ["web"], progress=progress, parallel=1)
    assert client.actions("start") == ["p-db-1", "p-web-1"]
    assert " Container p-db-1  Starting\n Container p-db-1  Started\n" in out.getvalue()


def test_start_leaves_running_containers_and_one_offs() -> None:
    client = FakeClient([container("p", "web"), container("p", "web", 2, state="exited"),
                         container("p", "web", state="exited", oneoff=True)])
    lifecycle.start(client, "p", project(web={}), progress=plain()[0])
    assert client.actions("start") == ["p-web-2"]


def test_start_without_containers_fails_as_compose() -> None:
    client = FakeClient([])
    with pytest.raises(ComposeError, match='service "web" has no container to start'):
        lifecycle.start(client, "p", project(web={}), progress=plain()[0])
    with pytest.raises(ComposeError, match='no container found for project "p"'):
        lifecycle.start(client, "p", None, progress=plain()[0])


def test_start_waits_for_a_healthy_dependency_and_fails_on_an_unhealthy_one() -> None:
    db = container("p", "db")
    client = FakeClient([container("p", "web", state="exited"), db], health={db["Id"]: "unhealthy"})
    spec = project(web={"depends_on": {"db": {"condition": "service_healthy", "required": True}}}, db={})
    with pytest.raises(DependencyError, match="container p-db-1 is unhealthy"):
        lifecycle.start(client, "p", spec, progress=plain()[0])
    assert client.actions("start") == []
    client.health[db["Id"]] = "healthy"
    lifecycle.start(client, "p", spec, progress=plain()[0])
    assert client.actions("start") == ["p-web-1"]


def test_stop_in_reverse_dependency_order_without_files() -> None:
    client = FakeClient([container("p", "web", depends_on="api:service_started:false"),
                         container("p", "api", depends_on="db:service_started:false"), container("p", "db"),
                         container("p", "job", oneoff=True)])
    progress, out = plain()
    lifecycle.stop(client, "P", None, progress=progress, parallel=1, timeout=3)
    assert client.actions("stop") == ["p-web-1", "p-api-1", "p-db-1"]
    assert all(params == {"t": 3} for method, path, params in client.calls if path.endswith("/stop"))
    assert " Container p-web-1  Stopped" in out.getvalue()


def test_stop_named_service_only_and_unknown_service() -> None:
    client = FakeClient([container("p", "web"), container("p", "db")])
    spec = project(web={"depends_on": {"db": {}}}, db={})
    lifecycle.stop(client, "p", spec, ["db"], progress=plain()[0])
    assert client.actions("stop") == ["p-db-1"]
    with pytest.raises(ServiceNotFound, match="no such service: nope"):
        lifecycle.stop(client, "p", spec, ["nope"], progress=plain()[0])


def test_restart_takes_dependents_with_restart_true_only() -> None:
    client = FakeClient([container("p", "db"), container("p", "web"), container("p", "worker")])
    spec = project(db={}, web={"depends_on": {"db": {"condition": "service_started", "restart": True}}},
                   worker={"depends_on": {"db": {"condition": "service_started", "restart": False}}})
    lifecycle.restart(client, "p", spec, ["db"], progress=plain()[0], parallel=1)
    assert client.actions("restart") == ["p-db-1", "p-web-1"]
    client.calls.clear()
    lifecycle.restart(client, "p", spec, ["db"], no_deps=True, progress=plain()[0])
    assert client.actions("restart") == ["p-db-1"]


# --------------------------------------------------------------------------- kill, rm, pause, wait


def test_kill_signal_orphans_and_nothing_to_kill() -> None:
    client = FakeClient([container("p", "web"), container("p", "gone")])
    lifecycle.kill(client, "p", project(web={}), signal="SIGTERM", progress=plain()[0])
    assert client.actions("kill") == ["p-web-1"]
    assert [params for method, path, params in client.calls if path.endswith("/kill")] == [{"signal": "SIGTERM"}]
    lifecycle.kill(client, "p", project(web={}), remove_orphans=True, progress=plain()[0])
    assert client.actions("kill")[-1] == "p-gone-1"
    with pytest.raises(lifecycle.NothingToDo, match="No container to kill") as caught:
        lifecycle.kill(client, "p", project(web={}), progress=plain()[0])
    assert caught.value.exit_code == 0


def test_rm_chooses_stopped_service_containers() -> None:
    client = FakeClient([container("p", "web"), container("p", "web", 2, state="exited"),
                         container("p", "db", state="created"), container("p", "web", 3, state="exited", oneoff=True)])
    chosen = lifecycle.removable(client, "p", project(web={}, db={}))
    assert [status.container_name(c) for c in chosen] == ["p-db-1", "p-web-2"]
    progress, out = plain()
    lifecycle.remove(client, chosen, volumes=True, progress=progress)
    assert sorted(client.actions("rm")) == ["p-db-1", "p-web-2"]
    assert all(params == {"v": "1", "force": None} for method, path, params in client.calls if method == "DELETE")
    assert " Container p-web-2  Removed" in out.getvalue()
    with pytest.raises(lifecycle.NothingToDo, match="No stopped containers"):
        lifecycle.removable(client, "p", project(web={}, db={}))


def test_pause_and_unpause_service_containers() -> None:
    client = FakeClient([container("p", "web"), container("p", "db"), container("p", "web", 2, oneoff=True)])
    progress, out = plain()
    lifecycle.pause(client, "p", project(web={}, db={}), ["web"], progress=progress)
    assert client.actions("pause") == ["p-web-1"]
    assert out.getvalue() == " Container p-web-1  Paused\n"
    lifecycle.pause(client, "p", None, progress=progress)  # the paused one left alone
    assert client.actions("pause") == ["p-web-1", "p-db-1"]
    lifecycle.unpause(client, "p", None, ["web"], progress=progress)
    assert client.actions("unpause") == ["p-web-1"]


def test_wait_reports_each_exit_and_returns_the_last_code() -> None:
    client = FakeClient([container("p", "web"), container("p", "db")])
    seen: list[tuple[str, int]] = []
    code = lifecycle.wait(client, "p", ["web"], progress=plain()[0], on_exit=lambda i, c: seen.append((i, c)))
    assert code == 7 and seen == [(client.containers[0]["Id"], 7)]
    with pytest.raises(ComposeError, match='no containers for project "q"'):
        lifecycle.wait(client, "q", progress=plain()[0])


# --------------------------------------------------------------------------- status


def test_ps_running_by_default_all_and_status_filters() -> None:
    client = FakeClient([container("p", "web", 2), container("p", "web"), container("p", "db", state="exited"),
                         container("p", "web", 9, oneoff=True, state="exited")])
    assert [s["Name"] for s in status.ps(client, "p")] == ["p-web-1", "p-web-2"]
    assert [s["Name"] for s in status.ps(client, "p", all_=True)] == ["p-db-1", "p-web-1", "p-web-2", "p-web-9"]
    exited = status.ps(client, "p", statuses=["exited"])
    assert [(s["Name"], s["ExitCode"]) for s in exited] == [("p-db-1", 3), ("p-web-9", 3)]
    assert [s["Name"] for s in status.ps(client, "p", services=["db"], all_=True)] == ["p-db-1"]
    with pytest.raises(ServiceNotFound):
        status.ps(client, "p", project=project(web={}), services=["db"])


def test_ps_orphans_false_hides_undeclared_services() -> None:
    client = FakeClient([container("p", "web"), container("p", "old")])
    assert [s["Service"] for s in status.ps(client, "p", project=project(web={}))] == ["old", "web"]
    assert [s["Service"] for s in status.ps(client, "p", project=project(web={}), orphans=False)] == ["web"]


def test_ps_filter_syntax() -> None:
    assert status.parse_ps_filter("status=running") == ["running"]
    assert status.parse_ps_filter("") == []
    for bad, message in [("status", "arguments to --filter should be in form KEY=VAL"),
                         ("name=x", "unknown filter name"), ("source=x", "not implemented")]:
        with pytest.raises(ComposeError, match=message):
            status.parse_ps_filter(bad)


def test_ls_combines_states_and_config_files() -> None:
    client = FakeClient([container("a", "web", config_files="/x/compose.yaml,/x/over.yaml"),
                         container("a", "db", state="exited", config_files="/x/compose.yaml"),
                         container("a", "db", 2, config_files="/x/compose.yaml"),
                         container("b", "web", state="exited", config_files="/y/compose.yaml"),
                         container("c", "web")])
    assert status.stacks(client) == [
        {"Name": "a", "Status": "running(2)", "ConfigFiles": "/x/compose.yaml,/x/over.yaml"},
        {"Name": "c", "Status": "running(1)", "ConfigFiles": "N/A"}]
    assert [s["Status"] for s in status.stacks(client, all_=True)] == ["exited(1), running(2)", "exited(1)",
                                                                      "running(1)"]
    assert [s["Name"] for s in status.stacks(client, all_=True, filters=["name=^[ab]$"])] == ["a", "b"]
    with pytest.raises(ComposeError, match="invalid filter 'status'"):
        status.stacks(client, filters=["status=x"])


def test_port_lowest_number_index_and_errors() -> None:
    ports = [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
             {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"}]
    client = FakeClient([container("p", "web", 2, ports=[{**ports[0], "PublicPort": 8081}]),
                         container("p", "web", ports=ports)])
    assert status.port(client, "p", "web", 80) == ("0.0.0.0", 8080)
    assert status.port(client, "p", "web", 80, index=2) == ("0.0.0.0", 8081)
    assert status.port(client, "p", "web", 53, protocol="UDP") == ("0.0.0.0", 5353)
    with pytest.raises(ComposeError, match="no port 81/tcp for container p-web-1: 80/tcp, 53/udp"):
        status.port(client, "p", "web", 81)
    with pytest.raises(ComposeError, match='service "web" is not running container #3'):
        status.port(client, "p", "web", 80, index=3)
    with pytest.raises(ComposeError, match='service "db" is not running'):
        status.port(client, "p", "db", 80)


def test_top_per_running_container_sorted() -> None:
    client = FakeClient([container("p", "web", 2), container("p", "db"), container("p", "x", state="exited")])
    found = status.top(client, "p")
    assert [(c["Name"], c["Service"], c["Replica"]) for c in found] == [("p-db-1", "db", "1"), ("p-web-2", "web", "2")]
    assert [c["Name"] for c in status.top(client, "p", ["web"])] == ["p-web-2"]


def test_container_name_skips_link_aliases() -> None:
    assert status.container_name({"Names": ["/other/alias", "/p-web-1"]}) == "p-web-1"


def test_stop_ignores_a_dependency_outside_the_project() -> None:
    # db is disabled by a profile: stopping web must not trip on the graph
    client = FakeClient([container("p", "web")])
    lifecycle.stop(client, "p", project(web={"depends_on": {"db": {"required": True}}, "links": ["db"]}),
                   progress=plain()[0])
    assert client.actions("stop") == ["p-web-1"]
