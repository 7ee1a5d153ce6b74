"""The distribution-protocol client of one repository on one registry endpoint.

:class:`RegistryClient` speaks the OCI distribution API (Docker's registry API v2) over urllib3: the
``/v2/`` ping, Basic and Bearer authentication (tokens cached per scope, refreshed on 401, anonymous
tokens, identity and registry tokens), redirects (credentials never follow to another host), bounded
retries with back-off on connection errors, 5xx and 429, manifests (capped, verified when fetched by
digest), blobs (ranges), uploads (monolithic or chunked), cross-repository mounts, tags, the catalog and
Docker Hub's v1 search. Every failure is one :class:`moor.errors.MoorError` line in Docker's words.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InsecureRequestWarning

from moor import __version__
from moor.errors import InvalidParameter, MoorError, NotFound, RegistryUnreachable, Unauthorized
from moor.registry.authconfig import AuthConfig
from moor.registry.challenge import Challenge, next_link, parse_challenges
from moor.registry.endpoints import DOCKER_HUB_REGISTRY, Endpoint, tls_context
from moor.registry.errors import (
    RegistryAnswer,
    TokenRefused,
    describe_transport_error,
    error_code,
    registry_error,
    transport_error_is_transient,
)
from moor.registry.manifests import MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, Descriptor, digest_of, hasher_for, is_digest
from moor.registry.settings import RegistrySettings

log = logging.getLogger(__name__)

USER_AGENT = f"moor/{__version__}"
#: The OAuth2 client ID moor gives token servers (Docker's is "docker").
CLIENT_ID = "moor"
#: A JSON answer (errors, tokens, tag lists) larger than this is refused.
MAX_JSON_BYTES = 16 << 20
MAX_REDIRECTS = 10
#: Docker's minimum token lifetime: a shorter expires_in counts as 60 seconds.
MIN_TOKEN_SECONDS = 60
#: a token is asked for again after a day whatever its server said
MAX_TOKEN_SECONDS = 86400
_REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_SETTINGS = RegistrySettings()
# An insecure registry is the configuration's choice (as Docker's --insecure-registry): no warning per request.
urllib3.disable_warnings(InsecureRequestWarning)


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest as the registry sent it: its media type, bytes and digest (verified)."""

    media_type: str
    data: bytes
    digest: str


class BlobStream:
    """A blob being downloaded: ``read`` chunks until b"", then ``close``.

    ``offset`` is where the bytes really start (0 when the server ignored the Range asked for),
    ``total`` the whole blob's size when the server said it. A broken connection or a truncated body
    is :class:`RegistryUnreachable` from ``read``.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, offset: int, total: int | None, url: str) -> None:
        self.offset = offset
        self.total = total
        self._response = response
        self._url = url
        self._done = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest with -1); b"" at the end."""
        if self._done:
            return b""
        try:
            data = self._response.read(None if size < 0 else size)
        except (Urllib3Error, OSError) as err:
            self.close()
            raise RegistryUnreachable(f'error pulling blob from "{self._url}": {describe_transport_error(err)}') \
                from None
        if not data or size < 0:
            self._done = True
        return data

    def close(self) -> None:
        """Let the connection go (reused when the body was read to its end)."""
        if self._done:
            self._response.release_conn()
        else:
            self._response.close()
        self._done = True

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ProgressReader:
    """Reads at most ``size`` bytes of ``source``, reporting each new byte sent to ``progress`` once."""

    def __init__(self, source: IO[bytes], size: int, progress: Callable[[int], None] | None,
                 reported: list[int]) -> None:
        self._source = source
        self._left = size
        self._progress = progress
        self._reported = reported
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data = self._source.read(want)
        if not data:
            raise InvalidParameter("upload failed: the layer ended before its announced size")
        self._left -= len(data)
        self._sent += len(data)
        if self._progress is not None and self._sent > self._reported[0]:
            self._progress(self._sent - self._reported[0])
            self._reported[0] = self._sent
        return data


class _NotReplayable(Exception):
    """A request body that cannot be sent again (a stream that does not seek)."""


BodyFactory = Callable[[], "bytes | _ProgressReader | None"]


