"""The page shell and the container views in headless Chromium: login and first-run setup, the dashboard,
the containers list and its actions, the create form, the container page's live logs, stats chart, top,
console and recreate-with-pull; the page's own helpers (api.js, ui.js, the router, the form's parsing)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from test_web_ui_access import UNLABELLED
from webui_harness import (
    DESKTOP,
    PHONE,
    REPO,
    PageWatch,
    WebUI,
    api_call,
    csrf_token,
    seed_busybox,
    start_web_ui,
)

from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root

Screenshot = Callable[[Page, str], pathlib.Path]
#: the README's screenshot of the container view
README_SHOT = REPO / "docs" / "images" / "web-ui-container.png"
TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def containers(moord: DaemonProcess) -> Iterator[list[str]]:
    """Names (or ids) of containers a test makes: force-removed after it, even on failure."""
    made: list[str] = []
    yield made
    client = moord.client()
    for name in made:
        try:
            client.call("DELETE", f"/containers/{name}", {"force": "1", "v": "1"})
        except Exception:  # noqa: BLE001  (already gone: nothing to clean)
            pass


def run_container(moord: DaemonProcess, name: str, cmd: list[str], **extra: Any) -> str:
    """Create and start a busybox container through moord's API; its id."""
    client = moord.client()
    created = client.call("POST", "/containers/create", {"name": name},
                          body={"Image": "busybox:latest", "Cmd": cmd, **extra})
    ident = str(created["Id"])
    client.call("POST", f"/containers/{ident}/start")
    return ident


def inspect(moord: DaemonProcess, name: str) -> dict[str, Any]:
    return dict(moord.client().call("GET", f"/containers/{name}/json"))


def exists(moord: DaemonProcess, name: str) -> bool:
    try:
        moord.client().call("GET", f"/containers/{name}/json")
    except DaemonError as err:
        if err.status == 404:
            return False
        raise
    return True


# ---------------------------------------------------------------------------------------------------------------
# the page's helpers, run in the browser itself


def module_eval(page: Page, module: str, body: str) -> Any:
    """Import ``/static/js/<module>`` in the page and evaluate ``body`` with it bound to ``m``."""
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); {body} }}")


def test_the_router_matches_every_route(open_page: Callable[..., Page]) -> None:
    page = open_page()
    routes = module_eval(page, "app.js", """
        return ['#/dashboard', '#/containers', '#/containers/new', '#/containers/abc%2Fd?tab=logs', '#/images',
                '#/networks', '#/volumes', '#/stacks', '#/stacks/web', '#/events', '#/nothing', '#/containers/a/b']
          .map((hash) => { const r = m.matchRoute(hash); return r ? [r.route.view, r.params] : null; });""")
    assert routes == [
        ["dashboard", {}], ["containers", {}], ["create", {}], ["container", {"id": "abc/d", "tab": "logs"}],
        ["images", {}], ["networks", {}], ["volumes", {}], ["stacks", {}], ["stacks", {"name": "web"}],
        ["events", {}], None, None,
    ]


def test_the_sse_parser_and_formatters(open_page: Callable[..., Page]) -> None:
    page = open_page()
    events = module_eval(page, "api.js", r"""
        const got = [];
        const p = m.sseParser((type, data) => got.push([type, data]));
        p.feed('data: {"a"');
        p.feed(': 1}\n\n: keepalive\n\nevent: end\r\ndata: {"error": null}\r\n\r\ndata: x\ndata: y\n');
        p.flush();
        return got;""")
    assert events == [["message", '{"a": 1}'], ["end", '{"error": null}'], ["message", "x\ny"]]
    shown = module_eval(page, "ui.js", """
        const web = {PrivatePort: 80, PublicPort: 8080, Type: 'tcp', IP: '0.0.0.0'};
        return [m.fmtBytes(0), m.fmtBytes(219.56), m.fmtBytes(1536), m.fmtBytes(25_300_000),
                m.fmtBytesBinary(268435456),
                m.shortId('sha256:0123456789abcdef'), m.containerName({Names: ['/web']}),
                m.healthOf({Status: 'Up 3 minutes (unhealthy)'}), m.healthOf({Status: 'Up'}),
                m.fmtPorts([web, {PrivatePort: 53, Type: 'udp'}], 'host').textContent,
                m.fmtPorts([web], 'host').querySelector('a').href];""")
    assert shown == ["0 B", "220 B", "1.54 KB", "25.3 MB", "256 MiB", "0123456789ab", "web", "unhealthy", "",
                     "53/udp8080→80/tcp", "http://host:8080/"]


def test_the_create_form_turns_run_flags_into_docker_bodies(open_page: Callable[..., Page]) -> None:
    page = open_page()
    body = module_eval(page, "views/create.js", """
        return m.buildBody({image: ' nginx:1.25 ', command: `sh -c 'echo "a b"' c\\\\ d`, entrypoint: '',
          workdir: '/srv', user: '', env: 'A=1\\n# comment\\n\\nB=two words', labels: 'team=web\\nx=',
          network: 'net1', restart: 'on-failure', retries: '3', memory: '256m', cpus: '1.5', tty: true,
          interactive: false, autoRemove: false,
          ports: [{host: '8080', container: '80', proto: 'tcp', ip: ''},
                  {host: '', container: '53', proto: 'udp', ip: '127.0.0.1'},
                  {host: '', container: '', proto: 'tcp', ip: ''}],
          volumes: [{source: 'data', target: '/data', readonly: false},
                    {source: '/etc/hosts', target: '/h', readonly: true},
                    {source: '', target: '/anon', readonly: false}]});""")
    assert body == {
        "Image": "nginx:1.25", "Tty": True, "OpenStdin": False, "AttachStdin": False, "AttachStdout": True,
        "AttachStderr": True, "Cmd": ["sh", "-c", 'echo "a b"', "c d"], "WorkingDir": "/srv",
        "Env": ["A=1", "B=two words"], "Labels": {"team": "web", "x": ""},
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/anon": {}},
        "HostConfig": {
            "NetworkMode": "net1",
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                             "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
            "Binds": ["data:/data", "/etc/hosts:/h:ro"],
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Memory": 256 * 1024 * 1024, "NanoCpus": 1_500_000_000,
        },
    }
    minimal = module_eval(page, "views/create.js", """
        return m.buildBody({image: 'busybox', command: '', env: '', labels: '', network: '', restart: 'no',
                            memory: '', cpus: '', tty: false, interactive: true, autoRemove: true, ports: [],
                            volumes: []});""")
    assert minimal == {"Image": "busybox", "Tty": False, "OpenStdin": True, "AttachStdin": False,
                       "AttachStdout": True, "AttachStderr": True,
                       "HostConfig": {"NetworkMode": "bridge", "AutoRemove": True}}
    errors = module_eval(page, "views/create.js", """
        const base = {image: 'busybox', ports: [], volumes: []};
        const bad = [{image: ' '}, {command: 'echo "unterminated'}, {memory: 'lots'}, {memory: '1k'}, {cpus: '-1'},
                     {ports: [{host: '70000', container: '80'}]}, {ports: [{host: '80', container: ''}]},
                     {volumes: [{source: 'x', target: 'relative'}]}, {labels: 'novalue'},
                     {autoRemove: true, restart: 'always'}];
        return bad.map((b) => {
          try { m.buildBody({...base, ...b}); return null; } catch (e) { return e.message; }
        });""")
    assert all(errors), errors
    assert "image" in errors[0] and "quote" in errors[1] and "memory" in errors[2] and "6 MiB" in errors[3]
    assert "70000" in errors[5] and "relative" in errors[7] and "novalue" in errors[8]


# ---------------------------------------------------------------------------------------------------------------
# login, setup, session


