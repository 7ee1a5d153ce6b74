"""moord serves the Docker Engine API shape on its Unix socket."""

from __future__ import annotations

import json
import os
import stat

import pytest

from moor.testing.daemon import DaemonProcess, UnixHTTPConnection


def raw(daemon: DaemonProcess, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = UnixHTTPConnection(daemon.socket)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.mark.parametrize("prefix", ["", "/v1.41", "/v1.24"])
def test_ping_get_and_head(daemon: DaemonProcess, prefix: str) -> None:
    status, headers, body = raw(daemon, "GET", f"{prefix}/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["api-version"] == "1.41" and headers["ostype"] == "linux"
    status, headers, body = raw(daemon, "HEAD", f"{prefix}/_ping")
    assert (status, body) == (200, b"")
    assert headers["api-version"] == "1.41"


def test_version(daemon: DaemonProcess) -> None:
    status, headers, body = raw(daemon, "GET", "/v1.41/version")
    assert status == 200 and headers["content-type"] == "application/json"
    version = json.loads(body)
    assert version["ApiVersion"] == "1.41" and version["MinAPIVersion"] == "1.12"
    assert version["Os"] == "linux" and version["Components"][0]["Name"] == "Engine"


def test_info_names_the_drivers_in_use(daemon: DaemonProcess) -> None:
    info = daemon.client().get("/info")
    assert info["Driver"] == "overlay"
    assert dict(info["DriverStatus"])["Supports d_type"] in ("true", "false")
    assert "Backing Filesystem" in dict(info["DriverStatus"])
    assert info["Plugins"]["Volume"] == ["local"]
    assert info["Plugins"]["Network"] == ["bridge", "host", "none"]
    assert info["Plugins"]["Log"] == ["json-file", "none"]
    assert info["LoggingDriver"] == "json-file"
    assert info["DockerRootDir"] == daemon.data_root


@pytest.mark.parametrize("path", ["/nope", "/v1.41/nope", "/v1.41/containers/x/frobnicate"])
def test_unknown_path_is_404_with_message(daemon: DaemonProcess, path: str) -> None:
    status, headers, body = raw(daemon, "GET", path)
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "page not found"}


def test_too_new_api_version_is_refused(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "GET", "/v1.99/version")
    assert status == 400
    assert json.loads(body)["message"] == ("client version 1.99 is too new. "
                                           "Maximum supported API version is 1.41")


def test_too_old_api_version_is_refused(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "GET", "/v1.11/version")
    assert status == 400 and "too old" in json.loads(body)["message"]


def test_wrong_method_on_known_path(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "DELETE", "/v1.41/version")
    assert status == 405 and "message" in json.loads(body)


def test_keep_alive_serves_several_requests(daemon: DaemonProcess) -> None:
    connection = UnixHTTPConnection(daemon.socket)
    for _ in range(3):
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        assert response.read() == b"OK"
    connection.close()


def test_socket_is_0660_and_owned_by_the_daemon_user(daemon: DaemonProcess) -> None:
    info = os.stat(daemon.socket)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_uid == os.geteuid()


@pytest.mark.parametrize("path", [
    "/v1.41/containers/json?filters=" + json.dumps({"bogus": ["1"]}),
    "/v1.41/events?filters=" + json.dumps({"bogus": ["1"]}),
])
def test_unknown_filter_is_refused_before_anything_is_listed(daemon: DaemonProcess, path: str) -> None:
    """A bad filter is a 400 at once: with no container running, and before an events stream starts."""
    status, _headers, body = raw(daemon, "GET", path.replace(" ", ""))
    assert status == 400 and json.loads(body) == {"message": "invalid filter 'bogus'"}
