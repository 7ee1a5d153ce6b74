"""``docker ps`` filters and order as Docker 20.10 answers them (checked against a private dockerd)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from moor.errors import InvalidParameter
from moor.services import container_list


def _container(name: str, created: str, running: bool = True, ports: dict[str, Any] | None = None,
               exposed: tuple[str, ...] = (), health: str | None = None,
               networks: dict[str, Any] | None = None) -> Any:
    state = SimpleNamespace(Status="running" if running else "created", Running=running, ExitCode=0,
                            Health={"Status": health} if health else None)
    return SimpleNamespace(name=name, id=name * 8, created=created, state=state, image_id="", image="busybox",
                           config={"ExposedPorts": {p: {} for p in exposed}}, mounts=[], ports=ports or {},
                           networks={"bridge": {"NetworkID": "abc123"}} if networks is None else networks)


OLD = _container("old", "2024-01-01T00:00:01Z")
WEB = _container("web", "2024-01-01T00:00:02Z", ports={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8081"}]},
                 exposed=("90/tcp",), health="healthy")
NEW = _container("new", "2024-01-01T00:00:03Z", running=False)
ALONE = _container("alone", "2024-01-01T00:00:04Z", networks={"none": {"NetworkID": "fff"}})
ALL = [OLD, WEB, NEW, ALONE]


def _names(filters: dict[str, list[str]], all_containers: bool = True, limit: int = -1) -> list[str]:
    def get(ident: str) -> Any:
        return next(c for c in ALL if c.name == ident)
    return [c.name for c in container_list.select(ALL, all_containers, filters, limit, lambda _n: None, get)]


def test_newest_first_and_a_limit_lists_stopped_ones_too() -> None:
    assert _names({}) == ["alone", "new", "web", "old"]
    assert _names({}, all_containers=False) == ["alone", "web", "old"]
    assert _names({}, all_containers=False, limit=2) == ["alone", "new"]  # ps -n 2 / -l: created ones too


@pytest.mark.parametrize(("filters", "expected"), [
    ({"publish": ["8081"]}, ["web"]),
    ({"publish": ["8081/tcp"]}, ["web"]),
    ({"publish": ["8080-8090"]}, ["web"]),
    ({"publish": ["80"]}, []),  # the host port, not the container's
    ({"publish": ["8081/udp"]}, []),
    ({"expose": ["80"]}, ["web"]),  # a published port is exposed too
    ({"expose": ["85-95/tcp"]}, ["web"]),
    ({"expose": ["8081"]}, []),
    ({"health": ["healthy"]}, ["web"]),
    ({"health": ["none"]}, ["alone", "new", "old"]),
    ({"health": ["unhealthy", "starting"]}, []),
    ({"network": ["bridge"]}, ["new", "web", "old"]),
    ({"network": ["abc"]}, ["new", "web", "old"]),  # an ID prefix
    ({"network": ["none"]}, ["alone"]),
    ({"network": ["bri"]}, []),  # names match whole
    ({"is-task": ["true"]}, []),
    ({"is-task": ["false"]}, ["alone", "new", "web", "old"]),
    ({"isolation": ["default"]}, ["alone", "new", "web", "old"]),
])
def test_filters(filters: dict[str, list[str]], expected: list[str]) -> None:
    assert _names(filters) == expected


def test_a_stopped_container_publishes_nothing() -> None:
    stopped = _container("stopped", "2024-01-01T00:00:05Z", running=False,
                         ports={"80/tcp": [{"HostIp": "", "HostPort": "8081"}]}, exposed=("90/tcp",))
    found = container_list.select([stopped], True, {"publish": ["8081"]}, -1, lambda _n: None, lambda _i: stopped)
    assert found == []
    assert container_list.select([stopped], True, {"expose": ["90"]}, -1, lambda _n: None, lambda _i: stopped) == []


@pytest.mark.parametrize(("filters", "message"), [
    ({"status": ["rubbish"]}, "Invalid filter 'status=rubbish'"),
    ({"bogus": ["abc"]}, "Invalid filter 'bogus'"),
    ({"health": ["bogus"]}, "Unrecognised filter value for health: bogus"),
    ({"is-task": ["maybe"]}, "Invalid filter 'is-task=[maybe]'"),
    ({"exited": ["abc"]}, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ({"publish": ["abc"]}, 'error while looking up for publish abc: strconv.ParseUint: parsing "abc": invalid syntax'),
    ({"expose": ["x/tcp"]}, 'error while looking up for expose x/tcp: strconv.ParseUint: parsing "x": invalid syntax'),
])
def test_bad_values_are_refused_in_dockers_words(filters: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        _names(filters)
    assert str(raised.value) == message


def test_ancestor_matches_images_made_on_it() -> None:
    base, child, grandchild, other = (SimpleNamespace(id=f"sha256:{n}") for n in ("base", "child", "grand", "other"))
    made: dict[str, list[Any]] = {base.id: [child], child.id: [grandchild]}
    containers = []
    for name, image in (("on-base", base), ("on-child", child), ("on-grand", grandchild), ("on-other", other)):
        container = _container(name, "2024-01-01T00:00:01Z")
        container.image_id, container.image = image.id, name
        containers.append(container)

    def find(name: str) -> Any:
        return {"base": base, "child": child}.get(name)

    def names(wanted: str) -> list[str]:
        found = container_list.select(containers, True, {"ancestor": [wanted]}, -1, find, lambda _i: None,
                                      lambda image_id: made.get(image_id, []))
        return sorted(c.name for c in found)

    assert names("base") == ["on-base", "on-child", "on-grand"]
    assert names("child") == ["on-child", "on-grand"]
    assert names("missing") == []
