"""``moor compose --dry-run``: a client that reads from the engine but changes nothing (compose v2's DryRunClient).

Requests that only look (``GET``, ``HEAD``) go to the engine; those that would change something are answered
here as if they had succeeded: a container "created" gets a made-up ID and, when inspected later, looks
running and healthy, so that a command runs its whole course and reports every step it would take.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import Any

from moor.client import Client, Response
from moor.compose.errors import ComposeError


class DryRunClient(Client):
    """Wraps a :class:`~moor.client.Client`: reads pass through, writes are pretended."""

    def __init__(self, client: Client) -> None:
        super().__init__(client.host)
        self.client = client
        self._lock = threading.Lock()
        #: made-up container ID -> what its create asked for (name, body)
        self._containers: dict[str, dict[str, Any]] = {}

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        return self.call_with_headers(method, path, params, body, headers)[0]

    def call_with_headers(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
                          headers: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
        method = method.upper()
        if method in ("GET", "HEAD"):
            fake = self._fake_container(path)
            if fake is not None:
                return fake, {}
            return self.client.call_with_headers(method, path, params, body, headers)
        return self._pretend(method, path, params or {}, body), {}

    def open(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Response:
        if method.upper() in ("GET", "HEAD"):
            return self.client.open(method, path, params, body, headers)
        raise ComposeError(f"{method} {path} cannot be pretended in dry-run mode")

    def stream(self, method: str, path: str, params: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """A pull or push that would have happened: no messages."""
        if method.upper() in ("GET", "HEAD"):
            return self.client.stream(method, path, params, headers)
        return iter(())

    def _fake_container(self, path: str) -> dict[str, Any] | None:
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "containers":
            return None
        with self._lock:
            made = self._containers.get(parts[1])
        if made is None:
            return None
        body = made["body"]
        return {"Id": parts[1], "Name": "/" + made["name"], "Config": {**body, "Labels": body.get("Labels") or {}},
                "State": {"Status": "running", "Running": True, "ExitCode": 0, "Health": {"Status": "healthy"}},
                "HostConfig": body.get("HostConfig") or {}, "NetworkSettings": {"Networks": {}}, "Mounts": []}

    def _pretend(self, method: str, path: str, params: dict[str, Any], body: Any) -> Any:
        if method == "POST" and path == "/containers/create":
            container_id = secrets.token_hex(32)
            with self._lock:
                self._containers[container_id] = {"name": str(params.get("name") or container_id[:12]),
                                                  "body": body if isinstance(body, dict) else {}}
            return {"Id": container_id, "Warnings": []}
        if method == "POST" and path == "/networks/create":
            return {"Id": secrets.token_hex(32), "Warning": ""}
        if method == "POST" and path == "/volumes/create":
            return {"Name": (body or {}).get("Name") or secrets.token_hex(32), "Driver": "local"}
        if method == "POST" and path.endswith("/wait"):
            return {"StatusCode": 0}
        return None
