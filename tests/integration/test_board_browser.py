"""The board in a real headless Chromium (Debian's, over the DevTools protocol).

First the whole chain — contract events produced into the broker, the worker's
detectors and playbooks, the board process — as on-call staff use it: sign in, see an
incident appear on the Now page without a reload, acknowledge and draft as the
operator (who cannot approve), approve as the account owner and find the approval
in the timeline, while a user of another municipality sees nothing of it and a post
carrying `<script>` stays text. Then every page, at phone and desktop width, with a
board full of incidents the real playbooks made; the screenshots are saved under
var/screenshots/ (NOROSHI_SCREENSHOTS) for a person to look at.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from dashboards.board import create_app
from dashboards.users import UserStore
from responders.posts import DryRunChannel
from responders.responder import Channels, Responder
from noroshi.broker import free_port
from vocabulary.settings import Settings
from vocabulary.contract import profile_from_dict
from tests.peers.board.world import (
    DISASTER, FAST_HASHER, FLAME, IMPERSONATION, MISINFORMATION, OFFICIAL, OLD_FLAME, PASSWORD, PROFILES, World, build,
    detection, make_users,
)

from .board_client import Browser, axe_report, axe_source, axe_violations, launch_chromium
from .conftest import produce, sample_lines, shifted_to_now

pytestmark = pytest.mark.integration

#: Where the tests leave screenshots of the board for a person to look at (gitignored).
SCREENSHOTS = Path(os.environ.get("NOROSHI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))
SIZES = (("phone", 390, 844, True), ("desktop", 1366, 900, False))
SCRIPT = "<script>window.pwned=1</script>"
ROWS = "[...document.querySelectorAll('#incidents tr')].map(r => r.dataset.id).join()"
#: Every page a signed-in person of wako reaches (システム状態, for admins, is checked on its own).
PAGES = (("now", "/"), ("incident", f"/incidents/{FLAME}"), ("incident-disaster", f"/incidents/{DISASTER}"),
         ("outbound", "/outbound"), ("disaster", "/disaster"), ("oncall", "/oncall"), ("report", "/report"),
         ("not-found", "/incidents/wako-nothing-0000"))


async def accepted(browser: Browser, extra: str = "true") -> None:
    """Wait for the playbook's answer to the action just taken, and that it was a yes."""
    try:
        await browser.until(f"document.querySelector('#flash.flash-accepted, #flash.flash-rejected') !== null && {extra}",
                            timeout=45)
    except AssertionError:
        state = await browser.js("location.href + ' | ' + (document.getElementById('flash')?.textContent ?? 'no flash')")
        raise AssertionError(f"no answer from the playbook: {state}") from None
    flash = await browser.js("document.getElementById('flash').className + ': ' + document.getElementById('flash').textContent")
    assert "flash-accepted" in flash, flash


async def settled(browser: Browser, quiet: float = 2.5) -> None:
    """Wait until the page has not been loaded anew for `quiet` seconds: an action's answer is a
    new page (the form's redirect), and the worker is still busy with the sample."""
    async with asyncio.timeout(60):
        seen, since = None, time.monotonic()
        while time.monotonic() - since < quiet:
            try:
                now = await browser.js("performance.timeOrigin + ':' + document.readyState")
            except AssertionError:
                now = None
            if now != seen:
                seen, since = now, time.monotonic()
            await asyncio.sleep(0.1)


async def perform(browser: Browser, ready: str, script: str) -> None:
    """Run `script` (which ends by clicking a submit button) once `ready` is on a page that has
    stopped reloading itself; if a reload still gets in between, nothing was sent: try again."""
    for _ in range(5):
        try:
            await browser.until(f"document.querySelector({json.dumps(ready)}) !== null", timeout=30)
        except AssertionError:
            page = await browser.js("location.href + '\\n' + document.body.innerText")
            raise AssertionError(f"{ready} never showed on the page:\n{page}") from None
        await settled(browser, quiet=1.5)
        try:
            await browser.js(script)
            return
        except AssertionError:
            await asyncio.sleep(0.3)
    raise AssertionError(f"could not run on a settled page: {script}")


