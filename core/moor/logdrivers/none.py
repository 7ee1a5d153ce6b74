"""The ``none`` log driver: the container's output is dropped."""

from __future__ import annotations

from moor import hookimpl
from moor.errors import InvalidParameter
from moor.types import ContainerRef, DriverContext, LogMessage


class _Discard:
    def write(self, message: LogMessage) -> None:
        return None

    def close(self) -> None:
        return None


class NoneLogDriver:
    """Drops every message; cannot be read back (``moor logs`` says so)."""

    def __init__(self, context: DriverContext) -> None:
        self.moor_log_validate(options={str(k): str(v) for k, v in context.options.items()})

    @hookimpl
    def moor_log_validate(self, options: dict[str, str]) -> bool:
        for key in options:
            raise InvalidParameter(f"unknown log opt '{key}' for none log driver")
        return True

    @hookimpl
    def moor_log_open(self, container: ContainerRef) -> _Discard:
        return _Discard()
