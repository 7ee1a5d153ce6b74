"""Compose stacks kept as ordinary files: ``<data-dir>/stacks/<name>/compose.yaml`` and ``.env``.

The name is a compose project name (``[a-z0-9][a-z0-9_-]*``), so it never names anything outside the stacks
directory. A save writes both files into a fresh directory beside the stacks first, lets the caller validate
them there, then moves them into place: a stack on disk is always one that loaded.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COMPOSE_FILE = "compose.yaml"
ENV_FILE = ".env"
#: the compose loader refuses bigger files; an env file this size is already absurd
MAX_COMPOSE_BYTES = 1024 * 1024
MAX_ENV_BYTES = 256 * 1024
MAX_NAME_LENGTH = 63
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_TEMPORARY_PREFIX = ".new-"


class StackError(Exception):
    """A stack request that cannot be served; ``status`` is the HTTP status the UI answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_name(name: str) -> str:
    """``name`` when it is a valid stack (compose project) name, else StackError 400."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        raise StackError(400, f"invalid stack name {str(name)[:80]!r}: lowercase letters, digits, '-' and '_', "
                              f"starting with a letter or digit, at most {MAX_NAME_LENGTH} characters")
    return name


def check_contents(compose: object, env: object) -> tuple[str, str]:
    """The compose and env texts of a save, checked for type, size and NUL bytes."""
    if not isinstance(compose, str):
        raise StackError(400, '"compose" must be a string')
    if env is None:
        env = ""
    if not isinstance(env, str):
        raise StackError(400, '"env" must be a string')
    if not compose.strip():
        raise StackError(400, "the compose file is empty")
    for label, text, limit in (("compose file", compose, MAX_COMPOSE_BYTES), ("env file", env, MAX_ENV_BYTES)):
        if len(text.encode("utf-8", "surrogatepass")) > limit:
            raise StackError(400, f"the {label} is larger than {limit // 1024} KiB")
        if "\x00" in text:
            raise StackError(400, f"the {label} contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise StackError(400, f"the {label} is not valid Unicode text") from None
    return compose, env


@dataclass(frozen=True)
class StackFiles:
    """A stored stack's two files."""

    name: str
    compose: str
    env: str


#: ``validate(directory, compose_path, env_path)`` raises on a file that does not load
Validator = Callable[[Path, Path, Path], None]


class StackStore:
    """The stacks directory under the UI's data directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def directory(self, name: str) -> Path:
        """Where stack ``name`` lives (the compose project directory)."""
        return self.root / check_name(name)

    def compose_path(self, name: str) -> Path:
        return self.directory(name) / COMPOSE_FILE

    def names(self) -> list[str]:
        """The stored stacks, sorted (directories with a compose file and a valid name)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            if _NAME.match(entry.name) and len(entry.name) <= MAX_NAME_LENGTH and entry.is_dir(follow_symlinks=False) \
                    and os.path.isfile(os.path.join(entry.path, COMPOSE_FILE)):
                found.append(entry.name)
        return sorted(found)

    def exists(self, name: str) -> bool:
        return self.compose_path(name).is_file()

    def read(self, name: str) -> StackFiles:
        """The stack's files; StackError 404 when it is not stored."""
        directory = self.directory(name)
        try:
            compose = (directory / COMPOSE_FILE).read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            raise StackError(404, f"no such stack: {name}") from None
        try:
            env = (directory / ENV_FILE).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            env = ""
        return StackFiles(name, compose, env)

    def save(self, name: str, compose: object, env: object, validate: Validator | None = None) -> bool:
        """Write the stack's files after ``validate`` accepted them where they were written first; True when
        the stack is new. Nothing changes when ``validate`` raises (its exception passes through)."""
        compose, env = check_contents(compose, env)
        final = self.directory(name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_TEMPORARY_PREFIX, dir=self.root))
        try:
            for file_name, text in ((COMPOSE_FILE, compose), (ENV_FILE, env)):
                _write_private(staging / file_name, text)
            if validate is not None:
                validate(final, staging / COMPOSE_FILE, staging / ENV_FILE)
            if final.is_dir() and not final.is_symlink():
                os.replace(staging / ENV_FILE, final / ENV_FILE)
                os.replace(staging / COMPOSE_FILE, final / COMPOSE_FILE)
                return False
            os.chmod(staging, 0o700)
            os.rename(staging, final)
            return True
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove(self, name: str) -> bool:
        """The stack's directory removed; False when there was none."""
        directory = self.directory(name)
        if directory.is_symlink() or directory.is_file():
            directory.unlink()
            return True
        if not directory.is_dir():
            return False
        shutil.rmtree(directory)
        return True


def _write_private(path: Path, text: str) -> None:
    """``text`` written to a new file readable by its owner only (env files hold secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
