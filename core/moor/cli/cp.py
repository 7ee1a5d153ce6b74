"""``moor cp`` and ``moor export``: copy files between containers and the host, export a root filesystem.

The naming rules are Docker's (``docker cp`` in docker/cli and ``pkg/archive/copy.go``):

- Copying out: the daemon's archive starts with the source's base name. Into an existing directory it
  lands inside it; to a new name it is renamed; ``SRC/.`` copies the content of a directory; ``-`` writes
  the tar to stdout. ``-L`` follows a symbolic link as the source.
- Copying in: the local path is archived (its last link followed only with ``-L``); a destination that
  is a directory receives it inside; a missing destination whose parent exists gets the source renamed
  to it; ``-`` reads a tar from stdin (the destination must then be a directory).

Extraction on the host never writes outside the destination directory and follows no symbolic link
below it (see :func:`moor.containers.archive.extract_local`).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import dataclass
from typing import IO, Any, NoReturn, cast

import click

from moor.cli.main import client_of
from moor.cli.output import copy_response, refuse_terminal, save_response
from moor.client import Client, DaemonError, quote_name

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_IRREGULAR = 1 << 19


class CopyError(Exception):
    """A copy failed on the client side; the message is printed as Docker's CLI prints it."""


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``container:path`` -> (container, path); a local path gives an empty container (Docker's rules)."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _os_error(err: OSError, verb: str = "lstat") -> str:
    """An ``OSError`` as Go prints a ``PathError``: ``lstat /x: no such file or directory``."""
    text = (err.strerror or str(err)).lower()
    return f"{verb} {err.filename}: {text}" if err.filename else text


@dataclass
class CopyInfo:
    """Docker's ``archive.CopyInfo``."""

    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


def resolve_local_path(path: str) -> str:
    from moor.containers.archive import go_clean, preserve_trailing

    return preserve_trailing(go_clean(os.path.join(os.getcwd(), path)), path)


def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """Docker's ``GetRebaseName``: keep the request's trailing ``/`` or ``/.``; rename when the base changed."""
    from moor.containers.archive import go_base, has_trailing_separator, specifies_current_dir

    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    rebase = go_base(path) if go_base(path) != go_base(resolved) else ""
    return resolved, rebase


def _eval_symlinks(path: str) -> str:
    try:
        os.lstat(path)
        return os.path.realpath(path, strict=True)
    except OSError as err:
        raise CopyError(_os_error(err)) from None


def source_info(path: str, follow_link: bool) -> CopyInfo:
    """Docker's ``CopyInfoSourcePath`` for a local source."""
    from moor.containers.archive import go_base, has_trailing_separator

    if follow_link:
        resolved, rebase = get_rebase_name(path, _eval_symlinks(path))
    else:
        directory, base = path[: path.rfind("/") + 1], path[path.rfind("/") + 1:]
        resolved = _eval_symlinks(directory or ".").rstrip("/") + "/" + base
        rebase = go_base(path) if has_trailing_separator(path) and go_base(path) != go_base(resolved) else ""
    try:
        st = os.lstat(resolved)
    except OSError as err:
        raise CopyError(_os_error(err)) from None
    import stat

    return CopyInfo(resolved, True, stat.S_ISDIR(st.st_mode), rebase)


def destination_info(path: str) -> CopyInfo:
    """Docker's ``CopyInfoDestinationPath``: follow links at the destination; its parent must exist."""
    import stat

    from moor.containers.archive import split_path_dir_entry

    original = path
    for _ in range(12):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent, _ = split_path_dir_entry(path)
            try:
                parent_st = os.stat(parent)
            except OSError as err:
                raise CopyError(_os_error(err, "stat")) from None
            if not stat.S_ISDIR(parent_st.st_mode):
                raise CopyError("not a directory") from None
            return CopyInfo(path)
        except OSError as err:
            raise CopyError(_os_error(err)) from None
        if not stat.S_ISLNK(st.st_mode):
            return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))
        target = os.readlink(path)
        if not target.startswith("/"):
            target = os.path.join(split_path_dir_entry(path)[0], target)
        path = target
    raise CopyError(f"too many symlinks in {original}")


def prepare_archive_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, str | None]:
    """Docker's ``PrepareArchiveCopy``: the directory to extract into and the new top name (None: keep)."""
    from moor.containers.archive import asserts_directory, split_path_dir_entry

    dst_dir, dst_base = split_path_dir_entry(dst.path)
    if dst.exists and dst.is_dir:
        return dst.path, None
    if dst.exists and src.is_dir:
        raise CopyError("cannot copy directory")
    if dst.exists or src.is_dir:
        return dst_dir, dst_base
    if asserts_directory(dst.path):
        raise CopyError("no such directory")
    return dst_dir, dst_base


