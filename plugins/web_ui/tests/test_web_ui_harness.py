"""The browser harness's own rules: which requests count as leaving the UI's origin."""

from __future__ import annotations

from webui_harness import same_origin

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
