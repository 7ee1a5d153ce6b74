"""``moor network``: create, ls, inspect, rm, prune, connect, disconnect."""

from __future__ import annotations

from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import act_on_each, confirm, fail, inspect_many, print_prune_report, print_table, render_format
from moor.cli.queryflags import filters_param
from moor.client import quote_name


@click.group("network")
def network() -> None:
    """Manage networks."""


@network.command("create")
@click.option("-d", "--driver", default="bridge", help="Driver to manage the Network")
@click.option("--subnet", multiple=True, help="Subnet in CIDR format that represents a network segment")
@click.option("--gateway", multiple=True, help="IPv4 Gateway for the master subnet")
@click.option("--ip-range", multiple=True, help="Allocate container ip from a sub-range")
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.option("--attachable", is_flag=True, help="Enable manual container attachment")
@click.option("-o", "--opt", multiple=True, help="Set driver specific options")
@click.option("--label", multiple=True, help="Set metadata on a network")
@click.option("--aux-address", multiple=True, help="Auxiliary IPv4 or IPv6 addresses used by Network driver")
@click.option("--ipv6", is_flag=True, help="Enable IPv6 networking")
@click.option("--ipam-driver", default="default", help="IP Address Management Driver")
@click.option("--ipam-opt", multiple=True, help="Set IPAM driver specific options")
@click.option("--scope", default="", help="Control the network's scope")
@click.option("--ingress", is_flag=True, help="Create swarm routing-mesh network")
@click.option("--config-only", is_flag=True, help="Create a configuration only network")
@click.option("--config-from", default="", help="The network from which to copy the configuration")
@click.argument("name")
@click.pass_context
def create(ctx: click.Context, driver: str, subnet: tuple[str, ...], gateway: tuple[str, ...],
           ip_range: tuple[str, ...], internal: bool, attachable: bool, opt: tuple[str, ...],
           label: tuple[str, ...], aux_address: tuple[str, ...], ipv6: bool, ipam_driver: str,
           ipam_opt: tuple[str, ...], scope: str, ingress: bool, config_only: bool, config_from: str,
           name: str) -> None:
    """Create a network."""
    config = ipam_config(subnet, ip_range, gateway)
    for entry in aux_address:  # NAME=ADDRESS, kept by the subnet that holds it
        aux_name, _, address = entry.partition("=")
        holder = next((c for c in config if _contains(c["Subnet"], address)), None)
        if holder is None:
            fail(f"no matching subnet for aux-address {address}")
        holder.setdefault("AuxiliaryAddresses", {})[aux_name] = address
    body = {"Name": name, "Driver": driver, "Internal": internal, "Attachable": attachable, "CheckDuplicate": True,
            "EnableIPv6": ipv6,
            "IPAM": {"Driver": ipam_driver, "Config": config,
                     "Options": dict(o.partition("=")[::2] for o in ipam_opt)},
            "Options": dict(o.partition("=")[::2] for o in opt),
            "Labels": dict(pair.partition("=")[::2] for pair in label),
            "Scope": scope, "Ingress": ingress, "ConfigOnly": config_only}
    if config_from:
        body["ConfigFrom"] = {"Network": config_from}
    click.echo(client_of(ctx).call("POST", "/networks/create", body=body)["Id"])


def _contains(subnet: str, address: str) -> bool:
    """Whether ``address`` (``a.b.c.d`` or ``a.b.c.d/n``) lies in ``subnet``, as the docker CLI checks it."""
    import ipaddress

    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        fail(f"invalid subnet: invalid CIDR address: {subnet}")
    try:
        ip = ipaddress.ip_interface(address).ip if "/" in address else ipaddress.ip_address(address)
    except ValueError:
        if "/" in address:
            fail(f"invalid CIDR address: {address}")
        return False
    return ip.version == network.version and ip in network


def ipam_config(subnets: tuple[str, ...], ranges: tuple[str, ...], gateways: tuple[str, ...]) -> list[dict[str, Any]]:
    """``--subnet``/``--ip-range``/``--gateway`` as IPAM ``Config`` entries, with the docker CLI's checks."""
    import ipaddress

    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        fail("every ip-range or gateway must have a corresponding subnet")
    for text in ranges:
        if "/" not in text:
            fail(f"invalid CIDR address: {text}")
    config: dict[str, dict[str, Any]] = {}
    for text in subnets:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            config[text] = {"Subnet": text}  # the daemon names what is wrong with it
            continue
        for other in config:
            try:
                overlaps = ipaddress.ip_network(other, strict=False).overlaps(network)
            except (ValueError, TypeError):
                overlaps = False
            if overlaps:
                fail("multiple overlapping subnet configuration is not supported")
        config[text] = {"Subnet": text}
    for key, values, what in (("IPRange", ranges, "range"), ("Gateway", gateways, "gateway")):
        for value in values:
            matched = False
            for text, entry in config.items():
                if not _contains(text, value):
                    continue
                if key in entry:
                    plural = "ranges" if key == "IPRange" else "gateways"
                    place = "on the same" if key == "IPRange" else "for the same"
                    fail(f"cannot configure multiple {plural} ({entry[key]}, {value}) {place} subnet ({text})")
                entry[key] = value
                matched = True
            if not matched:
                fail(f"no matching subnet for {what} {value}")
    return list(config.values())


