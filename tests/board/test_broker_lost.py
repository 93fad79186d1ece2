"""The board's banner when a worker found the broker lost its data (issue 12, finding 3)."""

from __future__ import annotations

from types import SimpleNamespace

from dashboards.feed import KafkaFeed
from dashboards.state import BrokerLoss
from streams.lineage import Applied, loss_letter
from streams.records import DeadLetter
from streams.topics import TopicNames

from .conftest import Client
from .world import World

NAMES = TopicNames("noroshi")
FOUND_AT = "2026-12-07T06:00:05.000+00:00"


def letter_record(offset: int, letter: DeadLetter) -> SimpleNamespace:
    return SimpleNamespace(topic=NAMES.deadletters, partition=0, offset=offset, value=letter.to_json())


def test_the_feed_keeps_the_workers_notice_and_passes_over_other_dead_letters() -> None:
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    assert NAMES.deadletters in feed._kinds
    other = DeadLetter.of(reason="contract: no author", topic=NAMES.mentions, partition=1, offset=7,
                          key=b"wako", raw=b"{}" * 1000, failed_at=FOUND_AT)
    feed.handle(letter_record(0, other))
    assert feed.state.broker_lost is None

    lost = loss_letter(Applied(NAMES.mentions, 1, 102), "the partition now ends at offset 56", FOUND_AT)
    feed.handle(letter_record(1, lost))
    assert feed.state.broker_lost == BrokerLoss(at=FOUND_AT, topic=NAMES.mentions, partition=1, offset=102)
    older = loss_letter(Applied(NAMES.accounts, 0, 3), "x", "2026-12-07T05:00:00.000+00:00")
    feed.handle(letter_record(2, older))
    assert feed.state.broker_lost.topic == NAMES.mentions, "the latest notice is kept"


async def test_every_page_says_the_broker_lost_its_data_in_the_users_language(client_for: Client,
                                                                               world: World) -> None:
    http = await client_for("sato")
    assert "broker-lost-banner" not in await (await http.get("/")).text()

    world.feed.state.add_broker_loss(BrokerLoss(at=FOUND_AT, topic=NAMES.mentions, partition=1, offset=102))
    for path in ("/", "/disaster", "/outbound"):
        page = await (await http.get(path)).text()
        assert 'id="broker-lost-banner"' in page and "ブローカーのデータが失われました" in page, path
        assert "12/07 15:00:05" in page and "noroshi.mentions:1" in page  # found at, in Japan time
    english = await (await http.get("/?lang=en")).text()
    assert "The broker lost its data" in english and "found 12/07 15:00:05" in english