def validate_output_path(path: str) -> None:
    """Docker's ``ValidateOutputPath`` for a local destination."""
    import stat

    from moor.containers.archive import go_clean, go_dir

    directory = go_dir(go_clean(path))
    if directory not in ("", ".") and not os.path.exists(directory):
        raise CopyError(f'invalid output path: directory "{directory}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise CopyError(_os_error(err, "stat")) from None
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        return
    kind = "got a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "got an irregular file"
    raise CopyError(f'invalid output path: "{path}" must be a directory or a regular file: {kind}')


def decode_stat(value: str) -> dict[str, Any]:
    if not value:
        return {}
    return json.loads(base64.b64decode(value))


def _archive_path(container: str) -> str:
    return f"/containers/{quote_name(container)}/archive"


def _not_found(err: DaemonError, container: str, path: str) -> NoReturn:
    if err.status == 404:
        _fail(f"Error: No such container:path: {container}:{path}")
    raise err


def stat_path(client: Client, container: str, path: str) -> dict[str, Any]:
    response = client.open("HEAD", _archive_path(container), {"path": path})
    response.read()
    response.close()
    return decode_stat(response.getheader("X-Docker-Container-Path-Stat"))


class _ResponseReader:
    """A file-like view of a response body."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self._buffer + self._response.read()
        while len(self._buffer) < size:
            data = self._response.read1(max(size - len(self._buffer), 65536))
            if not data:
                break
            self._buffer += data
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def copy_from_container(client: Client, container: str, src_path: str, dst_path: str, follow_link: bool,
                        archive_mode: bool) -> None:
    from moor.containers.archive import extract_local, go_clean, go_dir, split_path_dir_entry

    if dst_path != "-":
        dst_path = resolve_local_path(dst_path)
    validate_output_path(dst_path)
    rebase = ""
    try:
        stat = stat_path(client, container, src_path)
        if follow_link and stat.get("mode", 0) & GO_MODE_SYMLINK:
            target = stat.get("linkTarget") or ""
            if not target.startswith("/"):
                target = go_clean(go_dir(src_path) + "/" + target)
            src_path, rebase = get_rebase_name(src_path, target)
        response = client.open("GET", _archive_path(container), {"path": src_path})
    except DaemonError as err:
        _not_found(err, container, src_path)
    try:
        if dst_path == "-":
            copy_response(response, sys.stdout.buffer)
            return
        stat = decode_stat(response.getheader("X-Docker-Container-Path-Stat"))
        src = CopyInfo(src_path, True, bool(stat.get("mode", 0) & GO_MODE_DIR), rebase)
        dst = destination_info(dst_path)
        dst_dir, new_base = prepare_archive_copy(src, dst)
        _, src_base = split_path_dir_entry(src.path)
        old = src_base
        new = rebase if new_base is None else new_base
        rename = (old, new) if new else None
        from moor.errors import MoorError

        try:
            body = cast("IO[bytes]", _ResponseReader(response))  # read() is all extract_local uses
            extract_local(dst_dir, body, rename=rename, preserve_owner=archive_mode)
        except MoorError as err:
            raise CopyError(str(err)) from None
        except OSError as err:
            raise CopyError(_os_error(err, "open")) from None
    finally:
        response.close()


def copy_to_container(client: Client, container: str, src_path: str, dst_path: str, follow_link: bool,
                      archive_mode: bool) -> None:
    from moor.containers.archive import split_path_dir_entry, tar_path

    if src_path != "-":
        src_path = resolve_local_path(src_path)
    dst = CopyInfo(dst_path)
    stat: dict[str, Any] | None
    try:
        stat = stat_path(client, container, dst_path)
        if stat.get("mode", 0) & GO_MODE_SYMLINK:
            target = stat.get("linkTarget") or ""
            if not target.startswith("/"):
                from moor.containers.archive import go_clean, go_dir

                target = go_clean(go_dir(dst_path) + "/" + target)
            dst.path = target
            stat = stat_path(client, container, target)
    except DaemonError:
        stat = None
    if stat is not None:
        mode = stat.get("mode", 0)
        if mode & GO_MODE_DEVICE or mode & GO_MODE_IRREGULAR:
            kind = "got a device" if mode & GO_MODE_DEVICE else "got an irregular file"
            raise CopyError(f'destination "{container}:{dst_path}" must be a directory or a regular file: {kind}')
        dst.exists, dst.is_dir = True, bool(mode & GO_MODE_DIR)
    body: Any
    if src_path == "-":
        if not dst.is_dir:
            raise CopyError(f'destination "{container}:{dst_path}" must be a directory')
        body, dst_dir = sys.stdin.buffer, dst.path
    else:
        src = source_info(src_path, follow_link)
        dst_dir, new_base = prepare_archive_copy(src, dst)
        top = new_base or src.rebase_name or split_path_dir_entry(src.path)[1]
        try:
            body = tar_path(src.path, top)
        except OSError as err:
            raise CopyError(_os_error(err, "open")) from None
    params = {"path": dst_dir, "noOverwriteDirNonDir": "true", "copyUIDGID": "true" if archive_mode else None}
    try:
        response = client.open("PUT", _archive_path(container), params, body=body,
                               headers={"Content-Type": "application/x-tar"})
    except DaemonError as err:
        _not_found(err, container, dst_dir)
    finally:
        if hasattr(body, "close") and body is not sys.stdin.buffer:
            body.close()
    response.read()
    response.close()


@click.command("cp", context_settings={"allow_interspersed_args": True})
@click.option("-a", "--archive", "archive_mode", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.argument("source")
@click.argument("destination")
@click.pass_context
def cp(ctx: click.Context, archive_mode: bool, follow_link: bool, quiet: bool, source: str,
       destination: str) -> None:
    """Copy files/folders between a container and the local filesystem.

    \b
    moor cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
    moor cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH
    """
    if not source:
        _fail("source can not be empty")
    if not destination:
        _fail("destination can not be empty")
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(destination)
    if src_container and dst_container:
        _fail("copying between containers is not supported")
    if not src_container and not dst_container:
        _fail("must specify at least one container source")
    client = client_of(ctx)
    try:
        if src_container:
            copy_from_container(client, src_container, src_path, dst_path, follow_link, archive_mode)
        else:
            copy_to_container(client, dst_container, src_path, dst_path, follow_link, archive_mode)
    except CopyError as err:
        _fail(str(err))


@click.command("export")
@click.option("-o", "--output", default="", help="Write to a file, instead of STDOUT")
@click.argument("container")
@click.pass_context
def export(ctx: click.Context, output: str, container: str) -> None:
    """Export a container's filesystem as a tar archive."""
    refuse_terminal(output)
    save_response(client_of(ctx).open("GET", f"/containers/{quote_name(container)}/export"), output)
