"""A registry's answers and failures turned into moor's error tree, in Docker's words, one line each."""

from __future__ import annotations

import json
import re
import ssl
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from moor.errors import Forbidden, InvalidParameter, MoorError, NotFound, RegistryUnreachable, Unauthorized
from moor.registry.challenge import parse_challenges


class TokenRefused(Exception):
    """The token server refused the credentials; ``message`` is Docker's text (``unauthorized: ...``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class RegistryAnswer:
    """A registry's response with its body read (or left to stream) and helpers to interpret it."""

    def __init__(self, response: urllib3.BaseHTTPResponse, url: str, method: str) -> None:
        self.response = response
        self.url = url
        self.method = method
        self.status = response.status
        self.reason = response.reason or ""
        self.data = b""
        #: the body was longer than the cap given to :meth:`read_body` (data holds the cap's worth)
        self.oversized = False
        self._read = False

    def header(self, name: str) -> str:
        """A response header, "" when absent."""
        return str(self.response.headers.get(name, "") or "")

    def read_body(self, cap: int) -> None:
        """Read the body, at most ``cap`` bytes (a longer one sets ``oversized`` and drops the connection)."""
        length = self.header("Content-Length")
        if length.isdigit() and int(length) > cap:
            self.oversized = True
            self.discard()
            return
        data = self.response.read(cap + 1)
        self._read = True
        if len(data) > cap:
            self.oversized = True
            self.data = data[:cap]
            self.response.close()
            return
        self.data = data
        self.response.release_conn()

    def discard(self) -> None:
        """Drop the response without reading it (its connection is closed, not reused)."""
        if not self._read:
            self._read = True
            self.response.close()

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object; anything else is :class:`InvalidParameter` naming ``what``."""
        if self.oversized:
            raise InvalidParameter(f"invalid {what}: the registry's answer is too large")
        try:
            document = json.loads(self.data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidParameter(f"invalid {what}: the registry's answer is not JSON "
                                   f"({one_line(self.data[:60].decode(errors='replace'), 80)!r})") from None
        if not isinstance(document, dict):
            raise InvalidParameter(f"invalid {what}: the registry's answer is not a JSON object")
        return document


#: RFC 6750 bearer errors as Docker's client reads them (``error="insufficient_scope"`` is a denial).
_BEARER_ERRORS = {"invalid_token": ("UNAUTHORIZED", "authentication required"),
                  "insufficient_scope": ("DENIED", "requested access to the resource is denied")}


def error_code(answer: RegistryAnswer) -> tuple[str, str]:
    """The error code and message of a registry's answer, ("", "") when it has none.

    As Docker's client: a Bearer challenge's ``error`` parameter first (``insufficient_scope`` is DENIED,
    ``invalid_token`` UNAUTHORIZED), then the first ``errors[]`` entry of a distribution error body.
    """
    if 400 <= answer.status < 500:
        for challenge in parse_challenges(answer.header("WWW-Authenticate")):
            known = _BEARER_ERRORS.get(challenge.params.get("error", "")) if challenge.scheme == "bearer" else None
            if known is not None:
                return known[0], one_line(challenge.params.get("error_description") or known[1])
    try:
        document = json.loads(answer.data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "", ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return "", ""
    code, message = errors[0].get("code"), errors[0].get("message")
    return (one_line(code, 60) if isinstance(code, str) else "",
            one_line(message) if isinstance(message, str) else "")


def registry_error(answer: RegistryAnswer, what: str) -> MoorError:
    """The :class:`MoorError` for a registry's error answer about ``what``.

    Distribution error bodies read as Docker prints them (``denied: requested access to the resource is
    denied``); server errors that outlived the retries are :class:`RegistryUnreachable`
    (``received unexpected HTTP status: 502 Bad Gateway``), never a 5xx of moor's own.
    """
    code, message = error_code(answer)
    text = f"{code.lower().replace('_', ' ')}: {message}" if code else ""
    status = answer.status
    if status >= 500:
        return RegistryUnreachable(f"received unexpected HTTP status: {status} {answer.reason}".rstrip())
    if status == 429:
        return RegistryUnreachable(text or f"toomanyrequests: {what}: too many requests")
    if status == 401:
        return Unauthorized(text or "unauthorized: authentication required")
    if status == 403:
        return Forbidden(text or "denied: requested access to the resource is denied")
    if status == 404:
        return NotFound(text or f"{what}: not found")
    return InvalidParameter(text or f"{what}: unexpected status from {answer.method} request to {answer.url}: "
                                    f"{status} {answer.reason}".rstrip())


def _root_cause(err: BaseException) -> BaseException:
    seen = 0
    while seen < 8:
        inner = err.__cause__ or err.__context__
        reason = getattr(err, "reason", None)
        if isinstance(reason, BaseException):
            inner = reason
        if inner is None or inner is err:
            return err
        err, seen = inner, seen + 1
    return err


def describe_transport_error(err: BaseException) -> str:
    """Go's words for a failed connection (``dial tcp 127.0.0.1:5000: connect: connection refused``)."""
    if isinstance(err, NameResolutionError):
        host = getattr(getattr(err, "conn", None), "host", "") or getattr(err, "host", "")
        return f"dial tcp: lookup {host or 'host'}: no such host"
    if isinstance(err, NewConnectionError):
        pool = getattr(err, "conn", None)
        host = f"{getattr(pool, 'host', '')}:{getattr(pool, 'port', '')}" if pool is not None else ""
        cause = _root_cause(err)
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(err):
            return f"dial tcp {host}: connect: connection refused"
        return f"dial tcp {host}: {one_line(str(getattr(cause, 'strerror', '') or cause), 120)}"
    if isinstance(err, ConnectTimeoutError):
        return "dial tcp: i/o timeout"
    if isinstance(err, ReadTimeoutError):
        return "net/http: timeout awaiting response (i/o timeout)"
    if isinstance(err, SSLError):
        cause = _root_cause(err)
        text = str(cause)
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "packet length too long" in text:
            return "http: server gave HTTP response to HTTPS client"
        if isinstance(cause, ssl.SSLCertVerificationError):
            if "Hostname mismatch" in text or "IP address mismatch" in text:
                return f"x509: certificate is not valid for this host ({one_line(cause.verify_message, 120)})"
            if "expired" in text:
                return "x509: certificate has expired or is not yet valid"
            return "x509: certificate signed by unknown authority"
        alert = re.search(r"ALERT_([A-Z_]+)", text)
        if alert:
            return f"remote error: tls: {alert.group(1).lower().replace('_', ' ')}"
        return f"tls: {one_line(text, 160)}"
    if isinstance(err, ProtocolError):
        cause = _root_cause(err)
        if isinstance(cause, ConnectionResetError):
            return "read: connection reset by peer"
        return "unexpected EOF"
    if isinstance(err, OSError) and err.strerror:
        return one_line(err.strerror.lower(), 120)
    return one_line(str(err) or type(err).__name__, 160)


def transport_error_is_transient(err: BaseException) -> bool:
    """Whether a failed request is worth sending again: resets, timeouts, truncated bodies; not refusals,
    unknown hosts or TLS failures (a plain-http server spoken to over https falls back at once)."""
    if isinstance(err, SSLError | NameResolutionError):
        return False
    if isinstance(err, NewConnectionError):
        return not isinstance(_root_cause(err), ConnectionRefusedError) and "refused" not in str(err)
    return isinstance(err, ConnectTimeoutError | ReadTimeoutError | ProtocolError | ConnectionError | TimeoutError)
