"""A Dockerfile parsed with Docker's own grammar (the ``dockerfile`` package wraps BuildKit's Go parser).

The Go parser does the lines: the escape directive, continuation lines, comments (also inside a
continuation), heredocs, JSON versus shell form (invalid JSON falls back to shell form, as Docker).
This module adds what Docker 20.10 adds on top: its error messages (``dockerfile parse error line N:
unknown instruction: FOO``, ``the Dockerfile (Dockerfile) cannot be empty``, ``failed to parse
Dockerfile: ...``), the directives it reads (``# escape=`` honoured, ``# syntax=`` noted and ignored),
and the heredoc details the package leaves out (``<<-`` strips leading tabs; a quoted name turns
expansion off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as gofile  # type: ignore[import-not-found]

from moor.errors import InvalidParameter

KEYWORDS = frozenset(name.upper() for name in gofile.all_cmds())
"""Every instruction Docker knows."""

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<\s].*)$")
_LEADING_TABS = re.compile(r"(?m)^\t+")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


@dataclass(frozen=True)
class Heredoc:
    """An inline file of a RUN, COPY or ADD (``<<EOF`` ... ``EOF``).

    ``content`` is final except for variables: leading tabs are already gone with ``<<-`` (``chomp``);
    ``expand`` is False when the name was quoted (``<<"EOF"``, ``<<'EOF'``), so ``$x`` stays as written.
    ``file_descriptor`` is the number before ``<<`` (0 when none: the command's stdin).
    """

    name: str
    content: str
    file_descriptor: int = 0
    expand: bool = True
    chomp: bool = False


@dataclass(frozen=True)
class Instruction:
    """One instruction as written: its keyword (upper case), arguments and ``--flags``.

    ``args`` are the words as Docker's parser splits them (the shell form of RUN/CMD/ENTRYPOINT/
    SHELL/HEALTHCHECK CMD is one string; ENV and LABEL are key, value, key, value...; JSON form
    decoded when ``json``). ``original`` is the instruction's text with continuations joined,
    ``line``/``end_line`` its first and last line (1-based). ``sub`` is the trigger of an ONBUILD.
    """

    keyword: str
    args: tuple[str, ...]
    flags: tuple[str, ...] = ()
    json: bool = False
    original: str = ""
    line: int = 0
    end_line: int = 0
    heredocs: tuple[Heredoc, ...] = ()
    sub: Instruction | None = None


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its instructions, escape character, ``# syntax=`` (ignored), warnings and notes.

    ``warnings`` are Docker's own, verbatim (the classic builder streams them before Step 1 as
    ``{"stream": "\\u001b[91m" + "\\n".join(warnings) + "\\n\\u001b[0m"}``); ``notes`` are moor's
    (the ignored ``# syntax=`` directive), which Docker does not print.
    """

    instructions: list[Instruction]
    escape: str = "\\"
    syntax: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_error(line: int, message: str) -> InvalidParameter:
    """Docker's error for a bad instruction: ``dockerfile parse error line N: message``."""
    return InvalidParameter(f"dockerfile parse error line {line}: {message}")