def _go_time(text: str) -> str:
    """An RFC 3339 UTC time as Go's time.Time prints it (``2026-12-07 01:42:24.406110182 +0000 UTC``)."""
    if not text.endswith("Z") or "T" not in text:
        return text
    date, _, clock = text[:-1].partition("T")
    return f"{date} {clock} +0000 UTC"


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'driver=bridge')")
@click.option("--format", "format_", default="", help="Pretty-print networks using a Go template")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, no_trunc: bool, filters: tuple[str, ...], format_: str) -> None:
    """List networks."""
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    records = sorted(client_of(ctx).get("/networks", filters=filters_param(filters)),
                     key=lambda r: _natural_key(r["Name"]))  # the docker CLI lists them by name, naturally
    rows = [{"ID": r["Id"] if no_trunc else r["Id"][:12], "Name": r["Name"], "Driver": r["Driver"],
             "Scope": r["Scope"], "Internal": str(r["Internal"]).lower(),
             "IPv6": str(r.get("EnableIPv6", False)).lower(),
             "CreatedAt": _go_time(r.get("Created") or ""),
             "Labels": ",".join(f"{k}={v}" for k, v in (r.get("Labels") or {}).items()),
             "Label": (lambda labels: lambda name: labels.get(name, ""))(r.get("Labels") or {})} for r in records]
    if quiet:
        for row in rows:
            click.echo(row["ID"])
        return
    if format_:
        render_format(format_, rows, {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                                      "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
                                      "CreatedAt": "CREATED AT"}, struct_type="*network.networkContext")
        return
    print_table([["NETWORK ID", "NAME", "DRIVER", "SCOPE"]] + [[r["ID"], r["Name"], r["Driver"], r["Scope"]]
                                                             for r in rows], min_width=10)


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    """Natural order (``net2`` before ``net10``), as the docker CLI's sortorder.NaturalLess."""
    import re

    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


network.add_command(ls, "list")


@network.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default="", help="Format the output using the given Go template")
@click.option("-v", "--verbose", is_flag=True, help="Verbose output for diagnostics (swarm networks only)")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], format_: str, verbose: bool) -> None:
    """Display detailed information on one or more networks."""
    inspect_many(client_of(ctx), names, lambda name: f"/networks/{quote_name(name)}", "network", format_)


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove one or more networks."""
    client = client_of(ctx)
    act_on_each(names, lambda name: client.call("DELETE", f"/networks/{quote_name(name)}"))


network.add_command(rm, "remove")


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
@click.pass_context
def prune(ctx: click.Context, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all unused networks."""
    if not force and not confirm("WARNING! This will remove all custom networks not used by at least one "
                                 "container."):
        return
    report = client_of(ctx).call("POST", "/networks/prune", {"filters": filters_param(filters)})
    print_prune_report("Networks", report.get("NetworksDeleted") or [], None)


@network.command("connect")
@click.option("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
@click.option("--ip6", default="", help="IPv6 address (e.g., 2001:db8::33)")
@click.option("--alias", multiple=True, help="Add network-scoped alias for the container")
@click.option("--link", multiple=True, help="Add link to another container")
@click.option("--link-local-ip", multiple=True, help="Add a link-local address for the container")
@click.option("--driver-opt", multiple=True, help="driver options for the network")
@click.argument("network_name")
@click.argument("container")
@click.pass_context
def connect(ctx: click.Context, ip: str, ip6: str, alias: tuple[str, ...], link: tuple[str, ...],
            link_local_ip: tuple[str, ...], driver_opt: tuple[str, ...], network_name: str, container: str) -> None:
    """Connect a container to a network."""
    ipam = {**({"IPv4Address": ip} if ip else {}), **({"IPv6Address": ip6} if ip6 else {}),
            **({"LinkLocalIPs": list(link_local_ip)} if link_local_ip else {})}
    endpoint: dict[str, Any] = {"Aliases": list(alias) or None, **({"IPAMConfig": ipam} if ipam else {})}
    if link:
        endpoint["Links"] = list(link)
    if driver_opt:
        endpoint["DriverOpts"] = dict(option.partition("=")[::2] for option in driver_opt)
    client_of(ctx).call("POST", f"/networks/{quote_name(network_name)}/connect",
                        body={"Container": container, "EndpointConfig": endpoint})


@network.command("disconnect")
@click.option("-f", "--force", is_flag=True, help="Force the container to disconnect from a network")
@click.argument("network_name")
@click.argument("container")
@click.pass_context
def disconnect(ctx: click.Context, force: bool, network_name: str, container: str) -> None:
    """Disconnect a container from a network."""
    client_of(ctx).call("POST", f"/networks/{quote_name(network_name)}/disconnect",
                        body={"Container": container, "Force": force})


__all__ = ["fail", "network"]
