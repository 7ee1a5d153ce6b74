"""``.env``, ``--env-file`` and a service's ``env_file``: compose's dotenv rules (compose-go's dotenv package),
and the ``raw`` format of ``env_file`` entries (the docker CLI's ``--env-file`` rules).

One statement after another, blank lines and ``#`` lines skipped:

- ``KEY=value`` or ``KEY: value``; ``export KEY=value``; keys of letters, digits, ``_ . - [ ]`` (a space in
  a key is an error, and so is any other character);
- ``KEY`` alone on its line takes its value from ``lookup`` (left out when unset);
- unquoted values run to the end of the line, lose a `` #comment`` (a ``#`` after a space) and trailing
  white space, then are interpolated;
- ``'single quoted'`` values are literal (``\\'`` is a quote) and may span lines;
- ``"double quoted"`` values may span lines, understand ``\\n \\t \\r \\a \\b \\f \\v \\\\ \\" \\$`` and
  ``\\0NNN`` (octal), then are interpolated;
- interpolation is :mod:`moor.compose.loader.interpolation`'s (all its forms, ``$$`` a literal ``$``), each
  name looked up in ``lookup`` first, then in the values the file set above it.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable

from moor.compose.errors import ComposeFileError
from moor.compose.loader.interpolation import InterpolationError, expand

Lookup = Callable[[str], "str | None"]
Warn = Callable[[str], None]

# white space that is not a line break (compose-go's isSpace)
_SPACE = "\t\v\f\r \x85\xa0"
_EXPORT = re.compile(r"export\s+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')
_ESCAPES = {"a": "\a", "b": "\b", "c": "\\c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "\\": "\\"}


class _Error(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_dotenv(
    text: str, filename: str, lookup: Lookup, *, warn: Warn | None = None, format: str | None = None
) -> dict[str, str]:
    """The variables ``text`` sets, in order. ``ComposeFileError`` (``failed to read FILE: line N: ...``) for a
    malformed line or a failed interpolation (``${VAR:?message}``).

    ``format`` is an ``env_file`` entry's: None or ``"dotenv"`` for compose's rules, ``"raw"`` for the
    ``docker run --env-file`` rules (``KEY=VALUE`` lines taken as written, no quotes, no interpolation)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if format == "raw":
        return _parse_raw(text, filename, lookup)
    if format not in (None, "", "dotenv", ".env"):
        raise ComposeFileError(f'unsupported env_file format "{format}": {filename}')
    try:
        return _Parser(text, lookup, warn).parse()
    except _Error as error:
        raise ComposeFileError(f"failed to read {filename}: line {error.line}: {error.message}") from None


