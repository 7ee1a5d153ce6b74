"""A build whose client leaves is cancelled: its running step's container is killed and removed, its temp
directories go; independent stages run at the same time; the layer limit is refused with Docker's words."""

from __future__ import annotations

import os
import socket
import time
import urllib.parse

import pytest

from e2e.buildhelpers import build, context_tar, error, text
from e2e.containerhelpers import moor, moord, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_a_client_that_leaves_cancels_the_build_and_everything_is_cleaned(moord: DaemonProcess) -> None:
    body = context_tar({"Dockerfile": "FROM busybox\nRUN echo running-$((40 + 2)); sleep 120\n"}).getvalue()
    query = urllib.parse.urlencode({"t": "never", "rm": "1"})
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(60)
    client.connect(moord.socket)
    client.sendall(f"POST /v1.41/build?{query} HTTP/1.1\r\nHost: moor\r\nContent-Type: application/x-tar\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    seen = b""
    while b"running-42" not in seen:
        chunk = client.recv(65536)
        assert chunk, seen
        seen += chunk
    assert moor(moord, "ps", "-q").stdout.strip()  # the step's container runs
    client.close()
    wait_for(lambda: moor(moord, "ps", "-aq").stdout.strip() == "", timeout=60)
    build_tmp = os.path.join(moord.data_root, "build", "tmp")
    wait_for(lambda: not os.path.isdir(build_tmp) or os.listdir(build_tmp) == [], timeout=30)
    assert "never" not in moor(moord, "images").stdout


def test_independent_stages_build_at_the_same_time(moord: DaemonProcess) -> None:
    # each stage waits for a file the other writes in a shared cache mount: built one after the other, the
    # first would time out
    sync = f"sync-{time.time_ns()}"
    wait = ("RUN --mount=type=cache,id={sync},target=/sync touch /sync/{me} && "
            "for i in $(seq 300); do [ -e /sync/{other} ] && exit 0; sleep 0.1; done; exit 1\n")
    dockerfile = ("FROM busybox AS a\n" + wait.format(sync=sync, me="a", other="b") +
                  "RUN echo a > /a\n"
                  "FROM busybox AS b\n" + wait.format(sync=sync, me="b", other="a") +
                  "RUN echo b > /b\n"
                  "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="parallel", nocache=True)
    assert error(messages) is None, text(messages)
    output = text(messages)
    # the classic output stays in stage order
    assert output.index("Step 1/9 : FROM busybox AS a") < output.index("Step 4/9 : FROM busybox AS b") < \
        output.index("Step 7/9 : FROM busybox")
    assert moor(moord, "run", "--rm", "parallel", "cat", "/a", "/b").stdout == "a\nb\n"


def test_the_layer_limit_is_refused_before_the_driver_fails(moord: DaemonProcess) -> None:
    files: dict[str, str | bytes] = {f"f{i}": f"{i}\n" for i in range(130)}
    files["Dockerfile"] = "FROM busybox\n" + "".join(f"COPY f{i} /\n" for i in range(130))
    messages = build(moord, files)
    assert error(messages) == "max depth exceeded"
    assert "Step 128/131 : COPY f126 /" in text(messages)  # busybox has 1 layer: the 127th is the last
    assert "Step 129/131" not in text(messages)
