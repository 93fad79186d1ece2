"""The board's banner when a worker found the broker lost its data (issue 12, finding 3)."""

from __future__ import annotations

from types import SimpleNamespace

from dashboards.feed import KafkaFeed
from dashboards.state import ALL, Notice
from streams.lineage import Applied, loss_letter
from vocabulary.records import DeadLetter
from vocabulary.topics import TopicNames

from .conftest import Client
from .world import World

NAMES = TopicNames("noroshi")
FOUND_AT = "2026-12-07T06:00:05.000+00:00"
LOST = Notice(kind="broker_log_lost", at=FOUND_AT, municipality=ALL, topic=NAMES.mentions, partition=1, offset=102)


def letter_record(offset: int, letter: DeadLetter) -> SimpleNamespace:
    return SimpleNamespace(topic=NAMES.deadletters, partition=0, offset=offset, value=letter.to_json())


def test_the_feed_keeps_the_workers_notice_and_passes_over_other_dead_letters() -> None:
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    assert NAMES.deadletters in feed._kinds
    other = DeadLetter.of(reason="contract: no author", topic=NAMES.mentions, partition=1, offset=7,
                          key=b"wako", raw=b"{}" * 1000, failed_at=FOUND_AT)
    feed.handle(letter_record(0, other))
    assert feed.state.notices_for(ALL) == []

    lost = loss_letter(Applied(NAMES.mentions, 1, 102), "the partition now ends at offset 56", FOUND_AT)
    feed.handle(letter_record(1, lost))
    assert feed.state.notices_for(ALL) == [LOST]
    older = loss_letter(Applied(NAMES.accounts, 0, 3), "x", "2026-12-07T05:00:00.000+00:00")
    feed.handle(letter_record(2, older))
    assert feed.state.notices_for(ALL) == [LOST], "the latest notice is kept"
    assert feed.state.notices_for("wako") == feed.state.notices_for("asaka") == [LOST], "everyone's notice"


async def test_every_page_says_the_broker_lost_its_data_in_the_users_language(client_for: Client,
                                                                               world: World) -> None:
    http = await client_for("sato")
    assert "broker-lost-banner" not in await (await http.get("/")).text()

    world.feed.state.add_notice(LOST)
    for path in ("/", "/disaster", "/outbound"):
        page = await (await http.get(path)).text()
        assert 'id="broker-lost-banner"' in page and "ブローカーのデータが失われました" in page, path
        assert "12/07 15:00:05" in page and "noroshi.mentions:1" in page  # found at, in Japan time
    english = await (await http.get("/?lang=en")).text()
    assert "The broker lost its data" in english and "found 12/07 15:00:05" in english
    other = await (await (await client_for("asaka-op")).get("/")).text()
    assert 'id="broker-lost-banner"' in other, "the broker is everyone's: every municipality sees it"
