"""The browser harness's own rules: which requests count as leaving the UI's origin, and that the harness sees
them (and page errors) in a real Chromium where nothing can leave the host."""

from __future__ import annotations

from playwright.sync_api import Browser
from webui_harness import PageWatch, same_origin

ORIGIN = "http://127.0.0.1:9180"


def test_same_origin_accepts_the_ui_and_its_websockets() -> None:
    assert same_origin("http://127.0.0.1:9180/js/app.js", ORIGIN)
    assert same_origin("ws://127.0.0.1:9180/api/containers/x/console?csrf=t", ORIGIN)
    assert same_origin("data:image/png;base64,AAAA", ORIGIN)
    assert same_origin("blob:http://127.0.0.1:9180/1234", ORIGIN)


def test_same_origin_refuses_other_hosts_ports_and_schemes() -> None:
    assert not same_origin("https://cdn.example.com/xterm.js", ORIGIN)
    assert not same_origin("http://127.0.0.1:9181/", ORIGIN)
    assert not same_origin("http://localhost:9180/", ORIGIN)
    assert not same_origin("https://127.0.0.1:9180/", ORIGIN)
    assert not same_origin("wss://127.0.0.1:9180/api/streams/events", ORIGIN)


def test_a_request_to_another_origin_is_seen_and_goes_nowhere(browser: Browser) -> None:
    context = browser.new_context()
    watch = PageWatch(ORIGIN)
    watch.watch_context(context)
    try:
        page = context.new_page()
        page.set_content("<p>a page</p>")
        outcome = page.evaluate("""async () => {
            try { await fetch('http://cdn.example.invalid/xterm.js'); return 'loaded'; }
            catch (e) { return 'failed'; } }""")
        with page.expect_event("pageerror"):
            page.evaluate("() => { setTimeout(() => { throw new Error('boom'); }); }")  # an uncaught error
    finally:
        context.close()
    assert outcome == "failed"
    assert watch.foreign() == ["http://cdn.example.invalid/xterm.js"]
    assert any("boom" in error for error in watch.page_errors)
