"""The invented municipalities: their official accounts, names, places and size (rates of
traffic), and each bank's timing (day/night rhythm, how fast episodes build).

Mostly data tables; `Town.profile()` writes a municipality as the contract's profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.scenarios.common import hex16

OFFICE = {"市": "市役所", "町": "町役場", "村": "村役場", "区": "区役所"}
HEAD = {"市": "市長", "町": "町長", "村": "村長", "区": "区長"}
RESIDENT = {"市": "市民", "町": "町民", "村": "村民", "区": "区民"}


@dataclass(frozen=True)
class Official:
    """One of the municipality's own accounts."""

    platform: str
    handle: str
    name: str
    department: str
    owner: str
    bio: str = ""
    instance: str = "mstdn.jp"  # mastodon only
    reply_policy: str = "none"

    @property
    def url(self) -> str:
        if self.platform == "x":
            return f"https://x.com/{self.handle}"
        if self.platform == "bluesky":
            return f"https://bsky.app/profile/{self.handle}"
        return f"https://{self.instance}/@{self.handle}"

    @property
    def phash(self) -> str:
        return hex16(f"{self.platform}|{self.handle}")

    def to_profile(self) -> dict[str, Any]:
        out = {"platform": self.platform, "handle": self.handle, "name": self.name, "url": self.url,
               "avatar_phash": self.phash, "department": self.department, "owner": self.owner,
               "reply_policy": self.reply_policy}
        if self.bio:
            out["bio"] = self.bio
        return out


@dataclass(frozen=True)
class Town:
    """An invented municipality: its names, accounts, places and size."""

    key: str
    name: str  # 桐野町
    kana: str  # きりのまち
    short: str  # 桐野
    short_kana: str  # きりの
    kind: str  # 市 町 村 区
    size: str  # small | mid | large
    pref: str
    areas: tuple[str, ...]
    roman: str
    accounts: tuple[Official, ...]
    places: tuple[str, ...]
    landmarks: tuple[str, ...]
    station: str
    river: str
    school: str
    hospital: str
    mascot: str
    festival: str
    zoo: str
    shop: str
    news: str
    latlon: tuple[float, float]
    watch: tuple[str, ...] = ()
    disaster: tuple[str, ...] = ()
    home: str = ""

    @property
    def watch_tags(self) -> tuple[str, ...]:
        return self.watch or (self.name,)

    @property
    def disaster_tags(self) -> tuple[str, ...]:
        return self.disaster or (f"{self.name}災害",)

    @property
    def homepage(self) -> str:
        kind = {"市": "city", "町": "town", "村": "vill", "区": "city"}[self.kind]
        return self.home or f"https://www.{kind}.{self.roman}.example.jp"

    def slots(self) -> dict[str, Any]:
        return {
            "city": self.name, "short": self.short, "kana": self.short_kana,
            "office": OFFICE[self.kind], "head": HEAD[self.kind], "resident": RESIDENT[self.kind],
            "kindword": self.kind, "place": self.places, "landmark": self.landmarks,
            "station": self.station, "river": self.river, "school": self.school,
            "hospital": self.hospital, "mascot": self.mascot, "festival": self.festival,
            "zoo": self.zoo or f"{self.short}動物公園", "shopname": self.shop, "newsname": self.news,
            "pref": self.pref, "tag": self.watch_tags[0], "dtag": self.disaster_tags[0],
            "home": self.homepage, "chome": ("1", "2", "3", "4", "5", "6"),
            "official": self.accounts[0].handle,
        }

    def profile(self) -> dict[str, Any]:
        names = list(dict.fromkeys((self.name, self.short, self.kana, self.short_kana)))
        return {
            "municipality": {"id": self.key, "name": self.name, "names": names, "kana": self.kana,
                             "prefecture": self.pref, "areas": list(self.areas)},
            "accounts": [a.to_profile() for a in self.accounts],
            "watch_hashtags": list(self.watch_tags),
            "disaster_hashtags": list(self.disaster_tags),
        }


@dataclass(frozen=True)
class Rates:
    replies: float  # replies a day to the official accounts
    chatter: float  # other posts a day that name the municipality
    official: float  # the city's own posts a day (weekdays)
    pool: int  # residents who post now and then
    trickle: float  # critical replies a day from the regular complainers
    followers: int  # followers of the main official account