def test_login_form_refuses_a_wrong_password_then_logs_in(open_page: Callable[..., Page], web_ui: WebUI,
                                                           screenshot: Screenshot) -> None:
    page = open_page(login=False)
    expect(page.get_by_role("heading", name="Log in to moor")).to_be_visible()
    page.get_by_label("Username").fill(web_ui.user)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid username or password")
    screenshot(page, "login-refused")
    page.get_by_label("Password").fill(web_ui.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")) \
        .to_have_attribute("aria-current", "page")
    screenshot(page, "dashboard")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to moor")).to_be_visible()
    assert page.request.get("/api/docker/info").status == 401


def test_first_run_setup_makes_the_admin(browser: Browser, moord: DaemonProcess, tmp_path: pathlib.Path,
                                         screenshot: Screenshot) -> None:
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    fresh = start_web_ui(moord.host, str(data_dir), "", "", str(tmp_path / "fresh.log"))
    watch = PageWatch(fresh.origin)
    context = browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    watch.watch_context(context)
    try:
        page = context.new_page()
        page.goto(fresh.url + "/#/containers")
        expect(page.get_by_role("heading", name="Welcome to moor")).to_be_visible()
        page.get_by_label("Username").fill("root-admin")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_label("Repeat the password").fill("short")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_contain_text("at least 8")
        screenshot(page, "setup")
        page.get_by_label("Password", exact=True).fill("a-long-password")
        page.get_by_label("Repeat the password").fill("a-long-password")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Containers")).to_be_visible()
        expect(page.locator("#user")).to_contain_text("root-admin")
        assert "root-admin" in (data_dir / "accounts.json").read_text()
    finally:
        context.close()
        fresh.stop()
    assert not watch.foreign() and not watch.page_errors, (watch.foreign(), watch.page_errors)


@pytest.mark.allow_page_errors
def test_an_ended_session_shows_the_login_again(open_page: Callable[..., Page]) -> None:
    page = open_page(route="#/containers")
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    token = csrf_token(page)
    assert page.request.post("/api/logout", headers={"X-CSRF-Token": token}).status == 204
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Log in to moor")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="session ended")).to_be_visible()


def test_an_idle_page_logs_out_and_stops_streaming(open_page: Callable[..., Page], moord: DaemonProcess,
                                                  web_ui: WebUI, containers: list[str]) -> None:
    name = unique("idle")
    containers.append(name)
    ident = run_container(moord, name, ["sh", "-c", TICKER])
    page = open_page(route=None)
    page.clock.install()
    page.goto(f"{web_ui.url}/#/containers/{ident}?tab=logs")
    expect(page.get_by_label("Log lines")).to_contain_text("tick 1")
    idle = page.request.get("/api/session").json()["idle_timeout"]
    page.clock.fast_forward(int(idle * 1000) - 20_000)  # a while, but not yet idle_timeout
    expect(page.get_by_label("Log lines")).to_be_visible()
    page.mouse.click(5, 300)  # the person is back: the count starts again
    page.clock.fast_forward(int(idle * 1000) - 20_000)
    expect(page.get_by_label("Log lines")).to_be_visible()
    page.clock.fast_forward(40_000)
    expect(page.get_by_role("heading", name="Log in to moor")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="without activity")).to_be_visible()
    assert page.request.get("/api/session").status == 401
    assert page.locator("[data-panel='logs']").count() == 0


