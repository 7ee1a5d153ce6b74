"""Netlink work through pyroute2: bridges, veth pairs, addresses and routes.

Work inside a container's network namespace runs in a short-lived thread that
joins the namespace with ``setns(2)`` (which changes only the calling thread)
and opens its own netlink socket there: no fork in a threaded daemon, and the
caller's namespace is never touched.

Every function translates ``NetlinkError`` and ``OSError`` into
:mod:`moor.errors` (see :func:`netlink_errors`).
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from moor import tracing
from moor.errors import Conflict, MoorError, NotFound, Unavailable

CLONE_NEWNET = 0x40000000
MAIN_TABLE = 254
#: an address used at once, without duplicate address detection (as Docker adds its IPv6 addresses)
IFA_F_NODAD = 0x02
T = TypeVar("T")


@contextmanager
def netlink_errors(what: str) -> Iterator[None]:
    """Translate pyroute2 and OS errors raised by the block into moor errors about ``what``."""
    try:
        yield
    except MoorError:
        raise
    except NetlinkError as err:
        raise _translate(err.code, what, str(err)) from None
    except OSError as err:
        raise _translate(err.errno or 0, what, err.strerror or str(err)) from None


#: the most ports a Linux bridge takes (the kernel's BR_MAX_PORTS): the 1025th gets EXFULL
BRIDGE_MAX_PORTS = 1024


def _translate(code: int, what: str, detail: str) -> MoorError:
    reason = os.strerror(code) if code else detail
    message = f"{what}: {reason}"
    if code == errno.EXFULL:
        return Unavailable(f"{what}: the bridge has {BRIDGE_MAX_PORTS} ports, the most a Linux bridge takes; "
                           f"connect further containers to another network")
    if code == errno.EEXIST:
        return Conflict(message)
    if code in (errno.ENOENT, errno.ENODEV, errno.ESRCH):
        return NotFound(message)
    return MoorError(message)


def random_mac() -> str:
    """A locally administered unicast MAC in Docker's ``02:42`` range."""
    return "02:42:" + ":".join(f"{byte:02x}" for byte in secrets.token_bytes(4))


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def in_namespace(netns_path: str, work: Callable[[IPRoute], T]) -> T:
    """Run ``work(ipr)`` with a netlink socket inside the network namespace at ``netns_path``."""
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"network namespace {netns_path} does not exist") from None
    except OSError as err:
        raise MoorError(f"cannot open network namespace {netns_path}: {err.strerror}") from None
    results: list[T] = []
    failures: list[Exception] = []

    def runner() -> None:
        try:
            own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
                try:
                    with IPRoute() as ipr:
                        results.append(work(ipr))
                finally:
                    _setns(own)
            finally:
                os.close(own)
        except Exception as err:  # noqa: BLE001 - handed to the calling thread, which raises it below
            failures.append(err)

    try:
        thread = threading.Thread(target=runner, name="moor-netns", daemon=True)
        thread.start()
        thread.join()
    finally:
        os.close(target)
    if failures:
        raise failures[0]
    return results[0]


def _index(ipr: IPRoute, name: str) -> int | None:
    try:
        found = ipr.link("get", ifname=name)
    except NetlinkError as err:
        if err.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise
    return int(found[0]["index"]) if found else None


def _kind(ipr: IPRoute, index: int) -> str:
    link = ipr.link("get", index=index)[0]
    info = link.get_attr("IFLA_LINKINFO")
    return (info.get_attr("IFLA_INFO_KIND") if info is not None else None) or ""


def link_exists(name: str) -> bool:
    """Whether the host has an interface called ``name``."""
    with netlink_errors(f"looking up {name}"), IPRoute() as ipr:
        return _index(ipr, name) is not None


