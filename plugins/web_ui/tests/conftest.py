"""The web UI's browser test harness: a private moord, the UI process, headless Chromium logged in.

Fixtures (see each one's docstring; helpers in webui_harness.py):

- ``moord``: a private moord (module scope) with ``busybox:latest`` imported.
- ``web_ui``: ``moor-web-ui serve`` on a free 127.0.0.1 port, a temporary data dir and an admin account made
  by ``moor-web-ui passwd`` (module scope); ``.url``, ``.user``, ``.password``, ``.data_dir``.
- ``browser``: Debian's Chromium (``/usr/bin/chromium``), headless, driven by playwright (module scope).
- ``page``: a logged-in page at desktop width on the UI's dashboard; ``open_page(...)`` makes more (phone
  width, logged out). Every request a page makes is recorded: a request to another origin than the UI's
  fails the test, and so does an uncaught error in the page (``@pytest.mark.allow_page_errors`` to allow).
  Chromium is started so that no request can leave the host anyway (every name resolves to nothing,
  every other address goes to a dead proxy). A failed test leaves a screenshot of each of its pages.
- ``screenshot(page, name)``: a PNG in the test's ``tmp_path`` and a copy under ``test-output/web_ui/<test>/``.
- ``registry``: a ``TestRegistry`` on 127.0.0.1 (module scope); ``seed_busybox(registry, moord, "repo:tag")``
  pushes moord's busybox into it.

Every browser test needs root (moord runs containers): mark the module ``pytestmark = pytest.mark.root``.
"""

from __future__ import annotations

import os
import pathlib
import secrets
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from webui_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    OUTPUT_ROOT,
    TIMEOUT_MS,
    OpenPage,
    PageWatch,
    WebUI,
    import_busybox,
    log_in,
    make_admin,
    safe_name,
    save_screenshot,
    start_web_ui,
)

from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

expect.set_options(timeout=TIMEOUT_MS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_page_errors: an uncaught error in the page does not fail the test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Root-only tests of this folder are skipped for other users (as tests/conftest.py does for its own)."""
    if os.geteuid() == 0:
        return
    here = pathlib.Path(__file__).parent
    skip = pytest.mark.skip(reason="needs root (runs in CI)")
    for item in items:
        if "root" in item.keywords and here in pathlib.Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item: ``open_page`` takes screenshots when the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def moord(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A private moord (its own data root and socket) with ``busybox:latest``, stopped after the module."""
    root = str(tmp_path_factory.mktemp("web-ui-moord"))
    with DaemonProcess(root) as daemon:
        import_busybox(daemon)
        yield daemon


@pytest.fixture(scope="module")
def web_ui(moord: DaemonProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUI]:
    """``moor-web-ui serve`` for ``moord`` on 127.0.0.1, with an admin account; stopped after the module."""
    root = tmp_path_factory.mktemp("web-ui")
    data_dir = str(root / "data")
    os.makedirs(data_dir)
    user, password = "admin", secrets.token_urlsafe(12)
    make_admin(data_dir, user, password)
    running = start_web_ui(moord.host, data_dir, user, password, str(root / "web-ui.log"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; never a browser playwright downloads."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


def output_dir(request: pytest.FixtureRequest) -> pathlib.Path:
    """``test-output/web_ui/<module>.<test>/``."""
    return OUTPUT_ROOT / safe_name(f"{request.node.path.stem}.{request.node.name}")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Callable[[Page, str], pathlib.Path]:
    """``screenshot(page, name)``: ``tmp_path/NAME.png``, copied to ``test-output/web_ui/<test>/``."""
    copy_dir = output_dir(request)

    def take(page: Page, name: str) -> pathlib.Path:
        return save_screenshot(page, tmp_path / f"{safe_name(name)}.png", copy_dir)

    return take


@pytest.fixture
def open_page(request: pytest.FixtureRequest, browser: Browser, web_ui: WebUI,
              tmp_path: pathlib.Path) -> Iterator[OpenPage]:
    """``open_page(width=1280, height=800, login=True, route="#/dashboard", **context_args)``: a new page in a
    browser context of its own, logged in unless ``login`` is false, at ``route`` (None: nowhere yet).

    All are closed after the test; then a request to another origin, or an uncaught error in a page
    (unless the test is marked ``allow_page_errors``), fails the test."""
    watch = PageWatch(web_ui.origin)
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def make(width: int = DESKTOP[0], height: int = DESKTOP[1], login: bool = True,
             route: str | None = "#/dashboard", **context_args: Any) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=web_ui.url,
                                      **context_args)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        watch.watch_context(context)
        if login:
            log_in(context, web_ui)
        new = context.new_page()
        pages.append(new)
        if route is not None:
            new.goto(web_ui.url + "/" + route)
        return new

    yield make

    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for number, shown in enumerate(pages):
            try:
                save_screenshot(shown, tmp_path / f"failure-{number}.png", output_dir(request))
            except Exception:  # noqa: BLE001  (a page that crashed has no screenshot: the failure says why)
                pass
    for context in contexts:
        context.close()
    foreign = watch.foreign()
    assert not foreign, f"the page made requests to other origins than {web_ui.origin}: {foreign}"
    if request.node.get_closest_marker("allow_page_errors") is None:
        assert not watch.page_errors, f"uncaught errors in the page: {watch.page_errors}"


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """A logged-in page at desktop width, on the dashboard."""
    return open_page()


@pytest.fixture(scope="module")
def registry() -> Iterator[TestRegistry]:
    """Debian's docker-registry on 127.0.0.1 (moord trusts the loopback network over plain HTTP)."""
    with TestRegistry("plain") as running:
        yield running
