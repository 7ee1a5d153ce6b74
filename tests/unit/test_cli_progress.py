"""moor's rendering of Docker's JSON progress stream: what moby's jsonmessage draws, byte for byte."""

from __future__ import annotations

import io

import pytest

from moor.cli.progress import StreamError, display_stream, go_duration, progress_text

PULL = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 50, "total": 100},
     "progress": "[=========================>                         ]      50B/100B", "id": "aaa"},
    {"status": "Download complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Extracting", "progressDetail": {"current": 100, "total": 100}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Digest: sha256:" + "1" * 64},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


def render(messages: list[dict], terminal: bool, width: int = 200) -> str:
    out = io.StringIO()
    display_stream(messages, out, terminal, width)
    return out.getvalue()


def test_off_a_terminal_only_lines_without_counts_are_printed() -> None:
    assert render(PULL, terminal=False) == (
        "latest: Pulling from library/busybox\n"
        "aaa: Pulling fs layer\n"
        "bbb: Pulling fs layer\n"
        "aaa: Download complete\n"
        "aaa: Pull complete\n"
        "Digest: sha256:" + "1" * 64 + "\n"
        "Status: Downloaded newer image for busybox:latest\n"
    )


def test_on_a_terminal_each_id_keeps_its_line_redrawn_in_place() -> None:
    up, down, erase = "\x1b[{}A", "\x1b[{}B", "\x1b[2K\r"
    half = "[" + "=" * 25 + ">" + " " * 25 + "] " + "     50B/100B"
    full = "[" + "=" * 50 + ">] " + "    100B/100B"
    expected = (
        "latest: Pulling from library/busybox\n"
        "\n" + up.format(1) + erase + "aaa: Pulling fs layer \r" + down.format(1)
        + "\n" + up.format(1) + erase + "bbb: Pulling fs layer \r" + down.format(1)
        + up.format(2) + erase + "aaa: Downloading " + half + "\r" + down.format(2)
        + up.format(2) + erase + "aaa: Download complete \r" + down.format(2)
        + up.format(2) + erase + "aaa: Extracting " + full + "\r" + down.format(2)
        + up.format(2) + erase + "aaa: Pull complete \r" + down.format(2)
        + "Digest: sha256:" + "1" * 64 + "\n"
        "Status: Downloaded newer image for busybox:latest\n"
    )
    assert render(PULL, terminal=True) == expected


def test_the_bar_needs_more_than_110_columns() -> None:
    detail = {"current": 1_500_000, "total": 3_000_000}
    assert progress_text(detail, 200) == "[" + "=" * 25 + ">" + " " * 25 + "] " + "   1.5MB/3MB"
    assert progress_text(detail, 80) == "   1.5MB/3MB"
    assert progress_text({}, 200) == ""
    assert progress_text({"current": 2048}, 200) == " 2.048kB"
    assert progress_text({"current": 5, "total": 3}, 80) == "      5B"
    assert progress_text({"current": 3, "total": 9, "units": "layers"}, 80) == "3/9 layers"


def test_time_left_comes_from_the_start_time() -> None:
    detail = {"current": 25, "total": 100, "start": 1000}
    assert progress_text(detail, 80, now=1010.0) == "     25B/100B 30s"
    assert progress_text(detail, 40, now=1010.0) == "     25B/100B"
    assert go_duration(0) == "0s" and go_duration(65) == "1m5s" and go_duration(7203) == "2h0m3s"


def test_an_error_line_ends_the_stream_with_its_message() -> None:
    out = io.StringIO()
    messages = [PULL[0], {"errorDetail": {"message": "unexpected EOF"}, "error": "unexpected EOF"}, PULL[-1]]
    with pytest.raises(StreamError) as caught:
        display_stream(messages, out, False)
    assert caught.value.message == "unexpected EOF"
    assert out.getvalue() == "latest: Pulling from library/busybox\n"
    with pytest.raises(StreamError) as caught:
        display_stream([{"errorDetail": {"code": 401, "message": "x"}}], io.StringIO(), True)
    assert caught.value.message == "authentication is required"


def test_aux_messages_go_to_the_callback_and_print_nothing() -> None:
    seen: list[dict] = []
    out = io.StringIO()
    aux = {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": "sha256:ab", "Size": 527}}
    display_stream([{"status": "v1: digest: sha256:ab size: 527"}, aux], out, True, aux=seen.append)
    assert out.getvalue() == "v1: digest: sha256:ab size: 527\n"
    assert seen == [aux]


def test_a_message_that_is_not_an_object_is_one_line() -> None:
    with pytest.raises(StreamError) as caught:
        display_stream([[1, 2]], io.StringIO(), False)
    assert caught.value.message == "json: cannot unmarshal array into Go value of type jsonmessage.JSONMessage"
