"""The pages as on-call staff see them, drawn from records the real playbooks wrote:
Now, Incident, Outbound, Disaster mode, On call, Report and the CSV export —
Japanese by default, English on request, every record escaped."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import orjson

from vocabulary.records import JST, Detection

from .conftest import Client, page_csrf
from .world import (
    ASAKA_FLAME, DISASTER, FLAME, IMPERSONATION, MISINFORMATION, OFFICIAL, OLD_FLAME, SCRIPT, World, detection,
    month_of,
)


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page)


# --- Now -------------------------------------------------------------------------------

async def test_the_now_page_lists_open_incidents_most_severe_and_oldest_first(client_for: Client) -> None:
    page = await (await (await client_for("sato")).get("/")).text()
    assert rows_of(page) == [FLAME, DISASTER, IMPERSONATION, MISINFORMATION]  # high ×3 by age, then medium
    assert OLD_FLAME not in rows_of(page)  # resolved: off the Now page
    for words in ("現在の状況", "炎上", "承認待ち", "対応待ち", "受付期限", "件数の推移", "受付済み（佐藤 一郎）", "なりすまし確認"):
        assert words in page, words
    assert re.search(r"あと\d+分\d+秒", page)  # the impersonation's acknowledgement deadline counts down
    assert page.count('<svg class="spark"') == 4


async def test_the_now_page_in_english_is_remembered_by_a_cookie(client_for: Client) -> None:
    http = await client_for("sato")
    english = await (await http.get("/?lang=en")).text()
    assert '<html lang="en">' in english
    for words in ("Now", "Flame-up", "Next step", "Ack. due", "Sign out", "awaiting approval"):
        assert words in english, words
    assert '<html lang="en">' in await (await http.get("/outbound")).text()
    assert '<html lang="ja">' in await (await http.get("/?lang=ja")).text()


async def test_the_disaster_banner_is_on_every_page_while_disaster_mode_is_on(client_for: Client,
                                                                              world: World) -> None:
    http = await client_for("sato")
    for path in ("/", f"/incidents/{FLAME}", "/outbound", "/disaster", "/oncall", "/report"):
        page = await (await http.get(path)).text()
        assert '<div id="disaster-banner" class="banner">' in page and "#和光市災害" in page, path
    world.command(DISASTER, "wako", "disaster_mode_off", {"name": "tanaka", "role": "owner"}, 1)
    page = await (await http.get("/")).text()
    assert '<div id="disaster-banner" class="banner" hidden>' in page


async def test_every_page_is_live_with_a_skip_link_and_empty_live_regions(client_for: Client) -> None:
    http = await client_for("sato")
    for path in ("/", f"/incidents/{FLAME}", "/outbound", "/disaster", "/oncall", "/report", "/incidents/nothing"):
        for lang, skip in (("ja", "本文へ移動"), ("en", "Skip to main content")):
            page = await (await http.get(f"{path}?lang={lang}")).text()
            main = re.search(r'<main id="([^"]+)"[^>]* tabindex="-1"[^>]* data-labels=', page)
            assert main, path  # the script's words are there: it follows the stream on this page
            body = page[page.index("<body"):]
            assert re.search(r'<body[^>]*>\s*<a class="skip" href="#([^"]+)">', body).group(1) == main.group(1), path
            assert f">{skip}</a>" in body
            assert '<p id="connection" class="conn" data-state="connecting" role="status">' in page, path
            assert '<div id="announce" class="sr-only" role="status" aria-live="polite" ' in page, path
            assert '<div id="announce-urgent" class="sr-only" role="alert" aria-live="assertive"></div>' in page
            assert '<p id="update-note" class="flash flash-pending" hidden>' in page, path


async def test_a_drill_disaster_says_訓練_in_the_banner_and_on_the_disaster_page(client_for: Client,
                                                                               world: World) -> None:
    http = await client_for("sato")
    page = await (await http.get("/")).text()
    assert '<span class="drill" hidden>訓練</span> <span class="tags">#和光市災害</span>' in page  # a real one
    drill_id = "wako-disaster-0099"
    world.detect(detection(world, drill_id, type_="disaster", target="和光市防災訓練", minutes=-2, drill=True,
                           summary="【訓練】#和光市防災訓練 に被害の投稿", metrics={"posts": 30, "authors": 10}))
    page = await (await http.get("/")).text()
    # a real disaster and a drill at once: the drill is named beside its tag, the banner is not a drill's
    assert '<span class="drill" hidden>訓練</span> <span class="tags">#和光市災害、#和光市防災訓練（訓練）</span>' in page
    world.command(DISASTER, "wako", "disaster_mode_off", {"name": "tanaka", "role": "owner"}, 1)
    for path in ("/", "/disaster"):
        page = await (await http.get(path)).text()
        assert '<span class="drill">訓練</span> <span class="tags">#和光市防災訓練（訓練）</span>' in page, path
    page = await (await http.get("/disaster")).text()
    assert '<h2>#和光市防災訓練 <span class="drill">訓練</span>' in page
    english = await (await http.get("/disaster?lang=en")).text()
    assert '<span class="drill">Drill</span> <span class="tags">#和光市防災訓練（Drill）</span>' in english


async def test_a_デマ_is_shown_by_its_claim_not_its_internal_id(client_for: Client) -> None:
    http = await client_for("sato")
    now = await (await http.get("/")).text()
    assert "「市内全域で断水」" in now and ">claim-water<" not in now
    page = await (await http.get(f"/incidents/{MISINFORMATION}")).text()
    assert '<span class="target">「市内全域で断水」</span>' in page and "claim-water</span>" not in page
    rows = orjson.loads(await (await http.get("/api/incidents")).text())
    [row] = [r for r in (rows["incidents"] if isinstance(rows, dict) else rows) if r["incident_id"] == MISINFORMATION]
    assert row["target"] == "「市内全域で断水」"  # what the live page draws


def test_every_action_that_asks_first_says_what_it_will_do_in_both_languages() -> None:
    from dashboards.i18n import TEXT
    from dashboards.incident_page import CONFIRM

    for action in CONFIRM:
        for lang in ("ja", "en"):
            said = TEXT[lang].get(f"confirm.{action}", "")
            assert len(said) > 30, (action, lang)  # a sentence, not 解決?
    assert TEXT["ja"]["confirm.resolve"].endswith("よろしいですか？")


async def test_drafts_are_numbered_and_the_replaced_or_sent_back_ones_are_folded_away(
        client_for: Client, world: World) -> None:
    """Two drafts both said 版 1, and one set aside stayed on the page as if current (issue 17, item 9)."""
    sato = {"kind": "person", "name": "sato", "role": "operator", "display_name": "佐藤 一郎"}
    tanaka = {"kind": "person", "name": "tanaka", "role": "owner", "display_name": "田中 花子"}
    second = {"ja": "動画について改めてお詫びし、経緯をご説明します。", "en": "We apologise again and explain."}
    world.command(FLAME, "wako", "draft", sato, -3, kind="statement", texts=second)
    http = await client_for("tanaka")
    page = await (await http.get(f"/incidents/{FLAME}")).text()
    newest, older = page.index("第2案 · 版 1"), page.index("第1案 · 版 1")
    assert newest < older  # the newest first, in sight
    assert re.search(r'<details class="old-draft"><summary>以前の文案 第1案（新しい文案に置き換え）</summary>', page)
    assert '<details class="old-draft"><summary>以前の文案 第2案' not in page
    draft = world.states[FLAME].drafts[1]
    world.command(FLAME, "wako", "reject", tanaka, -2, draft_id=draft.draft_id, reason="経緯の説明が不足")
    page = await (await http.get(f"/incidents/{FLAME}")).text()
    assert '<summary>以前の文案 第2案（差し戻し）</summary>' in page
    english = await (await http.get(f"/incidents/{FLAME}?lang=en")).text()
    assert "Draft 2 · Revision 1" in english and "Earlier draft 1 (replaced by a newer draft)" in english


async def test_evidence_pages_newest_first_and_every_post_can_be_reached(client_for: Client, world: World) -> None:
    """The oldest 20 and ほか30件 with no way to the rest (issue 17, item 7)."""
    ids = [f"x:many{i:02d}" for i in range(50)]
    world.detect(detection(world, "wako-flame-0050", type_="flame", target="wako_city_official", minutes=-1,
                           opened=-50, evidence=ids, summary="批判 50 件", metrics={"critical": 50, "total": 50}))
    for i, post_id in enumerate(ids):
        world.post(post_id, -50 + i, f"critic{i:02d}", f"批判の投稿 {i:02d}")
    http = await client_for("sato")
    first = await (await http.get("/incidents/wako-flame-0050")).text()
    shown = re.findall(r"批判の投稿 (\d\d)", first)
    assert shown == [f"{i:02d}" for i in range(49, 29, -1)]  # the newest 20, newest first
    assert "新しい順に 1–20 件目（全 50 件）" in first and 'href="?evidence=1#evidence"' in first
    assert 'rel="prev"' not in first  # no newer page
    last = await (await http.get("/incidents/wako-flame-0050?evidence=2")).text()
    assert re.findall(r"批判の投稿 (\d\d)", last) == [f"{i:02d}" for i in range(9, -1, -1)]
    assert "新しい順に 41–50 件目（全 50 件）" in last and 'href="?evidence=1#evidence"' in last
    assert 'rel="next"' not in last  # no older page
    odd = await (await http.get("/incidents/wako-flame-0050?evidence=-3")).text()
    assert "新しい順に 1–20 件目（全 50 件）" in odd  # anything but a page number: the first page


# --- Incident --------------------------------------------------------------------------

async def test_the_incident_page_shows_timeline_evidence_charts_and_the_draft_with_its_checks(
        client_for: Client) -> None:
    page = await (await (await client_for("tanaka")).get(f"/incidents/{FLAME}")).text()
    timeline = page[page.index('id="timeline"'):]
    for words in ("佐藤 一郎（運用担当者）", "受付", "文案の作成", "文案作成中 → 承認待ち", "検知", "返信保留"):
        assert words in timeline, words
    assert page.count('<li class="post">') == 9  # the evidence posts the incident points at
    assert "critic0" in page and "この動画は不謹慎では？" in page
    assert page.count('<svg class="chart line"') == 2  # volume and negativity
    assert "説明・お詫び" in page and "承認待ち" in page and "問題は見つかりませんでした" in page
    assert "起案: 佐藤 一郎" in page


async def test_a_post_text_with_a_script_tag_is_shown_as_text(client_for: Client, world: World) -> None:
    tanaka = await client_for("tanaka")
    world.command(FLAME, "wako", "draft", {"name": "sato", "role": "operator"}, 1, kind="statement",
                  texts={"ja": f"お知らせ {SCRIPT}"})
    page = await (await tanaka.get(f"/incidents/{FLAME}")).text()
    assert page.count("&lt;script&gt;window.pwned=1&lt;/script&gt;") >= 2  # the evidence post and the draft
    assert "<script>window" not in page
    assert page.count("<script") == 1  # only the static board.js


async def test_each_role_is_offered_only_what_it_may_do_now(client_for: Client) -> None:
    def actions(page: str) -> set[str]:
        return set(re.findall(r'name="action" value="([^"]+)"', page))

    sato = await (await (await client_for("sato")).get(f"/incidents/{FLAME}")).text()
    tanaka = await (await (await client_for("tanaka")).get(f"/incidents/{FLAME}")).text()
    admin = await (await (await client_for("yamamoto")).get(f"/incidents/{FLAME}")).text()
    assert actions(sato) == {"draft", "escalate", "resolve", "mark_false_positive", "edit_draft"}
    assert actions(tanaka) == {"draft", "escalate", "resolve", "mark_false_positive", "approve", "reject", "edit_draft"}
    assert actions(admin) == {"draft", "escalate", "mark_false_positive", "approve", "reject", "edit_draft"}
    imp = await (await (await client_for("sato")).get(f"/incidents/{IMPERSONATION}")).text()
    assert {"acknowledge", "verify", "mark_false_positive"} <= actions(imp)
    misinfo = await (await (await client_for("sato")).get(f"/incidents/{MISINFORMATION}")).text()
    assert 'name="kind"' in misinfo and '<option value="correction">' in misinfo


async def test_the_drafter_is_told_someone_else_must_approve(client_for: Client, world: World, store) -> None:
    store.add("sato", role="owner", municipality="wako", password="sakura-2025-board", display_name="佐藤 一郎")
    page = await (await (await client_for("sato")).get(f"/incidents/{FLAME}")).text()
    assert "ご自身が起案した文案は承認できません" in page
    assert 'value="approve"' not in page


async def test_an_unknown_incident_is_not_found(client_for: Client) -> None:
    response = await (await client_for("sato")).get("/incidents/nope")
    assert response.status == 404 and "この事案は見つかりません" in await response.text()


# --- Outbound ----------------------------------------------------------------------------

async def test_outbound_lists_drafts_awaiting_approval_held_accounts_and_recent_posts(client_for: Client) -> None:
    page = await (await (await client_for("tanaka")).get("/outbound")).text()
    drafts = page[page.index("承認待ちの文案"):page.index("返信保留中のアカウント")]
    assert f'href="/incidents/{FLAME}"' in drafts and "佐藤 一郎" in drafts and "動画の表現について" in drafts
    holds = page[page.index("返信保留中のアカウント"):page.index("開庁時間待ちの投稿")]
    assert "@wako_city_official" in holds and "炎上対応中のため、返信を保留します。" in holds
    posted = page[page.index("最近の投稿"):]
    assert f'href="/incidents/{OLD_FLAME}"' in posted and "田中 花子" in posted
    assert "投稿処理中" in posted  # the responder has not said yet where it went


async def test_a_dry_run_post_says_未投稿_and_names_its_account(client_for: Client, world: World) -> None:
    from responders.posts import DryRunChannel
    from responders.responder import Channels, Responder

    from .world import PROFILES

    responder = Responder(Channels(dry_run_posts=DryRunChannel), profiles=PROFILES, board_url="http://board")
    await world.carry_out(OLD_FLAME, "post_statement", responder)
    page = await (await (await client_for("tanaka")).get("/outbound")).text()
    posted = page[page.index("最近の投稿"):]
    assert "投稿先・結果" in posted
    assert '<span class="delivery dry-run">X @wako_city_official · 未投稿（ドライラン）</span>' in posted
    assert "投稿済み" not in posted and "投稿処理中" not in posted
    english = await (await (await client_for("tanaka")).get("/outbound?lang=en")).text()
    assert "X @wako_city_official · not posted (dry run)" in english


async def test_a_drills_post_is_marked_訓練_on_outbound(client_for: Client, world: World) -> None:
    from .world import STATEMENT, business_morning_before

    drill_id, sato, tanaka = "wako-flame-0777", {"name": "sato", "role": "operator"}, {"name": "tanaka", "role": "owner"}
    b = (business_morning_before(world.start) - world.start) / 60 + 60
    world.detect(detection(world, drill_id, type_="flame", target=OFFICIAL, minutes=b, severity="medium",
                           summary="訓練の炎上", metrics={"critical": 6, "total": 20}, drill=True))
    world.command(drill_id, "wako", "acknowledge", sato, b + 1)
    world.command(drill_id, "wako", "draft", sato, b + 2, kind="statement", texts=dict(STATEMENT))
    world.command(drill_id, "wako", "approve", tanaka, b + 3, draft_id=f"{drill_id}:draft:1",
                  draft_hash=world.states[drill_id].drafts[0].hash)
    page = await (await (await client_for("tanaka")).get("/outbound")).text()
    row = next(r for r in page[page.index("最近の投稿"):].split("<tr>") if drill_id in r)
    assert '<span class="drill">訓練</span>' in row


async def test_an_approved_post_outside_business_hours_is_listed_as_queued(client_for: Client,
                                                                           world: World) -> None:
    from .world import business_morning_before

    friday_night = business_morning_before(world.start) + 12 * 3600  # 22:00, after closing
    world.command(FLAME, "wako", "approve", {"name": "tanaka", "role": "owner"},
                  (friday_night - world.start) / 60, draft_id=f"{FLAME}:draft:1",
                  draft_hash=world.states[FLAME].drafts[0].hash)
    assert world.feed.latest[FLAME].state == "queued"
    page = await (await (await client_for("tanaka")).get("/outbound")).text()
    queued = page[page.index("開庁時間待ちの投稿"):page.index("最近の投稿")]
    assert f'href="/incidents/{FLAME}"' in queued and "08:30" in queued


# --- Disaster mode -----------------------------------------------------------------------

async def test_the_disaster_page_shows_volumes_and_the_rescue_queue(client_for: Client) -> None:
    page = await (await (await client_for("sato")).get("/disaster")).text()
    assert "ハッシュタグの投稿数" in page and "#和光市災害" in page and ">130<" in page
    assert "新倉3丁目" in page and "白子川沿い" in page and "取り残し" in page and "閉じ込め" in page
    assert "大雨警報（埼玉県南部）" in page
    assert page.count('value="rescue_handled"') == 2


async def test_marking_a_rescue_handled_sends_a_command_and_returns_to_the_queue(client_for: Client,
                                                                                 world: World) -> None:
    sato = await client_for("sato")
    response = await sato.post(f"/incidents/{DISASTER}/actions", allow_redirects=False, data={
        "csrf": await page_csrf(sato, "/disaster"), "action": "rescue_handled", "request_id": "x:r1",
        "back": "disaster"})
    assert response.status == 303 and response.headers["Location"].startswith("/disaster?sent=")
    [(key, value)] = world.feed.sent
    command = orjson.loads(value)
    assert key == DISASTER and command["action"] == "rescue_handled"
    assert command["payload"] == {"request_id": "x:r1", "note": ""}
    # What the board shows once the playbook records it (see the report: rescue_handled).
    from vocabulary.records import TimelineEntry

    world.feed.push_entry(TimelineEntry(
        entry_id=f"{DISASTER}:99:rescue_handled", incident_id=DISASTER, municipality="wako", at=world.at(1),
        actor={"kind": "person", **command["actor"]}, action="rescue_handled",
        detail={"request_id": "x:r1", "command_id": command["command_id"]}))
    page = await (await sato.get(response.headers["Location"])).text()
    assert "対応済み（佐藤 一郎）" in page and page.count('value="rescue_handled"') == 1
    assert "「対応済みにする」を記録しました" in page


async def test_a_viewer_sees_the_rescue_queue_without_the_buttons(client_for: Client) -> None:
    page = await (await (await client_for("viewer")).get("/disaster")).text()
    assert "新倉3丁目" in page and 'value="rescue_handled"' not in page


# --- On call -----------------------------------------------------------------------------

async def test_the_on_call_page_shows_the_roster_and_who_is_reached_now(client_for: Client) -> None:
    page = await (await (await client_for("sato")).get("/oncall")).text()
    for words in ("当番表", "和光市", "いま通知が届く人", "当番 鈴木", "広報課長 田中", "広報部長 山本", "情報政策課",
                  "slack:koho-oncall", "22時〜7時", "ボードのみ"):
        assert words in page, words
    duty = page[page.index("いま通知が届く人"):page.index("当番（レベル1）")]
    assert "当番 鈴木" in duty  # no quiet hours: reached at any time
    assert "朝霞市" not in page  # another municipality's roster


async def test_an_admin_of_every_municipality_sees_every_roster(client_for: Client) -> None:
    page = await (await (await client_for("yamamoto")).get("/oncall")).text()
    assert "和光市" in page and "朝霞市" in page and "秘書広報課長" in page


# --- Report ------------------------------------------------------------------------------

async def test_the_report_names_months_in_the_page_language_and_offers_two_years(client_for: Client) -> None:
    tanaka = await client_for("tanaka")
    page = await (await tanaka.get("/report?month=2025-01&lang=en")).text()
    assert '<span class="month">January 2025</span>' in page
    options = re.findall(r'<option value="(\d{4}-\d{2})"', page)
    assert len(options) >= 24 and options == sorted(options, reverse=True) and "2025-01" in options
    assert "← December 2024" in page and "February 2025 →" in page


async def test_the_report_gives_the_months_figures_by_type(client_for: Client, world: World) -> None:
    month = month_of(world.start)
    page = await (await (await client_for("tanaka")).get(f"/report?month={month}")).text()
    year, mon = month.split("-")
    assert f"月次報告 <span class=\"month\">{int(year)}年{int(mon)}月</span>" in page
    # The month is chosen from a list in Japanese, not a browser month input in the browser's locale.
    assert f'<option value="{month}" selected>{int(year)}年{int(mon)}月</option>' in page
    assert 'type="month"' not in page
    assert "1週間以上続いた炎上" in page and "目標 0件" in page
    assert "平均対応時間（検知から最初の発信まで）" in page
    table = page[page.index('<table class="report">'):]
    flame_row = re.search(r"<tr><td[^>]*>炎上</td>(.*?)</tr>", table).group(1)
    incidents, false_positives, still_open = re.findall(r">([^<]*)</td>", flame_row)[:3]
    old_here = month_of(world.feed.state.summaries[OLD_FLAME].opened_ts) == month
    assert (incidents, false_positives, still_open) == ("2" if old_here else "1", "0", "1")
    assert page.count('<svg class="chart bars"') == 3
    assert f'href="/report/timeline.csv?month={month}"' in page


async def test_a_months_drills_have_a_section_of_their_own_apart_from_the_figures(client_for: Client,
                                                                                 world: World) -> None:
    """The demo's month holds drills alone: the figures stay at 0 (drills are left out) and the
    drills' own section shows what the report measures."""
    sato, drill_id = {"name": "sato", "role": "operator"}, "wako-flame-0888"
    month = "2026-01"
    start = datetime(2026, 1, 14, 10, 0, tzinfo=JST).timestamp()
    minutes = (start - world.start) / 60
    world.detect(detection(world, drill_id, type_="flame", target=OFFICIAL, minutes=minutes, severity="medium",
                           summary="訓練の炎上", metrics={"critical": 6, "total": 20}, drill=True))
    world.command(drill_id, "wako", "acknowledge", sato, minutes + 4)
    world.command(drill_id, "wako", "resolve", sato, minutes + 30)
    page = await (await (await client_for("tanaka")).get(f"/report?month={month}")).text()
    figures = page[:page.index('<section class="drills">')]
    assert '<span class="label">事案</span><span class="value">0</span>' in figures
    drills = page[page.index('<section class="drills">'):]
    assert "訓練の記録" in drills and "この月に実際の事案はありません" in drills and "この月の訓練 1 件" in drills
    row = re.search(r"<tr><td[^>]*>炎上</td>(.*?)</tr>", drills).group(1)
    assert re.findall(r">([^<]*)</td>", row)[:4] == ["1", "0", "0", "4分"]
    english = await (await (await client_for("tanaka")).get(f"/report?month={month}&lang=en")).text()
    assert "<h2>Drills" in english
    ordinary = await (await (await client_for("tanaka")).get("/report?month=2025-01")).text()
    assert '<section class="drills">' not in ordinary


