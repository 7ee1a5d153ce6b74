"""A real registry for tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1.

:class:`TestRegistry` runs it with a config of its own in a temporary directory, in one of four modes:

- ``plain``: http, no authentication;
- ``tls``: https with a server certificate signed by a CA made with openssl (``ca_path``);
- ``htpasswd``: http with Basic authentication for ``users``;
- ``token``: http with Bearer tokens from :class:`TokenServer`, a small token server in a thread that signs
  JWTs (RS256, ``x5c`` chain) with a key it makes; anonymous clients get pull tokens (``anonymous_pull``).

It is a context manager that always stops the processes and removes its directory. ``seed`` copies an
image archive into it with skopeo. Tests only ever talk to 127.0.0.0/8.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():  # crypt is deprecated (3.13 drops it); libxcrypt's bcrypt is what we need
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

REGISTRY_BINARY = "docker-registry"
SERVICE = "moor-test-registry"
ISSUER = "moor-test-token-issuer"
MODES = ("plain", "tls", "htpasswd", "token")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash (cost 4: tests want speed) as distribution's htpasswd wants it."""
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    """One request the token server answered: what was asked and for whom."""

    method: str
    account: str
    scopes: list[str]
    grant_type: str
    offline: bool
    status: int


@dataclass
class TokenServer:
    """A token server for distribution's ``auth.token``: GET (Basic or anonymous) and POST (OAuth2) on /token.

    Users get every action they ask for; anonymous clients get ``pull`` when ``anonymous_pull``. Refresh
    tokens are handed out for ``offline_token=true`` (GET) and ``access_type=offline`` or a password grant
    (POST), and accepted by the refresh_token grant. Every request is recorded in ``requests``.
    """

    users: dict[str, str]
    anonymous_pull: bool = True
    lifetime: int = 300
    requests: list[TokenRequest] = field(default_factory=list)
    port: int = 0
    cert_pem: bytes = b""
    _key: Any = None
    _cert_der: bytes = b""
    _refresh: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def make_key(self) -> None:
        """The signing key and its self-signed certificate (the registry's rootcertbundle)."""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moor test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self._key, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)

    def sign(self, account: str, access: list[dict[str, object]]) -> str:
        """A JWT the registry accepts for ``access``."""
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": account, "aud": SERVICE, "exp": now + self.lifetime, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def grant(self, account: str, scopes: list[str]) -> list[dict[str, object]]:
        """The access entries granted to ``account`` ("" anonymous) for the scopes asked."""
        access: list[dict[str, object]] = []
        for scope in scopes:
            for part in scope.split(" "):
                kind, _, rest = part.partition(":")
                name, _, actions = rest.rpartition(":")
                if not kind or not name:
                    continue
                wanted = [a for a in actions.split(",") if a]
                allowed = wanted if account else (["pull"] if self.anonymous_pull and "pull" in wanted else [])
                access.append({"type": kind, "name": name, "actions": allowed})
        return access

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Serve one /token request."""
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        form: dict[str, list[str]] = {}
        if handler.command == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            form = parse_qs(handler.rfile.read(length).decode())
        values = {**query, **form}
        scopes = values.get("scope", [])
        grant_type = (values.get("grant_type") or [""])[0]
        offline = (values.get("offline_token") or [""])[0] == "true" or \
                  (values.get("access_type") or [""])[0] == "offline"
        account = ""
        refused = False
        authorization = handler.headers.get("Authorization", "")
        if handler.command == "POST" and grant_type == "refresh_token":
            account = self._refresh.get((values.get("refresh_token") or [""])[0], "")
            refused = not account
        elif handler.command == "POST" and grant_type == "password":
            user, password = (values.get("username") or [""])[0], (values.get("password") or [""])[0]
            refused = self.users.get(user) != password or not user
            account = user
            offline = True
        elif authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode(errors="replace").partition(":")
            refused = self.users.get(user) != password
            account = user
        elif handler.command == "POST":
            refused = True
        status = 401 if refused else 200
        self.requests.append(TokenRequest(handler.command, account, list(scopes), grant_type, offline, status))
        if refused:
            body = json.dumps({"details": "incorrect username or password"}).encode()
        else:
            token = self.sign(account, self.grant(account, scopes))
            document: dict[str, object] = {"token": token, "access_token": token, "expires_in": self.lifetime,
                                           "issued_at": datetime.datetime.now(datetime.UTC).isoformat()}
            if offline and account:
                refresh = secrets.token_hex(16)
                self._refresh[refresh] = account
                document["refresh_token"] = refresh
            body = json.dumps(document).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.answer(self)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="token-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_client_cert(directory: str) -> None:
    """``client.cert``/``client.key`` signed by ``ca.crt`` (made by :func:`make_ca_and_server_cert`)."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
             "/CN=moor test client", "-keyout", "client.key", "-out", "client.csr", cwd=directory)
    with open(os.path.join(directory, "client.ext"), "w") as handle:
        handle.write("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "client.ext", "-out", "client.cert", cwd=directory)


def make_ca_and_server_cert(directory: str, names: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost")) -> None:
    """``ca.crt``/``ca.key`` and ``server.crt``/``server.key`` (signed by the CA, valid for ``names``)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=moor test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key", "-out", "ca.crt", cwd=directory)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
             "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as handle:
        handle.write(f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=directory)


class TestRegistry:
    """Debian's docker-registry on 127.0.0.1:<free port>, in ``mode`` (see the module docstring)."""

    __test__ = False  # not a pytest test class

    def __init__(self, mode: str = "plain", users: dict[str, str] | None = None, anonymous_pull: bool = True,
                 token_lifetime: int = 300, client_certs: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown registry mode {mode!r} (one of {', '.join(MODES)})")
        self.mode = mode
        self.users = dict(users if users is not None else {"moor": "s3cret"})
        self.port = 0
        self.dir = ""
        self.ca_path = ""
        self.token_server: TokenServer | None = None
        self._anonymous_pull = anonymous_pull
        self._token_lifetime = token_lifetime
        #: tls mode: the registry demands a client certificate signed by its CA (``install_client_cert``)
        self.client_certs = client_certs
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` in tls mode)."""
        return f"{'https' if self.mode == 'tls' else 'http'}://{self.host}"

    @property
    def credentials(self) -> tuple[str, str]:
        """The first user's name and password."""
        return next(iter(self.users.items()))

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.dir}/data",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
        ]
        if self.mode == "tls":
            lines += ["  tls:", f"    certificate: {self.dir}/server.crt", f"    key: {self.dir}/server.key"]
            if self.client_certs:
                lines += ["    clientcas:", f"      - {self.dir}/ca.crt"]
        if self.mode == "htpasswd":
            lines += ["auth:", "  htpasswd:", "    realm: moor-test", f"    path: {self.dir}/htpasswd"]
        if self.mode == "token":
            assert self.token_server is not None
            lines += ["auth:", "  token:", f"    realm: {self.token_server.realm}", f"    service: {SERVICE}",
                      f"    issuer: {ISSUER}", f"    rootcertbundle: {self.dir}/token.crt"]
        return "\n".join(lines) + "\n"

    def start(self) -> TestRegistry:
        """Start the registry (and its token server) and wait until it answers."""
        self.dir = tempfile.mkdtemp(prefix="moor-registry-")
        try:
            if self.mode == "tls":
                make_ca_and_server_cert(self.dir)
                self.ca_path = os.path.join(self.dir, "ca.crt")
                if self.client_certs:
                    make_client_cert(self.dir)
                    self.install_client_cert(os.path.join(self.dir, "client-certs"), host_dir=False)
                    shutil.copyfile(self.ca_path, os.path.join(self.dir, "client-certs", "ca.crt"))
            if self.mode == "htpasswd":
                with open(os.path.join(self.dir, "htpasswd"), "w") as handle:
                    handle.writelines(f"{user}:{bcrypt_hash(password)}\n" for user, password in self.users.items())
            if self.mode == "token":
                self.token_server = TokenServer(self.users, self._anonymous_pull, self._token_lifetime)
                self.token_server.make_key()
                self.token_server.start()
                with open(os.path.join(self.dir, "token.crt"), "wb") as handle:
                    handle.write(self.token_server.cert_pem)
            for _ in range(5):
                self.port = free_port()
                config = os.path.join(self.dir, "config.yml")
                with open(config, "w") as handle:
                    handle.write(self._config())
                log = open(os.path.join(self.dir, "registry.log"), "wb")
                self._process = subprocess.Popen([REGISTRY_BINARY, "serve", config], stdout=log,
                                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                log.close()
                if self._wait_ready():
                    return self
                self._stop_process()
            raise RuntimeError(f"docker-registry did not start: {self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 20.0) -> bool:
        context = ssl.create_default_context(cafile=self.ca_path) if self.ca_path else None
        if context is not None and self.client_certs:
            context.load_cert_chain(os.path.join(self.dir, "client.cert"), os.path.join(self.dir, "client.key"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=context).close()
                return True
            except urllib.error.HTTPError:
                return True  # 401: up, and asking for credentials
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def log_tail(self, lines: int = 20) -> str:
        """The end of the registry's log (for failure messages)."""
        try:
            with open(os.path.join(self.dir, "registry.log"), errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def stop(self) -> None:
        """Stop everything and remove the directory (safe to call twice)."""
        self._stop_process()
        if self.token_server is not None:
            self.token_server.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""

    def __enter__(self) -> TestRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def install_ca(self, certs_dir: str) -> str:
        """Copy the CA into ``certs_dir/HOST:PORT/ca.crt`` (as /etc/docker/certs.d wants); returns the path."""
        directory = os.path.join(certs_dir, self.host)
        os.makedirs(directory, exist_ok=True)
        target = os.path.join(directory, "ca.crt")
        shutil.copyfile(self.ca_path, target)
        return target

    def install_client_cert(self, certs_dir: str, host_dir: bool = True) -> None:
        """Copy the client pair into ``certs_dir/HOST:PORT/client.cert`` and ``client.key``."""
        directory = os.path.join(certs_dir, self.host) if host_dir else certs_dir
        os.makedirs(directory, exist_ok=True)
        for name in ("client.cert", "client.key"):
            shutil.copyfile(os.path.join(self.dir, name), os.path.join(directory, name))

    def skopeo(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run skopeo with this registry's credentials and TLS settings added to a copy/inspect command."""
        return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True, timeout=timeout)

    def _flags(self, prefix: str) -> list[str]:
        """skopeo's TLS and credential flags for this registry (``--dest-...``, ``--src-...`` or plain)."""
        dash = f"--{prefix}-" if prefix else "--"
        flags = [f"{dash}tls-verify=false"]
        if self.client_certs:
            flags.append(f"{dash}cert-dir={self.dir}/client-certs")
        if self.mode in ("htpasswd", "token"):
            user, password = self.credentials
            flags.append(f"{dash}creds={user}:{password}")
        return flags

    def seed(self, image_archive_path: str, repo_tag: str, transport: str = "docker-archive") -> str:
        """Copy an image archive into the registry as ``repo_tag`` (``app:1``); returns the manifest digest."""
        digest_file = os.path.join(self.dir, f"digest-{secrets.token_hex(4)}")
        self.skopeo("copy", "--quiet", *self._flags("dest"), "--digestfile", digest_file,
                    f"{transport}:{image_archive_path}", f"docker://{self.host}/{repo_tag}")
        with open(digest_file) as handle:
            digest = handle.read().strip()
        os.unlink(digest_file)
        return digest

    def manifest_digest(self, repo_tag: str) -> str:
        """The digest skopeo computes for ``repo_tag`` in this registry."""
        result = self.skopeo("inspect", *self._flags(""), "--format", "{{.Digest}}",
                             f"docker://{self.host}/{repo_tag}")
        return result.stdout.strip()