async def shoot(browser: Browser, name: str) -> None:
    """Screenshots at phone and desktop width, of a page that has stopped reloading itself
    (Chromium may never answer a screenshot asked for while the page reloads: try again)."""
    for size, width, height, mobile in SIZES:
        for attempt in range(3):
            await settled(browser, quiet=1.0)
            try:
                shot = await browser.screenshot(SCREENSHOTS / f"{name}-{size}.png", width, height, mobile=mobile)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        assert shot.stat().st_size > 10_000
        assert await browser.js("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {size}"
    await browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with launch_chromium(tmp_path / "chromium") as browser:
        yield browser


# --- the whole chain ----------------------------------------------------------------------

def _with_script_in_a_criticism(lines: list[bytes]) -> tuple[list[bytes], str]:
    """The sample with `<script>` added to one critical reply of the flame-up."""
    events = [orjson.loads(line) for line in lines]
    target = next(e for e in events if e["id"] == "x:wako00012")  # 削除と説明を求めます, among the first evidence
    target["text"] += " " + SCRIPT
    return [orjson.dumps(e) for e in events], target["id"]


async def test_on_call_staff_see_and_answer_a_flame_up_in_a_real_browser(broker, names, spawn, env, browser):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({**env, "NOROSHI_BOARD_PORT": str(port)})
    users = UserStore(settings.users_file, hasher=FAST_HASHER)
    users.add("sato", role="operator", municipality="wako", password=PASSWORD, display_name="佐藤 一郎")
    users.add("tanaka", role="owner", municipality="wako", password=PASSWORD, display_name="田中 花子")
    users.add("asaka-op", role="operator", municipality="asaka", password=PASSWORD, display_name="朝霞 当番")
    spawn("worker")
    spawn("board", extra_env={"NOROSHI_BOARD_PORT": str(port)})
    lines, script_post = _with_script_in_a_criticism(shifted_to_now(sample_lines())[0])

    # Sign in; the Now page is live and empty.
    async with asyncio.timeout(30):
        while True:
            try:
                await browser.sign_in(base, "sato", PASSWORD)
                break
            except AssertionError:
                await asyncio.sleep(0.5)  # the board process is still starting
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    assert await browser.js(ROWS) == ""

    # Events produced into the broker: the flame-up appears without a reload.
    await browser.js("window.noReload = true")
    await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts, b"wako", line)
                                   for line in lines])
    await browser.until("!!document.querySelector('#incidents tr[data-severity] a.open')"
                        " && [...document.querySelectorAll('#incidents .type')].some(td => td.textContent.includes('炎上'))",
                        timeout=60)
    assert await browser.js("window.noReload") is True
    flame = await browser.js("[...document.querySelectorAll('#incidents tr')]"
                             ".find(r => r.querySelector('.type').textContent.includes('炎上')).dataset.id")
    row = await browser.js(f"document.querySelector('tr[data-id=\"{flame}\"]').textContent")
    # Waiting for acknowledgement; the sample ends now, so its deadline may be past already (shown in red).
    assert "受付待ち" in row and ("あと" in row or "超過" in row)
    await shoot(browser, "e2e-now")

    # The incident page: the evidence post with <script> is text (on whichever page of the evidence,
    # newest first, it is; the board may still be reading the posts).
    shows_it = f"[...document.querySelectorAll('.post-text')].some(p => p.textContent.includes({json.dumps(SCRIPT)}))"
    deadline = time.monotonic() + 30
    while True:
        for page in range(3):
            await browser.goto(f"{base}/incidents/{flame}?evidence={page}")
            if await browser.js(shows_it):
                break
        else:
            assert time.monotonic() < deadline, "no page of the evidence showed the post with <script>"
            await asyncio.sleep(0.5)
            continue
        break
    assert await browser.js("window.pwned") is None
    assert await browser.js("document.querySelectorAll('script').length") == 1
    await browser.goto(f"{base}/incidents/{flame}")

    # The operator acknowledges, then drafts a statement; the playbook answers in the timeline.
    await perform(browser, "button[value=acknowledge]", "document.querySelector('button[value=acknowledge]').click()")
    await accepted(browser)
    await browser.until("document.querySelector('#timeline').textContent.includes('受付')")
    statement = f"動画について確認しております。{SCRIPT}"
    await perform(browser, "button[value=draft]",
                  "document.querySelector('details.new-draft').open = true;"
                  f"document.querySelector('form.action textarea[name=text_ja]').value = {json.dumps(statement)};"
                  "document.querySelector('button[value=draft]').click()")
    await accepted(browser, "document.querySelector('article.draft') !== null")
    assert await browser.js("[...document.querySelectorAll('article.draft .post-text')]"
                            f".some(p => p.textContent === {json.dumps(statement)})")
    assert await browser.js("window.pwned") is None

    # An operator cannot approve: no button, and a forged request is refused without a command.
    assert await browser.js("document.querySelector('button[value=approve]')") is None
    status = await browser.js(
        "fetch(location.pathname + '/actions', {method: 'POST', redirect: 'manual', body: new URLSearchParams({"
        "csrf: document.querySelector('input[name=csrf]').value, action: 'approve',"
        "draft_id: document.querySelector('input[name=draft_id]').value, draft_hash: 'x'})}).then(r => r.status)")
    assert status == 403
    await browser.sign_out()

    # The account owner can, and the approval shows up in the timeline.
    await browser.sign_in(base, "tanaka", PASSWORD)
    await browser.goto(f"{base}/incidents/{flame}")
    await perform(browser, "button[value=approve]", "document.querySelector('button[value=approve]').click()")
    await accepted(browser)
    timeline = await browser.js("document.querySelector('#timeline').textContent")
    assert "承認" in timeline and "田中 花子（所属長）" in timeline
    # The page redraws itself once the incident record catches up with the playbook's answer.
    await browser.until("['承認済み', '公開済み'].includes(document.querySelector('article.draft .status')?.textContent)")
    await shoot(browser, "e2e-incident")
    await browser.sign_out()

    # Someone of another municipality sees nothing of it.
    await browser.sign_in(base, "asaka-op", PASSWORD)
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    assert await browser.js(ROWS) == ""
    assert await browser.js("document.getElementById('empty').hidden") is False
    assert await browser.js("fetch('/api/incidents').then(r => r.json()).then(rows => rows.length)") == 0
    await browser.goto(f"{base}/incidents/{flame}")
    assert "この事案は見つかりません" in await browser.js("document.body.textContent")
    for path in ("/outbound", "/disaster", "/report"):
        await browser.goto(base + path)
        assert "wako_city_official" not in await browser.js("document.body.textContent"), path
    await shoot(browser, "e2e-other-municipality")


