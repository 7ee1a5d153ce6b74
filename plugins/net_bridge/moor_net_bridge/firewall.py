"""NAT and filter rules for bridge networks, through ``iptables`` (the same tables dockerd uses).

moor keeps its rules in chains of its own, each reached by one jump::

    filter FORWARD     -> MOOR-FORWARD     (inserted first, ahead of any DROP policy or rule)
    filter MOOR-FORWARD -> MOOR-ISOLATION  (per network: traffic leaving for another bridge)
    nat    POSTROUTING -> MOOR-POSTROUTING (masquerade)
    nat    PREROUTING, OUTPUT -> MOOR-DNAT (published ports, for local destinations as Docker's DOCKER chain)

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

Published ports (:func:`set_ports`), as Docker 20.10 with its userland proxy
does them: a DNAT in MOOR-DNAT for traffic arriving from anywhere but the
bridge (the host's own traffic to 127.0.0.0/8 is not sent there: the proxy
serves it), an ACCEPT in MOOR-FORWARD for the container's address and port,
and a masquerade of the container's traffic to itself (hairpin). Those rules
carry the comment ``moor bridge <name> port <endpoint>``.

Every rule carries the comment ``moor bridge <name>``: adding a network's
rules first deletes any it has (so adding is idempotent and repairs a partial
set), and removing deletes exactly those. Each operation reads the tables once
(``iptables-save``) and changes them in one ``iptables-restore --noflush``
batch, atomic per table; our chains and jumps go with the last network's rules.
A container's published ports, whose rules the driver knows from its record,
take a single ``iptables-restore`` and no read (see :func:`set_ports`): a
thousand containers cost a thousand small batches, each as cheap as the first.
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
from moor.types import PortMapping

IPTABLES = "iptables"
FORWARD = "MOOR-FORWARD"
ISOLATION = "MOOR-ISOLATION"
POSTROUTING = "MOOR-POSTROUTING"
DNAT = "MOOR-DNAT"
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
    comment = ("-m", "comment", "--comment", tag(bridge))
    intra = "ACCEPT" if policy.icc else "DROP"
    if policy.internal:
        return [
            Rule("filter", FORWARD, ("-i", bridge, "!", "-d", subnet, *comment, "-j", "DROP"), first=True),
            Rule("filter", FORWARD, ("-o", bridge, "!", "-s", subnet, *comment, "-j", "DROP"), first=True),
            Rule("filter", FORWARD, ("-i", bridge, "-o", bridge, *comment, "-j", intra)),
        ]
    rules = [
        Rule("filter", FORWARD, ("-i", bridge, "!", "-o", bridge, *comment, "-j", ISOLATION), first=True),
        Rule("filter", ISOLATION, ("-o", bridge, *comment, "-j", "DROP")),
        Rule("filter", FORWARD, ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                 *comment, "-j", "ACCEPT")),
        Rule("filter", FORWARD, ("-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", *comment, "-j", "ACCEPT")),
        Rule("filter", FORWARD, ("-i", bridge, "-o", bridge, *comment, "-j", intra)),
        Rule("filter", FORWARD, ("-i", bridge, "!", "-o", bridge, *comment, "-j", "ACCEPT")),
    ]
    if policy.masquerade:
        rules.append(Rule("nat", POSTROUTING, ("-s", subnet, "!", "-o", bridge, *comment, "-j", "MASQUERADE")))
    rules.append(Rule("nat", DNAT, ("-i", bridge, *comment, "-j", "RETURN")))
    return rules


def port_rules(policy: NetworkPolicy, endpoint: str, address: str, ports: list[PortMapping]) -> list[Rule]:
    """The NAT and filter rules publishing ``ports`` of the container at ``address`` (none on internal networks)."""
    if policy.internal:
        return []
    bridge = policy.bridge
    comment = ("-m", "comment", "--comment", port_tag(bridge, endpoint))
    rules: list[Rule] = []
    for port in ports:
        proto = ("-p", port.protocol, "-m", port.protocol)
        destination: tuple[str, ...] = ()
        if port.host_ip and ipaddress.ip_address(port.host_ip).version != 4:
            continue
        if port.host_ip and not ipaddress.ip_address(port.host_ip).is_unspecified:
            destination = ("-d", f"{port.host_ip}/32")
        target = f"{address}:{port.container_port}"
        rules.append(Rule("nat", DNAT, (*destination, "!", "-i", bridge, *proto, "--dport", str(port.host_port),
                                        *comment, "-j", "DNAT", "--to-destination", target)))
        to_container = (*proto, "--dport", str(port.container_port))
        accept = Rule("filter", FORWARD, ("-d", f"{address}/32", "!", "-i", bridge, "-o", bridge, *to_container,
                                          *comment, "-j", "ACCEPT"))
        hairpin = Rule("nat", POSTROUTING, ("-s", f"{address}/32", "-d", f"{address}/32", *to_container,
                                            *comment, "-j", "MASQUERADE"))
        rules += [rule for rule in (accept, hairpin) if rule not in rules]
    return rules


#: (table, builtin chain, our chain, insert the jump at the top?, matches of the jump)
JUMPS: tuple[tuple[str, str, str, bool, tuple[str, ...]], ...] = (
    ("filter", "FORWARD", FORWARD, True, ()),
    ("nat", "POSTROUTING", POSTROUTING, False, ()),
    ("nat", "PREROUTING", DNAT, False, ("-m", "addrtype", "--dst-type", "LOCAL")),
    ("nat", "OUTPUT", DNAT, False, ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL")),
)
#: our chains per table, in the order they are deleted
CHAINS = {"filter": (FORWARD, ISOLATION), "nat": (POSTROUTING, DNAT)}


def tag(bridge: str) -> str:
    """The comment on every rule of the network on ``bridge``."""
    return f"moor bridge {bridge}"


def port_tag(bridge: str, endpoint: str) -> str:
    """The comment on the published-port rules of ``endpoint`` on ``bridge``."""
    return f"{tag(bridge)} port {endpoint}"


@dataclass
class Table:
    """One table of ``iptables-save``: its chains and its rules as ``-A`` lines."""

    chains: set[str]
    rules: list[str]

    def tagged(self, bridge: str) -> list[str]:
        """The rules carrying the comment of ``bridge`` (matched whole, quotes included)."""
        return self.commented(tag(bridge))

    def commented(self, comment: str) -> list[str]:
        """The rules carrying exactly ``comment``."""
        quoted = f'--comment "{comment}"'
        return [line for line in self.rules if quoted in line]

    def tagged_all(self, bridge: str) -> list[str]:
        """The rules of the network on ``bridge``, its published ports' included."""
        network, ports = f'--comment "{tag(bridge)}"', f'--comment "{tag(bridge)} port '
        return [line for line in self.rules if network in line or ports in line]

    def in_chain(self, chain: str) -> list[str]:
        return [line for line in self.rules if line.split(" ", 2)[1] == chain]

    def jumps_to(self, builtin: str, chain: str) -> list[str]:
        return [line for line in self.in_chain(builtin) if line.endswith(f" -j {chain}")]


