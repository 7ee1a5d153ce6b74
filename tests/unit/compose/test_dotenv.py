"""compose's dotenv rules: keys, export, comments, quotes, escapes, multiline values, interpolation, errors."""

from __future__ import annotations

import os

import pytest

from moor.compose.errors import ComposeFileError
from moor.compose.loader.dotenv import parse_dotenv, read_env_file

ENV = {"HOME": "/home/me", "EMPTY": "", "TEST_VAR": "Test Value"}


def parse(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    return parse_dotenv(text, ".env", (environ if environ is not None else ENV).get)


def one(line: str) -> str:
    values = parse(line)
    assert len(values) == 1, values
    return next(iter(values.values()))


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("FOO=bar", "FOO", "bar"),
        ("FOO =bar", "FOO", "bar"),
        ("FOO= bar", "FOO", "bar"),
        ("  FOO=bar", "FOO", "bar"),
        ("\tFOO=bar\n", "FOO", "bar"),
        ("FOO=bar \t", "FOO", "bar"),
        ("FOO=bar\r\n", "FOO", "bar"),
        ("FOO.BAR=x", "FOO.BAR", "x"),
        ("a-b[0]=x", "a-b[0]", "x"),
        ("ÉTÉ=x", "ÉTÉ", "x"),
        ("FOO=foobar=", "FOO", "foobar="),
        ("FOO: bar", "FOO", "bar"),
        ("FOO: a=b", "FOO", "a=b"),
        ("FOO=1:B", "FOO", "1:B"),
        ("FOO=", "FOO", ""),
        ("FOO=''", "FOO", ""),
        # export
        ("export FOO=2", "FOO", "2"),
        ("export\tFOO=2", "FOO", "2"),
        ("  export FOO=2", "FOO", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO=2", "export_FOO", "2"),
        ('export FOO="export A"', "FOO", "export A"),
        # comments: " #" ends an unquoted value; "#" without a space does not
        ("FOO=bar # comment", "FOO", "bar"),
        ("FOO=bar #", "FOO", "bar"),
        ("FOO=123#not-a-comment", "FOO", "123#not-a-comment"),
        ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
        ("FOO='bar # baz' # comment", "FOO", "bar # baz"),
        # quotes
        ('FOO="bar"', "FOO", "bar"),
        ("FOO='bar'", "FOO", "bar"),
        ('FOO=" spaced "', "FOO", " spaced "),
        ('FOO="\'d\'"', "FOO", "'d'"),
        ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),
        ("FOO='it\\'s'", "FOO", "it's"),
        ('FOO=unquoted "inside"', "FOO", 'unquoted "inside"'),
        # escapes: only in double quotes
        ('FOO="a\\tb"', "FOO", "a\tb"),
        ("FOO=a\\tb", "FOO", "a\\tb"),
        ("FOO='a\\nb'", "FOO", "a\\nb"),
        ('FOO="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "FOO", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
        ('FOO="\\x07 \\u12e4 \\q \\01"', "FOO", "\\x07 \\u12e4 \\q \\01"),
        ('FOO="bar\\\\\\n\\ b"', "FOO", "bar\\\n\\ b"),
        ('FOO="trailing\\\\"', "FOO", "trailing\\"),
        # multiline values
        ('FOO="line 1\nline 2"', "FOO", "line 1\nline 2"),
        ("FOO='line 1\nline 2'", "FOO", "line 1\nline 2"),
        # interpolation: unquoted and double quoted, not single quoted
        ("FOO=$HOME/x", "FOO", "/home/me/x"),
        ("FOO=${HOME}", "FOO", "/home/me"),
        ('FOO="${HOME}"', "FOO", "/home/me"),
        ("FOO='${HOME}'", "FOO", "${HOME}"),
        ("FOO=$$HOME", "FOO", "$HOME"),
        ('FOO="\\$HOME"', "FOO", "$HOME"),
        ("FOO=${UNSET:-Default Value}", "FOO", "Default Value"),
        ("FOO=${EMPTY:-Default}", "FOO", "Default"),
        ("FOO=${EMPTY-Default}", "FOO", ""),
        ("FOO=${UNSET-Default}", "FOO", "Default"),
        ("FOO=${TEST_VAR:-Default}", "FOO", "Test Value"),
        ("FOO=${TEST_VAR?error}", "FOO", "Test Value"),
        ("FOO=${EMPTY?error}", "FOO", ""),
        ("FOO=${TEST_VAR:+set}", "FOO", "set"),
        ("FOO=${UNSET:+set}", "FOO", ""),
        ("FOO=${UNSET:-${HOME}/x}", "FOO", "/home/me/x"),
        ("FOO=$UNSET", "FOO", ""),
    ],
)
def test_lines(line: str, key: str, value: str) -> None:
    assert parse(line) == {key: value}


def test_a_file() -> None:
    text = (
        "\ufeff# a comment\n"
        "\n"
        "A=1\n"
        "   # indented comment\n"
        "export B = two words # comment\n"
        'C="multi\n'
        'line $A"\n'
        "D='literal $A'\n"
        "HOME\n"
        "UNSET_INHERITED\n"
        "E=${A}-${B}\n"
        "A=2\n"
        "F=$A\n"
    )
    assert parse(text) == {
        "A": "2",
        "B": "two words",
        "C": "multi\nline 1",
        "D": "literal $A",
        "HOME": "/home/me",
        "E": "1-two words",
        "F": "2",
    }


