"""The one error tree of moor.

Every error moor raises on purpose is a :class:`MoorError`. Each branch maps
to one HTTP status (what moord answers) and one CLI exit code, so the API
layer and the CLI never guess::

    MoorError                      500  generic failure inside the engine
    ├── ConfigError                     the config file or a flag is wrong (moord does not start)
    ├── DriverLoadError                 a configured driver is missing or failed to load
    ├── InvalidParameter           400  the request is malformed or asks for something impossible
    │   └── RegistryUnreachable         a registry cannot be reached (connection, TLS, DNS)
    ├── Unauthorized               401  a registry refused the credentials (or their absence)
    ├── Forbidden                  403  the operation is not allowed on this object
    ├── NotFound                   404  the named object does not exist
    ├── Conflict                   409  the object is in a state that forbids the operation
    ├── RequestTimeout             408  the client sent its request too slowly
    ├── TooLarge                   413  the request body is larger than the daemon accepts
    ├── NotModified                304  the operation was a no-op (already started, ...)
    ├── Unsupported                501  a feature moord does not have (Docker's experimental ones)
    └── Unavailable                503  a dependency (runtime, driver, daemon) is not there

Drivers translate foreign errors (``OSError``, ``NetlinkError``, ...) into
this tree at their boundary; nothing else crosses it.
"""

from __future__ import annotations


class MoorError(Exception):
    """Base of every error moor raises on purpose."""

    status: int = 500
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(MoorError):
    """The configuration file or a command-line flag is invalid."""

    exit_code = 1


class DriverLoadError(MoorError):
    """A driver named in the configuration is not installed or failed to load."""

    exit_code = 1


class InvalidParameter(MoorError):
    """The request is malformed or its values are not acceptable."""

    status = 400


class RegistryUnreachable(InvalidParameter):
    """A registry cannot be reached: connection refused, DNS, TLS or a timeout (one line says which)."""


class Unauthorized(MoorError):
    """A registry refused the credentials given, or asks for some where none were given."""

    status = 401


class Forbidden(MoorError):
    """The operation is not allowed on this object."""

    status = 403


class NotFound(MoorError):
    """The object the request names does not exist."""

    status = 404


class Conflict(MoorError):
    """The object is in a state that forbids the operation."""

    status = 409


class RequestTimeout(MoorError):
    """The client took too long to send its request (its body stalled)."""

    status = 408


class TooLarge(MoorError):
    """The request body is larger than the daemon accepts for it."""

    status = 413


class NotModified(MoorError):
    """The operation changed nothing (for example starting a running container)."""

    status = 304


class Unsupported(MoorError):
    """A feature moord does not have, answered as Docker answers a disabled one (checkpoints)."""

    status = 501


class Unavailable(MoorError):
    """Something the operation needs is not available right now."""

    status = 503
