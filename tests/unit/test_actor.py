"""The acting user of a request (``X-Moor-Actor``) is recorded as ``moor.actor`` on the events it causes."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterator
from typing import IO

import pytest

from moor import actor
from moor.api.app import Application
from moor.api.http import BodyReader, Hijack, Request, Response, json_response
from moor.api.router import Router
from moor.services.events import EventBus


def make_app(bus: EventBus) -> Application:
    router = Router()

    def plain(request: Request) -> Response:
        bus.publish("network", "create", "n1", {"name": "front"})
        return json_response({})

    def streamed(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            bus.publish("image", "pull", "busybox", {"name": "busybox"})
            yield b"{}"
            bus.publish("image", "tag", "busybox", {"name": "busybox:x"})
            yield b"{}"
        return Response(stream=chunks())

    def hijacked(request: Request) -> Hijack:
        def run(sock: socket.socket, reader: IO[bytes]) -> None:
            bus.publish("container", "exec_start", "c1", {"name": "web"})
        return Hijack(run=run)

    router.add("POST", "/plain", plain)
    router.add("POST", "/stream", streamed)
    router.add("POST", "/hijack", hijacked)
    return Application(router)


def request(path: str, headers: dict[str, str]) -> Request:
    return Request(method="POST", path=path, query={}, headers=headers, body=BodyReader(io.BytesIO(b""), 0, False),
                   version="")


def attributes(bus: EventBus) -> list[dict[str, str]]:
    past, channel = bus.subscribe()
    bus.unsubscribe(channel)
    return [event["Actor"]["Attributes"] for event in past]


def test_an_event_published_while_serving_names_the_actor() -> None:
    bus = EventBus()
    make_app(bus)(request("/plain", {"x-moor-actor": "alice"}))
    assert attributes(bus) == [{"name": "front", "moor.actor": "alice"}]


def test_without_the_header_no_actor_is_recorded() -> None:
    bus = EventBus()
    make_app(bus)(request("/plain", {}))
    bus.publish("network", "destroy", "n1", {"name": "front"})  # outside any request
    assert [a.get("moor.actor") for a in attributes(bus)] == [None, None]


def test_the_actor_is_not_left_behind_on_the_worker_thread() -> None:
    bus = EventBus()
    app = make_app(bus)
    app(request("/plain", {"x-moor-actor": "alice"}))
    app(request("/plain", {}))
    assert [a.get("moor.actor") for a in attributes(bus)] == ["alice", None]
    assert actor.current.get() is None


def test_events_of_a_streamed_answer_name_the_actor_even_on_another_thread() -> None:
    bus = EventBus()
    answer = make_app(bus)(request("/stream", {"x-moor-actor": "bob"}))
    assert isinstance(answer, Response) and answer.stream is not None
    stream = answer.stream
    chunks: list[bytes] = []
    thread = threading.Thread(target=lambda: chunks.extend(stream))  # as the server sends streams
    thread.start()
    thread.join()
    assert chunks == [b"{}", b"{}"]
    assert [a.get("moor.actor") for a in attributes(bus)] == ["bob", "bob"]


def test_closing_a_streamed_answer_closes_the_handlers_stream() -> None:
    closed: list[bool] = []

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"."
        finally:
            closed.append(True)

    router = Router()
    router.add("GET", "/s", lambda request: Response(stream=endless()))
    answer = Application(router)(Request(method="GET", path="/s", query={}, headers={"x-moor-actor": "a"},
                                         body=BodyReader(io.BytesIO(b""), 0, False), version=""))
    assert isinstance(answer, Response) and answer.stream is not None
    stream = iter(answer.stream)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_events_of_a_hijacked_connection_name_the_actor() -> None:
    bus = EventBus()
    answer = make_app(bus)(request("/hijack", {"x-moor-actor": "carol"}))
    assert isinstance(answer, Hijack)
    left, right = socket.socketpair()
    with left, right:
        answer.run(left, io.BytesIO(b""))
    assert attributes(bus)[0]["moor.actor"] == "carol"


@pytest.mark.parametrize(("value", "expected"), [
    ("", None), ("   ", None), ("alice", "alice"), ("a\r\nb\x00c", "abc"), ("x" * 1000, "x" * actor.MAX_LENGTH),
])
def test_header_values_are_cleaned(value: str, expected: str | None) -> None:
    assert actor.from_header(value) == expected


def test_events_of_a_progress_operation_on_its_own_thread_name_the_actor() -> None:
    from moor.api.streaming import progress_response

    bus = EventBus()
    router = Router()

    def pull(request: Request) -> Response:
        def operation(emit: Callable[[dict[str, str]], None]) -> None:
            assert threading.current_thread() is not threading.main_thread()
            emit({"status": "Pulling"})
            bus.publish("image", "pull", "busybox:latest", {"name": "busybox:latest"})
        return progress_response(request, operation)

    router.add("POST", "/images/create", pull)
    answer = Application(router)(request("/images/create", {"x-moor-actor": "dave"}))
    assert isinstance(answer, Response) and answer.stream is not None
    assert b"Pulling" in b"".join(answer.stream)
    assert attributes(bus)[0]["moor.actor"] == "dave"