async def test_the_timeline_exports_as_csv_for_the_own_municipality_only(client_for: Client,
                                                                         world: World) -> None:
    month = month_of(world.start)
    response = await (await client_for("sato")).get(f"/report/timeline.csv?month={month}")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    body = (await response.read()).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows and {r["municipality"] for r in rows} == {"wako"}
    assert ASAKA_FLAME not in body
    ack = next(r for r in rows if r["incident_id"] == FLAME and r["action"] == "acknowledged")
    assert (ack["actor_kind"], ack["actor_name"], ack["actor_display_name"], ack["actor_role"]) == (
        "person", "sato", "佐藤 一郎", "operator")
    assert orjson.loads(ack["detail"])["level"] == 1


async def test_the_csv_lists_each_entry_once_in_order_of_time_across_incidents(client_for: Client,
                                                                               world: World) -> None:
    from dashboards.state import parse_time

    listed = list(world.feed.state.all_entries())

    async def as_the_topic_holds_them():  # at-least-once: out of order across partitions, and a copy
        for entry in [*reversed(listed), listed[0]]:
            yield entry

    world.feed.timeline_records = as_the_topic_holds_them  # type: ignore[method-assign]
    month = month_of(world.start)
    body = (await (await (await client_for("sato")).get(f"/report/timeline.csv?month={month}")).read()).decode()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    expected = [e for e in listed if e.municipality == "wako" and month_of(parse_time(e.at)) == month]
    assert len(rows) == len(expected) > 10  # each once
    times = [parse_time(r["at"]) for r in rows]
    assert times == sorted(times)
    assert len({r["incident_id"] for r in rows}) >= 3  # one order across incidents