def test_the_lookup_wins_over_the_files_own_values() -> None:
    # compose-go looks a name up in the environment first, then in the values the file set above
    assert parse("HOME=/elsewhere\nX=$HOME\n") == {"HOME": "/elsewhere", "X": "/home/me"}
    assert parse("Y=own\nX=$Y\n") == {"Y": "own", "X": "own"}


def test_inherited_key_at_the_end_without_newline() -> None:
    assert parse("A=1\nHOME") == {"A": "1", "HOME": "/home/me"}
    assert parse("A=1\nNOPE") == {"A": "1"}


def test_export_alone_sets_nothing() -> None:
    assert parse("export\nA=1\nexport   \n") == {"A": "1"}


def test_keys_starting_with_digits_are_kept() -> None:
    assert parse("1A=x\n") == {"1A": "x"}


def test_values_keep_their_order() -> None:
    assert list(parse("Z=1\nA=2\nM=3\n")) == ["Z", "A", "M"]


def test_unset_variables_warn_once_each() -> None:
    warnings: list[str] = []
    parse_dotenv("A=$NOPE\nB=${NOPE}\nC=${NOPE:-x}\n", ".env", {}.get, warn=warnings.append)
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.'] * 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nFOO BAR=x\n", r"^failed to read \.env: line 2: key cannot contain a space$"),
        ("FOO!=1\n", r'line 1: unexpected character "!" in variable name "FOO!=1"'),
        ("A=1\nFO'O=1\n", r'line 2: unexpected character "\'" in variable name "FO\'O=1"'),
        ('A=1\nKEY="\n', r"line 2: unterminated quoted value \""),
        ('KEY="value', r"line 1: unterminated quoted value"),
        ('KEY="value\\"', r"unterminated quoted value"),
        ("KEY='value\"", r"unterminated quoted value"),
        ("KEY='value\\'", r"unterminated quoted value"),
        ("A=1\n\nB=${NEED:?set NEED first}\n", r"line 3: required variable NEED is missing a value: set NEED first"),
        ("B=${EMPTY:?}\n", r"line 1: required variable EMPTY is missing a value$"),
        ("B=${NOPE?}\n", r"required variable NOPE is missing a value"),
        ("B=${}\n", r"line 1: invalid interpolation format"),
        ("B=${A B}\n", r"invalid interpolation format"),
        ('X="a\nb"\nB="${NOPE:?x}"\n', r"line 3: required variable NOPE"),
        ("=value\n", r"line 1: no variable name before the '='"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeFileError, match=message) as caught:
        parse(text)
    assert str(caught.value).startswith("failed to read .env: line ")


def test_read_env_file(tmp_path) -> None:
    path = tmp_path / "app.env"
    path.write_bytes(b"\xef\xbb\xbfA=\xc3\xa9\nB=$A$A\n")
    assert read_env_file(str(path), {}.get) == {"A": "é", "B": "éé"}


def test_read_env_file_errors(tmp_path) -> None:
    missing = tmp_path / "missing.env"
    with pytest.raises(ComposeFileError, match=rf"^couldn't find env file: {missing}$"):
        read_env_file(str(missing), {}.get)
    with pytest.raises(ComposeFileError, match=rf"^{tmp_path} is a directory$"):
        read_env_file(str(tmp_path), {}.get)
    bad = tmp_path / "bad.env"
    bad.write_bytes(b"A=1\nB=\xff\n")
    with pytest.raises(ComposeFileError, match=r"bad.env: line 2: invalid UTF-8 \(byte 0xff\)"):
        read_env_file(str(bad), {}.get)
    broken = tmp_path / "broken.env"
    broken.write_text("A B=1\n")
    with pytest.raises(ComposeFileError, match=rf"^failed to read {broken}: line 1: key cannot contain a space$"):
        read_env_file(str(broken), {}.get)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_read_env_file_unreadable(tmp_path) -> None:
    path = tmp_path / "secret.env"
    path.write_text("A=1\n")
    path.chmod(0)
    with pytest.raises(ComposeFileError, match=r"couldn't read env file"):
        read_env_file(str(path), {}.get)


def test_raw_format_takes_lines_as_written() -> None:
    text = '# comment\n  A="quoted" # not a comment\nB=$HOME ${X:?no}\nHOME\nNOPE\n\nC=\nD = x\n'
    with pytest.raises(ComposeFileError, match=r"^failed to parse env_file raw.env: line 8: variable 'D ' contains "
                                               r"whitespaces$"):
        parse_dotenv(text, "raw.env", ENV.get, format="raw")
    assert parse_dotenv(text.replace("D = x\n", ""), "raw.env", ENV.get, format="raw") == {
        "A": '"quoted" # not a comment', "B": "$HOME ${X:?no}", "HOME": "/home/me", "C": ""}
    with pytest.raises(ComposeFileError, match=r"line 1: no variable name on line '=x'"):
        parse_dotenv("=x\n", "raw.env", ENV.get, format="raw")


def test_formats(tmp_path) -> None:
    path = tmp_path / "f.env"
    path.write_text('A="x"\n')
    assert read_env_file(str(path), {}.get) == {"A": "x"}
    assert read_env_file(str(path), {}.get, format="dotenv") == {"A": "x"}
    assert read_env_file(str(path), {}.get, format="raw") == {"A": '"x"'}
    with pytest.raises(ComposeFileError, match=r'^unsupported env_file format "yaml": '):
        read_env_file(str(path), {}.get, format="yaml")
