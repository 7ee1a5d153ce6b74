"""Go's text/template for ``--format`` and ``-f``, as the docker CLI runs it.

The whole language (actions, pipelines, parentheses, variables, ``if``/``else if``/``with``/``range`` with
``else``, ``break``/``continue``, ``define``/``template``/``block``, trim markers, comments), Go's builtins
(``and or not eq ne lt le gt ge index len print printf println slice html js urlquery call``), the docker
CLI's functions (``json join split lower upper title truncate pad``) and Go's error messages. Data is JSON
as Python decodes it: dicts are maps (fields are keys; a missing one prints ``<no value>``), integers Go ints,
all-string lists ``[]string`` (``join`` takes them, as Docker's typed structs). A callable value is a method.

Modules: :mod:`.lexer`, :mod:`.parser` (with :mod:`.nodes`), :mod:`.executor`, :mod:`.funcs`, :mod:`.gofmt`.
"""

from __future__ import annotations

from typing import Any


class TemplateError(Exception):
    """The template cannot be parsed or executed; the message is Go's (``template: :1: ...``)."""

    def __init__(self, message: str, parsing: bool, partial: str = "") -> None:
        super().__init__(message)
        #: a parse error (bad template) rather than an execution error (bad data)
        self.parsing = parsing
        #: an execution error: what the template wrote before it
        self.partial = partial


class Template:
    """A parsed template; :meth:`execute` renders it with a value as dot."""

    def __init__(self, text: str, header: bool = False, name: str = "", missing_key: str = "default",
                 typed: bool = False) -> None:
        """``typed``: the data are Docker's typed structs as the daemon wrote them (inspect): ``json`` keeps the
        key order of struct-like objects, which print as Go prints structs (``{v1 v2}``)."""
        from moor.cli.gotemplate.funcs import BUILTINS, DOCKER, HEADER, TYPED_JSON
        from moor.cli.gotemplate.parser import ParseError, parse

        self.text = text
        self.name = name
        self.missing_key = missing_key
        self.typed = typed
        self.functions = {**BUILTINS, **DOCKER, **(HEADER if header else {}), **({"json": TYPED_JSON} if typed else {})}
        try:
            self.trees = parse(text, self.functions, name)
        except ParseError as err:
            raise TemplateError(str(err), parsing=True) from None

    def execute(self, data: Any) -> str:
        from moor.cli.gotemplate.executor import ExecError, execute

        try:
            return execute(self.name, self.text, self.trees, self.functions, data, self.missing_key, self.typed)
        except ExecError as err:
            raise TemplateError(str(err), parsing=False, partial=err.partial) from None


def struct(fields: dict[str, Any], go_type: str, json: Any = None,
           aliases: dict[str, str] | None = None) -> dict[str, Any]:
    """``fields`` as a Go struct named ``go_type`` (``*formatter.ContainerContext``): an unknown field is an error;
    ``json``: what ``{{json .}}`` writes of it (its fields, sorted, when None; a given object keeps its order);
    ``aliases``: Go field names of keys named otherwise (``{"APIVersion": "ApiVersion"}``)."""
    from moor.cli.gotemplate.executor import Struct

    return Struct(fields, go_type, json, aliases)


def marshal_map(fields: dict[str, Any]) -> dict[str, Any]:
    """A struct's JSON as the docker CLI's formatter contexts write it (a map through json.Marshal: keys sorted,
    ``<``, ``>`` and ``&`` escaped); pass it as :func:`struct`'s ``json``."""
    from moor.cli.gotemplate.executor import HTMLEscapedJSON

    return HTMLEscapedJSON(fields)


def aliased(fields: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """``fields`` answering ``{{.GoName}}`` with ``fields[aliases[GoName]]`` too (``{"ID": "Id"}``)."""
    from moor.cli.gotemplate.executor import Aliased

    return Aliased(fields, aliases)


def unescape(template: str) -> str:
    r"""The docker CLI's formatter turns the two characters ``\t`` and ``\n`` into a tab and a newline."""
    return template.replace("\\t", "\t").replace("\\n", "\n")


def render(template: str, data: Any, header: bool = False, escapes: bool = True) -> str:
    """Render ``template`` with ``data`` as dot.

    ``header``: the header row of a ``table`` format, whose functions (``json``, ``upper``, ``join``, ...) give
    back their argument unchanged, as Docker's ``HeaderFunctions`` do (``{{json .Name}}`` heads ``NAME``).
    ``escapes``: ``\\t`` and ``\\n`` become tab and newline first, as the docker CLI's formatter (ps, images, ...)
    does; ``inspect`` does not.
    """
    return Template(unescape(template) if escapes else template, header).execute(data)
