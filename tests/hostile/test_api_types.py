"""Wrong JSON types, extreme values and broken bodies for every field of every request body, and hostile
query parameters: each answered as Docker 20.10 answers it (its 500s, which are Go decoding errors and
missing validation, as the 400s later Docker versions give), never with a 5xx or a traceback."""

from __future__ import annotations

import json

import pytest

from hostile.apicases import DATA, Case, all_cases
from hostile.invariants import Guard, check_answer
from hostile.targets import run_case
from moor.testing.daemon import DaemonProcess

CASES = all_cases()
DOCKER = json.loads((DATA / "docker_answers.json").read_text())


#: Go's decoding errors, which Docker 20.10 answered with a 500 and later versions with a 400
_DECODING = ("json: ", "invalid character", "unexpected end of JSON", "unexpected EOF", "strconv.")
ANY_4XX = frozenset(range(400, 500))
SUCCESS = frozenset(range(200, 300))
#: where moor answers as later Docker versions do, or as issue 12 asks, not as 20.10 did: case id -> statuses
OVERRIDES: dict[str, frozenset[int]] = {
    # newer Docker reads h and w as unsigned integers (ParseUint): a negative or too large one is a 400
    **{f"q-resize-{axis}-{label}": frozenset({400}) for axis in "hw" for label in ("neg", "neg-huge", "max")},
    # issue 12: Hostname (and Domainname, MacAddress) are validated; 20.10 took a NUL or 64 KiB
    **{f"create-{field}-{label}": frozenset({400}) for field in ("Hostname", "Domainname", "MacAddress")
       for label in ("long", "nul", "newline", "dotdot")},
    # ... and so is an endpoint's MacAddress at network connect, now applied (API 1.44; 20.10 ignored it)
    **{f"connect-EndpointConfig.MacAddress-{label}": frozenset({400})
       for label in ("long", "nul", "newline", "dotdot")},
    # newer Docker's restart policy checks (same wording)
    "create-HostConfig.RestartPolicy.MaximumRetryCount-neg": frozenset({400}),
    "create-HostConfig.RestartPolicy.MaximumRetryCount-max": frozenset({400}),
    # 20.10 made a container without an image; newer Docker and moor refuse
    "create-Image-null": frozenset({400}),
    # ps and events refuse an unknown filter, as newer Docker does
    "q-events-filters-unknown": frozenset({400}),
    # issue 12 asks a 400 for logs?tail=abc; 20.10 read a tail it could not parse as "all" (200): either
    **{f"q-logs-tail-{label}": SUCCESS | {400} for label in ("str", "float", "huge", "empty-ish", "hex")},
    # ps itself refuses 20000 "a"s here (exit 1, a 400); dockerd's host answered 200: the host's ps decides
    "qt-get-containers.id.top-ps_args-long": SUCCESS | {400},
    # issue 12: Dns, HostIp and Hostname are validated at create, duplicate tmpfs mount points refused (20.10
    # took them and failed at start, or never)
    **{f"value-{name}": frozenset({400}) for name in (
        "dns-not-an-address", "dns-with-port", "host-ip-not-an-address", "hostname-newline", "hostname-too-long",
        "tmpfs-and-mount-same-target")},
    # issue 12: a bad port spec is a 400 (20.10 took these ExposedPorts keys and failed at start)
    "value-port-spec-not-a-number": frozenset({400}),
    "value-port-spec-too-big": frozenset({400}),
    # a seccomp profile travels as its JSON; a path is refused at create (20.10 failed at start)
    "value-security-opt-seccomp-missing-file": frozenset({400}),
    # moor publishes TCP and UDP only and says so at create (20.10 failed later)
    "value-port-binding-bad-key": SUCCESS | {400},
    # 20.10's line scanner gives up on a 64 KiB instruction ("file with no instructions"): taking it is fine too
    "changes-import-label-long": SUCCESS | {400},
    "changes-commit-label-long": SUCCESS | {400},
    # 20.10 ignored an unknown wait condition (200), newer Docker refuses it (400): either, but an answer
    **{f"q-wait-condition-{label}": SUCCESS | {400} for label in ("bogus", "upper", "space", "nul")},
    # a CPU quota past the kernel's maximum: 20.10 took it and every later start failed in runc; moor refuses
    "create-HostConfig.CpuQuota-max": frozenset({400}),
    "update-CpuQuota-max": frozenset({400}),
    # 20.10 took a negative CPU weight and handed the kernel 2^64-1 (the maximum weight); moor refuses it
    "create-HostConfig.CpuShares-neg": frozenset({400}),
    "update-CpuShares-neg": frozenset({400}),
    # 20.10 refuses any memory update of a container without a swap limit unless the swap comes along (a known
    # nuisance: docker update -m fails on every container made without -m); moor applies the limit
    "update-Memory-max": SUCCESS | {409},
}


def expected(case: Case) -> frozenset[int]:
    """The statuses a correct answer may have: Docker's, its 5xx mapped to the 4xx they should have been."""
    if case.id in OVERRIDES:
        return OVERRIDES[case.id]
    status, message = int(DOCKER[case.id][0]), str(DOCKER[case.id][1])
    if status < 300 and case.id.endswith(("-nul", "-with-nul")):
        return SUCCESS | {400}  # no kernel call takes a NUL byte: refusing it now is as right as failing later
    if status >= 500:
        return frozenset({400}) if message.startswith(_DECODING) else ANY_4XX
    return SUCCESS if status < 300 else frozenset({status})


def field_named(case: Case) -> str:
    """The JSON field a type error is about ("" when the case is not about one field)."""
    message = str(DOCKER[case.id][1])
    if "Go struct field" not in message:
        return ""
    return message.split("Go struct field ", 1)[1].split(" of type", 1)[0].rsplit(".", 1)[-1]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_api_case(hostile_daemon: DaemonProcess, guard: Guard, case: Case) -> None:
    answer = run_case(hostile_daemon.socket, case)
    check_answer(answer)
    want = expected(case)
    docker_said = f"(Docker: {DOCKER[case.id][0]} {DOCKER[case.id][1][:200]!r})"
    assert answer.status in want, f"{answer.status} {answer.message[:300]!r} {docker_said}"
    if answer.status >= 400 and case.method != "HEAD":
        assert answer.message.strip(), answer.body[:300]
    name = field_named(case)
    if name:  # a type error names the field, as Go's decoder does
        assert name.lower() in answer.message.lower(), f"{answer.message!r} does not name {name} {docker_said}"
