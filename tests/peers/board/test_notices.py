"""The workers' notices on the board (issue 12, finding 2): a detector state cut down to fit in
one message is shown, Japanese first, to the people of its municipality only (an admin sees all),
through the same notice mechanism as "the broker lost its data"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import streams.stage
from dashboards.feed import KafkaFeed
from dashboards.state import ALL, Notice, parse_notice
from vocabulary.profile_files import load_profile
from streams.lineage import Applied, loss_letter
from vocabulary.records import DeadLetter
from streams.stage import STATE_TOO_LARGE, DetectionStage
from vocabulary.topics import TopicNames
from tests.unit.builders import SAMPLE_PROFILE
from tests.unit.test_limits import batch, flame_reply

from .conftest import Client
from .world import FLAME, World

NAMES = TopicNames("noroshi")
CUT_AT = "2026-12-07T06:10:00.000+00:00"  # 15:10:00 in Japan
LOST_AT = "2026-12-07T06:00:05.000+00:00"
CUT_JA = "検知器の状態が上限を超えたため、古い記録を削減しました"
RESET_JA = "検知器の状態が上限を超えたため、検知器の記録をすべて消去しました"


def cut_letter(monkeypatch: pytest.MonkeyPatch, limit: int, muni: str = "wako",
               failed_at: str = CUT_AT) -> DeadLetter:
    """The dead letter the worker's real stage sends when a state outgrows `limit` bytes."""
    monkeypatch.setattr(streams.stage, "STATE_MAX_BYTES", limit)
    stage = DetectionStage({muni: load_profile(SAMPLE_PROFILE)})
    messages = [m.__class__(m.topic, m.partition, m.offset, muni.encode(), m.value)
                for m in batch([flame_reply(n) for n in range(20)], 40)]
    out = stage.process(muni, None, messages, failed_at)
    (letter,) = [d for d in out.dead_letters if d.reason.startswith(STATE_TOO_LARGE)]
    return letter


def record(offset: int, letter: DeadLetter) -> SimpleNamespace:
    return SimpleNamespace(topic=NAMES.deadletters, partition=0, offset=offset, value=letter.to_json())


def test_a_state_cut_is_a_notice_for_its_municipality_and_other_dead_letters_are_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    feed.handle(record(0, DeadLetter.of(reason="contract: no author", topic=NAMES.mentions, partition=0, offset=3,
                                        key=b"wako", raw=b"{}", failed_at=CUT_AT)))
    feed.handle(record(1, DeadLetter.of(reason="not_a_notice: state_too_large: x", topic=NAMES.mentions,
                                        partition=0, offset=4, key=b"wako", raw=b"{}", failed_at=CUT_AT)))
    assert feed.state.notices_for(ALL) == []

    feed.handle(record(2, cut_letter(monkeypatch, 10_000)))
    cut = Notice(kind="state_too_large", at=CUT_AT, municipality="wako", topic=NAMES.mentions, partition=0,
                 offset=59, reset=False)  # the message processed when the state was cut
    assert feed.state.notices_for("wako") == [cut] and feed.state.notices_for(ALL) == [cut]
    assert feed.state.notices_for("asaka") == [], "another municipality's state is not theirs to see"

    # Nothing left to forget: the notice says every detector's history was dropped.
    later = "2026-12-07T06:20:00.000+00:00"
    feed.handle(record(3, cut_letter(monkeypatch, 100, failed_at=later)))
    (reset,) = feed.state.notices_for("wako")
    assert reset.reset and reset.at == later, "the latest cut of a municipality is shown"
    feed.handle(record(4, cut_letter(monkeypatch, 10_000)))
    assert feed.state.notices_for("wako") == [reset], "an older cut (re-read) does not replace a newer one"

    feed.handle(record(5, cut_letter(monkeypatch, 10_000, muni="asaka")))
    feed.handle(record(6, loss_letter(Applied(NAMES.mentions, 1, 102), "ends at 56", LOST_AT)))
    assert [(n.kind, n.municipality) for n in feed.state.notices_for("asaka")] == [
        ("broker_log_lost", ALL), ("state_too_large", "asaka")]
    assert [(n.kind, n.municipality) for n in feed.state.notices_for(ALL)] == [
        ("broker_log_lost", ALL), ("state_too_large", "asaka"), ("state_too_large", "wako")], "by time"


def test_a_state_cut_keyed_for_everyone_or_with_wrong_fields_is_refused_not_shown_to_all() -> None:
    letter = DeadLetter.of(reason=f"{STATE_TOO_LARGE}: x", topic=NAMES.mentions, partition=0, offset=1,
                           key=b"*", raw=b"", failed_at=CUT_AT)
    with pytest.raises(ValueError):
        parse_notice(letter.to_json())
    with pytest.raises(ValueError):
        parse_notice(DeadLetter.of(reason=f"{STATE_TOO_LARGE}: x", topic=NAMES.mentions, partition=0, offset=1,
                                   key=None, raw=b"", failed_at=CUT_AT).to_json())
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    feed.handle(record(0, letter))  # logged and skipped, like any bad record
    assert feed.state.notices_for("asaka") == []


async def test_every_page_of_the_municipality_shows_its_state_cut_in_the_users_language(
        client_for: Client, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sato = await client_for("sato")
    assert "notice-state_too_large" not in await (await sato.get("/")).text()

    notice = parse_notice(cut_letter(monkeypatch, 10_000).to_json())
    assert notice is not None and world.feed.state.add_notice(notice)
    for path in ("/", f"/incidents/{FLAME}", "/outbound", "/disaster", "/oncall", "/report"):
        page = await (await sato.get(path)).text()
        assert 'id="notice-state_too_large-wako"' in page, path
        assert f"<strong>{CUT_JA}</strong>" in page and "（wako、12/07 15:10:00）。" in page, path  # Japan time
        assert "検知の精度に影響する可能性があります。" in page, path
    english = await (await sato.get("/?lang=en")).text()
    assert "A detector state outgrew its limit, so its oldest entries were cut" in english
    assert "(wako, 12/07 15:10:00)." in english and "Detection may be less accurate" in english
    assert f"<strong>{CUT_JA}</strong>" not in english

    other = await (await (await client_for("asaka-op")).get("/")).text()
    # (The words are in every page's labels for the live script: look for the banner itself.)
    assert 'data-notice="state_too_large"' not in other and "（wako、" not in other, "wako's notice shown to asaka"
    admin = await (await (await client_for("yamamoto")).get("/")).text()
    assert 'id="notice-state_too_large-wako"' in admin and "（wako、12/07 15:10:00）。" in admin


async def test_a_state_dropped_whole_says_so(client_for: Client, world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    notice = parse_notice(cut_letter(monkeypatch, 100).to_json())
    assert notice is not None and notice.reset
    world.feed.state.add_notice(notice)
    page = await (await (await client_for("viewer")).get("/")).text()
    assert f"<strong>{RESET_JA}</strong>" in page and f"<strong>{CUT_JA}</strong>" not in page
