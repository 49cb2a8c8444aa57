"""The pages in a real headless browser: Debian's Chromium driven by Selenium (the system's
chromedriver; nothing is downloaded), against a real uvicorn server over a real SQLite store.
Saves the screenshots that README and docs/web.md show (docs/screenshots/)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.settings import WebSettings
from bot.web import WebServer
from db import open_store
from tests.helpers import ROOT, Clock
from tests.web.helpers import (
    HOSTILE,
    MOD,
    OTHER_MOD,
    Tokens,
    free_port,
    link_token,
    populate,
    spread_activity,
    web_services,
)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = ROOT / "docs" / "screenshots"
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


class Site:
    """The running server, its services and clock, and a browser pointed at it. Every browser
    call runs on a thread, so that the server keeps serving on the test's event loop."""

    def __init__(self, base: str, services: Any, clock: Clock, driver: Any) -> None:
        self.base = base
        self.services = services
        self.clock = clock
        self.driver = driver

    async def do(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def get(self, path: str) -> None:
        await self.do(self.driver.get, path if path.startswith("http") else self.base + path)

    async def text(self, css: str = "body") -> str:
        from selenium.webdriver.common.by import By

        return await self.do(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text)

    async def click(self, css: str) -> None:
        """Click a link or a submit button, and wait until the next page has replaced this one
        (a click returns before the navigation it starts)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        def click_and_wait() -> None:
            page = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            WebDriverWait(self.driver, 20).until(expected_conditions.staleness_of(page))
            # The old page is gone, but the new one may still be loading: a busy machine once
            # replaced its nodes under the next find_element ("does not belong to the document").
            WebDriverWait(self.driver, 20).until(
                lambda driver: driver.execute_script("return document.readyState") == "complete"
            )

        await self.do(click_and_wait)

    async def type(self, css: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        await self.do(lambda: self.driver.find_element(By.CSS_SELECTOR, css).send_keys(text))

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        assert await self.do(self.driver.save_screenshot, str(path)), path
        assert path.stat().st_size > 5_000  # a picture, not a blank


def chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
async def site(bank, tmp_path: Path) -> AsyncIterator[Site]:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'tutor.db'}")
    clock = Clock()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = await web_services(bank, store, clock, Tokens(), base=base)
    await spread_activity(services, clock)  # six learners at 20 XP, six at 10
    await populate(services, clock)
    server = WebServer(services, WebSettings(port=port, public_url=base))
    await server.start()
    driver = await asyncio.to_thread(chromium)
    try:
        yield Site(base, services, clock, driver)
    finally:
        await asyncio.to_thread(driver.quit)
        await server.stop()
        await store.close()


async def test_public_leaderboard_in_a_browser(site: Site):
    await site.get("/leaderboard/test/g1")
    assert "not public" in await site.text("main")
    await site.services.web.set_leaderboard(MOD, True)
    await site.get("/leaderboard/test/g1")
    board = await site.text("table.board")
    assert "1 Ada 70" in board and "2 Learner 2 20" in board and "2 Learner 12 20" in board
    assert f"8 {HOSTILE} 10" in board and "8 Bob 10" in board
    # The stylesheet loads under the CSP (the header's colour comes from it).
    header = await site.do(
        lambda: site.driver.find_element("css selector", "header").value_of_css_property(
            "background-color"
        )
    )
    assert header == "rgba(37, 48, 59, 1)"
    await site.type("input[name=q]", "bob")
    await site.click("form.filters button")
    assert "#8 Bob · 10 XP" in await site.text(".found")
    await site.shot("leaderboard")


async def test_dashboard_action_with_confirmation_in_a_browser(site: Site):
    token = link_token((await site.services.web.dashboard_link(MOD)).text)
    await site.get(f"/dashboard/login/{token}")
    assert site.driver.current_url == site.base + "/dashboard"  # the token left the address bar
    page = await site.text("main")
    assert "Moderator dashboard" in page and "Ada" in page and "Gus" not in page
    await site.shot("dashboard")

    await site.click("a[href='/dashboard/learner/bob']")
    assert "Learner report · Bob" in await site.text("h1")
    await site.type("form.action input[name=reason]", "shared account")
    await site.click("form.action button")
    assert "Exclude Bob from this server's leaderboards?" in await site.text("main")
    await site.shot("confirm")
    target = await site.services.moderator.store.find_learner("test", "g1", "bob")
    assert target is not None and not target.excluded  # nothing happens before Confirm

    await site.click("#confirm")
    assert "Excluded Bob from this server's leaderboards (action #1)" in await site.text("#result")
    target = await site.services.moderator.store.find_learner("test", "g1", "bob")
    assert target is not None and target.excluded
    await site.get("/dashboard/learner/bob")
    await site.shot("learner")


async def test_another_servers_learner_and_an_expired_link_in_a_browser(site: Site):
    token = link_token((await site.services.web.dashboard_link(MOD)).text)
    await site.get(f"/dashboard/login/{token}")
    # g2's learner through g1's link: not there.
    await site.get("/dashboard/learner/gus")
    assert "has not answered any question in this server" in await site.text("main")
    # g2's own link shows g2 only.
    other = link_token((await site.services.web.dashboard_link(OTHER_MOD)).text)
    await site.get(f"/dashboard/login/{other}")
    page = await site.text("main")
    assert "Gus" in page and "Ada" not in page

    site.clock.advance(minutes=61)
    await site.get("/dashboard")
    assert "This dashboard link has expired or was revoked" in await site.text("main")
    await site.shot("expired")
    await site.get(f"/dashboard/login/{token}")
    assert "expired or was revoked" in await site.text("main")