async def test_a_csv_cell_that_looks_like_a_formula_is_defused(client_for: Client, world: World) -> None:
    world.command(FLAME, "wako", "draft", {"name": "sato", "role": "operator"}, 1, kind="statement",
                  texts={"ja": "お知らせ"})
    from vocabulary.records import TimelineEntry

    world.feed.push_entry(TimelineEntry(entry_id="evil", incident_id=FLAME, municipality="wako", at=world.at(1),
                                        actor={"kind": "person", "name": "=HYPERLINK(\"x\")"}, action="x"))
    body = (await (await (await client_for("sato")).get(f"/report/timeline.csv?month={month_of(world.start)}")).read()).decode()
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


async def test_pre_post_check_results_are_shown_and_warnings_can_be_confirmed(client_for: Client,
                                                                              world: World) -> None:
    sato = {"name": "sato", "role": "operator"}
    world.command(FLAME, "wako", "draft", sato, 1, kind="statement", texts={"ja": "詳細は https://example.com/x をご覧ください"})
    world.command(FLAME, "wako", "draft", sato, 2, kind="statement", texts={"ja": "連絡先 090-1234-5678"})
    page = await (await (await client_for("tanaka")).get(f"/incidents/{FLAME}")).text()
    assert "警告の確認待ち" in page and "投稿不可" in page
    assert 'class="finding finding-warn"' in page and 'class="finding finding-block"' in page
    assert 'name="code" value="untrusted_link"' in page  # confirm the warning, on the record
    assert 'name="code" value="personal_phone"' not in page  # a block cannot be confirmed away
    override = re.search(r'<form[^>]*>(?:(?!</form>).)*value="override_warning".*?</form>', page, re.S).group(0)
    assert 'name="draft_id" value="wako-flame-0001:draft:2"' in override