# --- every page, at phone and desktop width -----------------------------------------------------

@dataclasses.dataclass
class Board:
    """An in-process board over the engine-made world (no broker needed), restartable."""

    url: str
    world: World
    make: Callable[[], web.Application]
    port: int
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(self.make())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    store = make_users(tmp_path / "users.json")
    world = build(time.time(), store.users())
    # The earlier flame-up's statement, carried out as the demo does without credentials: a dry run.
    await world.carry_out(OLD_FLAME, "post_statement", Responder(
        Channels(dry_run_posts=DryRunChannel), profiles=PROFILES, board_url="http://board"))
    port = free_port()
    # The システム状態 page asks the worker, the sources and the watchdog: none runs here (応答なし).
    settings = dataclasses.replace(Settings.from_env({"NOROSHI_SECRET_KEY": "browser-test"}),
                                   board_url=f"http://127.0.0.1:{port}",
                                   worker_url=f"http://127.0.0.1:{free_port()}",
                                   sources_url=f"http://127.0.0.1:{free_port()}",
                                   watchdog_url=f"http://127.0.0.1:{free_port()}")
    profiles = {k: profile_from_dict(v) for k, v in PROFILES.items()}
    running = Board(settings.board_url, world, port=port, make=lambda: create_app(
        settings, world.feed, users=store, profiles=profiles, outcome_wait=0.1))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_every_page_at_phone_and_desktop_width(board: Board, browser: Browser) -> None:
    base = board.url
    await browser.goto(base + "/login")
    await shoot(browser, "board-login")
    await browser.sign_in(base, "tanaka", PASSWORD)
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    await shoot(browser, "board-now")
    for name, path, ready in (
            ("incident", f"/incidents/{FLAME}", "document.querySelectorAll('#timeline tr').length > 5"),
            ("outbound", "/outbound", "true"), ("disaster", "/disaster", "true"),
            ("oncall", "/oncall", "true"), ("report", "/report", "true")):
        await browser.goto(base + path)
        await browser.until(ready)
        # Japanese must render: no glyph may fall back to the missing-glyph box (tofu).
        assert await browser.js("document.fonts.check('16px \"Noto Sans CJK JP\"', '炎上対応')") is True
        await shoot(browser, f"board-{name}")
    await browser.goto(base + "/?lang=en")
    await shoot(browser, "board-now-en")
    await browser.goto(f"{base}/incidents/{FLAME}?lang=en")
    await shoot(browser, "board-incident-en")

    # システム状態, for admins only: live like the other pages, and it redraws itself from /api/system.
    await browser.goto(base + "/system?lang=ja")
    assert "この操作の権限がありません" in await browser.js("document.body.textContent")
    await browser.sign_out()
    await browser.sign_in(base, "yamamoto", PASSWORD)
    await browser.goto(base + "/system")
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    assert "自己監視の通知は送られていません" in await browser.js("document.getElementById('sys-components').textContent")
    checked = await browser.js("document.getElementById('system-updated').textContent")
    await browser.js("window.noReload = true")
    await browser.until(f"document.getElementById('system-updated').textContent !== {json.dumps(checked)}", timeout=30)
    assert await browser.js("window.noReload") is True  # redrawn in place, not reloaded
    assert await browser.js("document.querySelectorAll('#sys-components tbody tr').length") == 5
    assert await browser.js("document.fonts.check('16px \"Noto Sans CJK JP\"', 'システム状態')") is True
    await shoot(browser, "board-system")
    await browser.goto(base + "/system?lang=en")
    await shoot(browser, "board-system-en")