def host_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks the host already uses: its interface addresses and main-table routes."""
    found: set[ipaddress.IPv4Network] = set()
    with netlink_errors("listing host addresses"), IPRoute() as ipr:
        for message in ipr.addr("dump", family=socket.AF_INET):
            address = message.get_attr("IFA_ADDRESS") or message.get_attr("IFA_LOCAL")
            if address:
                found.add(ipaddress.IPv4Network(f"{address}/{message['prefixlen']}", strict=False))
        for message in ipr.route("dump", family=socket.AF_INET, table=MAIN_TABLE):
            destination = message.get_attr("RTA_DST")
            if destination and message["dst_len"] > 0:
                found.add(ipaddress.IPv4Network(f"{destination}/{message['dst_len']}", strict=False))
    return sorted(found, key=lambda n: (int(n.network_address), n.prefixlen))


def ensure_bridge(name: str, mtu: int, gateway: ipaddress.IPv4Interface) -> bool:
    """Make sure bridge ``name`` exists, holds ``gateway`` and is up; ``True`` when it was created."""
    created = False
    with netlink_errors(f"setting up bridge {name}"), IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge", address=random_mac(), mtu=mtu)
            created = True
            index = _index(ipr, name)
            if index is None:
                raise MoorError(f"bridge {name} vanished right after it was created")
        elif _kind(ipr, index) != "bridge":
            raise Conflict(f"cannot use {name} as a bridge: an interface of that name exists and is not a bridge")
        try:
            try:
                ipr.addr("add", index=index, address=str(gateway.ip), prefixlen=gateway.network.prefixlen,
                         broadcast=str(gateway.network.broadcast_address))
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
            ipr.link("set", index=index, state="up")
        except BaseException:
            if created:
                ipr.link("del", index=index)
            raise
    return created


def delete_link(name: str) -> bool:
    """Delete the host interface ``name`` (a veth goes with its peer); ``False`` when absent."""
    with netlink_errors(f"deleting {name}"), IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            return False
        try:
            ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code in (errno.ENODEV, errno.ENOENT):
                return False
            raise
    return True


@dataclass(frozen=True)
class Attachment:
    """How a container joins a bridge: the veth pair and the addressing of its inner end."""

    bridge: str
    host_veth: str
    mac: str
    mtu: int
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address | None  # the default route to add, if the namespace has none
    #: the global IPv6 address (a network made with ``--ipv6``) and the IPv6 default route's gateway
    address6: ipaddress.IPv6Interface | None = None
    gateway6: ipaddress.IPv6Address | None = None


def new_veth_name() -> str:
    """A host-side veth name: ``veth`` and seven hex digits, as Docker names them."""
    return "veth" + secrets.token_hex(4)[:7]


def _free_interface_name(ipr: IPRoute) -> str:
    names = {link.get_attr("IFLA_IFNAME") for link in ipr.link("dump")}
    number = 0
    while f"eth{number}" in names:
        number += 1
    return f"eth{number}"


def _configure_inside(ipr: IPRoute, made: str, attachment: Attachment) -> str:
    """Name the new veth end ``made`` the first free ``ethN`` (it is ``eth0`` already when it was made so), address
    it, bring it and ``lo`` up, add the default route unless the namespace has one; return its name."""
    index = _index(ipr, made)
    if index is None:
        raise MoorError(f"{made} did not appear in the container's network namespace")
    interface = made
    if made != FIRST_INTERFACE:
        interface = _free_interface_name(ipr)
        ipr.link("set", index=index, ifname=interface)
    ipr.addr("add", index=index, address=str(attachment.address.ip),
             prefixlen=attachment.address.network.prefixlen,
             broadcast=str(attachment.address.network.broadcast_address))
    ipr.link("set", index=index, state="up")
    loopback = _index(ipr, "lo")
    if loopback is not None:
        ipr.link("set", index=loopback, state="up")
    if attachment.gateway is not None:
        try:
            ipr.route("add", dst="0.0.0.0/0", gateway=str(attachment.gateway), oif=index)
        except NetlinkError as err:
            if err.code != errno.EEXIST:  # the namespace has its default route (its first network's)
                raise
    if attachment.address6 is not None:
        _enable_ipv6("all")
        _enable_ipv6(interface)
        ipr.addr("add", index=index, address=str(attachment.address6.ip),
                 prefixlen=attachment.address6.network.prefixlen, family=socket.AF_INET6, flags=IFA_F_NODAD)
        if attachment.gateway6 is not None:
            routes = ipr.route("dump", family=socket.AF_INET6, table=MAIN_TABLE)
            if not any(route["dst_len"] == 0 and route.get_attr("RTA_GATEWAY") for route in routes):
                ipr.route("add", dst="::/0", gateway=str(attachment.gateway6), oif=index, family=socket.AF_INET6)
    return interface


def _enable_ipv6(interface: str) -> None:
    """Turn IPv6 on for ``interface`` (or ``all``) of the calling thread's network namespace."""
    path = f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6"
    try:
        with open(path, "w") as handle:
            handle.write("0")
    except FileNotFoundError:
        raise MoorError("IPv6 is disabled on this host (no /proc/sys/net/ipv6)") from None


