"""Fixtures for the browser tests: headless Chromium through Playwright's sync API, a
fresh browser context per test, and a place for screenshots (test-artifacts/e2e/,
git-ignored)."""

import os
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
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    # What the page reports as broken (script errors, console errors, 4xx/5xx loads),
    # for assertions and failure messages. The missing favicon is not the test's business.
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
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(request):
    """shot(page, "name") saves test-artifacts/e2e/<test>-NN-name.png, full page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = request.node.name
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):
        old.unlink()
    counter = {"n": 0}

    def shot(page, name: str) -> Path:
        counter["n"] += 1
        path = ARTIFACTS / f"{prefix}-{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot
