"""AppArmor: whether the host enforces it, and which profile a container's process gets.

moor generates no profile: ``--security-opt apparmor=NAME`` applies a profile the host has loaded,
and a container without that option gets ``docker-default`` when (and only when) the host has a
profile of that name loaded. On a host without AppArmor, asking for a profile is refused, except
``unconfined``, which such a host satisfies anyway (compose files often say it).
"""

from __future__ import annotations

from moor.errors import InvalidParameter

ENABLED_PATH = "/sys/module/apparmor/parameters/enabled"
PROFILES_PATH = "/sys/kernel/security/apparmor/profiles"
DEFAULT_PROFILE = "docker-default"
UNCONFINED = "unconfined"


def enabled(path: str = ENABLED_PATH) -> bool:
    """Whether the kernel enforces AppArmor (its module parameter says ``Y``)."""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip() == "Y"
    except OSError:
        return False


def loaded_profiles(path: str = PROFILES_PATH) -> set[str] | None:
    """The names of the loaded profiles (lines ``name (mode)``); None when the list is unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return {line.rsplit(" (", 1)[0] for line in handle if line.strip()}
    except OSError:
        return None


def check(requested: str, enabled_path: str = ENABLED_PATH, profiles_path: str = PROFILES_PATH) -> None:
    """Refuse a requested profile this host cannot apply."""
    if not requested or requested == UNCONFINED:
        return
    if not enabled(enabled_path):
        raise InvalidParameter(f'AppArmor is not enabled on this host: cannot apply the profile "{requested}"')
    loaded = loaded_profiles(profiles_path)
    if loaded is not None and requested not in loaded:
        raise InvalidParameter(f'AppArmor profile "{requested}" is not loaded')


def profile_for(requested: str, privileged: bool, enabled_path: str = ENABLED_PATH,
                profiles_path: str = PROFILES_PATH) -> str:
    """The ``process.apparmorProfile`` for a container ("" for none), as Docker picks it."""
    if not enabled(enabled_path):
        return ""
    if requested:
        return requested
    if privileged:
        return UNCONFINED
    loaded = loaded_profiles(profiles_path)
    return DEFAULT_PROFILE if loaded and DEFAULT_PROFILE in loaded else ""
