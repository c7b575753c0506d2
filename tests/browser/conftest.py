"""Real-browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium,
`make test` installs it as root) against the demo app (public/, built on client/) served by
the test stack's Vercel emulation. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from dev.stack import Stack
from tests.crm.conftest import ghl, place  # noqa: F401 - fixtures for the CRM page test
from tests.outbox_support import sql

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"


BUNDLE = ROOT / "public" / "app.js"


@pytest.fixture(scope="session")
def demo_bundle() -> bytes:
    """public/app.js rebuilt from demo/ and client/ (what `make demo` runs), and Chromium
    present. Returns the bundle as it was before (committed: Vercel serves it as is)."""
    assert CHROMIUM.exists(), (
        "the browser tests need Debian's Chromium at /usr/bin/chromium: "
        "`apt-get install chromium` (make test installs it when run as root)"
    )
    before = BUNDLE.read_bytes() if BUNDLE.exists() else b""
    done = subprocess.run(
        ["node", "demo/build.mjs"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return before


@pytest.fixture(scope="session")
async def browser(demo_bundle: bytes) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


SignIn = Callable[..., Awaitable[Page]]


PROVIDERS = pytest.mark.parametrize("provider", ["pusher", "supabase"])
"""Run a test against the demo in both realtime modes (pusher-js / supabase-js)."""


@pytest.fixture
def provider() -> str:
    """The demo's realtime mode (REALTIME_PROVIDER); @PROVIDERS runs a test in both."""
    return "pusher"


@pytest.fixture
async def signed_in(
    browser: Browser, stack: Stack, provider: str, request: pytest.FixtureRequest
) -> AsyncIterator[SignIn]:
    """signed_in("alice", page="poker") -> a page in a new browser context, signed in through
    the demo's sign-in form (a local token from /_dev/token). The demo reads its realtime
    mode from /_dev/config: the stack's api (Pusher mode) or the Supabase-mode api."""
    contexts: list[BrowserContext] = []
    base_url = stack.api_url if provider == "pusher" else request.getfixturevalue("supabase_api")

    sockets: list[str] = []

    async def open_page(user: str, *, page: str = "poker", ttl: int | None = None) -> Page:
        context = await browser.new_context(base_url=base_url)
        contexts.append(context)
        tab = await context.new_page()
        tab.on("websocket", lambda socket: sockets.append(socket.url))
        await tab.goto("/" + (f"?ttl={ttl}" if ttl else "") + f"#{page}")
        await tab.get_by_label("User id").fill(user)
        await tab.get_by_role("button", name="Sign in").click()
        await tab.locator("#who").filter(has_text=user).wait_for()
        return tab

    yield open_page
    # The demo really used this mode's SDK: supabase-js opens Realtime's socket, pusher-js
    # the Pusher-protocol server's (/app/<key>); the stack forwards Supabase broadcasts to the
    # Pusher server too, so delivery alone would not tell them apart.
    realtime = [url for url in sockets if "/realtime/v1/websocket" in url]
    if contexts:
        assert sockets and (realtime == sockets if provider == "supabase" else not realtime), (
            sockets
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for index, context in enumerate(contexts):
        for number, tab in enumerate(context.pages):
            name = f"{request.node.name}-{index}-{number}.png"
            await tab.screenshot(path=str(ARTIFACTS / name), full_page=True)
        await context.close()


def new_user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def grant(stack: Stack, who: str, credits: int = 5) -> None:
    with sql(stack) as db:
        db.execute(
            "insert into public.profiles (id) values (%s) on conflict (id) do nothing", [who]
        )
        if credits:
            db.execute(
                "select public.credit_grant(%s, %s, 'test-grant', %s)",
                [who, credits, uuid.uuid4().hex],
            )
