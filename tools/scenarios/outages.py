"""A planned outage the city announces, retold by residents in their own words with hearsay
markers (「本町断水、9時から15時だって」) — 公式発表の拡散, no incident — and, with `contradict`,
a rumour that says otherwise about the same outage (「本町の断水は1週間続くらしい」), one デマ
incident whose source is the city's announcement.

Two wordings (the `main` and the `variant` phrase bank) so that the detectors are checked on
the phenomenon, not the phrases. Retellings name the area, the times and the day in other
notations than the city's (9時〜15時, 9-15時, 午後3時まで, 明日, 12/8), some name the city, so
that without the announcement they read as a spreading rumour and as a disaster in the city's
name (the test replays them without it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vocabulary.terms import JST
from tools.scenarios.common import HOUR, MINUTE, arrivals, digest, iso, onset
from tools.scenarios.people import ref

if TYPE_CHECKING:  # only for annotations: the Sim runs the episodes
    from tools.scenarios.traffic import Sim

DOW = "月火水木金土日"

OUTAGES: dict[str, dict[str, Any]] = {
    "water": {
        "word": "断水", "page": "suido/dansui",
        "official": {
            "main": ("【断水のお知らせ】水道管工事のため、{M}月{D}日（{dow}）{h1}時から{h2}時まで、{area}地区で断水します。"
                     "ご不便をおかけしますが、ご協力をお願いします。{url}",),
            "variant": ("【お知らせ】{M}月{D}日（{dow}）{ampm1}から{ampm2}まで、配水管の切り替え工事に伴い{area}地区の一部で"
                        "断水となります。詳しくは市のホームページをご覧ください。{url}",),
        },
        "retold": {
            "main": ("{area}断水、{h1}時から{h2}時だって", "明日{short}の{area}は断水らしい、{h1}〜{h2}時",
                     "{city}の断水、{area}だけらしい。{h1}時から{h2}時", "{short}の{area}、明日断水だって",
                     "{city}の{area}で明日断水するらしいよ。{h2}時までだって", "{area}地区、{M}/{D}は断水らしい。水ためとかなきゃ",
                     "明日の{h1}-{h2}時、{area}断水だって！お風呂に水ためとこ", "{city}、{area}地区で工事のため断水らしい",
                     "{area}の断水、{ampm2}までって聞いた", "ママ友から回ってきた、{area}明日断水らしい {h1}時〜{h2}時",
                     "{city}で明日断水らしい、トイレ流せないって", "うちのとこ明日断水なんだって、{h1}時から{h2}時"),
            "variant": ("{short}の{area}で断水あるっぽい、{M}月{D}日の{h1}時〜{h2}時", "回ってきた→{area}は明日{h1}時から断水らしい",
                        "{city}で断水の噂、{area}で{h1}時から{h2}時まで", "{short}{area}、明日は断水みたい",
                        "{city}の{area}、明日水道止まるみたい。断水は{h2}時までだって", "{area}の人、明日断水らしいですよ！{h1}-{h2}時",
                        "{city}{area}の断水、{ampm1}からって聞きました", "明日断水だって、{area}。{h2}時には戻るらしい",
                        "友達から、{city}の{area}で工事の断水があるって", "{area}地区断水の噂、{M}/{D}の{h1}時から{h2}時みたい"),
        },
        "contradict": {
            "main": ("【拡散希望】{area}の断水、実は1週間続くらしい。水道管がボロボロなんだって",
                     "{area}の断水は1週間続くらしい、拡散して", "{city}の{area}、断水が長引いて来週まで続くらしい",
                     "{area}地区の断水、復旧は未定らしい。{h2}時までって嘘らしいよ", "断水は一週間続くって聞いた、{area}",
                     "{city}{area}の断水、3日間続くらしい！水の備蓄を"),
            "variant": ("RT希望）{area}の断水、本当は一週間かかるらしい", "{area}断水、{h2}時じゃ終わらなくて来週までかかるって",
                        "{city}の{area}、断水が数日続くっぽい。拡散お願い", "友達の話だと{area}の断水は復旧の見込みが立たないらしい",
                        "{area}地区、断水が1週間って本当？拡散して"),
        },
        "quote": ("これ、実は1週間続くらしい。拡散して", "{h2}時までって書いてあるけど本当は来週までかかるらしい",
                  "これ嘘らしい、復旧の見込み立ってないって"),
        "question": ("断水って何時までですか？", "{area}の断水、うちも入ってるのかな", "明日の断水、給水所はありますか？"),
    },
}


def _when(t: int, h1: int, h2: int) -> dict[str, Any]:
    """The slots of an outage tomorrow from `h1` to `h2` o'clock."""
    day = datetime.fromtimestamp(t, JST) + timedelta(days=1)

    def ampm(h: int) -> str:
        return f"午前{h}時" if h < 12 else ("正午" if h == 12 else f"午後{h - 12}時")

    return {"M": str(day.month), "D": str(day.day), "dow": DOW[day.weekday()], "h1": str(h1), "h2": str(h2),
            "ampm1": ampm(h1), "ampm2": ampm(h2)}


