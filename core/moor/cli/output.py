"""Printing helpers shared by the CLI commands: tables, templates, JSON, errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

import click

#: The docker CLI's exit code when the command cannot run (bad flags, an image it cannot create from).
ENGINE_ERROR = 125


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=4))


#: the docker CLI's exit code for a bad --format of inspect, version, info and events
TEMPLATE_ERROR = 64


def render_format(template: str, rows: Iterable[Any], headers: dict[str, str] | None = None, *,
                  struct_type: str = "", error_prefix: str = "template parsing error: ",
                  exec_prefix: str | None = None) -> None:
    """Print rows with a Go template as the docker CLI's formatter does (ps, images, network ls, ...).

    ``\\t`` and ``\\n`` in the format are a tab and a newline; a ``table`` prefix adds aligned headers (``headers``:
    each field's title). ``struct_type`` names the Go type Docker renders rows as (``*formatter.ContainerContext``):
    a field a row lacks is then an error, as Docker's. A parse or execution error prints ``error_prefix`` and Go's
    message (``exec_prefix`` for an execution error, when it differs), exit 1, nothing else printed.
    """
    from moor.cli.gotemplate import Template, TemplateError, struct, unescape

    table = template.startswith("table")
    if table:
        template = template[len("table"):]
    template = unescape(template.strip(" "))  # Docker trims the spaces around any format
    try:
        compiled = Template(template)
        lines = [compiled.execute(struct(row, struct_type) if struct_type and isinstance(row, dict) else row)
                 for row in rows]
        if table:
            header = _header(template, headers or {})
            print_table([line.split("\t") for line in [header] + lines], min_width=10, trailing=True)
        else:
            for line in lines:
                click.echo(line)
    except TemplateError as err:
        prefix = error_prefix if err.parsing or exec_prefix is None else exec_prefix
        fail(f"{prefix}{err}")


def _label_title(name: str) -> str:
    """A table's title for ``{{.Label "com.example.my-label"}}``: ``my label``, as the docker CLI's."""
    return name.split(".")[-1].replace("-", " ").replace("_", " ")


def _header(template: str, headers: dict[str, str]) -> str:
    """A table's header row: the template on the titles, its functions giving back their argument; what it renders
    up to an error (Docker ignores the error)."""
    from moor.cli.gotemplate import Template, TemplateError

    try:
        return Template(template, header=True).execute({**headers, "Label": _label_title})
    except TemplateError as err:
        return err.partial


def parse_template(template: str, name: str = "", error_prefix: str = "template parsing error: ",
                   typed: bool = False) -> Any:
    """A template as ``inspect``, ``version``, ``info``, ``events`` parse it (no ``\\t`` escapes); a bad one prints
    ``error_prefix`` and Go's message and exits 64 before anything else is printed."""
    from moor.cli.gotemplate import Template, TemplateError

    try:
        return Template(template, name=name, typed=typed)
    except TemplateError as err:
        fail(f"{error_prefix}{err}", TEMPLATE_ERROR)


def render_single(template: str, data: Any, name: str = "") -> None:
    """``version``/``info`` with ``--format``: the one value through the template and a newline; on an execution
    error what was rendered, a newline, then Go's message (exit 1), as the docker CLI."""
    from moor.cli.gotemplate import TemplateError

    compiled = parse_template(template, name, typed=True)
    try:
        click.echo(compiled.execute(data))
    except TemplateError as err:
        click.echo(err.partial)
        fail(str(err))


def print_inspected(format_: str, results: list[Any], kinds: list[str] | None = None) -> None:
    """``inspect``'s output: ``results`` in the order asked, each an object (a dict) or an error line (a str).

    Without a format: the objects as one JSON array. With one (parsed first: a bad one exits 64): each object
    through the template, a line each (a lone newline when none renders); an object the template fails on becomes
    a ``template parsing error: ...`` line. Then the error lines; exit 1 if any. ``kinds`` (``container``,
    ``image``, ...; one per result) lets the template see each object as Docker's typed struct (zero values).
    """
    from moor.cli.gotemplate import TemplateError, aliased
    from moor.cli.gotemplate.typed import typed_view

    found = [r for r in results if not isinstance(r, str)]
    errors: list[str] = []
    if not format_:
        print_json(found)
        errors = [r for r in results if isinstance(r, str)]
    else:
        compiled = parse_template(format_, typed=True)
        lines = []
        for index, result in enumerate(results):
            if isinstance(result, str):
                errors.append(result)
                continue
            if kinds and isinstance(result, dict):
                result = typed_view(result, kinds[index])
            if isinstance(result, dict) and "Id" in result and "ID" not in result:
                result = aliased(result, {"ID": "Id"})  # Docker's typed structs name it ID
            try:
                lines.append(compiled.execute(result))
            except TemplateError as err:
                errors.append(f"template parsing error: {err}")
        click.echo("\n".join(lines))
    for message in errors:
        click.echo(message, err=True)
    if errors:
        sys.exit(1)


def print_table(rows: list[list[str]], padding: int = 3, min_width: int = 0, trailing: bool = False) -> None:
    """Columns aligned like Go's tabwriter with a minimum padding of three spaces.

    ``min_width`` is tabwriter's minimal cell width, padding included (the docker CLI's
    formatter tables use 10). ``trailing``: keep the padding of a cell before an empty last one (tabwriter
    pads every cell a tab ends), as the docker CLI's --format tables do.
    """
    if not rows:
        return
    widths: list[int] = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            if index >= len(widths):
                widths.append(0)
            widths[index] = max(widths[index], len(cell), min_width - padding)
    for row in rows:
        cells = [cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])]
        line = "".join(cells) + (row[-1] if row else "")
        click.echo(line if trailing else line.rstrip())


