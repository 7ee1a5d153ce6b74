"""Image commands: images, image ls/rm/inspect/prune/history/tag/load/save/import, rmi, tag, ..."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import click

from moor.cli.main import LazyGroup, client_of
from moor.cli.output import (
    act_on_each,
    confirm,
    fail,
    inspect_many,
    print_prune_report,
    print_table,
    refuse_terminal,
    render_format,
    save_response,
)
from moor.cli.queryflags import filters_param
from moor.client import quote_name
from moor.timefmt import human_duration, parse_timestamp
from moor.units import human_size


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.split(":", 1)[-1][:12]


def split_repo_tag(name: str) -> tuple[str, str]:
    """``host:5000/repo:tag`` -> (``host:5000/repo``, ``tag``); no tag -> empty tag."""
    if "@" in name:
        return name, ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = name.rpartition(":")
        return repo, tag
    return name, ""


# ---------------------------------------------------------------------- images / image ls


def _tagged_and_digest_rows(image: dict[str, Any], show_digests: bool,
                            tag_digests: bool) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows of one image, as the docker CLI's ``imageFormatTaggedAndDigest``:
    each tag with each digest of its repository (when ``tag_digests``: ``--digests`` or a format naming
    ``{{.Digest}}``) or ``<none>``; then the repositories that only have digests (a row per digest with
    ``--digests``, else one with an empty digest)."""
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    digests = [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"]
    if not tags and not digests:
        return [("<none>", "<none>", "<none>")]
    repo_tags: dict[str, list[str]] = {}
    for tag in tags:
        repo, tag_name = split_repo_tag(tag)
        if tag_name:
            repo_tags.setdefault(repo, []).append(tag_name)
    repo_digests: dict[str, list[str]] = {}
    for digest in digests:
        repo, sep, value = digest.partition("@")
        if sep:
            repo_digests.setdefault(repo, []).append(value)
    rows = []
    for repo, names in repo_tags.items():
        of_repo = repo_digests.pop(repo, []) if tag_digests else []
        repo_digests.pop(repo, None)
        for tag_name in names:
            rows += [(repo, tag_name, digest) for digest in of_repo] or [(repo, tag_name, "<none>")]
    for repo, values in repo_digests.items():
        rows += [(repo, "<none>", digest) for digest in values] if show_digests else [(repo, "<none>", "")]
    return rows


def _image_rows(images: list[dict[str, Any]], show_digests: bool, no_trunc: bool,
                tag_digests: bool | None = None) -> list[dict[str, Any]]:
    rows = []
    now = time.time()
    for image in images:
        base = {
            "ID": _short(image["Id"], no_trunc),
            "CreatedSince": human_duration(now - image["Created"]) + " ago",
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(image["Created"])),
            "Size": human_size(image["Size"], 3),
            "VirtualSize": human_size(image.get("VirtualSize", image["Size"])),
            "SharedSize": "N/A", "UniqueSize": "N/A",
            "Containers": "N/A" if image.get("Containers", -1) < 0 else str(image["Containers"]),
        }
        rows_of = _tagged_and_digest_rows(image, show_digests, show_digests if tag_digests is None else tag_digests)
        for repo, tag_name, digest in rows_of:
            rows.append({**base, "Repository": repo, "Tag": tag_name, "Digest": digest})
    return rows


def _list_images(ctx: click.Context, repository: str | None, all_: bool, quiet: bool, digests: bool,
                 no_trunc: bool, filters: tuple[str, ...], format_: str) -> None:
    params: dict[str, Any] = {"all": "1" if all_ else None, "filters": filters_param(filters)}
    if repository:
        merged = json.loads(params["filters"] or "{}")
        merged.setdefault("reference", []).append(repository)
        params["filters"] = json.dumps(merged)
    images = client_of(ctx).get("/images/json", **params)
    if quiet:
        seen: list[str] = []
        for image in images:
            short = _short(image["Id"], no_trunc)
            if short not in seen:
                seen.append(short)
        for short in seen:
            click.echo(short)
        return
    # the docker CLI shows digests when asked or when the format names them (needDigest); a table format
    # given with --digests gets the column if it lacks it
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    rows = _image_rows(images, digests, no_trunc, tag_digests=digests or "{{.Digest}}" in format_)
    if format_.startswith("table") and digests and "{{.Digest}}" not in format_:
        format_ += "\t{{.Digest}}"
    if format_:
        headers = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
                   "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                   "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                   "Containers": "CONTAINERS"}
        render_format(format_, rows, headers, struct_type="*formatter.imageContext")
        return
    columns = ["Repository", "Tag"] + (["Digest"] if digests else []) + ["ID", "CreatedSince", "Size"]
    titles = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
              "CreatedSince": "CREATED", "Size": "SIZE"}
    print_table([[titles[c] for c in columns]] + [[row[c] for c in columns] for row in rows], min_width=10)


