"""A test client for the board: sign in, wait for the feed, read server-sent events."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from noroshi.broker import free_port


async def wait_until_connected(http: aiohttp.ClientSession, base: str, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(base + "/healthz") as response:
                    if (await response.json())["feed"]["connected"]:
                        return
            await asyncio.sleep(0.1)


async def start_board(spawn: Any, **extra: str) -> tuple[Any, str]:
    """A `noroshi board` (`spawn` is the integration `spawn` fixture) on its own port; returns
    the process and its base URL once it answers its sign-in page."""
    port = free_port()
    board = spawn("board", extra_env={"NOROSHI_BOARD_PORT": str(port), **extra})
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(30):
            while True:
                assert board.proc is not None and board.proc.poll() is None, board.log_path.read_text()
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(base + "/login") as response:
                        if response.status == 200:
                            return board, base
                await asyncio.sleep(0.1)


async def sign_in(http: aiohttp.ClientSession, base: str, user: str, password: str) -> aiohttp.ClientResponse:
    form = await (await http.get(base + "/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    return await http.post(base + "/login", allow_redirects=False,
                           data={"user": user, "password": password, "csrf": token})


# --- a real browser: Debian's chromium, driven over the DevTools protocol ---

class Browser:
    """Just enough of the Chrome DevTools protocol: evaluate, and wait for a condition.

    Every call is bounded: Chromium leaves a call unanswered now and then (a screenshot
    asked for while the page reloads itself), and an unbounded wait would stall the run."""

    CALL_TIMEOUT = 20.0

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.calls = ws, 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                reply = json.loads(message.data)
                future = self.pending.pop(reply.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(AssertionError("the browser closed the DevTools connection"))

    async def call(self, method: str, timeout: float | None = None, **params: Any) -> dict[str, Any]:
        """One DevTools command; its error, or no answer in time, fails the test (AssertionError)."""
        self.calls += 1
        call_id = self.calls
        self.pending[call_id] = reply = asyncio.get_running_loop().create_future()
        try:
            await self.ws.send_json({"id": call_id, "method": method, "params": params})
            async with asyncio.timeout(timeout or self.CALL_TIMEOUT):
                answer = await reply
        except TimeoutError:
            raise AssertionError(f"no answer from the browser to {method}") from None
        finally:
            self.pending.pop(call_id, None)
        if "error" in answer:
            raise AssertionError(f"{method} failed: {answer['error'].get('message')}")
        return answer["result"]

    async def js(self, expression: str) -> Any:
        """The value of `expression` in the page; a promise is awaited."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"script failed: {result['exceptionDetails'].get('text')}: {expression}")
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 20) -> None:
        """Wait for `expression` to hold; while a page loads it may throw, which counts as not yet."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        if await self.js(expression):
                            return
                    except AssertionError:
                        pass
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the page never showed: {expression}") from None

    async def goto(self, url: str) -> None:
        """Navigate and wait for the new document to have loaded (its scripts have run)."""
        await self.js("window.__left = true")
        await self.call("Page.navigate", url=url)
        await self.until("!window.__left && document.readyState === 'complete'")

    async def screenshot(self, path: Path, width: int, height: int, *, mobile: bool, full_page: bool = True) -> Path:
        """The page at this window size; the whole page, not just the window, unless told."""
        await self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=mobile)
        await asyncio.sleep(0.3)  # let the layout settle at the new size
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            total = await self.js("Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": width, "height": max(height, total), "scale": 1})
        shot = await self.call("Page.captureScreenshot", **params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def sign_in(self, base: str, user: str, password: str) -> None:
        """Through the sign-in form, as a person would."""
        await self.goto(base + "/login")
        await self.js(
            f"document.querySelector('[name=user]').value = {json.dumps(user)};"
            f"document.querySelector('[name=password]').value = {json.dumps(password)};"
            "document.querySelector('form').submit()")
        await self.until("location.pathname === '/' && document.readyState === 'complete'")

    async def sign_out(self) -> None:
        await self.js("document.querySelector('form[action=\"/logout\"]').submit()")
        await self.until("location.pathname === '/login' && document.readyState === 'complete'")


@contextlib.asynccontextmanager
async def launch_chromium(profile_dir: Path) -> AsyncIterator[Browser]:
    """Headless chromium with a phone-sized window, as on-call staff mostly use."""
    if shutil.which("chromium") is None:
        if os.environ.get("NOROSHI_REQUIRE_BROWSER"):
            pytest.fail("NOROSHI_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("needs Debian's chromium (apt install chromium)")
    port = free_port()
    proc = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={profile_dir}",
         f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(20):
                while True:
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                        break
                    await asyncio.sleep(0.1)
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                browser = Browser(ws)
                await browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                                   deviceScaleFactor=1, mobile=True)
                try:
                    yield browser
                finally:
                    browser.reader.cancel()
    finally:
        proc.terminate()
        proc.wait(10)


# --- accessibility: axe-core, injected into the page ---

#: Installed by `make browser` (`npm ci --prefix tests/browser`), pinned in its package-lock.json.
AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts a page may not have at all.
AXE_BLOCKING = ("serious", "critical")


def axe_source() -> str:
    """axe-core's script; a skip without it, or a failure where CI asks for the browser tests."""
    if not AXE.exists():
        if os.environ.get("NOROSHI_REQUIRE_BROWSER"):
            pytest.fail(f"NOROSHI_REQUIRE_BROWSER is set but axe-core is not installed ({AXE}): run make browser")
        pytest.skip("needs axe-core: make browser (npm ci --prefix tests/browser)")
    return AXE.read_text(encoding="utf-8")


async def axe_violations(browser: Browser, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page shown now: id, impact, help, and the
    elements (CSS selectors) it found them on. The script goes in over DevTools, past the page's CSP."""
    if not await browser.js("typeof window.axe === 'object'"):
        result = await browser.call("Runtime.evaluate", expression=source + "\n;0")
        assert "exceptionDetails" not in result, result["exceptionDetails"]
    found = await browser.js(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, "
        "impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')).slice(0, 8)})))")
    return [v for v in found if v["impact"] in AXE_BLOCKING]


def axe_report(found: dict[str, list[dict[str, Any]]]) -> str:
    """One line per violation and page: what a person reads when the check fails."""
    return "\n".join(f"{page}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['targets'])}"
                     for page, violations in found.items() for v in violations)