async def test_the_now_page_follows_changes_live_counts_down_and_reconnects(board: Board,
                                                                           browser: Browser) -> None:
    base, world = board.url, board.world
    await browser.sign_in(base, "sato", PASSWORD)
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    await browser.js("window.noReload = true")
    first = await browser.js(ROWS)
    assert first.split(",")[0] == FLAME

    # A critical incident goes to the top, at once, with its text as text.
    world.detect(dataclasses.replace(
        _opening(world), summary=f"市長の発言に批判 {SCRIPT}"))
    await browser.until(f"{ROWS}.startsWith('wako-flame-9999,')")
    assert SCRIPT in await browser.js("document.querySelector('tr[data-id=\"wako-flame-9999\"] .summary').textContent")
    # 対応待ち names the step and who must take it now: a critical one wakes both operators on call.
    assert await browser.js("document.querySelector('tr[data-id=\"wako-flame-9999\"] .awaiting').textContent") == (
        "受付運用担当者：当番 佐藤、当番 鈴木")
    assert await browser.js("window.pwned") is None

    # The deadline counts down by itself.
    ack = "document.querySelector('tr[data-id=\"wako-flame-9999\"] .ack').textContent"
    before = await browser.js(ack)
    assert before.startswith("あと")
    await browser.until(f"{ack} !== {json.dumps(before)} && {ack}.startsWith('あと')", timeout=10)

    # Disaster mode off: the banner goes; marked a false positive: the row goes.
    assert await browser.js("document.getElementById('disaster-banner').hidden") is False
    world.command(DISASTER, "wako", "disaster_mode_off", {"name": "tanaka", "role": "owner"}, 1)
    await browser.until("document.getElementById('disaster-banner').hidden === true")
    # A drill's disaster mode: the banner comes back saying 訓練, live.
    world.detect(detection(world, "wako-disaster-0099", type_="disaster", target="和光市防災訓練", minutes=-1,
                           drill=True, metrics={"posts": 30, "authors": 10}))
    await browser.until("document.getElementById('disaster-banner').hidden === false")
    await browser.until("document.querySelector('#disaster-banner .drill').hidden === false")
    assert await browser.js("document.querySelector('#disaster-banner .tags').textContent") == "#和光市防災訓練（訓練）"
    world.command("wako-disaster-0099", "wako", "disaster_mode_off", {"name": "tanaka", "role": "owner"}, 1)
    await browser.until("document.getElementById('disaster-banner').hidden === true")
    world.command("wako-flame-9999", "wako", "mark_false_positive", {"name": "sato", "role": "operator"}, 1)
    await browser.until(f"!{ROWS}.includes('wako-flame-9999')")
    assert await browser.js("window.noReload") is True

    # The board goes away and comes back: the page says so, and reconnects by itself.
    await board.stop()
    await browser.until("document.getElementById('connection').textContent === '再接続中…'")
    world.command(IMPERSONATION, "wako", "verify", {"name": "sato", "role": "operator"}, 2)  # meanwhile
    await board.start()
    await browser.until("document.getElementById('connection').textContent === '接続中'", timeout=30)
    await browser.until(f"document.querySelector('tr[data-id=\"{IMPERSONATION}\"] .state').textContent"
                        " === '削除依頼済み・周知文作成待ち'")
    assert await browser.js("window.noReload") is True


