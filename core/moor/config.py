"""The daemon's configuration: ``/etc/moor/moor.toml``, every key optional.

The file has ``version = 1``, three top-level paths and one table per driver
kind. A kind's table names the driver to use (``driver``), the drivers to load
beside it (``drivers``, for kinds where several serve at once) and holds one
sub-table per driver with that driver's options, which the driver validates::

    version = 1
    data_root = "/var/lib/moor"
    [log]
    driver = "json-file"
    [log.json-file]
    max-size = "10m"

Unknown keys and wrong types are :class:`moor.errors.ConfigError` naming the
key (``log.drivr``). Command-line flags override the file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field

from moor.errors import ConfigError
from moor.registry.settings import RegistrySettings, validate_insecure_entry, validate_mirror

DEFAULT_CONFIG_FILE = "/etc/moor/moor.toml"
DEFAULT_DATA_ROOT = "/var/lib/moor"
DEFAULT_EXEC_ROOT = "/run/moor"
DEFAULT_HOST = "unix:///run/moor/moor.sock"
DRIVER_KINDS = ("storage", "network", "volume", "log")

#: kind -> (default driver, drivers loaded by default)
DEFAULT_DRIVERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "storage": ("overlay", ("overlay",)),
    "network": ("bridge", ("bridge", "host", "none")),
    "volume": ("local", ("local",)),
    "log": ("json-file", ("json-file", "none")),
}


@dataclass
class DriverKindConfig:
    """One ``[storage]`` / ``[network]`` / ``[volume]`` / ``[log]`` table."""

    driver: str
    drivers: list[str]
    options: dict[str, dict[str, object]] = field(default_factory=dict)

    def enabled(self) -> list[str]:
        """The drivers to load: the chosen one first, then the others, once each."""
        names = [self.driver] + [n for n in self.drivers if n != self.driver]
        return list(dict.fromkeys(names))


@dataclass
class RuntimeConfig:
    """The ``[runtime]`` table: which OCI runtime binary runs containers."""

    name: str = "runc"
    path: str = "runc"


@dataclass
class WebUIConfig:
    """The ``[web_ui]`` table: the web interface (the ``moor-web-ui`` plugin) that moord starts and supervises.

    The plugin checks ``listen`` and the TLS files itself (and refuses a non-loopback address without TLS and an
    administrator account); ``data_dir`` empty means ``<data_root>/web-ui``.
    """

    enabled: bool = False
    listen: str = "127.0.0.1:9180"
    tls_cert: str = ""
    tls_key: str = ""
    data_dir: str = ""

    def options(self, data_root: str) -> dict[str, str]:
        """The options handed to the frontend's entry point (``moor.frontends``)."""
        return {"listen": self.listen, "tls_cert": self.tls_cert, "tls_key": self.tls_key,
                "data_dir": self.data_dir or os.path.join(data_root, "web-ui")}


@dataclass
class Config:
    """The whole configuration after defaults, file and flags are merged."""

    data_root: str = DEFAULT_DATA_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    debug: bool = False
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    drivers: dict[str, DriverKindConfig] = field(default_factory=dict)
    #: ``[network] dns_upstreams``: where the embedded DNS server forwards (None: the host's resolv.conf)
    dns_upstreams: list[str] | None = None
    #: ``[registry]``: mirrors, insecure registries, download/upload concurrency, certificates
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    #: ``[web_ui]``: the web interface moord starts when enabled
    web_ui: WebUIConfig = field(default_factory=WebUIConfig)
    source: str = ""

    def __post_init__(self) -> None:
        for kind in DRIVER_KINDS:
            if kind not in self.drivers:
                default, loaded = DEFAULT_DRIVERS[kind]
                self.drivers[kind] = DriverKindConfig(driver=default, drivers=list(loaded))


def _expect(value: object, kind: type | tuple[type, ...], key: str, what: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"invalid config: {key} must be {what}, not {type(value).__name__} {value!r}")


def _string_list(value: object, key: str) -> list[str]:
    _expect(value, list, key, "a list of strings")
    assert isinstance(value, list)
    for item in value:
        _expect(item, str, key, "a list of strings")
    return list(value)


def _parse_kind(kind: str, table: object) -> DriverKindConfig:
    _expect(table, dict, kind, "a table")
    assert isinstance(table, dict)
    default, loaded = DEFAULT_DRIVERS[kind]
    result = DriverKindConfig(driver=default, drivers=list(loaded))
    for key, value in table.items():
        dotted = f"{kind}.{key}"
        if key == "driver":
            _expect(value, str, dotted, "a string")
            if not value:
                raise ConfigError(f"invalid config: {dotted} must not be empty")
            result.driver = value
        elif key == "drivers":
            result.drivers = _string_list(value, dotted)
        elif isinstance(value, dict):
            result.options[key] = dict(value)
        else:
            raise ConfigError(
                f"invalid config: unknown key {dotted!r} (a {kind} table holds 'driver', "
                f"'drivers' and one sub-table of options per driver)"
            )
    return result


