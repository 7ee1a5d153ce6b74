"""Legacy links (``--link name:alias``): the environment Docker gives the linking container.

For each link, Docker 20.10 sets ``ALIAS_PORT`` (the linked container's lowest exposed port), for each
exposed port ``ALIAS_PORT_<port>_<PROTO>`` with its ``_ADDR``, ``_PORT`` and ``_PROTO``, then
``ALIAS_NAME`` (``/<linking container>/<alias>``) and ``ALIAS_ENV_<name>`` for each variable of the linked
container but ``HOME`` and ``PATH``. ``ALIAS`` is the alias upper-cased, ``-`` made ``_``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["link_env", "parse_link"]


def parse_link(link: str) -> tuple[str, str]:
    """A stored link ``/child:/parent/alias`` as (child name, alias)."""
    source, _, target = link.partition(":")
    child = source.strip("/")
    return child, target.rsplit("/", 1)[-1] or child


def _port_key(port: str) -> tuple[int, int, str]:
    number, _, proto = port.partition("/")
    proto = proto or "tcp"
    return (int(number) if number.isdigit() else 0, 0 if proto == "tcp" else 1, proto)


def link_env(link_name: str, address: str, child_env: Iterable[str], exposed: Iterable[str]) -> list[str]:
    """The variables of one link: ``link_name`` is ``/<parent>/<alias>``, ``address`` the linked container's
    IP, ``child_env`` its ``Config.Env`` and ``exposed`` its ``ExposedPorts`` keys (``80/tcp``)."""
    alias = link_name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted((_port_key(port) for port in exposed), key=lambda key: key[:2])
    env = []
    if ports:
        number, _, proto = ports[0]
        env.append(f"{alias}_PORT={proto}://{address}:{number}")
    for number, _, proto in ports:
        prefix = f"{alias}_PORT_{number}_{proto.upper()}"
        env += [f"{prefix}={proto}://{address}:{number}", f"{prefix}_ADDR={address}", f"{prefix}_PORT={number}",
                f"{prefix}_PROTO={proto}"]
    env.append(f"{alias}_NAME={link_name}")
    for entry in child_env:
        name, equals, value = entry.partition("=")
        if equals and name not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{name}={value}")
    return env
