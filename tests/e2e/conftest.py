"""Fixtures for the browser tests: headless Chromium through Playwright's sync API, one
browser per module, a fresh context per test on each viewport (phone and desktop), and
screenshots in test-artifacts/e2e/<viewport>/ (git-ignored; CI keeps them)."""

import os
import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def _allow_async_unsafe():
    """Playwright's sync API keeps an asyncio loop registered as running in this thread,
    so Django would refuse every ORM call (SynchronousOnlyOperation) — including the
    database flush after each transactional test. Allowed for the browser modules only,
    and put back afterwards so the rest of the suite keeps Django's guard."""
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if old is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture(scope="module")
def browser(_allow_async_unsafe):
    # Module scope, not session: Playwright's loop must be gone before non-browser tests
    # run in the same process.
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        # A missing browser is a failure, never a skip: a green run must have driven it.
        pytest.fail(f"{CHROMIUM} is not installed (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


# Every browser test runs on a phone and on a desktop. The phone honours the page's viewport
# meta tag and has a touch screen, as a customer's phone does.
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
              "is_mobile": True, "has_touch": True},
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures know if the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


def new_page(browser, viewport: str, **context_options):
    """A page in a fresh context for the viewport, recording what the page reports as
    broken (script errors, console errors, 4xx/5xx loads) in page.errors, for assertions
    and failure messages. The missing favicon is not the test's business."""
    context = browser.new_context(**VIEWPORTS[viewport], locale="en-GB", **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.errors = []

    def on_console(msg):
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not url.endswith("/favicon.ico"):
            page.errors.append(f"console: {msg.text} ({url})")

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            page.errors.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: page.errors.append(f"script: {exc}"))
    page.on("response", on_response)
    return page


@pytest.fixture
def page(browser, viewport, screenshot, request):
    page = new_page(browser, viewport)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed and not page.is_closed():
            screenshot(page, "failed")  # what the browser showed when the test failed
        page.context.close()


@pytest.fixture
def screenshot(request, viewport):
    """shot(page, "name") saves test-artifacts/e2e/<viewport>/<test>-NN-name.png, full page
    (CI keeps the folder as an artefact)."""
    folder = ARTIFACTS / viewport
    folder.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")  # test_x[phone] → test_x-phone
    for old in folder.glob(f"{prefix}-*.png"):
        old.unlink()
    counter = {"n": 0}

    def shot(page, name: str) -> Path:
        counter["n"] += 1
        path = folder / f"{prefix}-{counter['n']:02d}-{name}.png"
        # caret="initial": hiding the caret (the default) leaves style="" on every input,
        # which htmx then copies while settling a swap, and the CSP blocks that (a console
        # error the page itself never causes).
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return shot
