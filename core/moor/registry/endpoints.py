"""Where a registry is reached: its endpoints (mirrors, https, plain http) and their TLS settings."""

from __future__ import annotations

import glob
import os
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from moor.errors import InvalidParameter
from moor.registry.settings import RegistrySettings

DEFAULT_DOMAIN = "docker.io"
#: Docker Hub's API host and the names the docker CLI uses for Docker Hub's index.
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
DOCKER_HUB_INDEX_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True)
class Endpoint:
    """One place a registry answers: ``https://registry-1.docker.io`` or a mirror's base URL."""

    base_url: str
    tls_verify: bool
    mirror: bool
    #: ``host[:port]`` of ``base_url``: the directory name in certs_dir and the credentials' key
    host: str

    @property
    def secure(self) -> bool:
        """Whether the endpoint speaks https."""
        return self.base_url.startswith("https://")


def domain_of_server_address(address: str) -> str:
    """A registry domain from a login server address (``https://index.docker.io/v1/`` -> ``docker.io``)."""
    address = address.strip()
    if "://" in address:
        address = urlsplit(address).netloc
    address = address.split("/")[0]
    if not address or address in _DOCKER_HUB_ALIASES:
        return DEFAULT_DOMAIN
    return address


def registry_host(domain: str) -> str:
    """The host[:port] serving ``domain``'s API: Docker Hub's is ``registry-1.docker.io``."""
    return DOCKER_HUB_REGISTRY if domain in _DOCKER_HUB_ALIASES else domain


def _mirror_endpoint(settings: RegistrySettings, url: str) -> Endpoint:
    parts = urlsplit(url.rstrip("/"))
    host = parts.netloc
    secure = parts.scheme == "https"
    return Endpoint(url.rstrip("/"), tls_verify=secure and not settings.is_insecure(host), mirror=True, host=host)


def push_endpoints(settings: RegistrySettings, domain: str) -> list[Endpoint]:
    """The registry's own endpoints, best first: https, then (insecure registries only) plain http."""
    host = registry_host(domain)
    if settings.is_insecure(host):
        return [Endpoint(f"https://{host}", tls_verify=False, mirror=False, host=host),
                Endpoint(f"http://{host}", tls_verify=False, mirror=False, host=host)]
    return [Endpoint(f"https://{host}", tls_verify=True, mirror=False, host=host)]


def pull_endpoints(settings: RegistrySettings, domain: str) -> list[Endpoint]:
    """The mirrors configured for ``domain`` in order, then the registry's own endpoints."""
    mirrors = settings.mirrors.get(domain, [])
    if not mirrors and domain in _DOCKER_HUB_ALIASES:
        mirrors = next((settings.mirrors[alias] for alias in _DOCKER_HUB_ALIASES if alias in settings.mirrors), [])
    return [_mirror_endpoint(settings, url) for url in mirrors] + push_endpoints(settings, domain)


_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()
_CONTEXTS_MAX = 64


def _directory_signature(directory: str) -> tuple[tuple[str, int, int], ...]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        return tuple((entry.name, entry.stat().st_mtime_ns, entry.stat().st_size) for entry in entries)
    except OSError:
        return ()


def tls_context(settings: RegistrySettings, host: str, verify: bool = True) -> ssl.SSLContext:
    """The TLS settings for ``host``: the system CAs plus ``certs_dir/HOST/*.crt``, a client pair from
    ``*.cert`` + ``*.key`` (as ``/etc/docker/certs.d`` works); ``verify=False`` accepts any server certificate.

    Contexts are cached (loading the system CAs takes ~20 ms) until the directory's files change. A client
    certificate without its key (or the reverse) or an unreadable file is :class:`InvalidParameter`.
    """
    directory = os.path.join(settings.certs_dir, host)
    key = (directory, verify, _directory_signature(directory))
    with _CONTEXTS_LOCK:
        cached = _CONTEXTS.get(key)
    if cached is not None:
        return cached
    context = _build_context(directory, verify)
    with _CONTEXTS_LOCK:
        if len(_CONTEXTS) >= _CONTEXTS_MAX:
            _CONTEXTS.clear()
        _CONTEXTS[key] = context
    return context


def _build_context(directory: str, verify: bool) -> ssl.SSLContext:
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if not os.path.isdir(directory):
        return context
    try:
        for ca_file in sorted(glob.glob(os.path.join(directory, "*.crt"))):
            context.load_verify_locations(cafile=ca_file)
        for cert_file in sorted(glob.glob(os.path.join(directory, "*.cert"))):
            key_file = cert_file[: -len(".cert")] + ".key"
            if not os.path.exists(key_file):
                raise InvalidParameter(f"missing key {os.path.basename(key_file)} for client certificate "
                                       f"{os.path.basename(cert_file)}")
            context.load_cert_chain(cert_file, key_file)
        for key_file in sorted(glob.glob(os.path.join(directory, "*.key"))):
            cert_file = key_file[: -len(".key")] + ".cert"
            if not os.path.exists(cert_file):
                raise InvalidParameter(f"missing client certificate {os.path.basename(cert_file)} for key "
                                       f"{os.path.basename(key_file)}")
    except (ssl.SSLError, OSError) as err:
        raise InvalidParameter(f"unable to load certificates from {directory}: {err}") from None
    return context
