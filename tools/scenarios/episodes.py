"""The labelled episodes: 炎上 flame-ups, なりすまし impersonation, デマ rumours and 災害
disasters, each writing its events into the `Sim` and returning its labels; and the
table of every episode kind, hard negatives included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tools.scenarios.common import DAY, HOUR, MINUTE, TRAILER, arrivals, digest, flip_bits, iso, onset
from tools.scenarios.lookalikes import confusable, disguise_text, disguised_handle, far_phash, lookalike_name
from tools.scenarios.negatives import (
    neg_angry,
    neg_announce,
    neg_drill,
    neg_elsewhere,
    neg_festival,
    neg_lookalikes,
    neg_minor_quake,
    neg_news,
    neg_praise,
)
from tools.scenarios.outages import ep_outage
from tools.scenarios.people import INSTANCES, Person, ref
from tools.scenarios.towns import Official

if TYPE_CHECKING:  # only for annotations: the Sim runs the episodes
    from tools.scenarios.traffic import Sim


def label(type_: str, target: str, start: float, end: float, note: str,
          event_ids: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "target": target, "start": iso(start), "end": iso(end)}
    if event_ids is not None:
        out["event_ids"] = event_ids
    out["note"] = note
    return out


def _span_end(times: list[int], start: int, minimum: int, tail: int, share: float = .95) -> int:
    """A sensible end of an episode: when it has died down (`share` of it seen), or `minimum` after start."""
    if not times:
        return start + minimum
    ordered = sorted(times)
    return max(start + minimum, ordered[min(len(ordered) - 1, int(len(ordered) * share))] + tail)


def ep_flame(sim: Sim, t: int, size: str = "medium", platform: str = "x", trigger: int | None = None,
             disaster_trigger: bool = False, apology: bool | None = None,
             disguise: float = 0.0) -> list[dict[str, Any]]:
    """A flame-up; `disguise` is the share of its criticism written apart, stretched or in
    mixed widths (謝 罪しろ, ありえな〜い, ﾌｻﾞ ｹﾙﾅ)."""
    rng, tm, bank = sim.rng, sim.timing, sim.bank
    acct = sim.account(platform)
    triggers = bank["flame_triggers_disaster" if disaster_trigger else "flame_triggers"]
    topic, template = triggers[trigger % len(triggers)] if trigger is not None else rng.choice(triggers)
    target = sim.official_post(t, acct, sim.fill(template), register=False)
    first = t + MINUTE * rng.randint(*tm.flame_lead)
    critical: list[int] = []

    def criticise(when: int, who: Person, mode: str) -> dict[str, Any]:
        text = sim.criticism(topic)
        if disguise and rng.random() < disguise:
            text = disguise_text(text, rng)
        critical.append(when)
        if mode == "reply":
            return sim.post(when, who, text, reply=target)
        if mode == "quote":
            return sim.post(when, who, text, quote=target)
        return sim.post(when, who, f"@{acct.handle} {text}")

    if size == "slow":
        people = [sim.local_or_stranger(acct.platform, .6) for _ in range(7)]
        times = sorted([first] + [first + rng.randint(2 * MINUTE, 30 * MINUTE) for _ in range(7)])
        authors = people + [rng.choice(people[1:4])]
        authors = [authors[0]] + rng.sample(authors[1:], 7)
        for when, who in zip(times, authors):
            criticise(when, who, "reply")
        note = "slow flame-up: 8 critical replies from 7 people over about 30 minutes"
        for _ in range(2):
            when = rng.randint(first, times[-1] + 20 * MINUTE)
            sim.post(when, sim.resident(acct.platform), sim.deco(sim.say("flame_support")), reply=target)
        end = _span_end(critical, first, 3 * HOUR, HOUR, 1.0)
        return [label("flame", acct.handle, first, end, note)]

    n = rng.randint(70, 140) if size == "medium" else rng.randint(1000, 1250)
    peak = MINUTE * rng.randint(*tm.flame_peak[size])
    early = onset(rng, first, *tm.flame_onset)
    times = sorted([first] + early + arrivals(rng, first + 30, n - 1 - len(early), peak, tm.flame_shape))
    critics: list[Person] = []
    loud: list[dict[str, Any]] = []
    for when in times:
        if critics and rng.random() < .12:
            who = rng.choice(critics)
        else:
            who = sim.stranger(acct.platform, influencer=.035) if rng.random() < .8 else sim.resident(acct.platform)
            critics.append(who)
        mode = rng.choices(("reply", "quote", "mention"), (.65, .2, .15))[0]
        if who.followers >= 20000 and rng.random() < .7:
            mode = "quote"
        ev = criticise(when, who, mode)
        if mode == "quote" and who.followers >= 20000:
            loud.append(ev)
    for ev in loud:  # followers-heavy critics get reposted
        base = int(datetime.fromisoformat(ev["ts"]).timestamp())
        for _ in range(rng.randint(5, 25)):
            sim.repost(base + rng.randint(30, 90 * MINUTE), sim.stranger(acct.platform), ev)
    for _ in range(n // 12):  # defenders answer the criticism, so they follow it
        when = rng.choice(times[: int(len(times) * .9) + 1]) + rng.randint(MINUTE, 20 * MINUTE)
        sim.post(when, sim.local_or_stranger(acct.platform), sim.deco(sim.say("flame_support")), reply=target)
    if apology if apology is not None else rng.random() < .7:
        t_ap = first + int(peak * rng.uniform(1.6, 2.6))
        ap = sim.official_post(t_ap, acct, sim.say("apology_post", topic=topic), register=False)
        for when in arrivals(rng, t_ap + 60, max(6, n // 8), 20 * MINUTE, 1.5):
            if rng.random() < .4:
                criticise(when, sim.stranger(acct.platform), "reply")
            else:
                sim.post(when, sim.local_or_stranger(acct.platform), sim.deco(sim.say("apology_reply")), reply=ap)
    what = "big fast flame-up" if size == "big" else "medium flame-up"
    note = f"{what}: {len(critical)} critical replies/quotes/mentions from {len(critics)} people, peak after {peak // 60} min"
    return [label("flame", acct.handle, first, _span_end(critical, first, 3 * HOUR, 30 * MINUTE), note)]


def ep_flame_days(sim: Sim, t: int, days: int = 4, platform: str = "x", trigger: int | None = None,
                  first_wave: tuple[int, int] = (90, 130), decay: tuple[float, float] = (.45, .6)
                  ) -> list[dict[str, Any]]:
    """A 炎上 that comes back in waves over `days`: each evening a wave of criticism of the same
    post (and of the city's apology), smaller each day, a little at lunch, quiet nights. One
    episode, one label: a second incident for it is a duplicate."""
    rng, tm, bank = sim.rng, sim.timing, sim.bank
    acct = sim.account(platform)
    topic, template = (bank["flame_triggers"][trigger % len(bank["flame_triggers"])] if trigger is not None
                       else rng.choice(bank["flame_triggers"]))
    target = sim.official_post(t, acct, sim.fill(template), register=False)
    first = t + MINUTE * rng.randint(*tm.flame_lead)
    critical: list[int] = []
    critics: list[Person] = []
    posts = [target]

    def criticise(when: int) -> None:
        if len(critics) >= 6 and rng.random() < .25:  # the same people come back
            who = rng.choice(critics)
        else:
            who = sim.stranger(acct.platform, influencer=.02) if rng.random() < .75 else sim.resident(acct.platform)
            critics.append(who)
        on = posts[-1] if len(posts) > 1 and rng.random() < .35 else target
        mode = rng.choices(("reply", "quote", "mention"), (.65, .2, .15))[0]
        text = sim.criticism(topic)
        critical.append(when)
        if mode == "reply":
            sim.post(when, who, text, reply=on)
        elif mode == "quote":
            sim.post(when, who, text, quote=on)
        else:
            sim.post(when, who, f"@{acct.handle} {text}")

    size = rng.randint(*first_wave)
    waves = []
    for day in range(days):
        start = first if day == 0 else first + day * DAY + rng.randint(-40, 40) * MINUTE
        n = max(10, round(size))
        peak = MINUTE * rng.randint(*tm.flame_peak["medium"])
        early = onset(rng, start, *tm.flame_onset)
        times = sorted([start] + early + arrivals(rng, start + 30, max(0, n - 1 - len(early)), peak, tm.flame_shape))
        for when in times:
            criticise(when)
        waves.append(n)
        if day == 0:  # the city apologises during the first wave; its apology is criticised too
            t_ap = start + int(peak * rng.uniform(1.4, 2.2))
            posts.append(sim.official_post(t_ap, acct, sim.say("apology_post", topic=topic), register=False))
            for when in arrivals(rng, t_ap + 60, max(6, n // 8), 20 * MINUTE, 1.5):
                sim.post(when, sim.local_or_stranger(acct.platform), sim.deco(sim.say("apology_reply")),
                         reply=posts[-1])
        if day + 1 < days:  # the next day at lunch: a few who are still angry
            lunch = first + (day + 1) * DAY - 8 * HOUR
            for _ in range(rng.randint(2, 5)):
                criticise(lunch + rng.randint(0, 3 * HOUR))
        for _ in range(max(2, n // 15)):  # defenders answer
            sim.post(rng.choice(times) + rng.randint(MINUTE, 20 * MINUTE), sim.local_or_stranger(acct.platform),
                     sim.deco(sim.say("flame_support")), reply=target)
        size *= rng.uniform(*decay)
    note = (f"flame-up in {days} daily waves ({', '.join(map(str, waves))} critical posts), "
            f"evening peaks and quiet nights, decaying: one episode")
    return [label("flame", acct.handle, first, max(critical) + 30 * MINUTE, note)]


def ep_flame_ramp(sim: Sim, t: int, platform: str = "x", trigger: int | None = None,
                  ramp_min: int = 40, top_per_min: float = 8.0) -> list[dict[str, Any]]:
    """A flame-up that rises slowly: criticism grows steadily to `top_per_min` a minute only after
    `ramp_min` minutes, holds for twenty and fades over an hour (the day after a big one)."""
    rng, bank = sim.rng, sim.bank
    acct = sim.account(platform)
    topic, template = (bank["flame_triggers"][trigger % len(bank["flame_triggers"])] if trigger is not None
                       else rng.choice(bank["flame_triggers"]))
    target = sim.official_post(t, acct, sim.fill(template), register=False)
    first = t + MINUTE * rng.randint(10, 30)
    slope = top_per_min / ramp_min  # posts a minute, per minute
    times = [first + int(MINUTE * (2 * k / slope) ** .5) + rng.randint(-10, 10)
             for k in range(int(slope * ramp_min ** 2 / 2))]  # N(τ) = slope·τ²/2
    top = first + ramp_min * MINUTE
    times += [top + int(k * MINUTE / top_per_min) + rng.randint(0, 6) for k in range(int(20 * top_per_min))]
    times += arrivals(rng, top + 20 * MINUTE, int(top_per_min * 12), 5 * MINUTE, 1.0)
    times = sorted(max(first, w) for w in times)
    critics: list[Person] = []
    for when in times:
        if len(critics) >= 6 and rng.random() < .1:
            who = rng.choice(critics)
        else:
            who = sim.stranger(acct.platform, influencer=.01) if rng.random() < .8 else sim.resident(acct.platform)
            critics.append(who)
        text = sim.criticism(topic)
        if rng.random() < .75:
            sim.post(when, who, text, reply=target)
        else:
            sim.post(when, who, text, quote=target)
    note = (f"slow-rising flame-up: {len(times)} critical posts, {top_per_min:g} a minute only after "
            f"{ramp_min} minutes")
    return [label("flame", acct.handle, first, _span_end(times, first, 3 * HOUR, 30 * MINUTE), note)]


def ep_impersonation(sim: Sim, t: int, platform: str = "x", style: str = "seen",
                     scams: tuple[int, int] = (2, 5), report: bool | None = None,
                     disguise: str | None = None) -> list[dict[str, Any]]:
    """A fake of one of the city's accounts. With `disguise` (a kind of `HANDLE_DISGUISES`) only
    its handle of look-alike letters and a claim of being official tie it to the city: its own
    bio, an unrelated avatar."""
    rng, town = sim.rng, sim.town
    acct = sim.account(platform)
    handle = confusable(acct.handle, platform, sim.bank_name, rng, sim.taken)
    name = lookalike_name(acct.name, sim.bank_name, rng)
    bio = (acct.bio or f"{town.name}の公式アカウントです。") + sim.say("fake_bio_extra")
    if disguise:
        handle = disguised_handle(acct.handle, disguise, rng)
        name = rng.choice(("お知らせ【公式】", "【公式】お知らせ", "公式アカウント", "公式 インフォメーション"))
        bio = "お得な情報をお届けします。" + sim.say("fake_bio_extra")
    created = t - rng.randint(HOUR, 4 * DAY)
    fake = sim.person(platform, followers=rng.randint(0, 60), created=created, handle=handle, name=name, exact=True)
    url = Official(platform, fake.handle, name, "", "", instance=rng.choice(INSTANCES)).url
    close = flip_bits(acct.phash, rng.randint(1, 6), rng) if not disguise else far_phash(sim, fake.handle)
    account = {"id": fake.author["id"], "handle": fake.handle, "name": name, "bio": bio, "url": url,
               "avatar_phash": close, "followers": fake.followers, "created_at": iso(created), "verified": False}
    seen: list[int] = []
    first = t
    if style == "created":
        plain = dict(account, name=fake.handle, bio="", avatar_phash=far_phash(sim, fake.handle))
        sim.account_event(t, platform, "created", plain)
        t_change = t + rng.randint(15, 90) * MINUTE
        sim.account_event(t_change, platform, "profile_changed", account)
        start_scams = t_change + rng.randint(5, 40) * MINUTE
    elif style == "post-first":
        start_scams = t
        t_seen = t + rng.randint(60, 240)
        sim.account_event(t_seen, platform, "seen", account)
        seen.append(t_seen)
    else:
        sim.account_event(t, platform, "seen", account)
        start_scams = t + rng.randint(3, 45) * MINUTE
    scam_times = sorted([start_scams] + [start_scams + rng.randint(10 * MINUTE, 5 * HOUR)
                                         for _ in range(rng.randint(*scams) - 1)])
    amount = rng.choice(("1,000", "3,000", "5,000", "10,000", "30,000"))
    surl = "https://" + rng.choice(("bit.ly", "tinyurl.com", "t.ly", "is.gd") if sim.bank_name == "main"
                                   else ("cutt.ly", "x.gd", "rb.gy", "shorturl.at")) + "/" + \
        "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(7))
    for when in scam_times:
        sim.post(when, fake, sim.deco(sim.say("scam_post", amount=amount, surl=surl), "happy", slip=0, fw=0))
        if rng.random() < .6:  # the fake replies to a resident who talked to the city
            victim = sim.resident(platform)
            phantom = {"post_id": sim.ids.post(platform, when - 300, victim.did), "account": victim.handle}
            sim.post(when + rng.randint(60, 900), fake, sim.say("scam_reply", surl=surl), reply=phantom)
    last = scam_times[-1]
    for _ in range(rng.randint(2, 6)):
        when = scam_times[0] + rng.randint(10 * MINUTE, 3 * HOUR)
        sim.post(when, sim.resident(platform),
                 sim.deco(sim.say("scam_warning", fake=fake.handle, official=acct.handle), "scared"))
        last = max(last, when)
    if rng.random() < .6:
        sim.official_post(scam_times[0] + rng.randint(90, 300) * MINUTE, acct, sim.say("scam_official_warning"),
                          register=False)
    if report if report is not None else rng.random() < .7:
        when = scam_times[0] + rng.randint(40, 360) * MINUTE
        sim.account_event(when, platform, "reported", account, note=sim.say("report_note"))
        last = max(last, when)
    note = f"impersonation of {acct.handle} ({platform}, {style}): {len(scam_times)} scam posts"
    return [label("impersonation", fake.handle, first, max(first + 8 * HOUR, last + 2 * HOUR), note)]


def ep_rumour(sim: Sim, t: int, claim: str | None = None, size: str | None = None,
              disaster: bool = False, disguise: float = 0.0) -> list[dict[str, Any]]:
    """A rumour spreading; `disguise` is the share of its retellings written apart, stretched or
    in mixed widths, markers included (拡 散希望, らし〜い)."""
    rng, tm = sim.rng, sim.timing
    claims = sim.bank["disaster_rumours" if disaster else "rumours"]
    c = next((c for c in claims if c["key"] == claim), None) or rng.choice(claims)
    claim_id = f"claim-{c['key']}-{digest(f'{sim.seed_key}|{t}', 3).hex()}"
    size = size or {"small": "small", "mid": "medium", "large": "large"}[sim.town.size]
    n = rng.randint(*{"small": (16, 30), "medium": (45, 90), "large": (130, 220)}[size])
    origin_who = sim.person("x", followers=rng.randint(60, 4000))
    text = sim.deco(sim.fill(rng.choice(c["origin"])), "scared", slip=0)
    if disaster and rng.random() < .5:
        text += " https://pic.example.jp/" + digest(claim_id, 5).hex()
    origin = sim.post(t, origin_who, text)
    carriers: list[dict[str, Any]] = [origin]
    weights: list[float] = [8.0]
    ids = [origin["id"]]
    early = onset(rng, t, *tm.rumour_onset)
    times = sorted(early + arrivals(rng, t + 60, n - len(early), MINUTE * rng.randint(*tm.rumour_peak),
                                   tm.rumour_shape))
    tag = sim.slots["dtag" if disaster else "tag"]
    for when in times:
        r = rng.random()
        if r < .42:
            platform = rng.choices(("x", "bluesky", "mastodon"), (.8, .14, .06))[0]
            text = sim.fill(rng.choice(c["para"]))
            if rng.random() < .25:
                text = sim.say("rumour_lead") + text
            if rng.random() < .3:
                joint = rng.choice(("。", " ", "\n")) if text[-1] not in "？?！!…" else rng.choice((" ", "\n"))
                text = TRAILER.sub("", text) + joint + sim.say("rumour_tail") + (TRAILER.search(text) or re.match("", "")).group(0)
            text = sim.deco(text, "scared", emoji=.3)
            if disguise and rng.random() < disguise:
                text = disguise_text(text, rng)
            if rng.random() < .25 and "#" not in text:
                text += f" #{tag}"
            ev = sim.post(when, sim.local_or_stranger(platform, .4), text)
            carriers.append(ev)
            weights.append(1.0)
        elif r < .85:
            src = rng.choices(carriers, weights)[0]
            ev = sim.repost(when, sim.local_or_stranger(src["platform"], .3), src)
            weights[carriers.index(src)] += .3
        else:
            src = rng.choices(carriers, weights)[0]
            pool = c["quote"] + sim.bank["rumour_quote_generic"]
            ev = sim.post(when, sim.local_or_stranger(src["platform"], .4),
                          sim.deco(sim.fill(rng.choice(pool)), "scared"), quote=ref(src))
            carriers.append(ev)
            weights.append(.5)
        ids.append(ev["id"])
    t_fix = t + MINUTE * rng.randint(45, 110)
    acct = sim.account("x")
    sim.official_post(t_fix, acct, sim.fill(c["correction"]), register=False, as_mention=disaster)
    for _ in range(rng.randint(3, 10)):
        when = t_fix + rng.randint(2 * MINUTE, 90 * MINUTE)
        who = sim.resident("x")
        text = sim.deco(sim.say("debunk"), "sad", emoji=.05)
        if rng.random() < .3:
            sim.post(when, who, text, quote=ref(origin))
        else:
            sim.post(when, who, text)
    kind = "disaster-time rumour" if disaster else "rumour"
    note = f"{kind} '{c['key']}': {len(ids)} posts carrying the claim (paraphrases, reposts, quotes)"
    end = _span_end(times, t, 2 * HOUR, 30 * MINUTE)
    return [label("misinformation", claim_id, t, end, note, ids)]


JMA = {
    "quake": ("震度速報", "VXSE51", "震源・震度に関する情報", "VXSE53"),
    "rain": ("大雨警報（土砂災害、浸水害）", "VPWW54", "土砂災害警戒情報", "VXWW50"),
    "typhoon": ("暴風警報", "VPWW54", "高潮警報", "VPWW54"),
    "snow": ("大雪警報", "VPWW54", "着雪注意報", "VPWW54"),
}


def ep_disaster(sim: Sim, t: int, kind: str = "quake", alert: bool = True, rumour: str | None = None,
                rumour_after: tuple[int, int] = (25, 50), questions: bool = True) -> list[dict[str, Any]]:
    rng, town, tm = sim.rng, sim.town, sim.timing
    tags = town.disaster_tags
    n = rng.randint(*{"small": (70, 110), "mid": (220, 360), "large": (450, 700)}[town.size])
    area = town.areas[0]
    title1, code1, title2, code2 = JMA[kind]
    if kind == "quake":
        intensity = rng.choice(("5弱", "5強", "6弱"))
        burst = int(n * tm.quake_burst)
        times = sorted([t] + [t + int(rng.expovariate(1 / 240)) for _ in range(burst)]
                       + arrivals(rng, t + 120, n - burst - 1, MINUTE * rng.randint(30, 60), 1.0))
        if alert:
            sim.alert(t + rng.randint(70, 120), title1, code1, f"{area}で震度{intensity}を観測しました。")
            sim.alert(t + rng.randint(240, 420), title2, code2,
                      f"{town.pref}で最大震度{intensity}を観測。震源の深さは約10km。この地震による津波の心配はありません。")
    else:
        lead = {"rain": (20, 60), "typhoon": (30, 90), "snow": (60, 120)}[kind]
        first = t + MINUTE * rng.randint(*lead) if alert else t
        peak = MINUTE * rng.randint(*tm.rain_peak)
        early = onset(rng, first, *tm.rain_onset)
        times = sorted([first] + early + arrivals(rng, first + 60, n - 1 - len(early), peak, 2.0))
        if alert:
            sim.alert(t, f"{title1}", code1, f"{area}に{title1}が発表されました。")
            sim.alert(first + peak // 2, title2, code2, f"{area}：{title2}。")
    locals_: list[Person] = []
    for when in times:
        platform = sim.pick_platform()
        who = sim.resident(platform) if rng.random() < .55 else sim.stranger(platform)
        after = when - times[0]
        if kind == "quake" and after < 5 * MINUTE and rng.random() < .7:
            key = "disaster_quake_now"
        elif rng.random() < .7 or (kind == "quake" and after < 20 * MINUTE):
            key = f"disaster_{kind}"
        else:
            key = "disaster_general"
        text = sim.say(key)
        if len(tags) > 1 and rng.random() < .12:
            text = text.replace(f"#{tags[0]}", f"#{tags[1]}" if rng.random() < .5 else f"#{tags[0]} #{tags[1]}")
        if rng.random() < .08:
            text += f" #{town.watch_tags[0]}"
        sim.post(when, who, sim.deco(text, "scared", emoji=.25), geo=sim.geo() if rng.random() < .2 else None)
        locals_.append(who)
    for _ in range(rng.randint(2, 4)):  # rescue requests, reposted by neighbours
        when = rng.choice(times[: max(2, int(len(times) * .6))]) + rng.randint(0, 600)
        who = sim.resident("x")
        ev = sim.post(when, who, sim.say("rescue"), geo=sim.geo())
        for _ in range(rng.randint(2, 8)):
            sim.repost(when + rng.randint(30, 30 * MINUTE), sim.resident("x"), ev)
    acct = sim.account("x")
    nq = rng.randint(*{"small": (12, 25), "mid": (60, 110), "large": (150, 260)}[town.size])
    posts = []
    for k in range(rng.randint(2, 3)):
        when = times[0] + MINUTE * (rng.randint(20, 60) + k * rng.randint(60, 120))
        posts.append((when, sim.official_post(when, acct, sim.say("disaster_official"), as_mention=True)))
    if questions:  # the flood of questions to the city: not a flame-up
        for i in range(nq):
            when, target = posts[i % len(posts)]
            when += int(rng.expovariate(1 / (25 * MINUTE))) + 30
            key = "disaster_frustration" if rng.random() < .08 else "disaster_question"
            sim.post(when, sim.resident(acct.platform), sim.deco(sim.say(key), "sad", emoji=.1), reply=target)
    labels = []
    if rumour:
        labels += ep_rumour(sim, times[0] + MINUTE * rng.randint(*rumour_after), claim=rumour, disaster=True)
    # The episode starts with the surge's first post, as in the contract's sample; a JMA
    # warning before it is context that lowers the detector's bar, not the episode itself.
    start = times[0]
    note = f"{kind} disaster on #{tags[0]}: {len(times)} hashtag posts" + (" and JMA alerts" if alert else "")
    labels.insert(0, label("disaster", tags[0], start, _span_end(times, start, 4 * HOUR, HOUR, .9), note))
    return labels



def ep_rumour_again(sim: Sim, t: int, claim: str | None = None, after_h: tuple[int, int] = (20, 30),
                    size: str = "medium") -> list[dict[str, Any]]:
    """A rumour that is corrected and dies down, then resurfaces a day later (a new post saying the
    same, spreading again): one claim, one label, whose posts are both waves'."""
    rng = sim.rng
    [first] = ep_rumour(sim, t, claim=claim)
    key = first["note"].split("'")[1]
    [again] = ep_rumour(sim, t + HOUR * rng.randint(*after_h), claim=key, size=size)
    start = datetime.fromisoformat(first["start"]).timestamp()
    end = datetime.fromisoformat(again["end"]).timestamp()
    ids = first["event_ids"] + again["event_ids"]
    return [label("misinformation", first["target"], start, end,
                  f"{first['note']}; it resurfaces {again['note'].split(':')[1].strip()}: one claim", ids)]


def ep_quake_days(sim: Sim, t: int, days: int = 3, aftershocks: tuple[int, int] = (1, 2)) -> list[dict[str, Any]]:
    """An earthquake and its aftershocks over the following `days`: each a JMA report and a burst
    of 揺れた posts on the disaster hashtag, smaller each day, quiet hours between. One episode,
    one label: the aftershocks are the same disaster coming back, not new incidents."""
    rng, town = sim.rng, sim.town
    labels = ep_disaster(sim, t, kind="quake")
    tags = town.disaster_tags
    n = rng.randint(*{"small": (25, 40), "mid": (80, 120), "large": (150, 220)}[town.size])
    last = t
    shocks = 0
    for day in range(1, days):
        for _ in range(rng.randint(*aftershocks)):
            when = t + day * DAY + rng.randint(-8 * HOUR, 8 * HOUR)
            n = max(12, int(n * rng.uniform(.6, .85)))
            sim.alert(when + rng.randint(70, 120), "震度速報", "VXSE51",
                      f"{town.areas[0]}で震度{rng.choice(('5弱', '5強'))}を観測しました。")
            burst = [when] + [when + int(rng.expovariate(1 / 200)) for _ in range(n - 1)]
            for k, at in enumerate(sorted(burst)):
                platform = sim.pick_platform()
                who = sim.resident(platform) if rng.random() < .6 else sim.stranger(platform)
                text = sim.say("disaster_quake_now" if k < n // 2 else "disaster_quake")
                if len(tags) > 1 and rng.random() < .1:
                    text = text.replace(f"#{tags[0]}", f"#{tags[1]}")
                sim.post(at, who, sim.deco(text, "scared", emoji=.25))
                last = max(last, at)
            shocks += 1
    quake = labels[0]
    start = datetime.fromisoformat(quake["start"]).timestamp()
    end = max(datetime.fromisoformat(quake["end"]).timestamp(), last + HOUR)
    labels[0] = label("disaster", quake["target"], start, end,
                      f"{quake['note']}, then {shocks} aftershocks over {days - 1} days: one episode")
    return labels


EPISODES: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "flame": ep_flame, "flame_days": ep_flame_days, "flame_ramp": ep_flame_ramp,
    "impersonation": ep_impersonation, "rumour": ep_rumour, "disaster": ep_disaster,
    "quake_days": ep_quake_days, "rumour_again": ep_rumour_again,
    "praise": neg_praise, "festival": neg_festival, "angry": neg_angry, "lookalikes": neg_lookalikes,
    "announce": neg_announce, "news": neg_news, "drill": neg_drill, "elsewhere": neg_elsewhere,
    "minor_quake": neg_minor_quake, "outage": ep_outage,
}
LABELLED = frozenset({"flame", "flame_days", "flame_ramp", "impersonation", "rumour", "disaster",
                      "quake_days", "rumour_again", "outage"})


def run_episode(sim: Sim, kind: str, t: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    if kind not in EPISODES:
        raise ValueError(f"unknown episode {kind!r}; one of {', '.join(EPISODES)}")
    return EPISODES[kind](sim, int(t), **params)

