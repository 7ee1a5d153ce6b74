"""Registry commands: pull, push, login, logout, search (Docker 20.10's flags, output and exit codes).

Credentials come from ``~/.docker/config.json`` (:mod:`moor.dockerconfig`) and travel in
``X-Registry-Auth``; progress is drawn by :mod:`moor.cli.progress`. A 401 to a pull, push or search asks
for a login on a terminal ("Please login prior to ..."), then tries once more.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from moor.cli.main import client_of
from moor.cli.output import fail
from moor.client import DaemonError, quote_name

if TYPE_CHECKING:
    from moor.client import Client
    from moor.dockerconfig import AuthConfig, ConfigFile
    from moor.images.reference import Reference

T = TypeVar("T")

HUB_LOGIN_MESSAGE = ("Login with your Docker ID to push and pull images from Docker Hub. If you don't have a "
                     "Docker ID, head over to https://hub.docker.com to create one.")
UNENCRYPTED_WARNING = ("WARNING! Your password will be stored unencrypted in {}.\n"
                       "Configure a credential helper to remove this warning. See\n"
                       "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n")
#: Docker's default ``--limit`` of search
DEFAULT_SEARCH_LIMIT = 25
#: the header moord adds when a search was answered from the registry's ``_catalog``
SEARCH_SOURCE_HEADER = "x-moor-search-source"


# ---------------------------------------------------------------------- references


def parse_named(text: str, code: int = 1) -> Reference:
    """A repository reference as the docker CLI's ``ParseNormalizedNamed`` reads it; a bad one fails with its
    words and exit ``code``."""
    from moor.errors import InvalidParameter
    from moor.images.reference import HEX64, parse

    if HEX64.match(text):
        fail(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings", code)
    try:
        return parse(text, default_tag=False)
    except InvalidParameter as err:
        if "must be lowercase" in err.message:
            fail("invalid reference format: repository name must be lowercase", code)
        if "must not be more than" in err.message:
            fail(err.message.removeprefix("invalid reference format: "), code)
        fail("invalid reference format", code)


def api_tag(reference: Reference) -> str:
    """The ``tag`` query parameter for a reference: its digest, else its tag (``getAPITagFromNamedRef``)."""
    return reference.digest or reference.tag or "latest"


# ---------------------------------------------------------------------- credentials and prompts


def _read_line() -> str:
    """One line of stdin; at its end, Go's ``EOF`` and exit 1 as the docker CLI's ``readInput``."""
    line = sys.stdin.readline()
    if not line:
        click.echo("EOF")
        sys.exit(1)
    return line.rstrip("\n").rstrip("\r")


def _read_password(prompt: str) -> str:
    """Print ``prompt`` and read a line of stdin with the terminal's echo off (off before the prompt shows:
    what is typed at once is never echoed)."""
    import termios

    fd = sys.stdin.fileno()
    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        click.echo(prompt, nl=False)
        return _read_line()
    new = termios.tcgetattr(fd)
    new[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, new)
    try:
        click.echo(prompt, nl=False)
        return _read_line()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def configure_auth(user: str, password: str, auth: AuthConfig, is_default: bool) -> None:
    """The docker CLI's ``ConfigureAuth``: prompt for what the flags did not give (only on a terminal)."""
    if not password and not sys.stdin.isatty():
        fail("Error: Cannot perform an interactive login from a non TTY device")
    auth["username"] = auth.get("username", "").strip()
    user = user.strip()
    if not user:
        if is_default:
            click.echo(HUB_LOGIN_MESSAGE)
        default = auth["username"]
        click.echo(f"Username ({default}): " if default else "Username: ", nl=False)
        user = _read_line().strip() or default
    if not user:
        fail("Error: Non-null Username Required")
    if not password:
        password = _read_password("Password: ")
        click.echo("")
        if not password:
            fail("Error: Password Required")
    auth["username"] = user
    auth["password"] = password


