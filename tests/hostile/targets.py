"""The objects API cases act on, and running one case with its set-up and clean-up, on any Docker API socket.

The same code drives moord in the tests and dockerd in ``record_docker.py``, so both see the same requests.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from hostile.apicases import ENDPOINTS, IDLE, NETWORK, NETWORK2, RUNNING, Case
from hostile.wire import Answer, call, call_json, query


def _must(answer: Answer, what: str) -> Answer:
    if answer.status >= 300 and answer.status != 304:
        raise RuntimeError(f"{what}: {answer.status} {answer.body[:300]!r}")
    return answer


#: socket -> target name -> container ID (a renamed target is renamed back by its ID)
TARGET_IDS: dict[str, dict[str, str]] = {}


def make_targets(sock: str) -> None:
    """Two user networks, an idle container and a running one (both on the first network)."""
    for network in (NETWORK, NETWORK2):
        _must(call_json(sock, "POST", "/networks/create", {"Name": network}), f"network {network}")
    for name in (IDLE, RUNNING):
        body = {"Image": "busybox", "Cmd": ["sleep", "100000"], "HostConfig": {"NetworkMode": NETWORK}}
        made = _must(call_json(sock, "POST", f"/containers/create?name={name}", body), f"create {name}")
        TARGET_IDS.setdefault(sock, {})[name] = str(made.json()["Id"])
    _must(call(sock, "POST", f"/containers/{RUNNING}/start"), "start")


def remove_targets(sock: str) -> None:
    for name in (IDLE, RUNNING):
        call(sock, "DELETE", f"/containers/{name}?force=1", timeout=60)
    for network in (NETWORK, NETWORK2):
        call(sock, "DELETE", f"/networks/{network}")


def fresh_exec(sock: str) -> str:
    answer = _must(call_json(sock, "POST", f"/containers/{RUNNING}/exec", {"Cmd": ["true"]}), "exec create")
    return str(answer.json()["Id"])


def run_case(sock: str, case: Case) -> Answer:
    """Send the case's request; undo whatever an accepted request made or changed."""
    path = case.path
    if "{exec}" in path:
        path = path.replace("{exec}", fresh_exec(sock))
    answer = call(sock, case.method, path + query(case.query), case.body or None)
    if answer.status < 300:
        _undo(sock, case, answer)
    return answer


def _created(answer: Answer, key: str) -> str:
    try:
        return str(json.loads(answer.body)[key])
    except (ValueError, KeyError, TypeError):
        return ""


def _undo(sock: str, case: Case, answer: Answer) -> None:
    makes = ENDPOINTS[case.endpoint].makes if case.endpoint in ENDPOINTS else ""
    if makes == "container" or case.path == "/containers/create":
        call(sock, "DELETE", f"/containers/{_created(answer, 'Id')}?force=1", timeout=60)
    elif makes == "network":
        call(sock, "DELETE", f"/networks/{_created(answer, 'Id')}")
    elif makes == "volume":
        call(sock, "DELETE", f"/volumes/{quote(_created(answer, 'Name'), safe='')}?force=1")
    elif makes == "connect":
        call_json(sock, "POST", f"/networks/{NETWORK2}/disconnect", {"Container": IDLE, "Force": True})
    elif case.path.endswith("/rename"):
        call(sock, "POST", f"/containers/{TARGET_IDS[sock][IDLE]}/rename?name={IDLE}")
    elif case.path.endswith("/tag"):
        call(sock, "DELETE", f"/images/{quote(case.query['repo'] + ':' + case.query['tag'], safe=':/')}")
    elif case.path == "/images/create":
        call(sock, "DELETE", f"/images/{case.query['repo']}:{case.query['tag']}?force=1")
    elif case.path == "/commit":
        call(sock, "DELETE", f"/images/{_created(answer, 'Id')}?force=1")
    elif case.path.endswith(("/restart", "/stop")):
        call(sock, "POST", f"/containers/{IDLE}/stop?t=0", timeout=60)
