"""Browser tests of the networks and volumes views: create from the form, which containers use each,
inspect, remove, prune."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def create_container(moord: DaemonProcess, name: str, **host_config: object) -> str:
    """A created (not started) busybox container; its id."""
    answer = moord.client().call("POST", "/containers/create", {"name": name},
                                 body={"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": host_config})
    return str(answer["Id"])


def remove_container(moord: DaemonProcess, name: str) -> None:
    try:
        moord.client().call("DELETE", f"/containers/{name}", {"force": "1"})
    except DaemonError:
        pass


def network_names(moord: DaemonProcess) -> set[str]:
    return {n["Name"] for n in moord.client().get("/networks")}


def volume_names(moord: DaemonProcess) -> set[str]:
    return {v["Name"] for v in moord.client().get("/volumes")["Volumes"] or []}


def confirm(page: Page, label: str) -> None:
    """Press ``label`` in the open confirmation dialog."""
    page.get_by_role("dialog").get_by_role("button", name=label, exact=True).click()


def test_network_created_used_inspected_and_removed(page: Page, moord: DaemonProcess,
                                                    screenshot: Callable[[Page, str], object]) -> None:
    name = "uinet" + os.urandom(3).hex()
    subnet = f"10.219.{os.urandom(1)[0]}.0/24"
    page.goto("#/networks")
    expect(page.locator('tr[data-name="bridge"]')).to_contain_text("predefined")
    expect(page.locator('tr[data-name="bridge"]').get_by_role("button", name="Remove bridge")).to_have_count(0)

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Subnet").fill(subnet)
    page.get_by_label("Labels").fill("made-by=web-ui-test")
    page.get_by_role("button", name="Create network").click()
    row = page.locator(f'tr[data-name="{name}"]')
    expect(row).to_contain_text(subnet)
    assert name in network_names(moord)
    created = moord.client().get(f"/networks/{name}")
    assert created["Labels"] == {"made-by": "web-ui-test"}

    user = "uinetuser" + os.urandom(2).hex()
    try:
        create_container(moord, user, NetworkMode=name)
        expect(row.get_by_role("link", name=user)).to_be_visible()  # the list follows the event stream

        row.get_by_role("button", name=f"Inspect {name}").click()
        panel = page.get_by_role("region", name=f"Network {name}")
        expect(panel).to_contain_text('"Subnet": "' + subnet + '"')
        screenshot(page, "networks")
        panel.get_by_role("button", name=f"Close Network {name}").click()
        expect(panel).to_have_count(0)
    finally:
        remove_container(moord, user)
    expect(row.get_by_role("link", name=user)).to_have_count(0)

    row.get_by_role("button", name=f"Remove {name}").click()
    confirm(page, "Remove")
    expect(row).to_have_count(0)
    assert name not in network_names(moord)


def test_network_form_errors_are_shown_not_thrown(page: Page, moord: DaemonProcess) -> None:
    page.goto("#/networks")
    page.get_by_label("Name", exact=True).fill("uinetbad")
    page.get_by_label("Subnet").fill("not-a-subnet")
    page.get_by_role("button", name="Create network").click()
    expect(page.get_by_role("alert")).to_contain_text("uinetbad")
    assert "uinetbad" not in network_names(moord)


def test_network_prune_removes_unused_networks(page: Page, moord: DaemonProcess) -> None:
    name = "uiprune" + os.urandom(3).hex()
    moord.client().call("POST", "/networks/create", body={"Name": name})
    page.goto("#/networks")
    row = page.locator(f'tr[data-name="{name}"]')
    expect(row).to_be_visible()
    page.get_by_role("button", name="Prune unused networks").click()
    confirm(page, "Prune")
    expect(row).to_have_count(0)
    assert name not in network_names(moord)
    assert {"bridge", "host", "none"} <= network_names(moord)


def test_volume_created_used_inspected_and_removed(page: Page, moord: DaemonProcess,
                                                   screenshot: Callable[[Page, str], object]) -> None:
    name = "uivol" + os.urandom(3).hex()
    page.goto("#/volumes")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Labels").fill("backup=daily")
    page.get_by_role("button", name="Create volume").click()
    row = page.locator(f'tr[data-name="{name}"]')
    expect(row).to_contain_text("local")
    assert moord.client().get(f"/volumes/{name}")["Labels"] == {"backup": "daily"}

    user = "uivoluser" + os.urandom(2).hex()
    try:
        create_container(moord, user, Binds=[f"{name}:/data"])
        expect(row.get_by_role("link", name=user)).to_be_visible()

        row.get_by_role("button", name=f"Remove {name}").click()
        confirm(page, "Remove")  # moord refuses: a container uses it
        expect(page.get_by_role("alert").first).to_be_visible()
        assert name in volume_names(moord)

        row.get_by_role("button", name=f"Inspect {name}").click()
        panel = page.get_by_role("region", name=f"Volume {name}")
        expect(panel).to_contain_text('"backup": "daily"')
        page.get_by_label("Search volumes").fill(name)
        expect(page.locator("tr[data-name]")).to_have_count(1)
        screenshot(page, "volumes")
    finally:
        remove_container(moord, user)
    expect(row.get_by_role("link", name=user)).to_have_count(0)
    row.get_by_role("button", name=f"Remove {name}").click()
    confirm(page, "Remove")
    expect(row).to_have_count(0)
    assert name not in volume_names(moord)


def test_volume_prune_with_named_volumes(page: Page, moord: DaemonProcess) -> None:
    kept, pruned = "uikeep" + os.urandom(3).hex(), "uiprune" + os.urandom(3).hex()
    for name in (kept, pruned):
        moord.client().call("POST", "/volumes/create", body={"Name": name})
    user = "uikeepuser" + os.urandom(2).hex()
    try:
        create_container(moord, user, Binds=[f"{kept}:/data"])
        page.goto("#/volumes")
        expect(page.locator(f'tr[data-name="{pruned}"]')).to_be_visible()
        page.get_by_role("button", name="Prune unused volumes").click()
        page.get_by_role("dialog").get_by_label("Named volumes too").check()
        confirm(page, "Prune")
        expect(page.locator(f'tr[data-name="{pruned}"]')).to_have_count(0)
        expect(page.locator(f'tr[data-name="{kept}"]')).to_be_visible()
        assert pruned not in volume_names(moord)
        assert kept in volume_names(moord)
    finally:
        remove_container(moord, user)
        try:
            moord.client().call("DELETE", f"/volumes/{kept}")
        except DaemonError:
            pass


def test_connect_and_disconnect_a_container(page: Page, moord: DaemonProcess,
                                            screenshot: Callable[[Page, str], object]) -> None:
    network = "uiconn" + os.urandom(3).hex()
    moord.client().call("POST", "/networks/create", body={"Name": network})
    user = "uiconnuser" + os.urandom(2).hex()
    create_container(moord, user)
    try:
        page.goto("#/networks")
        page.locator(f'tr[data-name="{network}"]').get_by_role("button", name=f"Inspect {network}").click()
        panel = page.get_by_role("region", name=f"Network {network}")
        expect(panel.locator("td.empty")).to_have_text("No container is on this network.")
        panel.get_by_label("Container to connect").select_option(label=user)
        panel.get_by_label("Alias").fill("webalias")
        panel.get_by_role("button", name="Connect", exact=True).click()
        member = panel.locator(f'tr[data-member="{user}"]')
        expect(member).to_be_visible()
        endpoint = moord.client().get(f"/containers/{user}/json")["NetworkSettings"]["Networks"][network]
        assert "webalias" in (endpoint.get("Aliases") or [])
        expect(page.locator(f'tr[data-name="{network}"]').get_by_role("link", name=user)).to_be_visible()
        screenshot(page, "network-members")
        member.get_by_role("button", name=f"Disconnect {user}").click()
        confirm(page, "Disconnect")
        expect(member).to_have_count(0)
        assert network not in moord.client().get(f"/containers/{user}/json")["NetworkSettings"]["Networks"]
    finally:
        remove_container(moord, user)
        moord.client().call("DELETE", f"/networks/{network}")


def test_a_dropped_event_stream_comes_back_and_the_list_catches_up(page: Page, moord: DaemonProcess) -> None:
    name = "uidropped" + os.urandom(3).hex()
    opened: list[str] = []

    def drop_the_first(route: Route) -> None:
        """The first event stream ends at once; a volume is made while it is down (before the browser connects
        again: an event the page cannot see); the next streams are the server's."""
        opened.append(route.request.url)
        if len(opened) > 1:
            if len(opened) == 2:
                moord.client().call("POST", "/volumes/create", body={"Name": name})
            route.fallback()
            return
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=": dropped\n\n")

    page.route("**/api/streams/events*", drop_the_first)
    page.goto("#/volumes")
    expect(page.get_by_role("heading", name="Volumes", exact=True)).to_be_visible()
    # the browser reconnects the dropped stream; once it is open again the view loads the list again
    expect(page.locator(f'tr[data-name="{name}"]')).to_be_visible()
    assert len(opened) >= 2
    page.unroute("**/api/streams/events*")
    moord.client().call("DELETE", f"/volumes/{name}")
