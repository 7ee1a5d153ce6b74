"""Seccomp profiles in Docker's format, translated into the OCI spec's ``linux.seccomp`` for runc.

A profile (Docker's ``default.json`` format) lists syscall rules, each with conditions: ``includes``
and ``excludes`` name capabilities (tested against the container's bounding set), architectures
(libseccomp's native names: ``amd64``, ``x86``, ``arm64``, ...) and a minimum kernel (``"4.8"``). A
rule applies when every include holds and no exclude does; its ``args`` (argument comparisons) go to
runc unchanged. ``archMap`` picks this machine's architectures (x86_64: X86_64 plus X86 and X32).

moor's default profile ships as package data (``profiles/seccomp-default.json``, derived from Debian's
containers-common profile by ``scripts/derive-seccomp-profile`` to behave as Docker's default); moord
never reads /usr/share. :func:`default_profile` translates it per capability set, cached.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from moor.errors import InvalidParameter

PROFILE_RESOURCE = "profiles/seccomp-default.json"
UNCONFINED = "unconfined"
BUILTIN = "builtin"  # current Docker's name for the default profile

ACTIONS = frozenset({
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
})
OPERATORS = frozenset({
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
})
#: The filter flags runc 1.1 knows.
FLAGS = frozenset({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"})
ARCHITECTURES = frozenset({
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
})
#: ``uname -m`` -> libseccomp's native name, the one profiles use in ``includes.arches``.
NATIVE_ARCHES = {
    "x86_64": "amd64", "i386": "x86", "i686": "x86", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
    "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64",
    "loongarch64": "loong64",
}
#: Native name -> the architecture ``archMap`` is keyed by.
SECCOMP_ARCHES = {
    "amd64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "arm64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE", "ppc64": "SCMP_ARCH_PPC64", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "mips64": "SCMP_ARCH_MIPS64", "loong64": "SCMP_ARCH_LOONGARCH64",
}
_KERNEL_VERSION = re.compile(r"^(\d+)\.(\d+)")
_U64 = 2**64


def native_arch(machine: str | None = None) -> str:
    """This machine's architecture in libseccomp's native naming (``amd64`` on x86_64)."""
    machine = machine or platform.machine()
    return NATIVE_ARCHES.get(machine, machine)


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """``(kernel, major)`` of a release string such as ``6.1.0-18-amd64``; (0, 0) if unreadable."""
    match = _KERNEL_VERSION.match(release if release is not None else platform.release())
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@cache
def supported(status_path: str = "/proc/self/status") -> bool:
    """Whether this kernel can filter syscalls (its /proc/self/status has a Seccomp line)."""
    try:
        with open(status_path, encoding="ascii") as handle:
            return any(line.startswith("Seccomp:") for line in handle)
    except OSError:
        return False


# --------------------------------------------------------------------------- decoding


def _decode_error(message: str) -> InvalidParameter:
    return InvalidParameter(f"Decoding seccomp profile failed: {message}")


def _invalid(message: str) -> InvalidParameter:
    return InvalidParameter(f"invalid seccomp profile: {message}")


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _decode_error(f"{what} must be a list of strings")
    return list(value)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _decode_error(f"{what} must be an object")
    return value


def _uint(value: Any, what: str, limit: int = _U64) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise _decode_error(f"{what} must be an unsigned integer below {limit}")
    return value


def parse_profile(text: str) -> dict[str, Any]:
    """A profile's JSON text as a dict, its shape checked (``InvalidParameter`` with Docker's prefix)."""
    try:
        profile = json.loads(text)
    except (ValueError, RecursionError) as error:
        hint = " (send the profile's JSON, not its path)" if text.startswith("/") else ""
        raise _decode_error(f"{error}{hint}") from None
    if not isinstance(profile, dict):
        raise _decode_error("the profile must be a JSON object")
    if not isinstance(profile.get("defaultAction", ""), str):
        raise _decode_error("defaultAction must be a string")
    if not isinstance(profile.get("syscalls") or [], list):
        raise _decode_error("syscalls must be a list")
    return profile


# --------------------------------------------------------------------------- translation


def _minimum_kernel(filters: dict[str, Any], kernel: tuple[int, int]) -> bool | None:
    """Whether ``kernel`` is at least the filter's ``minKernel`` (None when there is none)."""
    wanted = filters.get("minKernel")
    if wanted in (None, ""):
        return None
    match = _KERNEL_VERSION.match(wanted) if isinstance(wanted, str) else None
    if not match:
        raise _decode_error(f'invalid kernel version {wanted!r}, expected "<kernel>.<major>"')
    return kernel >= (int(match.group(1)), int(match.group(2)))


def _applies(rule: dict[str, Any], caps: frozenset[str], arch: str, kernel: tuple[int, int]) -> bool:
    """Docker's conditions: every include holds and no exclude does."""
    excludes = _object(rule.get("excludes"), "excludes")
    includes = _object(rule.get("includes"), "includes")
    if arch in _strings(excludes.get("arches"), "excludes.arches"):
        return False
    if any(cap in caps for cap in _strings(excludes.get("caps"), "excludes.caps")):
        return False
    if _minimum_kernel(excludes, kernel):
        return False
    arches = _strings(includes.get("arches"), "includes.arches")
    if arches and arch not in arches:
        return False
    if not all(cap in caps for cap in _strings(includes.get("caps"), "includes.caps")):
        return False
    return _minimum_kernel(includes, kernel) is not False