def default_auth_config(config: ConfigFile, check_store: bool, server: str, is_default: bool
                        ) -> tuple[AuthConfig, str]:
    """``GetDefaultAuthConfig``: the stored credentials of ``server`` (when asked), and an error text or ""."""
    from moor.dockerconfig import CredentialsError, convert_to_hostname

    if not is_default:
        server = convert_to_hostname(server)
    auth: AuthConfig = {}
    if check_store:
        try:
            auth = config.get_auth(server)
        except CredentialsError as err:
            return {"serveraddress": server}, str(err)
    auth["serveraddress"] = server
    auth.pop("identitytoken", None)
    return auth, ""


def with_login_retry(command: str, domain: str, attempt: Callable[[str], T]) -> T:
    """Run ``attempt(X-Registry-Auth)`` with the stored credentials; on a 401, prompt for a login and retry.

    Off a terminal a 401 is reported as the daemon worded it: the docker CLI would say it cannot prompt
    there, but dockerd answers these refusals with a 500 ("no basic auth credentials"), so a docker user
    reads the daemon's words, and so does moor's.
    """
    from moor.dockerconfig import INDEX_SERVER, ConfigFile, auth_key, encode_auth_header, resolve_auth

    config = ConfigFile.load()
    try:
        return attempt(encode_auth_header(resolve_auth(domain, config)))
    except DaemonError as err:
        if err.status != 401 or not sys.stdin.isatty():
            raise
    click.echo(f"\nPlease login prior to {command}:")
    server = auth_key(domain)
    auth, problem = default_auth_config(config, True, server, server == INDEX_SERVER)
    if problem:
        click.echo(f"Unable to retrieve stored credentials for {server}, error: {problem}.", err=True)
    configure_auth("", "", auth, server == INDEX_SERVER)
    return attempt(encode_auth_header(auth))


# ---------------------------------------------------------------------- progress


def show_progress(messages: Iterator[dict[str, Any]], out: TextIO, terminal: bool, width: int) -> None:
    """Draw a progress stream; a stream error or a broken answer raises :class:`~moor.cli.progress.StreamError`."""
    from moor.cli.progress import StreamError, display_stream
    from moor.client import ConnectError

    try:
        display_stream(messages, out, terminal, width)
    except ValueError as err:  # a line that is not JSON
        raise StreamError(f"invalid character in the daemon's answer: {err}") from None
    except ConnectError:  # the answer stopped short: moord went away mid-stream
        raise StreamError("unexpected EOF") from None
    except KeyboardInterrupt:  # Ctrl-C: leave (moord stops the transfer when its client goes), as a signal would
        out.write("\n" if terminal else "")
        sys.exit(130)