async def test_the_incident_page_redraws_itself_in_place_when_the_playbook_moves_on(board: Board,
                                                                                   browser: Browser) -> None:
    base, world = board.url, board.world
    await browser.sign_in(base, "tanaka", PASSWORD)
    await browser.goto(f"{base}/incidents/{FLAME}")
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    assert await browser.js("document.querySelector('button[value=approve]') !== null")
    await browser.js("window.noReload = true; document.querySelector('.crumb a').focus(); 0")
    draft = world.states[FLAME].drafts[0]
    world.command(FLAME, "wako", "approve", {"name": "tanaka", "role": "owner", "display_name": "田中 花子"}, 1,
                  draft_id=draft.draft_id, draft_hash=draft.hash)
    await browser.until("document.querySelector('button[value=approve]') === null"
                        " && document.querySelector('#timeline').textContent.includes('承認')")
    assert await browser.js("window.noReload") is True  # redrawn, not reloaded
    # the reader's place is kept: the same link has the focus, and the change is said once
    assert await browser.js("document.activeElement === document.querySelector('.crumb a')") is True
    await browser.until("document.getElementById('announce').textContent === 'この事案が更新されました'")


async def test_an_update_waits_while_someone_types_and_keeps_what_they_typed(board: Board, browser: Browser) -> None:
    base, world = board.url, board.world
    await browser.sign_in(base, "sato", PASSWORD)
    await browser.goto(f"{base}/incidents/{FLAME}")
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    field = "document.querySelector('details.new-draft textarea[name=text_ja]')"
    await browser.js(f"window.noReload = true; document.querySelector('details.new-draft').open = true; {field}.focus();"
                     f"{field}.value = '経緯を確認しています'; 0")
    world.detect(detection(world, FLAME, type_="flame", target=OFFICIAL, minutes=-1, seq=6, opened=-30,
                           summary="批判的な返信・引用が 60 件（30 人）。", metrics={"critical": 60, "total": 80}))
    # The news is held back while the field is being typed in: a note says so, nothing moves.
    await browser.until("document.getElementById('update-note').hidden === false")
    await shoot(browser, "board-incident-update-note")
    assert await browser.js(f"document.activeElement === {field} && {field}.value") == "経緯を確認しています"
    assert "60 件" not in await browser.js("document.querySelector('main .summary').textContent")
    # Leaving the field with text in it still holds the news back; asking for it shows it, text kept.
    await browser.js(f"{field}.blur(); 0")
    assert await browser.js("document.getElementById('update-note').hidden") is False
    await browser.js("document.getElementById('update-apply').click(); 0")
    await browser.until("document.querySelector('main .summary').textContent.includes('60 件')")
    assert await browser.js(f"document.activeElement === {field} && {field}.value") == "経緯を確認しています"
    assert await browser.js("document.querySelector('details.new-draft').open") is True
    assert await browser.js("document.getElementById('update-note').hidden") is True
    assert await browser.js("window.noReload") is True
    assert await browser.js("document.querySelector('main').dataset.redraws") == "1"