def parse_dockerfile(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile as Docker 20.10 does; ``InvalidParameter`` with Docker's words when it is bad.

    ``name`` is the Dockerfile's name as the client gave it (only for the empty-file message).
    """
    if text == "":
        raise InvalidParameter(f"the Dockerfile ({name}) cannot be empty")
    if text.startswith("\ufeff"):
        text = text[1:]
    escape, syntax = _directives(text)
    try:
        commands = gofile.parse_string(text)
    except gofile.GoParseError as error:
        raise InvalidParameter(f"failed to parse Dockerfile: {error}") from None
    lines = text.splitlines()
    instructions = [_instruction(command, lines) for command in commands]
    for instruction in instructions:
        if instruction.keyword not in KEYWORDS:
            raise parse_error(instruction.line, f"unknown instruction: {instruction.keyword}")
    notes = []
    if syntax is not None:
        notes.append(f"the syntax directive ({syntax}) is ignored: moor parses Dockerfiles itself")
    warnings = _empty_continuation_warnings(text, instructions)
    return Dockerfile(instructions=instructions, escape=escape, syntax=syntax, warnings=warnings, notes=notes)


def parse_instruction(text: str) -> Instruction:
    """Parse one instruction written on its own: an ONBUILD trigger run in a child build.

    Errors read as Docker's child build words them, without a line: ``unknown instruction: FOO``.
    """
    try:
        commands = gofile.parse_string(text)
    except gofile.GoParseError as error:
        raise InvalidParameter(str(error)) from None
    instruction = _instruction(commands[0])
    if instruction.keyword not in KEYWORDS:
        raise InvalidParameter(f"unknown instruction: {instruction.keyword}")
    return instruction


def _directives(text: str) -> tuple[str, str | None]:
    """The escape character and the ``# syntax=`` value from the parser directives at the top."""
    escape = "\\"
    syntax: str | None = None
    for raw in text.splitlines():
        match = _DIRECTIVE.match(raw.strip())
        if match is None:
            break
        key, value = match.group(1).lower(), match.group(2)
        if key == "escape":
            escape = value
        elif key == "syntax":
            syntax = value
    return escape, syntax


def _instruction(command: gofile.Command, lines: list[str] | None = None) -> Instruction:
    """Our record of one of the Go parser's commands (``lines``: the file's, for an ONBUILD's heredocs)."""
    keyword = command.cmd.upper()
    sub = None
    original = command.original
    if keyword == "ONBUILD" and command.sub_cmd:
        if lines and "<<" in original and command.end_line > command.start_line:
            # the package drops an ONBUILD's heredoc bodies: the trigger is its lines as written
            original = "\n".join(lines[command.start_line - 1:command.end_line])
        expression = _ONBUILD_PREFIX.sub("", original)
        sub = _trigger(expression, command.start_line, command.end_line)
    heredocs = () if command.json else _heredocs(command)
    return Instruction(
        keyword=keyword, args=tuple(command.value), flags=tuple(command.flags), json=command.json,
        original=original, line=command.start_line, end_line=command.end_line,
        heredocs=heredocs, sub=sub)


def _trigger(expression: str, line: int, end_line: int) -> Instruction | None:
    """The instruction an ONBUILD wraps, with its own flags (the package drops them from ONBUILD)."""
    try:
        commands = gofile.parse_string(expression)
    except gofile.GoParseError:
        return None
    if not commands:
        return None
    inner = _instruction(commands[0], expression.splitlines())
    return Instruction(keyword=inner.keyword, args=inner.args, flags=inner.flags, json=inner.json,
                       original=inner.original, line=line, end_line=end_line, heredocs=inner.heredocs,
                       sub=inner.sub)


def _heredocs(command: gofile.Command) -> tuple[Heredoc, ...]:
    """The command's heredocs with the chomp and expand details read from their ``<<`` words."""
    if not command.heredocs:
        return ()
    markers = [match for word in " ".join(command.value).split()
               if (match := _HEREDOC_WORD.match(word)) is not None]
    result = []
    for index, heredoc in enumerate(command.heredocs):
        chomp, expand = False, True
        if index < len(markers):
            chomp = markers[index].group(2) == "-"
            expand = not any(quote in markers[index].group(3) for quote in "\"'")
        content = _LEADING_TABS.sub("", heredoc.content) if chomp else heredoc.content
        result.append(Heredoc(name=heredoc.name, content=content, file_descriptor=heredoc.file_descriptor,
                              expand=expand, chomp=chomp))
    return tuple(result)


def heredoc_words(words: tuple[str, ...] | list[str]) -> list[int]:
    """Indexes of the words that are heredoc markers (``<<EOF``, ``<<-"EOF"``, ``3<<EOF``)."""
    return [index for index, word in enumerate(words) if _HEREDOC_WORD.match(word)]


def _empty_continuation_warnings(text: str, instructions: list[Instruction]) -> list[str]:
    """Docker's warning for empty lines inside a continued instruction (they become errors later)."""
    lines = text.splitlines()
    found = []
    for instruction in instructions:
        if instruction.heredocs or instruction.end_line <= instruction.line:
            continue
        body = lines[instruction.line - 1:instruction.end_line]
        if any(not line.strip() for line in body[1:]):
            found.append(instruction.original)
    if not found:
        return []
    warnings = [f"[WARNING]: Empty continuation line found in:\n    {original}" for original in found]
    warnings.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return warnings
