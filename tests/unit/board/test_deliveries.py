"""発信: where a published draft went, read from the responder's own timeline entries."""

from __future__ import annotations

from typing import Any

from dashboards.views import Delivery, deliveries
from vocabulary.records import TimelineEntry


def entry(action: str, channel: str, n: int, **detail: Any) -> TimelineEntry:
    return TimelineEntry(entry_id=f"e:respond:{n}", incident_id="wako-flame-1", municipality="wako",
                         at=f"2026-11-20T10:0{n}:00+09:00", actor={"kind": "responder", "name": channel},
                         action=action, detail={"effect_id": "e", "kind": "post_statement", **detail})


def test_a_real_post_links_to_where_people_see_it_and_a_dry_run_says_so() -> None:
    entries = [
        entry("delivered", "x", 1, account="x:wako_city_official", draft_id="d1", ref="https://x.com/wako/status/9",
              receipt={"account": "wako_city_official", "urls": ["https://x.com/wako/status/9"]}),
        entry("delivered", "bluesky:dry-run", 2, account="bluesky:wako.example.jp", draft_id="d1",
              receipt={"dry_run": True, "parts": ["…"]}),
        entry("delivered", "x", 3, account="x:wako_city_official", draft_id="d0", receipt={"urls": ["https://x.com/0"]}),
        entry("acknowledged", "board", 4, account="x:wako_city_official", draft_id="d1"),
    ]
    assert deliveries(entries, "d1") == (
        Delivery("x:wako_city_official", "posted", "https://x.com/wako/status/9"),
        Delivery("bluesky:wako.example.jp", "dry_run"),
    )


def test_the_latest_word_per_account_wins_and_only_https_links_are_kept() -> None:
    entries = [
        entry("delivery_failed", "mastodon", 1, account="mastodon:city", draft_id="d1", error="timeout"),
        entry("delivered", "mastodon", 2, account="mastodon:city", draft_id="d1", receipt={"urls": ["javascript:alert(1)"]}),
        entry("delivery_possibly_sent", "x", 3, account="x:city", draft_id="d1"),
    ]
    assert deliveries(entries, "d1") == (Delivery("mastodon:city", "posted", None), Delivery("x:city", "possibly_sent"))
    assert Delivery("mastodon:city", "posted").platform == "mastodon"
