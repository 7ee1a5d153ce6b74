"""The requests ``up -d`` and ``down`` send, against a fake engine: nothing needless (one list per kind, no
inspects in detached mode), the project's network made once, creates before starts, down in reverse order."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from moor.client import DaemonError
from moor.compose.model import Project
from moor.compose.runtime.down import down
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.up import UpOptions, converge


class FakeEngine:
    """Just enough of the Engine API for up and down; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.containers: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        with self.lock:
            self.requests.append((method, path))
            if (method, path) == ("GET", "/containers/json"):
                labels = json.loads((params or {})["filters"])["label"]
                return [c for c in self.containers.values()
                        if all(c["Labels"].get(k) == v for k, _, v in (x.partition("=") for x in labels))]
            if (method, path) == ("GET", "/networks"):
                return list(self.networks.values())
            if (method, path) == ("GET", "/volumes"):
                return {"Volumes": []}
            if method == "GET" and path.startswith("/images/"):
                return {"Id": "sha256:" + "b" * 64}
            if (method, path) == ("POST", "/networks/create"):
                self.networks[body["Name"]] = {"Name": body["Name"], "Id": body["Name"], "Labels": body["Labels"]}
                return {"Id": body["Name"]}
            if (method, path) == ("POST", "/containers/create"):
                cid = f"{len(self.containers):064d}"
                self.containers[cid] = {"Id": cid, "Names": ["/" + params["name"]], "Labels": body["Labels"],
                                        "State": "created", "Image": body["Image"]}
                return {"Id": cid, "Warnings": []}
            if method == "POST" and path.endswith("/start"):
                self.containers[path.split("/")[2]]["State"] = "running"
                return None
            if method == "POST" and path.endswith("/stop"):
                self.containers[path.split("/")[2]]["State"] = "exited"
                return None
            if method == "DELETE" and path.startswith("/containers/"):
                del self.containers[path.split("/")[2]]
                return None
            if method == "DELETE" and path.startswith("/networks/"):
                self.networks.pop(path.split("/")[2])
                return None
            raise DaemonError(404, f"unexpected {method} {path}")


def kind(method: str, path: str) -> str:
    """``POST /containers/ID/start`` as ``POST containers/start``, ``GET /containers/json`` as is."""
    parts = path.strip("/").split("/")
    return f"{method} {parts[0]}/{parts[-1]}" if len(parts) > 1 else f"{method} {parts[0]}"


def project() -> Project:
    services = {f"s{i}": {"image": "busybox:latest", "networks": {"default": None}} for i in range(5)}
    services["top"] = {"image": "busybox:latest", "networks": {"default": None},
                       "depends_on": {"s0": {"condition": "service_started", "required": True}}}
    return Project("p", "/tmp/p", ["/tmp/p/compose.yaml"], services=services,
                   networks={"default": {"name": "p_default"}})


def test_up_detached_sends_nothing_needless() -> None:
    engine = FakeEngine()
    converge(engine, project(), [], UpOptions(), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    kinds = [kind(method, path) for method, path in engine.requests]
    assert kinds.count("GET containers/json") == 1
    assert kinds.count("GET networks") == 1 and kinds.count("GET volumes") == 1
    assert kinds.count("GET images/json") == 1  # one image, looked at once
    assert kinds.count("POST networks/create") == 1
    assert kinds.count("POST containers/create") == 6 and kinds.count("POST containers/start") == 6
    assert len(kinds) == 4 + 1 + 12  # no inspects
    order = [engine.containers[p.split("/")[2]]["Names"][0] for m, p in engine.requests if p.endswith("/start")]
    assert order.index("/p-s0-1") < order.index("/p-top-1")
    assert all(c["State"] == "running" for c in engine.containers.values())

    # a second up changes nothing and only looks
    engine.requests.clear()
    converge(engine, project(), [], UpOptions(), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    assert all(m == "GET" for m, _ in engine.requests) and len(engine.requests) == 4


def test_down_reverse_order_and_network() -> None:
    engine = FakeEngine()
    converge(engine, project(), [], UpOptions(), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    names = {cid: c["Names"][0] for cid, c in engine.containers.items()}
    engine.requests.clear()
    down(engine, "p", project(), progress=Progress("quiet"))  # type: ignore[arg-type]
    removed = [names[p.split("/")[2]] for m, p in engine.requests if m == "DELETE" and p.startswith("/containers")]
    assert removed.index("/p-top-1") < removed.index("/p-s0-1")
    assert engine.containers == {} and engine.networks == {}


class SlowEngine(FakeEngine):
    """Counts the changes under way at once (each takes a little while)."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0
        self.peak = 0
        self.counter = threading.Lock()

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        if method == "GET":
            return super().call(method, path, params, body, headers)
        with self.counter:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(0.02)
            return super().call(method, path, params, body, headers)
        finally:
            with self.counter:
                self.active -= 1


def test_parallel_bounds_the_whole_project() -> None:
    bounded = SlowEngine()
    many = project()
    many.services["s0"]["scale"] = 4
    converge(bounded, many, [], UpOptions(parallel=2), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    assert bounded.peak == 2
    assert len(bounded.containers) == 9
    free = SlowEngine()
    converge(free, project(), [], UpOptions(), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    assert free.peak > 2


def test_parallel_bounds_down_too() -> None:
    engine = SlowEngine()
    converge(engine, project(), [], UpOptions(), Progress("quiet"), inspect=False)  # type: ignore[arg-type]
    engine.peak = 0
    down(engine, "p", project(), progress=Progress("quiet"), parallel=2)  # type: ignore[arg-type]
    assert engine.peak == 2 and engine.containers == {}
