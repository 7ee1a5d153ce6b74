"""Go's text/template parser: items to trees (``text/template/parse/parse.go``), with its error messages."""

from __future__ import annotations

from collections.abc import Container

from moor.cli.gotemplate import lexer as lx
from moor.cli.gotemplate.lexer import Item
from moor.cli.gotemplate.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
)


class ParseError(Exception):
    """A template that does not parse; the message is Go's (``template: :1: ...``)."""


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
            "'": "'", '"': '"'}


def unquote(text: str) -> str:
    """Go's ``strconv.Unquote`` of a "..." or `...` literal (ValueError: invalid syntax)."""
    if len(text) < 2 or text[0] != text[-1]:
        raise ValueError("invalid syntax")
    quote, body = text[0], text[1:-1]
    if quote == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if quote not in "\"'":
        raise ValueError("invalid syntax")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote or ch == "\n":
            raise ValueError("invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        esc = body[i]
        i += 1
        if esc in _ESCAPES:
            if (esc == "'" and quote == '"') or (esc == '"' and quote == "'"):
                raise ValueError("invalid syntax")
            out.append(_ESCAPES[esc])
        elif esc in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i:i + size]
            if len(digits) != size or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            i += size
            code = int(digits, 16)
            if esc == "x":
                out.append(chr(code) if quote == "'" else bytes([code]).decode("latin-1"))
            else:
                if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                    raise ValueError("invalid syntax")
                out.append(chr(code))
        elif esc in "01234567":
            digits = body[i - 1:i + 2]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            i += 2
            out.append(chr(int(digits, 8)))
        else:
            raise ValueError("invalid syntax")
    result = "".join(out)
    if quote == "'" and len(result) != 1:
        raise ValueError("malformed" if result else "invalid syntax")
    return result


def _parse_go_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 0, 64)`` without the range check (ValueError when not an integer)."""
    body = text.replace("_", "")
    sign = 1
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    lower = body.lower()
    if lower.startswith("0x"):
        return sign * int(body[2:], 16)
    if lower.startswith("0o"):
        return sign * int(body[2:], 8)
    if lower.startswith("0b"):
        return sign * int(body[2:], 2)
    if len(body) > 1 and body[0] == "0":
        return sign * int(body[1:], 8)
    if not body.isdigit():
        raise ValueError(text)
    return sign * int(body)


def _underscores_ok(text: str) -> bool:
    """Go's underscoreOK: each ``_`` sits between digits (or after a base prefix)."""
    body = text.lstrip("+-")
    if body[:2].lower() in ("0x", "0o", "0b"):
        body = "0" + body[2:]  # the prefix counts as a digit before an underscore
    previous = ""
    for ch in body + ".":
        if ch == "_" and not previous.isalnum():
            return False
        if previous == "_" and not ch.isalnum():
            return False
        previous = ch
    return True


def new_number(pos: int, text: str, kind: str) -> NumberNode:
    """A number constant as Go's ``newNumber`` reads it (ValueError: ``illegal number syntax: "x"``)."""
    if "_" in text and kind != lx.CHAR and not _underscores_ok(text):
        raise ValueError(f"illegal number syntax: {lx.go_quote(text)}")
    node = NumberNode(pos, text)
    if kind == lx.CHAR:
        try:
            value = ord(unquote(text))
        except ValueError as err:
            if "malformed" in str(err):
                raise ValueError(f"malformed character constant: {text}") from None
            raise
        node.is_int = node.is_uint = node.is_float = True
        node.int_value, node.float_value = value, float(value)
        return node
    if text.endswith("i"):
        try:
            node.complex_value = complex(text[:-1].replace("_", "") + "j")
        except ValueError:
            raise ValueError(f"illegal number syntax: {lx.go_quote(text)}") from None
        node.is_complex = True
        return node
    try:
        value = _parse_go_int(text)
        node.is_int = -(1 << 63) <= value < (1 << 63)
        node.is_uint = 0 <= value < (1 << 64)
        node.int_value = value
    except ValueError:
        pass
    if node.is_int or node.is_uint:
        node.is_float = True
        node.float_value = float(node.int_value)
        return node

    try:
        if text.lower().lstrip("+-").startswith("0x"):
            if "p" not in text.lower():
                raise ValueError(text)
            node.float_value = float.fromhex(text.replace("_", ""))
        else:
            node.float_value = float(text.replace("_", ""))
    except ValueError:
        raise ValueError(f"illegal number syntax: {lx.go_quote(text)}") from None
    if node.float_value in (float("inf"), float("-inf")):
        raise ValueError(f"illegal number syntax: {lx.go_quote(text)}")
    if not any(c in text for c in ".eEpP"):  # integer syntax Go could not read as an int: too big
        raise ValueError(f"integer overflow: {lx.go_quote(text)}")
    node.is_float = True
    if node.float_value.is_integer() and abs(node.float_value) < (1 << 63):
        # Go: a float constant with an integral value is also an int ("1e3" is int 1000)
        node.is_int = True
        node.int_value = int(node.float_value)
        node.is_uint = node.int_value >= 0
    return node


