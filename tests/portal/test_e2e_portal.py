"""The portal end to end, in real Chromium, against the whole stack: the control plane
under uvicorn (HTTP + websocket), the event ingester, the simulator and a real worker.

One stack per module. Screenshots of each page land in test-artifacts/portal/.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.receiver import Receiver
from tests.stack import (
    CHROMIUM,
    ROOT,
    WorkerProcess,
    start_simulator,
    wait_registered,
    wait_until,
    worker_env,
)
from tests.stack_web import (
    Process,
    control_plane_env,
    empty_database,
    forget_redis_prefix,
    stack_redis_prefix,
    start_control_plane,
    start_ingester,
    subprocess_database_url,
)
from worker.engine.launch import BASE_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = ROOT / "test-artifacts" / "portal"
OWNER_PHONE = "15550001111"
FRIEND_PHONE = "15550002222"
PASSWORD = "a-long-passphrase"
CHROMIUM_ARGS = list(BASE_ARGS)  # the flags every session gets (worker/engine/launch.py)
SNAPSHOT_KEY = base64.b64encode(bytes(range(32))).decode()


@dataclass
class Stack:
    url: str
    sim_url: str
    worker: WorkerProcess
    processes: list[Process]

    def logs(self) -> str:
        return "\n".join([*(p.log_tail() for p in self.processes), self.worker.log_tail(60)])


@pytest.fixture(scope="module")
def stack(stack_database: str, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("portal-stack")
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
        empty_database()  # nothing left by an interrupted run (a worker row would get sessions)
    prefix = stack_redis_prefix(f"portal-{uuid.uuid4().hex[:6]}")
    env = control_plane_env(
        database_url=database_url,
        redis_prefix=prefix,
        QR_MAX_CODES="40",
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="true",  # the test's receiver listens on 127.0.0.1
        CELERY_TASK_ALWAYS_EAGER="true",  # webhook deliveries run in the ingester, no Celery worker
    )
    sim = start_simulator(logs / "simulator.log", "--qr-interval", "4", "--refs-per-batch", "40")
    processes: list[Process] = []
    worker_id = f"wt-portal-{uuid.uuid4().hex[:6]}"
    worker = WorkerProcess(
        worker_id,
        logs / "worker",
        worker_env(
            control_plane_url="",
            whatsapp_url=sim.url + "/",
            data_dir=logs / "worker",
            worker_id=worker_id,
            SNAPSHOT_KEY=SNAPSHOT_KEY,
            WAGATE_REDIS_PREFIX=prefix,
        ),
        logs / "worker.log",
    )
    try:
        control_plane = start_control_plane(env, logs / "uvicorn.log")
        processes.append(control_plane.process)
        processes.append(start_ingester(env, logs / "ingester.log"))
        worker.env["CONTROL_PLANE_URL"] = control_plane.url
        worker.start()
        with django_db_blocker.unblock():
            wait_registered(worker)
        yield Stack(control_plane.url, sim.url, worker, processes)
    finally:
        worker.cleanup()
        for process in reversed(processes):
            process.stop()
        sim.stop()
        forget_redis_prefix(prefix)
        with django_db_blocker.unblock():
            empty_database()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread; Django then
    # refuses ORM calls (the test database's flush included) unless told that this
    # thread has no coroutines of its own (as Playwright's docs advise for Django).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Callable[[], Page]]:
    """``new_page()``: a page in a fresh browser context (its own cookies) on the stack."""
    contexts = []

    def make() -> Page:
        context = chromium.new_context(base_url=stack.url, viewport={"width": 1280, "height": 860})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up(page: Page, name: str, email: str) -> None:
    page.goto("/signup")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/$"))


def scan_the_shown_qr(page: Page, sim_url: str, phone: str) -> None:
    """The phone scans the code the page shows now (again if it rotated meanwhile)."""
    for _ in range(4):
        qr = page.locator("img#qr-image").get_attribute("data-qr")
        response = httpx.post(f"{sim_url}/phone/{phone}/scan", json={"qr": qr}, timeout=10)
        if response.status_code == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"the phone could not scan the page's QR: {response.status_code} {response.text}")


def test_a_customer_links_a_number_live_and_gets_an_api_key(transactional_db: Any, stack: Stack, new_page):
    page = new_page()
    sign_up(page, "Alice", "alice@shop.example")
    expect(page.get_by_role("heading", name="No instances yet")).to_be_visible()
    shot(page, "dashboard-empty")

    page.get_by_label("Name", exact=True).fill("Shop support")
    page.get_by_label("Description").fill("The support line of the shop")
    page.get_by_role("button", name="Create instance").click()
    expect(page).to_have_url(re.compile(r"/instances/shop-support-[0-9a-f]{6}$"))
    instance_url = page.url
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    expect(page.locator("#panel [data-status]")).to_have_attribute("data-status", "disconnected")
    shot(page, "instance-created")

    # A second tab on the dashboard: its card must follow the instance live too.
    dashboard = page.context.new_page()
    dashboard.goto("/")
    expect(dashboard.locator("#live-state")).to_have_attribute("data-state", "live")

    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    page.get_by_role("button", name="Connect").click()
    qr = page.locator("img#qr-image")
    expect(qr).to_be_visible(timeout=60_000)
    page.wait_for_function("() => document.getElementById('qr-image')?.naturalWidth > 0")
    shot(page, "instance-qr")

    first_code = qr.get_attribute("data-qr")
    assert first_code, "the page carries the raw QR string"
    expect(qr).not_to_have_attribute("data-qr", first_code, timeout=20_000)  # rotated, live
    page.wait_for_function("() => document.getElementById('qr-image')?.naturalWidth > 0")

    scan_the_shown_qr(page, stack.sim_url, OWNER_PHONE)
    expect(page.locator("#panel [data-status]")).to_have_attribute("data-status", "connected", timeout=60_000)
    expect(page.locator("#panel")).to_contain_text(f"+{OWNER_PHONE}")
    expect(page.locator("#history")).to_contain_text("Connected")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    shot(page, "instance-connected")

    card = dashboard.locator(".card [data-status]")
    expect(card).to_have_attribute("data-status", "connected", timeout=15_000)
    expect(dashboard.locator(".card")).to_contain_text(f"+{OWNER_PHONE}")
    shot(dashboard, "dashboard")
    dashboard.close()

    _messages_both_ways(page, stack)
    _webhook_deliveries(page, stack)
    _api_key_is_shown_once(page, stack)
    _another_customer_gets_a_404(new_page(), instance_url)


def _inbox(stack: Stack, phone: str) -> list[dict[str, Any]]:
    return httpx.get(f"{stack.sim_url}/phone/{phone}/inbox", timeout=10).json()


def _phone_sends(stack: Stack, text: str) -> None:
    response = httpx.post(
        f"{stack.sim_url}/phone/{FRIEND_PHONE}/send", json={"to": OWNER_PHONE, "text": text}, timeout=10
    )
    assert response.status_code == 201, response.text


def _messages_both_ways(page: Page, stack: Stack) -> None:
    """A message from a phone shows up by itself; a test message reaches the phone."""
    _phone_sends(stack, "Hi! Is my order ready?")
    incoming = page.locator('#conversation [data-direction="in"]')
    expect(incoming).to_contain_text("Hi! Is my order ready?", timeout=30_000)
    expect(incoming).to_contain_text(f"From +{FRIEND_PHONE}")

    page.get_by_label("To (phone number)").fill(f"+{FRIEND_PHONE}")
    page.get_by_label("Message", exact=True).fill("Yes, ready for pickup at 5.")
    page.get_by_role("button", name="Send test message").click()
    outgoing = page.locator('#conversation [data-direction="out"]')
    expect(outgoing).to_contain_text("Yes, ready for pickup at 5.")
    wait_until(
        lambda: any(m["text"] == "Yes, ready for pickup at 5." for m in _inbox(stack, FRIEND_PHONE)),
        30,
        "the test message in the recipient's inbox",
    )
    expect(outgoing).to_have_attribute(
        "data-message-status", re.compile("sent|delivered|read"), timeout=30_000
    )
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    shot(page, "instance-messages")


def _webhook_deliveries(page: Page, stack: Stack) -> None:
    """A webhook chosen for message.received gets the next message; it can be redelivered."""
    receiver = Receiver().start()
    try:
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_text("No webhooks yet")).to_be_visible()
        page.get_by_label("Endpoint URL").fill(f"{receiver.url}/wagate")
        page.get_by_label("message.received").check()
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("[data-new-secret]")).to_have_value(re.compile(r"^whsec_"))
        shot(page, "webhooks")

        _phone_sends(stack, "Thanks!")
        wait_until(lambda: receiver.requests, 30, "the webhook delivery")
        first = receiver.requests[0]
        headers = {name.lower(): value for name, value in first.headers.items()}
        assert headers["x-wagate-event"] == "message.received" and b"Thanks!" in first.body

        page.locator("#webhooks table a").first.click()
        status = page.locator("[data-delivery-status]").first
        expect(status).to_have_attribute("data-delivery-status", "succeeded", timeout=15_000)
        page.get_by_role("button", name=re.compile("^Redeliver message.received")).first.click()
        wait_until(lambda: len(receiver.requests) >= 2, 30, "the redelivery")
        again = {name.lower(): value for name, value in receiver.requests[1].headers.items()}
        assert again["x-wagate-delivery"] == headers["x-wagate-delivery"]
        expect(page.locator("#flash")).to_contain_text("Sending it again now")
        shot(page, "webhook-deliveries")
    finally:
        receiver.stop()


def _api_key_is_shown_once(page: Page, stack: Stack) -> None:
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_text("No active keys")).to_be_visible()
    page.get_by_label("Key name").fill("CRM")
    page.get_by_role("button", name="Create key").click()
    key_field = page.locator("[data-new-key]")
    expect(key_field).to_be_visible()
    raw = key_field.input_value()
    assert raw.startswith("wgk_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    shot(page, "api-key-created")
    me = httpx.get(f"{stack.url}/v1/me", headers={"X-Api-Key": raw}, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == "alice@shop.example"

    page.goto("/keys")
    expect(page.locator("[data-new-key]")).to_have_count(0)
    assert raw not in page.content()
    expect(page.locator("table")).to_contain_text(raw[:12])
    shot(page, "api-keys")


def _another_customer_gets_a_404(page: Page, instance_url: str) -> None:
    sign_up(page, "Bob", "bob@other.example")
    response = page.goto(instance_url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "Shop support" not in page.content()
    shot(page, "not-found")


def log_in_with_the_keyboard(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))


def test_an_operator_drains_and_undrains_a_worker_from_the_fleet_page(
    transactional_db: Any, stack: Stack, new_page
):
    from tests.helpers import make_customer

    operator = make_customer("ops@wagate.example", staff=True)
    operator.user.set_password(PASSWORD)
    operator.user.save()
    page = new_page()
    log_in_with_the_keyboard(page, "ops@wagate.example")
    page.get_by_role("link", name="Fleet").click()
    row = page.locator(f"#worker-{stack.worker.worker_id}")
    # A test before this one may have emptied the database: the worker then re-registers.
    for _ in range(30):
        if row.count():
            break
        time.sleep(0.5)
        page.reload()
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "online")
    expect(row).to_contain_text("/ 10")  # load / capacity
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Drain {stack.worker.worker_id}").click()
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "draining")
    expect(page.locator("#flash")).to_contain_text("is draining")
    shot(page, "fleet")
    row.get_by_role("button", name=f"Cancel the drain of {stack.worker.worker_id}").click()
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "online")

    customer = new_page()
    sign_up(customer, "Carol", "carol@shop.example")
    assert customer.goto("/fleet").status == 403
    expect(customer.get_by_role("navigation")).not_to_contain_text("Fleet")


def test_the_pages_fit_a_phone_screen(transactional_db: Any, stack: Stack, new_page):
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_up(page, "Dana", "dana@shop.example")
    page.get_by_label("Name", exact=True).fill("A rather long instance name for a small screen")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#panel")).to_be_visible()
    for path in ["/", page.url, "/keys", "/account"]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
    page.goto("/")
    shot(page, "dashboard-phone")
    page.goto("/account")
    page.set_viewport_size({"width": 1280, "height": 860})
    shot(page, "account")
