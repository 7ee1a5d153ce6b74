"""Helpers for build tests: a context tar from a dict of files, ``POST /build`` through docker-py, its output."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import urllib.parse
from collections.abc import Mapping
from typing import Any

import docker

from moor.testing.daemon import DaemonProcess, UnixHTTPConnection


def context_tar(files: Mapping[str, str | bytes], mtime: int = 1_700_000_000) -> io.BytesIO:
    """A build context tar of ``files`` (path -> content); a path ending in ``/`` is a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path.rstrip("/"))
            if path.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
                continue
            data = content.encode() if isinstance(content, str) else content
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def api(daemon: DaemonProcess) -> docker.APIClient:
    return docker.APIClient(base_url=daemon.host, version="1.41", timeout=300)


def build(daemon: DaemonProcess, files: Mapping[str, str | bytes], mtime: int = 1_700_000_000,
          **options: Any) -> list[dict[str, Any]]:
    """``POST /build`` of a context of ``files``: every JSON message of the answer (``rm`` on unless said
    otherwise, as the docker CLI sends it)."""
    options.setdefault("rm", True)
    client = api(daemon)
    try:
        return list(client.build(fileobj=context_tar(files, mtime), custom_context=True, decode=True, **options))
    finally:
        client.close()


def text(messages: list[dict[str, Any]]) -> str:
    """What ``docker build`` prints of the messages (their ``stream`` texts)."""
    return "".join(str(m.get("stream", "")) for m in messages)


def error(messages: list[dict[str, Any]]) -> str | None:
    """The build's error line, if it failed."""
    for message in messages:
        if "error" in message:
            return str(message["error"])
    return None


def image_id(messages: list[dict[str, Any]]) -> str:
    """The built image's ID (the ``aux`` message); fails with the output when there is none."""
    for message in messages:
        if "aux" in message and "ID" in message["aux"]:
            return str(message["aux"]["ID"])
    raise AssertionError("no image ID in the build output:\n" + text(messages) + str(error(messages)))


def post_build(daemon: DaemonProcess, files: Mapping[str, str | bytes], query: Mapping[str, str] | None = None,
               secrets: Mapping[str, bytes] | None = None,
               registry_auth: Mapping[str, Mapping[str, str]] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """``POST /build`` by hand (moor's secrets header, ``X-Registry-Config``): the status and the JSON
    messages."""
    headers = {"Content-Type": "application/x-tar"}
    if registry_auth is not None:
        headers["X-Registry-Config"] = base64.urlsafe_b64encode(json.dumps(registry_auth).encode()).decode()
    if secrets:
        document = {key: base64.b64encode(value).decode() for key, value in secrets.items()}
        headers["X-Moor-Build-Secrets"] = base64.b64encode(json.dumps(document).encode()).decode()
    connection = UnixHTTPConnection(daemon.socket, timeout=300)
    try:
        connection.request("POST", "/v1.41/build?" + urllib.parse.urlencode({"rm": "1", **(query or {})}),
                           body=context_tar(files).getvalue(), headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    if response.status != 200:
        return response.status, [json.loads(body)]
    return response.status, [json.loads(line) for line in body.splitlines() if line.strip()]
