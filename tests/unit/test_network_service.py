"""The network service over fake drivers: list and prune filters, endpoint settings, events, names and
restarts, checked as Docker does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moor.errors import Conflict, Forbidden, InvalidParameter, NotFound
from moor.networks.model import Endpoint, IPAMConfig, Network, NetworkRequest
from moor.networks.store import NetworkStore
from moor.networks.views import network_view
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.fakes import fake_drivers, fake_of
from moor.timefmt import format_timestamp, parse_timestamp


@pytest.fixture
def service(tmp_path: Path) -> NetworkService:
    networks = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers"), EventBus())
    networks.create(NetworkRequest(name="idle", labels={"keep": "no"}))
    networks.create(NetworkRequest(name="used"))
    networks.get("used").endpoints["c" * 64] = Endpoint(name="c", endpoint_id="e" * 64)
    return networks


def names(networks: list[Network]) -> list[str]:
    return sorted(n.name for n in networks)


def test_dangling_networks_are_the_unused_user_defined_ones(service: NetworkService) -> None:
    assert names(service.list({"dangling": ["true"]})) == ["idle"]
    assert names(service.list({"dangling": ["0"]})) == ["bridge", "host", "none", "used"]
    assert names(service.list({"scope": ["swarm"]})) == []


@pytest.mark.parametrize(("filters", "message"), [
    ({"bogus": ["1"]}, "Invalid filter 'bogus'"),
    ({"dangling": ["maybe"]},
     "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"),
    ({"type": ["weird"]}, "invalid filter: 'type'='weird'"),
])
def test_bad_list_filters_are_refused_with_dockers_words(service: NetworkService, filters: dict[str, list[str]],
                                                         message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        service.list(filters)
    assert str(caught.value) == message


def test_prune_refuses_unknown_filters_and_removes_nothing(service: NetworkService) -> None:
    for filters in ({"bogus": ["1"]}, {"dangling": ["true"]}):
        with pytest.raises(InvalidParameter, match=f"Invalid filter '{next(iter(filters))}'"):
            service.prune(filters)
    assert names(service.list({})) == ["bridge", "host", "idle", "none", "used"]


def test_prune_until_keeps_newer_networks(service: NetworkService) -> None:
    assert service.prune({"until": ["240h"]}) == []
    assert service.prune({"until": [format_timestamp(parse_timestamp("0s") + 60)]}) == ["idle"]


@pytest.mark.parametrize(("text", "ago"), [("24h", 86400.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("300ms", 0.3)])
def test_timestamps_may_be_go_durations_before_now(text: str, ago: float) -> None:
    import time

    assert abs(time.time() - ago - parse_timestamp(text)) < 5


class Member:
    id = "d" * 64
    short_id = "d" * 12
    name = "member"


@pytest.mark.parametrize(("settings", "message"), [
    ({"IPAMConfig": {"IPv4Address": "10.1.0.9"}},
     "user specified IP address is supported on user defined networks only"),
    ({"Aliases": ["web"]}, "network-scoped alias is supported only for containers in user defined networks"),
])
def test_the_default_bridge_takes_no_chosen_address_or_alias(service: NetworkService, settings: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        service.connect(Member(), "bridge", "/proc/self/ns/net", settings)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert service.connect(Member(), "bridge", "", {})["Aliases"] is None  # type: ignore[arg-type]


def test_a_rejoin_keeps_one_short_id_alias(service: NetworkService) -> None:
    first = service.connect(Member(), "idle", "", {"Aliases": ["web"]})  # type: ignore[arg-type]
    again = service.connect(Member(), "idle", "", first)  # type: ignore[arg-type]
    assert again["Aliases"] == ["web", "d" * 12]


def test_an_endpoint_keeps_its_driver_opts_as_docker_shows_them(service: NetworkService) -> None:
    """docker-py's test_create_with_driveropt: EndpointSettings.DriverOpts come back as asked (null for none)."""
    joined = service.connect(Member(), "idle", "", {"DriverOpts": {"com.docker-py.setting": "on"}})  # type: ignore[arg-type]
    assert joined["DriverOpts"] == {"com.docker-py.setting": "on"}
    plain = service.connect(Member(), "used", "", {})  # type: ignore[arg-type]
    assert plain["DriverOpts"] is None


def test_ipv6_needs_a_subnet_as_in_docker(service: NetworkService) -> None:
    with pytest.raises(InvalidParameter, match="^could not find an available, non-overlapping IPv6 address pool"):
        service.create(NetworkRequest(name="six", enable_ipv6=True))
    assert service.find("six") is None


# ---------------------------------------------------------------------- over the shared fake drivers


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def faked(tmp_path: Path, bus: EventBus) -> NetworkService:
    return NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers"), bus)


