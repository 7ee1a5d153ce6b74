"""Browser tests of the images view: pull from a registry on 127.0.0.1 with live progress, build from an
uploaded Dockerfile and from a context archive with live output, tag, history, remove."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from webui_harness import layer_tar, seed_fresh_image

from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root


def image_tags(moord: DaemonProcess) -> set[str]:
    return {tag for image in moord.client().get("/images/json") for tag in image.get("RepoTags") or []}


def test_pull_shows_progress_then_the_image(page: Page, moord: DaemonProcess, registry: TestRegistry,
                                            screenshot: Callable[[Page, str], object]) -> None:
    repo = f"{registry.host}/web-ui/pulled"
    seed_fresh_image(registry, moord, "web-ui/pulled:1")
    page.goto("#/images")
    page.get_by_label("Image to pull").fill(f"{repo}:1")
    page.get_by_role("button", name="Pull", exact=True).click()
    progress = page.get_by_role("log", name="Pull progress")
    expect(progress).to_contain_text("Pulling from web-ui/pulled")  # Docker's first progress message
    expect(progress).to_contain_text("Pull complete")  # the layer's line, updated in place
    expect(progress).to_contain_text(f"Pulled {repo}:1.")
    row = page.locator(f'tr[data-ref="{repo}:1"]')
    expect(row).to_be_visible()
    screenshot(page, "images-pulled")
    assert f"{repo}:1" in image_tags(moord)


def test_pull_from_a_private_registry_with_a_login(page: Page, moord: DaemonProcess) -> None:
    with TestRegistry("htpasswd", users={"uiuser": "s3cret-pw"}) as private:
        seed_fresh_image(private, moord, "web-ui/private:1")
        image = f"{private.host}/web-ui/private:1"
        page.goto("#/images")
        page.get_by_label("Image to pull").fill(image)
        page.get_by_role("button", name="Pull", exact=True).click()
        progress = page.get_by_role("log", name="Pull progress")
        expect(progress).to_contain_text("Pull failed")  # no credentials: the registry refuses
        page.locator("summary", has_text="Registry login").click()
        page.get_by_label("Registry user name").fill("uiuser")
        page.get_by_label("Registry password").fill("s3cret-pw")
        page.get_by_role("button", name="Pull", exact=True).click()
        expect(progress).to_contain_text(f"Pulled {image}.")
        expect(page.locator(f'tr[data-ref="{image}"]')).to_be_visible()


def test_pull_of_a_missing_image_says_why(page: Page, registry: TestRegistry) -> None:
    page.goto("#/images")
    page.get_by_label("Image to pull").fill(f"{registry.host}/web-ui/missing:1")
    page.get_by_role("button", name="Pull", exact=True).click()
    expect(page.get_by_role("log", name="Pull progress")).to_contain_text("Pull failed")


def test_build_from_an_uploaded_dockerfile_streams_its_output(page: Page, moord: DaemonProcess,
                                                              screenshot: Callable[[Page, str], object]) -> None:
    marker = "built-" + os.urandom(4).hex()
    dockerfile = f"FROM busybox\nRUN echo {marker} && echo {marker} > /marker\nCMD [\"cat\", \"/marker\"]\n"
    page.goto("#/images")
    page.get_by_label("Dockerfile or context").set_input_files(
        {"name": "Dockerfile", "mimeType": "text/plain", "buffer": dockerfile.encode()})
    page.get_by_label("Tag", exact=True).fill("web-ui/built:1")
    page.get_by_role("button", name="Build", exact=True).click()
    output = page.get_by_role("log", name="Build output")
    expect(output).to_contain_text("FROM busybox")
    expect(output).to_contain_text(marker)  # the RUN step's own output, streamed
    expect(output).to_contain_text("Built web-ui/built:1.")
    expect(page.locator('tr[data-ref="web-ui/built:1"]')).to_be_visible()
    screenshot(page, "images-built")
    image = moord.client().get("/images/web-ui/built:1/json")
    assert image["Config"]["Cmd"] == ["cat", "/marker"]


def test_build_from_a_context_archive_with_a_named_dockerfile(page: Page, moord: DaemonProcess) -> None:
    archive = layer_tar({"build/App.Dockerfile": b"FROM busybox\nCOPY hello.txt /hello.txt\n",
                         "hello.txt": b"hello from the context\n"})
    page.goto("#/images")
    page.get_by_label("Dockerfile or context").set_input_files(
        {"name": "context.tar", "mimeType": "application/x-tar", "buffer": archive})
    page.get_by_label("Tag", exact=True).fill("web-ui/context:1")
    page.get_by_label("Dockerfile path in the context").fill("build/App.Dockerfile")
    page.get_by_role("button", name="Build", exact=True).click()
    output = page.get_by_role("log", name="Build output")
    expect(output).to_contain_text("COPY hello.txt /hello.txt")
    expect(output).to_contain_text("Built web-ui/context:1.")
    assert "web-ui/context:1" in image_tags(moord)


def test_a_failing_build_shows_the_error(page: Page) -> None:
    page.goto("#/images")
    page.get_by_label("Or write a Dockerfile").fill("FROM busybox\nRUN exit 3\n")
    page.get_by_role("button", name="Build", exact=True).click()
    expect(page.get_by_role("log", name="Build output")).to_contain_text("Build failed")


def test_tag_history_and_remove(page: Page, moord: DaemonProcess, screenshot: Callable[[Page, str], object]) -> None:
    page.goto("#/images")
    busybox = page.locator('tr[data-ref="busybox:latest"]')
    user = "uiimageuser" + os.urandom(2).hex()
    moord.client().call("POST", "/containers/create", {"name": user}, body={"Image": "busybox", "Cmd": ["true"]})
    try:
        expect(busybox.get_by_role("link", name=user)).to_be_visible()  # which containers use it, live
    finally:
        moord.client().call("DELETE", f"/containers/{user}")
    expect(busybox.get_by_role("link", name=user)).to_have_count(0)
    busybox.get_by_role("button", name="Tag busybox:latest").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New tag").fill("web-ui/tagged:2")
    dialog.get_by_role("button", name="Tag", exact=True).click()
    tagged = page.locator('tr[data-ref="web-ui/tagged:2"]')
    expect(tagged).to_be_visible()
    assert "web-ui/tagged:2" in image_tags(moord)

    tagged.get_by_role("button", name="History of web-ui/tagged:2").click()
    history = page.get_by_role("region", name="History of web-ui/tagged:2")
    expect(history.locator("tbody tr")).not_to_have_count(0)
    screenshot(page, "images-history")
    history.get_by_role("button", name="Close the history").click()

    page.get_by_label("Search images").fill("tagged")
    expect(page.locator("tr[data-ref]")).to_have_count(1)
    tagged.get_by_role("button", name="Remove web-ui/tagged:2").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove", exact=True).click()
    expect(tagged).to_have_count(0)
    assert "web-ui/tagged:2" not in image_tags(moord)
    assert "busybox:latest" in image_tags(moord)  # only the tag went


def processes_with(marker: str) -> list[int]:
    """The host's processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_a_build_cancelled_from_the_page_stops_in_moord(page: Page) -> None:
    marker = "long-step-" + os.urandom(4).hex()
    page.goto("#/images")
    # the RUN step's shell stays while it sleeps: its command line names the marker
    page.get_by_label("Or write a Dockerfile").fill(
        f"FROM busybox\nRUN echo {marker}-$((40 + 2)); sleep 120; echo done\n")
    page.get_by_role("button", name="Build", exact=True).click()
    output = page.get_by_role("log", name="Build output")
    expect(output).to_contain_text(f"{marker}-42")  # the step's own output: it runs
    assert processes_with(marker)
    page.get_by_role("button", name="Cancel the build").click()
    expect(output).to_contain_text("Build cancelled.")
    expect(page.get_by_role("button", name="Build", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="Cancel the build")).to_be_hidden()
    deadline = time.monotonic() + 60
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []  # the page left the stream: moord stopped the build's step


def test_inspect_an_image(page: Page) -> None:
    page.goto("#/images")
    page.locator('tr[data-ref="busybox:latest"]').get_by_role("button", name="Inspect busybox:latest").click()
    panel = page.get_by_role("region", name="Image busybox:latest")
    expect(panel).to_contain_text('"RepoTags": [')
    expect(panel).to_contain_text('"Cmd": [')
    panel.get_by_role("button", name="Close Image busybox:latest").click()
    expect(panel).to_have_count(0)