def _list_options(function: Any) -> Any:
    decorators: list[Callable[[Any], Any]] = [
        click.argument("repository", required=False),
        click.option("-a", "--all", "all_", is_flag=True, help="Show all images (default hides intermediate images)"),
        click.option("-q", "--quiet", is_flag=True, help="Only show image IDs"),
        click.option("--digests", is_flag=True, help="Show digests"),
        click.option("--no-trunc", is_flag=True, help="Don't truncate output"),
        click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided"),
        click.option("--format", "format_", default="", help="Pretty-print images using a Go template"),
        click.pass_context,
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.command("images")
@_list_options
def images(ctx: click.Context, **options: Any) -> None:
    """List images."""
    _list_images(ctx, **options)


@click.group("image", cls=LazyGroup, lazy={"pull": "registry:pull", "push": "registry:push",
                                                 "build": "build:build"})
def image() -> None:
    """Manage images."""


@image.command("ls")
@_list_options
def image_ls(ctx: click.Context, **options: Any) -> None:
    """List images."""
    _list_images(ctx, **options)


image.add_command(image_ls, "list")

# ---------------------------------------------------------------------- rmi / tag


@click.command("rmi")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@click.pass_context
def rmi(ctx: click.Context, names: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove one or more images."""
    client = client_of(ctx)
    params = {"force": "1" if force else None, "noprune": "1" if no_prune else None}

    def remove(name: str) -> None:
        for item in client.call("DELETE", f"/images/{quote_name(name)}", params) or []:
            for key, value in item.items():
                click.echo(f"{key}: {value}")

    act_on_each(names, remove, echo=False)


image.add_command(rmi, "rm")
image.add_command(rmi, "remove")


@click.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    import re

    from moor.errors import InvalidParameter
    from moor.images import reference

    for name in (source, target):  # checked here first, as the docker CLI 20.10 does, source then target
        try:
            reference.parse(name)
        except InvalidParameter as err:
            reason = re.sub(r"^(invalid reference format): '.*'$", r"\1", str(err))
            reason = re.sub(r"repository name \(.*\) must be lowercase", "repository name must be lowercase", reason)
            fail(f'Error parsing reference: "{name}" is not a valid repository/tag: {reason}')
    repo, tag_name = split_repo_tag(target)
    client_of(ctx).call("POST", f"/images/{quote_name(source)}/tag", {"repo": repo, "tag": tag_name or None})


image.add_command(tag, "tag")

# ---------------------------------------------------------------------- inspect / history


def _inspect_images(ctx: click.Context, names: tuple[str, ...], format_: str) -> None:
    inspect_many(client_of(ctx), names, lambda name: f"/images/{quote_name(name)}/json", "image", format_)


@image.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.pass_context
def image_inspect(ctx: click.Context, names: tuple[str, ...], format_: str) -> None:
    """Display detailed information on one or more images."""
    _inspect_images(ctx, names, format_)


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("history")
@click.argument("name")
@click.option("-H", "--human", default=True, type=bool, help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "format_", default="", help="Pretty-print images using a Go template")
@click.pass_context
def history(ctx: click.Context, name: str, human: bool, no_trunc: bool, quiet: bool, format_: str) -> None:
    """Show the history of an image."""
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    entries = client_of(ctx).get(f"/images/{quote_name(name)}/history")
    now = time.time()
    rows = []
    for entry in entries:
        ident = entry["Id"] if entry["Id"] == "<missing>" else _short(entry["Id"], no_trunc)
        created_by = entry["CreatedBy"].replace("\t", " ")
        rows.append({
            "ID": ident,
            "CreatedSince": human_duration(now - entry["Created"]) + " ago" if human else
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry["Created"])),
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry["Created"])),
            "CreatedBy": created_by if no_trunc else _ellipsis(created_by, 45),
            "Size": human_size(entry["Size"], 3) if human else str(entry["Size"]),
            "Comment": entry["Comment"],
        })
    if quiet:
        for row in rows:
            click.echo(row["ID"])
        return
    if format_:
        render_format(format_, rows, {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                                      "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"},
                      struct_type="*image.historyContext")
        return
    table = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    table += [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]] for r in rows]
    print_table(table, min_width=10)


image.add_command(history, "history")

# ---------------------------------------------------------------------- load / save / import


@click.command("load")
@click.option("-i", "--input", "input_", default="", help="Read from tar archive file, instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.pass_context
def load(ctx: click.Context, input_: str, quiet: bool) -> None:
    """Load an image from a tar archive or STDIN."""
    source: IO[bytes]
    if input_:
        try:
            source = open(input_, "rb")
        except OSError as err:
            fail(f"open {input_}: {err.strerror.lower() if err.strerror else err}")
    else:
        if sys.stdin.isatty():
            fail("requested load from stdin, but stdin is empty")
        source = sys.stdin.buffer
    client = client_of(ctx)
    with source:
        response = client.open("POST", "/images/load", {"quiet": "1" if quiet else "0"}, body=source,
                               headers={"Content-Type": "application/x-tar"})
        for message in client.stream_json(response):
            if "error" in message:
                fail(message["error"])
            if "stream" in message:
                click.echo(message["stream"], nl=False)


image.add_command(load, "load")


@click.command("save")
@click.argument("names", nargs=-1, required=True)
@click.option("-o", "--output", default="", help="Write to a file, instead of STDOUT")
@click.pass_context
def save(ctx: click.Context, names: tuple[str, ...], output: str) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    refuse_terminal(output)
    save_response(client_of(ctx).open("GET", "/images/get", {"names": list(names)}), output)


image.add_command(save, "save")


@click.command("import")
@click.argument("source")
@click.argument("repository", required=False, default="")
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", default="", help="Set platform if server is multi-platform capable")
@click.pass_context
def import_(ctx: click.Context, source: str, repository: str, changes: tuple[str, ...], message: str,
            platform: str) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    repo, tag_name = split_repo_tag(repository) if repository else ("", "")
    body: IO[bytes] | None = None
    if source == "-":
        body = sys.stdin.buffer
    elif "://" in source:  # the daemon downloads it, as Docker's
        pass
    else:
        try:
            body = open(source, "rb")
        except OSError as err:
            fail(f"open {source}: {(err.strerror or str(err)).lower()}")
    params = {"fromSrc": "-" if body is not None else source, "repo": repo or None, "tag": tag_name or None,
              "changes": list(changes), "message": message or None, "platform": platform or None}
    client = client_of(ctx)
    response = client.open("POST", "/images/create", params, body=body,
                           headers={"Content-Type": "application/x-tar"})
    for item in client.stream_json(response):
        if "error" in item:
            fail(item["error"])
        if "status" in item:
            click.echo(item["status"])


image.add_command(import_, "import")

# ---------------------------------------------------------------------- prune / df


@image.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>')")
@click.pass_context
def image_prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images."""
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if all_ else "WARNING! This will remove all dangling images.")
    if not force and not confirm(warning):
        return
    merged = json.loads(filters_param(filters) or "{}")
    merged["dangling"] = ["false" if all_ else "true"]
    report = client_of(ctx).call("POST", "/images/prune", {"filters": json.dumps(merged)})
    lines = [f"{key.lower()}: {value}" for item in report.get("ImagesDeleted") or [] for key, value in item.items()]
    print_prune_report("Images", lines, report.get("SpaceReclaimed", 0))


def _containers_row(containers: list[dict[str, Any]]) -> dict[str, str]:
    """``system df``'s Containers line: the writable layers; those of stopped containers are reclaimable."""
    def active(container: dict[str, Any]) -> bool:
        return any(word in container.get("State", "") for word in ("running", "paused", "restarting"))

    total = sum(max(c.get("SizeRw") or 0, 0) for c in containers)
    reclaimable = sum(max(c.get("SizeRw") or 0, 0) for c in containers if not active(c))
    percent = f" ({reclaimable * 100 // total}%)" if total else ""
    return {"Type": "Containers", "TotalCount": str(len(containers)), "Active": str(sum(map(active, containers))),
            "Size": human_size(total), "Reclaimable": human_size(reclaimable) + percent}


def _volume_row(volumes: list[dict[str, Any]]) -> dict[str, str]:
    """``system df``'s Local Volumes line: unused volumes are reclaimable."""
    sizes = [max((v.get("UsageData") or {}).get("Size", 0), 0) for v in volumes]
    active = [(v.get("UsageData") or {}).get("RefCount", 0) > 0 for v in volumes]
    total = sum(sizes)
    reclaimable = sum(size for size, used in zip(sizes, active) if not used)
    percent = f" ({int(reclaimable * 100 / total)}%)" if total else ""
    return {"Type": "Local Volumes", "TotalCount": str(len(volumes)), "Active": str(sum(active)),
            "Size": human_size(total), "Reclaimable": human_size(reclaimable) + percent}


def _build_cache_size(cache: list[dict[str, Any]]) -> int:
    """The docker CLI's build cache size: the records no image shares."""
    return sum(max(c.get("Size", 0), 0) for c in cache if not c.get("Shared"))


def _build_cache_row(cache: list[dict[str, Any]]) -> dict[str, str]:
    """``system df``'s Build Cache line as the docker CLI 20.10 makes it: what no image shares; reclaimable
    unless a build uses it."""
    total = _build_cache_size(cache)
    in_use = sum(max(c.get("Size", 0), 0) for c in cache if c.get("InUse") and not c.get("Shared"))
    active = sum(1 for c in cache if c.get("InUse"))
    return {"Type": "Build Cache", "TotalCount": str(len(cache)), "Active": str(active),
            "Size": human_size(total), "Reclaimable": human_size(total - in_use)}


def _print_build_cache(cache: list[dict[str, Any]]) -> None:
    """``system df -v``'s build cache table, least recently used first."""
    now = time.time()

    def since(stamp: str) -> str:
        return human_duration(now - parse_timestamp(stamp)) + " ago" if stamp else ""

    click.echo(f"\nBuild cache usage: {human_size(_build_cache_size(cache))}\n")
    ordered = sorted(cache, key=lambda c: (parse_timestamp(c["LastUsedAt"]) if c.get("LastUsedAt") else 0, c["ID"]))
    print_table([["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]] +
                [[c["ID"][:12] + ("*" if c.get("InUse") else ""), c.get("Type", ""), human_size(c.get("Size", 0), 3),
                  since(c.get("CreatedAt", "")), since(c.get("LastUsedAt", "")), str(c.get("UsageCount", 0)),
                  str(bool(c.get("Shared"))).lower()] for c in ordered], min_width=10)


def _print_verbose_usage(data: dict[str, Any]) -> None:
    """``system df -v`` as the docker CLI 20.10: images, containers, local volumes, then the build cache."""
    now = time.time()
    click.echo("Images space usage:\n")
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for image in data.get("Images") or []:
        shared = max(image.get("SharedSize", 0), 0)
        sizes = [human_size(image["Size"]), human_size(shared), human_size(image["Size"] - shared)]
        for repo, tag_name, _digest in _tagged_and_digest_rows(image, False, False):
            rows.append([repo, tag_name, _short(image["Id"], False), human_duration(now - image["Created"]) + " ago",
                         *sizes, str(image.get("Containers", 0))])
    print_table(rows, min_width=10)
    click.echo("\nContainers space usage:\n")
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    for container in data.get("Containers") or []:
        command = container["Command"] if len(container["Command"]) <= 20 else container["Command"][:19] + "…"
        volumes = sum(1 for mount in container.get("Mounts") or [] if mount.get("Type") == "volume")
        rows.append([container["Id"][:12], container["Image"], f'"{command}"', str(volumes),
                     human_size(container.get("SizeRw") or 0), human_duration(now - container["Created"]) + " ago",
                     container["Status"], ",".join(name.lstrip("/") for name in container["Names"])])
    print_table(rows, min_width=10)
    click.echo("\nLocal Volumes space usage:\n")
    rows = [["VOLUME NAME", "LINKS", "SIZE"]]
    for volume in data.get("Volumes") or []:
        usage = volume.get("UsageData") or {}
        rows.append([volume["Name"], str(usage.get("RefCount", 0)), human_size(max(usage.get("Size", 0), 0))])
    print_table(rows, min_width=10)
    _print_build_cache(data.get("BuildCache") or [])


def disk_usage(ctx: click.Context, verbose: bool, format_: str) -> None:
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    data = client_of(ctx).get("/system/df")
    if verbose and not format_:
        _print_verbose_usage(data)
        return
    images_ = data.get("Images") or []
    active = [i for i in images_ if i.get("Containers", 0) > 0]
    total = data.get("LayersSize", 0)
    reclaimable = total - sum(i["Size"] - i.get("SharedSize", 0) for i in active) if images_ else 0
    percent = f" ({int(reclaimable * 100 / total)}%)" if total else ""
    rows = [
        {"Type": "Images", "TotalCount": str(len(images_)), "Active": str(len(active)),
         "Size": human_size(total), "Reclaimable": human_size(max(reclaimable, 0)) + percent},
        _containers_row(data.get("Containers") or []),
        _volume_row(data.get("Volumes") or []),
        _build_cache_row(data.get("BuildCache") or []),
    ]
    if format_:
        render_format(format_, rows, {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                                      "Reclaimable": "RECLAIMABLE"})
        return
    table = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]]
    table += [[r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]] for r in rows]
    print_table(table, min_width=10)