async def test_another_page_shows_disaster_mode_as_it_starts_and_says_so(board: Board, browser: Browser) -> None:
    base, world = board.url, board.world
    world.command(DISASTER, "wako", "disaster_mode_off", {"name": "tanaka", "role": "owner"}, 1)
    await browser.sign_in(base, "sato", PASSWORD)
    await browser.goto(f"{base}/oncall")
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    # 本文へ移動: the first thing Tab reaches, and it leads to <main>
    first = "document.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex=\"-1\"])')"
    assert await browser.js(f"{first} === document.querySelector('a.skip')") is True
    await browser.call("Emulation.setFocusEmulationEnabled", enabled=True)  # :focus, as in a window in front
    await browser.js("document.querySelector('a.skip').focus(); 0")
    assert await browser.js("document.querySelector('a.skip').getBoundingClientRect().top >= 0") is True
    await shoot(browser, "board-skip-link")
    assert await browser.js("document.querySelector(document.querySelector('a.skip').getAttribute('href'))"
                            " === document.querySelector('main')") is True
    await browser.js("document.querySelector('a.skip').click(); 0")
    await browser.until("document.activeElement === document.querySelector('main')")

    assert await browser.js("document.getElementById('disaster-banner').hidden") is True
    await browser.js("window.noReload = true")
    world.detect(detection(world, "wako-disaster-0098", type_="disaster", target="和光市大雨", minutes=2,
                           metrics={"posts": 40, "authors": 12}))
    await browser.until("document.getElementById('disaster-banner').hidden === false")
    assert await browser.js("document.querySelector('#disaster-banner .tags').textContent") == "#和光市大雨"
    await browser.until("document.getElementById('announce-urgent').textContent"
                        " === '災害モードが始まりました: #和光市大雨'")
    assert await browser.js("window.noReload") is True

    # 発信: a new draft appears in place, and a new incident is said politely.
    await browser.goto(f"{base}/outbound")
    await browser.until("document.getElementById('connection').textContent === '接続中'")
    await browser.js("window.noReload = true")
    world.command(FLAME, "wako", "draft", {"kind": "person", "name": "sato", "role": "operator"}, 2,
                  kind="statement", texts={"ja": "改めてお詫びし、経緯をご説明します。", "en": "We apologise again."})
    await browser.until("document.querySelector('main').textContent.includes('改めてお詫びし')")
    world.detect(dataclasses.replace(_opening(world), summary="市長の発言に批判"))
    await browser.until("document.getElementById('announce').textContent === '新しい事案: 炎上 wako_city_official（緊急）'")
    assert await browser.js("window.noReload") is True
    assert await browser.js("document.getElementById('connection').textContent") == "接続中"