def _run(command: list[str], stdin: str | None = None) -> str:
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise Unavailable(f"{command[0]} is not installed: the bridge network driver needs iptables") from None
    except OSError as err:
        raise MoorError(f"cannot run {command[0]}: {err.strerror}") from None
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise MoorError(f"{' '.join(command)} failed: {detail}")
    return result.stdout


def _save() -> dict[str, Table]:
    """The filter and nat tables as they are now."""
    tables: dict[str, Table] = {}
    for name in ("filter", "nat"):
        table = tables[name] = Table(set(), [])
        for line in _run([f"{IPTABLES}-save", "-t", name]).splitlines():
            if line.startswith(":"):
                table.chains.add(line[1:].split(" ", 1)[0])
            elif line.startswith("-A "):
                table.rules.append(line)
    return tables


def _restore(batch: dict[str, list[str]]) -> None:
    """Apply ``-A``/``-I``/``-D``/``-X`` lines per table in one ``iptables-restore --noflush``."""
    text = "".join(f"*{table}\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"
                   for table, lines in batch.items() if lines)
    if text:
        _run([f"{IPTABLES}-restore", "-w", "--noflush"], stdin=text)


def _render(words: tuple[str, ...]) -> str:
    """Words as an iptables-restore line (it understands double quotes only)."""
    return " ".join(f'"{word}"' if " " in word else word for word in words)


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


def _deletions(lines: list[str]) -> list[str]:
    return ["-D " + line[3:] for line in lines]


def _prune_lines(tables: dict[str, Table], leaving: dict[str, list[str]]) -> dict[str, list[str]]:
    """The lines removing our chains (and jumps) of each table when only ``leaving`` rules are in them."""
    batch: dict[str, list[str]] = {"filter": [], "nat": []}
    for table_name, ours in CHAINS.items():
        table = tables[table_name]
        remaining = [line for chain in ours for line in table.in_chain(chain) if line not in leaving[table_name]]
        if remaining:
            continue
        for jump_table, builtin, chain, _top, _matches in JUMPS:
            if jump_table == table_name:
                batch[table_name] += _deletions(table.jumps_to(builtin, chain))
        batch[table_name] += [f"-X {chain}" for chain in ours if chain in table.chains]
    return batch


