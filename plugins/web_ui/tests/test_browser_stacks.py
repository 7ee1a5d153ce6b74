"""Browser test of the stacks view: a two-service stack made from an uploaded compose file and an env file,
deployed with its output live, its services shown, stopped, refused a broken edit, and removed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from webui_harness import WebUI

from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

COMPOSE = b"""\
services:
  front:
    image: busybox
    command: ["sleep", "${NAP}"]
    stop_grace_period: 1s
    depends_on: [back]
  back:
    image: busybox
    command: ["sleep", "${NAP}"]
    stop_grace_period: 1s
"""


def project_containers(moord: DaemonProcess, project: str) -> list[dict[str, Any]]:
    return list(moord.client().call("GET", "/containers/json", {
        "all": "1", "filters": json.dumps({"label": [f"com.docker.compose.project={project}"]})}) or [])


def remove_project(moord: DaemonProcess, project: str) -> None:
    """What a failed test leaves of the project removed (containers, then its network)."""
    client = moord.client()
    for item in project_containers(moord, project):
        client.call("DELETE", f"/containers/{item['Id']}", {"force": "1"})
    try:
        client.call("DELETE", f"/networks/{project}_default")
    except DaemonError:
        pass


def test_a_two_service_stack_deployed_stopped_and_removed(page: Page, moord: DaemonProcess, web_ui: WebUI,
                                                          screenshot: Callable[[Page, str], object]) -> None:
    name = "duo" + os.urandom(3).hex()
    try:
        page.goto("#/stacks")
        expect(page.get_by_role("heading", name="Stacks", exact=True)).to_be_visible()
        page.get_by_role("button", name="New stack").click()
        page.get_by_label("Stack name").fill(name)
        # the files come from uploads, as a user brings an existing project
        page.get_by_label("Upload a compose file").set_input_files(
            files=[{"name": "compose.yaml", "mimeType": "text/yaml", "buffer": COMPOSE}])
        expect(page.get_by_label("compose.yaml")).to_have_value(COMPOSE.decode())
        page.get_by_label("Upload an env file").set_input_files(
            files=[{"name": ".env", "mimeType": "text/plain", "buffer": b"NAP=1000\n"}])
        expect(page.get_by_label(".env (variables for interpolation)")).to_have_value("NAP=1000\n")
        screenshot(page, "stacks-new")
        page.get_by_role("button", name="Save and deploy").click()

        # the stack's page: deploy output streamed, then both services running
        expect(page).to_have_url(f"{web_ui.url}/#/stacks/{name}")
        output = page.get_by_role("log", name="Compose output")
        expect(output).to_contain_text(f"Container {name}-back-1  Started")
        expect(output).to_contain_text(f"Container {name}-front-1  Started")
        expect(page.get_by_text("Deploy: done.")).to_be_visible()
        for service in ("front", "back"):
            row = page.locator(f'tr[data-service="{service}"]')
            expect(row).to_contain_text(f"{name}-{service}-1")
            expect(row).to_contain_text("running")
        expect(page.locator(".page-header")).to_contain_text("running")
        assert sorted(c["State"] for c in project_containers(moord, name)) == ["running", "running"]
        stored = Path(web_ui.data_dir) / "stacks" / name
        assert (stored / "compose.yaml").read_bytes() == COMPOSE
        assert (stored / ".env").read_text() == "NAP=1000\n"
        screenshot(page, "stack-deployed")

        # a broken edit is refused with the loader's message, and the stored files stay
        editor = page.get_by_label("compose.yaml")
        editor.fill(COMPOSE.decode().replace("    image: busybox\n    command", "    imgae: busybox\n    command", 1))
        expect(page.get_by_text("Unsaved changes.")).to_be_visible()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("alert").filter(has_text="validating compose.yaml")).to_contain_text(
            "services.front additional properties 'imgae' not allowed (line 3)")
        assert (stored / "compose.yaml").read_bytes() == COMPOSE
        editor.fill(COMPOSE.decode())

        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.get_by_text("Stop: done.")).to_be_visible()
        expect(page.locator('tr[data-service="front"]')).to_contain_text("exited")
        assert {c["State"] for c in project_containers(moord, name)} == {"exited"}

        # the list says so too
        page.get_by_role("link", name="← All stacks").click()
        row = page.locator(f'tr[data-stack="{name}"]')
        expect(row).to_contain_text("stopped")
        expect(row).to_contain_text("0/2 running")
        screenshot(page, "stacks-list")

        row.get_by_role("link", name=name).click()
        page.get_by_role("button", name="Remove", exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name="Remove", exact=True).click()
        expect(page).to_have_url(f"{web_ui.url}/#/stacks")
        expect(page.locator(f'tr[data-stack="{name}"]')).to_have_count(0)
        assert project_containers(moord, name) == []
        assert not stored.exists()
        screenshot(page, "stacks-after-remove")
    finally:
        remove_project(moord, name)


def test_the_stacks_list_at_phone_width(open_page: Callable[..., Page],
                                        screenshot: Callable[[Page, str], object]) -> None:
    page = open_page(width=390, height=844, route="#/stacks")
    expect(page.get_by_role("heading", name="Stacks", exact=True)).to_be_visible()
    page.get_by_role("button", name="New stack").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Stack name")).to_be_focused()
    screenshot(page, "stacks-phone")