def ep_outage(sim: Sim, t: int, kind: str = "water", contradict: bool = False,
              size: str | None = None) -> list[dict[str, Any]]:
    """The city announces tomorrow's planned outage; residents retell it for two hours with hearsay
    markers, and again the next morning; with `contradict`, a rumour that it lasts much longer
    spreads in the evening (labelled: one デマ incident, the announcement its source)."""
    rng = sim.rng
    o = OUTAGES[kind]
    bank = "variant" if sim.bank_name == "variant" else "main"
    h1 = rng.choice((9, 10, 13))
    h2 = h1 + rng.choice((4, 5, 6))
    area = rng.choice(sim.town.places)
    acct = sim.account("x")
    slots = {**_when(t, h1, h2), "area": area,
             "url": f"{sim.town.homepage}/{o['page']}/{digest(f'{sim.seed_key}|{t}', 3).hex()}.html"}
    official = sim.official_post(t, acct, sim.fill(rng.choice(o["official"][bank]), **slots), as_mention=True)
    size = size or {"small": "small", "mid": "medium", "large": "large"}[sim.town.size]
    n = rng.randint(*{"small": (24, 34), "medium": (40, 60), "large": (70, 100)}[size])
    morning = int(datetime.fromtimestamp(t, JST).replace(hour=7, minute=0, second=0).timestamp()) + 24 * HOUR
    times = arrivals(rng, t + 2 * MINUTE, n, 10 * MINUTE, 1.3) + arrivals(rng, morning, n // 3, 30 * MINUTE, 1.5)
    for when in sorted(times):
        r = rng.random()
        who = sim.local_or_stranger("x", .8)
        if r < .7:
            text = sim.fill(rng.choice(o["retold"][bank]), **slots)
            if when >= morning:  # the day itself
                text = text.replace("明日", "今日")
            sim.post(when, who, sim.deco(text, "sad", emoji=.15))
        elif r < .9:
            sim.post(when, who, "", repost=official)
        else:
            sim.post(when, who, sim.deco(sim.fill(rng.choice(o["question"]), **slots), "sad"), reply=official)
    if not contradict:
        return []
    start = t + rng.randint(5, 7) * HOUR
    claim = f"claim-outage-{digest(f'{sim.seed_key}|{t}|contradict', 3).hex()}"
    texts = o["contradict"][bank]
    origin = sim.post(start, sim.person("x", followers=rng.randint(200, 3000)), sim.fill(texts[0], **slots))
    ids, carriers = [origin["id"]], [origin]
    m = rng.randint(*{"small": (16, 24), "medium": (30, 50), "large": (60, 90)}[size])
    early = onset(rng, start, *sim.timing.rumour_onset)  # as every rumour starts (`ep_rumour`)
    later = sorted(early + arrivals(rng, start + MINUTE, m - len(early), rng.randint(10, 20) * MINUTE, 1.3))
    for when in later:
        who = sim.local_or_stranger("x", .6)
        r = rng.random()
        if r < .5:
            ev = sim.post(when, who, sim.deco(sim.fill(rng.choice(texts[1:]), **slots), "scared", emoji=.2))
            carriers.append(ev)
        elif r < .6:  # quoting the city's own post
            ev = sim.post(when, who, sim.deco(sim.fill(rng.choice(o["quote"]), **slots), "scared", emoji=.2),
                          quote=official)
        else:
            ev = sim.post(when, who, "", repost=ref(rng.choice(carriers)))
        ids.append(ev["id"])
    end = max(later) + 30 * MINUTE if later else start + 2 * HOUR
    note = (f"planned {o['word']} in {area} announced by {acct.handle} ({official['post_id']}); "
            f"{len(ids)} posts of a rumour that contradicts it")
    return [{"type": "misinformation", "target": claim, "start": iso(start), "end": iso(max(end, start + 2 * HOUR)),
             "event_ids": ids, "note": note}]
