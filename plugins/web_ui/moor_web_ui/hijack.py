"""A hijacked connection to moord: ``POST /exec/{id}/start`` answered with ``101 UPGRADED``, then raw bytes
both ways on the same Unix socket (what the docker CLI does for ``exec -it``).

aiohttp's client has no hijacking, so this module writes the one request itself and reads the answer's head;
after that the connection is the terminal's: bytes written go to the process's TTY, bytes read are its output.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

#: how much of an answer's head (status line and headers) or error body is read at most
MAX_HEAD = 64 * 1024


class HijackError(Exception):
    """moord refused the request: ``status`` and its one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def _request_head(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: moord", "Connection: Upgrade", "Upgrade: tcp",
             "Content-Type: application/json", f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} has a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error_message(body: bytes, status: int) -> str:
    try:
        decoded: Any = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return decoded["message"]
    text = body.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0] if text else f"moord answered {status}"


async def hijack(socket_path: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> RawConnection:
    """Send ``POST path`` with a JSON ``body`` over ``socket_path`` and take over the connection once moord
    answers 101 (or 200: the stream follows the head either way). :class:`HijackError` for an error answer;
    ``OSError`` when moord cannot be reached."""
    reader, writer = await asyncio.open_unix_connection(socket_path, limit=MAX_HEAD)
    connection = RawConnection(reader, writer)
    try:
        writer.write(_request_head(path, json.dumps(body).encode(), headers))
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as err:
            raise HijackError(502, "moord closed the connection before answering") from err
        except asyncio.LimitOverrunError as err:
            raise HijackError(502, "moord's answer has too long a head") from err
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HijackError(502, f"moord answered {status_line[:80]!r}")
        status = int(parts[1])
        if status in (101, 200):
            return connection
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = min(int(value.strip()), MAX_HEAD)
        error_body = await reader.read(length) if length else b""
        raise HijackError(status, _error_message(error_body, status))
    except BaseException:
        await connection.close()
        raise
