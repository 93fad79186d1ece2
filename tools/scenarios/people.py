"""Who posts in a scenario: residents and strangers with plausible handles and names, the
ids each platform gives posts and accounts, and links to the city's own posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vocabulary.terms import JST
from tools.scenarios.common import b32
from tools.scenarios.towns import Official

GIVEN_R = ("taro", "hana", "yuki", "ken", "sakura", "mika", "sho", "aya", "riku", "mai", "hiro", "kana", "yuta",
           "nao", "saki", "kou", "rin", "daichi", "emi", "jun", "tomo", "kei", "miho", "ryo", "asuka", "sota",
           "yui", "haru", "nana", "taku", "chika", "masa", "yoshi", "kumi", "tetsu", "nori", "akira", "megu")
SURNAME_R = ("sato", "suzuki", "tanaka", "ito", "watanabe", "yamamoto", "nakamura", "kobayashi", "kato", "yoshida",
             "yamada", "sasaki", "matsumoto", "inoue", "kimura", "hayashi", "shimizu", "mori", "abe", "ikeda",
             "ogawa", "okada", "fujita", "goto")
WORDS_R = ("cafe", "papa", "mama", "neko", "inu", "run", "camera", "gohan", "tabi", "bike", "fish", "garden",
           "life", "days", "diary", "log", "note", "works", "bass", "ramen", "snow", "sky", "moon", "star")
GIVEN_J = ("太郎", "花子", "ゆき", "けんた", "さくら", "美香", "翔", "あや", "陸", "まい", "ひろし", "かな", "悠太",
           "なお", "咲", "こう", "りん", "大地", "えみ", "じゅん", "智子", "恵", "りょう", "明日香", "颯太", "結衣")
SURNAME_J = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
             "佐々木", "松本", "井上", "木村", "林", "清水", "森", "阿部")
NICK_J = ("ねこまる", "もちこ", "たぬき", "ぽん太", "ななし", "通りすがり", "名無しさん", "みー", "くま", "はむすけ",
          "とーふ", "おもち", "ぴよ", "こむぎ", "しろくま", "あんず", "ゆるり", "だいふく")
ROLE_J = ("パパ", "ママ", "主婦", "会社員", "学生", "ランナー", "おじさん", "写真好き", "在住", "民")
INSTANCES = ("mstdn.jp", "fedibird.com", "pawoo.net", "mastodon-japan.net", "mstdn.social")
X_EPOCH_MS = 1288834974657


@dataclass(slots=True)
class Person:
    platform: str
    handle: str
    did: str  # the key inside post ids (bluesky DID; a number elsewhere)
    author: dict[str, Any]

    @property
    def followers(self) -> int:
        return int(self.author["followers"])


class Ids:
    """Platform-shaped, time-ordered, unique post ids (x/mastodon snowflakes, bluesky TIDs)."""

    def __init__(self) -> None:
        self.n = 0

    def post(self, platform: str, t: float, did: str) -> str:
        self.n += 1
        n = self.n
        ms = int(t) * 1000 + (n * 7919) % 1000
        if platform == "x":
            return f"x:{((ms - X_EPOCH_MS) << 22) | (n & 0x3FFFFF)}"
        if platform == "mastodon":
            return f"mastodon:{(ms << 16) | (n & 0xFFFF)}"
        tid = b32((((ms * 1000) + n % 1000) << 10) | ((n // 1000) & 1023), 13)
        return f"{platform}:at://{did}/app.bsky.feed.post/{tid}"

    def account(self, platform: str) -> str:
        self.n += 1
        return f"{platform}:acct:{self.n}"

    def alert(self, t: float, code: str) -> str:
        self.n += 1
        stamp = datetime.fromtimestamp(int(t), JST).strftime("%Y%m%d%H%M%S")
        return f"jma:{stamp}_0_{code}_{self.n:06d}"


def post_url(acct: Official, post_id: str) -> str:
    tail = post_id.rsplit("/", 1)[-1].split(":")[-1]
    if acct.platform == "x":
        return f"https://x.com/{acct.handle}/status/{tail}"
    if acct.platform == "bluesky":
        return f"https://bsky.app/profile/{acct.handle}/post/{tail}"
    return f"https://{acct.instance}/@{acct.handle}/{tail}"
X_MAX = 15

def akey(acct: Official) -> str:
    """An official account's key: the same handle may exist on two platforms."""
    return f"{acct.platform}:{acct.handle}"


def ref(event: dict[str, Any]) -> dict[str, str]:
    return {"post_id": event["id"], "account": event["author"]["handle"]}

