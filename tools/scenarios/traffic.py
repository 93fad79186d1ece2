"""One municipality's simulated world (`Sim`): its people, the ordinary traffic of each hour
(replies to the city, chatter naming it), the event queue, and episodes run in their hour.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vocabulary.terms import JST
from tools.scenarios.common import (
    DAY,
    HOUR,
    TRAILER,
    b32,
    digest,
    expand,
    full_width,
    hashtags_in,
    iso,
    poisson,
    typo,
    urls_in,
)
from tools.scenarios.episodes import run_episode
from tools.scenarios.people import (
    GIVEN_J,
    GIVEN_R,
    NICK_J,
    ROLE_J,
    SURNAME_J,
    SURNAME_R,
    WORDS_R,
    X_MAX,
    Ids,
    Person,
    akey,
    post_url,
    ref,
)
from tools.scenarios.phrases import BANKS
from tools.scenarios.towns import ACCOUNT_WEIGHT, PLATFORM_WEIGHT, SIZES, TIMINGS, Official, Town


class Sim:
    """One municipality's simulated world: its people, posts and the event queue."""

    def __init__(self, town: Town, bank: str, seed_key: str, t0: int) -> None:
        if bank not in BANKS:
            raise ValueError(f"bank must be one of {', '.join(BANKS)}, got {bank!r}")
        self.town, self.bank_name, self.seed_key = town, bank, seed_key
        self.bank, self.timing, self.rates = BANKS[bank], TIMINGS[bank], SIZES[town.size]
        self.rng = random.Random(seed_key)
        self.ids = Ids()
        self.seq = 0
        self.heap: list[tuple[int, int, dict[str, Any]]] = []
        self.slots = town.slots()
        self.taken = {a.handle.lower() for a in town.accounts}
        self.track: list[dict[str, Any]] | None = None
        self.officials = {akey(a): self._official_person(a) for a in town.accounts}
        self.posts: dict[str, deque[tuple[int, str]]] = {akey(a): deque(maxlen=6) for a in town.accounts}
        for a in town.accounts:
            for back in (30 * HOUR, 7 * HOUR):  # the city's posts from before the scenario
                self.posts[akey(a)].append((t0 - back, self.ids.post(a.platform, t0 - back, self.officials[akey(a)].did)))
        self.pools: dict[str, tuple[list[Person], list[float]]] = {}
        for platform, share in PLATFORM_WEIGHT.items():
            people = [self.person(platform) for _ in range(max(8, int(self.rates.pool * share)))]
            cum, total = [], 0.0
            for i in range(len(people)):
                total += 1.0 / (i + 1) ** 0.75
                cum.append(total)
            self.pools[platform] = (people, cum)
        # The regular complainer of each account: the everyday trickle of criticism.
        self.critics = {akey(a): self.pools[a.platform][0][self.rng.randrange(3)] for a in town.accounts}

    # -- people --

    def _official_person(self, acct: Official) -> Person:
        did = self._did(acct.platform, acct.handle)
        followers = int(self.rates.followers * ACCOUNT_WEIGHT[acct.platform])
        return Person(acct.platform, acct.handle, did, {
            "id": self._user_id(acct.platform, acct.handle, did), "handle": acct.handle, "name": acct.name,
            "followers": followers, "created_at": "2012-04-01T09:00:00+09:00"})

    @staticmethod
    def _did(platform: str, handle: str) -> str:
        if platform == "bluesky":
            return "did:plc:" + b32(int.from_bytes(digest("did|" + handle, 15), "big"), 24)
        return str(int.from_bytes(digest("uid|" + platform + handle, 8), "big") % 10**18)

    @staticmethod
    def _user_id(platform: str, handle: str, did: str) -> str:
        return f"bluesky:{did}" if platform == "bluesky" else f"{platform}:u:{did}"

    def _handle_base(self) -> str:
        rng = self.rng
        g, s, w = rng.choice(GIVEN_R), rng.choice(SURNAME_R), rng.choice(WORDS_R)
        pattern = rng.randrange(7)
        if pattern == 0:
            return f"{g}_{s}"
        if pattern == 1:
            return f"{g}{rng.randint(1, 9999)}"
        if pattern == 2:
            return f"{s}{g[0]}_{rng.randint(60, 99)}"
        if pattern == 3:
            return f"{w}_{g}"
        if pattern == 4:
            return f"{g}{w}{rng.randint(1, 99)}"
        if pattern == 5:
            return "".join(rng.choice("abcdefghijkmnprstuwxyz") for _ in range(rng.randint(3, 6))) + str(rng.randint(0, 999))
        return f"{s}.{g}" if rng.random() < .5 else f"{g}__{w}"

    def handle(self, platform: str, base: str | None = None) -> str:
        base = base or self._handle_base()
        for attempt in range(50):
            suffix = "" if attempt == 0 else str(self.rng.randint(1, 999))
            h = base + suffix
            if platform == "x":
                h = base.replace(".", "_")[:X_MAX - len(suffix)] + suffix
            elif platform == "bluesky":
                h = h.replace("_", "-").replace(".", "-").strip("-") + ".bsky.social"
            if h.lower() not in self.taken:
                self.taken.add(h.lower())
                return h
        raise RuntimeError("could not find a free handle")

    def display_name(self) -> str:
        rng, short = self.rng, self.town.short
        pattern = rng.randrange(9)
        if pattern == 0:
            return rng.choice(SURNAME_J)
        if pattern == 1:
            return rng.choice(GIVEN_J)
        if pattern == 2:
            return rng.choice(SURNAME_J) + " " + rng.choice(GIVEN_J)
        if pattern == 3:
            return rng.choice(GIVEN_J) + rng.choice(self.bank["emoji_happy"])
        if pattern == 4:
            return f"{short}の{rng.choice(ROLE_J)}"
        if pattern == 5:
            return rng.choice(NICK_J)
        if pattern == 6:
            return f"{rng.choice(GIVEN_J)}@{short}"
        if pattern == 7:
            return rng.choice(GIVEN_R).capitalize() + " " + rng.choice(SURNAME_R)[0].upper() + "."
        return rng.choice(NICK_J) + rng.choice(("🐾", "🍙", "☕", "🌱", ""))

    def person(self, platform: str, *, followers: int | None = None, created: float | None = None,
               handle: str | None = None, name: str | None = None, exact: bool = False) -> Person:
        """A new poster; `handle` is a base to make unique, or with `exact` the handle itself."""
        rng = self.rng
        if exact and handle:
            self.taken.add(handle.lower())
            h = handle
        else:
            h = self.handle(platform, handle)
        did = self._did(platform, h)
        if followers is None:
            followers = min(60000, int(rng.lognormvariate(4.3, 1.3)))
        if created is None:
            created = datetime(2009, 6, 1, tzinfo=JST).timestamp() + rng.randrange(16 * 365) * DAY
        author = {"id": self._user_id(platform, h, did), "handle": h, "name": name or self.display_name(),
                  "followers": followers, "created_at": iso(created)}
        return Person(platform, h, did, author)

    def resident(self, platform: str) -> Person:
        people, cum = self.pools[platform]
        return self.rng.choices(people, cum_weights=cum)[0]

    def stranger(self, platform: str, *, influencer: float = 0.0) -> Person:
        """Someone from outside the usual posters (a flame-up draws them from everywhere)."""
        if influencer and self.rng.random() < influencer:
            return self.person(platform, followers=self.rng.randint(20000, 650000))
        return self.person(platform)

    def local_or_stranger(self, platform: str, local: float = .5) -> Person:
        return self.resident(platform) if self.rng.random() < local else self.stranger(platform)

    def pick_platform(self) -> str:
        return self.rng.choices(tuple(PLATFORM_WEIGHT), tuple(PLATFORM_WEIGHT.values()))[0]

    def account(self, platform: str | None = None) -> Official:
        accts = self.town.accounts
        if platform:
            for a in accts:
                if a.platform == platform:
                    return a
        return self.rng.choices(accts, [ACCOUNT_WEIGHT[a.platform] for a in accts])[0]

    # -- text --

    def fill(self, template: str, **extra: Any) -> str:
        return expand(template, self.rng, {**self.slots, **extra} if extra else self.slots)

    def say(self, key: str, **extra: Any) -> str:
        return self.fill(self.rng.choice(self.bank[key]), **extra)

    def deco(self, text: str, mood: str = "happy", *, emoji: float = .2, fw: float = .04,
             slip: float = .04, mark: float = .15) -> str:
        """Natural variation: a slip of the thumb, full-width letters, a mark, emoji."""
        rng = self.rng
        m = TRAILER.search(text)
        body, tail = (text[:m.start()], text[m.start():]) if m else (text, "")
        if rng.random() < slip:
            body = typo(rng, body)
        if rng.random() < fw:
            body = full_width(body)
        if body and rng.random() < mark and body[-1] not in "！？!?。…":
            marks = ("！", "。", "…", "!!", "？！") if mood == "angry" else ("！", "!", "。", "…", "〜")
            body += rng.choice(marks)
        if rng.random() < emoji:
            body += rng.choice(self.bank["emoji_" + mood]) * rng.choice((1, 1, 1, 2, 3))
        return body + tail

    def criticism(self, topic: str, kinds: tuple[str, ...] = ("crit_core", "crit_question", "crit_sarcasm", "crit_head"),
                  weights: tuple[float, ...] = (7, 1.6, 1.3, 1.1)) -> str:
        rng = self.rng
        kind = rng.choices(kinds, weights[:len(kinds)])[0]
        core = self.say(kind, topic=topic)
        if kind == "crit_question":
            core += rng.choice(("？", "?", "？？", "…？", ""))
        text = ""
        if rng.random() < .3:
            opener = self.say("crit_open")
            if opener[-1] not in "、。？！":
                opener += rng.choice((" ", "、", "　", ""))
            text = opener
        text += core
        r = rng.random()
        ends = text[-1] in "？?！!…"
        if r < .25:
            text += rng.choice((" ", "\n") if ends else ("。", "、", " ", "\n")) + self.say("crit_core", topic=topic)
        elif r < .45:
            text += rng.choice((" ", "\n", "") if ends else ("。", " ", "\n", "…")) + self.say("crit_close")
        return self.deco(text, "angry", emoji=.25)

    # -- events --

    def emit(self, t: int, event: dict[str, Any]) -> dict[str, Any]:
        heapq.heappush(self.heap, (t, self.seq, event))
        self.seq += 1
        if self.track is not None:
            self.track.append(event)
        return event

    def post(self, t: int, who: Person, text: str, *, reply: dict | None = None, quote: dict | None = None,
             repost: dict | None = None, geo: dict | None = None, post_id: str | None = None) -> dict[str, Any]:
        event = {"kind": "mention", "id": post_id or self.ids.post(who.platform, t, who.did),
                 "platform": who.platform, "ts": iso(t), "author": who.author, "text": text,
                 "reply_to": reply, "quote_of": quote, "repost_of": repost,
                 "hashtags": hashtags_in(text), "urls": urls_in(text), "lang": "ja"}
        if geo:
            event["geo"] = geo
        return self.emit(t, event)

    def repost(self, t: int, who: Person, source: dict[str, Any]) -> dict[str, Any]:
        return self.post(t, who, "", repost=ref(source))

    def account_event(self, t: int, platform: str, type_: str, account: dict[str, Any], *,
                      note: str | None = None, post: dict | None = None) -> dict[str, Any]:
        event = {"kind": "account", "id": self.ids.account(platform), "platform": platform, "ts": iso(t),
                 "type": type_, "account": account, "note": note}
        if post is not None:
            event["post"] = post
        return self.emit(t, event)

    def official_account(self, acct: Official) -> dict[str, Any]:
        who = self.officials[akey(acct)]
        out = {"id": who.author["id"], "handle": acct.handle, "name": acct.name, "bio": acct.bio,
               "url": acct.url, "avatar_phash": acct.phash, "followers": who.followers,
               "created_at": who.author["created_at"], "verified": True}
        return out

    def official_post(self, t: int, acct: Official, text: str, *, register: bool = True,
                      as_mention: bool = False) -> dict[str, str]:
        """The city's own post (an `official_post` account event); with `as_mention` the
        hashtag search also sees it as a mention by the official account."""
        who = self.officials[akey(acct)]
        pid = self.ids.post(acct.platform, t, who.did)
        self.account_event(t, acct.platform, "official_post", self.official_account(acct),
                           post={"id": pid, "text": text, "url": post_url(acct, pid)})
        if as_mention:
            self.post(t, who, text, post_id=pid)
        if register:
            self.posts[akey(acct)].append((t, pid))
        return {"post_id": pid, "account": acct.handle}

    def recent_post(self, acct: Official, t: int) -> dict[str, str]:
        candidates = [p for p in self.posts[akey(acct)] if p[0] < t] or [self.posts[akey(acct)][0]]
        weights = [2.0 ** i for i in range(len(candidates))]
        _, pid = self.rng.choices(candidates, weights)[0]
        return {"post_id": pid, "account": acct.handle}

    def alert(self, t: int, title: str, code: str, text: str, *, severity: str = "warning",
              areas: tuple[str, ...] | None = None) -> dict[str, Any]:
        return self.emit(t, {"kind": "alert", "id": self.ids.alert(t, code), "platform": "web", "ts": iso(t),
                             "source": "jma", "title": title, "severity": severity,
                             "areas": list(areas if areas is not None else self.town.areas), "text": text})

    def geo(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < .5:
            lat, lon = self.town.latlon
            return {"lat": round(lat + rng.gauss(0, .012), 4), "lon": round(lon + rng.gauss(0, .012), 4)}
        return {"place": f"{self.town.pref}{self.town.name}{rng.choice(self.town.places)}"}

    # -- ordinary traffic --

    def background_hour(self, h: int, end: int) -> None:
        rng, tm, rates, town = self.rng, self.timing, self.rates, self.town
        local = datetime.fromtimestamp(h, JST)
        weekend = local.weekday() >= 5
        w = (tm.weekend if weekend else tm.weekday)[local.hour]
        span = end - h
        frac = span / HOUR
        office = tm.office[local.hour] / sum(tm.office) * (.2 if weekend else 1.0)
        for _ in range(poisson(rng, rates.official * office * frac)):
            self.official_post(h + rng.randrange(span), self.account(), self.say("official_routine"))
        for _ in range(poisson(rng, rates.replies / 24 * w * frac)):
            t = h + rng.randrange(span)
            acct = self.account()
            mild = rng.random() < .12
            text = self.deco(self.say("reply_mild" if mild else "reply_ordinary"), "sad" if mild else "happy")
            self.post(t, self.resident(acct.platform), text, reply=self.recent_post(acct, t))
        for _ in range(poisson(rng, rates.chatter / 24 * w * frac)):
            t = h + rng.randrange(span)
            platform = self.pick_platform()
            who = self.resident(platform)
            accts = [a for a in town.accounts if a.platform == platform]
            r = rng.random()
            if accts and r < .10:
                self.post(t, who, "", repost=self.recent_post(accts[0], t))
            elif accts and r < .16:
                self.post(t, who, self.deco(self.say("quote_official")), quote=self.recent_post(accts[0], t))
            elif accts and r < .21:
                self.post(t, who, self.deco(self.say("mention_official", official=accts[0].handle)))
            else:
                self.post(t, who, self.deco(self.say("chatter")), geo=self.geo() if rng.random() < .05 else None)
        for _ in range(poisson(rng, rates.trickle / 24 * w * frac)):
            t = h + rng.randrange(span)
            acct = self.account()
            text = self.say("complaint") if rng.random() < .7 else self.say("crit_core", topic="投稿")
            self.post(t, self.critics[akey(acct)], self.deco(text, "angry"), reply=self.recent_post(acct, t))

    # -- the stream --

    def stream(self, t0: int, t1: int, schedule: list[tuple[int, str, dict[str, Any]]],
               labels: list[dict[str, Any]], min_span: int = 0) -> Iterator[dict[str, Any]]:
        """Events in time order, one hour of background at a time; episodes start in their hour.

        Background runs until `t1`, and on until the events span `min_span` seconds."""
        pending = sorted(schedule, key=lambda s: s[0])
        i = 0
        h = t0
        first = last = None
        while h < t1 or (min_span and (first is None or last - first < min_span)):
            end = min(h + HOUR, t1) if h < t1 else h + HOUR
            self.background_hour(h, end)
            while i < len(pending) and pending[i][0] < end:
                t, kind, params = pending[i]
                i += 1
                labels.extend(run_episode(self, kind, max(t, h), params))
            while self.heap and self.heap[0][0] < end:
                t, _, event = heapq.heappop(self.heap)
                first = t if first is None else first
                last = t
                yield event
            h = end
        while self.heap:
            yield heapq.heappop(self.heap)[2]

