"""Browser-test fixtures: the real app served on a local port, headless Chromium, screenshots.

Each test gets its own migrated database and its own server (``live_server``), so tests never
share state; the browser process is shared across the session and each test gets a fresh
context (cookies, storage) through ``page``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from practitioner import create_app
from practitioner.auth.models import Role
from practitioner.extensions import db
from tests.conftest import PASSWORD, make_config, make_user

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--lang=en-GB",
]
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser carries the ``browser`` marker (``-m 'not browser'`` skips them)."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


class LiveServer(str):
    """The base URL of a running server (it *is* the URL string), with the seeded account beside it."""

    email: str
    password: str
    app: object

    def __new__(cls, url: str, *, email: str, password: str, app: object) -> "LiveServer":
        self = super().__new__(cls, url)
        self.email, self.password, self.app = email, password, app
        return self

    @property
    def url(self) -> str:
        """The base URL as a plain string, without a trailing slash."""
        return str.__str__(self)

    def __call__(self, path: str = "/") -> str:
        """An absolute URL for a path on this server."""
        return self.url + path


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app on a private migrated database (SQLite, or PostgreSQL in that pass), served by Werkzeug on 127.0.0.1 in a daemon thread.

    A practitioner account is seeded first; its email is ``live_server.email`` and its password
    ``live_server.password``. Use ``live_server.app.app_context()`` to seed more data.
    """
    app = create_app(make_config(database_url))
    with app.app_context():
        user = make_user(Role.PRACTITIONER, email="practitioner@clinic.example", name="Dana Practitioner")
        email = user.email
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", email=email, password=PASSWORD, app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _find_chromium() -> str | None:
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium: skipped locally when missing, a failure under CI (where it must exist)."""
    path = _find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (/usr/bin/chromium or `chromium` on PATH), and CI is set: "
                        "browser tests must run in CI. Install Debian's chromium package (`make browser`).",
                        pytrace=False)
        pytest.skip("Chromium is not installed (/usr/bin/chromium or `chromium` on PATH): "
                    "browser tests skipped. `make test` installs it when it can.")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """The page's viewport; override in a test module, or use ``page.set_viewport_size``."""
    return dict(DESKTOP)


@pytest.fixture
def page(browser, viewport: dict[str, int]):
    """A fresh browser context (no cookies) and page for one test, desktop-sized by default."""
    context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> Path:
    """Save a whole-page screenshot as test-artifacts/screenshots/<name>.png and return its path.

    The viewport is stretched to the page's height for the picture (then put back), rather than
    using Playwright's ``full_page``, which leaves sticky elements (the form's sticky Save bar)
    painted in the middle of the page where the first screen ended.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => Math.ceil(document.documentElement.scrollHeight)")
    if size is None or height <= size["height"]:
        page.screenshot(path=str(path))
        return path
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def shot_both_sizes(page, name: str) -> None:
    """Screenshots at the tablet's size and at 1280x800 (`<name>-820x1180`, `<name>-1280x800`), then back to the tablet."""
    for size, label in ((TABLET, "820x1180"), ({"width": 1280, "height": 800}, "1280x800")):
        page.set_viewport_size(size)
        shot(page, f"{name}-{label}")
    page.set_viewport_size(TABLET)


def sign_in(page: Page, server: LiveServer) -> None:
    """Sign in through the form, by its labels, as the seeded practitioner, and land on the patient list."""
    page.goto(server("/sign-in"))
    page.get_by_label("Email", exact=True).fill(server.email)
    page.get_by_label("Password", exact=True).fill(server.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
