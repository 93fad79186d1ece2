"""A board's worth of incidents made by the real playbook engine: detections and
board commands go through `playbooks.engine.decide` with the municipality's real
rules, and what it publishes (incidents, timeline entries, effects) is fed to a
`MemoryFeed` exactly as the Kafka feed would. Used by the board's unit tests and
its screenshot tests, so both see the records the worker really writes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from argon2 import PasswordHasher

from dashboards.feed import MemoryFeed
from dashboards.state import parse_post
from dashboards.users import User, UserStore
from playbooks import policy
from playbooks.engine import Decision, PlaybookState, decide, default_rules
from vocabulary.records import JST, BoardCommand, Detection, Effect, iso

if TYPE_CHECKING:
    from responders.responder import Responder

#: Cheap argon2 for tests: the real parameters cost ~50 ms a hash.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "sakura-2025-board"
OFFICIAL = "wako_city_official"
SCRIPT = "<script>window.pwned=1</script>"

PROFILE: dict[str, Any] = {
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光"],
                     "website": "https://www.city.wako.lg.jp"},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所", "department": "広報課",
                  "owner": "広報課長"}],
    "watch_hashtags": ["和光市"], "disaster_hashtags": ["和光市災害"],
    "roster": {"contacts": [
        {"name": "当番 佐藤", "role": "operator", "channels": ["email:sato@city.wako.example"], "quiet_hours": [22, 7]},
        {"name": "当番 鈴木", "role": "operator", "channels": ["slack:koho-oncall"]},
        {"name": "広報課長 田中", "role": "owner", "channels": ["email:tanaka@city.wako.example"]},
        {"name": "広報部長 山本", "role": "pr_head"},
        {"name": "広報課", "role": "pr", "channels": ["email:koho@city.wako.example"]},
        {"name": "情報政策課", "role": "info_policy"},
    ]},
}
OTHER_PROFILE: dict[str, Any] = {
    "municipality": {"id": "asaka", "name": "朝霞市"},
    "accounts": [{"platform": "x", "handle": "asaka_city", "name": "朝霞市役所", "owner": "秘書広報課長"}],
}
PROFILES = {"wako": PROFILE, "asaka": OTHER_PROFILE}
STATEMENT = {"ja": "動画の表現について、ご不快な思いをおかけしました。確認のうえ改めてご説明します。",
             "easy_ja": "どうがの ことで いやな きもちに させて ごめんなさい。",
             "en": "We apologise for the video. We will explain once we have checked the facts."}

USERS = {  # name: (role, municipality, display name)
    "sato": ("operator", "wako", "佐藤 一郎"),
    "tanaka": ("owner", "wako", "田中 花子"),
    "yamamoto": ("admin", "*", "山本 広報課"),
    "viewer": ("viewer", "wako", "閲覧 太郎"),
    "asaka-op": ("operator", "asaka", "朝霞 当番"),
}


def make_users(path: Any) -> UserStore:
    store = UserStore(path, hasher=FAST_HASHER)
    for name, (role, muni, display) in USERS.items():
        store.add(name, role=role, municipality=muni, password=PASSWORD, display_name=display)
    return store


def person(user: User) -> dict[str, str]:
    return user.actor()


@dataclass
class World:
    """Incidents walked through their playbooks; `start` is the first detection's time."""

    start: float
    feed: MemoryFeed = field(default_factory=MemoryFeed)
    states: dict[str, PlaybookState | None] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    effects: list[Effect] = field(default_factory=list)  # every effect the playbooks asked for

    def at(self, minutes: float) -> str:
        return iso(self.start + minutes * 60)

    def publish(self, decision: Decision) -> Decision:
        for effect in decision.effects:
            self.effects.append(effect)
            self.feed.push_effect(effect)
        for entry in decision.timeline:
            self.feed.push_entry(entry)
        if decision.incident is not None:
            self.feed.push(decision.incident)
        return decision

    def detect(self, d: Detection) -> Decision:
        decision = decide(self.states.get(d.incident_id), d, profile_raw=PROFILES[d.municipality],
                          rules=default_rules())
        self.states[d.incident_id] = decision.state
        return self.publish(decision)

    def command(self, incident_id: str, municipality: str, action: str, actor: dict[str, str],
                minutes: float, **payload: Any) -> Decision:
        cmd = BoardCommand(command_id=f"w{next(self.ids)}", incident_id=incident_id, municipality=municipality,
                           action=action, actor=actor, at=self.at(minutes), payload=payload)
        decision = decide(self.states.get(incident_id), cmd, profile_raw=PROFILES[municipality],
                          rules=default_rules())
        self.states[incident_id] = decision.state
        return self.publish(decision)

    async def carry_out(self, incident_id: str, kind: str, responder: Responder) -> None:
        """Have a real responder carry out `incident_id`'s effects of `kind`; the board reads its timeline."""
        for effect in [e for e in self.effects if e.incident_id == incident_id and e.kind == kind]:
            for entry in (await responder.carry_out(effect)).timeline:
                self.feed.push_entry(entry)

    def post(self, post_id: str, minutes: float, author: str, text: str) -> None:
        raw = orjson.dumps({"kind": "mention", "id": post_id, "platform": "x", "ts": self.at(minutes),
                            "author": {"id": f"x:u:{author}", "handle": author, "name": author},
                            "text": text})
        post = parse_post(raw)
        assert post is not None
        self.feed.push_post(post)


def detection(world: World, incident_id: str, *, type_: str, target: str, minutes: float, seq: int = 0,
              severity: str = "high", municipality: str = "wako", evidence: list[str] | None = None,
              summary: str = "", metrics: dict[str, Any] | None = None, opened: float | None = None,
              drill: bool = False) -> Detection:
    return Detection(incident_id=incident_id, municipality=municipality, type=type_, target=target,
                     change="opened" if seq == 0 else "updated",
                     opened_at=world.at(minutes if opened is None else opened), at=world.at(minutes),
                     severity=severity, evidence_ids=evidence or [], summary=summary,
                     metrics=metrics or {}, drill=drill, seq=seq)