def ensure_ipv6_address(name: str, gateway: ipaddress.IPv6Interface) -> None:
    """Turn IPv6 on for bridge ``name`` and give it the IPv6 ``gateway`` address (idempotent)."""
    _enable_ipv6(name)
    with netlink_errors(f"setting the IPv6 address of bridge {name}"), IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            raise NotFound(f"bridge {name} does not exist")
        try:
            ipr.addr("add", index=index, address=str(gateway.ip), prefixlen=gateway.network.prefixlen,
                     family=socket.AF_INET6, flags=IFA_F_NODAD)
        except NetlinkError as err:
            if err.code != errno.EEXIST:
                raise


class BridgeMissing(NotFound):
    """The bridge to plug a veth into is not on the host (the driver sets its network up again)."""


#: the name a container's first interface gets, made under it at once when the namespace has none of that name
FIRST_INTERFACE = "eth0"


def attach(attachment: Attachment, netns_path: str) -> str:
    """Create the veth pair, plug it into the bridge and the namespace; return the inner name.

    The host end is made on the bridge and up in the same request. The inner end
    is made in the namespace as ``eth0`` when that name is free there (a
    container's first network), else under a temporary name and renamed there to
    the first free ``ethN``, as Docker does. BridgeMissing when the bridge is not
    on the host.
    """
    try:
        namespace = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"network namespace {netns_path} does not exist") from None
    except OSError as err:
        raise MoorError(f"cannot open network namespace {netns_path}: {err.strerror}") from None
    try:
        with tracing.phase("bridge.veth"), netlink_errors(f"connecting to bridge {attachment.bridge}"), \
                IPRoute() as ipr:
            bridge = _index(ipr, attachment.bridge)
            if bridge is None:
                raise BridgeMissing(f"bridge {attachment.bridge} does not exist")
            inner = FIRST_INTERFACE
            try:
                _add_veth(ipr, attachment, bridge, namespace, inner)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
                inner = "mtmp" + secrets.token_hex(4)  # eth0 is taken there (or, rarely, the host end's name)
                _add_veth(ipr, attachment, bridge, namespace, inner)
    finally:
        os.close(namespace)
    try:
        with tracing.phase("bridge.inside"), netlink_errors(f"configuring the interface in {netns_path}"):
            return in_namespace(netns_path, lambda ipr: _configure_inside(ipr, inner, attachment))
    except BaseException:
        delete_link(attachment.host_veth)
        raise


def _add_veth(ipr: IPRoute, attachment: Attachment, bridge: int, namespace: int, inner: str) -> None:
    """The veth pair: its host end on the bridge and up, its inner end ``inner`` in the namespace (one request)."""
    ipr.link("add", ifname=attachment.host_veth, kind="veth", mtu=attachment.mtu, master=bridge, state="up",
             peer={"ifname": inner, "net_ns_fd": namespace, "address": attachment.mac, "mtu": attachment.mtu})