def _parse_runtime(table: object) -> RuntimeConfig:
    _expect(table, dict, "runtime", "a table")
    assert isinstance(table, dict)
    runtime = RuntimeConfig()
    for key, value in table.items():
        if key not in ("name", "path"):
            raise ConfigError(f"invalid config: unknown key 'runtime.{key}'")
        _expect(value, str, f"runtime.{key}", "a string")
        setattr(runtime, key, value)
    return runtime


def dns_upstream(text: str) -> tuple[str, int]:
    """``"192.0.2.1"``, ``"127.0.0.1:5353"``, ``"[::1]:53"`` or ``"::1"`` -> (address, port)."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(text)
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    ipaddress.ip_address(host)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host, int(port)


def _parse_dns_upstreams(value: object) -> list[str]:
    key = "network.dns_upstreams"
    servers = _string_list(value, key)
    for server in servers:
        try:
            dns_upstream(server)
        except ValueError:
            raise ConfigError(f"invalid config: {key}: {server!r} is not an IP address with an optional port") \
                from None
    return servers


def _parse_mirrors(value: object) -> dict[str, list[str]]:
    key = "registry.mirrors"
    if isinstance(value, list):
        table: dict[str, object] = {"docker.io": value}
    else:
        _expect(value, dict, key, "a list of URLs (docker.io's mirrors) or a table of registry = [URLs]")
        assert isinstance(value, dict)
        table = value
    mirrors: dict[str, list[str]] = {}
    for domain, urls in table.items():
        if not domain or "/" in domain or "://" in domain:
            raise ConfigError(f"invalid config: {key}: {domain!r} is not a registry domain (host[:port])")
        checked = _string_list(urls, key)
        for url in checked:
            try:
                validate_mirror(url)
            except ValueError as err:
                raise ConfigError(f"invalid config: {key}: {err}") from None
        mirrors[domain] = [url.rstrip("/") for url in checked]
    return mirrors


def _positive(value: object, key: str) -> int:
    _expect(value, int, key, "an integer")
    assert isinstance(value, int)
    if value < 1:
        raise ConfigError(f"invalid config: {key} must be at least 1, not {value}")
    return value


def _parse_registry(table: object) -> RegistrySettings:
    _expect(table, dict, "registry", "a table")
    assert isinstance(table, dict)
    defaults = RegistrySettings()
    mirrors, insecure = defaults.mirrors, defaults.insecure_registries
    downloads, uploads = defaults.max_concurrent_downloads, defaults.max_concurrent_uploads
    certs_dir = defaults.certs_dir
    for key, value in table.items():
        dotted = f"registry.{key}"
        if key == "mirrors":
            mirrors = _parse_mirrors(value)
        elif key == "insecure_registries":
            insecure = _string_list(value, dotted)
            for entry in insecure:
                try:
                    validate_insecure_entry(entry)
                except ValueError as err:
                    raise ConfigError(f"invalid config: {dotted}: {err}") from None
        elif key == "max_concurrent_downloads":
            downloads = _positive(value, dotted)
        elif key == "max_concurrent_uploads":
            uploads = _positive(value, dotted)
        elif key == "certs_dir":
            _expect(value, str, dotted, "a string")
            assert isinstance(value, str)
            if not os.path.isabs(value):
                raise ConfigError(f"invalid config: {dotted} must be an absolute path, not {value!r}")
            certs_dir = value
        else:
            raise ConfigError(f"invalid config: unknown key {dotted!r}")
    return RegistrySettings(mirrors=mirrors, insecure_registries=insecure, max_concurrent_downloads=downloads,
                            max_concurrent_uploads=uploads, certs_dir=certs_dir)


def _parse_web_ui(table: object) -> WebUIConfig:
    _expect(table, dict, "web_ui", "a table")
    assert isinstance(table, dict)
    web_ui = WebUIConfig()
    for key, value in table.items():
        dotted = f"web_ui.{key}"
        if key == "enabled":
            _expect(value, bool, dotted, "a boolean")
            web_ui.enabled = bool(value)
        elif key in ("listen", "tls_cert", "tls_key", "data_dir"):
            _expect(value, str, dotted, "a string")
            assert isinstance(value, str)
            if key != "listen" and value and not os.path.isabs(value):
                raise ConfigError(f"invalid config: {dotted} must be an absolute path, not {value!r}")
            if key == "listen" and (":" not in value or not value.rsplit(":", 1)[1].isdigit()):
                raise ConfigError(f"invalid config: {dotted} must be HOST:PORT, not {value!r}")
            setattr(web_ui, key, value)
        else:
            raise ConfigError(f"invalid config: unknown key {dotted!r}")
    if bool(web_ui.tls_cert) != bool(web_ui.tls_key):
        raise ConfigError("invalid config: web_ui.tls_cert and web_ui.tls_key go together")
    return web_ui


def parse(data: dict[str, object], source: str = "") -> Config:
    """Build a :class:`Config` from a parsed TOML document."""
    config = Config(source=source)
    version = data.get("version", 1)
    _expect(version, int, "version", "an integer")
    if version != 1:
        raise ConfigError(f"invalid config: unsupported version {version} (this moor reads version 1)")
    for key, value in data.items():
        if key == "version":
            continue
        if key in ("data_root", "exec_root"):
            _expect(value, str, key, "a string")
            assert isinstance(value, str)
            if not os.path.isabs(value):
                raise ConfigError(f"invalid config: {key} must be an absolute path, not {value!r}")
            setattr(config, key, value)
        elif key == "hosts":
            config.hosts = _string_list(value, key)
        elif key == "debug":
            _expect(value, bool, key, "a boolean")
            config.debug = bool(value)
        elif key == "runtime":
            config.runtime = _parse_runtime(value)
        elif key == "registry":
            config.registry = _parse_registry(value)
        elif key == "web_ui":
            config.web_ui = _parse_web_ui(value)
        elif key == "network" and isinstance(value, dict) and "dns_upstreams" in value:
            config.dns_upstreams = _parse_dns_upstreams(value["dns_upstreams"])
            config.drivers[key] = _parse_kind(key, {k: v for k, v in value.items() if k != "dns_upstreams"})
        elif key in DRIVER_KINDS:
            config.drivers[key] = _parse_kind(key, value)
        else:
            raise ConfigError(f"invalid config: unknown key {key!r}")
    return config


def load(path: str | None) -> Config:
    """Read the config file at ``path`` (the default path may be absent; an explicit one may not)."""
    explicit = path is not None
    path = path or DEFAULT_CONFIG_FILE
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"unable to read config file {path}: no such file") from None
        return Config()
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid config file {path}: {err}") from None
    except OSError as err:
        raise ConfigError(f"unable to read config file {path}: {err.strerror}") from None
    return parse(data, source=path)


DEFAULT_FILE_TEXT = f"""\
# moor daemon configuration ({DEFAULT_CONFIG_FILE}).
# Every key is optional; the values below are the defaults.
# Command-line flags of moord (--data-root, --exec-root, -H) override this file.
version = 1

