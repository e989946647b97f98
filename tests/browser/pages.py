"""The checks every web page passes in a real browser, at a desktop and a phone width.

`check_page(page, name)` is called by each browser test on each page it walks, so that one
place decides what "a good page" means for the whole web app (docs/web.md):

- accessibility: axe-core finds no serious or critical violation;
- small screens: nothing scrolls sideways (the page fits the viewport's width);
- weight: the HTML, CSS and JavaScript the page loaded add up to at most 100 KB;
- a full-page screenshot in tests/browser/screenshots/NAME-WIDTH.png (git-ignored), for
  people reviewing a change.

axe-core comes from npm (`make browser-deps` installs it into .browser-deps/, git-ignored):
when it is missing the axe part is skipped loudly, never passed silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".browser-deps" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WIDTHS = (1280, 390)
HEIGHT = 900
MAX_PAGE_BYTES = 100 * 1024
FAILING_IMPACTS = ("serious", "critical")

# Bytes of the document and of every script and style sheet it loaded. decodedBodySize is
# the body as the browser used it (after any compression), and is reported for resources
# served from the cache as well, so the figure does not depend on test order.
_PAGE_BYTES_JS = """() => {
    const heavy = (entry) => ["script", "link", "css"].includes(entry.initiatorType)
        || /\\.(js|css)([?#]|$)/.test(entry.name);
    const entries = performance.getEntriesByType("navigation").concat(
        performance.getEntriesByType("resource").filter(heavy));
    return entries.map((entry) => [entry.name, entry.decodedBodySize]);
}"""
# The page's width, the viewport's, and the first elements sticking out (for the message).
_WIDTH_JS = """() => {
    const described = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (el.classList.length ? "." + [...el.classList].join(".") : "");
    const tooWide = [...document.body.querySelectorAll("*")]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 8).map(described);
    return [document.scrollingElement.scrollWidth, window.innerWidth, tooWide];
}"""
_AXE_RUN_JS = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.slice(0, 5).map((node) => node.target.join(" ")),
    }));
}"""


class PageOpener(Protocol):
    """A Playwright Browser or BrowserContext: anything that opens pages."""

    def new_page(self, **kwargs: Any) -> Any: ...


def check_page(page: Any, name: str) -> None:
    """Screenshot the page, then assert it fits, weighs at most 100 KB and passes axe."""
    width = page.viewport_size["width"]
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    assert_no_sideways_scroll(page, name)
    assert_page_weight(page, name)
    assert_accessible(page, name)


def assert_no_sideways_scroll(page: Any, name: str) -> None:
    """At 390 px a page that scrolls sideways hides content from phone users."""
    scroll_width, inner_width, too_wide = page.evaluate(_WIDTH_JS)
    assert scroll_width <= inner_width, (
        f"{name}: the page is {scroll_width} px wide in a {inner_width} px viewport; "
        f"elements reaching past it: {too_wide}"
    )


def page_bytes(page: Any) -> dict[str, int]:
    """{URL: bytes} of the document and the scripts and style sheets it loaded."""
    return dict(page.evaluate(_PAGE_BYTES_JS))


def assert_page_weight(page: Any, name: str) -> None:
    """A page that stays under 100 KB of HTML+CSS+JS loads quickly on a slow phone."""
    sizes = page_bytes(page)
    total = sum(sizes.values())
    assert sizes.get(page.url), f"{name}: the browser reported no size for {page.url}: {sizes}"
    listing = ", ".join(f"{url} {size} B" for url, size in sizes.items())
    assert total <= MAX_PAGE_BYTES, f"{name}: {total} B of HTML+CSS+JS ({listing})"


def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core violation; skips (loudly) without axe-core."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE}: run `make browser-deps` to install it")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: the
    # page keeps its real policy (no bypass_csp), so CSP problems still show.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = [v for v in page.evaluate(_AXE_RUN_JS) if v["impact"] in FAILING_IMPACTS]
    assert not violations, f"{name}: axe-core found\n" + "\n".join(
        f"  [{v['impact']}] {v['id']}: {v['help']} at {v['targets']}" for v in violations
    )


@contextmanager
def page_at(opener: PageOpener, url: str, width: int) -> Iterator[Any]:
    """A page `width` px wide showing `url`, closed afterwards."""
    page = opener.new_page()
    try:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.goto(url)
        yield page
    finally:
        page.close()


def pages_at_widths(opener: PageOpener, url: str) -> Iterator[Any]:
    """`url` opened at 1280 px then at 390 px (each page closed after its turn).

    for page in pages_at_widths(context, url): ...; check_page(page, "backpack")
    """
    for width in WIDTHS:
        with page_at(opener, url, width) as page:
            yield page


def check_at_widths(opener: PageOpener, url: str, name: str) -> None:
    """check_page on `url` at 1280 px and at 390 px."""
    for page in pages_at_widths(opener, url):
        check_page(page, name)