def test_a_missing_view_says_not_available_and_an_unknown_route_not_found(open_page: Callable[..., Page]) -> None:
    page = open_page(route="#/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto(page.url.split("#")[0] + "#/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


# ---------------------------------------------------------------------------------------------------------------
# dashboard and list


def test_dashboard_counts_and_disk_use(open_page: Callable[..., Page], moord: DaemonProcess,
                                       containers: list[str], screenshot: Screenshot) -> None:
    name = unique("dash")
    containers.append(name)
    run_container(moord, name, ["sleep", "300"])
    page = open_page()
    info = moord.client().call("GET", "/info")
    cards = page.get_by_role("list", name="Counts")
    expect(cards.get_by_role("link", name=re.compile(r"Containers"))).to_contain_text(
        f"{info['ContainersRunning']} running")
    expect(page.get_by_role("table", name="Disk use")).to_contain_text("Images")
    expect(page.get_by_role("table", name="Recent containers")).to_contain_text(name)
    expect(page.locator("dl.kv")).to_contain_text(info["ServerVersion"])
    screenshot(page, "dashboard")


def test_containers_list_filters_and_acts_on_one_and_many(open_page: Callable[..., Page], moord: DaemonProcess,
                                                           containers: list[str], screenshot: Screenshot) -> None:
    tag = secrets.token_hex(3)
    names = [f"list-{tag}-a", f"list-{tag}-b", f"list-{tag}-c"]
    containers.extend(names)
    for name in names:
        project = {"com.docker.compose.project": f"demo{tag}"} if name == names[2] else {}
        run_container(moord, name, ["sleep", "300"], Labels={"suite": tag, **project},
                      ExposedPorts={"80/tcp": {}},
                      HostConfig={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
    page = open_page(route="#/containers")
    table = page.get_by_role("table", name="Containers")
    page.get_by_label("Search", exact=True).fill(f"list-{tag}")
    for name in names:
        expect(table.locator(f"tr[data-name='{name}']")).to_contain_text("running")
    # the port is a link to the published port
    port = inspect(moord, names[0])["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
    expect(table.locator(f"tr[data-name='{names[0]}']").get_by_role("link", name=f"{port}→80/tcp")) \
        .to_have_attribute("href", f"http://127.0.0.1:{port}/")
    # a compose project's container links to its stack
    expect(table.locator(f"tr[data-name='{names[2]}']").get_by_role("link", name=f"demo{tag}")) \
        .to_have_attribute("href", f"#/stacks/demo{tag}")
    # search by label, then the state filter
    page.get_by_label("Search", exact=True).fill(f"suite={tag}")
    expect(table.locator("tbody tr")).to_have_count(3)
    screenshot(page, "containers")
    # one container: pause and resume, stop
    row = table.locator(f"tr[data-name='{names[0]}']")
    row.get_by_role("button", name=f"Pause {names[0]}").click()
    expect(row).to_contain_text("paused")
    assert inspect(moord, names[0])["State"]["Paused"] is True
    row.get_by_role("button", name=f"Resume {names[0]}").click()
    expect(row).to_contain_text("running")
    row.get_by_role("button", name=f"Stop {names[0]}").click()
    expect(row).to_contain_text("exited", timeout=30_000)
    page.get_by_label("State").select_option("running")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("State").select_option("")
    # rename through the dialog
    row.get_by_role("button", name=f"Rename {names[0]}").click()
    renamed = names[0] + "-new"
    containers.append(renamed)
    page.get_by_role("dialog").get_by_label("New name").fill(renamed)
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(table.locator(f"tr[data-name='{renamed}']")).to_be_visible()
    assert inspect(moord, renamed)["Name"] == "/" + renamed
    # many: select all shown, kill the running ones, then remove all three after confirming
    page.get_by_label("Select all shown containers").check()
    page.get_by_role("button", name="Kill 2 selected containers").click()
    page.get_by_role("dialog").get_by_role("button", name="Kill").click()
    expect(table.locator("tbody tr").filter(has_text="running")).to_have_count(0, timeout=30_000)
    page.get_by_role("button", name="Remove 3 selected containers").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("3 containers")
    dialog.get_by_role("button", name="Remove", exact=True).click()
    expect(table.locator("tbody")).to_contain_text(re.compile("No container matches|No containers yet"))
    for name in (renamed, names[1], names[2]):
        assert not exists(moord, name)


def test_health_shows_in_the_list_and_filters(open_page: Callable[..., Page], moord: DaemonProcess,
                                              containers: list[str]) -> None:
    tag = secrets.token_hex(3)
    good, bad = f"health-{tag}-good", f"health-{tag}-bad"
    containers.extend([good, bad])
    for name, test in ((good, ["CMD", "true"]), (bad, ["CMD", "false"])):
        run_container(moord, name, ["sleep", "300"], Healthcheck={
            "Test": test, "Interval": 500_000_000, "Timeout": 5_000_000_000, "Retries": 1})
    page = open_page(route=f"#/containers?q=health-{tag}")
    table = page.get_by_role("table", name="Containers")
    expect(page.get_by_label("Search", exact=True)).to_have_value(f"health-{tag}")
    expect(table.locator(f"tr[data-name='{good}'] .badge-ok").filter(has_text="healthy")).to_be_visible()
    expect(table.locator(f"tr[data-name='{bad}'] .badge-bad")).to_have_text("unhealthy")
    page.get_by_label("State").select_option("unhealthy")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_have_attribute("data-name", bad)
    assert page.url.endswith(f"#/containers?q=health-{tag}&state=unhealthy")
    # the container's page lists its last checks
    table.get_by_role("link", name=bad).click()
    checks = page.get_by_role("table", name="Health checks")
    expect(checks.locator("tbody tr").first).to_contain_text("1")
    expect(page.locator("[data-panel='overview']")).to_contain_text("failing in a row")


# ---------------------------------------------------------------------------------------------------------------
# create, logs, stats, top, console


def test_create_from_the_form_then_logs_stream(open_page: Callable[..., Page], moord: DaemonProcess,
                                               containers: list[str], screenshot: Screenshot) -> None:
    name = unique("form")
    containers.append(name)
    page = open_page(route="#/containers/new")
    expect(page.get_by_role("heading", name="New container")).to_be_visible()
    page.get_by_label("Image", exact=True).fill("busybox:latest")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Command", exact=True).fill(f"sh -c '{TICKER}'")
    page.get_by_label("Environment variables").fill("GREETING=hello world\nMODE=test")
    page.get_by_label("Labels", exact=True).fill("made.by=web-ui")
    page.get_by_role("button", name="Add port").click()
    page.get_by_label("Container port").fill("8080")
    page.get_by_label("Host address").fill("127.0.0.1")
    page.get_by_role("button", name="Add volume").click()
    page.get_by_label("Path in the container").fill("/scratch")
    page.get_by_label("Restart policy").select_option("unless-stopped")
    page.get_by_label("Memory limit").fill("64m")
    screenshot(page, "create-form")
    page.get_by_role("button", name="Create and start").click()
    # the container page opens on its logs, which stream as the container writes them
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_be_visible()
    logs = page.get_by_label("Log lines")
    expect(logs).to_contain_text("tick 0")
    expect(logs).to_contain_text("tick 4")
    screenshot(page, "logs")
    info = inspect(moord, name)
    assert info["State"]["Running"] is True
    assert "GREETING=hello world" in info["Config"]["Env"] and "MODE=test" in info["Config"]["Env"]
    assert info["Config"]["Labels"]["made.by"] == "web-ui"
    assert info["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert any(m["Destination"] == "/scratch" and m["Type"] == "volume" for m in info["Mounts"])
    # search keeps the matching lines only
    page.get_by_label("Search", exact=True).fill("tick 3")
    expect(logs.locator(".log-line:not(.hidden-line)")).to_have_count(1)
    expect(logs.locator("mark")).to_have_text("tick 3")


def test_create_with_a_bad_value_says_why(open_page: Callable[..., Page]) -> None:
    page = open_page(route="#/containers/new")
    page.get_by_label("Image", exact=True).fill("busybox:latest")
    page.get_by_label("Memory limit").fill("a lot")
    page.get_by_role("button", name="Create and start").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid memory size")
    page.get_by_label("Memory limit").fill("")
    page.get_by_label("Image", exact=True).fill("no-such-image-here:1")
    page.get_by_label("Pull the image if it is missing").uncheck()
    page.get_by_role("button", name="Create and start").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("no such image", re.I))


def test_stats_chart_moves_and_top_lists_processes(open_page: Callable[..., Page], moord: DaemonProcess,
                                                   containers: list[str], screenshot: Screenshot) -> None:
    name = unique("stats")
    containers.append(name)
    # a busy loop, so that the CPU chart has something to draw
    ident = run_container(moord, name, ["sh", "-c", "while true; do :; done"])
    page = open_page(route=f"#/containers/{ident}?tab=stats")
    cpu = page.locator("canvas[data-chart='cpu']")
    expect(cpu).to_have_attribute("data-points", re.compile(r"^[3-9]|^\d\d"))
    label = cpu.get_attribute("aria-label") or ""
    percent = float(re.search(r"CPU ([\d.]+) %", label).group(1))  # type: ignore[union-attr]
    assert percent > 1.0, label
    # the chart drew something: the canvas is not blank
    drawn = page.evaluate("""() => { const c = document.querySelector("canvas[data-chart='cpu']");
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
    assert drawn > 100
    expect(page.locator("canvas[data-chart='mem']")).to_have_attribute(
        "aria-label", re.compile(r"Memory [\d.]+ (B|KiB|MiB)"))
    screenshot(page, "stats")
    if os.environ.get("MOOR_WRITE_README_SHOT") == "1":  # docs/images/web-ui-container.png, made on request
        expect(cpu).to_have_attribute("data-points", re.compile(r"^(1[5-9]|[2-9]\d)"), timeout=60_000)
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOT))
    page.get_by_role("tab", name="Processes").click()
    processes = page.get_by_role("table", name="Processes")
    expect(processes).to_contain_text("while true")
    expect(processes.locator("th").first).to_have_text(re.compile("UID|PID"))
    screenshot(page, "top")


def test_console_runs_a_command(open_page: Callable[..., Page], moord: DaemonProcess, containers: list[str],
                                screenshot: Screenshot) -> None:
    name = unique("console")
    containers.append(name)
    ident = run_container(moord, name, ["sleep", "600"])
    page = open_page(route=f"#/containers/{ident}?tab=console")
    panel = page.locator("[data-panel='console']")
    expect(panel).to_have_attribute("data-console", "open")
    screen = panel.locator(".xterm-rows")
    expect(screen).to_contain_text("#")  # the shell's prompt
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type("echo answer-$((6*7)) > /tmp/out; cat /tmp/out\n")
    expect(screen).to_contain_text("answer-42")
    screenshot(page, "console")
    # the command ran in the container
    check = run_exec(moord, ident, ["cat", "/tmp/out"])
    assert "answer-42" in check
    # the terminal's size follows the element (fit addon, then a resize message): wider than 80 columns here
    page.keyboard.type("echo size-$(stty size | tr ' ' x)\n")
    expect(screen).to_contain_text(re.compile(r"size-\d+x\d+"))
    rows, cols = map(int, re.search(r"size-(\d+)x(\d+)", screen.inner_text()).groups())  # type: ignore[union-attr]
    assert cols > 100 and rows > 10, (rows, cols)
    page.keyboard.press("Control+BracketRight")  # leaves the terminal for the keyboard's next stop
    expect(page.get_by_role("button", name="Disconnect")).to_be_focused()
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type("exit\n")
    expect(panel).to_have_attribute("data-console", "closed")


def run_exec(moord: DaemonProcess, ident: str, cmd: list[str]) -> str:
    """``docker exec`` through the moor CLI against the private moord; its output."""
    import subprocess
    import sys

    moor = pathlib.Path(sys.executable).with_name("moor")
    result = subprocess.run([str(moor), "-H", moord.host, "exec", ident, *cmd], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_overview_actions_and_inspect(open_page: Callable[..., Page], moord: DaemonProcess,
                                      containers: list[str], screenshot: Screenshot) -> None:
    name = unique("detail")
    containers.append(name)
    ident = run_container(moord, name, ["sleep", "300"], Env=["COLOR=blue"], Labels={"owner": "tests"})
    page = open_page(route=f"#/containers/{ident}")
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_contain_text("running")
    overview = page.locator("[data-panel='overview']")
    expect(overview).to_contain_text("COLOR=blue")
    expect(overview.get_by_role("table", name="Labels")).to_contain_text("owner")
    screenshot(page, "overview")
    page.get_by_role("tab", name="Overview").focus()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Inspect")).to_be_focused()
    expect(page.get_by_label("Inspect JSON")).to_contain_text(f'"Id": "{ident}"')
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_contain_text("exited", timeout=30_000)
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_contain_text("running")
    page.get_by_role("button", name="Remove", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    assert not exists(moord, ident)


def test_recreate_with_a_fresh_pull(open_page: Callable[..., Page], moord: DaemonProcess, registry: TestRegistry,
                                    containers: list[str], screenshot: Screenshot) -> None:
    repo = f"{registry.host}/webui/recreate:{secrets.token_hex(3)}"
    seed_busybox(registry, moord, repo.split("/", 1)[1])
    for message in moord.client().stream("POST", "/images/create",
                                         {"fromImage": repo.rsplit(":", 1)[0], "tag": repo.rsplit(":", 1)[1]}):
        assert "error" not in message, message
    name = unique("recreate")
    containers.append(name)
    client = moord.client()
    created = client.call("POST", "/containers/create", {"name": name},
                          body={"Image": repo, "Cmd": ["sleep", "300"], "Env": ["KEEP=me"]})
    old = created["Id"]
    client.call("POST", f"/containers/{old}/start")
    page = open_page(route=f"#/containers/{old}")
    page.get_by_role("button", name="Recreate with a fresh pull").click()
    page.get_by_role("dialog").get_by_role("button", name="Recreate").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_contain_text("running", timeout=60_000)
    page.wait_for_url(re.compile(r"#/containers/(?!" + old + ")"))
    new = inspect(moord, name)
    assert new["Id"] != old and "KEEP=me" in new["Config"]["Env"] and new["State"]["Running"]
    assert not exists(moord, old)
    screenshot(page, "recreated")


def test_container_page_at_phone_width(open_page: Callable[..., Page], moord: DaemonProcess,
                                       containers: list[str], screenshot: Screenshot) -> None:
    name = unique("phone")
    containers.append(name)
    ident = run_container(moord, name, ["sh", "-c", "echo started; sleep 300"])
    page = open_page(width=PHONE[0], height=PHONE[1], route="#/containers")
    expect(page.get_by_role("table", name="Containers")).to_contain_text(name)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE[0] + 1, f"the list is wider than the phone: {width}"
    screenshot(page, "containers-phone")
    page.goto(page.url.split("#")[0] + f"#/containers/{ident}?tab=logs")
    expect(page.get_by_label("Log lines")).to_contain_text("started")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE[0] + 1, f"the container page is wider than the phone: {width}"
    screenshot(page, "container-phone")
    for tab in ("Overview", "Logs", "Stats", "Processes", "Console", "Inspect"):
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tabpanel")).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE[0] + 1, f"the {tab} tab is wider than the phone: {width}"
        assert page.evaluate(UNLABELLED) == [], f"the {tab} tab has unlabelled controls"
    screenshot(page, "console-phone")
    page.goto(page.url.split("#")[0] + "#/containers/new")
    page.get_by_role("button", name="Add port").click()
    page.get_by_role("button", name="Add volume").click()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE[0] + 1, f"the form is wider than the phone: {width}"
    screenshot(page, "create-phone")


def tab_to(page: Page, accessible_name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's accessible name (aria-label or text) is ``accessible_name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        name = page.evaluate("""() => { const el = document.activeElement;
            return el ? (el.getAttribute('aria-label') || el.textContent || '').trim() : ''; }""")
        if name == accessible_name:
            return
    raise AssertionError(f"{accessible_name!r} was not reached with Tab")


def test_keyboard_alone_creates_and_stops_a_container(open_page: Callable[..., Page], moord: DaemonProcess,
                                                      containers: list[str]) -> None:
    name = unique("keys")
    containers.append(name)
    page = open_page(route="#/containers")
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    tab_to(page, "New container")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Image", exact=True)).to_be_focused()
    page.keyboard.type("busybox:latest")
    page.keyboard.press("Tab")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type("sleep 300")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("heading", level=1, name=re.compile(name))).to_contain_text("running")
    page.get_by_role("link", name="Containers", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Containers")).to_be_focused()
    page.get_by_label("Search", exact=True).focus()
    page.keyboard.type(name)
    tab_to(page, f"Stop {name}")
    page.keyboard.press("Enter")
    expect(page.get_by_role("table", name="Containers").locator(f"tr[data-name='{name}']")) \
        .to_contain_text("exited", timeout=30_000)
    assert inspect(moord, name)["State"]["Running"] is False


def test_leaving_the_page_closes_its_streams(open_page: Callable[..., Page], moord: DaemonProcess,
                                             containers: list[str]) -> None:
    name = unique("leave")
    containers.append(name)
    ident = run_container(moord, name, ["sh", "-c", TICKER])
    page = open_page(route=f"#/containers/{ident}?tab=logs")
    expect(page.get_by_label("Log lines")).to_contain_text("tick 1")
    # record the EventSources the page opens from now on, and which of them it closes
    page.evaluate("""() => { window.__sources = []; const E = window.EventSource;
        window.EventSource = class extends E { constructor(url, ...rest) { super(url, ...rest);
          const entry = {url: String(url), open: true}; window.__sources.push(entry);
          const close = this.close.bind(this); this.close = () => { entry.open = false; close(); }; } }; }""")
    open_ones = "() => window.__sources.filter((s) => s.open && s.url.includes('/containers/')).map((s) => s.url)"
    page.get_by_role("tab", name="Stats").click()
    expect(page.locator("canvas[data-chart='cpu']")).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    assert page.evaluate(open_ones) == [f"/api/streams/containers/{ident}/stats"]
    page.get_by_role("tab", name="Logs").click()
    expect(page.get_by_label("Log lines")).to_contain_text("tick")
    assert [url.rsplit("/", 1)[1] for url in page.evaluate(open_ones)] == ["logs?tail=200"]
    page.get_by_role("link", name="Images").click()
    expect(page.get_by_role("heading", name="Images")).to_be_visible()
    assert page.evaluate(open_ones) == []
    made = page.evaluate("() => window.__sources.filter((s) => s.url.includes('/containers/')).length")
    assert made == 2


def test_requests_without_session_or_csrf_are_refused(open_page: Callable[..., Page], web_ui: WebUI) -> None:
    page = open_page(login=False, route=None)
    assert page.request.get(web_ui.url + "/api/docker/containers/json").status == 401
    logged_in = open_page()
    answer = logged_in.request.post("/api/docker/containers/create", data=json.dumps({"Image": "busybox"}),
                                    headers={"Content-Type": "application/json"})
    assert answer.status == 403 and "CSRF" in answer.json()["message"]
    assert api_call(logged_in, "GET", "/api/docker/version")["ApiVersion"]