def _parse_raw(text: str, filename: str, lookup: Lookup) -> dict[str, str]:
    """The docker CLI's env-file rules: blank and ``#`` lines skipped, ``KEY=VALUE`` as written, ``KEY`` alone
    from ``lookup``; a key with a blank inside, or none, is an error."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key = key.lstrip(" \t")
        if " " in key or "\t" in key:
            raise ComposeFileError(f"failed to parse env_file {filename}: line {number}: variable '{key}' contains "
                                   "whitespaces")
        if not key:
            raise ComposeFileError(f"failed to parse env_file {filename}: line {number}: no variable name on line "
                                   f"'{line}'")
        if equals:
            values[key] = value
        else:
            found = lookup(line)
            if found is not None:
                values[key] = found
    return values


def read_env_file(
    path: str, lookup: Lookup, *, warn: Warn | None = None, format: str | None = None
) -> dict[str, str]:
    """The variables the env file at ``path`` sets (``format`` as :func:`parse_dotenv`'s). ``ComposeFileError``:
    ``couldn't find env file: PATH``, ``PATH is a directory``, or what :func:`parse_dotenv` says."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise ComposeFileError(f"couldn't find env file: {os.path.abspath(path)}") from None
    except IsADirectoryError:
        raise ComposeFileError(f"{os.path.abspath(path)} is a directory") from None
    except OSError as error:
        raise ComposeFileError(f"couldn't read env file: {path}: {error.strerror or error}") from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ComposeFileError(f"failed to read {path}: line {line}: invalid UTF-8 (byte 0x{raw[error.start]:02x})"
                               ) from None
    return parse_dotenv(text, path, lookup, warn=warn, format=format)


class _Parser:
    def __init__(self, text: str, lookup: Lookup, warn: Warn | None) -> None:
        self.text = text
        self.position = 0
        self.line = 1
        self.lookup = lookup
        self.warn = warn
        self.values: dict[str, str] = {}

    def parse(self) -> dict[str, str]:
        while self.statement_start():
            key, inherited = self.key()
            if inherited:
                value = self.lookup(key) if key else None  # "export" alone on its line sets nothing
                if value is not None:
                    self.values[key] = value
                continue
            self.values[key] = self.value()
        return self.values

    def statement_start(self) -> bool:
        """Skips white space and comment lines; False at the end."""
        text = self.text
        while True:
            start = self.position
            while self.position < len(text) and text[self.position].isspace():
                self.position += 1
            self.line += text.count("\n", start, self.position)
            if self.position >= len(text):
                return False
            if text[self.position] != "#":
                return True
            end = text.find("\n", self.position)
            if end < 0:
                self.position = len(text)
                return False
            self.position = end

    def key(self) -> tuple[str, bool]:
        text = self.text
        export = _EXPORT.match(text, self.position)
        if export is not None:
            self.position += len("export")
            while self.position < len(text) and text[self.position] in _SPACE:
                self.position += 1
        start = self.position
        index = start
        while index < len(text):
            char = text[index]
            if char in "=:\n":
                break
            if not (char in _SPACE or char in "_.-[]" or char.isalnum()):
                end = text.find("\n", start)
                line = text[start : end if end >= 0 else len(text)]
                raise _Error(self.line, f'unexpected character "{char}" in variable name "{line}"')
            index += 1
        key = text[start:index].rstrip()
        inherited = index >= len(text) or text[index] == "\n"
        if not key and not inherited:
            raise _Error(self.line, "no variable name before the '='")
        if any(char.isspace() for char in key):
            raise _Error(self.line, "key cannot contain a space")
        if inherited:
            # KEY alone on its line: inherited from the environment
            self.position = index + 1
            self.line += 1
            return key, True
        self.position = index + 1
        while self.position < len(text) and text[self.position] in _SPACE:
            self.position += 1
        return key, False

    def value(self) -> str:
        text = self.text
        quote = text[self.position] if self.position < len(text) else ""
        if quote not in ("'", '"'):
            end = text.find("\n", self.position)
            if end < 0:
                end = len(text)
            raw = text[self.position : end]
            self.position = end + 1
            line = self.line
            self.line += 1
            comment = raw.find(" #")
            if comment >= 0:
                raw = raw[:comment]
            return self.expand(raw.rstrip(), line)
        line = self.line
        chars: list[str] = []
        escaped = False
        index = self.position + 1
        while index < len(text):
            char = text[index]
            index += 1
            if char == "\n":
                self.line += 1
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:  # \" in "..." or \' in '...'
                escaped = False
                chars.append(char)
                continue
            self.position = index
            value = "".join(chars)
            if quote == '"':
                value = self.expand(_unescape(value), line)
            return value
        end = text.find("\n", self.position)
        shown = text[self.position : end if end >= 0 else len(text)]
        raise _Error(line, f"unterminated quoted value {shown}")

    def expand(self, value: str, line: int) -> str:
        def lookup(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else self.values.get(name)

        try:
            return expand(value, lookup, warn=self.warn)
        except InterpolationError as error:
            if error.invalid:
                raise _Error(line, f"invalid interpolation format: {value!r}") from None
            raise _Error(line, error.message) from None


def _unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        text = match.group()
        if text == "\\$":
            return "$$"  # a literal $ for the interpolation that follows
        if text.startswith("\\0"):
            digits = text[2:]
            if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) <= 0o377:
                return chr(int(digits, 8))
            return text
        return _ESCAPES.get(text[1], text)

    return _ESCAPE.sub(replace, value)
