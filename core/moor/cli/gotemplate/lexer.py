"""Go's text/template lexer: a template's text cut into items, as ``text/template/parse/lex.go`` cuts it."""

from __future__ import annotations

# item kinds
ERROR = "error"
EOF = "EOF"
TEXT = "text"
LEFT = "{{"
RIGHT = "}}"
SPACE = "space"
IDENT = "identifier"
FIELD = "field"
VARIABLE = "variable"
STRING = "string"
RAW = "raw string"
CHAR = "char constant"
NUMBER = "number"
BOOL = "bool"
NIL = "nil"
DOT = "."
PIPE = "|"
LPAREN = "("
RPAREN = ")"
DECLARE = ":="
ASSIGN = "="
CHAR_ITEM = "char"
KEYWORD = "keyword"

KEYWORDS = frozenset(("block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
                      "with"))
SPACES = " \t\r\n"


class Item:
    """One lexed item: its kind, its byte offset in the template, its text and its line."""

    __slots__ = ("kind", "line", "pos", "val")

    def __init__(self, kind: str, pos: int, val: str, line: int) -> None:
        self.kind = kind
        self.pos = pos
        self.val = val
        self.line = line

    def __str__(self) -> str:
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind in (KEYWORD, DOT, NIL):
            return f"<{self.val}>"
        if len(self.val) > 10:
            return f'"{self.val[:10]}"...'
        return '"' + self.val.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


