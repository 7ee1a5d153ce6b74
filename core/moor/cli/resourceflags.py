"""Resource flags as Docker's CLI parses them (``-m 16m``, ``--cpus 1.5``, ``--restart on-failure:3``).

Shared by ``run``/``create`` and ``update``. A value Docker's CLI would refuse raises
:class:`click.UsageError` with Docker's text (``invalid argument "x" for "-m, --memory" flag: ...``),
which ``moor`` prints with the command's help hint and exit code 125, as Docker does.
"""

from __future__ import annotations

import re
from typing import Any

import click

#: go-units' RAMInBytes: a number, an optional binary unit, an optional "i" and "b".
_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_INTEGER = re.compile(r"^[+-]?\d+$")


def _flag_error(flag: str, value: str, reason: str) -> click.UsageError:
    return click.UsageError(f'invalid argument "{value}" for "{flag}" flag: {reason}',
                            ctx=click.get_current_context(silent=True))


def ram_in_bytes(text: str) -> int:
    """go-units' RAMInBytes (``16m`` -> 16777216); ValueError ``invalid size: '...'``."""
    match = _RAM.match(text)
    if not match:
        raise ValueError(f"invalid size: '{text}'")
    number, unit = match.groups()
    try:
        size = float(number)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    return int(size * _MULTIPLIERS[(unit or "").lower()])


def parse_memory(value: str, flag: str = "-m, --memory") -> int:
    try:
        return ram_in_bytes(str(value))
    except ValueError as err:
        raise _flag_error(flag, str(value), str(err)) from None


def parse_memory_swap(value: str, flag: str = "--memory-swap") -> int:
    """Docker's MemSwapBytes: ``-1`` (unlimited) or a size."""
    if str(value) == "-1":
        return -1
    return parse_memory(value, flag)


def parse_cpus(value: str, flag: str = "--cpus") -> int:
    """Docker's ParseCPUs: a rational number of CPUs as nano CPUs (``1.5`` -> 1500000000)."""
    from fractions import Fraction

    text = str(value)
    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise _flag_error(flag, text, f"failed to parse {text} as a rational number") from None
    nano = cpus * 10**9
    if nano.denominator != 1:
        raise _flag_error(flag, text, "value is too precise")
    return int(nano)


def parse_int(value: str | int, flag: str) -> int:
    text = str(value)
    if not _INTEGER.match(text):
        raise _flag_error(flag, text, f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def parse_restart_policy(text: str, flag: str = "--restart") -> dict[str, Any]:
    """Docker's ParseRestartPolicy: ``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    if not text:
        return {"Name": "", "MaximumRetryCount": 0}
    parts = text.split(":")
    if len(parts) > 2:
        raise _flag_error(flag, text, "invalid restart policy format")
    count = 0
    if len(parts) == 2:
        if not _INTEGER.match(parts[1]):
            raise _flag_error(flag, text, "maximum retry count must be an integer")
        count = int(parts[1])
    return {"Name": parts[0], "MaximumRetryCount": count}


def resource_flags_to_host_config(
    memory: str | None = None, memory_swap: str | None = None, cpus: str | None = None,
    cpu_shares: str | int | None = None, cpuset_cpus: str | None = None, pids_limit: str | int | None = None, *,
    cpu_period: str | int | None = None, cpu_quota: str | int | None = None, memory_reservation: str | None = None,
    cpuset_mems: str | None = None, blkio_weight: str | int | None = None,
) -> dict[str, Any]:
    """The HostConfig resource fields for the flags given (None: not given), Docker's names and units.

    A PidsLimit of 0 or less means unlimited, as in Docker.
    """
    result: dict[str, Any] = {}
    if memory is not None:
        result["Memory"] = parse_memory(memory)
    if memory_swap is not None:
        result["MemorySwap"] = parse_memory_swap(memory_swap)
    if memory_reservation is not None:
        result["MemoryReservation"] = parse_memory(memory_reservation, "--memory-reservation")
    if cpus is not None:
        result["NanoCpus"] = parse_cpus(cpus)
    if cpu_shares is not None:
        result["CpuShares"] = parse_int(cpu_shares, "-c, --cpu-shares")
    if cpu_period is not None:
        result["CpuPeriod"] = parse_int(cpu_period, "--cpu-period")
    if cpu_quota is not None:
        result["CpuQuota"] = parse_int(cpu_quota, "--cpu-quota")
    if cpuset_cpus is not None:
        result["CpusetCpus"] = str(cpuset_cpus)
    if cpuset_mems is not None:
        result["CpusetMems"] = str(cpuset_mems)
    if pids_limit is not None:
        result["PidsLimit"] = parse_int(pids_limit, "--pids-limit")
    if blkio_weight is not None:
        result["BlkioWeight"] = parse_int(blkio_weight, "--blkio-weight")
    return result
