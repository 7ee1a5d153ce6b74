"""Name filters are regular expressions (Docker's, RE2 semantics): a pattern that backtracks exponentially
in a backtracking engine must still answer at once (issue 12: a name filter regex could hang a worker);
a pattern that is not a regular expression matches nothing (Docker's filters.Args.Match skips it), no error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from hostile.invariants import Guard, check_answer
from hostile.wire import call, call_json
from moor.testing.daemon import DaemonProcess

LONG_NAME = "a" * 48 + "-x"

#: patterns that cost a backtracking engine 2^48 steps against LONG_NAME
EXPLOSIVE = {"nested-plus": "^(a+)+$", "nested-star": "^(a*)*$", "alternation": "^(a|a)*$",
             "alternation-aa": "^(a|aa)+$", "nested-groups": "^((a+)+)+$",
             "optional-chain": "^" + "a?" * 48 + "a" * 48 + "$"}
INVALID = {"unbalanced": "(", "bad-class": "[z-a]", "bad-repeat": "a**", "backreference": r"(a)\1"}


@pytest.fixture(scope="module")
def named(hostile_daemon: DaemonProcess) -> Iterator[str]:
    made = call_json(hostile_daemon.socket, "POST", f"/containers/create?name={LONG_NAME}",
                     {"Image": "busybox", "Cmd": ["true"]})
    assert made.status == 201, made
    yield LONG_NAME
    call(hostile_daemon.socket, "DELETE", f"/containers/{LONG_NAME}?force=1", timeout=60)


def _list(daemon: DaemonProcess, pattern: str) -> tuple[int, list[str], str]:
    filters = quote(json.dumps({"name": [pattern]}), safe="")
    answer = call(daemon.socket, "GET", f"/containers/json?all=1&filters={filters}", timeout=20)
    check_answer(answer)
    names = [n for c in answer.json() for n in c["Names"]] if answer.status == 200 else []
    return answer.status, names, answer.message


@pytest.mark.parametrize("pattern", list(EXPLOSIVE.values()), ids=list(EXPLOSIVE))
def test_explosive_pattern_answers_at_once(hostile_daemon: DaemonProcess, guard: Guard, named: str,
                                           pattern: str) -> None:
    status, names, message = _list(hostile_daemon, pattern)  # a hang is the 20 s client timeout
    assert status == 200, message
    assert f"/{named}" not in names  # "-x" never matches


@pytest.mark.parametrize("pattern", list(INVALID.values()), ids=list(INVALID))
def test_invalid_pattern_matches_nothing(hostile_daemon: DaemonProcess, guard: Guard, named: str,
                                         pattern: str) -> None:
    status, names, message = _list(hostile_daemon, pattern)
    assert status == 200, message
    assert names == []


@pytest.mark.parametrize("endpoint", ["/networks", "/volumes", "/images/json", "/containers/prune",
                                      "/networks/prune", "/volumes/prune", "/images/prune"])
@pytest.mark.parametrize("pattern", list(EXPLOSIVE.values())[:2], ids=list(EXPLOSIVE)[:2])
def test_explosive_names_elsewhere(hostile_daemon: DaemonProcess, guard: Guard, endpoint: str, pattern: str) -> None:
    """The other listings and the prunes (with a label no object has: nothing is pruned) answer at once too."""
    key = "reference" if endpoint.startswith("/images/json") else "name"
    wanted = {key: [pattern]} if not endpoint.endswith("/prune") else {"label": [f"hostile.never={pattern}"]}
    method = "POST" if endpoint.endswith("/prune") else "GET"
    answer = call(hostile_daemon.socket, method, f"{endpoint}?filters={quote(json.dumps(wanted), safe='')}",
                  timeout=20)
    check_answer(answer)
    assert answer.status == 200, answer