async def test_a_flame_up_that_came_back_after_it_was_resolved_links_both_incidents(client_for: Client,
                                                                                   world: World) -> None:
    # The resolved flame-up of the last business morning flares up again: the playbook opens a new
    # incident for the comeback (it is not reopened behind staff's back) and both pages link each other.
    comeback = Detection(incident_id=OLD_FLAME, municipality="wako", type="flame", target=OFFICIAL,
                         change="updated", opened_at=world.at(-60), at=world.at(-2), severity="medium",
                         evidence_ids=["x:again1"], summary="再燃（第2波）", seq=5,
                         metrics={"resurgence": True, "wave": 2, "critical": 9, "total": 20})
    decision = world.detect(comeback)
    (opened,) = decision.detections
    world.detect(opened)
    new_id = opened.incident_id
    assert new_id != OLD_FLAME
    http = await client_for("sato")
    old_page = await (await http.get(f"/incidents/{OLD_FLAME}")).text()
    assert "次の事案（解決後の再燃）" in old_page and f'<a href="/incidents/{new_id}">' in old_page
    assert "解決後の再燃（新しい事案へ）" in old_page and ">resurgence_after_end<" not in old_page
    new_page = await (await http.get(f"/incidents/{new_id}")).text()
    assert "前の事案（解決後に再燃）" in new_page and f'<a href="/incidents/{OLD_FLAME}">' in new_page
    english = await (await http.get(f"/incidents/{new_id}?lang=en")).text()
    assert "Earlier incident" in english


