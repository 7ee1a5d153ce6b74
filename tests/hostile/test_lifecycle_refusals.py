"""Requests that a container's state forbids: each a 409 with Docker's message, and the container unharmed
(issue 12: exec on a paused container and start of a paused one were accepted)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hostile.invariants import Guard, check_answer
from hostile.wire import call, call_json
from moor.testing.daemon import DaemonProcess

#: (id, method, path template, JSON body, status, a phrase of Docker's message)
CASES = [
    ("exec-on-paused", "POST", "/containers/{paused}/exec", {"Cmd": ["true"]}, 409, "is paused"),
    ("start-paused", "POST", "/containers/{paused}/start", None, 409, "paused"),
    ("pause-paused", "POST", "/containers/{paused}/pause", None, 409, "already paused"),
    ("unpause-running", "POST", "/containers/{running}/unpause", None, 409, "not paused"),
    ("pause-created", "POST", "/containers/{created}/pause", None, 409, "not running"),
    ("exec-on-created", "POST", "/containers/{created}/exec", {"Cmd": ["true"]}, 409, "not running"),
    ("remove-running", "DELETE", "/containers/{running}", None, 409, "stop the container before"),
    ("remove-paused", "DELETE", "/containers/{paused}", None, 409, "paused"),
    ("rename-to-taken", "POST", "/containers/{created}/rename?name={running_name}", None, 409, "already in use"),
    ("create-taken-name", "POST", "/containers/create?name={running_name}", {"Image": "busybox"}, 409,
     "already in use"),
    ("network-remove-in-use", "DELETE", "/networks/hostile-net", None, 403, "active endpoints"),
    ("image-remove-in-use", "DELETE", "/images/{image}", None, 409, "conflict: unable to delete"),
    ("attach-exec-missing", "POST", "/exec/hostile-absent/start", {"Detach": True}, 404, "no such exec"),
]


@pytest.fixture(scope="module")
def states(hostile_daemon: DaemonProcess) -> Iterator[dict[str, str]]:
    """A created, a running and a paused container."""
    sock, made = hostile_daemon.socket, {}
    for state in ("created", "running", "paused"):
        name = f"hostile-state-{state}"
        answer = call_json(sock, "POST", f"/containers/create?name={name}",
                           {"Image": "busybox", "Cmd": ["sleep", "100000"]})
        assert answer.status == 201, answer
        made[state] = answer.json()["Id"]
        if state != "created":
            assert call(sock, "POST", f"/containers/{name}/start", timeout=60).status == 204
    assert call(sock, "POST", "/containers/hostile-state-paused/pause", timeout=60).status == 204
    image = call(sock, "GET", "/images/busybox/json").json()["Id"]
    yield {**made, "running_name": "hostile-state-running", "image": image}
    call(sock, "POST", "/containers/hostile-state-paused/unpause", timeout=60)
    for state in made:
        call(sock, "DELETE", f"/containers/hostile-state-{state}?force=1", timeout=60)


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_state_refusal(hostile_daemon: DaemonProcess, guard: Guard, states: dict[str, str], method: str, path: str,
                       body: dict[str, object] | None, status: int, says: str) -> None:
    answer = call_json(hostile_daemon.socket, method, path.format(**states), body)
    check_answer(answer)
    assert answer.status == status, f"{answer.status} {answer.message!r}"
    assert says in answer.message.lower(), answer.message
    for state in ("created", "running", "paused"):  # nothing changed
        seen = call(hostile_daemon.socket, "GET", f"/containers/{states[state]}/json").json()["State"]
        assert (seen["Status"], seen["Paused"]) == ({"created": "created", "running": "running",
                                                    "paused": "paused"}[state], state == "paused"), seen