def copy_response(response: Any, out: Any) -> None:
    """Copy a streamed answer's body to ``out`` as it arrives."""
    while True:
        data = response.read1()
        if not data:
            break
        out.write(data)
    out.flush()


def save_response(response: Any, output: str) -> None:
    """Write a streamed answer to ``output`` (whole or not at all: temp file, then rename) or stdout ("")."""
    import os
    import tempfile

    try:
        if not output:
            copy_response(response, sys.stdout.buffer)
            return
        directory = os.path.dirname(os.path.abspath(output))
        try:
            handle, temp = tempfile.mkstemp(prefix=".moor_temp_", dir=directory)
        except OSError as err:
            fail(f"open {output}: {(err.strerror or str(err)).lower()}")
        try:
            with os.fdopen(handle, "wb") as out:
                copy_response(response, out)
            os.replace(temp, output)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
    finally:
        response.close()


def refuse_terminal(output: str) -> None:
    if not output and sys.stdout.isatty():
        fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")


def confirm(warning: str) -> bool:
    """Docker's prune prompt: the warning, then ``[y/N]`` read from stdin."""
    click.echo(f"{warning}\nAre you sure you want to continue? [y/N] ", nl=False)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


#: how many requests the docker CLI keeps in flight for ``stop``, ``kill``, ``rm``, ``pause``, ``unpause``
#: (its ``parallelOperation``)
PARALLEL_OPERATIONS = 50


def act_on_each(names: Iterable[str], action: Callable[[str], object], *, echo: bool = True,
                errors_last: bool = False, after: Callable[[], None] | None = None, parallel: int = 1) -> None:
    """The docker CLI's loop over named objects (``stop a b``, ``rm a b``, ``network rm a b``, ...).

    ``action(name)`` for each name; the name is echoed when it succeeds (unless ``echo`` is off: the
    action prints its own answer) and a 304 (already so: start a running container, stop a stopped
    one) counts as success. Each failure is an ``Error response from daemon: ...`` line, printed as
    it happens or, with ``errors_last``, all together once the loop is done (docker's pause,
    unpause, update). ``after`` runs after the loop, before those lines. Exit 1 if any failed.

    With ``parallel`` above 1, up to that many actions run at once (threads: each request has its own
    connection), as the docker CLI's ``parallelOperation`` runs them; the names and errors are still
    printed in the order given, each once its own action and those before it are done.
    """
    from moor.client import DaemonError

    errors: list[str] = []
    listed = list(names)
    outcomes = _outcomes(listed, action, parallel)
    for name in listed:
        try:
            next(outcomes)()
        except DaemonError as err:
            if err.status != 304:
                message = f"Error response from daemon: {err.message}"
                if not errors_last:
                    click.echo(message, err=True)
                errors.append(message)
                continue
        if echo:
            click.echo(name)
    if after is not None:
        after()
    if errors and errors_last:
        click.echo("\n".join(errors), err=True)
    if errors:
        sys.exit(1)


def _outcomes(names: list[str], action: Callable[[str], object], parallel: int) -> Iterator[Callable[[], object]]:
    """For each name in order, a function that returns its action's result or raises its error."""
    if parallel <= 1 or len(names) <= 1:
        for name in names:
            yield functools.partial(action, name)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(parallel, len(names))) as pool:
        futures = [pool.submit(action, name) for name in names]
        for future in futures:
            yield future.result


def print_prune_report(kind: str, deleted: list[str], space: int | None) -> None:
    """What a prune removed, as Docker prints it: ``Deleted <kind>:``, one line each, then the space (unless None)."""
    from moor.units import human_size

    if deleted:
        click.echo(f"Deleted {kind}:")
        for line in deleted:
            click.echo(line)
        if space is not None:
            click.echo("")
    if space is not None:
        click.echo(f"Total reclaimed space: {human_size(space, 3)}")


def inspect_many(client: Any, names: tuple[str, ...], path_of: Any, kind: str, format_: str,
                 params: dict[str, Any] | None = None, daemon_wording: bool = False) -> None:
    """``inspect`` of several objects: print those found (JSON or template), name the missing, exit 1 if any.

    ``daemon_wording`` names a missing one with the daemon's message (``Error response from daemon: ...``),
    as docker 20.10's ``volume inspect`` does, instead of ``Error: No such KIND: NAME``.
    """
    from moor.client import DaemonError

    results: list[Any] = []
    for name in names:
        try:
            results.append(client.get(path_of(name), **(params or {})))
        except DaemonError as err:
            if err.status != 404:
                raise
            results.append(f"Error response from daemon: {err.message}" if daemon_wording
                           else f"Error: No such {kind}: {name}")
    print_inspected(format_, results, [kind] * len(results))