SIZES = {
    "small": Rates(replies=3, chatter=5, official=1.3, pool=150, trickle=0.7, followers=2400),
    "mid": Rates(replies=45, chatter=55, official=3.5, pool=1200, trickle=1.4, followers=18000),
    "large": Rates(replies=300, chatter=260, official=7.0, pool=6000, trickle=2.0, followers=125000),
}
PLATFORM_WEIGHT = {"x": 0.70, "bluesky": 0.20, "mastodon": 0.10}
ACCOUNT_WEIGHT = {"x": 1.0, "bluesky": 0.3, "mastodon": 0.15}

# --- timing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """When people post: hourly weights (JST) and the shapes of episodes, per bank."""

    weekday: tuple[float, ...]  # 24 relative weights, hour 0 … 23
    weekend: tuple[float, ...]
    office: tuple[float, ...]  # when the city's own posts go out (weekdays)
    flame_lead: tuple[int, int]  # minutes from the trigger post to the first criticism
    flame_peak: dict[str, tuple[int, int]]  # minutes from the first criticism to the peak
    flame_shape: float
    rumour_peak: tuple[int, int]
    rumour_shape: float
    quake_burst: float  # share of a quake's posts in its first minutes
    # The first minutes of an episode (as in the contract's sample: the label starts when
    # the surge does): posts per minute and how many come at that steady rate before the
    # build-up to the peak takes over.
    flame_onset: tuple[tuple[float, float], tuple[int, int]]
    rumour_onset: tuple[tuple[float, float], tuple[int, int]]
    rain_onset: tuple[tuple[float, float], tuple[int, int]]
    rain_peak: tuple[int, int]  # minutes from the first rain post to the peak
    praise_peak: tuple[int, int]


