"""The HTTP/1.1 server on moord's Unix socket: bounded, with deadlines, and streams that notice a client leave.

How a connection is served:

- One thread (:meth:`UnixHTTPServer.serve_forever`) accepts connections and watches the idle ones in a
  selector. It reads each request as it trickles in, without a thread per connection: its head, and its
  body when that is at most ``buffered_body`` long (JSON, mostly). A kept-alive connection quiet for
  ``idle_timeout`` is closed; a request not in ``header_timeout`` after its first byte gets a 408. Past
  ``max_connections`` open connections it stops accepting: the rest wait in the listen backlog
  (``SOMAXCONN`` long, as Docker's).
- A request that is all here goes to a pool of at most ``workers`` threads, which call the application
  and write a whole answer: no worker ever waits for a slow client's request. An unread body is skipped
  up to ``drain_bytes``; a longer one is not waited for: the answer says ``Connection: close``.
- A request with a larger body (an image to load, an archive) and every streamed answer (events, logs,
  pull progress) or hijacked connection (attach, exec) gets a thread of its own, at most ``streams`` of
  them (503 past that), so long-lived streams never starve the ordinary requests; there a body may
  stall for ``body_timeout`` at most. A stream yields ``b""`` while idle; the server then looks at the
  socket and ends the stream (closing its iterator, which unsubscribes it) when the client hung up.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import IO, Any, cast
from urllib.parse import parse_qs, urlsplit

from moor.api.http import BodyReader, Hijack, Request, Response
from moor.api.wire import (
    BODY_INCOMPLETE,
    BODY_TOO_LONG,
    ConnectionReader,
    Head,
    HttpError,
    Limits,
    answer_head,
    error_body,
    parse_head,
    scan_chunked,
)
from moor.errors import MoorError

log = logging.getLogger(__name__)

Application = Callable[[Request], "Response | Hijack"]

_KEEP, _CLOSE, _HANDED_OFF = "keep", "close", "handed off"
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class WorkerPool:
    """At most ``size`` daemon threads running jobs from one queue; a thread starts when a job finds none idle."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self.threads = 0
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._pending = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
            if self._pending > self._idle and self.threads < self.size:
                self.threads += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self.threads}", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            try:
                job()
            except Exception:  # a job's failure must not take a pool thread with it
                log.exception("%s: a job failed", self.name)


class _Connection:
    """One client connection: its socket, what it sent that nobody read yet, the request coming in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.reader = ConnectionReader(sock)
        self.ended = False  # the client sent its end: serve what it sent, then close
        self.since = time.monotonic()  # parked at; or, once a request started, its first byte's arrival
        self.started = False  # a request's first byte arrived
        self.head: Head | HttpError | None = None  # its head, once complete (or why it is refused)
        self.scanned = 0  # how far its chunked body was scanned
        self.continued = False  # its "100 Continue" went out

    def park(self) -> None:
        self.sock.setblocking(False)
        self.since = time.monotonic()
        self.started = bool(self.reader.buffer)
        self.head, self.scanned, self.continued = None, 0, False



def peer_gone(sock: socket.socket) -> bool:
    """Whether the client hung up (or its socket failed): polled, never waiting."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    try:
        return any(mask & _GONE for _, mask in poller.poll(0))
    except OSError:
        return True


