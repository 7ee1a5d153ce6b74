"""``.dockerignore`` rules as Docker 20.10's CLI applies them, and Go's ``filepath.Match``.

Standard library only: the CLI imports this module on its fast path.

Reading a file (Docker's ``ReadAll``): a UTF-8 BOM is dropped, a line *starting* with ``#`` is a
comment, lines are trimmed, blank ones skipped; a leading ``!`` (trimmed again) makes an exception;
the rest is cleaned as ``filepath.Clean`` does and one leading ``/`` is dropped (``/a`` is ``a``,
``/../a`` is ``a``, ``../a`` stays ``../a`` and matches nothing).

Matching (Docker's ``PatternMatcher``): patterns apply in order and the last one that matches a path
decides (an exception un-excludes). A pattern matches the path itself or the first ``len(pattern
components)`` components of its parent directory. ``*`` is any run of characters but ``/``, ``?`` one
character but ``/``, ``[...]`` a class, ``\\`` escapes, ``**`` any number of directories (``**/a``,
``a/**``, ``a/**/b``).

Walking a context (Docker's ``TarWithOptions``): an excluded directory is left out with everything
below it, unless an exception pattern starts with that directory's path (``foo`` + ``!foo/bar``), in
which case the walk goes on inside it and each entry is decided on its own. The Dockerfile and the
ignore file are always sent: when the rules exclude them, exceptions are appended for them
(:meth:`IgnoreRules.keeping`, Docker's ``TrimBuildFilesFromExcludes``).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator

__all__ = ["IgnorePatternError", "IgnoreRules", "Pattern", "go_clean", "go_match", "has_meta", "read_patterns"]

_BOM = "\ufeff"


class IgnorePatternError(ValueError):
    """A malformed pattern (Go's ``syntax error in pattern``, or a lone ``!``)."""


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean``: lexical, ``..`` at the root vanishes, ``""`` is ``"."``."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


# ---------------------------------------------------------------------- Go's filepath.Match

def has_meta(pattern: str) -> bool:
    """Whether ``pattern`` holds one of Go's ``filepath.Match`` magic characters (``*?[\\``)."""
    return any(char in pattern for char in "*?[\\")


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Go's scanChunk: leading stars, then the chunk up to the next star outside a class."""
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 < len(pattern):
                index += 1
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            break
        index += 1
    return star, pattern[:index], pattern[index:]


def _get_escaped(chunk: str) -> tuple[str, str]:
    """Go's getEsc: one (possibly escaped) character of a class, and the rest of the chunk."""
    if not chunk or chunk[0] in "-]":
        raise IgnorePatternError("syntax error in pattern")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise IgnorePatternError("syntax error in pattern")
    char, rest = chunk[0], chunk[1:]
    if not rest:
        raise IgnorePatternError("syntax error in pattern")
    return char, rest


def _match_chunk(chunk: str, name: str) -> str | None:
    """Go's matchChunk: the rest of ``name`` after ``chunk`` matched its start, or None.

    Like Go, the whole chunk is checked for syntax even after the match failed.
    """
    failed = False
    while chunk:
        if not failed and not name:
            failed = True
        head = chunk[0]
        if head == "[":
            char = ""
            if not failed:
                char, name = name[0], name[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                low, chunk = _get_escaped(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _get_escaped(chunk[1:])
                if not failed and low <= char <= high:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
            continue
        if head == "?":
            if not failed:
                if name[0] == "/":
                    failed = True
                name = name[1:]
            chunk = chunk[1:]
            continue
        if head == "\\":
            chunk = chunk[1:]
            if not chunk:
                raise IgnorePatternError("syntax error in pattern")
        if not failed:
            if chunk[0] != name[0]:
                failed = True
            name = name[1:]
        chunk = chunk[1:]
    return None if failed else name


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match`` on Linux: whether ``name`` matches ``pattern`` as a whole.

    Raises :class:`IgnorePatternError` for a malformed pattern (Go's ``ErrBadPattern``).
    """
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing star matches the rest unless it holds a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            index, found = 0, False
            while index < len(name) and name[index] != "/":
                rest = _match_chunk(chunk, name[index + 1:])
                if rest is not None:
                    if not pattern and rest:
                        index += 1
                        continue
                    name, found = rest, True
                    break
                index += 1
            if found:
                continue
        while pattern:  # no match: the rest of the pattern must still be well-formed
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


# ---------------------------------------------------------------------- .dockerignore patterns

def read_patterns(text: str) -> list[str]:
    """The patterns of an ignore file, cleaned as Docker's ``ReadAll`` does (see the module docstring)."""
    patterns: list[str] = []
    for number, raw in enumerate(text.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def _translate(pattern: str) -> str:
    """A cleaned pattern as a regular expression for ``fullmatch`` (Docker's pattern compiler)."""
    out: list[str] = []
    index, length, in_class = 0, len(pattern), False
    while index < length:
        char = pattern[index]
        if char in "*?" and in_class:
            out.append("\\" + char)
        elif char == "*":
            if index + 1 < length and pattern[index + 1] == "*":
                index += 2
                if index < length and pattern[index] == "/":
                    index += 1
                out.append(".*" if index >= length else "(?:.*/)?")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if index + 1 < length:
                index += 1
                out.append(re.escape(pattern[index]))
            else:
                out.append("\\\\")
        elif char == "[" and not in_class:
            in_class = True
            out.append("[")
            if pattern.startswith("^", index + 1):
                index += 1
                out.append("^")
        elif char == "]" and in_class:
            in_class = False
            out.append("]")
        elif char == "-" and in_class:
            out.append("-")
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


class Pattern:
    """One cleaned pattern: ``text`` without its ``!``, ``exclusion`` for an exception, ``dirs`` its
    component count. (A plain class: ``dataclasses`` would cost the CLI ~10 ms of imports.)"""

    __slots__ = ("dirs", "exclusion", "regex", "text")

    def __init__(self, text: str, exclusion: bool, dirs: int, regex: re.Pattern[str] | None) -> None:
        self.text, self.exclusion, self.dirs, self.regex = text, exclusion, dirs, regex

    @classmethod
    def compile(cls, raw: str) -> Pattern:
        text = go_clean(raw.strip())
        exclusion = text.startswith("!")
        if exclusion:
            if len(text) == 1:
                raise IgnorePatternError('illegal exclusion pattern: "!"')
            text = text[1:]
        go_match(text, ".")  # syntax check, as Docker does
        try:
            regex: re.Pattern[str] | None = re.compile(_translate(text))
        except re.error:
            regex = None  # Go's regexp refused it too: the pattern matches nothing
        return cls(text, exclusion, len(text.split("/")), regex)

    def match(self, path: str) -> bool:
        return self.regex is not None and self.regex.fullmatch(path) is not None

    def __str__(self) -> str:
        return ("!" if self.exclusion else "") + self.text


class IgnoreRules:
    """The patterns of one ignore file; see the module docstring for the rules."""

    def __init__(self, patterns: list[str] | tuple[str, ...] = ()) -> None:
        self.sources = tuple(pattern for pattern in patterns if pattern.strip())
        self.patterns = tuple(Pattern.compile(pattern) for pattern in self.sources)
        self.has_exclusions = any(pattern.exclusion for pattern in self.patterns)

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        """The rules of an ignore file's ``text``; :class:`IgnorePatternError` for a malformed pattern."""
        return cls(read_patterns(text))

    @classmethod
    def read(cls, path: str) -> IgnoreRules:
        """The rules of the ignore file at ``path`` (none when it does not exist)."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return cls()
        return cls.parse(data.decode("utf-8", "surrogateescape"))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def keeping(self, *names: str) -> IgnoreRules:
        """These rules plus an exception for each of ``names`` they exclude (the Dockerfile, the ignore file)."""
        extra = [f"!{name}" for name in names if name and self.matches_entry(name)]
        return IgnoreRules([*self.sources, *extra]) if extra else self

    def matches_entry(self, path: str) -> bool:
        """Docker 20.10's ``Matches``: the path itself, or its parent's first components, decide.

        This is the per-entry test of a walk; :meth:`matches` is the answer for any path.
        """
        path = go_clean(path)
        if path == "." or not self.patterns:
            return False
        parent = posixpath.dirname(path)
        parent_dirs = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent_dirs and pattern.dirs <= len(parent_dirs):
                hit = pattern.match("/".join(parent_dirs[: pattern.dirs]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def descends(self, directory: str) -> bool:
        """Whether a walk enters the excluded ``directory`` anyway (an exception may apply below it)."""
        if not self.has_exclusions:
            return False
        prefix = go_clean(directory) + "/"
        return any(pattern.exclusion and (pattern.text + "/").startswith(prefix) for pattern in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether the context path ``path`` (relative, ``/``-separated) is left out of a context.

        True when the path itself is excluded, or one of its directories is excluded and not entered.
        """
        path = go_clean(path).lstrip("/")
        if path in (".", "") or not self.patterns:
            return False
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if self.matches_entry(directory) and not self.descends(directory):
                return True
        return self.matches_entry(path)

    def walk(self, root: str) -> Iterator[tuple[str, os.stat_result]]:
        """The entries of the directory ``root`` a context holds, in Docker's order (lexical, depth first).

        Yields ``(relative path, lstat)``; symbolic links are not followed. An excluded directory
        that is entered (see :meth:`descends`) is not yielded itself, only what is kept below it.
        """
        yield from self._walk(root, "")

    def _walk(self, root: str, relative: str) -> Iterator[tuple[str, os.stat_result]]:
        directory = os.path.join(root, relative) if relative else root
        for name in sorted(os.listdir(directory)):
            path = f"{relative}/{name}" if relative else name
            info = os.lstat(os.path.join(root, path))
            is_dir = stat.S_ISDIR(info.st_mode)
            if self.matches_entry(path):
                if is_dir and self.descends(path):
                    yield from self._walk(root, path)
                continue
            yield path, info
            if is_dir:
                yield from self._walk(root, path)
