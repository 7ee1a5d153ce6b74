"""The ``[registry]`` settings of ``moor.toml``: mirrors, insecure registries, concurrency, certificates."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

DEFAULT_CERTS_DIR = "/etc/moor/certs.d"
DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3
DEFAULT_MAX_CONCURRENT_UPLOADS = 5
#: Docker treats the loopback network as insecure whatever the configuration says.
ALWAYS_INSECURE = ("127.0.0.0/8",)


@dataclass(frozen=True)
class RegistrySettings:
    """How moor reaches registries.

    ``mirrors`` maps a registry domain as written in a reference (``docker.io``, ``127.0.0.1:5000``) to mirror
    base URLs tried in order before the registry itself (pulls only). ``insecure_registries`` holds
    ``host[:port]`` names or CIDRs: those are tried over https without verification, then plain http.
    """

    mirrors: dict[str, list[str]] = field(default_factory=dict)
    insecure_registries: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT_DOWNLOADS
    max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT_UPLOADS
    certs_dir: str = DEFAULT_CERTS_DIR

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (``name``, ``name:port``, ``[v6]:port``) is an insecure registry.

        A name matches an entry equal to it (with or without the port); an IP address matches a CIDR
        entry or the loopback network, as Docker's ``isSecureIndex`` decides.
        """
        name, _port = split_host_port(host)
        for entry in self.insecure_registries:
            if entry in (host, name):
                return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            # Docker resolves the name and finds 127.0.0.1 for localhost; moor does not resolve others.
            return name == "localhost"
        for entry in (*ALWAYS_INSECURE, *self.insecure_registries):
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if "/" in entry and address in network:
                return True
        return False


def split_host_port(host: str) -> tuple[str, str]:
    """``"a.b:5000"`` -> ("a.b", "5000"); ``"[::1]:5000"`` -> ("::1", "5000"); ``"a.b"`` -> ("a.b", "")."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""


def validate_insecure_entry(entry: str) -> None:
    """Raise ``ValueError`` unless ``entry`` is a CIDR or a ``host[:port]`` without a scheme or path."""
    if "://" in entry or ("/" in entry and not _is_cidr(entry)):
        raise ValueError(f"insecure registry {entry!r} must be a host[:port] or a CIDR")
    if not entry:
        raise ValueError("insecure registry must not be empty")


def validate_mirror(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is an http(s) URL with a host and no credentials, query or fragment
    (Docker's checks, in its words; a path is allowed, beyond Docker, for mirrors served under one)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f'invalid mirror: unsupported scheme "{scheme if sep else ""}" in "{url}"')
    host = rest.split("/", 1)[0]
    if "@" in host:
        raise ValueError(f'invalid mirror: username/password not allowed in URI "{url}"')
    if not host or "?" in rest or "#" in rest:
        raise ValueError(f'invalid mirror: "{url}" needs a host and no query or fragment')


def _is_cidr(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