class UnixHTTPServer:
    """Serves ``app`` on a Unix socket (see the module's docstring for how)."""

    def __init__(self, path: str, app: Application, extra_headers: dict[str, str], mode: int = 0o660,
                 limits: Limits | None = None) -> None:
        self.app = app
        self.extra_headers = extra_headers
        self.limits = limits or Limits()
        self.server_address = path
        self.request_queue_size = socket.SOMAXCONN
        if os.path.exists(path) or os.path.islink(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            self.socket.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        self.socket.listen(self.request_queue_size)
        self.socket.setblocking(False)
        self.pool = WorkerPool(self.limits.workers, "moord-http")
        self._stream_slots = threading.BoundedSemaphore(self.limits.streams)
        self.streams = 0
        self._lock = threading.Lock()
        self._open = 0
        self._returned: deque[_Connection | None] = deque()  # parked again by workers; None: one closed
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector = selectors.DefaultSelector()
        self._parked: dict[int, _Connection] = {}
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._running = False
        self._accepting = False
        self._accept_after = 0.0

    # ------------------------------------------------------------------ the accepting thread

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept and watch connections until :meth:`shutdown`."""
        self._running = True
        try:
            self._selector.register(self._wake_read, selectors.EVENT_READ, None)
            self._set_accepting(True)
            while not self._stop.is_set():
                try:
                    self._turn(poll_interval)
                except Exception:  # a bug here must not stop moord from serving: log it, go on
                    log.exception("the HTTP server's accepting thread failed; going on")
                    time.sleep(0.05)
        finally:
            self._stopped.set()

    def _turn(self, poll_interval: float) -> None:
        """One turn of the accepting thread: accept, read what came, hand over ready requests, expire."""
        for key, _mask in self._selector.select(self._next_timeout(poll_interval)):
            if key.fileobj is self.socket:
                self._accept()
            elif key.data is None:
                self._take_returned()
            else:
                self._try_readable(key.data)
        self._take_returned()
        self._expire()
        self._set_accepting(self._open < self.limits.max_connections and time.monotonic() >= self._accept_after)

    def _try_readable(self, conn: _Connection) -> None:
        try:
            self._readable(conn)
        except Exception:  # this connection's problem: drop it, not the others
            log.exception("reading a request failed")
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        """Forget and close a connection the accepting thread holds."""
        if self._parked.get(conn.fd) is conn:
            self._unwatch(conn)
        self._close(conn)

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait for it to return."""
        self._stop.set()
        self._wake()
        if self._running:
            self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and every idle connection (busy ones end with their threads)."""
        self.socket.close()
        for conn in list(self._parked.values()):
            conn.sock.close()
        self._parked.clear()
        self._selector.close()
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except OSError:  # the pipe is full (already woken) or closed (shut down)
            pass

    def _next_timeout(self, poll_interval: float) -> float:
        return min(poll_interval, self.limits.tick)

    def _set_accepting(self, accepting: bool) -> None:
        if accepting and not self._accepting:
            self._selector.register(self.socket, selectors.EVENT_READ, None)
        elif not accepting and self._accepting:
            self._selector.unregister(self.socket)
        self._accepting = accepting

    def _accept(self) -> None:
        while self._open < self.limits.max_connections:
            try:
                sock, _ = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # EMFILE and friends: leave the rest in the backlog for a moment
                log.warning("cannot accept a connection: %s", err)
                self._accept_after = time.monotonic() + 0.5
                self._set_accepting(False)
                return
            with self._lock:
                self._open += 1
            conn = _Connection(sock)
            conn.park()
            self._watch(conn)
            self._try_readable(conn)  # its request is often here already

    def _watch(self, conn: _Connection) -> None:
        self._parked[conn.fd] = conn
        self._selector.register(conn.fd, selectors.EVENT_READ, conn)

    def _unwatch(self, conn: _Connection) -> None:
        del self._parked[conn.fd]
        self._selector.unregister(conn.fd)

    def _take_returned(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while self._returned:
            conn = self._returned.popleft()
            if conn is not None:
                self._watch(conn)
                self._try_readable(conn)  # its next request may be here already

    def _readable(self, conn: _Connection) -> None:
        """Bytes (or the end) arrived on an idle connection: read the request on, hand it over when ready."""
        if not conn.ended:
            try:
                conn.ended = not conn.reader.fill_available()
            except OSError:
                conn.ended = True
        if not conn.reader.buffer:
            if conn.ended:
                self._unwatch(conn)
                self._close(conn)
            return
        if not conn.started:
            conn.started = True
            conn.since = time.monotonic()
        if conn.head is None and not self._read_head(conn):
            if conn.ended:  # a head cut short
                self._drop(conn)
            return
        ready = self._body_ready(conn)
        if ready is None:
            if conn.ended:  # a body cut short
                self._drop(conn)
            return
        self._unwatch(conn)
        if ready:
            self.pool.submit(lambda: self._serve(conn, streamed_body=False))
        elif self._stream_slots.acquire(blocking=False):
            self._start_thread(lambda: self._serve(conn, streamed_body=True))
        else:
            self.pool.submit(lambda: self._too_busy(conn))

    def _read_head(self, conn: _Connection) -> bool:
        """Take a complete head out of the buffer into ``conn.head``; False while it is still coming."""
        reader = conn.reader
        end = reader.head_end()
        if end < 0 and len(reader.buffer) <= self.limits.max_header_bytes:
            return False
        if end < 0 or end > self.limits.max_header_bytes:
            conn.head = HttpError(431, "request header fields too large")
            return True
        raw = bytes(reader.buffer[:end])
        del reader.buffer[:end]
        try:
            conn.head = parse_head(raw, self.limits)
        except HttpError as err:
            conn.head = err
        return True

    def _body_ready(self, conn: _Connection) -> bool | None:
        """Whether the request can go to a worker (True: its body is all here), must be served on a thread
        of its own (False: its body is streamed, too large to wait for) or waits for more (None)."""
        head = conn.head
        if not isinstance(head, Head):
            return True
        buffered = conn.reader.buffer
        limit = self.limits.buffered_body
        if head.chunked:
            what, conn.scanned = scan_chunked(buffered, conn.scanned, limit)
            complete = what != BODY_INCOMPLETE
            if what == BODY_TOO_LONG:
                return False
        elif head.content_length:
            if head.content_length > limit:
                return False
            complete = len(buffered) >= head.content_length
        else:
            return True
        if not complete and not conn.continued and head.headers.get("expect", "").lower() == "100-continue":
            conn.continued = True
            try:
                conn.sock.send(_CONTINUE)
            except OSError:
                pass
        return True if complete else None

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in list(self._parked.values()):
            if conn.started and now - conn.since > self.limits.header_timeout:
                self._unwatch(conn)
                try:
                    conn.sock.send(self._error_bytes(408, "timed out reading the request"))
                except OSError:
                    pass
                self._close(conn)
            elif not conn.started and now - conn.since > self.limits.idle_timeout:
                self._unwatch(conn)
                self._close(conn)

    def _close(self, conn: _Connection) -> None:
        try:
            conn.sock.close()
        finally:
            with self._lock:
                self._open -= 1

    # ------------------------------------------------------------------ workers

    def _park(self, conn: _Connection) -> None:
        """Give a kept-alive connection back to the accepting thread (from a worker or stream thread)."""
        conn.park()
        self._returned.append(conn)
        self._wake()

    def _release(self, conn: _Connection) -> None:
        """Close a connection from a worker or stream thread."""
        self._close(conn)
        self._returned.append(None)
        self._wake()

    def _start_thread(self, target: Callable[[], None]) -> None:
        """Run ``target`` on a thread of its own; the caller took a stream slot for it (given back here if the
        thread cannot start)."""
        try:
            threading.Thread(target=target, daemon=True, name="moord-stream").start()
        except BaseException:
            self._stream_slots.release()
            raise

    def _too_busy(self, conn: _Connection) -> None:
        try:
            self._refuse(conn, 503, "too many streaming connections, try again later")
        except OSError:
            pass
        self._release(conn)

    def _serve(self, conn: _Connection, streamed_body: bool) -> None:
        """Answer the request that came in on ``conn``, then park it (or close it).

        With ``streamed_body`` this runs on a thread of its own (the caller took a stream slot for it):
        the handler reads the body as it comes, and a streamed answer is sent from here too.
        """
        outcome = _CLOSE
        try:
            outcome = self._one_request(conn, streamed_body)
        except OSError as err:
            log.debug("connection dropped: %s", err)
            outcome = _CLOSE
        except Exception:  # nothing a request does may take the worker down
            log.exception("serving a connection failed")
            outcome = _CLOSE
        finally:
            if streamed_body:
                self._stream_slots.release()
        if outcome == _KEEP:
            self._park(conn)
        elif outcome == _CLOSE:
            self._release(conn)

    def _one_request(self, conn: _Connection, streamed_body: bool) -> str:
        conn.sock.settimeout(self.limits.body_timeout)
        head = conn.head
        if head is None:  # never: the accepting thread hands over parsed heads only
            raise RuntimeError("a request without its head")
        if isinstance(head, HttpError):
            return self._refuse(conn, head.status, head.message)
        url = urlsplit(head.target)
        expects_continue = head.headers.get("expect", "").lower() == "100-continue" and not conn.continued
        body = BodyReader(conn.reader, head.content_length, head.chunked, max_line=self.limits.max_line,
                          on_start=(lambda: conn.sock.sendall(_CONTINUE))
                          if expects_continue and head.version == "HTTP/1.1" else None)
        # The raw path: the router decodes it segment by segment, as Docker's (busybox%3Alatest is busybox:latest).
        request = Request(method=head.method, path=url.path, query=parse_qs(url.query, keep_blank_values=True),
                          headers=head.headers, body=body, version="", connection=conn.sock, limits=self.limits)
        try:
            answer = self.app(request)
        except Exception as err:  # the application should answer 500 itself; never a dead worker
            log.exception("%s %s failed", request.method, request.path)
            answer = Response(status=500, body=error_body(f"{type(err).__name__}: {err}"))
        if isinstance(answer, Hijack) or (isinstance(answer, Response) and answer.stream is not None):
            if streamed_body:  # already on a thread of its own
                return self._stream(conn, head, body, answer)
            if self._stream_slots.acquire(blocking=False):
                self._start_thread(lambda: self._serve_stream(conn, head, body, answer))
                return _HANDED_OFF
            _close_iterator(answer.stream if isinstance(answer, Response) else None)
            answer = Response(status=503, body=error_body("too many streaming connections, try again later"))
        if not isinstance(answer, Response):
            log.error("%s %s: the application answered %r", request.method, request.path, answer)
            answer = Response(status=500, body=error_body("the handler gave no response"))
        keep = head.keep_alive and self._finish_body(conn, body)
        conn.sock.settimeout(self.limits.send_timeout)
        self._send_whole(conn, request, answer, keep)
        return _KEEP if keep else self._linger(conn)

    def _finish_body(self, conn: _Connection, body: BodyReader) -> bool:
        """Skip what the application left of the body, if that is cheap; whether the connection can go on."""
        if body.done:
            return True
        if body.broken or (body.on_start is not None and not body.started):  # the client awaits our 100 Continue
            return False
        if body.length is not None and body.length > self.limits.drain_bytes:
            return False
        conn.reader.deadline = time.monotonic() + self.limits.drain_timeout
        try:
            skipped = 0
            while not body.done and skipped <= self.limits.drain_bytes:
                skipped += len(body.read(65536))
        except (MoorError, OSError):  # a broken or stalled body only means: close after the answer
            return False
        finally:
            conn.reader.deadline = None
        return body.done

    def _headers(self, response_headers: dict[str, str], keep: bool) -> list[tuple[str, str]]:
        headers = [("Date", formatdate(usegmt=True))] + list(self.extra_headers.items())
        headers += list(response_headers.items())
        if not keep:
            headers.append(("Connection", "close"))
        return headers

    def _error_bytes(self, status: int, message: str) -> bytes:
        body = error_body(message)
        headers = self._headers({"Content-Type": "application/json", "Content-Length": str(len(body))}, False)
        return answer_head(status, headers) + body

    def _refuse(self, conn: _Connection, status: int, message: str) -> str:
        log.debug("refused a request: %s %s", status, message)
        conn.sock.sendall(self._error_bytes(status, message))
        return self._linger(conn)

    def _linger(self, conn: _Connection) -> str:
        """Before closing: say we are done, and read a little of what the client still sends, so that it gets
        to read our answer rather than a reset."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 0.25
            skipped = 0
            while skipped < (4 << 20) and (remaining := deadline - time.monotonic()) > 0:
                conn.sock.settimeout(remaining)
                data = conn.sock.recv(65536)
                if not data:
                    break
                skipped += len(data)
        except OSError:
            pass
        return _CLOSE

    def _send_whole(self, conn: _Connection, request: Request, response: Response, keep: bool) -> None:
        headers = dict(response.headers)
        bodyless = response.status in (204, 304) or 100 <= response.status < 200
        if response.content_type and not bodyless:
            headers["Content-Type"] = response.content_type
        if not bodyless:
            headers["Content-Length"] = str(len(response.body))
        data = answer_head(response.status, self._headers(headers, keep))
        if request.method != "HEAD" and not bodyless:
            data += response.body
        conn.sock.sendall(data)

    # ------------------------------------------------------------------ streams and hijacks

    def _serve_stream(self, conn: _Connection, head: Head, body: BodyReader, answer: Response | Hijack) -> None:
        """On a thread of its own (the caller took a stream slot for it): serve the stream, then park or close."""
        outcome = _CLOSE
        try:
            outcome = self._stream(conn, head, body, answer)
        finally:
            self._stream_slots.release()
            if outcome == _KEEP:
                self._park(conn)
            else:
                self._release(conn)

    def _stream(self, conn: _Connection, head: Head, body: BodyReader, answer: Response | Hijack) -> str:
        """Serve a streamed answer or a hijacked connection; whether the connection can carry another request."""
        with self._lock:
            self.streams += 1
        outcome = _CLOSE
        try:
            conn.sock.settimeout(None)  # a stream may be quiet for hours; a hijack has its own protocol
            if isinstance(answer, Hijack):
                self._hijack(conn, answer)
                self._linger(conn)  # stdin the client still sends must not turn our last output into a reset
            else:
                outcome = self._send_stream(conn, head, body, answer)
        except OSError as err:
            log.debug("stream ended: %s", err)
        except Exception:  # nothing a stream does may take the server down
            log.exception("%s %s: the stream failed", head.method, head.target)
        finally:
            if isinstance(answer, Response):
                _close_iterator(answer.stream)
            with self._lock:
                self.streams -= 1
        return outcome

    def _hijack(self, conn: _Connection, hijack: Hijack) -> None:
        headers = dict(hijack.headers)
        if hijack.content_type:  # a WebSocket handshake has none
            headers["Content-Type"] = hijack.content_type
        if hijack.status == 101:  # an attach's raw stream, unless the hijack names its protocol (websocket)
            headers.setdefault("Connection", "Upgrade")
            headers.setdefault("Upgrade", "tcp")
        conn.sock.sendall(answer_head(hijack.status, [*self.extra_headers.items(), *headers.items()]))
        hijack.run(conn.sock, cast(IO[bytes], conn.reader))  # what the client sent past the head is in there

    def _send_stream(self, conn: _Connection, head: Head, body: BodyReader, response: Response) -> str:
        headers = dict(response.headers)
        if response.content_type:
            headers["Content-Type"] = response.content_type
        headers["Transfer-Encoding"] = "chunked"
        conn.sock.sendall(answer_head(response.status, self._headers(headers, head.keep_alive)))
        assert response.stream is not None
        if not self._pump(conn.sock, response.stream):
            log.debug("%s %s: the client left", head.method, head.target)
            return _CLOSE
        conn.sock.sendall(b"0\r\n\r\n")
        conn.sock.settimeout(self.limits.body_timeout)
        return _KEEP if head.keep_alive and self._finish_body(conn, body) else _CLOSE

    @staticmethod
    def _pump(sock: socket.socket, stream: Iterable[bytes]) -> bool:
        """Send the stream's chunks; False when the client left first."""
        for chunk in stream:
            if chunk:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif peer_gone(sock):
                return False
        return True


def _close_iterator(stream: Any) -> None:
    """End a stream's generator (its ``finally`` unsubscribes, closes files)."""
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # a stream that fails to close must not hide the answer
            log.exception("closing a stream failed")
