"""Go's text/template execution (``text/template/exec.go``) over JSON-like Python values.

A value is as :mod:`.gofmt` describes; beside it the executor keeps whether its static Go type is
``interface {}`` (elements of a ``[]interface {}`` or ``map[string]interface {}``), which Go's messages name.
"""

from __future__ import annotations

from typing import Any

from moor.cli.gotemplate.funcs import CallError, Func, IfaceArg, truth
from moor.cli.gotemplate.gofmt import MISSING, go_type, holds_interfaces, sprint_struct, sprint_value
from moor.cli.gotemplate.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
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


class ExecError(Exception):
    """A failure while executing; the message is Go's (``template: :1:2: executing "" at <.X>: ...``)."""

    #: what was written before the failure
    partial = ""


class _NoFinal:
    pass


#: "no value piped in" (Go's missingVal)
NO_FINAL: Any = _NoFinal()

MAX_DEPTH = 10000


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Value:
    """A reflect.Value argument: the value and whether its static type is interface{}."""

    __slots__ = ("iface", "value")

    def __init__(self, value: Any, iface: bool = False) -> None:
        self.value = value
        self.iface = iface


class State:
    """One execution: output, variables, the node being evaluated (for error messages)."""

    def __init__(self, name: str, text: str, trees: dict[str, ListNode], functions: dict[str, Func],
                 missing_key: str = "default", typed: bool = False) -> None:
        self.name = name
        self.missing_key = missing_key
        #: the data are Docker's typed structs (inspect): struct-like objects print as {...}
        self.typed = typed
        self.text = text
        self.trees = trees
        self.functions = functions
        self.out: list[str] = []
        self.vars: list[list[Any]] = []  # [name, value, iface]
        self.node: Node | None = None
        self.depth = 0

    # ------------------------------------------------------------------ errors
    def error(self, message: str) -> ExecError:
        if self.node is None:
            return ExecError(f"template: {self.name}: {message}")
        pos = self.node.pos
        data = self.text.encode("utf-8", "surrogatepass")[:pos]
        newline = data.rfind(b"\n")
        column = pos if newline < 0 else pos - newline - 1
        line = 1 + data.count(b"\n")
        context = str(self.node)
        return ExecError(f'template: {self.name}:{line}:{column}: executing "{self.name}" at <{context}>: {message}')

    # ------------------------------------------------------------------ variables
    def push(self, name: str, value: Any, iface: bool = False) -> None:
        self.vars.append([name, value, iface])

    def set_top(self, n: int, value: Any, iface: bool) -> None:
        self.vars[-n][1] = value
        self.vars[-n][2] = iface

    def set_var(self, name: str, value: Any) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1], var[2] = value, False
                return
        raise self.error(f"undefined variable: {name}")

    def var(self, name: str) -> tuple[Any, bool]:
        for var in reversed(self.vars):
            if var[0] == name:
                return var[1], var[2]
        raise self.error(f"undefined variable: {name}")

    # ------------------------------------------------------------------ walking
    def walk(self, dot: Any, iface: bool, node: Node) -> None:
        self.node = node
        if isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, iface, node.pipe)
            if not node.pipe.decl:
                self.node = node
                printed = sprint_struct(value) if self.typed else sprint_value(value)
                self.out.append("<no value>" if value is MISSING else printed)
        elif isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, iface, child)
        elif isinstance(node, BranchNode):
            if node.kind == "range":
                self.walk_range(dot, iface, node)
            else:
                self.walk_if_or_with(dot, iface, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, iface, node)
        else:
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, iface: bool, node: BranchNode) -> None:
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, iface, node.pipe)
            if truth(value):
                if node.kind == "with":
                    self.walk(value, False, node.list)
                else:
                    self.walk(dot, iface, node.list)
            elif node.else_list is not None:
                self.walk(dot, iface, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, iface: bool, node: BranchNode) -> None:
        self.node = node
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, iface, node.pipe)
            inner = len(self.vars)
            pairs: list[tuple[Any, Any]]
            if isinstance(value, list):
                pairs = list(enumerate(value))
            elif isinstance(value, dict):
                pairs = [(key, value[key]) for key in sorted(value)]
            elif isinstance(value, int) and not isinstance(value, bool):
                pairs = [(i, i) for i in range(value)]
            elif value is MISSING:
                pairs = []
            else:
                raise self.error(f"range can't iterate over {sprint_value(value)}")
            elem_iface = holds_interfaces(value)
            try:
                for key, elem in pairs:
                    self._iteration(node, key, elem, elem_iface, inner)
            except _Break:
                pass
            if not pairs and node.else_list is not None:
                self.walk(dot, iface, node.else_list)
        finally:
            del self.vars[mark:]

    def _iteration(self, node: BranchNode, key: Any, elem: Any, elem_iface: bool, mark: int) -> None:
        decl = node.pipe.decl
        if decl:
            if node.pipe.is_assign:
                if len(decl) > 1:
                    self.set_var(decl[0].idents[0], key)
                else:
                    self.set_var(decl[0].idents[0], elem)
            else:
                self.set_top(1, elem, elem_iface)
        if len(decl) > 1:
            if node.pipe.is_assign:
                self.set_var(decl[1].idents[0], elem)
            else:
                self.set_top(2, key, False)
        try:
            self.walk(elem, elem_iface, node.list)
        except _Continue:
            pass
        finally:
            del self.vars[mark:]

    def walk_template(self, dot: Any, iface: bool, node: TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f"template {_quote(node.name)} not defined")
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        value = self.eval_pipeline(dot, iface, node.pipe) if node.pipe is not None else MISSING
        saved_vars, saved_name = self.vars, self.name
        self.vars = [["$", value, False]]
        self.depth += 1
        try:
            self.walk(value, False, tree)
        finally:
            self.vars = saved_vars
            self.depth -= 1
            self.name = saved_name

    # ------------------------------------------------------------------ pipelines
    def eval_pipeline(self, dot: Any, iface: bool, pipe: PipeNode) -> Any:
        self.node = pipe
        value: Any = NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, iface, cmd, value)
            if value is None:  # an interface{} holding nil: unwrapped, it is invalid
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.idents[0], value)
            else:
                self.push(var.idents[0], value)
        return value

    def eval_command(self, dot: Any, iface: bool, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_node(dot, iface, first, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain_node(dot, iface, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, iface, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, iface, first)
        if isinstance(first, VariableNode):
            return self.eval_variable_node(dot, iface, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        raise self.error(f"can't evaluate command {_quote(str(first))}")

    def not_a_function(self, args: list[Any], final: Any) -> None:
        if len(args) > 1 or final is not NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def ideal_constant(self, node: NumberNode) -> Any:
        self.node = node
        text = node.text
        if node.is_complex:
            return node.complex_value
        hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(c in text for c in "pP")
        if (node.is_float and not hex_int and not text.startswith("'")
                and any(c in text for c in ".eEpP")):
            return node.float_value
        if node.is_int:
            if not -(1 << 63) <= node.int_value < (1 << 63):
                raise self.error(f"{text} overflows int")
            return node.int_value
        if node.is_uint:
            raise self.error(f"{text} overflows int")
        return node.float_value

    # ------------------------------------------------------------------ fields
    def eval_field_node(self, dot: Any, iface: bool, node: FieldNode, args: list[Any], final: Any) -> Any:
        self.node = node
        return self.eval_field_chain(dot, iface, dot, iface, node, node.idents, args, final)

    def eval_chain_node(self, dot: Any, iface: bool, node: ChainNode, args: list[Any], final: Any) -> Any:
        self.node = node
        if isinstance(node.node, NilNode):
            raise self.error(f"indirection through explicit nil in {node}")
        receiver = self.eval_arg(dot, iface, None, node.node).value
        return self.eval_field_chain(dot, iface, receiver, False, node, node.fields, args, final)

    def eval_variable_node(self, dot: Any, iface: bool, node: VariableNode, args: list[Any], final: Any) -> Any:
        self.node = node
        value, value_iface = self.var(node.idents[0])
        if len(node.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, iface, value, value_iface, node, node.idents[1:], args, final)

    def eval_field_chain(self, dot: Any, iface: bool, receiver: Any, receiver_iface: bool, node: Node,
                         idents: list[str], args: list[Any], final: Any) -> Any:
        for ident in idents[:-1]:
            receiver, receiver_iface = self.eval_field(dot, iface, ident, [], NO_FINAL, receiver, receiver_iface)
        return self.eval_field(dot, iface, idents[-1], args, final, receiver, receiver_iface)[0]

    def eval_field(self, dot: Any, iface: bool, name: str, args: list[Any], final: Any, receiver: Any,
                   receiver_iface: bool) -> tuple[Any, bool]:
        if receiver is MISSING:
            if self.missing_key == "error":
                raise self.error(f"nil data; no entry for key {_quote(name)}")
            return MISSING, False
        type_name = "interface {}" if receiver_iface else go_type(receiver)
        if receiver is None or getattr(receiver, "is_nil", False):
            raise self.error(f"nil pointer evaluating {type_name}.{name}")
        has_args = len(args) > 1 or final is not NO_FINAL
        if isinstance(receiver, dict):
            if name in receiver and callable(receiver[name]):
                return self.eval_call(dot, iface, name, receiver[name], args, final), False
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            alias = getattr(receiver, "aliases", {}).get(name)
            if alias is not None and alias in receiver:
                return receiver[alias], holds_interfaces(receiver)
            if name not in receiver:
                struct = getattr(receiver, "go_type", "")
                if struct:
                    raise self.error(f"can't evaluate field {name} in type {struct}")
                if self.missing_key == "error":
                    raise self.error(f"map has no entry for key {_quote(name)}")
                if self.missing_key == "zero":
                    return ("" if go_type(receiver) == "map[string]string" else None), False
            return receiver.get(name, MISSING), holds_interfaces(receiver)
        if hasattr(receiver, "__dict__") and not isinstance(receiver, type) and hasattr(receiver, name):
            attribute = getattr(receiver, name)
            if callable(attribute):
                return self.eval_call(dot, iface, name, attribute, args, final), False
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return attribute, False
        raise self.error(f"can't evaluate field {name} in type {type_name}")

    def eval_call(self, dot: Any, iface: bool, name: str, method: Any, args: list[Any], final: Any) -> Any:
        """A method of a row (a callable value): its arguments as strings/values, as the docker CLI's contexts'."""
        code = getattr(method, "__code__", None)
        want = code.co_argcount if code is not None else None
        given = len(args[1:]) + (0 if final is NO_FINAL else 1)
        if want is not None and want != given:
            raise self.error(f"wrong number of args for {name}: want {want} got {given}")
        values = [self.eval_arg(dot, iface, "string", arg).value for arg in args[1:]]
        if final is not NO_FINAL:
            values.append(self.validate(_Value(final), "string").value)
        return method(*values)

    # ------------------------------------------------------------------ functions
    def eval_function(self, dot: Any, iface: bool, node: IdentifierNode, cmd: Node, args: list[Any],
                      final: Any) -> Any:
        self.node = node
        func = self.functions.get(node.name)
        if func is None:
            raise self.error(f"{_quote(node.name)} is not a defined function")
        return self.call(dot, iface, func, node.name, cmd, args, final)

    def call(self, dot: Any, iface: bool, func: Func, name: str, node: Node, args: list[Any],
             final: Any) -> Any:
        args = args[1:] if args else []
        count = len(args) + (0 if final is NO_FINAL else 1)
        fixed = len(func.params) - (1 if func.variadic else 0)
        if func.variadic:
            if count < fixed:
                raise self.error(f"wrong number of args for {name}: want at least {fixed} got {len(args)}")
        elif count != len(func.params):
            raise self.error(f"wrong number of args for {name}: want {len(func.params)} got {count}")
        if name in ("and", "or") and func.params == ("value", "value"):
            result: Any = MISSING
            for arg in args:
                result = self.eval_arg(dot, iface, "value", arg).value
                if result is None:
                    result = MISSING
                if truth(result) == (name == "or"):
                    return result
            if final is not NO_FINAL:
                result = final
            return result
        values: list[Any] = []
        for index, arg in enumerate(args):
            kind = func.params[min(index, len(func.params) - 1)]
            evaluated = self.eval_arg(dot, iface, kind, arg)
            if name == "slice" and index > 0 and evaluated.iface and evaluated.value is not MISSING:
                values.append(IfaceArg())
            else:
                values.append(evaluated.value)
        if final is not NO_FINAL:
            kind = func.params[min(count - 1, len(func.params) - 1)]
            values.append(self.validate(_Value(final), kind).value)
        try:
            result = func.body(*values)
        except CallError as err:
            self.node = node
            raise self.error(f"error calling {name}: {err}") from None
        return result

    def eval_arg(self, dot: Any, iface: bool, kind: str | None, node: Node) -> _Value:
        self.node = node
        if isinstance(node, DotNode):
            return self.validate(_Value(dot, iface), kind)
        if isinstance(node, NilNode):
            if kind in ("value", "any", "[]string", None):
                return _Value(MISSING if kind in ("value", None) else (None if kind == "any" else []))
            raise self.error(f"cannot assign nil to {kind}")
        if isinstance(node, FieldNode):
            value, value_iface = self._field_value(dot, iface, node)
            return self.validate(_Value(value, value_iface), kind)
        if isinstance(node, VariableNode):
            self.node = node
            value, value_iface = self.var(node.idents[0])
            for ident in node.idents[1:]:
                value, value_iface = self.eval_field(dot, iface, ident, [], NO_FINAL, value, value_iface)
            return self.validate(_Value(value, value_iface or value is None), kind)
        if isinstance(node, PipeNode):
            return self.validate(_Value(self.eval_pipeline(dot, iface, node)), kind)
        if isinstance(node, IdentifierNode):
            return self.validate(_Value(self.eval_function(dot, iface, node, node, [], NO_FINAL)), kind)
        if isinstance(node, ChainNode):
            value = self.eval_chain_node(dot, iface, node, [], NO_FINAL)
            return self.validate(_Value(value, value is None), kind)
        if kind == "bool":
            if isinstance(node, BoolNode):
                return _Value(node.value)
            raise self.error(f"expected bool; found {node}")
        if kind == "int":
            if isinstance(node, NumberNode) and node.is_int:
                return _Value(node.int_value)
            raise self.error(f"expected integer; found {node}")
        if kind == "string":
            if isinstance(node, StringNode):
                return _Value(node.text)
            raise self.error(f"expected string; found {node}")
        if kind in ("any", "value", None):
            if isinstance(node, BoolNode):
                return _Value(node.value)
            if isinstance(node, NumberNode):
                return _Value(self.ideal_constant(node))
            if isinstance(node, StringNode):
                return _Value(node.text)
        raise self.error(f"can't handle {node} for arg of type {_go_kind_name(kind)}")

    def _field_value(self, dot: Any, iface: bool, node: FieldNode) -> tuple[Any, bool]:
        self.node = node
        receiver, receiver_iface = dot, iface
        for ident in node.idents[:-1]:
            receiver, receiver_iface = self.eval_field(dot, iface, ident, [], NO_FINAL, receiver, receiver_iface)
        return self.eval_field(dot, iface, node.idents[-1], [node], NO_FINAL, receiver, receiver_iface)

    def validate(self, value: _Value, kind: str | None) -> _Value:
        """Go's validateType: can ``value`` be passed as a parameter of Go type ``kind``?"""
        data = value.value
        if kind is None or kind == "value":
            return value
        if data is MISSING:
            if kind == "any":
                return _Value(None)
            if kind == "[]string":
                return _Value([])
            raise self.error(f"invalid value; expected {_go_kind_name(kind)}")
        if kind == "any":
            return value
        if data is None:
            raise self.error(f"wrong type for value; expected {_go_kind_name(kind)}; got interface {{}}")
        actual = go_type(data)
        if (kind == "string" and actual == "string") or (kind == "int" and actual == "int") \
                or (kind == "[]string" and actual == "[]string") or (kind == "bool" and actual == "bool"):
            return value
        raise self.error(f"wrong type for value; expected {_go_kind_name(kind)}; got {actual}")


def _go_kind_name(kind: str | None) -> str:
    return {"value": "reflect.Value", "any": "interface {}", None: "<nil>"}.get(kind, kind or "")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Struct(dict[str, Any]):
    """A row the docker CLI makes a Go struct of: a field it lacks is an error naming ``go_type``; ``json``
    gives its JSON form (its own fields when None); ``aliases`` maps Go field names to keys (``APIVersion``)."""

    def __init__(self, fields: dict[str, Any], go_type: str, json: Any = None,
                 aliases: dict[str, str] | None = None) -> None:
        super().__init__(fields)
        self.go_type = go_type
        self.json_form = json
        self.aliases = aliases or {}

    def __json__(self) -> Any:
        """Its fields (a map: keys sorted, HTML escaped as json.Marshal writes the docker CLI's contexts), or the
        JSON given, in its order (a struct: its fields' order)."""
        if self.json_form is None:
            return HTMLEscapedJSON(self)
        if isinstance(self.json_form, HTMLEscapedJSON):
            return self.json_form
        return OrderedJSON(self.json_form) if isinstance(self.json_form, dict) else self.json_form


class HTMLEscapedJSON(dict[str, Any]):
    """A JSON object json.Marshal writes: keys sorted, ``<``, ``>`` and ``&`` escaped."""


class OrderedJSON(dict[str, Any]):
    """A JSON object written in its own key order (Go's struct encoding), not sorted (Go's map encoding)."""


class Aliased(dict[str, Any]):
    """A JSON object whose Go struct names some fields otherwise (``aliases``: Go name to JSON key): Docker's
    typed inspect structs answer ``{{.ID}}`` for the JSON's ``Id``."""

    def __init__(self, fields: dict[str, Any], aliases: dict[str, str]) -> None:
        super().__init__(fields)
        self.aliases = aliases


def execute(name: str, text: str, trees: dict[str, ListNode], functions: dict[str, Func], data: Any,
            missing_key: str = "default", typed: bool = False) -> str:
    """Run tree ``name`` of ``trees`` with ``data`` as dot; ExecError on failure.

    ``missing_key``: Go's ``missingkey`` option (``default``: ``<no value>``, ``zero``, ``error``).
    """
    state = State(name, text, trees, functions, missing_key, typed)
    state.push("$", data)
    tree = trees.get(name)
    if tree is None:
        raise ExecError(f'template: {name}: "{name}" is an incomplete or empty template')
    try:
        state.walk(data, False, tree)
    except RecursionError:
        error = state.error("exceeded maximum template depth (100000)")
        error.partial = "".join(state.out)
        raise error from None
    except ExecError as err:
        err.partial = "".join(state.out)
        raise
    return "".join(state.out)