# Where images, containers and volumes are kept.
data_root = "{DEFAULT_DATA_ROOT}"
# Where run-time state (sockets, pid files, bundles) is kept.
exec_root = "{DEFAULT_EXEC_ROOT}"
# Addresses moord listens on.
hosts = ["{DEFAULT_HOST}"]
# Log at debug level.
debug = false

[runtime]
# The OCI runtime: its name (shown in `moor info`) and binary.
name = "runc"
path = "runc"

[storage]
# The storage driver (entry point in moor.storage_drivers).
driver = "overlay"
# Options for a driver go in a sub-table named after it:
# [storage.overlay]

[network]
# The driver of networks created without --driver (moor.network_drivers).
driver = "bridge"
# The network drivers to load.
drivers = ["bridge", "host", "none"]
# Where the embedded DNS server (127.0.0.11 in containers on user-defined networks)
# forwards the names that are not containers': "address" or "address:port" entries.
# It forwards from inside the container, as Docker: 127.0.0.1 is the container's own
# loopback, and a container on an --internal network reaches no server.
# Unset, it uses the host's /etc/resolv.conf nameservers (none: 8.8.8.8 and 8.8.4.4),
# asking loopback ones such as 127.0.0.53 from the host as Docker does (not for a
# container on --internal networks only); a container's --dns wins; an empty list
# forwards nothing.
# dns_upstreams = ["192.0.2.53", "192.0.2.54:5353"]

[volume]
# The driver of volumes created without --driver (moor.volume_drivers).
driver = "local"
drivers = ["local"]

[log]
# The log driver of containers run without --log-driver (moor.log_drivers).
driver = "json-file"
drivers = ["json-file", "none"]
# Default --log-opt values of a driver:
# [log.json-file]
# max-size = "-1"
# max-file = "1"

[registry]
# Mirrors tried in order before the registry itself when pulling. A list mirrors docker.io
# (as Docker's registry-mirrors); a table mirrors any registry:
# mirrors = ["https://mirror.example.com"]
# [registry.mirrors]
# "docker.io" = ["https://mirror.example.com"]
# "quay.io" = ["http://127.0.0.1:5001"]
# Registries reached over https without verifying their certificate, then over plain http:
# "host[:port]" names or CIDRs. 127.0.0.0/8 is always insecure, as with Docker.
insecure_registries = []
# How many layers a pull downloads, and a push uploads, at once.
max_concurrent_downloads = 3
max_concurrent_uploads = 5
# Per-registry certificates, as /etc/docker/certs.d: HOST[:PORT]/*.crt are CAs,
# *.cert with its *.key a client certificate.
certs_dir = "/etc/moor/certs.d"

[web_ui]
# The web interface (the moor-web-ui plugin), started and supervised by moord when enabled.
# Make its administrator first: `moor-web-ui passwd admin --data-dir DIR` (or on the first visit).
enabled = false
# Where it listens. An address other than loopback needs tls_cert, tls_key and an administrator.
listen = "127.0.0.1:9180"
# HTTPS: a PEM certificate and its key.
# tls_cert = "/etc/moor/web-ui.crt"
# tls_key = "/etc/moor/web-ui.key"
# Accounts and stacks (default: <data_root>/web-ui).
# data_dir = "/var/lib/moor/web-ui"
"""
