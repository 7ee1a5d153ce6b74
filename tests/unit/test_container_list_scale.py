"""``GET /containers/json`` at scale: the rows of a thousand containers cost one pass over the records for
the links between them, not one pass per row (issue 17: ``ps`` under 100 ms with 1000 containers)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from moor.containers import views
from moor.containers.record import Container, State
from moor.services.containers import ContainerService


def _container(number: int, links: list[str] | None = None) -> Container:
    return Container(id=f"{number:064x}", name=f"c{number}", created=f"2026-01-01T00:00:{number % 60:02d}.5Z",
                     image_id="sha256:" + "a" * 64, image="busybox", path="sleep", args=["9"],
                     config={"Labels": {}}, host_config={"NetworkMode": "bridge", "Links": links},
                     state=State(Status="running", Running=True, StartedAt="2026-01-01T00:01:00Z"))


class CountingStore:
    def __init__(self, containers: list[Container]) -> None:
        self.containers = containers
        self.passes = 0

    def all(self) -> list[Container]:
        self.passes += 1
        return list(self.containers)


def _service(store: CountingStore) -> Any:
    service = SimpleNamespace(store=store)
    service.link_index = lambda: ContainerService.link_index(service)  # type: ignore[arg-type]
    service.link_names = lambda c: ContainerService.link_names(service, c)  # type: ignore[arg-type]
    return service


def test_the_rows_of_many_containers_read_the_records_once_for_their_links() -> None:
    containers = [_container(n) for n in range(300)] + [_container(300, ["/c7:db", "c8:cache"])]
    store = CountingStore(containers)
    rows = views.summaries(_service(store), containers)
    assert store.passes == 1
    names = {row["Id"]: row["Names"] for row in rows}
    assert names[containers[7].id] == ["/c300/db", "/c7"]
    assert names[containers[8].id] == ["/c300/cache", "/c8"]
    assert names[containers[9].id] == ["/c9"]


def test_one_row_alone_still_finds_its_link_names() -> None:
    containers = [_container(1), _container(2, ["c1:alias"])]
    row = views.summary(_service(CountingStore(containers)), containers[0])
    assert row["Names"] == ["/c1", "/c2/alias"]


def test_ps_quiet_prints_every_id_in_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ps -q`` with a thousand containers: one write of all the IDs (not a write per container)."""
    import click
    from click.testing import CliRunner

    from moor.cli.main import cli
    from tests.unit.fakedaemon import FakeDaemon, json_answer

    rows = [{"Id": f"{number:012x}" + "a" * 52} for number in range(1000)]
    echoed: list[str] = []
    real_echo = click.echo

    def counting_echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
        echoed.append(str(message))
        real_echo(message, *args, **kwargs)
    monkeypatch.setattr(click, "echo", counting_echo)
    with FakeDaemon(str(tmp_path)) as daemon:
        daemon.on("GET", "/containers/json", json_answer(rows))
        result = CliRunner().invoke(cli, ["-H", daemon.host, "ps", "-q"])
    assert result.exit_code == 0, result.output
    assert result.output == "".join(f"{number:012x}\n" for number in range(1000))
    assert len(echoed) == 1


def test_request_bodies_share_their_keys() -> None:
    """Records keep their create body's objects: with the keys interned, a thousand share one copy of each."""
    from moor.api.http import parse_json

    first = parse_json(b'{"HostConfig": {"NetworkMode": "density", "Memory' + b'Swap": 0}}', 64)
    second = parse_json('{"HostConfig": {"NetworkMode": "other", "Memory' + 'Swap": 1}}', 64)
    assert first == {"HostConfig": {"NetworkMode": "density", "MemorySwap": 0}}
    (one,), (other,) = [list(body["HostConfig"])[1:] for body in (first, second)]
    assert one is other


def test_concurrent_network_changes_share_their_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand containers leaving a network at once: one write of networks.json covers every change made
    while another write was under way (group commit), and the file ends with every change."""
    import threading

    from moor.networks.store import NetworkStore
    from moor.services.events import EventBus
    from moor.services.networks import NetworkService
    from moor.testing.fakes import fake_drivers

    service = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers"), EventBus())
    writes: list[int] = []
    first_write = threading.Event()
    release = threading.Event()
    original = NetworkStore.write

    def slow_write(self: NetworkStore, records: dict[str, Any]) -> None:
        writes.append(len(records))
        if len(writes) == 1:
            first_write.set()
            assert release.wait(20)
        original(self, records)
    monkeypatch.setattr(NetworkStore, "write", slow_write)
    network = service.find("bridge")
    assert network is not None
    tickets: list[threading.Thread] = []

    def change(number: int) -> None:
        with service.lock:
            network.labels[f"l{number}"] = "x"
            ticket = service._changed()
        service._flush(ticket)
    tickets.append(threading.Thread(target=change, args=(0,)))
    tickets[0].start()
    assert first_write.wait(20)
    for number in range(1, 20):
        thread = threading.Thread(target=change, args=(number,))
        thread.start()
        tickets.append(thread)
    while service._version < 20:
        threading.Event().wait(0.01)
    release.set()
    for thread in tickets:
        thread.join(20)
    assert len(writes) == 2  # the one under way, then one for the 19 changes made meanwhile
    saved = NetworkStore(str(tmp_path / "data")).load()
    assert len(saved[network.id].labels) == 20
