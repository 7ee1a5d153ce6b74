"""The main pages at phone and desktop widths, by keyboard, with every control labelled, and without any
request to another origin (the page fixtures fail a test whose pages asked another origin for anything)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from webui_harness import DESKTOP, PHONE, OpenPage

pytestmark = pytest.mark.root

#: The main pages: route and the heading each shows.
PAGES = [
    ("#/dashboard", "Dashboard"),
    ("#/containers", "Containers"),
    ("#/containers/new", None),
    ("#/images", "Images"),
    ("#/networks", "Networks"),
    ("#/volumes", "Volumes"),
    ("#/stacks", "Stacks"),
    ("#/events", "Events"),
]

#: The visible controls that have no accessible name (no label, aria-label(ledby), text or title), as
#: "tag#id.class" strings. A placeholder is not a label.
UNLABELLED = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (el.closest('label') && el.closest('label').textContent.trim()) return true;
    if (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) && el.textContent.trim()) return true;
    if (el.tagName === 'INPUT' && ['submit', 'button'].includes(el.type) && el.value) return true;
    return !!(el.getAttribute('title') || '').trim();
  };
  const controls = 'input:not([type=hidden]), select, textarea, button, a[href], summary, [role=button]';
  return [...document.querySelectorAll(controls)]
    .filter(visible).filter((el) => !named(el))
    .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} ${el.outerHTML.slice(0, 120)}`);
}"""

#: How much wider than the window the document is (0: no sideways scrolling).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"

#: Visible elements wider than the window (what makes a page scroll sideways).
WIDE = """() => [...document.querySelectorAll('body *')].filter((el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.right > window.innerWidth + 1 && getComputedStyle(el).position !== 'fixed';
}).slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${el.className} ${el.getBoundingClientRect().right}`)"""


def wait_for_view(page: Page, route: str, heading: str | None) -> None:
    page.goto(route)
    if heading is not None:
        expect(page.locator("main h1").first).to_have_text(heading)
    else:
        expect(page.locator("main h1").first).to_be_visible()
    expect(page.locator("main .loading")).to_have_count(0)


@pytest.mark.parametrize(("width", "height"), [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_main_pages_fit_the_width_and_label_every_control(open_page: OpenPage, width: int, height: int,
                                                          screenshot: Callable[[Page, str], object]) -> None:
    page = open_page(width=width, height=height)
    for route, heading in PAGES:
        wait_for_view(page, route, heading)
        assert page.evaluate(OVERFLOW) <= 1, f"{route} scrolls sideways at {width}px: {page.evaluate(WIDE)}"
        assert page.evaluate(UNLABELLED) == [], f"{route} has unlabelled controls"
        screenshot(page, f"{route.strip('#/').replace('/', '-')}-{width}")


def test_login_page_at_phone_width(open_page: OpenPage, screenshot: Callable[[Page, str], object]) -> None:
    page = open_page(*PHONE, login=False, route="")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 1
    assert page.evaluate(UNLABELLED) == []
    screenshot(page, "login-390")


def focused(page: Page) -> str:
    """The focused element's text or label."""
    return str(page.evaluate("() => { const e = document.activeElement; return (e.getAttribute('aria-label') || "
                             "e.textContent || e.id || e.tagName).trim(); }"))


def test_keyboard_reaches_the_navigation_and_the_forms(page: Page) -> None:
    wait_for_view(page, "#/dashboard", "Dashboard")
    page.locator("body").focus()
    seen = []
    for _ in range(14):
        page.keyboard.press("Tab")
        seen.append(focused(page))
    for label in ("Skip to content", "Containers", "Images", "Networks", "Volumes", "Stacks", "Events", "Log out"):
        assert label in seen, f"Tab never reached {label!r}: {seen}"
    outline = page.evaluate("() => { const s = getComputedStyle(document.activeElement); return (s.outlineStyle "
                            "!== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }")
    assert outline, "the focused control shows no focus ring"

    # a nav link by keyboard, then a form by keyboard: Enter on the volume name submits it
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Volumes").focus()
    page.keyboard.press("Enter")
    expect(page.locator("main h1").first).to_have_text("Volumes")
    page.get_by_label("Name", exact=True).focus()
    page.keyboard.type("uikeyboard")
    page.keyboard.press("Enter")
    row = page.locator('tr[data-name="uikeyboard"]')
    expect(row).to_be_visible()
    remove = row.get_by_role("button", name="Remove uikeyboard")
    remove.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # Escape cancels
    expect(dialog).to_have_count(0)
    expect(row).to_be_visible()
    remove.focus()
    page.keyboard.press("Enter")
    dialog.get_by_role("button", name="Remove", exact=True).focus()
    page.keyboard.press("Enter")
    expect(row).to_have_count(0)


def test_phone_width_folds_the_forms_above_the_lists(open_page: OpenPage, moord: object,
                                                     screenshot: Callable[[Page, str], object]) -> None:
    page = open_page(*PHONE)
    wait_for_view(page, "#/images", "Images")
    expect(page.get_by_label("Image to pull")).to_be_hidden()  # folded: the list comes first
    expect(page.locator('tr[data-ref="busybox:latest"]')).to_be_in_viewport()
    wait_for_view(page, "#/volumes", "Volumes")
    summary = page.locator("summary", has_text="Create a volume")
    summary.focus()
    page.keyboard.press("Enter")  # a fold opens by keyboard
    name = page.get_by_label("Name", exact=True)
    expect(name).to_be_visible()
    name.fill("uiphone")
    page.get_by_role("button", name="Create volume").click()
    expect(page.locator('tr[data-name="uiphone"]')).to_be_visible()
    screenshot(page, "volumes-phone-created")
    page.locator('tr[data-name="uiphone"]').get_by_role("button", name="Remove uiphone").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove", exact=True).click()
    expect(page.locator('tr[data-name="uiphone"]')).to_have_count(0)