class RegistryClient:
    """The client of ``repository`` (the path, ``library/busybox``) on one registry ``endpoint``.

    ``actions`` are the token scope's (``("pull",)`` or ``("pull", "push")``). Thread-safe: a pull
    may download several blobs at once through one client.
    """

    def __init__(self, endpoint: Endpoint, repository: str, credentials: AuthConfig | None = None,
                 actions: tuple[str, ...] = ("pull",), settings: RegistrySettings = DEFAULT_SETTINGS, *,
                 name: str = "", timeout: float = 60.0, connect_timeout: float = 15.0, attempts: int = 4,
                 backoff: float = 0.5) -> None:
        self.endpoint = endpoint
        self.repository = repository
        self.credentials = credentials if credentials is not None else AuthConfig()
        self.actions = actions
        self.settings = settings
        #: the repository's name in messages: ``busybox``, ``127.0.0.1:5000/app``
        self.name = name or _familiar(endpoint.host, repository)
        #: the refresh token a token server handed out (``check_login`` asks for one)
        self.identity_token = ""
        self._base = endpoint.base_url.rstrip("/")
        #: credentials go only to this scheme and host[:port] (an upload Location or Link elsewhere gets none)
        self._origin = urlsplit(self._base)[:2]
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=timeout)
        pool_size = max(settings.max_concurrent_downloads, settings.max_concurrent_uploads) + 2
        context = tls_context(settings, endpoint.host, verify=endpoint.tls_verify) if endpoint.secure else None
        self._pool = urllib3.PoolManager(num_pools=8, maxsize=pool_size, block=False, ssl_context=context,
                                         retries=False, blocksize=256 << 10)
        self._lock = threading.Lock()
        self._pinged = False
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    # -- requests ---------------------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """The token scope of this client's requests: ``repository:library/busybox:pull,push``."""
        return f"repository:{self.repository}:{','.join(self.actions)}"

    def _url(self, path: str) -> str:
        return f"{self._base}/v2/{self.repository}/{path}"

    def _open(self, method: str, url: str, headers: dict[str, str], body: Any, redirect: bool) \
            -> tuple[urllib3.BaseHTTPResponse, str]:
        """One request, following redirects; Authorization never follows a redirect to another host."""
        origin = urlsplit(url)[:2]
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(url)[:2] != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            response = self._pool.request(method, url, headers=headers, body=body, redirect=False,
                                          preload_content=False, timeout=self._timeout, retries=False)
            location = response.headers.get("Location", "")
            if not (redirect and response.status in _REDIRECTS and location and method in ("GET", "HEAD")):
                return response, url
            response.drain_conn()
            response.release_conn()
            url = _join(url, location)
        raise InvalidParameter(f'{method.title()} "{url}": stopped after {MAX_REDIRECTS} redirects')

    def _send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
              body: BodyFactory | None = None, scopes: tuple[str, ...] | None = None, stream: bool = False,
              cap: int = MAX_JSON_BYTES, redirect: bool = True, authenticate: bool = True) -> RegistryAnswer:
        """Send a request with authentication, redirects and retries; read its body unless ``stream``.

        Connection errors, truncated bodies, 5xx and 429 are retried with exponential back-off (when the body
        can be sent again); a 401 is retried once with a fresh token.
        """
        scopes = scopes if scopes is not None else (self.scope,)
        attempt = 0
        reauthenticated = False
        while True:
            sent = {"User-Agent": USER_AGENT, **(headers or {})}
            if authenticate and urlsplit(url)[:2] == self._origin:
                authorization = self._authorization(method, url, scopes)
                if authorization:
                    sent["Authorization"] = authorization
            try:
                payload = body() if body is not None else None
            except _NotReplayable:
                raise RegistryUnreachable(f'{method.title()} "{url}": the upload failed and its data cannot be '
                                          "sent again") from None
            try:
                response, final_url = self._open(method, url, sent, payload, redirect)
                answer = RegistryAnswer(response, final_url, method)
                if not stream or answer.status >= 300:
                    answer.read_body(cap)
            except (Urllib3Error, OSError) as err:
                if attempt + 1 < self._attempts and transport_error_is_transient(err):
                    attempt += 1
                    self._sleep(attempt, None)
                    continue
                raise RegistryUnreachable(f'{method.title()} "{url}": {describe_transport_error(err)}') from None
            if answer.status == 401 and authenticate and not reauthenticated:
                challenges = parse_challenges(answer.header("WWW-Authenticate"))
                usable = _pick_challenge(challenges)
                if usable is not None:
                    reauthenticated = True
                    with self._lock:
                        self._challenge, self._pinged = usable, True
                        self._tokens.pop(tuple(scopes), None)
                    continue
            if (answer.status >= 500 or answer.status == 429) and attempt + 1 < self._attempts:
                attempt += 1
                answer.discard()
                self._sleep(attempt, answer.header("Retry-After"))
                continue
            return answer

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self._backoff * (2 ** (attempt - 1)), 8.0)
        if retry_after and retry_after.isdigit():
            delay = min(max(delay, float(retry_after)), 10.0)
        time.sleep(delay * (0.75 + random.random() / 2))

    # -- authentication ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: learn how the registry wants to be spoken to (its authentication challenge).

        An endpoint that cannot be reached or is not a registry is :class:`RegistryUnreachable`.
        """
        url = f"{self._base}/v2/"
        answer = self._send("GET", url, authenticate=False)
        challenge = None
        if answer.status == 401:
            challenge = _pick_challenge(parse_challenges(answer.header("WWW-Authenticate")))
        elif answer.status >= 300:
            raise RegistryUnreachable(f'{url} is not a registry: it answered "{answer.status} {answer.reason}"')
        with self._lock:
            self._challenge, self._pinged = challenge, True

    def _authorization(self, method: str, url: str, scopes: Iterable[str]) -> str:
        if not self._pinged:
            self.ping()
        challenge = self._challenge
        if challenge is None:
            return ""
        credentials = self.credentials
        if challenge.scheme == "basic":
            if not (credentials.username or credentials.password):
                raise Unauthorized(f'{method.title()} "{url}": no basic auth credentials')
            pair = f"{credentials.username}:{credentials.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if credentials.registrytoken:
            return f"Bearer {credentials.registrytoken}"
        try:
            return "Bearer " + self._token(challenge, tuple(scopes), offline=False)
        except TokenRefused as refused:
            raise Unauthorized(f'{method.title()} "{url}": {refused.message}') from None

    def _token(self, challenge: Challenge, scopes: tuple[str, ...], offline: bool) -> str:
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = self._fetch_token(challenge, scopes, offline)
            margin = min(10.0, lifetime / 4)
            self._tokens[scopes] = (token, time.monotonic() + lifetime - margin)
            return token

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...], offline: bool) -> tuple[str, float]:
        """Ask the token server of a Bearer challenge for a token (refresh-token grant, Basic or anonymous)."""
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise InvalidParameter(f"the registry's Bearer challenge has no usable realm ({realm[:100]!r})")
        service = challenge.params.get("service", "")
        credentials = self.credentials
        if credentials.identitytoken:
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identitytoken,
                    "client_id": CLIENT_ID, "scope": " ".join(scopes)}
            if service:
                form["service"] = service
            if offline:
                form["access_type"] = "offline"
            data = urlencode(form).encode()
            answer = self._send("POST", realm, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                body=lambda: data, authenticate=False, redirect=False)
        else:
            query: list[tuple[str, str]] = [("service", service)] if service else []
            query += [("scope", scope) for scope in scopes]
            headers: dict[str, str] = {}
            if credentials.username or credentials.password:
                query += [("account", credentials.username), ("client_id", CLIENT_ID)]
                if offline:
                    query.append(("offline_token", "true"))
                pair = f"{credentials.username}:{credentials.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
            answer = self._send("GET", url, headers=headers, authenticate=False)
        if answer.status in (401, 403):
            raise TokenRefused(_token_refusal(answer))
        if answer.status != 200:
            raise registry_error(answer, f"token server {realm}")
        document = answer.json_object("the token server's answer")
        token = document.get("token") or document.get("access_token")
        if not isinstance(token, str) or not token:
            raise InvalidParameter(f"the token server {realm} answered without a token")
        refresh = document.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self.identity_token = refresh
        expires = document.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else 0.0
        if not math.isfinite(lifetime):
            lifetime = 0.0
        return token, min(max(lifetime, MIN_TOKEN_SECONDS), MAX_TOKEN_SECONDS)

    def check_login(self) -> str:
        """What ``POST /auth`` does: ping, then authenticate with the credentials.

        Returns the identity token (an OAuth2 refresh token) when the token server gave one, else "".
        A refusal is :class:`Unauthorized` in Docker's words.
        """
        url = f"{self._base}/v2/"
        self.ping()
        challenge = self._challenge
        if challenge is not None and challenge.scheme == "bearer" and not self.credentials.registrytoken:
            try:
                self._token(challenge, (), offline=True)
            except TokenRefused as refused:
                raise Unauthorized(f'Get "{url}": {refused.message}') from None
        answer = self._send("GET", url, scopes=())
        if answer.status != 200:
            raise Unauthorized(f"login attempt to {url} failed with status: {answer.status} {answer.reason}")
        return self.identity_token

    # -- manifests --------------------------------------------------------------------------------------

    def _reference_text(self, reference: str) -> str:
        return f"{self.name}@{reference}" if ":" in reference else f"{self.name}:{reference}"

    def _pull_error(self, answer: RegistryAnswer, reference: str) -> MoorError:
        """Docker's ``TranslatePullError`` wording for a manifest request that failed."""
        code, message = error_code(answer)
        if code in ("DENIED", "UNAUTHORIZED") or (answer.status in (401, 403) and not code):
            return NotFound(f"pull access denied for {self.name}, repository does not exist or may require "
                            "'docker login': denied: requested access to the resource is denied")
        if code == "MANIFEST_UNKNOWN" or (answer.status == 404 and not code):
            return NotFound(f"manifest for {self._reference_text(reference)} not found: manifest unknown: "
                            f"{message or 'manifest unknown'}")
        if code == "NAME_UNKNOWN":
            return NotFound(f"repository {self.name} not found: name unknown: "
                            f"{message or 'repository name not known to registry'}")
        return registry_error(answer, f"manifest {self._reference_text(reference)}")

    def get_manifest(self, reference: str) -> FetchedManifest:
        """The manifest (or index) ``reference`` (a tag or a digest) names, at most MAX_MANIFEST_BYTES.

        Fetched by digest, its bytes must hash to it; fetched by tag, to the Docker-Content-Digest the
        registry sent (when it sent one).
        """
        by_digest = ":" in reference
        if by_digest and not is_digest(reference):
            raise InvalidParameter(f"invalid digest {reference[:100]!r}")
        answer = self._send("GET", self._url(f"manifests/{quote(reference, safe=':')}"),
                            headers={"Accept": ", ".join(MANIFEST_ACCEPT)}, cap=MAX_MANIFEST_BYTES)
        if answer.status != 200:
            raise self._pull_error(answer, reference)
        if answer.oversized:
            raise InvalidParameter(f"manifest {self._reference_text(reference)} is larger than the "
                                   f"{MAX_MANIFEST_BYTES} bytes a manifest may have")
        data = answer.data
        header = answer.header("Docker-Content-Digest")
        expected = reference if by_digest else header if is_digest(header) else ""
        if expected:
            hasher = hasher_for(expected)
            hasher.update(data)
            if f"{expected.partition(':')[0]}:{hasher.hexdigest()}" != expected:
                raise InvalidParameter(f"manifest verification failed for digest {expected}")
        digest = expected if expected.startswith("sha256:") else digest_of(data)
        media_type = answer.header("Content-Type").split(";")[0].strip()
        return FetchedManifest(media_type, data, digest)

    def head_manifest(self, reference: str) -> Descriptor | None:
        """What the registry says of a manifest without its bytes; None when it has no such manifest.

        A registry that answers HEAD without a Docker-Content-Digest gets a GET instead.
        """
        answer = self._send("HEAD", self._url(f"manifests/{quote(reference, safe=':')}"),
                            headers={"Accept": ", ".join(MANIFEST_ACCEPT)})
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise self._pull_error(answer, reference)
        digest = answer.header("Docker-Content-Digest")
        media_type = answer.header("Content-Type").split(";")[0].strip()
        length = answer.header("Content-Length")
        if not is_digest(digest) or not length.isdigit():
            try:
                fetched = self.get_manifest(reference)
            except NotFound:
                return None
            return Descriptor(fetched.media_type, fetched.digest, len(fetched.data))
        return Descriptor(media_type, digest, int(length))

    def put_manifest(self, reference: str, media_type: str, data: bytes) -> str:
        """Upload a manifest under ``reference`` (a tag or its digest); returns its digest."""
        answer = self._send("PUT", self._url(f"manifests/{quote(reference, safe=':')}"),
                            headers={"Content-Type": media_type}, body=lambda: data)
        if answer.status not in (200, 201, 202):
            raise registry_error(answer, f"manifest {self._reference_text(reference)}")
        return digest_of(data)

    # -- blobs ------------------------------------------------------------------------------------------

    def blob_size(self, digest: str) -> int | None:
        """The size of a blob the repository has (HEAD), None when it has none."""
        answer = self._send("HEAD", self._url(f"blobs/{digest}"))
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise registry_error(answer, f"blob {digest}")
        length = answer.header("Content-Length")
        return int(length) if length.isdigit() else None

    def open_blob(self, digest: str, offset: int = 0) -> BlobStream:
        """Start downloading a blob from byte ``offset`` (HTTP Range); see :class:`BlobStream`."""
        if not is_digest(digest):
            raise InvalidParameter(f"invalid digest {digest[:100]!r}")
        headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
        answer = self._send("GET", self._url(f"blobs/{digest}"), headers=headers, stream=True)
        if answer.status == 416 and offset > 0:
            return self.open_blob(digest, 0)
        if answer.status == 404:
            raise NotFound(f"blob {digest} not found: blob unknown: blob unknown to registry")
        if answer.status not in (200, 206):
            raise registry_error(answer, f"blob {digest}")
        total: int | None = None
        start: int | None = 0
        if answer.status == 206:
            start, total = _content_range(answer.header("Content-Range"))
            if start is None:
                answer.discard()
                raise InvalidParameter(f"blob {digest}: the registry sent a malformed Content-Range "
                                       f"{answer.header('Content-Range')[:80]!r}")
        else:
            length = answer.header("Content-Length")
            total = int(length) if length.isdigit() else None
        return BlobStream(answer.response, start or 0, total, answer.url)

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Ask the registry to mount a blob of ``from_repository`` here; True when it did."""
        query = urlencode({"mount": digest, "from": from_repository})
        answer = self._send("POST", self._url(f"blobs/uploads/?{query}"),
                            scopes=(self.scope, f"repository:{from_repository}:pull"), body=lambda: b"")
        if answer.status == 201:
            return True
        if answer.status == 202:
            self._cancel_upload(answer)
            return False
        if answer.status in (401, 403, 404):
            log.info("mount of %s from %s refused: %s", digest, from_repository, answer.status)
            return False
        raise registry_error(answer, f"mount of blob {digest}")

    def _cancel_upload(self, answer: RegistryAnswer) -> None:
        location = answer.header("Location")
        if not location:
            return
        try:
            self._send("DELETE", _join(answer.url, location)).discard()
        except MoorError as err:
            log.info("could not cancel an upload session: %s", err)

    def _start_upload(self) -> str:
        answer = self._send("POST", self._url("blobs/uploads/"), body=lambda: b"")
        if answer.status != 202:
            raise registry_error(answer, "blob upload")
        location = answer.header("Location")
        if not location:
            raise InvalidParameter("the registry started an upload without saying where (no Location header)")
        return _join(answer.url, location)

    def upload_blob(self, digest: str, source: IO[bytes], size: int, progress: Callable[[int], None] | None = None,
                    chunk_size: int | None = None) -> None:
        """Upload ``size`` bytes of ``source`` as the blob ``digest``.

        One PUT (monolithic), or with ``chunk_size`` PATCH requests of that size then a closing PUT.
        ``progress`` is called with the number of bytes sent since its previous call. The registry checks
        the digest: a mismatch is :class:`InvalidParameter`.
        """
        if not is_digest(digest):
            raise InvalidParameter(f"invalid digest {digest[:100]!r}")
        try:
            start = source.tell() if source.seekable() else None
        except OSError:
            start = None
        reported = [0]
        location = self._start_upload()
        if chunk_size:
            offset = 0
            while offset < size:
                piece = source.read(min(chunk_size, size - offset))
                if not piece:
                    raise InvalidParameter("upload failed: the layer ended before its announced size")
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(piece)),
                           "Content-Range": f"{offset}-{offset + len(piece) - 1}"}
                answer = self._send("PATCH", location, headers=headers, body=_constant(piece))
                if answer.status != 202:
                    raise registry_error(answer, f"blob upload {digest}")
                location = _join(answer.url, answer.header("Location") or location)
                offset += len(piece)
                if progress is not None:
                    progress(len(piece))
            body: BodyFactory = lambda: b""  # noqa: E731
            headers = {"Content-Length": "0"}
        else:
            used = [False]

            def body() -> _ProgressReader:
                if used[0]:
                    if start is None:
                        raise _NotReplayable()
                    source.seek(start)
                used[0] = True
                return _ProgressReader(source, size, progress, reported)

            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        separator = "&" if "?" in location else "?"
        answer = self._send("PUT", f"{location}{separator}{urlencode({'digest': digest})}", headers=headers,
                            body=body)
        if answer.status not in (201, 204):
            raise registry_error(answer, f"blob upload {digest}")

    # -- listings ---------------------------------------------------------------------------------------

    def _pages(self, url: str, key: str, scopes: tuple[str, ...], limit: int, what: str) -> list[str]:
        found: list[str] = []
        seen: set[str] = set()
        while url and url not in seen and (limit <= 0 or len(found) < limit):
            seen.add(url)
            answer = self._send("GET", url, scopes=scopes)
            if answer.status != 200:
                if answer.status == 404 and error_code(answer)[0] in ("NAME_UNKNOWN", ""):
                    raise NotFound(f"repository {self.name} not found: name unknown: repository name not "
                                   "known to registry")
                raise registry_error(answer, what)
            values = answer.json_object(what).get(key)
            if values is None:
                values = []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InvalidParameter(f"invalid {what} answer: {key} is not a list of strings")
            found += values
            link = next_link(answer.header("Link"))
            url = _join(answer.url, link) if link else ""
        return found[:limit] if limit > 0 else found

    def tags(self) -> list[str]:
        """Every tag of the repository (``/v2/<name>/tags/list``, all pages)."""
        return self._pages(self._url("tags/list"), "tags", (self.scope,), 0, "tag list")

    def catalog(self, limit: int = 0) -> list[str]:
        """The registry's repositories (``/v2/_catalog``), at most ``limit`` of them (0: all)."""
        query = f"?n={min(limit, 1000)}" if limit > 0 else ""
        return self._pages(f"{self._base}/v2/_catalog{query}", "repositories", ("registry:catalog:*",), limit,
                           "catalog")

    def search_v1(self, term: str, limit: int = 25) -> list[dict[str, object]] | None:
        """Docker Hub's ``/v1/search`` results, or None when the registry has no such endpoint."""
        base = "https://index.docker.io" if self.endpoint.host == DOCKER_HUB_REGISTRY else self._base
        url = f"{base}/v1/search?{urlencode({'q': term, 'n': limit})}"
        answer = self._send("GET", url, authenticate=False)
        if answer.status in (401, 403, 404, 405):
            return None
        if answer.status != 200:
            raise registry_error(answer, "search")
        try:
            results = answer.json_object("search").get("results")
        except InvalidParameter:
            return None
        if not isinstance(results, list):
            return None
        return [entry for entry in results if isinstance(entry, dict)]

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()


