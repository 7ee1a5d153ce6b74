"""An exec's stream: the create's Tty gives the terminal, the start's Tty the shape the client reads."""

from __future__ import annotations

from moor.services.container_io import Deframer, frame, stream_converter


def test_a_terminal_read_without_tty_is_framed_as_stdout() -> None:
    convert = stream_converter(pty=True, raw=False)
    assert convert is not None and convert(b"a\r\n") == frame("stdout", b"a\r\n")


def test_a_multiplexed_stream_read_with_tty_keeps_stdout_only() -> None:
    convert = stream_converter(pty=False, raw=True)
    assert convert is not None
    data = frame("stdout", b"out\n") + frame("stderr", b"err\n") + frame("stdout", b"more\n")
    assert b"".join(convert(data[i:i + 3]) for i in range(0, len(data), 3)) == b"out\nmore\n"


def test_matching_shapes_pass_through() -> None:
    assert stream_converter(pty=True, raw=True) is None and stream_converter(pty=False, raw=False) is None
    assert Deframer().feed(b"\x01\x00\x00") == b""