def _norm(weights: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(weights) / len(weights)
    return tuple(w / mean for w in weights)


TIMINGS = {
    "main": Timing(
        weekday=_norm((.25, .15, .1, .07, .07, .15, .4, .8, 1.0, 1.0, 1.0, 1.2,
                       1.9, 1.5, 1.0, .95, 1.0, 1.2, 1.5, 1.8, 2.0, 1.9, 1.4, .7)),
        weekend=_norm((.4, .25, .15, .1, .07, .1, .2, .4, .7, 1.0, 1.2, 1.4,
                       1.7, 1.5, 1.4, 1.3, 1.3, 1.4, 1.6, 1.8, 1.9, 1.7, 1.3, .8)),
        office=(0, 0, 0, 0, 0, 0, 0, 0, .6, 1.4, 1.3, 1.1, .6, 1.0, 1.1, 1.0, .9, .6, .2, .1, 0, 0, 0, 0),
        flame_lead=(8, 45), flame_peak={"slow": (10, 20), "medium": (35, 60), "big": (20, 32)},
        flame_shape=3.0, rumour_peak=(45, 75), rumour_shape=2.0, quake_burst=.45,
        flame_onset=((.6, 2.0), (4, 8)), rumour_onset=((.5, 1.5), (3, 6)), rain_onset=((.5, 1.5), (4, 8)),
        rain_peak=(90, 150), praise_peak=(30, 60),
    ),
    "variant": Timing(
        weekday=_norm((.35, .2, .12, .08, .1, .25, .7, 1.3, 1.1, .8, .8, .9,
                       1.3, 1.4, .9, .85, .9, 1.0, 1.2, 1.4, 1.6, 2.0, 2.1, 1.2)),
        weekend=_norm((.6, .35, .2, .12, .08, .1, .15, .3, .6, .9, 1.2, 1.5,
                       1.5, 1.6, 1.6, 1.4, 1.3, 1.3, 1.4, 1.5, 1.7, 1.9, 1.8, 1.1)),
        office=(0, 0, 0, 0, 0, 0, 0, .2, .9, 1.2, 1.2, 1.0, .3, 1.2, 1.2, 1.1, 1.0, .8, .4, .2, 0, 0, 0, 0),
        flame_lead=(50, 200), flame_peak={"slow": (15, 40), "medium": (60, 110), "big": (30, 45)},
        flame_shape=1.8, rumour_peak=(80, 140), rumour_shape=1.4, quake_burst=.3,
        flame_onset=((.5, 1.5), (3, 7)), rumour_onset=((.5, 1.2), (3, 6)), rain_onset=((.5, 1.2), (3, 7)),
        rain_peak=(150, 240), praise_peak=(60, 120),
    ),
}


# --- municipalities ------------------------------------------------------------------


def _x(handle: str, name: str, dept: str = "広報課", owner: str = "", bio: str = "") -> Official:
    return Official("x", handle, name, dept, owner or dept + "長", bio)


def _bsky(handle: str, name: str, dept: str = "広報課", owner: str = "", bio: str = "") -> Official:
    return Official("bluesky", handle, name, dept, owner or dept + "長", bio)


def _masto(handle: str, name: str, instance: str, dept: str = "広報課", owner: str = "", bio: str = "") -> Official:
    return Official("mastodon", handle, name, dept, owner or dept + "長", bio, instance)


TOWNS: dict[str, Town] = {t.key: t for t in (
    # ----- main bank -----
    Town("kirino", "桐野町", "きりのまち", "桐野", "きりの", "町", "small", "長野県", ("長野県北部",), "kirino",
         (_x("kirino_town", "桐野町役場", "総務課", bio="長野県桐野町の公式アカウントです。町からのお知らせを発信します。"),
          _masto("kirino_town", "桐野町 公式アカウント", "mstdn.jp", "総務課", bio="桐野町役場総務課が運用しています。")),
         ("本町", "上桐野", "下桐野", "東町", "新田", "西原"),
         ("道の駅きりの", "桐野町民会館", "桐野中央公園", "桐野温泉センター", "町立図書館"),
         "桐野駅", "桐野川", "桐野小学校", "桐野町立診療所", "きりのん", "桐野ふるさと祭り", "", "パン工房きりの",
         "桐野タイムス", (36.70, 138.30), ("桐野町",), ("桐野町災害", "桐野町防災")),
    Town("aosawa", "青沢市", "あおさわし", "青沢", "あおさわ", "市", "mid", "宮城県", ("宮城県西部",), "aosawa",
         (_x("aosawa_city", "青沢市役所", "広報広聴課", bio="宮城県青沢市の公式アカウント。市政情報、イベント、防災情報をお届けします。"),
          _bsky("aosawacity.bsky.social", "青沢市シティプロモーション課", "シティプロモーション課")),
         ("錦町", "中央", "青葉台", "北沢", "南原", "旭ケ丘", "新町"),
         ("青沢城址公園", "青沢市民体育館", "市民文化会館", "青沢ショッピングセンター", "青沢中央図書館"),
         "青沢駅", "青沢川", "青沢第一小学校", "青沢中央病院", "あおさわくん", "青沢七夕まつり", "青沢こども動物園",
         "カフェあおさわ", "青沢日報", (38.30, 140.60), ("青沢市", "あおさわ"), ("青沢市災害",)),
    Town("higashiminato", "東湊区", "ひがしみなとく", "東湊", "ひがしみなと", "区", "large", "神奈川県", ("神奈川県東部",),
         "higashiminato",
         (_x("higashiminato", "東湊区役所", "区政推進課", "区政推進課長", "東湊区の公式アカウントです。区政・イベント・防災情報を発信しています。"),
          _bsky("higashiminato.bsky.social", "東湊区 広報", "区政推進課"),
          _masto("higashiminato", "東湊区（公式）", "mstdn.jp", "区政推進課")),
         ("港町", "汐見台", "緑町", "桜木", "浜通り", "新浜", "本牧台"),
         ("東湊ふ頭", "東湊区民ホール", "汐見台公園", "みなと図書館", "東湊赤レンガ広場"),
         "東湊駅", "潮見川", "汐見台小学校", "東湊区総合病院", "みなとん", "東湊みなと祭", "",
         "汐見台ベーカリー", "東湊ジャーナル", (35.45, 139.65), ("東湊区", "東湊"), ("東湊区災害", "東湊区防災")),
    Town("shirasagi", "白鷺市", "しらさぎし", "白鷺", "しらさぎ", "市", "mid", "兵庫県", ("兵庫県南西部",), "shirasagi",
         (_x("shirasagi_city", "白鷺市", "広報課", bio="兵庫県白鷺市の公式アカウントです。"),
          _bsky("shirasagi-city.bsky.social", "白鷺市役所（公式）", "広報課")),
         ("城北", "城南", "大手町", "西新町", "白鷺台", "東山"),
         ("白鷺城公園", "白鷺駅前商店街", "白鷺市民会館", "市立白鷺動物園", "白鷺総合体育館"),
         "白鷺駅", "白鷺川", "城北小学校", "県立白鷺病院", "しらさぎちゃん", "白鷺ゆかたまつり", "市立白鷺動物園",
         "白鷺珈琲", "白鷺新聞", (34.83, 134.69), ("白鷺市",), ("白鷺市災害", "白鷺市防災")),
    Town("nagumo", "南雲村", "なぐもむら", "南雲", "なぐも", "村", "small", "高知県", ("高知県中部",), "nagumo",
         (_x("nagumo_village", "南雲村役場", "総務課", bio="高知県南雲村の公式アカウントです。"),),
         ("上南雲", "下南雲", "大平", "柳瀬", "奥谷"),
         ("南雲村役場", "道の駅なぐも", "南雲大橋", "村営キャンプ場", "南雲ふれあいセンター"),
         "南雲バス停", "南雲川", "南雲小中学校", "南雲村診療所", "なぐもっち", "南雲川まつり", "",
         "なぐも商店", "高知ローカル", (33.60, 133.40), ("南雲村",), ("南雲村災害",)),
    Town("hanasaki", "花咲市", "はなさきし", "花咲", "はなさき", "市", "large", "千葉県", ("千葉県北西部",), "hanasaki",
         (_x("hanasaki_pr", "花咲市役所 広報課", "広報課", bio="千葉県花咲市の公式アカウントです。"),
          _bsky("hanasaki-city.bsky.social", "花咲市", "広報課"),
          _masto("hanasaki_city", "花咲市公式", "mastodon-japan.net", "広報課")),
         ("花咲台", "若葉町", "海浜", "東花咲", "西花咲", "緑が丘", "新田"),
         ("花咲運動公園", "花咲海浜公園", "市民文化ホール", "花咲中央図書館", "花咲マリンタワー"),
         "花咲駅", "花見川", "花咲台小学校", "花咲市立病院", "はなさきっず", "花咲市民花火大会", "花咲市動植物園",
         "花咲ベーカリー", "花咲タウン通信", (35.65, 140.05), ("花咲市", "花咲花火"), ("花咲市災害", "花咲市防災")),
    Town("miyaura", "宮浦市", "みやうらし", "宮浦", "みやうら", "市", "mid", "福岡県", ("福岡県福岡地方",), "miyaura",
         (_x("miyaura_city", "宮浦市役所", "広報戦略課", bio="福岡県宮浦市の公式アカウントです。"),
          _masto("miyaura_city", "宮浦市【公式】", "fedibird.com", "広報戦略課")),
         ("宮浦", "浜町", "松原", "天神前", "北宮", "南宮"),
         ("宮浦海岸", "宮浦市民センター", "宮浦八幡宮", "宮浦アリーナ", "市立宮浦図書館"),
         "宮浦駅", "宮浦川", "宮浦小学校", "宮浦市民病院", "みやうらん", "宮浦みなとまつり", "",
         "宮浦ラーメン本舗", "宮浦ニュース", (33.60, 130.40), ("宮浦市",), ("宮浦市災害",)),
    Town("nishihama", "西浜区", "にしはまく", "西浜", "にしはま", "区", "large", "大阪府", ("大阪府",), "nishihama",
         (_x("nishihama_ward", "西浜区役所", "総務課", bio="大阪市西浜区の公式アカウントです。"),
          _bsky("nishihamaku.bsky.social", "西浜区役所（公式）", "総務課")),
         ("西浜", "千鳥町", "南港通", "島屋", "九条北", "春日出"),
         ("西浜区民センター", "千鳥公園", "西浜商店街", "南港フェリーターミナル", "西浜スポーツセンター"),
         "西浜駅", "安治浜川", "千鳥小学校", "西浜区医療センター", "にしはまるん", "西浜ふれあい祭", "",
         "西浜たこ焼き本舗", "なにわ西浜新聞", (34.67, 135.45), ("西浜区",), ("西浜区災害", "西浜区防災")),
    Town("tsurumisawa", "鶴見沢町", "つるみさわまち", "鶴見沢", "つるみさわ", "町", "small", "山形県", ("山形県村山",),
         "tsurumisawa",
         (_x("tsurumisawa_t", "鶴見沢町役場", "企画課", bio="山形県鶴見沢町の公式アカウントです。"),),
         ("本郷", "新町", "上ノ山", "沢口", "鶴田"),
         ("鶴見沢町民体育館", "鶴見沢温泉", "町立図書館", "鶴見沢農産物直売所", "鶴見沢中央公園"),
         "鶴見沢駅", "最上沢川", "鶴見沢小学校", "町立鶴見沢病院", "つるみん", "鶴見沢花笠まつり", "",
         "そば処つるみ", "やまがた里山新聞", (38.40, 140.20), ("鶴見沢町",), ("鶴見沢町災害", "鶴見沢町防災")),
    Town("midorigaoka", "緑ヶ丘市", "みどりがおかし", "緑ヶ丘", "みどりがおか", "市", "large", "東京都", ("東京都多摩北部",),
         "midorigaoka",
         (_x("midorigaoka_pr", "緑ヶ丘市", "秘書広報課", bio="東京都緑ヶ丘市の公式アカウントです。"),
          _bsky("midorigaoka.bsky.social", "緑ヶ丘市役所", "秘書広報課"),
          _masto("midorigaoka", "緑ヶ丘市（公式）", "mstdn.jp", "秘書広報課")),
         ("緑町", "本町", "東緑ヶ丘", "西緑ヶ丘", "富士見台", "けやき台"),
         ("緑ヶ丘中央公園", "緑ヶ丘市民会館", "けやき通り", "緑ヶ丘駅前図書館", "緑ヶ丘総合体育館"),
         "緑ヶ丘駅", "柳瀬川", "けやき台小学校", "緑ヶ丘市立病院", "みどりん", "緑ヶ丘けやき祭り", "",
         "けやき珈琲店", "多摩北ニュース", (35.75, 139.45), ("緑ヶ丘市",), ("緑ヶ丘市災害", "緑ヶ丘市防災")),
    Town("asahino", "朝日野市", "あさひのし", "朝日野", "あさひの", "市", "mid", "熊本県", ("熊本県熊本地方",), "asahino",
         (_x("asahino_city", "朝日野市役所", "広報課", bio="熊本県朝日野市の公式アカウントです。"),
          _bsky("asahino-city.bsky.social", "朝日野市 危機管理防災課", "危機管理防災課")),
         ("本町", "水前", "健軍台", "東朝日野", "西原", "江津"),
         ("朝日野城跡", "朝日野市民会館", "江津公園", "朝日野総合運動公園", "朝日野動植物園"),
         "朝日野駅", "白川", "朝日野小学校", "朝日野中央病院", "あさぴー", "朝日野火の国まつり", "朝日野動植物園",
         "朝日野だご屋", "くまもと朝日野タイムズ", (32.80, 130.75), ("朝日野市",), ("朝日野市災害", "朝日野市防災")),
    # ----- variant bank -----
    Town("hoshimi", "星見町", "ほしみちょう", "星見", "ほしみ", "町", "small", "北海道", ("十勝地方",), "hoshimi",
         (_x("hoshimi_town", "星見町", "企画課", bio="北海道星見町の公式アカウントです"),),
         ("本通", "旭", "星ヶ丘", "東1線", "西2線"),
         ("星見町民センター", "星見天文台", "道の駅ほしみ", "星見スキー場", "星見町図書館"),
         "星見駅", "十勝星見川", "星見小学校", "星見町立病院", "ほっしー", "星見夏まつり", "",
         "星見チーズ工房", "十勝ほしみ新聞", (42.90, 143.20), ("星見町",), ("星見町災害",)),
    Town("shiomi", "潮見市", "しおみし", "潮見", "しおみ", "市", "mid", "千葉県", ("千葉県南部",), "shiomi",
         (_x("shiomi_koho", "潮見市 広報", "秘書広報課", bio="千葉県潮見市の広報アカウント"),
          _bsky("shiomi.bsky.social", "潮見市", "秘書広報課")),
         ("潮見", "東浜", "岬町", "松ケ丘", "北条台", "汐入"),
         ("潮見海浜公園", "潮見市民ホール", "潮見港", "潮見フラワーパーク", "潮見市立図書館"),
         "潮見駅", "潮見川", "潮見東小学校", "潮見市立病院", "しおみん", "潮見港まつり", "",
         "潮見港食堂", "房総しおみ新聞", (35.00, 139.90), ("潮見市",), ("潮見市災害", "潮見市防災")),
    Town("sakuradai", "桜台区", "さくらだいく", "桜台", "さくらだい", "区", "large", "愛知県", ("愛知県西部",), "sakuradai",
         (_x("sakuradai_ward", "桜台区役所", "区政課", bio="名古屋市桜台区の公式アカウントです"),
          _bsky("sakuradai-ward.bsky.social", "桜台区役所", "区政課"),
          _masto("sakuradai_ku", "桜台区", "mstdn.jp", "区政課")),
         ("桜台", "大曽根北", "千種台", "葵町", "今池西", "砂田"),
         ("桜台区役所", "桜台公園", "桜台スポーツセンター", "葵町商店街", "桜台図書館"),
         "桜台駅", "矢田川", "桜台小学校", "桜台区総合病院", "さくらっち", "桜台まつり", "",
         "喫茶さくら", "なごや桜台ニュース", (35.18, 136.95), ("桜台区",), ("桜台区災害",)),
    Town("yamabuki", "山吹市", "やまぶきし", "山吹", "やまぶき", "市", "mid", "静岡県", ("静岡県中部",), "yamabuki",
         (_x("yamabuki_city", "山吹市役所", "広報課", bio="静岡県山吹市の公式アカウントです"),
          _masto("yamabuki_city", "山吹市（公式）", "mastodon-japan.net", "広報課")),
         ("山吹", "茶町", "駿河台", "丸子", "東山吹", "新富"),
         ("山吹城跡公園", "山吹市民文化会館", "山吹サファリパーク", "茶町商店街", "山吹駅南口広場"),
         "山吹駅", "安倍山吹川", "駿河台小学校", "山吹市立病院", "やまぶっきー", "山吹お茶まつり", "山吹サファリパーク",
         "山吹茶房", "しずおか山吹新報", (34.97, 138.38), ("山吹市",), ("山吹市災害", "山吹市防災")),
    Town("okutani", "奥谷村", "おくたにむら", "奥谷", "おくたに", "村", "small", "岐阜県", ("岐阜県飛騨地方",), "okutani",
         (_x("okutani_vil", "奥谷村役場", "総務課", bio="岐阜県奥谷村の公式アカウント"),),
         ("上奥谷", "中奥谷", "下奥谷", "平湯口", "大沢"),
         ("奥谷村役場", "奥谷温泉", "奥谷ダム", "村民グラウンド", "奥谷郷土館"),
         "奥谷バス停", "奥谷川", "奥谷小学校", "奥谷診療所", "おくたにゃん", "奥谷かがり火まつり", "",
         "奥谷屋", "飛騨山里ニュース", (36.20, 137.30), ("奥谷村",), ("奥谷村災害",)),
    Town("kazahaya", "風早市", "かざはやし", "風早", "かざはや", "市", "large", "広島県", ("広島県南部",), "kazahaya",
         (_x("kazahaya_city", "風早市", "シティプロモーション課", bio="広島県風早市の公式アカウント"),
          _bsky("kazahayacity.bsky.social", "風早市役所", "シティプロモーション課"),
          _masto("kazahaya", "風早市 公式", "mstdn.jp", "シティプロモーション課")),
         ("風早", "港町", "本通", "西条台", "海田北", "宇品東"),
         ("風早港", "風早市民球場", "風早中央公園", "本通商店街", "風早市立美術館"),
         "風早駅", "風早川", "本通小学校", "風早市民病院", "かざぴょん", "風早みなと花火", "",
         "風早お好み焼き", "ひろしま風早日報", (34.35, 132.55), ("風早市", "風早"), ("風早市災害", "風早市防災")),
    Town("iwahashi", "岩橋市", "いわはしし", "岩橋", "いわはし", "市", "mid", "新潟県", ("新潟県下越",), "iwahashi",
         (_x("iwahashi_koho", "岩橋市役所", "広報広聴課", bio="新潟県岩橋市の公式アカウントです"),
          _bsky("iwahashi.bsky.social", "岩橋市", "広報広聴課")),
         ("岩橋", "上町", "下町", "白山", "川岸", "新潟口"),
         ("岩橋城址", "岩橋市民プラザ", "岩橋総合体育館", "川岸公園", "岩橋市立図書館"),
         "岩橋駅", "岩橋川", "白山小学校", "岩橋総合病院", "いわっち", "岩橋灯籠まつり", "",
         "岩橋米菓", "越後いわはし新聞", (37.90, 139.20), ("岩橋市",), ("岩橋市災害",)),
    Town("shioiri", "潮入区", "しおいりく", "潮入", "しおいり", "区", "large", "東京都", ("東京都23区",), "shioiri",
         (_x("shioiri_tokyo", "潮入区", "広報課", bio="東京都潮入区の公式アカウントです"),
          _bsky("shioiri-city.bsky.social", "潮入区役所", "広報課")),
         ("潮入", "北砂町", "亀島", "東雲台", "木場西", "新大橋"),
         ("潮入区民センター", "亀島公園", "潮入運河", "東雲台図書館", "潮入スポーツセンター"),
         "潮入駅", "潮入運河", "亀島小学校", "潮入区立病院", "しおりん", "潮入運河まつり", "",
         "亀島もんじゃ", "下町しおいり新聞", (35.67, 139.80), ("潮入区",), ("潮入区災害", "潮入区防災")),
    Town("yukimori", "雪森町", "ゆきもりまち", "雪森", "ゆきもり", "町", "small", "青森県", ("青森県津軽",), "yukimori",
         (_x("yukimori_town", "雪森町役場", "総務企画課", bio="青森県雪森町の公式アカウントです"),),
         ("本町", "雪森", "岩木口", "藤崎沢", "川原"),
         ("雪森町民センター", "りんご公園", "雪森温泉", "町立雪森図書館", "道の駅ゆきもり"),
         "雪森駅", "岩木雪森川", "雪森小学校", "雪森町立病院", "ゆきもりん", "雪森ねぷた", "",
         "雪森りんご園", "津軽ゆきもり新報", (40.70, 140.40), ("雪森町",), ("雪森町災害", "雪森町防災")),
    Town("hikarigahara", "光が原市", "ひかりがはらし", "光が原", "ひかりがはら", "市", "large", "埼玉県", ("埼玉県北部",),
         "hikarigahara",
         (_x("hikarigahara_pr", "光が原市", "広報課", bio="埼玉県光が原市の公式アカウント"),
          _bsky("hikarigahara.bsky.social", "光が原市役所", "広報課"),
          _masto("hikarigahara", "光が原市", "mstdn.jp", "広報課")),
         ("光が原", "本町", "新光", "北光", "東雲", "栄町"),
         ("光が原中央公園", "光が原市民会館", "光が原アリーナ", "栄町商店街", "光が原図書館"),
         "光が原駅", "元荒川", "北光小学校", "光が原市民病院", "ひかりん", "光が原七夕まつり", "",
         "光が原ベーカリー", "さいたま北ニュース", (36.10, 139.40), ("光が原市",), ("光が原市災害", "光が原市防災")),
    Town("kasumino", "霞野市", "かすみのし", "霞野", "かすみの", "市", "mid", "茨城県", ("茨城県南部",), "kasumino",
         (_x("kasumino_city", "霞野市役所", "広報広聴課", bio="茨城県霞野市の公式アカウントです"),
          _bsky("kasumino.bsky.social", "霞野市", "広報広聴課")),
         ("霞野", "桜川", "学園東", "土浦口", "並木", "若栗"),
         ("霞野駅前広場", "霞野市民会館", "霞ヶ浦ふれあい公園", "霞野総合運動公園", "霞野動物ふれあい園"),
         "霞野駅", "桜川", "並木小学校", "霞野医療センター", "かすみん", "霞野れんこん祭り", "霞野動物ふれあい園",
         "霞野れんこん亭", "いばらき霞野新聞", (36.05, 140.15), ("霞野市",), ("霞野市災害",)),
)}