def _action(value: Any) -> str:
    if value not in ACTIONS:
        raise _invalid(f"unknown action {value!r}")
    return str(value)


def _argument(arg: Any) -> dict[str, Any]:
    arg = _object(arg, "an argument")
    operator = arg.get("op")
    if operator not in OPERATORS:
        raise _invalid(f"unknown argument operator {operator!r}")
    return {"index": _uint(arg.get("index", 0), "args.index", 6), "value": _uint(arg.get("value", 0), "args.value"),
            "valueTwo": _uint(arg.get("valueTwo", 0), "args.valueTwo"), "op": operator}


def _syscall(rule: dict[str, Any]) -> dict[str, Any]:
    name, names = rule.get("name"), _strings(rule.get("names"), "names")
    if name and names:
        raise _invalid("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'")
    if name:
        if not isinstance(name, str):
            raise _decode_error("name must be a string")
        names = [name]
    if not names:
        raise _invalid("a syscall rule names no syscall")
    call: dict[str, Any] = {"names": names, "action": _action(rule.get("action"))}
    if rule.get("errnoRet") is not None:
        call["errnoRet"] = _uint(rule["errnoRet"], "errnoRet", 2**32)
    if not isinstance(rule.get("args") or [], list):
        raise _decode_error("args must be a list")
    args = [_argument(arg) for arg in rule.get("args") or []]
    if args:
        call["args"] = args
    return call


def _architectures(profile: dict[str, Any], arch: str) -> list[str]:
    architectures = _strings(profile.get("architectures"), "architectures")
    arch_map = profile.get("archMap") or []
    if not isinstance(arch_map, list):
        raise _decode_error("archMap must be a list")
    if architectures and arch_map:
        raise _invalid("'architectures' and 'archMap' were specified in the seccomp profile, "
                       "use either 'architectures' or 'archMap'")
    for entry in arch_map:
        entry = _object(entry, "an archMap entry")
        if entry.get("architecture") == SECCOMP_ARCHES.get(arch):
            architectures = [entry["architecture"], *_strings(entry.get("subArchitectures"), "subArchitectures")]
            break
    for name in architectures:
        if name not in ARCHITECTURES:
            raise _invalid(f"unknown architecture {name!r}")
    return architectures


def translate(profile: dict[str, Any], capabilities: Iterable[str], arch: str | None = None,
              kernel: tuple[int, int] | None = None) -> dict[str, Any] | None:
    """The OCI ``linux.seccomp`` object for a container whose bounding set is ``capabilities``.

    ``arch`` (libseccomp native name) and ``kernel`` default to this machine's. None when the
    profile has neither a default action nor rules (Docker's "seccomp disabled"). Raises
    :class:`~moor.errors.InvalidParameter` for a profile runc would refuse.
    """
    arch = arch or native_arch()
    kernel = kernel or kernel_version()
    caps = frozenset(capabilities)
    rules = profile.get("syscalls") or []
    if not profile.get("defaultAction") and not rules:
        return None
    result: dict[str, Any] = {"defaultAction": _action(profile.get("defaultAction"))}
    if profile.get("defaultErrnoRet") is not None:
        result["defaultErrnoRet"] = _uint(profile["defaultErrnoRet"], "defaultErrnoRet", 2**32)
    architectures = _architectures(profile, arch)
    if architectures:
        result["architectures"] = architectures
    flags = _strings(profile.get("flags"), "flags")
    for flag in flags:
        if flag not in FLAGS:
            raise _invalid(f"unknown flag {flag!r}")
    if flags:
        result["flags"] = flags
    if profile.get("listenerPath"):
        result["listenerPath"] = str(profile["listenerPath"])
    syscalls = []
    for rule in rules:
        rule = _object(rule, "a syscall rule")
        if _applies(rule, caps, arch, kernel):
            syscalls.append(_syscall(rule))
    result["syscalls"] = syscalls
    return result


# --------------------------------------------------------------------------- the default profile


@cache
def default_profile_text() -> str:
    """The default profile's JSON text, read once from the package data."""
    return resources.files("moor.containers").joinpath(PROFILE_RESOURCE).read_text(encoding="utf-8")


@lru_cache(maxsize=32)
def _default_for(capabilities: frozenset[str]) -> str:
    translated = translate(parse_profile(default_profile_text()), capabilities)
    return json.dumps(translated)


def default_profile(capabilities: Sequence[str]) -> dict[str, Any]:
    """The default profile translated for a container with this bounding set (a fresh dict each call)."""
    result: dict[str, Any] = json.loads(_default_for(frozenset(capabilities)))
    return result


def check_profile(text: str) -> None:
    """Refuse, with a 400, a profile runc could not load whatever the container's capabilities."""
    if not supported():
        raise InvalidParameter("seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
    profile = parse_profile(text)
    translate(profile, ())
    for rule in profile.get("syscalls") or []:
        rule = _object(rule, "a syscall rule")
        _applies(rule, frozenset(), native_arch(), kernel_version())
        _syscall(rule)


def custom_profile(text: str, capabilities: Sequence[str]) -> dict[str, Any] | None:
    """A profile given with ``--security-opt seccomp=<json>``, translated for this bounding set."""
    if not supported():
        raise InvalidParameter("seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
    return translate(parse_profile(text), capabilities)