def network_events(bus: EventBus) -> list[tuple[str, str, dict[str, str]]]:
    past, channel = bus.subscribe()
    bus.unsubscribe(channel)
    return [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in past if e["Type"] == "network"]


def test_create_remove_and_prune_publish_dockers_events(faked: NetworkService, bus: EventBus) -> None:
    made = faked.create(NetworkRequest(name="evented", ipam=(IPAMConfig(subnet="10.3.0.0/24"),)))
    faked.remove("evented")
    pruned = faked.create(NetworkRequest(name="pruned"))
    assert faked.prune({}) == ["pruned"]
    assert network_events(bus) == [("create", made.id, {"name": "evented", "type": "bridge"}),
                                   ("destroy", made.id, {"name": "evented", "type": "bridge"}),
                                   ("create", pruned.id, {"name": "pruned", "type": "bridge"}),
                                   ("destroy", pruned.id, {"name": "pruned", "type": "bridge"}),
                                   ("prune", "", {"reclaimed": "0"})]
    with pytest.raises(Forbidden, match="^bridge is a pre-defined network and cannot be removed$"):
        faked.remove("bridge")
    assert len(network_events(bus)) == 5  # a refused removal publishes nothing


def test_a_member_is_shown_named_and_resolved_until_it_leaves(faked: NetworkService, tmp_path: Path) -> None:
    network = faked.create(NetworkRequest(name="app", labels={"l": "1"}, ipam=(IPAMConfig(subnet="10.4.0.0/24"),)))
    settings = faked.connect(Member(), "app", "/proc/self/ns/net", {"Aliases": ["web"]})  # type: ignore[arg-type]
    assert (settings["IPAddress"], settings["IPPrefixLen"], settings["Aliases"]) == ("10.4.0.2", 24, ["web", "d" * 12])
    shown = network_view(faked.get(network.id[:12]))
    assert shown["Containers"] == {Member.id: {"Name": "member", "EndpointID": settings["EndpointID"],
                                               "MacAddress": settings["MacAddress"], "IPv4Address": "10.4.0.2/24",
                                               "IPv6Address": ""}}
    assert shown["IPAM"]["Config"] == [{"Subnet": "10.4.0.0/24"}] and shown["Labels"] == {"l": "1"}
    assert faked.members("app") == {Member.id} and faked.members("nosuch") == set()
    assert faked.resolve(Member.id, "WEB.app.") == ["10.4.0.2"] and faked.reverse(Member.id, "10.4.0.2") == "member.app"
    with pytest.raises(Forbidden, match="has active endpoints$"):
        faked.remove("app")
    faked.rename_member(Member.id, "renamed")
    assert faked.resolve(Member.id, "renamed") == ["10.4.0.2"] and faked.resolve(Member.id, "member") is None

    joined = Member()
    joined.networks = {"app": settings}  # type: ignore[attr-defined]
    faked.disconnect(joined, "app", None)  # type: ignore[arg-type]
    assert faked.get("app").endpoints == {} and not faked.on_user_network(Member.id)
    assert fake_of(faked.drivers, "network").networks[network.id].endpoints == {}
    faked.remove("app")
    assert faked.find("app") is None


def test_networks_are_kept_across_a_restart(tmp_path: Path, faked: NetworkService) -> None:
    made = faked.create(NetworkRequest(name="kept", internal=True, ipam=(IPAMConfig(subnet="10.6.0.0/24"),)))
    faked.connect(Member(), "kept", "", {})  # type: ignore[arg-type]
    again = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers2"), EventBus())
    assert again.get("kept") == made and again.get("kept").endpoints[Member.id].aliases == ["d" * 12]
    assert {n.name for n in again.list({})} == {"bridge", "host", "none", "kept"}


