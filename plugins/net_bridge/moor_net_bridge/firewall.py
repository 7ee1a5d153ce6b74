"""NAT and filter rules for bridge networks, through ``iptables`` (the same tables dockerd uses).

moor keeps its rules in chains of its own, each reached by one jump::

    filter FORWARD     -> MOOR-FORWARD     (inserted first, ahead of any DROP policy or rule)
    filter MOOR-FORWARD -> MOOR-ISOLATION  (per network: traffic leaving for another bridge)
    nat    POSTROUTING -> MOOR-POSTROUTING (masquerade)

dockerd sets the FORWARD policy to DROP and loads ``br_netfilter`` so that even
traffic between two ports of one bridge passes FORWARD: an ACCEPT in a table
of our own (nftables) would not outvote that drop, so the rules live in
iptables' ``filter`` table beside dockerd's. Per network, as Docker 20.10 does
for its bridges:

- masquerade of the subnet leaving by any interface but the bridge (unless
  internal or ``enable_ip_masquerade`` is false);
- isolation: traffic from the bridge to another moor bridge is dropped;
- accept traffic from the bridge, replies to it, DNAT-ed traffic to it (for
  published ports) and traffic within it (unless ``enable_icc`` is false);
- an internal network drops whatever leaves or enters its subnet.

Every rule carries the comment ``moor bridge <name>``. Adding and removing are
idempotent (each rule is checked with ``-C`` first); the chains and jumps go
when the last network's rules are removed.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from moor.errors import MoorError, Unavailable

IPTABLES = "iptables"
FORWARD = "MOOR-FORWARD"
ISOLATION = "MOOR-ISOLATION"
POSTROUTING = "MOOR-POSTROUTING"
#: serialises chain set-up and tear-down between processes (each iptables call locks on its own)
LOCK_PATH = "/run/lock/moor-net-bridge-firewall.lock"
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


@dataclass(frozen=True)
class Rule:
    """One iptables rule: ``first`` rules are inserted at the top of their chain, others appended."""

    table: str
    chain: str
    spec: tuple[str, ...]
    first: bool = False


@dataclass(frozen=True)
class NetworkPolicy:
    """What the rules of one network depend on."""

    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool = False
    masquerade: bool = True
    icc: bool = True


def network_rules(policy: NetworkPolicy) -> list[Rule]:
    """The rules one network needs, in the order they are added."""
    bridge, subnet = policy.bridge, str(policy.subnet)
    tag = ("-m", "comment", "--comment", f"moor bridge {bridge}")
    intra = "ACCEPT" if policy.icc else "DROP"
    if policy.internal:
        return [
            Rule("filter", FORWARD, ("-i", bridge, "!", "-d", subnet, *tag, "-j", "DROP"), first=True),
            Rule("filter", FORWARD, ("-o", bridge, "!", "-s", subnet, *tag, "-j", "DROP"), first=True),
            Rule("filter", FORWARD, ("-i", bridge, "-o", bridge, *tag, "-j", intra)),
        ]
    rules = [
        Rule("filter", FORWARD, ("-i", bridge, "!", "-o", bridge, *tag, "-j", ISOLATION), first=True),
        Rule("filter", ISOLATION, ("-o", bridge, *tag, "-j", "DROP")),
        Rule("filter", FORWARD, ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                 *tag, "-j", "ACCEPT")),
        Rule("filter", FORWARD, ("-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", *tag, "-j", "ACCEPT")),
        Rule("filter", FORWARD, ("-i", bridge, "-o", bridge, *tag, "-j", intra)),
        Rule("filter", FORWARD, ("-i", bridge, "!", "-o", bridge, *tag, "-j", "ACCEPT")),
    ]
    if policy.masquerade:
        rules.append(Rule("nat", POSTROUTING, ("-s", subnet, "!", "-o", bridge, *tag, "-j", "MASQUERADE")))
    return rules


#: (table, builtin chain, our chain, insert at the top?)
JUMPS = (("filter", "FORWARD", FORWARD, True), ("nat", "POSTROUTING", POSTROUTING, False))


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run([IPTABLES, "-w", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise Unavailable(f"{IPTABLES} is not installed: the bridge network driver needs it") from None
    except OSError as err:
        raise MoorError(f"cannot run {IPTABLES}: {err.strerror}") from None
    if check and result.returncode != 0:
        raise MoorError(f"{IPTABLES} {' '.join(args)} failed: {result.stderr.strip() or result.returncode}")
    return result


def _exists(rule: Rule) -> bool:
    return _iptables("-t", rule.table, "-C", rule.chain, *rule.spec, check=False).returncode == 0


def _chain_exists(table: str, chain: str) -> bool:
    return _iptables("-t", table, "-S", chain, check=False).returncode == 0


def _chain_is_empty(table: str, chain: str) -> bool:
    result = _iptables("-t", table, "-S", chain, check=False)
    return result.returncode != 0 or all(line.startswith("-N ") or not line.strip()
                                         for line in result.stdout.splitlines())


@contextmanager
def _host_lock() -> Iterator[None]:
    try:
        os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise MoorError(f"cannot open the firewall lock {LOCK_PATH}: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ensure_chains() -> None:
    for table, chain in (("filter", ISOLATION), ("filter", FORWARD), ("nat", POSTROUTING)):
        if not _chain_exists(table, chain):
            _iptables("-t", table, "-N", chain)
    for table, builtin, chain, first in JUMPS:
        jump = Rule(table, builtin, ("-j", chain))
        if not _exists(jump):
            _iptables("-t", table, *(("-I", builtin, "1") if first else ("-A", builtin)), "-j", chain)


def _prune_chains() -> None:
    """Drop our chains and their jumps once no network has rules left in them."""
    if _chain_is_empty("filter", FORWARD) and _chain_is_empty("filter", ISOLATION):
        _drop_chain("filter", "FORWARD", FORWARD)
        _drop_chain("filter", None, ISOLATION)
    if _chain_is_empty("nat", POSTROUTING):
        _drop_chain("nat", "POSTROUTING", POSTROUTING)


def _drop_chain(table: str, builtin: str | None, chain: str) -> None:
    if builtin is not None:
        jump = Rule(table, builtin, ("-j", chain))
        while _exists(jump):
            _iptables("-t", table, "-D", builtin, "-j", chain)
    if _chain_exists(table, chain):
        _iptables("-t", table, "-X", chain, check=False)


def add_network(policy: NetworkPolicy) -> None:
    """Add (or complete) the rules of a network; already present rules are left alone."""
    with _host_lock():
        _ensure_chains()
        for rule in network_rules(policy):
            if not _exists(rule):
                position = ("-I", rule.chain, "1") if rule.first else ("-A", rule.chain)
                _iptables("-t", rule.table, *position, *rule.spec)


def remove_network(policy: NetworkPolicy) -> bool:
    """Remove the rules of a network; ``True`` when any was there."""
    removed = False
    with _host_lock():
        for rule in network_rules(policy):
            while _exists(rule):
                _iptables("-t", rule.table, "-D", rule.chain, *rule.spec)
                removed = True
        _prune_chains()
    return removed


def prune() -> None:
    """Drop moor's chains and jumps if no network has rules in them (for clean-up after a crash)."""
    with _host_lock():
        _prune_chains()


def enable_ip_forward() -> None:
    """Turn on IPv4 forwarding (as dockerd does) so that containers reach beyond the host."""
    try:
        with open(IP_FORWARD, encoding="ascii") as handle:
            if handle.read().strip() == "1":
                return
        with open(IP_FORWARD, "w", encoding="ascii") as handle:
            handle.write("1\n")
    except OSError as err:
        raise MoorError(f"cannot enable IP forwarding ({IP_FORWARD}): {err.strerror}") from None
