"""Profiles: which services are enabled.

A service without ``profiles`` is always enabled; one with profiles is enabled when one of them is active
(``--profile``, ``COMPOSE_PROFILES``; ``*`` activates all). A service named on the command line is enabled
whatever its profiles, and so are the services it depends on (compose v2). An enabled service that depends on
a disabled or undefined one is an error, unless that dependency says ``required: false`` (it is then dropped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moor.compose.errors import DependencyError, ServiceNotFound


def active_profiles(given: Sequence[str], environment: Mapping[str, str]) -> list[str]:
    """``--profile`` values, else ``COMPOSE_PROFILES`` (comma separated); blanks dropped, order kept, no repeats."""
    raw = list(given) if given else environment.get("COMPOSE_PROFILES", "").split(",")
    profiles: list[str] = []
    for item in raw:
        for name in item.split(",") if given else [item]:
            name = name.strip()
            if name and name not in profiles:
                profiles.append(name)
    return profiles


def has_profile(service: Mapping[str, Any], profiles: Sequence[str]) -> bool:
    own = service.get("profiles") or []
    return not own or "*" in profiles or any(profile in own for profile in profiles)


def _dependencies_of(services: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """``names`` and, transitively, the required services they depend on (that exist)."""
    seen: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in seen or name not in services:
            continue
        seen.append(name)
        for dependency, condition in (services[name].get("depends_on") or {}).items():
            if (condition or {}).get("required", True):
                pending.append(dependency)
    return seen


def apply_profiles(services: Mapping[str, dict[str, Any]], profiles: Sequence[str], selected: Sequence[str] = ()
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(enabled, disabled) services; ServiceNotFound for a selected service the files do not define;
    DependencyError for an enabled service depending on a disabled or undefined required one."""
    for name in selected:
        if name not in services:
            raise ServiceNotFound(f"no such service: {name}")
    forced = set(_dependencies_of(services, selected))
    enabled = {name: service for name, service in services.items()
               if name in forced or has_profile(service, profiles)}
    disabled = {name: service for name, service in services.items() if name not in enabled}
    for name in sorted(enabled):
        service = enabled[name]
        depends_on = service.get("depends_on")
        if not depends_on:
            continue
        for dependency in list(depends_on):
            if dependency in enabled:
                continue
            if not (depends_on[dependency] or {}).get("required", True):
                del depends_on[dependency]
                continue
            if dependency in disabled:
                raise DependencyError(f"service \"{name}\" depends on undefined service \"{dependency}\": "
                                      f"invalid compose project (it is disabled by profiles)")
            raise DependencyError(f"service \"{name}\" depends on undefined service \"{dependency}\": "
                                  "invalid compose project")
        if not depends_on:
            del service["depends_on"]
    return enabled, disabled


def all_profiles(services: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every profile some service names, sorted."""
    return sorted({profile for service in services.values() for profile in service.get("profiles") or []})
