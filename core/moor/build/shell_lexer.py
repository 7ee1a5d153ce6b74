"""Variable expansion and word splitting of Dockerfile arguments, with BuildKit's shell-lexer rules.

The rules (Docker 20.10's classic builder uses the same lexer): ``$VAR``, ``${VAR}``, ``${VAR:-word}``,
``${VAR:+word}``, ``${VAR:?message}``, ``${VAR?message}``; beyond 20.10, as newer BuildKit: ``${VAR-word}``,
``${VAR+word}``, ``${VAR#pattern}``, ``${VAR##pattern}``, ``${VAR%pattern}``, ``${VAR%%pattern}``,
``${VAR/pattern/replacement}``, ``${VAR//pattern/replacement}``. Single quotes keep everything literal,
double quotes keep all but ``$`` and the escape character (which escapes only ``"``, ``$`` and itself
there), the escape character (``\\`` or the ``# escape=`` one) escapes any character outside quotes.
``process_words`` splits on white space *after* substitution, keeping quoted text in one word. Errors
read as Docker's: ``failed to process "${x:?}": x: is not allowed to be empty``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from moor.errors import InvalidParameter

_SPECIAL_PARAMS = "@*#?-$!0"
_GO_SPACES = "\t\n\v\f\r \x85\xa0"


class _Failure(Exception):
    """A lexing error (wrapped with the word being processed by the caller)."""


def _is_space(char: str) -> bool:
    """Go's unicode.IsSpace."""
    return char in _GO_SPACES or (ord(char) > 0xFF and char.isspace())


class _Words:
    """The words being split (BuildKit's wordsStruct)."""

    def __init__(self) -> None:
        self.buffer: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, char: str) -> None:
        if _is_space(char):
            if self.in_word and self.buffer:
                self.words.append("".join(self.buffer))
                self.buffer = []
                self.in_word = False
        else:
            self.add_raw_char(char)

    def add_raw_char(self, char: str) -> None:
        self.buffer.append(char)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for char in text:
            self.add_char(char)

    def add_raw_string(self, text: str) -> None:
        self.buffer.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buffer and "".join(self.buffer):
            self.words.append("".join(self.buffer))
            self.buffer = []
        return self.words


