"""Hard negatives, unlabelled: praise going viral, a festival, an angry resident, honest
look-alike accounts, shares of the city's announcement or of a news link, drills, a small
quake, a disaster elsewhere. The detectors must stay quiet on all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.scenarios.common import HOUR, MINUTE, TRAILER, arrivals, digest
from tools.scenarios.lookalikes import disguised_handle, far_phash
from tools.scenarios.people import GIVEN_J, GIVEN_R, X_MAX, ref
from tools.scenarios.towns import TOWNS

if TYPE_CHECKING:  # only for annotations: the Sim runs the episodes
    from tools.scenarios.traffic import Sim


def neg_praise(sim: Sim, t: int, platform: str = "x") -> list[dict[str, Any]]:
    rng, tm = sim.rng, sim.timing
    acct = sim.account(platform)
    target = sim.official_post(t, acct, sim.say("praise_post"))
    n = rng.randint(*{"small": (25, 45), "mid": (140, 240), "large": (380, 600)}[sim.town.size])
    for when in arrivals(rng, t + 60, n, MINUTE * rng.randint(*tm.praise_peak), 1.5):
        who = sim.local_or_stranger(acct.platform, .5)
        r = rng.random()
        if r < .7:
            sim.post(when, who, sim.deco(sim.say("praise_reply"), "happy", emoji=.45), reply=target)
        elif r < .85:
            sim.post(when, who, sim.deco(sim.say("praise_quote"), "happy", emoji=.3), quote=target)
        else:
            sim.post(when, who, "", repost=target)
    for _ in range(rng.randint(1, 2)):
        sim.post(t + rng.randint(10, 120) * MINUTE, sim.resident(acct.platform), sim.say("praise_sour"), reply=target)
    return []


def neg_festival(sim: Sim, t: int) -> list[dict[str, Any]]:
    rng = sim.rng
    n = rng.randint(*{"small": (30, 50), "mid": (150, 240), "large": (350, 520)}[sim.town.size])
    close = t + 13 * HOUR  # the festival day ends; a few posts trail into the night
    day = arrivals(rng, t, n // 2, 3 * HOUR, 1.5) + arrivals(rng, t + 8 * HOUR, n - n // 2, 80 * MINUTE, 4.0)
    day = [w if w < close else rng.randint(t + 9 * HOUR, close) for w in day]
    for when in day:
        platform = sim.pick_platform()
        crowd = rng.random() < .15
        text = sim.say("festival_crowd" if crowd else "festival_post")
        if "#" not in text and rng.random() < .6:
            text += f" #{sim.slots['tag']}"
        sim.post(when, sim.local_or_stranger(platform, .6), sim.deco(text, "sad" if crowd else "happy", emoji=.35),
                 geo=sim.geo() if rng.random() < .15 else None)
    acct = sim.account("x")
    for k, offset in enumerate((0, 3 * HOUR, int(9.3 * HOUR), 11 * HOUR)):
        when = t + offset + rng.randint(0, 900)
        target = sim.official_post(when, acct, sim.fill(sim.bank["festival_official"][k]), as_mention=True)
        for _ in range(rng.randint(3, 14)):
            key = "festival_crowd" if rng.random() < .2 else "festival_reply"
            text = TRAILER.sub("", sim.say(key))
            sim.post(when + rng.randint(60, 60 * MINUTE), sim.resident(acct.platform), sim.deco(text), reply=target)
    return []


def neg_angry(sim: Sim, t: int, n: int = 30, platform: str = "x") -> list[dict[str, Any]]:
    rng = sim.rng
    acct = sim.account(platform)
    who = sim.person(platform, followers=rng.randint(20, 300))
    when = t
    for i in range(n):
        text = sim.say("complaint") if rng.random() < .5 else sim.criticism("対応", ("crit_core", "crit_head"), (5, 1))
        if rng.random() < .2:
            sim.post(when, who, f"@{acct.handle} {text}")
        else:
            sim.post(when, who, text, reply=sim.recent_post(acct, when))
        when += rng.randint(40, 150)
    return []


def neg_lookalikes(sim: Sim, t: int, which: tuple[str, ...] = ("fan", "resident", "shop", "news"),
                   platform: str = "x", disguise: str | None = None) -> list[dict[str, Any]]:
    """Honest accounts carrying the city's name (fan, resident, shop, local news); with `disguise`
    their handles are written in look-alike letters too (ᴋɪʀɪɴᴏ_ꜰᴀɴ): still no impersonation."""
    rng, town = sim.rng, sim.town
    roman = town.roman

    def fit(*options: str) -> str:
        return next((o for o in options if len(o) <= X_MAX), options[-1][:X_MAX])

    when = t
    for kind in which:
        if kind == "fan":
            base = fit(*rng.sample((f"{roman}_fan", f"love_{roman}", f"{roman}_daisuki"), 3), f"{roman}fan")
            name, bio = sim.say("fan_name"), sim.say("fan_bio")
            posts = ("fan_post",)
        elif kind == "resident":
            g = rng.choice(GIVEN_R)
            base = fit(*rng.sample((f"{g}_{roman}", f"{roman}_{g}"), 2), f"{g}{roman}", f"{roman}{g[0]}")
            name = f"{rng.choice(GIVEN_J)}@{town.short}"
            bio = f"{town.name}在住。{rng.choice(('写真', '子育て', 'ランニング', '猫', '家庭菜園'))}が好き"
            posts = ("chatter",)
        elif kind == "shop":
            base = fit(*rng.sample((f"{roman}_bakery", f"cafe_{roman}", f"{roman}_shop"), 3), f"{roman}shop")
            name, bio = town.shop, f"{town.name}{rng.choice(town.places)}の小さなお店です。営業時間 10:00-18:00"
            posts = ("shop_post",)
        else:
            base = fit(*rng.sample((f"{roman}_news", f"{roman}times", f"{roman}_shimpo"), 3), f"{roman}news")
            name, bio = town.news, sim.say("news_bio")
            posts = ()
        if disguise:
            base = disguised_handle(base, disguise, rng)
        who = sim.person(platform, followers=rng.randint(30, 8000), handle=base, name=name)
        account = {"id": who.author["id"], "handle": who.handle, "name": name, "bio": bio,
                   "url": f"https://x.com/{who.handle}" if platform == "x" else "",
                   "avatar_phash": far_phash(sim, who.handle), "followers": who.followers,
                   "created_at": who.author["created_at"], "verified": False}
        sim.account_event(when, platform, "seen", account)
        for _ in range(rng.randint(1, 3)):
            post_at = when + rng.randint(5, 240) * MINUTE
            if posts:
                sim.post(post_at, who, sim.deco(sim.say(posts[0])))
            else:
                headline = sim.say("news_headline")
                sim.post(post_at, who, sim.say("news_post", headline=headline, url=_news_url(sim, headline)))
        when += rng.randint(20, 120) * MINUTE
    return []


def _news_url(sim: Sim, headline: str) -> str:
    return f"https://www.{sim.town.roman}-news.example.jp/articles/{digest(headline + sim.seed_key, 5).hex()}"


def neg_announce(sim: Sim, t: int, platform: str = "x", which: int | None = None) -> list[dict[str, Any]]:
    rng = sim.rng
    acct = sim.account(platform)
    posts = sim.bank["announce_post"]
    text = sim.fill(posts[which % len(posts)] if which is not None else rng.choice(posts))
    target = sim.official_post(t, acct, text)
    n = rng.randint(*{"small": (10, 20), "mid": (80, 150), "large": (240, 380)}[sim.town.size])
    for when in arrivals(rng, t + 30, n, 50 * MINUTE, 1.2):
        who = sim.local_or_stranger(acct.platform, .7)
        r = rng.random()
        if r < .72:
            sim.post(when, who, "", repost=target)
        elif r < .9:
            sim.post(when, who, sim.deco(sim.say("announce_reaction")), quote=target)
        else:
            sim.post(when, who, sim.deco(sim.say("announce_question")), reply=target)
    return []


def neg_news(sim: Sim, t: int) -> list[dict[str, Any]]:
    rng = sim.rng
    headline = sim.say("news_headline")
    url = _news_url(sim, headline)
    outlet = sim.person("x", followers=rng.randint(3000, 40000), name=sim.town.news)
    first = sim.post(t, outlet, sim.say("news_post", headline=headline, url=url))
    n = rng.randint(*{"small": (8, 15), "mid": (50, 110), "large": (180, 300)}[sim.town.size])
    for when in arrivals(rng, t + 60, n, 90 * MINUTE, 1.3):
        platform = sim.pick_platform()
        who = sim.local_or_stranger(platform, .5)
        r = rng.random()
        if platform == "x" and r < .25:
            sim.repost(when, who, first)
        elif platform == "x" and r < .4:
            sim.post(when, who, sim.deco(sim.say("news_comment") or headline), quote=ref(first))
        else:
            comment = sim.say("news_comment")
            sim.post(when, who, sim.deco(f"{comment} {headline} {url}".strip() if comment else f"{headline} {url}",
                                         slip=0, fw=0, emoji=.1, mark=0))
    return []


def neg_drill(sim: Sim, t: int) -> list[dict[str, Any]]:
    rng = sim.rng
    acct = sim.account("x")
    time = rng.choice(("9時", "10時", "10時30分", "13時"))
    drills = sim.bank["drill_official"]
    first = sim.official_post(t, acct, sim.fill(drills[rng.randrange(2)], time=time), as_mention=True)
    for _ in range(rng.randint(3, 10)):
        sim.post(t + rng.randint(5, 120) * MINUTE, sim.resident("x"), sim.deco(sim.say("reply_ordinary")), reply=first)
    for _ in range(rng.randint(10, 35)):
        platform = sim.pick_platform()
        sim.post(t + rng.randint(10, 180) * MINUTE, sim.resident(platform), sim.deco(sim.say("drill_resident")))
    sim.official_post(t + rng.randint(150, 200) * MINUTE, acct, sim.fill(drills[2], time=time), as_mention=True)
    return []


def neg_minor_quake(sim: Sim, t: int) -> list[dict[str, Any]]:
    """A small felt quake: a JMA report for the city's own area, a few 揺れた posts, no damage."""
    rng = sim.rng
    sim.alert(t + rng.randint(60, 150), "震度速報", "VXSE51", f"{sim.town.areas[0]}で震度3を観測しました。",
              severity="info")
    n = rng.randint(*{"small": (3, 6), "mid": (10, 22), "large": (25, 45)}[sim.town.size])
    for when in sorted(t + int(rng.expovariate(1 / 150)) for _ in range(n)):
        platform = sim.pick_platform()
        text = sim.say("minor_quake")
        sim.post(when, sim.resident(platform), sim.deco(text, "scared", emoji=.15))
    return []


def neg_elsewhere(sim: Sim, t: int, alert: bool = True) -> list[dict[str, Any]]:
    rng = sim.rng
    others = [o for o in TOWNS.values() if o.key != sim.town.key and o.pref != sim.town.pref]
    other = rng.choice(others)
    otag = other.disaster_tags[0]
    if alert:
        sim.alert(t, "震源・震度に関する情報", "VXSE53", f"{other.pref}で最大震度6弱を観測しました。",
                  areas=other.areas)
    n = rng.randint(*{"small": (10, 20), "mid": (40, 80), "large": (100, 170)}[sim.town.size])
    for when in arrivals(rng, t + 120, n, 70 * MINUTE, 1.2):
        platform = sim.pick_platform()
        sim.post(when, sim.local_or_stranger(platform, .6),
                 sim.deco(sim.say("other_disaster", other=other.name, otag=otag), "sad"))
    sim.official_post(t + rng.randint(2, 5) * HOUR, sim.account("x"),
                      sim.say("other_disaster_official", other=other.name))
    return []
