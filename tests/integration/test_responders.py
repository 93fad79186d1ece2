"""なりすまし end to end: detection, the playbook with approvals given as board commands, and the
responders: a takedown request prepared, a website notice written, a press release received
by a real SMTP server on loopback, and every step in the incident's timeline."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from vocabulary.records import BoardCommand, Deadline, Incident, TimelineEntry, iso

from tests.smtp import smtp_server

from .conftest import SAMPLE_PROFILE, produce, read_until, sample_lines, shifted_to_now

pytestmark = pytest.mark.integration

OPERATOR = {"kind": "person", "name": "当番 佐藤", "role": "operator"}
OWNER = {"kind": "person", "name": "広報課長 田中", "role": "owner"}
WARNING = {"ja": "和光市を名乗る偽アカウント @wako_clty_official にご注意ください。市の公式アカウントではありません。",
           "easy_ja": "わこうしの にせの アカウントに きを つけて ください。",
           "en": "Beware of @wako_clty_official: it is not an official account of Wako City."}
PRESS = {"ja": "和光市公式アカウントのなりすましについて\n"
               "本市の公式Xアカウントを装った偽アカウントが確認されました。プラットフォームに削除を依頼しています。"}


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


def timeline_of(records, incident_id: str) -> list[TimelineEntry]:
    entries = {}
    for r in records:
        if r.topic == "noroshi.timeline":
            entry = TimelineEntry.from_json(r.value)
            if entry.incident_id == incident_id:
                entries.setdefault(entry.entry_id, entry)
    return list(entries.values())


def latest(records, incident_id: str) -> Incident | None:
    found = [Incident.from_json(r.value) for r in records if r.topic == "noroshi.incidents"]
    found = [i for i in found if i.incident_id == incident_id]
    return max(found, key=lambda i: i.version) if found else None


def command(n: int, incident_id: str, action: str, actor: dict, **payload) -> tuple:
    cmd = BoardCommand(command_id=f"cmd-{n}", incident_id=incident_id, municipality="wako",
                       action=action, actor=actor, at=iso(time.time()), payload=payload)
    return ("noroshi.commands", incident_id.encode(), cmd.to_json())


async def test_an_impersonation_ends_with_a_notice_on_the_website_and_a_press_release_in_the_mail(
        broker, names, spawn, smtp, tmp_path: Path) -> None:
    inbox, port = smtp
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["press"] = {"contact": {"department": "秘書広報課", "person": "広報担当", "phone": "048-424-9091"},
                        "recipients": ["kisha-club@press.example.jp"]}
    profile_path = tmp_path / "wako.profile.json"
    profile_path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    notices = tmp_path / "site"
    spawn("worker", extra_env={
        "NOROSHI_PROFILES": str(profile_path),
        "NOROSHI_SMTP_URL": f"smtp+plain://127.0.0.1:{port}",
        "NOROSHI_MAIL_FROM": "和光市 狼煙 <noroshi@city.wako.example.jp>",
        "NOROSHI_NOTICE_DIR": str(notices),
        "NOROSHI_BOARD_URL": "https://board.wako.example.jp",
    })
    part = [line for line in sample_lines() if b"wako_clty_official" in line]
    shifted, _ = shifted_to_now(part)
    await produce(broker.servers, [(names.accounts if b'"account"' in line[:20] else names.mentions, b"wako", line)
                                   for line in shifted])
    topics = [names.incidents, names.timeline]
    records = await read_until(broker.servers, topics, lambda rs: any(
        i.type == "impersonation" for i in (Incident.from_json(r.value) for r in rs if r.topic == names.incidents)))
    iid = next(Incident.from_json(r.value).incident_id for r in records if r.topic == names.incidents
               and Incident.from_json(r.value).type == "impersonation")

    def reached(*states: str):
        return lambda rs: (i := latest(rs, iid)) is not None and i.state in states

    async def release_if_queued(states: tuple[str, ...], queued: str) -> None:
        """Out of office hours the notice waits for 8:30; stand in for the clock at that hour."""
        rs = await read_until(broker.servers, topics, reached(*states, queued))
        if latest(rs, iid).state == queued:
            (entry,) = [e for e in timeline_of(rs, iid) if e.action == "deadline_scheduled"
                        and e.detail["name"] == "business_open"][-1:]
            deadline = Deadline(deadline_id=entry.detail["deadline_id"], incident_id=iid, municipality="wako",
                                name="business_open", due_at=entry.detail["due_at"])
            await produce(broker.servers, [(names.deadlines, iid.encode(), deadline.to_json())])

    await produce(broker.servers, [command(1, iid, "verify", OPERATOR),
                                   command(2, iid, "draft", OPERATOR, kind="warning", texts=WARNING)])
    await read_until(broker.servers, topics, reached("notice_awaiting_approval"))
    await produce(broker.servers, [command(3, iid, "approve", OWNER, draft_id=f"{iid}:draft:1")])
    await release_if_queued(("notice_published",), "notice_queued")
    await read_until(broker.servers, topics, reached("notice_published"))
    await produce(broker.servers, [command(4, iid, "draft", OPERATOR, kind="press", texts=PRESS)])
    await read_until(broker.servers, topics, reached("press_awaiting_approval"))
    await produce(broker.servers, [command(5, iid, "approve", OWNER, draft_id=f"{iid}:draft:2")])
    await release_if_queued(("watching", "resolved"), "press_queued")
    records = await read_until(broker.servers, topics, lambda rs: sum(
        e.action == "effect_carried_out" and e.detail["kind"] == "notify_press" for e in timeline_of(rs, iid)) == 1)

    # The press release arrived once, in Japanese, with the template's sections.
    for _ in range(50):
        if inbox.messages:
            break
        await asyncio.sleep(0.1)
    (rcpt, mail), = inbox.messages
    assert rcpt == ["kisha-club@press.example.jp"]
    assert mail["Subject"] == "和光市公式アカウントのなりすましについて"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    for heading in ("概要", "経緯", "市民の皆様へのお願い", "問い合わせ先", "048-424-9091"):
        assert heading in text
    assert "偽アカウントが確認されました" in text

    # The website notice is a page of its own and is listed in the index.
    pages = [p for p in notices.glob("*.html") if p.name != "index.html"]
    assert len(pages) == 1
    page = pages[0].read_text(encoding="utf-8")
    assert "wako_clty_official" in page and "ご注意ください" in page
    assert pages[0].name in (notices / "index.html").read_text(encoding="utf-8")

    # The timeline tells the whole story, responders included.
    actions = [e.action for e in timeline_of(records, iid)]
    for expected in ("takedown_request_prepared", "notified_on_board", "delivered", "press_release_prepared",
                     "draft_approved"):
        assert expected in actions, f"{expected} missing from the timeline: {actions}"
    delivered = [e for e in timeline_of(records, iid) if e.action == "delivered"]
    assert {e.detail["kind"] for e in delivered} == {"publish_notice", "notify_press"}
    assert not [e for e in timeline_of(records, iid) if e.action == "effect_failed"]
