"""The /etc/hostname, /etc/hosts and /etc/resolv.conf the engine writes for each container.

What goes into them is checked first (:func:`check_network_files`, when the container is made):
a hostname, an ``--add-host`` entry or a DNS server with a newline or a space in it would add lines
to these files, so each must be what Docker's CLI or daemon accepts (an IP address is an IP address).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from typing import Any

from moor.errors import InvalidParameter
from moor.fsutil import atomic_write

DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
EMBEDDED_NAMESERVER = "127.0.0.11"
#: ``--add-host name:host-gateway`` names the host's address on the default bridge (Docker 20.10).
HOST_GATEWAY = "host-gateway"
#: RFC 1123 labels (underscores allowed, as many compose projects use them), dot-separated.
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*\.?")
_HOST_NAME_MAX = 63
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f#]")


def _quoted(text: str) -> str:
    """``text`` as Go's ``%q`` shows it (control characters escaped)."""
    return json.dumps(text, ensure_ascii=False)


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address as Go's ``net.ParseIP`` reads one (no ``%zone``: Python takes
    any text after ``%``, newlines included)."""
    if "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_hostname(hostname: str) -> None:
    """A container's hostname: RFC 1123 labels, at most 63 bytes (Docker's ``invalid hostname format``)."""
    if hostname and (len(hostname.encode()) > _HOST_NAME_MAX or not _HOSTNAME.fullmatch(hostname)):
        raise InvalidParameter(f"invalid hostname format: {hostname}")


def check_domainname(domainname: str) -> None:
    """A container's domain name: labels as in a hostname, at most 255 bytes."""
    if domainname and (len(domainname.encode()) > 255 or not _DOMAIN.fullmatch(domainname)):
        raise InvalidParameter(f"invalid domainname format: {domainname}")


def extra_host_line(entry: str) -> str:
    """``--add-host name:ip`` (``ip`` may be ``host-gateway``) -> its /etc/hosts line, in Docker's words when
    refused: ``bad format for add-host: "x"``, ``invalid IP address in add-host: "x"``."""
    name, sep, address = entry.partition(":")
    if not sep or not name or _UNSAFE.search(name):
        raise InvalidParameter(f"bad format for add-host: {_quoted(entry)}")
    if address != HOST_GATEWAY and not is_ip(address):
        raise InvalidParameter(f"invalid IP address in add-host: {_quoted(address)}")
    return f"{address}\t{name}"


def check_dns(servers: list[str], search: list[str], options: list[str]) -> None:
    """``--dns`` (IP addresses), ``--dns-search`` (domains) and ``--dns-option`` (one word each), as Docker's CLI
    checks them: nothing that could add a line to resolv.conf."""
    for server in servers:
        if not is_ip(server):
            raise InvalidParameter(f"{server} is not an ip address")
    for domain in search:
        if domain != "." and (len(domain) > 255 or not _DOMAIN.fullmatch(domain)):
            raise InvalidParameter(f"{domain} is not a valid domain")
    for option in options:
        if not option or _UNSAFE.search(option):
            raise InvalidParameter(f"invalid DNS option: {_quoted(option)}")


