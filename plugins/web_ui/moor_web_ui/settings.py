"""What ``moor-web-ui serve`` was given: moord's socket, the listen address, the data dir, TLS and the limits.

:func:`check_exposure` is the rule the issue asks for: a non-loopback address is refused unless the UI
serves HTTPS and an administrator account exists.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "unix:///run/moor/moor.sock"
DEFAULT_LISTEN = "127.0.0.1:9180"
DEFAULT_DATA_DIR = "/var/lib/moor/web-ui"
DEFAULT_IDLE_TIMEOUT = 1800


class SettingsError(Exception):
    """A setting that cannot be used; its message is one line for the user (exit code 2)."""


@dataclass(frozen=True)
class ListenAddress:
    """An IP address (or ``localhost``) and a TCP port."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        return ipaddress.ip_address(self.host).is_loopback

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(value: str) -> ListenAddress:
    """``127.0.0.1:9180``, ``[::1]:9180``, ``localhost:9180`` or ``0.0.0.0:443`` (SettingsError otherwise)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise SettingsError(f"invalid listen address {value!r}: use HOST:PORT, e.g. 127.0.0.1:9180")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host != "localhost":
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise SettingsError(f"invalid listen address {value!r}: the host must be an IP address or localhost") \
                from None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SettingsError(f"invalid listen address {value!r}: the port must be a number from 1 to 65535")
    return ListenAddress(host, int(port_text))


def socket_path(host: str) -> str:
    """The path of moord's socket from ``unix:///path`` (SettingsError for anything else)."""
    if not host.startswith("unix://") or not host[len("unix://"):].startswith("/"):
        raise SettingsError(f"invalid moord host {host!r}: use unix:///absolute/path")
    return host[len("unix://"):]


@dataclass(frozen=True)
class RateLimit:
    """Failed logins allowed in ``window`` seconds, per client address and per user name."""

    per_address: int = 20
    per_user: int = 5
    window: float = 300.0


@dataclass(frozen=True)
class Settings:
    """Everything the server needs; made by the CLI, or directly by tests."""

    data_dir: Path
    host: str = DEFAULT_HOST
    listen: ListenAddress = field(default_factory=lambda: parse_listen(DEFAULT_LISTEN))
    tls_cert: Path | None = None
    tls_key: Path | None = None
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    rate_limit: RateLimit = field(default_factory=RateLimit)
    #: extra Host header values accepted on a loopback listen address (a name in /etc/hosts, a tunnel)
    server_names: tuple[str, ...] = ()
    #: seconds after the start during which the first account may be made from the page (POST /api/setup):
    #: another local user cannot claim a UI left without an administrator for long
    setup_window: int = 900

    def __post_init__(self) -> None:
        socket_path(self.host)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
        if self.idle_timeout <= 0:
            raise SettingsError(f"invalid idle timeout {self.idle_timeout}: it must be a positive number of seconds")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def moord_socket(self) -> str:
        return socket_path(self.host)

    @property
    def accounts_file(self) -> Path:
        return self.data_dir / "accounts.json"

    @property
    def stacks_dir(self) -> Path:
        return self.data_dir / "stacks"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context from the certificate and key files (SettingsError if they cannot be read)."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        except (OSError, ssl.SSLError) as err:
            raise SettingsError(f"cannot load the TLS certificate {self.tls_cert} and key {self.tls_key}: "
                                f"{getattr(err, 'strerror', None) or err}") from None
        return context


def check_exposure(settings: Settings, has_account: bool) -> None:
    """Refuse a non-loopback listen address without TLS and an administrator account (SettingsError)."""
    if settings.listen.loopback:
        return
    missing = []
    if not settings.tls:
        missing.append("TLS (--tls-cert and --tls-key)")
    if not has_account:
        missing.append("an administrator account (moor-web-ui passwd USER)")
    if missing:
        raise SettingsError(f"refusing to listen on {settings.listen}, which is not a loopback address, without "
                            + " and ".join(missing))
