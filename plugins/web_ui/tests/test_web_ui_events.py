"""Browser tests of the events view: live events with the acting user, filters, pause; the stream closes
when the page leaves the view."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect
from webui_harness import OpenPage, api_call

from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_events_arrive_live_with_the_acting_user(page: Page, moord: DaemonProcess,
                                                 screenshot: Callable[[Page, str], object]) -> None:
    page.goto("#/events?since=0")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    name = "uievents" + os.urandom(3).hex()
    # through the UI's proxy: moord records the UI's user as the event's moor.actor
    api_call(page, "POST", f"/api/docker/containers/create?name={name}", {"Image": "busybox", "Cmd": ["true"]})
    row = page.locator("tbody tr", has_text=name).filter(has_text="create")
    expect(row).to_be_visible()
    expect(row.locator("td").nth(4)).to_have_text("admin")  # the "By" column
    # a change made without the UI has no acting user
    moord.client().call("POST", f"/containers/{name}/rename", {"name": name + "x"})
    renamed = page.locator("tbody tr").filter(has_text="rename")
    expect(renamed).to_be_visible()
    expect(renamed.locator("td").nth(4)).to_have_text("\u2013")  # a dash: nobody
    screenshot(page, "events")

    page.get_by_label("Type").select_option("image")
    expect(page.locator("tbody tr", has_text=name)).to_have_count(0)
    page.get_by_label("Type").select_option("")
    page.get_by_label("Search events").fill("rename")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Search events").fill("")

    page.get_by_role("button", name="Pause").click()
    moord.client().call("DELETE", f"/containers/{name}x")
    expect(page.get_by_role("status").filter(has_text="Paused (")).to_contain_text("waiting")
    expect(page.locator("tbody tr").filter(has_text="destroy")).to_have_count(0)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("tbody tr").filter(has_text="destroy")).to_have_count(1)

    # by default the view opens with the last hour's events, replayed by moord, then live ones
    page.goto("#/dashboard")
    page.goto("#/events")
    expect(page.get_by_label("Show")).to_have_value("3600")
    expect(page.locator("tbody tr", has_text=name).filter(has_text="create")).to_have_count(1)
    expect(page.locator("tbody tr").filter(has_text="destroy")).to_have_count(1)


#: Keeps every EventSource the page makes in window.__sources, so a test can see which are still open.
TRACK_EVENT_SOURCES = """
(() => {
  const Original = window.EventSource;
  window.__sources = [];
  window.EventSource = class extends Original {
    constructor(url, options) { super(url, options); window.__sources.push(this); }
  };
})();
"""
OPEN_SOURCES = "() => window.__sources.filter((s) => s.readyState !== 2).map((s) => s.url)"


def test_leaving_the_view_closes_its_event_stream(open_page: OpenPage) -> None:
    page = open_page(route=None)
    page.add_init_script(TRACK_EVENT_SOURCES)
    page.goto("#/events?since=0")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    opened = page.evaluate("() => window.__sources.length")
    streams = [url for url in page.evaluate(OPEN_SOURCES) if "/api/streams/events?" in url]
    assert len(streams) == 1, streams
    page.goto("#/volumes")
    expect(page.get_by_role("heading", name="Volumes", exact=True)).to_be_visible()
    still_open = page.evaluate(f"() => window.__sources.slice(0, {opened}).filter((s) => s.readyState !== 2).length")
    assert still_open == 0


def test_markup_in_names_and_labels_is_shown_as_text(page: Page, moord: DaemonProcess) -> None:
    hostile = '<img src="/xss.png" onerror="window.__xss = 1">'
    name = "uimarkup" + os.urandom(3).hex()
    page.goto("#/events?since=0")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    moord.client().call("POST", "/volumes/create", body={"Name": name, "Labels": {"note": hostile}})
    moord.client().call("POST", "/containers/create", {"name": name},
                        body={"Image": "busybox", "Cmd": ["true"], "Labels": {"note": hostile},
                              "HostConfig": {"Binds": [f"{name}:/data"]}})
    try:
        expect(page.locator("tbody tr", has_text=name).filter(has_text="create").first).to_contain_text(hostile)
        page.goto("#/volumes")
        page.locator(f'tr[data-name="{name}"]').get_by_role("button", name=f"Inspect {name}").click()
        expect(page.get_by_role("region", name=f"Volume {name}")).to_contain_text('"note": "<img src=')
        assert page.locator("main img").count() == 0
        assert page.evaluate("() => window.__xss") is None
    finally:
        moord.client().call("DELETE", f"/containers/{name}", {"force": "1"})
        moord.client().call("DELETE", f"/volumes/{name}")


def test_a_dropped_stream_reconnects_and_repeats_no_event(page: Page, moord: DaemonProcess) -> None:
    before, during = "uibefore" + os.urandom(3).hex(), "uiduring" + os.urandom(3).hex()
    start = time.time() - 1
    moord.client().call("POST", "/volumes/create", body={"Name": before})
    shown = [event for event in moord.client().stream("GET", "/events", {"since": f"{start:.9f}",
                                                                           "until": f"{time.time():.9f}"})
             if event.get("Actor", {}).get("ID") == before]
    assert shown
    opened: list[str] = []

    def drop_the_first(route: Route) -> None:
        """The first stream sends the event of ``before`` and ends; a volume is made before the next one."""
        opened.append(route.request.url)
        if len(opened) > 1:
            route.fallback()
            return
        moord.client().call("POST", "/volumes/create", body={"Name": during})
        body = "".join(f"data: {json.dumps(event)}\n\n" for event in shown)
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route("**/api/streams/events*", drop_the_first)
    page.goto("#/events")
    during_rows = page.locator("tbody tr", has_text=during)
    expect(during_rows).to_have_count(1)  # missed while the stream was down: replayed by moord
    assert len(opened) >= 2 and opened[0] == opened[1]
    expect(page.locator("tbody tr", has_text=before)).to_have_count(1)  # shown before the drop, not repeated
    page.unroute("**/api/streams/events*")
    for name in (before, during):
        moord.client().call("DELETE", f"/volumes/{name}")