def check_network_files(config: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Refuse a create request whose hostname, domain name, extra hosts or DNS settings are not what Docker takes.

    ``config`` and ``host_config`` are the request's, already checked for their JSON types."""
    check_hostname(config.get("Hostname") or "")
    check_domainname(config.get("Domainname") or "")
    for entry in host_config.get("ExtraHosts") or []:
        extra_host_line(entry)
    check_dns(list(host_config.get("Dns") or []), list(host_config.get("DnsSearch") or []),
              list(host_config.get("DnsOptions") or []))


def _lines(path: str) -> list[str]:
    """The lines of a host file (resolv.conf); none when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def hosts_text(hostname: str, address: str = "", extra: list[str] | None = None, domainname: str = "") -> str:
    """Docker's /etc/hosts: loopback and IPv6 names, ``extra`` lines, then the container's own
    ``address`` under ``hostname.domainname hostname`` (just ``hostname`` without a domain name)."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    lines += list(extra or [])
    if address:
        lines.append(f"{address}\t{hostname}.{domainname} {hostname}" if domainname else f"{address}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf_text(host_file: str = "/etc/resolv.conf", host_network: bool = False,
                     dns: list[str] | None = None, search: list[str] | None = None,
                     options: list[str] | None = None) -> str:
    """The container's resolv.conf, as Docker writes it.

    ``--dns``, ``--dns-search`` and ``--dns-option`` replace the host's lines of their kind;
    without them it is the host's file, minus loopback nameservers unless the network is the host's.
    """
    if dns or search or options:  # Docker rebuilds the file: search, nameservers, options (the host's when not given)
        words = [line.split() for line in resolv_conf_text(host_file, host_network).splitlines()]
        dns = dns or [w[1] for w in words if len(w) > 1 and w[0] == "nameserver"]
        search = search or next((w[1:] for w in reversed(words) if w[:1] == ["search"]), [])
        options = options or next((w[1:] for w in reversed(words) if w[:1] == ["options"]), [])
        lines = ["search " + " ".join(search)] if search and search != ["."] else []
        lines += [f"nameserver {server}" for server in dns]
        if options:
            lines.append("options " + " ".join(options))
        return "\n".join(lines) + "\n"
    lines = _lines(host_file)
    if host_network:
        return "\n".join(lines) + "\n"
    kept = [line for line in lines
            if not (line.split()[:1] == ["nameserver"] and len(line.split()) > 1
                    and (line.split()[1].startswith("127.") or line.split()[1] == "::1"))]
    if not any(line.startswith("nameserver") for line in kept):
        kept += [f"nameserver {server}" for server in DEFAULT_NAMESERVERS]
    return "\n".join(kept) + "\n"


def embedded_resolv_conf_text(host_file: str = "/etc/resolv.conf", search: list[str] | None = None,
                              options: list[str] | None = None) -> str:
    """The resolv.conf of a container on a user-defined network: the embedded DNS server at 127.0.0.11.

    As Docker writes it: the search domains and options given (else the host's), and ``ndots:0``
    unless an ``ndots`` option is set; the servers are the embedded one's upstreams, not listed here.
    """
    if not search or not options:
        host_lines = [line.split() for line in _lines(host_file)]
        if not search:
            search = next((words[1:] for words in reversed(host_lines)
                           if words[:1] in (["search"], ["domain"])), [])
        if not options:
            options = [word for words in host_lines if words[:1] == ["options"] for word in words[1:]]
    if not any(option.startswith("ndots:") for option in options):
        options = [*options, "ndots:0"]
    lines = []
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    lines.append(f"nameserver {EMBEDDED_NAMESERVER}")
    lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def host_nameservers(host_file: str = "/etc/resolv.conf") -> list[str]:
    """The nameservers of the host's resolv.conf, loopback ones included, in order."""
    words = [line.split() for line in _lines(host_file)]
    return [w[1] for w in words if len(w) > 1 and w[0] == "nameserver"]


def write_etc_files(directory: str, hostname: str, host_network: bool,
                    extra_hosts: list[str] | None = None, dns: dict[str, list[str]] | None = None,
                    embedded_dns: bool = False) -> dict[str, str]:
    """Write the three files into the container's directory; return destination -> host path.

    With ``embedded_dns`` (a user-defined network), resolv.conf points at the embedded DNS server.
    """
    hosts = _host_hosts() + "".join(f"{line}\n" for line in extra_hosts or []) if host_network \
        else hosts_text(hostname, extra=extra_hosts)
    files = {
        "/etc/hostname": (os.path.join(directory, "hostname"), hostname + "\n"),
        "/etc/hosts": (os.path.join(directory, "hosts"), hosts),
        "/etc/resolv.conf": (os.path.join(directory, "resolv.conf"), embedded_resolv_conf_text(
            search=(dns or {}).get("DnsSearch"), options=(dns or {}).get("DnsOptions")) if embedded_dns
            else resolv_conf_text(host_network=host_network, dns=(dns or {}).get("Dns"),
                                  search=(dns or {}).get("DnsSearch"), options=(dns or {}).get("DnsOptions"))),
    }
    for path, text in files.values():  # made again at each start: no fsync (see moor.fsutil.atomic_write)
        atomic_write(path, text.encode(), durable=False)
    return {destination: path for destination, (path, _) in files.items()}


def _host_hosts() -> str:
    try:
        with open("/etc/hosts") as handle:
            return handle.read()
    except OSError:
        return hosts_text("localhost")


def rewrite_in_place(path: str, text: str) -> None:
    """Replace a file's content without replacing the file: it is bind-mounted into a container."""
    with open(path, "r+b") as handle:
        handle.write(text.encode())
        handle.truncate()
