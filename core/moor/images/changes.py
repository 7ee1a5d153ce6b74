"""``--change`` instructions of ``import`` and ``commit``: Dockerfile lines applied to an image config.

As Docker's ``BuildFromConfig``: each change is parsed with the builder's grammar, its variables expanded
against the config's Env, and applied by the builder's own dispatch (:mod:`moor.build.dispatch`), so a
``--change`` does exactly what the same line does in a Dockerfile.
"""

from __future__ import annotations

import re
from typing import Any

from moor.build import dispatch
from moor.build.dockerfile import parse_instruction
from moor.build.instructions import expand_command, parse_command
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter

#: Docker's commit commands, and STOPSIGNAL (which moor also accepts)
ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")
#: Docker's container.Config with every field zero, as Go encodes it (its omitempty fields left out): the config
#: ``BuildFromConfig`` starts an import from, and what an image's inspect shows for a field its config lacks
ZERO_CONFIG: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
    "Labels": None,
}
#: what the builder puts before a Dockerfile's error, which a change (one line, no file) goes without
_PARSE_PREFIX = re.compile(r"^(?:dockerfile parse error line \d+: |failed to parse Dockerfile: )", re.IGNORECASE)


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Return a copy of the container config ``config`` with each change applied in order."""
    result = dict(config)
    cmd_set = False
    lexer = ShellLexer()
    for text in changes:
        text = text.strip()
        if not text:
            continue
        keyword = text.split(None, 1)[0]
        if keyword.upper() not in ALLOWED:
            raise InvalidParameter(f"{keyword.lower()} is not a valid change command")
        try:
            command = parse_command(parse_instruction(text))
            command = expand_command(command, lexer, dispatch.BuildArgs().expansion_env(result))
        except InvalidParameter as error:
            raise InvalidParameter(_PARSE_PREFIX.sub("", str(error))) from None
        change = dispatch.apply(command, result, cmd_set)
        result, cmd_set = change.config, change.cmd_set
    return result