async def test_a_confirm_prompt_says_what_the_action_will_do_and_cancelling_sends_nothing(
        board: Board, browser: Browser) -> None:
    base = board.url
    await browser.sign_in(base, "sato", PASSWORD)
    await browser.goto(f"{base}/incidents/{FLAME}")
    await browser.until("document.querySelector('button[value=resolve]') !== null")
    # The browser's own dialog, answered "cancel", with what it said kept
    await browser.js("window.asked = []; window.confirm = (text) => { window.asked.push(text); return false; }; 0")
    await browser.js("document.querySelector('button[value=resolve]').click(); 0")
    await browser.until("window.asked.length === 1")
    asked = await browser.js("window.asked[0]")
    assert asked.startswith("この事案を解決済みにします。") and "返信の保留を解除" in asked and "7日以内" in asked
    await asyncio.sleep(0.5)
    assert await browser.js("location.pathname") == f"/incidents/{FLAME}"  # nothing was sent
    assert await browser.js("document.querySelector('button[value=resolve]') !== null")


async def test_a_replaced_draft_is_folded_away_and_the_new_one_is_in_sight(board: Board, browser: Browser) -> None:
    base, world = board.url, board.world
    world.command(FLAME, "wako", "draft", {"kind": "person", "name": "sato", "role": "operator"}, -3,
                  kind="statement", texts={"ja": "改めてお詫びし、経緯をご説明します。", "en": "We apologise again."})
    await browser.sign_in(base, "tanaka", PASSWORD)
    await browser.goto(f"{base}/incidents/{FLAME}")
    await browser.until("document.querySelectorAll('article.draft').length === 2")
    folded = "document.querySelector('details.old-draft')"
    assert await browser.js(f"{folded}.open") is False
    assert await browser.js(f"{folded}.querySelector('summary').textContent") == "以前の文案 第1案（新しい文案に置き換え）"
    # the newest draft is the first on the page, unfolded, with its approval at hand
    assert "第2案" in await browser.js("document.querySelector('article.draft .meta').textContent")
    assert await browser.js("document.querySelector('article.draft button[value=approve]').offsetParent !== null")


async def test_every_evidence_post_can_be_reached_page_by_page(board: Board, browser: Browser) -> None:
    base, world = board.url, board.world
    ids = [f"x:page{i:02d}" for i in range(45)]
    world.detect(detection(world, "wako-flame-0045", type_="flame", target="wako_city_official", minutes=-1,
                           opened=-45, evidence=ids, summary="批判 45 件", metrics={"critical": 45, "total": 45}))
    for i, post_id in enumerate(ids):
        world.post(post_id, -45 + i, f"critic{i:02d}", f"批判の投稿 {i:02d}")
    await browser.sign_in(base, "sato", PASSWORD)
    await browser.goto(f"{base}/incidents/wako-flame-0045")
    first_post = "document.querySelector('#evidence .post-text').textContent"
    assert await browser.js(first_post) == "批判の投稿 44"  # the newest first
    await browser.js("document.querySelector('#evidence a[rel=next]').click(); 0")
    await browser.until("document.querySelector('#evidence .pager span').textContent.startsWith('新しい順に 21–40')")
    assert await browser.js(first_post) == "批判の投稿 24"
    await browser.js("document.querySelector('#evidence a[rel=next]').click(); 0")
    await browser.until("document.querySelector('#evidence .pager span').textContent.startsWith('新しい順に 41–45')")
    assert await browser.js("Array.from(document.querySelectorAll('#evidence .post-text'), e => e.textContent).at(-1)") \
        == "批判の投稿 00"


def _opening(world: World):
    return detection(world, "wako-flame-9999", type_="flame", target="wako_city_official", minutes=0,
                     severity="critical", summary="", metrics={"critical": 9, "total": 10})