class Tree:
    """One template's tree; ``parse`` fills ``trees`` with it and every ``define``/``block`` found."""

    def __init__(self, name: str, text: str, items: list[Item], functions: Container[str],
                 trees: dict[str, ListNode]) -> None:
        self.name = name
        self.text = text
        self.items = items
        self.index = 0
        self.functions = functions
        self.trees = trees
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.last: Item = items[0]
        #: the furthest item read (Go's token[0]): parse errors name its line
        self.furthest = 0

    # ------------------------------------------------------------------ items
    def next(self) -> Item:
        item = self.items[self.index]
        self.furthest = max(self.furthest, self.index)
        if self.index < len(self.items) - 1:
            self.index += 1
        else:
            self.index = len(self.items)  # stays on EOF/ERROR
        self.last = item
        return item

    def backup(self, count: int = 1) -> None:
        self.index -= count

    def peek(self) -> Item:
        index = min(self.index, len(self.items) - 1)
        self.furthest = max(self.furthest, index)
        return self.items[index]

    def next_non_space(self) -> Item:
        item = self.next()
        while item.kind == lx.SPACE:
            item = self.next()
        return item

    def peek_non_space(self) -> Item:
        item = self.next_non_space()
        self.backup()
        return item

    def error(self, message: str) -> ParseError:
        return ParseError(f"template: {self.name}:{self.items[self.furthest].line}: {message}")

    def unexpected(self, item: Item, context: str) -> ParseError:
        if item.kind == lx.ERROR:
            extra = ""
            if self.action_line and self.action_line != item.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if item.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            return self.error(f"{item}{extra}")
        return self.error(f"unexpected {item} in {context}")

    def expect(self, kind: str, context: str) -> Item:
        item = self.next_non_space()
        if item.kind != kind:
            raise self.unexpected(item, context)
        return item

    # ------------------------------------------------------------------ structure
    def parse(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().kind != lx.EOF:
            if self.peek().kind == lx.LEFT:
                delim = self.next()
                keyword = self.next_non_space()
                if keyword.kind == lx.KEYWORD and keyword.val == "define":
                    sub = Tree("definition", self.text, self.items, self.functions, self.trees)
                    sub.name = self.name
                    sub.index = self.index
                    sub.last = self.last
                    sub.furthest = self.furthest
                    self._definition(sub)
                    self.index = sub.index
                    self.last = sub.last
                    self.furthest = sub.furthest
                    continue
                self.index = self.items.index(delim)
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                raise self.error(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def _definition(self, sub: Tree) -> None:
        item = sub.next_non_space()
        if item.kind not in (lx.STRING, lx.RAW):
            raise sub.unexpected(item, "define clause")
        try:
            name = unquote(item.val)
        except ValueError as err:
            raise sub.error(str(err)) from None
        sub.expect(lx.RIGHT, "define clause")
        root, end = sub.item_list()
        if not isinstance(end, EndNode):
            raise sub.error(f"unexpected {end} in define clause")
        self._add(sub, name, root)

    def _add(self, tree: Tree, name: str, root: ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or _empty(existing):
            self.trees[name] = root
        elif not _empty(root):
            raise tree.error(f"template: multiple definition of template {lx.go_quote(name)}")

    def item_list(self) -> tuple[ListNode, Node]:
        nodes = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().kind != lx.EOF:
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                return nodes, node
            nodes.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node:
        item = self.next_non_space()
        if item.kind == lx.TEXT:
            return TextNode(item.pos, item.val)
        if item.kind == lx.LEFT:
            self.action_line = item.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(item, "input")

    def action(self) -> Node:
        item = self.next_non_space()
        if item.kind == lx.KEYWORD:
            word = item.val
            if word == "block":
                return self.block_control()
            if word in ("break", "continue"):
                end = self.next_non_space()
                if end.kind != lx.RIGHT:
                    raise self.unexpected(end, "{{" + word + "}}")
                if self.range_depth == 0:
                    raise self.error("{{" + word + "}} outside {{range}}")
                return BreakNode(item.pos) if word == "break" else ContinueNode(item.pos)
            if word == "else":
                peek = self.peek_non_space()
                if peek.kind == lx.KEYWORD and peek.val == "if":
                    return ElseNode(peek.pos, peek.line)
                token = self.expect(lx.RIGHT, "else")
                return ElseNode(token.pos, token.line)
            if word == "end":
                return EndNode(self.expect(lx.RIGHT, "end").pos)
            if word in ("if", "range", "with"):
                return self.control(word)
            if word == "template":
                return self.template_control()
        self.backup()
        token = self.peek()
        return ActionNode(token.pos, token.line, self.pipeline("command", lx.RIGHT))

    def control(self, kind: str) -> BranchNode:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(kind, lx.RIGHT)
            if kind == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if kind == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, ElseNode):
                peek = self.peek()
                if kind == "if" and peek.kind == lx.KEYWORD and peek.val == "if":
                    self.next()
                    else_list = ListNode(nxt.pos, [self.control("if")])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.error(f"expected end; found {nxt}")
            return BranchNode(pipe.pos, kind, pipe.line, pipe, body, else_list)
        finally:
            del self.vars[mark:]

    def template_control(self) -> TemplateNode:
        item = self.next_non_space()
        name = self._template_name(item, "template clause")
        pipe = None
        if self.next_non_space().kind != lx.RIGHT:
            self.backup()
            pipe = self.pipeline("template clause", lx.RIGHT)
        return TemplateNode(item.pos, item.line, name, pipe)

    def _template_name(self, item: Item, context: str) -> str:
        if item.kind not in (lx.STRING, lx.RAW):
            raise self.unexpected(item, context)
        try:
            return unquote(item.val)
        except ValueError as err:
            raise self.error(str(err)) from None

    def block_control(self) -> TemplateNode:
        item = self.next_non_space()
        name = self._template_name(item, "block clause")
        pipe = self.pipeline("block clause", lx.RIGHT)
        sub = Tree(name, self.text, self.items, self.functions, self.trees)
        sub.name = self.name
        sub.index = self.index
        sub.last = self.last
        sub.furthest = self.furthest
        root, end = sub.item_list()
        if not isinstance(end, EndNode):
            raise sub.error(f"unexpected {end} in block clause")
        self._add(sub, name, root)
        self.index = sub.index
        self.last = sub.last
        self.furthest = sub.furthest
        return TemplateNode(item.pos, item.line, name, pipe)

    # ------------------------------------------------------------------ pipelines
    def pipeline(self, context: str, end: str) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        while True:  # declarations
            var = self.peek_non_space()
            if var.kind != lx.VARIABLE:
                break
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.kind in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.kind == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(var.pos, [var.val]))
                self.vars.append(var.val)
            elif nxt.kind == lx.CHAR_ITEM and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(var.pos, [var.val]))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    peek = self.peek_non_space()
                    if peek.kind in (lx.VARIABLE, lx.RIGHT, lx.RPAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            elif after.kind == lx.SPACE:
                self.index = self.items.index(var)
            else:
                self.index = self.items.index(var)
            break
        while True:
            item = self.next_non_space()
            if item.kind == end:
                self._check_pipeline(pipe, context)
                return pipe
            if item.kind in (lx.BOOL, lx.CHAR, lx.DOT, lx.FIELD, lx.IDENT, lx.NUMBER, lx.NIL, lx.RAW, lx.STRING,
                             lx.VARIABLE, lx.LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(item, context)

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for index, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self.error(f"non executable command in pipeline stage {index + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            item = self.next()
            if item.kind == lx.SPACE:
                continue
            if item.kind in (lx.RIGHT, lx.RPAREN):
                self.backup()
            elif item.kind != lx.PIPE:
                raise self.unexpected(item, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind == lx.FIELD:
            chain = ChainNode(self.peek().pos, node)
            while self.peek().kind == lx.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, node.idents + chain.fields)
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, node.idents + chain.fields)
            if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                raise self.error(f"unexpected . after term {lx.go_quote(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        item = self.next_non_space()
        kind = item.kind
        if kind == lx.IDENT:
            if item.val not in self.functions:
                raise self.error(f"function {lx.go_quote(item.val)} not defined")
            return IdentifierNode(item.pos, item.val)
        if kind == lx.DOT:
            return DotNode(item.pos)
        if kind == lx.NIL:
            return NilNode(item.pos)
        if kind == lx.VARIABLE:
            if item.val not in self.vars:
                raise self.error(f"undefined variable {lx.go_quote(item.val)}")
            return VariableNode(item.pos, [item.val])
        if kind == lx.FIELD:
            return FieldNode(item.pos, [item.val[1:]])
        if kind == lx.BOOL:
            return BoolNode(item.pos, item.val == "true")
        if kind in (lx.CHAR, lx.NUMBER):
            try:
                return new_number(item.pos, item.val, kind)
            except ValueError as err:
                message = str(err)
                known = message.startswith(("illegal", "integer", "malformed"))
                raise self.error(message if known else "invalid syntax") from None
        if kind == lx.LPAREN:
            return self.pipeline("parenthesized pipeline", lx.RPAREN)
        if kind in (lx.STRING, lx.RAW):
            try:
                return StringNode(item.pos, item.val, unquote(item.val))
            except ValueError as err:
                raise self.error(str(err)) from None
        self.backup()
        return None


def _empty(node: Node) -> bool:
    if isinstance(node, ListNode):
        return all(_empty(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return not node.text.strip()
    return False


def parse(text: str, functions: Container[str], name: str = "") -> dict[str, ListNode]:
    """The trees of ``text``: ``name`` for the main one, plus each ``define``/``block``."""
    trees: dict[str, ListNode] = {}
    tree = Tree(name, text, lx.lex(text), functions, trees)
    root = tree.parse()
    existing = trees.get(name)
    if existing is None or _empty(existing):
        trees[name] = root
    elif not _empty(root):
        raise tree.error(f"template: multiple definition of template {lx.go_quote(name)}")
    return trees