async def test_posts_given_their_arrival_time_are_said_on_the_incident_page(client_for: Client,
                                                                           world: World) -> None:
    # Evidence stamped far ahead (Japan time written with a Z) was counted at its arrival: the page says so.
    restamped = {"x:f1": {"ts_original": "2026-12-07T23:10:00Z", "reason": "ahead_of_arrival"}}
    world.detect(detection(world, FLAME, type_="flame", target=OFFICIAL, minutes=-1, seq=6, opened=-30,
                           evidence=["x:f0", "x:f1"], summary="批判が続いています",
                           metrics={"critical": 42, "total": 60, "authors": 21, "restamped": restamped}))
    http = await client_for("sato")
    page = await (await http.get(f"/incidents/{FLAME}")).text()
    assert "時刻を直した投稿" in page and "1件（投稿元の時刻 2026-12-07T23:10:00Z が受信より先" in page
    english = await (await http.get(f"/incidents/{FLAME}?lang=en")).text()
    assert "Posts given another time" in english


def awaiting_cells(page: str) -> dict[str, str]:
    """Each Now row's 対応待ち cell, as text."""
    cells = {}
    for incident_id, cell in re.findall(r'<tr data-id="([^"]+)".*?<td data-label="[^"]+" class="awaiting">(.*?)</td>',
                                        page, re.S):
        cells[incident_id] = re.sub(r"<[^>]+>", " ", cell).strip()
    return cells


async def test_awaiting_names_the_role_and_the_people_on_call_for_the_step_now(client_for: Client) -> None:
    cells = awaiting_cells(await (await (await client_for("sato")).get("/")).text())
    print(cells)
    assert cells[FLAME].startswith("承認") and "所属長：広報課長 田中" in cells[FLAME]  # approval: the owner
    assert "運用担当者：" in cells[MISINFORMATION] and "当番 鈴木" in cells[MISINFORMATION]  # drafting: the 当番
    english = awaiting_cells(await (await (await client_for("sato")).get("/?lang=en")).text())
    assert "Account owner: 広報課長 田中" in english[FLAME]
