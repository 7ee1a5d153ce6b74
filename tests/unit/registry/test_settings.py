"""``[registry]`` in moor.toml, insecure registries and endpoint choice."""

from __future__ import annotations

import ssl
import subprocess
import tomllib
from pathlib import Path

import pytest

from moor import config
from moor.errors import ConfigError, InvalidParameter
from moor.registry.endpoints import (
    Endpoint,
    domain_of_server_address,
    pull_endpoints,
    push_endpoints,
    tls_context,
)
from moor.registry.settings import RegistrySettings


def test_defaults_and_default_file() -> None:
    parsed = config.parse({})
    assert parsed.registry == RegistrySettings()
    assert parsed.registry.max_concurrent_downloads == 3
    assert parsed.registry.max_concurrent_uploads == 5
    assert parsed.registry.certs_dir == "/etc/moor/certs.d"
    assert config.parse(tomllib.loads(config.DEFAULT_FILE_TEXT)).registry == RegistrySettings()
    assert "[registry]" in config.DEFAULT_FILE_TEXT


def test_mirrors_as_list_and_as_table() -> None:
    listed = config.parse(tomllib.loads('[registry]\nmirrors = ["http://127.0.0.1:5001/"]\n')).registry
    assert listed.mirrors == {"docker.io": ["http://127.0.0.1:5001"]}
    table = config.parse(tomllib.loads(
        '[registry]\nmax_concurrent_downloads = 6\ninsecure_registries = ["10.0.0.0/8", "reg:5000"]\n'
        '[registry.mirrors]\n"docker.io" = ["https://m.example"]\n"quay.io" = ["http://127.0.0.1:5002"]\n'
    )).registry
    assert table.mirrors == {"docker.io": ["https://m.example"], "quay.io": ["http://127.0.0.1:5002"]}
    assert table.max_concurrent_downloads == 6
    assert table.insecure_registries == ["10.0.0.0/8", "reg:5000"]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"registry": "x"}, "registry must be a table"),
        ({"registry": {"mirror": []}}, "'registry.mirror'"),
        ({"registry": {"mirrors": "http://x"}}, "registry.mirrors must be a list"),
        ({"registry": {"mirrors": ["ftp://x"]}}, 'invalid mirror: unsupported scheme "ftp" in "ftp://x"'),
        ({"registry": {"mirrors": ["https://u:p@m.example"]}}, "username/password not allowed"),
        ({"registry": {"mirrors": ["https://m.example/?q"]}}, "no query or fragment"),
        ({"registry": {"mirrors": ["https:///path"]}}, "needs a host"),
        ({"registry": {"mirrors": {"docker.io": "http://x"}}}, "registry.mirrors must be a list"),
        ({"registry": {"mirrors": {"http://docker.io": ["http://x"]}}}, "is not a registry domain"),
        ({"registry": {"insecure_registries": ["http://reg:5000"]}}, "must be a host[:port] or a CIDR"),
        ({"registry": {"max_concurrent_downloads": 0}}, "must be at least 1"),
        ({"registry": {"max_concurrent_uploads": True}}, "must be an integer"),
        ({"registry": {"certs_dir": "certs"}}, "must be an absolute path"),
    ],
)
def test_bad_registry_config_names_the_key(document: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(document)
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("host", "insecure"),
    [
        ("127.0.0.1:5000", True),
        ("127.5.5.5", True),
        ("localhost:5000", True),
        ("10.1.2.3:5000", True),
        ("10.1.2.3", True),
        ("reg:5000", True),
        ("reg", True),
        ("reg:5001", False),
        ("192.168.1.1:443", False),
        ("registry-1.docker.io", False),
        ("[::1]:5000", False),
    ],
)
def test_insecure_registries(host: str, insecure: bool) -> None:
    settings = RegistrySettings(insecure_registries=["10.0.0.0/8", "reg:5000", "reg"])
    if host == "reg:5001":
        settings = RegistrySettings(insecure_registries=["reg:5000"])
    assert settings.is_insecure(host) is insecure


def test_pull_endpoints_mirrors_first_then_https_then_http() -> None:
    settings = RegistrySettings(mirrors={"docker.io": ["http://127.0.0.1:5001", "https://m.example/path"]})
    assert pull_endpoints(settings, "docker.io") == [
        Endpoint("http://127.0.0.1:5001", False, True, "127.0.0.1:5001"),
        Endpoint("https://m.example/path", True, True, "m.example"),
        Endpoint("https://registry-1.docker.io", True, False, "registry-1.docker.io"),
    ]
    assert push_endpoints(settings, "docker.io") == [
        Endpoint("https://registry-1.docker.io", True, False, "registry-1.docker.io")]
    assert pull_endpoints(settings, "127.0.0.1:5000") == [
        Endpoint("https://127.0.0.1:5000", False, False, "127.0.0.1:5000"),
        Endpoint("http://127.0.0.1:5000", False, False, "127.0.0.1:5000"),
    ]
    assert pull_endpoints(RegistrySettings(), "quay.io") == [Endpoint("https://quay.io", True, False, "quay.io")]


def test_server_address_to_domain() -> None:
    assert domain_of_server_address("https://index.docker.io/v1/") == "docker.io"
    assert domain_of_server_address("") == "docker.io"
    assert domain_of_server_address("http://127.0.0.1:5000") == "127.0.0.1:5000"
    assert domain_of_server_address("127.0.0.1:5000/v2/") == "127.0.0.1:5000"


def _selfsigned(directory: Path, name: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", str(directory / f"{name}.key"), "-out", str(directory / f"{name}.crt")],
                   check=True, capture_output=True)


def test_tls_context_reads_certs_dir(tmp_path: Path) -> None:
    host_dir = tmp_path / "reg.example:5000"
    host_dir.mkdir()
    _selfsigned(host_dir, "ca")
    (host_dir / "ca.key").unlink()
    context = tls_context(RegistrySettings(certs_dir=str(tmp_path)), "reg.example:5000")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert any(cert.get("subject") == ((("commonName", "t"),),) for cert in context.get_ca_certs())
    _selfsigned(host_dir, "client")
    (host_dir / "client.crt").rename(host_dir / "client.cert")
    tls_context(RegistrySettings(certs_dir=str(tmp_path)), "reg.example:5000")
    (host_dir / "client.key").unlink()
    with pytest.raises(InvalidParameter, match="missing key client.key for client certificate client.cert"):
        tls_context(RegistrySettings(certs_dir=str(tmp_path)), "reg.example:5000")
    unverified = tls_context(RegistrySettings(certs_dir=str(tmp_path / "none")), "x", verify=False)
    assert unverified.verify_mode == ssl.CERT_NONE