async def test_outbound_columns_do_not_break_inside_a_word_at_desktop_width(board: Board, browser: Browser) -> None:
    """発信 at desktop width with a long draft waiting: the short columns (種類 説明・お詫び, 状況, 起案, 日時)
    stay on one line each, and the text column takes the rest without pushing the page sideways."""
    long_text = "断水の情報は誤りです。" * 30
    board.world.command(MISINFORMATION, "wako", "draft", {"name": "sato", "role": "operator"}, -1,
                        kind="correction", texts={"ja": long_text + " https://www.city.wako.lg.jp/news/water.html"})
    await browser.sign_in(board.url, "tanaka", PASSWORD)
    await browser.call("Emulation.setDeviceMetricsOverride", width=1366, height=900, deviceScaleFactor=1, mobile=False)
    await browser.goto(board.url + "/outbound")
    lines = await browser.js("""[...document.querySelectorAll('main table tbody td:not(:last-child)')].map(td => {
        const range = document.createRange(); range.selectNodeContents(td);
        const tops = [...range.getClientRects()].map(r => r.top).sort((a, b) => a - b);
        return [td.textContent, tops.filter((top, i) => i === 0 || top - tops[i - 1] > 8).length];  // lines
      })""")
    assert any("説明・お詫び" in text for text, _ in lines)
    assert [text for text, n in lines if n > 1] == []
    assert await browser.js("document.documentElement.scrollWidth") <= 1366


# --- accessibility ------------------------------------------------------------------------------

async def test_no_page_has_a_serious_or_critical_accessibility_violation(board: Board, browser: Browser) -> None:
    """axe-core over every page, in both languages, at phone and desktop width."""
    source = axe_source()
    base, found = board.url, {}

    async def check(name: str, path: str) -> None:
        for lang in ("ja", "en"):
            await browser.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
            for size, width, height, mobile in SIZES:
                await browser.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                                   deviceScaleFactor=1, mobile=mobile)
                found[f"{name} ({lang}, {size})"] = await axe_violations(browser, source)

    await check("login", "/login")
    await browser.sign_in(base, "tanaka", PASSWORD)
    for name, path in PAGES:
        await check(name, path)
    await browser.sign_out()
    await browser.sign_in(base, "yamamoto", PASSWORD)
    await check("system", "/system")
    assert len(found) == (len(PAGES) + 2) * 2 * len(SIZES)
    bad = {page: violations for page, violations in found.items() if violations}
    assert not bad, "axe-core: serious or critical violations\n" + axe_report(bad)


async def test_the_report_shows_a_months_drills_apart(board: Board, browser: Browser) -> None:
    """月次報告 of a month with a drill: the figures leave it out, 訓練の記録 shows it (as in the demo)."""
    world, sato = board.world, {"name": "sato", "role": "operator"}
    world.detect(detection(world, "wako-flame-0888", type_="flame", target=OFFICIAL, minutes=-3, severity="medium",
                           summary="訓練の炎上", metrics={"critical": 6, "total": 20}, drill=True))
    world.command("wako-flame-0888", "wako", "acknowledge", sato, -1)
    await browser.sign_in(board.url, "tanaka", PASSWORD)
    await browser.goto(board.url + "/report")
    assert "訓練の記録" in await browser.js("document.querySelector('section.drills h2').textContent")
    assert await browser.js("document.querySelector('section.drills td:nth-child(2)').textContent") == "1"
    assert await axe_violations(browser, axe_source()) == []
    await shoot(browser, "board-report-drills")

    # Live: a new incident of the month is counted without a reload (the report waits 5 s between reads).
    await browser.js("window.noReload = true")
    total = "document.querySelector('.figures .figure .value').textContent"
    before = int(await browser.js(total))
    world.detect(detection(world, "wako-flame-0889", type_="flame", target=OFFICIAL, minutes=-1, severity="high",
                           summary="新しい炎上", metrics={"critical": 9, "total": 20}))
    await browser.until(f"{total} === '{before + 1}'", timeout=30)
    assert await browser.js("window.noReload") is True
