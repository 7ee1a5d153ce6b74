"""EndpointSettings as Docker 20.10 keeps them: DriverOpts as asked, before and after the start and through
network connect (docker-py's test_create_with_driveropt, test_run_with_networking_config), and network-scoped
Links, whose alias the embedded DNS resolves for the linking container (test_create/connect_with_links)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from e2e.containerhelpers import import_busybox
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def client() -> Iterator[docker.APIClient]:
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        api = docker.APIClient(base_url=daemon.host, version="1.41")
        yield api
        api.close()


def endpoint(client: docker.APIClient, container: str, network: str) -> dict:
    return dict(client.inspect_container(container)["NetworkSettings"]["Networks"][network])


def test_driver_opts_are_kept_at_create_start_and_connect(client: docker.APIClient) -> None:
    client.create_network("optsnet")
    made = client.create_container(
        "busybox", "sleep 60", host_config=client.create_host_config(network_mode="optsnet"),
        networking_config=client.create_networking_config(
            {"optsnet": client.create_endpoint_config(aliases=["hello"], driver_opt={"key1": "a"})}))
    other = client.create_container("busybox", "sleep 60")
    try:
        assert endpoint(client, made, "optsnet")["DriverOpts"] == {"key1": "a"}  # before the start
        client.start(made)
        assert endpoint(client, made, "optsnet")["DriverOpts"] == {"key1": "a"}
        client.start(other)
        assert endpoint(client, other, "bridge")["DriverOpts"] is None  # none asked: null, as Docker
        client.connect_container_to_network(other, "optsnet", driver_opt={"com.docker-py.setting": "on"})
        assert endpoint(client, other, "optsnet")["DriverOpts"] == {"com.docker-py.setting": "on"}
    finally:
        for container in (made, other):
            client.remove_container(container, force=True)
        client.remove_network("optsnet")


def test_network_scoped_links_resolve_through_the_embedded_dns(client: docker.APIClient) -> None:
    client.create_network("linknet")
    made = client.create_container(
        "busybox", "sleep 60", host_config=client.create_host_config(network_mode="linknet"),
        networking_config=client.create_networking_config(
            {"linknet": client.create_endpoint_config(links=[("linked-upstream", "bar")])}))
    upstream = client.create_container("busybox", "sleep 60", name="linked-upstream",
                                       host_config=client.create_host_config(network_mode="linknet"))
    try:
        client.start(made)
        assert endpoint(client, made, "linknet")["Links"] == ["linked-upstream:bar"]
        client.start(upstream)
        address = endpoint(client, upstream, "linknet")["IPAddress"]
        run = client.exec_create(made, ["nslookup", "bar"])
        output = client.exec_start(run).decode()
        assert client.exec_inspect(run)["ExitCode"] == 0 and address in output, output
        client.disconnect_container_from_network(made, "linknet")
        client.connect_container_to_network(made, "linknet", links=[("linked-upstream", "baz")])
        assert endpoint(client, made, "linknet")["Links"] == ["linked-upstream:baz"]
    finally:
        for container in (made, upstream):
            client.remove_container(container, force=True)
        client.remove_network("linknet")