class Lexer:
    """Items of ``text``, produced all at once (Go produces them lazily; the parser sees the same order)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.items: list[Item] = []
        self.paren_depth = 0
        # byte offsets: Go reports positions in bytes
        self._ascii = text.isascii()

    # ------------------------------------------------------------------ helpers
    def _byte_pos(self, index: int) -> int:
        return index if self._ascii else len(self.text[:index].encode("utf-8", "surrogatepass"))

    def _emit(self, kind: str) -> None:
        self.items.append(Item(kind, self._byte_pos(self.start), self.text[self.start:self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def _ignore(self) -> None:
        self.line += self.text.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def _error(self, message: str) -> None:
        self.items.append(Item(ERROR, self._byte_pos(self.start), message, self.start_line))

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self.pos += 1
            if ch == "\n":
                self.line += 1
        return ch

    def _backup(self) -> None:
        self.pos -= 1
        if self.text[self.pos] == "\n":
            self.line -= 1

    # ------------------------------------------------------------------ states
    def run(self) -> list[Item]:
        text = self.text
        while True:
            index = text.find("{{", self.pos)
            if index < 0:
                self.pos = len(text)
                if self.pos > self.start:
                    self.line += text.count("\n", self.start, self.pos)
                    self._emit(TEXT)
                self.items.append(Item(EOF, self._byte_pos(self.pos), "", self.line))
                return self.items
            trim = text.startswith("-", index + 2) and text[index + 3:index + 4] in tuple(SPACES)
            self.pos = index
            if index > self.start:
                end = index
                if trim:
                    end = len(text[self.start:index].rstrip(SPACES)) + self.start
                if end > self.start:
                    self.line += text.count("\n", self.start, end)
                    self.pos = end
                    self._emit(TEXT)
                self.pos = index
            self._ignore()
            if not self._left_delim(trim):
                return self.items

    def _left_delim(self, trim: bool) -> bool:
        self.pos += 2
        after = self.pos + (2 if trim else 0)
        if self.text.startswith("/*", after):
            self.pos = after
            self._ignore()
            return self._comment()
        self._emit(LEFT)
        if trim:
            self.pos += 2
            self._ignore()
        self.paren_depth = 0
        return self._inside_action()

    def _at_right_delim(self) -> tuple[bool, bool]:
        text, pos = self.text, self.pos
        if pos + 1 < len(text) and text[pos] in SPACES and text[pos + 1] == "-" and text.startswith("}}", pos + 2):
            return True, True
        if text.startswith("}}", pos):
            return True, False
        return False, False

    def _right_delim(self, trim: bool) -> bool:
        if trim:
            self.pos += 2
            self._ignore()
        self.pos += 2
        self._emit(RIGHT)
        if trim:
            rest = self.text[self.pos:]
            self.pos += len(rest) - len(rest.lstrip(SPACES))
            self._ignore()
        return True

    def _comment(self) -> bool:
        self.pos += 2
        end = self.text.find("*/", self.pos)
        if end < 0:
            self._error("unclosed comment")
            return False
        self.pos = end + 2
        delim, trim = self._at_right_delim()
        if not delim:
            self._error("comment ends before closing delimiter")
            return False
        self._ignore()
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            rest = self.text[self.pos:]
            self.pos += len(rest) - len(rest.lstrip(SPACES))
        self._ignore()
        return True

    def _inside_action(self) -> bool:
        while True:
            delim, trim = self._at_right_delim()
            if delim:
                if self.paren_depth == 0:
                    return self._right_delim(trim)
                self._error("unclosed left paren")
                return False
            ch = self._next()
            if not ch:
                self._error("unclosed action")
                return False
            if ch in SPACES:
                self._backup()
                while self._peek() in tuple(SPACES) and self._peek():
                    if self._peek() in SPACES and self._peek(1) == "-" and self.text.startswith("}}", self.pos + 2):
                        break
                    self._next()
                self._emit(SPACE)
            elif ch == "=":
                self._emit(ASSIGN)
            elif ch == ":":
                if self._next() != "=":
                    self._error("expected :=")
                    return False
                self._emit(DECLARE)
            elif ch == "|":
                self._emit(PIPE)
            elif ch == '"':
                if not self._quote():
                    return False
            elif ch == "`":
                end = self.text.find("`", self.pos)
                if end < 0:
                    self._error("unterminated raw quoted string")
                    return False
                self.line += self.text.count("\n", self.pos, end)
                self.pos = end + 1
                self._emit(RAW)
            elif ch == "$":
                if not self._field(VARIABLE):
                    return False
            elif ch == "'":
                if not self._char():
                    return False
            elif ch == ".":
                if self.pos < len(self.text) and self.text[self.pos] not in "0123456789":
                    if not self._field(FIELD):
                        return False
                    continue
                self._backup()  # "." then a digit, or at the end: Go lexes a number
                if not self._number():
                    return False
            elif ch in "+-" or ch.isdigit():
                self._backup()
                if not self._number():
                    return False
            elif _is_alnum(ch):
                self._backup()
                if not self._identifier():
                    return False
            elif ch == "(":
                self._emit(LPAREN)
                self.paren_depth += 1
            elif ch == ")":
                self._emit(RPAREN)
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    self._error(f"unexpected right paren {_rune(ch)}")
                    return False
            elif ord(ch) <= 0x7F and ch.isprintable():
                self._emit(CHAR_ITEM)
            else:
                self._error(f"unrecognized character in action: {_rune(ch)}")
                return False

    def _quote(self) -> bool:
        return self._delimited('"', STRING, "unterminated quoted string")

    def _char(self) -> bool:
        return self._delimited("'", CHAR, "unterminated character constant")

    def _delimited(self, closing: str, kind: str, unterminated: str) -> bool:
        """Scan to the unescaped ``closing`` quote on the same line and emit ``kind``; Go's error otherwise."""
        while True:
            ch = self._next()
            if ch == "\\":
                ch = self._next()
                if ch and ch != "\n":
                    continue
                self._error(unterminated)
                return False
            if ch in ("", "\n"):
                self._error(unterminated)
                return False
            if ch == closing:
                break
        self._emit(kind)
        return True

    def _field(self, kind: str) -> bool:
        if self._at_terminator():
            self._emit(DOT if kind == FIELD else VARIABLE)
            return True
        while _is_alnum(self._peek()):
            self._next()
        if not self._at_terminator():
            self._error(f"bad character {_rune(self._peek())}")
            return False
        self._emit(kind)
        return True

    def _identifier(self) -> bool:
        while _is_alnum(self._peek()):
            self._next()
        word = self.text[self.start:self.pos]
        if not self._at_terminator():
            self._error(f"bad character {_rune(self._peek())}")
            return False
        if word in KEYWORDS and word != "nil":
            self._emit(KEYWORD)
        elif word == "nil":
            self._emit(NIL)
        elif word in ("true", "false"):
            self._emit(BOOL)
        else:
            self._emit(IDENT)
        return True

    def _at_terminator(self) -> bool:
        ch = self._peek()
        if not ch or ch in SPACES or ch in ".,|:)(":
            return True
        return self.text.startswith("}}", self.pos)

    def _number(self) -> bool:
        if not self._scan_number():
            self._error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
            return False
        complex_part = self._peek() in ("+", "-") and self._peek()  # a complex constant: 1+2i
        if complex_part and (not self._scan_number() or self.text[self.pos - 1] != "i"):
            self._error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
            return False
        self._emit(NUMBER)
        return True

    def _scan_number(self) -> bool:
        if self._peek() in ("+", "-"):
            self._next()
        digits = "0123456789_"
        if self._peek() == "0":
            self._next()
            nxt = self._peek()
            if nxt and nxt in "xX":
                self._next()
                digits = "0123456789abcdefABCDEF_"
            elif nxt and nxt in "oO":
                self._next()
                digits = "01234567_"
            elif nxt and nxt in "bB":
                self._next()
                digits = "01_"
        self._run(digits)
        if self._peek() == ".":
            self._next()
            self._run(digits)
        if len(digits) == 11 and self._peek() and self._peek() in "eE":
            self._next()
            if self._peek() and self._peek() in "+-":
                self._next()
            self._run("0123456789_")
        if len(digits) == 23 and self._peek() and self._peek() in "pP":
            self._next()
            if self._peek() and self._peek() in "+-":
                self._next()
            self._run("0123456789_")
        if self._peek() == "i":
            self._next()
        return not (self._peek() and _is_alnum(self._peek()) and self._next())

    def _run(self, accepted: str) -> None:
        while self._peek() and self._peek() in accepted:
            self._next()


def _rune(ch: str) -> str:
    """Go's ``%#U``: ``U+0023 '#'``."""
    code = ord(ch) if ch else 0
    if ch and ch.isprintable():
        return f"U+{code:04X} '{ch}'"
    return f"U+{code:04X}"


def go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lex(text: str) -> list[Item]:
    """All items of ``text``, ending with an EOF or an ERROR item."""
    return Lexer(text).run()
