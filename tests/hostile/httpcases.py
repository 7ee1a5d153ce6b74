"""Malformed HTTP for the raw socket: request lines, headers, Content-Length, chunked framing, paths.

Each case is the bytes sent and the statuses a sound server may answer first (0: it may also close the
connection without a word). Requests that should be served carry ``Connection: close`` so the answer
ends with the connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLOSED = 0  #: "closed without an answer" where a case allows it
BAD = frozenset({400, CLOSED})


@dataclass
class RawCase:
    id: str
    data: bytes | list[bytes]
    expect: frozenset[int]
    #: close our sending half after the data (a truncated request)
    shut_write: bool = False
    #: statuses of later pipelined answers, in order (checked when given)
    then: list[int] = field(default_factory=list)


def _req(method: str, path: str, headers: str = "", body: bytes = b"", version: str = "HTTP/1.1") -> bytes:
    head = f"{method} {path} {version}\r\nHost: moor\r\nConnection: close\r\n{headers}\r\n".encode("latin-1")
    return head + body


def _post(path: str, headers: str, body: bytes = b"") -> bytes:
    return _req("POST", path, "Content-Type: application/json\r\n" + headers, body)


CREATE = "/containers/create"
VALID = b'{"Image": "busybox", "Cmd": ["true"]}'
CASES: list[RawCase] = []


def case(case_id: str, data: bytes | list[bytes], expect: set[int], shut_write: bool = False,
         then: list[int] | None = None) -> None:
    CASES.append(RawCase(case_id, data, frozenset(expect), shut_write, then or []))


# request lines
case("line-garbage", b"GARBAGE\r\n\r\n", set(BAD))
case("line-method-only", b"GET\r\n\r\n", set(BAD))
case("line-two-words", b"GET /_ping\r\n\r\n", set(BAD) | {200})  # HTTP/0.9 style
case("line-four-words", b"GET /_ping HTTP/1.1 extra\r\n\r\n", set(BAD))
case("line-empty-lines", b"\r\n\r\n\r\n", set(BAD))
case("line-binary", bytes(range(256)) + b"\r\n\r\n", set(BAD))
case("line-nul", b"GET /_ping\x00 HTTP/1.1\r\n\r\n", set(BAD) | {404})
case("line-version-9", b"GET /_ping HTTP/9.9\r\nConnection: close\r\n\r\n", set(BAD) | {505})
case("line-version-junk", b"GET /_ping HTTP/x.y\r\n\r\n", set(BAD))
case("line-version-lower", b"GET /_ping http/1.1\r\n\r\n", set(BAD))
case("line-long-path", _req("GET", "/" + "a" * 300_000), {400, 404, 414, 431, CLOSED})
case("line-long-method", _req("X" * 100_000, "/_ping"), {400, 404, 405, 414, 431, 501, CLOSED})
case("line-no-crlf-eof", b"GET /_ping HTTP/1.1", set(BAD), shut_write=True)
case("line-lf-only", b"GET /_ping HTTP/1.1\nHost: x\nConnection: close\n\n", {200, 400, CLOSED})
case("line-tab-separated", b"GET\t/_ping\tHTTP/1.1\r\n\r\n", set(BAD))
# methods
case("method-lowercase", _req("get", "/_ping"), {400, 404, 405})
case("method-unknown", _req("BREW", "/_ping"), {400, 404, 405, 501})
case("method-connect", _req("CONNECT", "moor:80"), {400, 404, 405})
case("method-options-star", _req("OPTIONS", "*"), {400, 404, 405})
case("method-trace", _req("TRACE", "/_ping"), {400, 404, 405})
case("method-delete-ping", _req("DELETE", "/_ping"), {404, 405})
case("method-put-create", _req("PUT", CREATE), {404, 405})
# paths
case("path-dotdot", _req("GET", "/../../../etc/passwd"), {400, 404})
case("path-dotdot-encoded", _req("GET", "/containers/..%2f..%2f..%2fetc%2fpasswd/json"), {400, 404})
case("path-dotdot-image", _req("GET", "/images/..%2f..%2fetc%2fpasswd/json"), {400, 404})
case("path-dotdot-volume", _req("GET", "/volumes/..%2f..%2f..%2fetc"), {400, 404})
case("path-dotdot-network", _req("GET", "/networks/..%2F..%2F"), {400, 404})
case("path-nul-encoded", _req("GET", "/containers/abc%00def/json"), {400, 404})
case("path-nul-image", _req("GET", "/images/busybox%00/json"), {400, 404})
case("path-bad-percent", _req("GET", "/containers/%zz/json"), {400, 404})
case("path-non-utf8", b"GET /containers/\xff\xfe\xfd/json HTTP/1.1\r\nConnection: close\r\n\r\n", {400, 404})
case("path-non-utf8-encoded", _req("GET", "/containers/%ff%fe/json"), {400, 404})
case("path-absolute-uri", _req("GET", "http://evil.example/_ping"), {200, 400, 404})
case("path-percent-encoded-name", _req("GET", "/images/busybox%3Alatest/json"), {200})  # decoded, as Go does
case("path-percent-encoded-route", _req("GET", "/containers%2Fjson"), {200, 404})  # Go decodes, then routes
case("path-double-slash", _req("GET", "//_ping"), {200, 301, 404})
case("path-long-id", _req("GET", "/containers/" + "a" * 60_000 + "/json"), {400, 404, 414})
case("path-version-too-new", _req("GET", "/v99.99/version"), {400})
case("path-version-too-old", _req("GET", "/v1.0/version"), {400})
case("path-version-huge", _req("GET", "/v" + "9" * 5000 + ".1/version"), {400, 404})
case("path-version-junk", _req("GET", "/vabc/version"), {404})
case("path-query-nul", _req("GET", "/containers/json?all=%00&filters=%00"), {400})
case("path-query-huge-repeat", _req("GET", "/containers/json?" + "a=1&" * 20_000), {200, 400, 414, 431})
case("path-query-bad-percent", _req("GET", "/containers/json?filters=%zz"), {400})
# headers
case("header-flood", _req("GET", "/_ping", "".join(f"X-H{i}: v\r\n" for i in range(10_000))), {400, 431, CLOSED})
case("header-huge-value", _req("GET", "/_ping", "X-Big: " + "v" * 2_000_000 + "\r\n"), {400, 431, CLOSED})
case("header-no-colon", _req("GET", "/_ping", "NoColonHere\r\n"), set(BAD))
case("header-space-before-colon", _req("GET", "/_ping", "X-Bad : v\r\n"), set(BAD) | {200})
case("header-nul-value", _req("GET", "/_ping", "X-A: a\x00b\r\n"), set(BAD) | {200})
case("header-non-utf8", _req("GET", "/_ping", "X-A: \xff\xfe\r\n"), set(BAD) | {200})
case("header-obs-fold", _req("GET", "/_ping", "X-A: a\r\n continued\r\n"), set(BAD) | {200})
case("header-empty-name", _req("GET", "/_ping", ": v\r\n"), set(BAD))
case("header-bad-name-chars", _req("GET", "/_ping", "X(A): v\r\n"), set(BAD) | {200})
case("header-eof-inside", b"GET /_ping HTTP/1.1\r\nHost: moor\r\nX-A: partial", set(BAD), shut_write=True)
case("header-many-hosts", _req("GET", "/_ping", "Host: a\r\nHost: b\r\n"), set(BAD) | {200})
case("header-expect-weird", _post(CREATE, f"Expect: 999-nope\r\nContent-Length: {len(VALID)}\r\n", VALID),
     {201, 400, 417})
# Content-Length
case("cl-negative", _post(CREATE, "Content-Length: -1\r\n"), set(BAD))
case("cl-nonnumeric", _post(CREATE, "Content-Length: abc\r\n"), set(BAD))
case("cl-plus-sign", _post(CREATE, "Content-Length: +5\r\n", b"12345"), set(BAD))
case("cl-float", _post(CREATE, "Content-Length: 1.5\r\n"), set(BAD))
case("cl-exponent", _post(CREATE, "Content-Length: 1e3\r\n"), set(BAD))
case("cl-hex", _post(CREATE, "Content-Length: 0x10\r\n"), set(BAD))
case("cl-empty", _post(CREATE, "Content-Length: \r\n"), set(BAD))
case("cl-huge", _post(CREATE, f"Content-Length: {2**80}\r\n", b"{"), {400, 413, CLOSED})
case("cl-int64-max", _post(CREATE, f"Content-Length: {2**63 - 1}\r\n", b"{"), {400, 413, CLOSED})
case("cl-large-declared", _post(CREATE, f"Content-Length: {1 << 30}\r\n", b"{" + b" " * 65536), {400, 413, CLOSED})
case("cl-conflicting", _post(CREATE, "Content-Length: 5\r\nContent-Length: 7\r\n", b"1234567"), set(BAD))
case("cl-list", _post(CREATE, "Content-Length: 5, 7\r\n", b"1234567"), set(BAD))
case("cl-and-chunked", _post(CREATE, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
     {400, CLOSED})
case("cl-truncated-body", _post(CREATE, "Content-Length: 100\r\n", b'{"Image":'), set(BAD), shut_write=True)
case("cl-zero-with-body", _post(CREATE, "Content-Length: 0\r\n", VALID), {400, CLOSED})
case("cl-short-pipelined-garbage", _post(CREATE, "Content-Length: 2\r\n", b"{}GARBAGE\r\n\r\n"), {400, CLOSED})
# chunked bodies
_CHUNKED = "Transfer-Encoding: chunked\r\n"
case("chunk-negative", _post(CREATE, _CHUNKED, b"-1\r\nx\r\n0\r\n\r\n"), set(BAD))
case("chunk-huge", _post(CREATE, _CHUNKED, b"%x\r\n{\r\n" % 2**80), {400, 413, CLOSED})
case("chunk-int64", _post(CREATE, _CHUNKED, b"7fffffffffffffff\r\n{\r\n"), {400, 413, CLOSED})
case("chunk-nonhex", _post(CREATE, _CHUNKED, b"zz\r\nx\r\n0\r\n\r\n"), set(BAD))
case("chunk-0x-prefix", _post(CREATE, _CHUNKED, b"0x5\r\nhello\r\n0\r\n\r\n"), set(BAD))
case("chunk-empty-size", _post(CREATE, _CHUNKED, b"\r\nx\r\n0\r\n\r\n"), set(BAD))
case("chunk-long-size-line", _post(CREATE, _CHUNKED, b"1" + b" " * 100_000 + b"\r\n"), set(BAD) | {413})
case("chunk-long-extension", _post(CREATE, _CHUNKED, b"1;" + b"e" * 100_000 + b"\r\nx\r\n0\r\n\r\n"),
     set(BAD) | {413})
case("chunk-missing-crlf", _post(CREATE, _CHUNKED, b"2\r\n{}XX0\r\n\r\n"), set(BAD))
case("chunk-truncated-data", _post(CREATE, _CHUNKED, b"100\r\n{\"Image\""), set(BAD), shut_write=True)
case("chunk-no-terminator", _post(CREATE, _CHUNKED, b"2\r\n{}\r\n"), set(BAD), shut_write=True)
case("chunk-garbage-trailer", _post(CREATE, _CHUNKED, b"2\r\n{}\r\n0\r\nX" + b"x" * 100_000), set(BAD) | {413},
     shut_write=True)
case("chunk-te-gzip", _post(CREATE, "Transfer-Encoding: gzip\r\n", b"x"), {400, 501, CLOSED})
case("chunk-te-double", _post(CREATE, "Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"), {400, 501, CLOSED})
case("chunk-te-identity", _post(CREATE, "Transfer-Encoding: identity\r\n", b""), {400, 501, CLOSED})
case("chunk-valid-tiny-chunks", _post(CREATE, _CHUNKED, b"".join(b"1\r\n%c\r\n" % c for c in VALID) + b"0\r\n\r\n"),
     {201})
# pipelining
_PING = b"GET /_ping HTTP/1.1\r\nHost: moor\r\n\r\n"
case("pipe-two-pings", _PING + _req("GET", "/_ping"), {200}, then=[200])
case("pipe-ping-garbage", _PING + b"GARBAGE\r\n\r\n", {200}, then=[400])
case("pipe-ping-binary", _PING + bytes(range(1, 256)), {200}, shut_write=True)
case("pipe-hundred-pings", _PING * 100 + _req("GET", "/_ping"), {200}, then=[200] * 100)
_KEPT = _post(CREATE, f"Content-Length: {len(VALID)}\r\n", VALID).replace(b"Connection: close\r\n", b"")
case("pipe-body-then-ping", _KEPT + _req("GET", "/_ping"), {201}, then=[200])
# bodies on requests that take none, and JSON that is not text
case("body-on-ping", _req("GET", "/_ping", "Content-Length: 10\r\n", b"0123456789"), {200})
case("body-bom", _post(CREATE, f"Content-Length: {len(VALID) + 3}\r\n", b"\xef\xbb\xbf" + VALID), {201, 400})
_LATIN1 = b'{"Image": "busybox\xff\xfe", "a":1}'
case("body-latin1", _post(CREATE, f"Content-Length: {len(_LATIN1)}\r\n", _LATIN1), {400})
case("body-utf16", _post(CREATE, f"Content-Length: {len(VALID.decode().encode('utf-16'))}\r\n",
                         VALID.decode().encode("utf-16")), {400})
_NUL = b'{"Image": "busy\x00box"}'
case("body-nul-in-json", _post(CREATE, f"Content-Length: {len(_NUL)}\r\n", _NUL), {400})
case("body-trailing-garbage", _post(CREATE, f"Content-Length: {len(VALID) + 5}\r\n", VALID + b"xxxxx"), {400})
case("body-two-objects", _post(CREATE, f"Content-Length: {2 * len(VALID)}\r\n", VALID + VALID), {400})
case("body-big-json", _post(CREATE, f"Content-Length: {16 << 20}\r\n", b'{"Image": "' + b"a" * (16 << 20) + b'"}'),
     {400, 413, CLOSED})
# hijack endpoints given garbage
case("hijack-attach-missing", _req("POST", "/containers/no-such/attach?stream=1&stdout=1",
                                   "Upgrade: tcp\r\nConnection: Upgrade\r\n"), {404})
case("hijack-exec-missing", _post("/exec/no-such/start", "Content-Length: 2\r\nUpgrade: tcp\r\n", b"{}"), {404})
case("hijack-upgrade-ping", _req("GET", "/_ping", "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"), {200})