FLAME = "wako-flame-0001"
IMPERSONATION = "wako-impersonation-0002"
MISINFORMATION = "wako-misinformation-0003"
DISASTER = "wako-disaster-0004"
OLD_FLAME = "wako-flame-0000"
ASAKA_FLAME = "asaka-flame-0005"

CRITICISM = ["この動画は不謹慎では？", "税金の無駄。謝罪しろ", "誰が承認したんですか", "時代錯誤で失望しました",
             "削除と説明を求めます", f"説明して {SCRIPT}", "市長は責任を取るべき", "ひどい動画", "二度と見たくない"]


def build(start: float, users: dict[str, User]) -> World:
    """The world the screenshots show: a flame-up waiting for approval, an impersonation
    to verify, a rumour being checked, a disaster with rescue requests, an earlier flame-up
    that was answered and resolved, and a flame-up in another municipality."""
    w = World(start=start)
    sato, tanaka = person(users["sato"]), person(users["tanaka"])

    # An earlier flame-up, on the last business morning: acknowledged, statement approved
    # and posted at once (offices open), resolved in the afternoon.
    b = (business_morning_before(start) - start) / 60
    w.detect(detection(w, OLD_FLAME, type_="flame", target=OFFICIAL, minutes=b, severity="medium",
                       summary="イベント告知の誤記に批判", evidence=["x:old1"],
                       metrics={"critical": 6, "total": 20}))
    w.command(OLD_FLAME, "wako", "acknowledge", sato, b + 14)
    w.command(OLD_FLAME, "wako", "draft", sato, b + 40, kind="statement", texts=dict(STATEMENT))
    w.command(OLD_FLAME, "wako", "approve", tanaka, b + 55,
              draft_id=f"{OLD_FLAME}:draft:1", draft_hash=w.states[OLD_FLAME].drafts[0].hash)
    w.command(OLD_FLAME, "wako", "resolve", sato, b + 300)

    # The flame-up now: criticism growing over half an hour, acknowledged, a statement awaits approval.
    posts = [f"x:f{i}" for i in range(len(CRITICISM))]
    for i, (post_id, text) in enumerate(zip(posts, CRITICISM)):
        w.post(post_id, -30 + i * 3, f"critic{i}", f"@{OFFICIAL} {text}")
    totals = [(6, 14), (11, 22), (17, 30), (26, 41), (34, 50), (41, 58)]
    for seq, (critical, total) in enumerate(totals):
        w.detect(detection(w, FLAME, type_="flame", target=OFFICIAL, minutes=-30 + seq * 5, seq=seq,
                           opened=-30, severity="high" if seq >= 2 else "medium", evidence=posts[: 4 + seq],
                           summary=f"@{OFFICIAL} への批判的な返信・引用が {critical} 件（{critical // 2} 人）。",
                           metrics={"critical": critical, "total": total, "authors": critical // 2}))
    w.command(FLAME, "wako", "acknowledge", sato, -12)
    w.command(FLAME, "wako", "draft", sato, -6, kind="statement", texts=dict(STATEMENT))

    # An impersonation waiting for someone to verify it.
    w.detect(detection(w, IMPERSONATION, type_="impersonation", target="wako_clty_official", minutes=-8,
                       summary="@wako_clty_official が公式アカウント @wako_city_official になりすましている疑い",
                       metrics={"platform": "x", "resembles": OFFICIAL, "score": 9}))

    # A rumour: fact-checked, the correction still to be written.
    w.detect(detection(w, MISINFORMATION, type_="misinformation", target="claim-water", minutes=-20,
                       severity="medium", summary="「市内全域で断水」という誤った投稿が拡散",
                       metrics={"claim": "市内全域で断水", "posts": 12}))
    w.command(MISINFORMATION, "wako", "fact_check", sato, -15,
              source_url="https://www.city.wako.lg.jp/news/water.html")

    # A disaster: disaster mode on, rescue requests queued.
    rescues = [{"id": "x:r1", "at": w.at(-18), "place": "新倉3丁目", "text": "新倉3丁目で高齢の母と取り残されています #和光市災害",
                "kind": "stranded", "copies": 2},
               {"id": "x:r2", "at": w.at(-10), "place": "白子川沿い", "text": "白子川沿いの家で閉じ込められています",
                "kind": "trapped", "copies": 0}]
    for seq, posts_count in enumerate((40, 85, 130)):
        w.detect(detection(w, DISASTER, type_="disaster", target="和光市災害", minutes=-25 + seq * 8, seq=seq,
                           opened=-25, summary="#和光市災害 に被害の投稿が急増。救助要請 2 件（新倉3丁目、白子川沿い など）。",
                           metrics={"posts": posts_count, "authors": posts_count // 3, "rescue_requests": rescues[: seq + 1],
                                    "baseline_per_window": 1.5, "alerts": ["大雨警報（埼玉県南部）"]}))

    # Another municipality's flame-up: nobody in wako may see it.
    w.detect(detection(w, ASAKA_FLAME, type_="flame", target="asaka_city", minutes=-5, municipality="asaka",
                       summary="朝霞市の投稿に批判", metrics={"critical": 5, "total": 9}))
    return w


def business_morning_before(ts: float) -> float:
    """10:00 JST on the last business day before the day of `ts`."""
    day = datetime.fromtimestamp(ts, JST).date() - timedelta(days=1)
    while not policy.is_business_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(10, 0), JST).timestamp()


def month_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, JST).strftime("%Y-%m")