def test_a_connect_writes_its_endpoints_own_file_and_not_the_records(tmp_path: Path, faked: NetworkService,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A connect, rename or disconnect writes (unsynced) the endpoint's own small file, never networks.json: with
    a thousand endpoints that file was some 400 kB, encoded and fsynced at each connect. A restart reads them."""
    network = faked.create(NetworkRequest(name="app"))
    writes: list[object] = []
    original = NetworkStore.write
    monkeypatch.setattr(NetworkStore, "write", lambda self, records: (writes.append(records), original(self, records)))
    settings = faked.connect(Member(), "app", "", {})  # type: ignore[arg-type]
    faked.rename_member(Member.id, "renamed")
    assert writes == []
    path = tmp_path / "data" / "network" / "endpoints" / f"{network.id}.{Member.id}.json"
    assert json.loads(path.read_text())["EndpointID"] == settings["EndpointID"]
    again = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers2"), EventBus())
    assert again.get("app").endpoints == faked.get("app").endpoints
    assert again.get("app").endpoints[Member.id].name == "renamed"
    writes.clear()
    joined = Member()
    joined.networks = {"app": settings}  # type: ignore[attr-defined]
    faked.disconnect(joined, "app", None)  # type: ignore[arg-type]
    assert writes == [] and not path.exists()
    assert NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers3"), EventBus()).get(
        "app").endpoints == {}


def test_networks_json_lists_the_endpoints_at_stop_for_an_older_moord(tmp_path: Path, faked: NetworkService) -> None:
    """An older moord reads the endpoints from networks.json's Containers: moord's stop writes them there; and a
    record an older moord wrote (without the mark) gives its Containers, which replace the files."""
    network = faked.create(NetworkRequest(name="app"))
    faked.connect(Member(), "app", "", {})  # type: ignore[arg-type]
    faked.close()
    path = tmp_path / "data" / "network" / "networks.json"
    saved = json.loads(path.read_text())
    assert list(saved[network.id]["Containers"]) == [Member.id]
    del saved[network.id]["moor"]["endpoint_files"]  # as an older moord writes it, after the container left
    saved[network.id]["Containers"] = {}
    path.write_text(json.dumps(saved))
    again = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers2"), EventBus())
    assert again.get("app").endpoints == {}
    assert list((tmp_path / "data" / "network" / "endpoints").glob("*.json")) == []


def test_an_unreadable_endpoint_file_is_skipped(tmp_path: Path, faked: NetworkService) -> None:
    """After a power loss an endpoint's file (never synced) may be empty: the records still load."""
    network = faked.create(NetworkRequest(name="app"))
    faked.connect(Member(), "app", "", {})  # type: ignore[arg-type]
    (tmp_path / "data" / "network" / "endpoints" / f"{network.id}.{Member.id}.json").write_text("")
    again = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers2"), EventBus())
    assert again.get("app").endpoints == {}


def test_several_ipv4_subnets_are_refused_and_the_driver_must_exist(faked: NetworkService) -> None:
    with pytest.raises(Forbidden, match="^bridge driver doesn't support multiple subnets$"):
        faked.create(NetworkRequest(name="two", ipam=(IPAMConfig(subnet="10.1.0.0/24"),
                                                      IPAMConfig(subnet="10.2.0.0/24"))))
    with pytest.raises(Forbidden, match="^bridge driver doesn't support multiple subnets$"):  # as Docker 20.10
        faked.create(NetworkRequest(name="two6", enable_ipv6=True, ipam=(IPAMConfig(subnet="fd00:9::/64"),
                                                                         IPAMConfig(subnet="fd00:8::/64"))))
    with pytest.raises(NotFound, match='^plugin "nosuch" not found$'):
        faked.create(NetworkRequest(name="x", driver="nosuch"))
    with pytest.raises(InvalidParameter, match="^network name is required$"):
        faked.create(NetworkRequest(name=""))
    faked.create(NetworkRequest(name="once"))
    with pytest.raises(Conflict, match="^network with name once already exists$"):
        faked.create(NetworkRequest(name="once"))


@pytest.mark.parametrize(("request_fields", "error", "message"), [
    ({"scope": "swarm"}, Forbidden, "^cannot create a swarm scoped network when swarm is not active$"),
    ({"ingress": True}, Forbidden, "^Ingress network can only be global scope network$"),
    ({"scope": "../x"}, InvalidParameter, "^This node is not a swarm manager."),
    ({"ipam_driver": "bad\n"}, NotFound, '^plugin "bad\n" not found$'),
    ({"config_from": "elsewhere"}, NotFound, '^configuration network "elsewhere" does not exist$'),
])
def test_what_only_a_swarm_or_a_plugin_serves_is_refused_and_nothing_made(
        faked: NetworkService, request_fields: dict[str, str], error: type[Exception], message: str) -> None:
    before = {n.name for n in faked.list({})}
    with pytest.raises(error, match=message):
        faked.create(NetworkRequest(name="wanted", **request_fields))
    assert {n.name for n in faked.list({})} == before


def test_the_local_scope_and_the_default_ipam_driver_are_served(faked: NetworkService) -> None:
    made = faked.create(NetworkRequest(name="plain", scope="local", ipam_driver="default"))
    assert faked.get("plain") == made


def test_an_address_is_asked_only_of_a_network_whose_subnet_was_configured(faked: NetworkService,
                                                                           tmp_path: Path) -> None:
    picked = faked.create(NetworkRequest(name="picked"))
    assert picked.ipam and picked.subnet_picked  # the driver chose the subnet
    with pytest.raises(InvalidParameter, match="^user specified IP address is supported only when connecting to "
                                               "networks with user configured subnets$"):
        faked.connect(Member(), "picked", "", {"IPAMConfig": {"IPv4Address": picked.ipam[0].subnet[:-4] + "9"}})  # type: ignore[arg-type]
    assert faked.get("picked").endpoints == {}
    configured = faked.create(NetworkRequest(name="configured", ipam=(IPAMConfig(subnet="10.7.0.0/24"),)))
    assert not configured.subnet_picked
    faked.connect(Member(), "configured", "", {"IPAMConfig": {"IPv4Address": "10.7.0.9"}})  # type: ignore[arg-type]
    again = NetworkService(str(tmp_path / "data"), fake_drivers(tmp_path / "drivers2"), EventBus())
    assert again.get("picked").subnet_picked and not again.get("configured").subnet_picked  # kept on disk


class Upstream:
    id = "u" * 64
    short_id = "u" * 12
    name = "docker-py-test-upstream"


def test_network_scoped_links_are_kept_and_resolve_only_for_their_container(faked: NetworkService,
                                                                            tmp_path: Path) -> None:
    """Docker 20.10 (docker-py's test_create_with_links): EndpointSettings.Links are kept as given and the
    link's alias resolves, from the linking container only, to the linked one on that network; the link may
    name a container that does not exist yet. The links survive a restart of moord."""
    faked.create(NetworkRequest(name="linked", ipam=(IPAMConfig(subnet="10.5.0.0/24"),)))
    settings = faked.connect(Member(), "linked", "", {"Links": ["docker-py-test-upstream:bar"]})  # type: ignore[arg-type]
    assert settings["Links"] == ["docker-py-test-upstream:bar"]
    assert faked.resolve(Member.id, "bar") is None  # nothing of that name yet
    faked.connect(Upstream(), "linked", "", {})  # type: ignore[arg-type]
    assert faked.resolve(Member.id, "BAR") == ["10.5.0.3"] and faked.resolve(Member.id, "bar.linked") == ["10.5.0.3"]
    assert faked.resolve(Upstream.id, "bar") is None  # the alias is the linking container's own
    assert faked.resolve(Member.id, "docker-py-test-upstream") == ["10.5.0.3"]
    again = NetworkService(str(tmp_path / "data"), faked.drivers, EventBus())
    assert again.resolve(Member.id, "bar") == ["10.5.0.3"]
    faked.create(NetworkRequest(name="plain"))
    assert faked.connect(Upstream(), "plain", "", {})["Links"] is None  # type: ignore[arg-type]


class _Connecting:
    """A network driver facade whose ``connect`` runs ``before`` (which may raise) and then the real one."""

    def __init__(self, real: Any, before: Any) -> None:
        self.real, self.before = real, before

    def connect(self, network: Any, endpoint: Any, netns_path: str) -> Any:
        self.before(endpoint)
        return self.real.connect(network=network, endpoint=endpoint, netns_path=netns_path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _driver_connecting(service: NetworkService, monkeypatch: pytest.MonkeyPatch, before: Any) -> None:
    facade = service.drivers.network
    monkeypatch.setattr(service.drivers, "network", lambda name: _Connecting(facade(name), before))


def test_the_endpoint_is_on_disk_while_the_driver_connects(service: NetworkService, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A moord that dies while the driver connects finds the endpoint's ID at its next start (and disconnects
    it: ContainerNetworking.leave of the interrupted start)."""
    seen: dict[str, Any] = {}

    def look(endpoint: Any) -> None:
        restarted = NetworkService(str(tmp_path / "data"), service.drivers, EventBus())  # as the next moord
        seen["asked"], seen["found"] = endpoint.id, restarted.get("idle").endpoints.get(Member.id)

    _driver_connecting(service, monkeypatch, look)
    joined = service.connect(Member(), "idle", "", {})  # type: ignore[arg-type]
    assert seen["found"] is not None and seen["found"].endpoint_id == seen["asked"] == joined["EndpointID"]
    reloaded = NetworkService(str(tmp_path / "data"), service.drivers, EventBus()).get("idle").endpoints[Member.id]
    assert reloaded.ipv4_address == f"{joined['IPAddress']}/{joined['IPPrefixLen']}"


def test_a_failed_connect_leaves_no_endpoint_on_disk(service: NetworkService, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(endpoint: Any) -> None:
        raise Conflict("the driver refused")

    _driver_connecting(service, monkeypatch, refuse)
    with pytest.raises(Conflict):
        service.connect(Member(), "idle", "", {})  # type: ignore[arg-type]
    assert Member.id not in NetworkService(str(tmp_path / "data"), service.drivers, EventBus()).get("idle").endpoints
