"""The simulator's page in real Chromium: module surface, persistence, page weight."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from simulator.testing import SimulatorProcess, start_simulator
from worker.engine import enable_subreaper, reap_zombies

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
STATE = "window.require('WAWebSocketModel').Socket.state"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    enable_subreaper()
    process = start_simulator("--qr-interval", "5")
    yield process
    process.stop()


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator:
    async with async_playwright() as pw:
        contexts: list[BrowserContext] = []

        async def open_profile(profile: Path) -> BrowserContext:
            ctx = await pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            contexts.append(ctx)
            return ctx

        yield pw, open_profile
        for ctx in contexts:
            await ctx.close()
    reap_zombies()


async def qr_of(page: Page) -> str:
    await page.wait_for_function(f"{STATE} === 'UNPAIRED' && !!document.getElementById('qr').dataset.ref")
    return await page.evaluate("document.getElementById('qr').dataset.ref")


async def link(page: Page, sim: SimulatorProcess, number: str) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        resp = await client.post(f"/phone/{number}/scan", json={"qr": await qr_of(page)})
        assert resp.status_code == 200, resp.text
    await page.wait_for_function("window.require('WAWebSocketModel').Socket.hasSynced === true")


async def test_page_exposes_the_module_surface_the_adapter_reads(sim, launch, tmp_path):
    _, open_profile = launch
    page = (await open_profile(tmp_path / "p")).pages[0]
    await page.goto(sim.url + "/")
    await qr_of(page)
    early = [
        "WAWebSocketModel",
        "WAWebConnModel",
        "WAWebCmd",
        "WABase64",
        "WAWebAltDeviceLinkingApi",
        "WAWebSignalStoreApi",
        "WAWebUserPrefsInfoStore",
        "WAWebAdvSignatureApi",
        "WAWebCompanionRegClientUtils",
    ]
    late = ["WAWebCollections", "WAWebSendMsgChatAction", "WAWebMsgKey", "WAWebFindChatAction"]
    loaded = (
        "(names) => names.map((n) => { try { return !!window.require(n); } catch (e) { return false; } })"
    )
    assert await page.evaluate(loaded, early) == [True] * len(early)
    # Like WhatsApp Web, the model stores load only with the first sync.
    assert await page.evaluate(loaded, late) == [False] * len(late)
    assert await page.evaluate("window.require('WAWebConnModel').Conn.ref.startsWith('2@')")
    await link(page, sim, "15551110000")
    assert await page.evaluate(loaded, late) == [True] * len(late)
    with pytest.raises(Exception, match="unknown module"):
        await page.evaluate("window.require('WAWebNoSuchModule')")


async def test_login_survives_a_browser_restart_with_the_same_profile(sim, launch, tmp_path):
    _, open_profile = launch
    ctx = await open_profile(tmp_path / "p")
    await ctx.pages[0].goto(sim.url + "/")
    await link(ctx.pages[0], sim, "15551110001")
    keys = await ctx.pages[0].evaluate(
        "window.__simStore.get('keys', 'device').then(k => [k.identity.privateKey instanceof CryptoKey,"
        " k.identity.privateKey.extractable])"
    )
    assert keys == [True, False]  # the identity key cannot even be exported
    await ctx.close()
    again = await open_profile(tmp_path / "p")
    page = again.pages[0]
    await page.goto(sim.url + "/")
    await page.wait_for_function("window.require('WAWebSocketModel').Socket.hasSynced === true")
    assert await page.evaluate("window.require('WAWebConnModel').Conn.wid.user") == "15551110001"


async def test_storage_state_cannot_carry_a_login_but_a_profile_can(sim, launch, tmp_path):
    pw, open_profile = launch
    ctx = await open_profile(tmp_path / "p")
    await ctx.pages[0].goto(sim.url + "/")
    await link(ctx.pages[0], sim, "15551110002")
    state = await ctx.storage_state(indexed_db=True)
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    try:
        fresh = await browser.new_context(storage_state=state)
        page = await fresh.new_page()
        await page.goto(sim.url + "/")
        # The CryptoKey came back as a plain object: the page cannot prove who it is, so
        # the simulator logs it out and it shows a QR again.
        await qr_of(page)
        assert await page.evaluate("window.require('WAWebSocketModel').Socket.hasSynced") is False
    finally:
        await browser.close()


async def test_unlink_from_the_phone_clears_the_page_storage(sim, launch, tmp_path):
    _, open_profile = launch
    page = (await open_profile(tmp_path / "p")).pages[0]
    await page.goto(sim.url + "/")
    await link(page, sim, "15551110003")
    async with httpx.AsyncClient(base_url=sim.url) as client:
        await client.post("/phone/15551110003/unlink")
    await page.wait_for_url("**/?post_logout=1")
    await qr_of(page)
    assert await page.evaluate("window.__simStore.get('session', 'creds')") is None


@pytest.mark.parametrize("weight_mb", [0, 60])
async def test_page_weight_holds_about_that_much_heap(sim, launch, tmp_path, weight_mb):
    _, open_profile = launch
    page = (await open_profile(tmp_path / "p")).pages[0]
    await page.goto(f"{sim.url}/?page_weight_mb={weight_mb}")
    await page.wait_for_function("window.__simWeight && window.__simWeight.done", timeout=30000)
    heap_mb = await page.evaluate("performance.memory.usedJSHeapSize / 1048576")
    nodes = await page.evaluate("document.getElementsByTagName('*').length")
    if weight_mb == 0:
        assert heap_mb < 15 and nodes < 200
    else:
        assert 0.6 * weight_mb <= heap_mb <= 1.5 * weight_mb
        assert nodes > 10_000