def _ensure_chains(tables: dict[str, Table]) -> dict[str, list[str]]:
    """The lines creating our chains and the jumps to them, where missing."""
    batch: dict[str, list[str]] = {"filter": [], "nat": []}
    for name, chains in CHAINS.items():
        batch[name] += [f":{chain} - [0:0]" for chain in chains if chain not in tables[name].chains]
    for table_name, builtin, chain, top, matches in JUMPS:
        if not tables[table_name].jumps_to(builtin, chain):
            jump = _render((*matches, "-j", chain))
            batch[table_name].append(f"-I {builtin} 1 {jump}" if top else f"-A {builtin} {jump}")
    return batch


def _add_lines(rules: list[Rule]) -> dict[str, list[str]]:
    batch: dict[str, list[str]] = {"filter": [], "nat": []}
    for rule in rules:
        position = f"-I {rule.chain} 1" if rule.first else f"-A {rule.chain}"
        batch[rule.table].append(f"{position} {_render(rule.spec)}")
    return batch


def add_network(policy: NetworkPolicy, ports: dict[str, tuple[str, list[PortMapping]]] | None = None) -> None:
    """Put the rules of a network in place: any it had are replaced, atomically per table.

    ``ports`` (endpoint -> its address and published ports) are put back in the same batch, as
    :func:`set_ports` would each.
    """
    ports = ports or {}
    rules = network_rules(policy)
    for endpoint, (address, published) in ports.items():
        rules += port_rules(policy, endpoint, address, published)
    with _host_lock():
        tables = _save()
        batch = _ensure_chains(tables)
        for name, table in tables.items():
            batch[name] += _deletions(table.tagged(policy.bridge))
            for endpoint in ports:
                batch[name] += _deletions(table.commented(port_tag(policy.bridge, endpoint)))
        for name, lines in _add_lines(rules).items():
            batch[name] += lines
        _restore(batch)


def set_ports(policy: NetworkPolicy, endpoint: str, address: str, ports: list[PortMapping],
              known: list[PortMapping] | None = None) -> bool:
    """Publish ``ports`` of the endpoint at ``address``, replacing what it published; ``False`` when none is.

    ``known``: what the driver recorded the endpoint publishes (``[]``: nothing yet). Then the old rules are
    deleted and the new added in one ``iptables-restore``, without reading the tables first (one process per
    container, not three; the tables' size does not matter); should the tables not hold what was recorded
    (flushed by hand, say), the rules are replaced from what ``iptables-save`` shows.
    """
    rules = port_rules(policy, endpoint, address, ports)
    with _host_lock():
        if known is not None and _restore_quickly(port_rules(policy, endpoint, address, known), rules):
            return bool(rules)
        tables = _save()
        batch = _ensure_chains(tables) if rules else {"filter": [], "nat": []}
        for name, table in tables.items():
            batch[name] += _deletions(table.commented(port_tag(policy.bridge, endpoint)))
        for name, lines in _add_lines(rules).items():
            batch[name] += lines
        _restore(batch)
    return bool(rules)


def remove_ports(bridge: str, endpoint: str, known: list[Rule] | None = None) -> bool:
    """Remove the published-port rules of ``endpoint``; ``True`` when any was there.

    ``known``: the rules the driver recorded for it (:func:`port_rules`), deleted in one ``iptables-restore``
    without reading the tables; the tables are read only when they do not hold them all."""
    with _host_lock():
        if known and _restore_quickly(known, []):
            return True
        tables = _save()
        leaving = {name: table.commented(port_tag(bridge, endpoint)) for name, table in tables.items()}
        _restore({name: _deletions(lines) for name, lines in leaving.items()})
        return any(leaving.values())


def _restore_quickly(leaving: list[Rule], coming: list[Rule]) -> bool:
    """Delete ``leaving`` and add ``coming`` in one ``iptables-restore`` (atomic per table), the tables unread;
    ``False`` (nothing changed) when they lack a rule or chain that needs."""
    batch: dict[str, list[str]] = {"filter": [], "nat": []}
    for rule in leaving:
        batch[rule.table].append(f"-D {rule.chain} {_render(rule.spec)}")
    for name, lines in _add_lines(coming).items():
        batch[name] += lines
    try:
        _restore(batch)
    except MoorError:
        return False
    return True


def remove_network(policy: NetworkPolicy) -> bool:
    """Remove the rules of a network (and our chains when it was the last); ``True`` when any was there."""
    with _host_lock():
        tables = _save()
        leaving = {name: table.tagged_all(policy.bridge) for name, table in tables.items()}
        batch = {name: _deletions(lines) for name, lines in leaving.items()}
        for name, lines in _prune_lines(tables, leaving).items():
            batch[name] += lines
        _restore(batch)
        return any(leaving.values())


def prune() -> None:
    """Drop moor's chains and jumps if no network has rules in them (for clean-up after a crash)."""
    with _host_lock():
        tables = _save()
        _restore(_prune_lines(tables, {"filter": [], "nat": []}))


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
