"""The built-in drill (訓練) scenario that `noroshi run --demo` plays.

It writes contract events for the demo municipality over one scenario hour:
everyday chatter, an official post that draws a flame-up, a fake account
posing as the city, a rumour spreading, and a disaster hashtag surge. Times
start at `start` (POSIX seconds), so a drill can be played at any moment.

`on_the_wall_clock` squeezes that hour so it plays in minutes on the real clock: each event is
stamped at the moment it is sent. A drill then has one clock, the one people live by: its
detections, the playbook's deadlines (受付期限 30 minutes from now, not from an hour ahead), the
responders' entries and the operators' actions all read the same time, in order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import orjson

from vocabulary.contract import Profile, parse_ts
from vocabulary.records import iso

CHATTER = (
    "{name}の図書館、週末も開いてて助かる", "{name}の市民まつり楽しみ", "{name}の公園で紅葉がきれい",
    "{name}役所の窓口、今日は空いてた", "{name}のコミュニティバスの時刻表どこで見られる？",
)
CRITICISM = (
    "この動画は不適切では？", "誰が承認したんですか", "税金の無駄遣いです", "時代錯誤な内容にがっかり",
    "削除と説明を求めます", "市の姿勢を疑います", "謝罪しろ", "差別的な表現だと思います",
    "本当にひどい動画", "ありえない。撤回してください",
)
RUMOUR = (
    "【拡散希望】{name}の浄水場で事故があって水道水が飲めないらしい",
    "{name}の水道水、飲まない方がいいって聞いた", "{name}の水道が汚染されてるって本当？",
)
DISASTER = ("停電してます", "道路が冠水しています", "川の水位が上がってる", "揺れが大きかった")


def drill_scenario(profile: Profile, start: float, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    official = profile.accounts[0]
    name = profile.name
    tag = profile.disaster_hashtags[0] if profile.disaster_hashtags else f"{name}災害"
    events: list[dict[str, Any]] = []

    def mention(at: float, handle: str, text: str, **extra: Any) -> None:
        n = len(events) + 1
        events.append({
            "kind": "mention", "id": f"{official.platform}:drill{n:05d}", "platform": official.platform,
            "ts": iso(start + at),
            "author": {"id": f"{official.platform}:u:{handle}", "handle": handle, "name": handle,
                       "followers": rng.randint(20, 3000)},
            "text": text, "reply_to": None, "quote_of": None, "repost_of": None, "lang": "ja",
            "drill": True, **extra,
        })

    def account(at: float, type_: str, acct: dict[str, Any], **extra: Any) -> None:
        n = len(events) + 1
        events.append({"kind": "account", "id": f"{official.platform}:drill{n:05d}:acct",
                       "platform": official.platform, "ts": iso(start + at), "type": type_,
                       "account": acct, "drill": True, **extra})

    for minute in range(0, 60, 3):
        mention(minute * 60 + rng.randint(0, 120), f"resident{minute}", rng.choice(CHATTER).format(name=name))

    post_id = f"{official.platform}:drillpost1"
    account(120, "official_post", {"id": f"{official.platform}:official", "handle": official.handle,
                                   "name": official.name},
            post={"id": post_id, "text": f"【{name}】PR動画を公開しました", "url": official.url})
    at = 180.0
    for i in range(60):
        at += rng.uniform(8, 30)
        mention(at, f"critic{i}", rng.choice(CRITICISM),
                reply_to={"post_id": post_id, "account": official.handle})

    fake = official.handle.replace("i", "l", 1) if "i" in official.handle else official.handle + "_jp"
    account(900, "seen", {"id": f"{official.platform}:u:{fake}", "handle": fake, "name": f"{official.name}【公式】",
                          "bio": f"{name}の公式アカウントです", "url": f"https://x.com/{fake}",
                          "avatar_phash": official.avatar_phash, "followers": 3, "verified": False})
    mention(960, fake, f"【{name}公式】フォロー＆リポストで商品券が当たる！ DMでご連絡ください")

    at = 1500.0
    for i in range(30):
        at += rng.uniform(20, 60)
        mention(at, f"sharer{i}", rng.choice(RUMOUR).format(name=name))

    at = 2700.0
    for i in range(50):
        at += rng.uniform(5, 20)
        mention(at, f"local{i}", f"{rng.choice(DISASTER)} #{tag}", hashtags=[tag])
    mention(at - 200, "help_me", f"助けてください、{name}本町2丁目で家に閉じ込められています #{tag} #救助",
            hashtags=[tag, "救助"])

    events.sort(key=lambda e: e["ts"])
    return events


def on_the_wall_clock(events: list[dict[str, Any]], start: float, speed: float) -> list[dict[str, Any]]:
    """`events` re-timed to run `speed`× faster from `start` on the real clock (the gaps between
    them divided by `speed`): played at 1×, each arrives at its own `ts`."""
    if speed <= 0:
        raise ValueError(f"speed: {speed!r} must be above 0 / 速度は 0 より大きくしてください")
    if not events:
        return []
    first = min(parse_ts(e["ts"]) for e in events)
    return [{**e, "ts": iso(start + (parse_ts(e["ts"]) - first) / speed)} for e in events]


def lines_on_the_wall_clock(lines: Iterable[bytes], start: float, speed: float) -> list[bytes]:
    """A scenario file's lines re-timed by `on_the_wall_clock` (`noroshi produce --now`, for a
    training on its own scenario). A line without a readable `ts` is passed on unchanged, so the
    producer refuses it as it would have (to the dead letters, with its line number)."""
    lines = list(lines)
    readable: dict[int, dict[str, Any]] = {}
    for n, line in enumerate(lines):
        try:
            event = orjson.loads(line)
            parse_ts(event["ts"])
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            continue
        readable[n] = event
    retimed = dict(zip(readable, on_the_wall_clock(list(readable.values()), start, speed)))
    return [orjson.dumps(retimed[n]) if n in retimed else line for n, line in enumerate(lines)]