def _join(base: str, reference: str) -> str:
    """``reference`` (a Location or Link target) resolved against ``base``; a malformed one is InvalidParameter."""
    try:
        joined = urljoin(base, reference)
        parts = urlsplit(joined)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        raise InvalidParameter(f"the registry sent a malformed URL {reference[:100]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(f"the registry sent an unusable URL {reference[:100]!r}")
    return joined


def _constant(data: bytes) -> BodyFactory:
    return lambda: data


def _pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Bearer first (as Docker), then Basic; other schemes are not understood."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def _token_refusal(answer: RegistryAnswer) -> str:
    """Docker's words for a token server's 401/403: ``unauthorized: incorrect username or password``."""
    code, message = error_code(answer)
    if code:
        return f"{code.lower().replace('_', ' ')}: {message}"
    try:
        details = json.loads(answer.data).get("details")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        details = None
    if isinstance(details, str) and details:
        return "unauthorized: " + " ".join(details.split())[:200]
    return f"unauthorized: {answer.reason or 'authentication required'}"


def _content_range(header: str) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); total None for ``/*``; (None, None) when malformed."""
    unit, _, spec = header.strip().partition(" ")
    span, _, total = spec.partition("/")
    first, _, _last = span.partition("-")
    if unit != "bytes" or not first.isdigit():
        return None, None
    return int(first), int(total) if total.isdigit() else None


def _familiar(host: str, repository: str) -> str:
    if host == DOCKER_HUB_REGISTRY:
        return repository[len("library/"):] if repository.startswith("library/") else repository
    return f"{host}/{repository}"