def stdout_terminal() -> tuple[bool, int]:
    """Whether stdout is a terminal, and its width (the docker CLI draws bars for stdout's terminal)."""
    from moor.cli.progress import DEFAULT_WIDTH, terminal_width

    try:
        if sys.stdout.isatty():
            return True, terminal_width(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        pass
    return False, DEFAULT_WIDTH


def pull_image(client: Client, reference: Reference, platform: str, out: TextIO, all_tags: bool = False,
               login_retry: bool = True) -> None:
    """``POST /images/create?fromImage=`` with the stored credentials, its progress drawn on ``out``."""
    from moor.dockerconfig import registry_auth_header

    params = {"fromImage": reference.familiar_name, "tag": None if all_tags else api_tag(reference),
              "platform": platform.lower() or None}
    terminal, width = stdout_terminal()
    if out is not sys.stdout and out is not sys.stderr:
        terminal = False

    def attempt(header: str) -> Iterator[dict[str, Any]]:
        return client.stream("POST", "/images/create", params, headers={"X-Registry-Auth": header})

    if login_retry:
        messages = with_login_retry("pull", reference.domain, attempt)
    else:
        messages = attempt(registry_auth_header(reference.domain))
    show_progress(messages, out, terminal, width)


# ---------------------------------------------------------------------- pull / push


def _reference_to_transfer(name: str, all_tags: bool, quiet: bool) -> Reference:
    """The reference of a pull or push: ``-a`` takes a bare repository; without it a bare one means
    ``latest`` (said on stdout unless ``-q``)."""
    reference = parse_named(name)
    named_only = not reference.tag and not reference.digest
    if all_tags and not named_only:
        fail("tag can't be used with --all-tags/-a")
    if not all_tags and named_only:
        reference = reference.with_tag("latest")
        if not quiet:
            click.echo("Using default tag: latest")
    return reference


def _trust_option(function: Any) -> Any:
    return click.option("--disable-content-trust", is_flag=True, default=True,
                        help="Skip image verification (default true)")(function)


@click.command("pull")
@click.argument("name", metavar="NAME[:TAG|@DIGEST]")
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
@_trust_option
@click.option("--platform", default="", envvar="DOCKER_DEFAULT_PLATFORM",
              help="Set platform if server is multi-platform capable")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.pass_context
def pull(ctx: click.Context, name: str, all_tags: bool, disable_content_trust: bool, platform: str,
         quiet: bool) -> None:
    """Pull an image or a repository from a registry."""
    from moor.cli.progress import Discard, StreamError

    reference = _reference_to_transfer(name, all_tags, quiet)
    out: Any = Discard() if quiet else sys.stdout
    try:
        pull_image(client_of(ctx), reference, platform, out, all_tags)
    except StreamError as err:
        fail(err.message)
    click.echo(str(reference))


@click.command("push")
@click.argument("name", metavar="NAME[:TAG]")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tagged images in the repository")
@click.option("--disable-content-trust", is_flag=True, default=True, help="Skip image signing (default true)")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.pass_context
def push(ctx: click.Context, name: str, all_tags: bool, disable_content_trust: bool, quiet: bool) -> None:
    """Push an image or a repository to a registry."""
    from moor.cli.progress import Discard, StreamError

    reference = _reference_to_transfer(name, all_tags, quiet)
    if reference.digest:
        fail("cannot push a digest reference")
    client = client_of(ctx)
    params = {"tag": None if all_tags else reference.tag}  # -a: no tag at all, as the docker CLI asks

    def attempt(header: str) -> Iterator[dict[str, Any]]:
        return client.stream("POST", f"/images/{quote_name(reference.familiar_name)}/push", params,
                             headers={"X-Registry-Auth": header})

    messages = with_login_retry("push", reference.domain, attempt)
    terminal, width = stdout_terminal()
    out: Any = sys.stdout
    if quiet:
        out, terminal = Discard(), False
    try:
        show_progress(messages, out, terminal, width)
    except StreamError as err:
        fail(err.message)
    if quiet:
        click.echo(str(reference))


# ---------------------------------------------------------------------- login / logout


JSON_HEADERS = {"Content-Type": "application/json"}


def _auth_body(auth: AuthConfig) -> bytes:
    """``POST /auth``'s body as the docker CLI encodes it (Go's encoder: compact, a newline at the end)."""
    from moor.dockerconfig import auth_json, go_json

    return (go_json(auth_json(auth)) + "\n").encode()


def _login_options(password: str, password_stdin: bool, user: str) -> str:
    """``verifyloginOptions``: the warnings and errors about ``-p`` and ``--password-stdin``; the password."""
    if password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
        if password_stdin:
            fail("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not user:
            fail("Must provide --username with --password-stdin")
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    return password


@click.command("login")
@click.argument("server", required=False, default="")
@click.option("-p", "--password", default="", help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.option("-u", "--username", default="", help="Username")
@click.pass_context
def login(ctx: click.Context, server: str, password: str, password_stdin: bool, username: str) -> None:
    """Log in to a Docker registry.

    If no server is specified, the default is defined by the daemon.
    """
    from moor.dockerconfig import INDEX_SERVER, ConfigFile, CredentialsError

    password = _login_options(password, password_stdin, username)
    client = client_of(ctx)
    address = server if server and server != "docker.io" else INDEX_SERVER
    is_default = address == INDEX_SERVER
    config = ConfigFile.load()
    auth, problem = default_auth_config(config, not username and not password, address, is_default)
    response: Any = None
    if not problem and auth.get("username") and auth.get("password"):
        click.echo("Authenticating with existing credentials...")
        try:
            response = client.call("POST", "/auth", body=_auth_body(auth), headers=JSON_HEADERS)
        except DaemonError as err:
            if err.status == 401:
                click.echo("Stored credentials invalid or expired", err=True)
            else:
                click.echo(f"Login did not succeed, error: Error response from daemon: {err.message}", err=True)
    if response is None:
        configure_auth(username, password, auth, is_default)
        response = client.call("POST", "/auth", body=_auth_body(auth), headers=JSON_HEADERS)
    response = response if isinstance(response, dict) else {}
    if response.get("IdentityToken"):
        auth["password"] = ""
        auth["identitytoken"] = response["IdentityToken"]
    store = config.store_for(address)
    if store.is_file_store and auth.get("password"):
        click.echo(UNENCRYPTED_WARNING.format(config.filename), err=True)
    try:
        store.store(auth)
    except (CredentialsError, OSError) as err:
        fail(f"Error saving credentials: {err}")
    if response.get("Status"):
        click.echo(response["Status"])


@click.command("logout")
@click.argument("server", required=False, default="")
def logout(server: str) -> None:
    """Log out from a Docker registry.

    If no server is specified, the default is defined by the daemon.
    """
    from moor.dockerconfig import INDEX_SERVER, ConfigFile, CredentialsError, convert_to_hostname

    registries = [server or INDEX_SERVER]
    hostname = registries[0]
    if server:
        hostname = convert_to_hostname(server)
        registries += [hostname, f"http://{hostname}", f"https://{hostname}"]
    config = ConfigFile.load()
    click.echo(f"Removing login credentials for {hostname}")
    errors: dict[str, str] = {}
    for registry in registries:
        try:
            config.store_for(registry).erase(registry)
        except (CredentialsError, OSError) as err:
            errors[registry] = str(err)
    if len(errors) == len(registries):
        click.echo("WARNING: could not erase credentials:", err=True)
        for registry, message in errors.items():
            click.echo(f"{registry}: {message}", err=True)


# ---------------------------------------------------------------------- search


def search_index(term: str) -> str:
    """The registry a search term names (``splitReposSearchTerm``): ``docker.io`` unless it starts with a host."""
    first, sep, _ = term.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        return "docker.io"
    return "docker.io" if first == "index.docker.io" else first


def _ellipsis(text: str, width: int) -> str:
    """The docker CLI's ``formatter.Ellipsis`` (display width: East Asian wide characters count two)."""
    import unicodedata

    widths = [2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text]
    if sum(widths) <= width:
        return text
    used = 0
    for index, char_width in enumerate(widths):
        if used + char_width > width - 1:
            return text[:index] + "…"
        used += char_width
    return text


class SearchRow(dict[str, str]):
    """One result as the templates see it; ``{{json .}}`` gives Docker's form (keys sorted, flags as text)."""

    def __json__(self) -> dict[str, str]:
        flags = {"IsOfficial": "true" if self["IsOfficial"] else "false",
                 "IsAutomated": "true" if self["IsAutomated"] else "false"}
        return dict(sorted({**self, **flags}.items()))


def search_rows(results: list[dict[str, Any]], no_trunc: bool) -> list[dict[str, str]]:
    """Docker's search context for each result, sorted by stars (most first)."""
    rows: list[dict[str, str]] = []
    for result in sorted(results, key=lambda r: -int(r.get("star_count") or 0)):
        description = str(result.get("description") or "").replace("\n", " ").replace("\r", " ")
        rows.append(SearchRow({
            "Name": str(result.get("name") or ""),
            "Description": description if no_trunc else _ellipsis(description, 45),
            "StarCount": str(int(result.get("star_count") or 0)),
            "IsOfficial": "[OK]" if result.get("is_official") else "",
            "IsAutomated": "[OK]" if result.get("is_automated") else "",
        }))
    return rows


SEARCH_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
                  "IsAutomated": "AUTOMATED"}
DEFAULT_SEARCH_FORMAT = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"


def print_search(rows: list[dict[str, str]], format_: str) -> None:
    """Rows through a Go template; a ``table`` one as Docker's formatter (tabwriter: min width 10, padding 3)."""
    from moor.cli.gotemplate import TemplateError, marshal_map, render, struct

    if format_ in ("", "table"):
        format_ = DEFAULT_SEARCH_FORMAT
    table = format_.startswith("table")
    template = format_[len("table"):].strip(" ") if table else format_
    try:
        lines = [render(template, struct(row, "*registry.searchContext", marshal_map(row.__json__())
                                         if hasattr(row, "__json__") else None)) for row in rows]
        if table:
            header = render(template, SEARCH_HEADERS, header=True)
            tabwriter([line.split("\t") for line in [header, *lines]])
        else:
            for line in lines:
                click.echo(line)
    except TemplateError as err:
        fail(f"template parsing error: {err}")


def tabwriter(rows: list[list[str]], min_width: int = 10, padding: int = 3) -> None:
    """Go's tabwriter as the docker CLI's formatter sets it up: every cell but a line's last is padded to
    its column's width (at least ``min_width``), trailing spaces included."""
    widths: list[int] = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            if index == len(widths):
                widths.append(min_width)
            widths[index] = max(widths[index], len(cell) + padding)
    for row in rows:
        click.echo("".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + (row[-1] if row else ""))


def search_filters(values: tuple[str, ...]) -> str | None:
    """``-f key=value`` flags as the docker CLI sends them (``filters.ToJSON``: ``{"key": {"value": true}}``,
    key lower-cased, both trimmed); a flag without ``=`` is its usage error."""
    from moor.dockerconfig import go_json

    result: dict[str, dict[str, bool]] = {}
    for value in values:
        if not value:
            continue
        key, sep, rest = value.partition("=")
        if not sep:  # a usage error: main() adds "See 'moor search --help'." and exits 125
            raise click.UsageError(f'invalid argument "{value}" for "-f, --filter" flag: bad format of filter '
                                   "(expected name=value)", click.get_current_context())
        result.setdefault(key.strip().lower(), {})[rest.strip()] = True
    return go_json({key: dict(sorted(values.items())) for key, values in sorted(result.items())}) if result else None


@click.command("search")
@click.argument("term")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", default="", help="Pretty-print search using a Go template")
@click.option("--limit", type=int, default=DEFAULT_SEARCH_LIMIT, help="Max number of search results (default 25)")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.pass_context
def search(ctx: click.Context, term: str, filters: tuple[str, ...], format_: str, limit: int,
           no_trunc: bool) -> None:
    """Search the Docker Hub for images."""
    client = client_of(ctx)
    params = {"term": term, "limit": limit if limit > 0 else None, "filters": search_filters(filters)}
    index = search_index(term)

    def attempt(header: str) -> tuple[Any, dict[str, str]]:
        return client.call_with_headers("GET", "/images/search", params, headers={"X-Registry-Auth": header})

    results, headers = with_login_retry("search", index, attempt)
    if headers.get(SEARCH_SOURCE_HEADER) == "catalog":
        needle = term.partition("/")[2] if index != "docker.io" else term
        click.echo(f"Note: {index} has no search API: these are the repositories of its catalog "
                   f"whose name contains {needle!r}", err=True)
    print_search(search_rows(results if isinstance(results, list) else [], no_trunc), format_)
