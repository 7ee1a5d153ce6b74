"""Variable expansion and word splitting with BuildKit's shell-lexer rules, and Docker's error words."""

from __future__ import annotations

import pytest

from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter

ENV = {"HOME": "/root", "EMPTY": "", "SPACED": "  a  b ", "NAME": "file.tar.gz", "PATHS": "/a/b/c/b"}


@pytest.mark.parametrize(("word", "expected"), [
    ("plain", "plain"),
    ("$HOME/x", "/root/x"),
    ("${HOME}x", "/rootx"),
    ("$UNSET-x", "-x"),
    ("$", "$"),
    ("$.", "$."),
    ("a$1b", "ab"),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${HOME:-dflt}", "/root"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${HOME:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${HOME:?must}", "/root"),
    ("${EMPTY?must}", ""),
    ("${UNSET:-$HOME/y}", "/root/y"),
    ("${UNSET:-'q t'}", "q t"),
    ("'$HOME'", "$HOME"),
    ('"$HOME"', "/root"),
    ('"a \\"b\\" \\$HOME \\x"', 'a "b" $HOME \\x'),
    ("\\$HOME", "$HOME"),
    ("a\\ b", "a b"),
    ("\\\\$HOME", "\\/root"),
    ("end\\", "end"),
    ("it''s", "its"),
    ("${NAME%.*}", "file.tar"),
    ("${NAME%%.*}", "file"),
    ("${NAME#*.}", "tar.gz"),
    ("${NAME##*.}", "gz"),
    ("${PATHS/b/X}", "/a/X/c/b"),
    ("${PATHS//b/X}", "/a/X/c/X"),
    ("${HOME}${HOME}", "/root/root"),
])
def test_process_word(word: str, expected: str) -> None:
    assert ShellLexer().process_word(word, ENV) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("a b  c", ["a", "b", "c"]),
    ("x$SPACED", ["x", "a", "b"]),
    ('x"$SPACED"y', ["x  a  b y"]),
    ("'a b' c", ["a b", "c"]),
    ("a\\ b c", ["a b", "c"]),
    ("", []),
    ('""', []),
    ("$UNSET", []),
])
def test_process_words(word: str, expected: list[str]) -> None:
    assert ShellLexer().process_words(word, ENV) == expected


def test_backtick_escape() -> None:
    lexer = ShellLexer("`")
    assert lexer.process_word("c:\\dir `$HOME", ENV) == "c:\\dir $HOME"
    assert lexer.process_word("\\$HOME", ENV) == "\\/root"


def test_quotes_kept_when_not_processed() -> None:
    assert ShellLexer(process_quotes=False).process_word("say \"$HOME\" 'x' \\$y", ENV) == "say \"/root\" 'x' $y"


def test_matches_name_the_variables_found() -> None:
    result, matched = ShellLexer().process_word_with_matches("$HOME ${UNSET:-x} ${EMPTY}", ENV)
    assert result == "/root x " and matched == {"HOME", "EMPTY"}


@pytest.mark.parametrize(("word", "message"), [
    # Docker 20.10's own words (recorded from dockerd; see data/docker_parse_errors.json)
    ("${b:?bad}", 'failed to process "${b:?bad}": b: bad'),
    ("${b", "failed to process \"${b\": missing ':' in substitution"),
    ("${b:x}", 'failed to process "${b:x}": unsupported modifier (x) in substitution'),
    ("${}", 'failed to process "${}": syntax error: bad substitution'),
    ("${b?}", 'failed to process "${b?}": b: is not allowed to be unset'),
    ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
    ("${", "failed to process \"${\": syntax error: missing '}'"),
    ("${b:-x", "failed to process \"${b:-x\": syntax error: missing '}'"),
    ("'open", 'failed to process "\'open": unexpected end of statement while looking for matching single-quote'),
    ('"open', 'failed to process "\\"open": unexpected end of statement while looking for matching double-quote'),
])
def test_errors(word: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        ShellLexer().process_word(word, ENV)
    assert str(caught.value) == message
