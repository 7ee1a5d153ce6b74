"""``moor-web-ui serve`` and ``passwd`` as processes: refusals are one line with exit code 2; HTTPS works."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UI = [sys.executable, "-m", "moor_web_ui"]
PASSWORD = "cli-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ui(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UI, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


def passwd(data_dir: Path, user: str = "admin", password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return ui("passwd", user, "--data-dir", str(data_dir), stdin=password + "\n")


def test_passwd_creates_and_resets_with_a_memory_hard_hash(tmp_path: Path) -> None:
    made = passwd(tmp_path)
    assert made.returncode == 0, made.stderr
    first = json.loads((tmp_path / "accounts.json").read_text())["accounts"]["admin"]["hash"]
    assert first.startswith("$argon2id$")
    assert passwd(tmp_path, password="another-one").returncode == 0
    second = json.loads((tmp_path / "accounts.json").read_text())["accounts"]["admin"]["hash"]
    assert second != first


@pytest.mark.parametrize(("user", "password", "message"), [
    ("admin", "short", "at least 8 characters"),
    ("bad user!", PASSWORD, "invalid user name"),
])
def test_passwd_refusals_are_one_line(tmp_path: Path, user: str, password: str, message: str) -> None:
    result = passwd(tmp_path, user, password)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "accounts.json").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "0.0.0.0:{port}"], "refusing to listen on 0.0.0.0:{port}, which is not a loopback address, "
                                     "without TLS (--tls-cert and --tls-key) and an administrator account"),
    (["--listen", "nowhere"], "invalid listen address 'nowhere'"),
    (["--listen", "127.0.0.1:{port}", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"],
     "cannot load the TLS certificate /nonexistent.pem"),
    (["--listen", "127.0.0.1:{port}", "--tls-cert", "/nonexistent.pem"], "TLS needs both a certificate and a key"),
    (["--host", "tcp://1.2.3.4:2375"], "invalid moord host"),
])
def test_serve_refusals_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    port = free_port()
    result = ui("serve", "--data-dir", str(tmp_path), *[a.format(port=port) for a in args], timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"moor-web-ui: {message.format(port=port)}")
    assert result.stderr.count("\n") == 1


def test_a_non_loopback_address_with_tls_still_needs_an_account(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    result = ui("serve", "--data-dir", str(tmp_path), "--listen", f"0.0.0.0:{free_port()}",
                "--tls-cert", str(cert), "--tls-key", str(key), timeout=30)
    assert result.returncode == 2
    assert "without an administrator account" in result.stderr


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moor web ui test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "ui.crt", tmp_path / "ui.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_serve_over_https_with_a_certificate_file(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    assert passwd(tmp_path / "data").returncode == 0
    port = free_port()
    process = subprocess.Popen([*UI, "serve", "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}",
                                "--host", f"unix://{tmp_path}/moord.sock", "--tls-cert", str(cert),
                                "--tls-key", str(key)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{port}/api/session", context=trusted, timeout=5)
            except urllib.error.HTTPError as err:
                assert err.code == 401
                assert err.headers["Strict-Transport-Security"].startswith("max-age=")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        login = urllib.request.Request(f"https://127.0.0.1:{port}/api/login", method="POST",
                                       data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, context=trusted, timeout=30) as reply:
            assert reply.status == 200
            assert "Secure" in reply.headers["Set-Cookie"]
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):  # no plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/session", timeout=5)
    finally:
        process.terminate()
        process.wait(20)


def test_a_busy_port_is_exit_1_so_that_moord_tries_again(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = ui("serve", "--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}", timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