class _Scan:
    """One word being processed: a cursor over its characters, the environment, the names used."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, quotes: bool = True) -> None:
        self.text = text
        self.quotes = quotes
        self.pos = 0
        self.env = env
        self.escape = escape
        self.matched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        if char:
            self.pos += 1
        return char

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        return "", False

    def until(self, stop: str, raw_escapes: bool = False) -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed) or the end (``stop`` empty); the text and its words."""
        result: list[str] = []
        words = _Words()
        while self.peek():
            char = self.peek()
            if stop and char == stop:
                self.next()
                return "".join(result), words.result()
            if char == "$":
                text = self.dollar()
                result.append(text)
                words.add_string(text)
            elif char == "<":
                text = self.possible_heredoc()
                result.append(text)
                words.add_raw_string(text)
            elif char == "'" and self.quotes:
                text = self.single_quote()
                result.append(text)
                words.add_raw_string(text)
            elif char == '"' and self.quotes:
                text = self.double_quote()
                result.append(text)
                words.add_raw_string(text)
            else:
                char = self.next()
                if char == self.escape:
                    if raw_escapes:
                        words.add_raw_char(char)
                        result.append(char)
                    char = self.next()
                    if not char:
                        break
                    words.add_raw_char(char)
                else:
                    words.add_char(char)
                result.append(char)
        if stop:
            raise _Failure(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        self.next()
        result: list[str] = []
        while True:
            char = self.next()
            if not char:
                raise _Failure("unexpected end of statement while looking for matching single-quote")
            if char == "'":
                return "".join(result)
            result.append(char)

    def double_quote(self) -> str:
        self.next()
        result: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise _Failure("unexpected end of statement while looking for matching double-quote")
            if char == '"':
                self.next()
                return "".join(result)
            if char == "$":
                result.append(self.dollar())
                continue
            char = self.next()
            if char == self.escape:
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    char = self.next()
            result.append(char)

    def possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        spaces = []
        while self.peek() in ("\t", "\r", " ") and self.peek():
            spaces.append(self.next())
        return "<<" + "".join(spaces)

    def name(self) -> str:
        """A variable name: letters, digits, ``_``; or all digits; or one special parameter."""
        first = self.peek()
        if first and first.isdecimal():
            start = self.pos
            while self.peek() and self.peek().isdecimal():
                self.next()
            return self.text[start:self.pos]
        if first and first in _SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalpha() or self.peek().isdecimal() or self.peek() == "_"):
            self.next()
        return self.text[start:self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()
        following = self.peek()
        if not following:
            raise _Failure("syntax error: missing '}'")
        if following in "{}:":
            raise _Failure("syntax error: bad substitution")
        name = self.name()
        char = self.next()
        if char == "}":
            return self.lookup(name)[0]
        if char == ":":
            modifier = self.next()
            if modifier in ("#", "%"):
                raise _Failure(f"unsupported modifier (:{modifier}) in substitution")
            word = self.operand("}")
            if modifier not in ("-", "+", "?"):
                raise _Failure(f"unsupported modifier ({modifier}) in substitution")
            return self.apply(name, modifier, word, null_is_unset=True)
        if char in ("-", "+", "?"):
            return self.apply(name, char, self.operand("}"), null_is_unset=False)
        if char in ("#", "%"):
            return self.trim(name, char, self.operand("}", raw_escapes=True))
        if char == "/":
            return self.substitute(name)
        raise _Failure("missing ':' in substitution")

    def operand(self, stop: str, raw_escapes: bool = False) -> str:
        """The word of a ``${name<op>word}`` up to its closing character."""
        try:
            return self.until(stop, raw_escapes)[0]
        except _Failure:
            if not self.peek():
                raise _Failure("syntax error: missing '}'") from None
            raise

    def apply(self, name: str, modifier: str, word: str, null_is_unset: bool) -> str:
        value, is_set = self.lookup(name)
        missing = not is_set or (null_is_unset and value == "")
        if modifier == "-":
            return word if missing else value
        if modifier == "+":
            return "" if missing else word
        if not is_set:
            raise _Failure(f"{name}: {word or 'is not allowed to be unset'}")
        if null_is_unset and value == "":
            raise _Failure(f"{name}: {word or 'is not allowed to be empty'}")
        return value

    def trim(self, name: str, operator: str, word: str) -> str:
        """``${name#pattern}`` and friends: remove the shortest (longest when doubled) prefix/suffix match."""
        value, _ = self.lookup(name)
        greedy = word.startswith(operator)
        if greedy:
            word = word[1:]
        if operator == "#":
            return _trim_prefix(word, value, greedy)
        return _trim_prefix(_reverse_pattern(word), value[::-1], greedy)[::-1]

    def substitute(self, name: str) -> str:
        """``${name/pattern/replacement}`` (first match) and ``${name//pattern/replacement}`` (all)."""
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern = self.until("/", raw_escapes=True)[0]
        except _Failure:
            if not self.peek():
                raise _Failure("syntax error: missing '/' in ${}") from None
            raise
        replacement = self.operand("}", raw_escapes=True)
        value, _ = self.lookup(name)
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _: replacement, value)
        return regex.sub(lambda _: replacement, value, count=1)


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, ``\\`` escapes; no brackets) as a regular expression."""
    out = ["^"] if anchored else []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(".*" if greedy else ".*?")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            following = pattern[index:index + 1]
            if following in ("}", "/"):
                continue
            index += 1
            if following not in ("*", "?", "\\"):
                raise _Failure(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append(re.escape(following))
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """A pattern reversed, keeping each escape before the character it escapes."""
    tokens = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            tokens.append(pattern[index:index + 2])
            index += 2
        else:
            tokens.append(pattern[index])
            index += 1
    return "".join(reversed(tokens))


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class ShellLexer:
    """Expands variables in Dockerfile words and splits them, as BuildKit's shell lexer does.

    ``process_quotes=False`` leaves quotes as ordinary characters (BuildKit expands a COPY heredoc's
    content that way).
    """

    def __init__(self, escape: str = "\\", process_quotes: bool = True) -> None:
        self.escape = escape
        self.process_quotes = process_quotes

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """``word`` with its variables expanded and its quotes and escapes removed (one string)."""
        return self.process_word_with_matches(word, env)[0]

    def process_word_with_matches(self, word: str, env: Mapping[str, str]) -> tuple[str, set[str]]:
        """As :meth:`process_word`, plus the names of the variables it found set in ``env``."""
        scan = _Scan(word, env, self.escape, self.process_quotes)
        result = self._run(scan, word)[0]
        return result, scan.matched

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """``word`` expanded, then split on white space outside quotes (Docker's ProcessWords)."""
        return self._run(_Scan(word, env, self.escape, self.process_quotes), word)[1]

    @staticmethod
    def _run(scan: _Scan, word: str) -> tuple[str, list[str]]:
        try:
            return scan.until("")
        except _Failure as error:
            raise InvalidParameter(f"failed to process {_go_quote(word)}: {error}") from None
