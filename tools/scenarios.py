"""Labelled scenario generator: municipalities, their traffic, episodes and hard negatives.

Pure Python (standard library only) and deterministic from a seed. It writes
contract events (../shared/contracts/events.md) for invented municipalities of
three sizes, with

* ordinary traffic that follows a day/night rhythm (quiet nights, peaks at
  lunch and in the evening, a slightly different weekend), replies to the
  city's own posts, chatter that names the city, on x, bluesky and mastodon;
* labelled episodes: 炎上 flame-ups (slow, medium, big and fast), なりすまし
  impersonation (confusable handles, look-alike names, a copied bio and a close
  avatar hash, scam posts), デマ misinformation (paraphrases, reposts, quotes,
  also during a disaster) and 災害 disaster surges on the disaster hashtag;
* unlabelled hard negatives the detectors must stay quiet on (praise going
  viral, a festival, a disaster's flood of questions to the city, the everyday
  trickle of complaints, one angry person, look-alike but honest accounts,
  shares of the city's announcement, a widely shared news link, drills, a
  disaster elsewhere).

Texts are composed from two independent phrase banks, ``bank="main"`` (the
committed suite in tests/scenarios) and ``bank="variant"`` (tests/scenarios-variant),
which also differ in municipalities and timing, so that a detector tuned on one
can be checked on the other.

    python -m tools.scenarios OUT_DIR [--seed N] [--bank main|variant]

API: ``generate_suite(out_dir, seed=1, bank="main")``, ``generate(name, spec, seed)``
and ``week_of_traffic(profile, start, seed, episodes=True)`` (a lazy iterator).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import heapq
import json
import math
import random
import re
import sys
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

JST = timezone(timedelta(hours=9))
MINUTE = 60
HOUR = 3600
DAY = 86400
BANK_NAMES = ("main", "variant")

# --- small pure helpers ----------------------------------------------------------


def iso(t: float) -> str:
    """POSIX seconds → RFC 3339 in Japan time, whole seconds."""
    return datetime.fromtimestamp(int(t), JST).isoformat()


def _digest(text: str, size: int = 8) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def hex16(text: str) -> str:
    """A stable 64-bit perceptual-hash-like value (16 hex digits) for an avatar."""
    return _digest("avatar|" + text).hex()


def flip_bits(phash: str, bits: int, rng: random.Random) -> str:
    """The hash with `bits` distinct bits flipped: a re-encoded copy of the same picture."""
    value = int(phash, 16)
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return f"{value:016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_B32[value & 31])
        value >>= 5
    return "".join(reversed(out))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def arrivals(rng: random.Random, start: float, n: int, peak_s: float, shape: float) -> list[int]:
    """`n` sorted times after `start` whose rate rises to a peak at `peak_s` and decays.

    The density t^k·e^(-k·t/peak) is a gamma(k+1, peak/k) distribution: k≈1 is a
    gentle swell, k≈3 a sharp burst.
    """
    scale = peak_s / shape
    return sorted(int(start + rng.gammavariate(shape + 1, scale)) for _ in range(n))


_HASHTAG = re.compile(r"[#＃]([^\s#＃、。,.!?！？「」()（）\[\]【】]+)")
_URL = re.compile(r"https?://[^\s　]+")


def onset(rng: random.Random, start: float, rates: tuple[float, float], counts: tuple[int, int]) -> list[int]:
    """Times of the posts that follow an episode's first one at a steady rate (per minute):
    gaps within ±50 % of the mean, as in the contract's sample, not Poisson's long silences."""
    gap = MINUTE / rng.uniform(*rates)
    times, t = [], float(start)
    for _ in range(rng.randint(*counts)):
        t += gap * rng.uniform(.5, 1.5)
        times.append(int(t))
    return times


def hashtags_in(text: str) -> list[str]:
    """The contract's own rule (vocabulary.contract.hashtags_in), kept here without imports."""
    return list(dict.fromkeys(unicodedata.normalize("NFKC", m) for m in _HASHTAG.findall(text)))


def urls_in(text: str) -> list[str]:
    return _URL.findall(text)


_ALT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def expand(template: str, rng: random.Random, slots: dict[str, Any], depth: int = 0) -> str:
    """Fill a template: ``[a|b|c]`` picks one alternative, ``{name}`` a slot value.

    A slot holding a tuple or list picks one of its items; values may themselves
    contain alternatives and slots.
    """
    text = _ALT.sub(lambda m: rng.choice(m.group(1).split("|")), template)

    def slot(m: re.Match[str]) -> str:
        value = slots[m.group(1)]
        if isinstance(value, (tuple, list)):
            value = rng.choice(value)
        value = str(value)
        if depth < 4 and ("{" in value or "[" in value):
            value = expand(value, rng, slots, depth + 1)
        return value

    return _SLOT.sub(slot, text)


_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F) if chr(c).isalnum()}


def full_width(text: str) -> str:
    return text.translate(_FULLWIDTH)


def typo(rng: random.Random, text: str) -> str:
    """One small slip of the thumb: a dropped, doubled or swapped character."""
    if len(text) < 6:
        return text
    i = rng.randrange(1, len(text) - 2)
    op = rng.randrange(5)
    if op == 0:
        return text[:i] + text[i + 1:]
    if op == 1:
        return text[:i] + text[i] + text[i:]
    if op == 2:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if op == 3 and "ー" in text:
        return text.replace("ー", "〜", 1)
    return text.replace("。", "｡", 1) if "。" in text else text + "、"


# --- municipalities ------------------------------------------------------------------

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


# --- phrase banks ------------------------------------------------------------------
# Two independent banks. Templates use [a|b] for alternatives and {slot} for the
# municipality's names and places (Town.slots) or the episode's own values.
# The variant bank shares no complete criticism or rumour sentence with the main one.

MAIN: dict[str, Any] = {
    "emoji_happy": ("😊", "✨", "🙏", "👍", "🥰", "😆", "🌸", "🎉", "☺️", "💕"),
    "emoji_angry": ("😡", "💢", "🙄", "😤", "🤬", "👎", "😑"),
    "emoji_sad": ("😢", "😭", "💦", "😞", "🥲"),
    "emoji_scared": ("😱", "😨", "⚠️", "‼️", "🙏", "💦"),
    "official_routine": (
        "【{city}】[来月|今月]の[健康相談|子育て相談|税務相談]の日程をお知らせします。詳しくはホームページをご覧ください。",
        "【お知らせ】{landmark}は[設備点検|清掃作業]のため、[明日|今週土曜日]は一部ご利用いただけません。",
        "【募集】{festival}の[ボランティア|出店者]を募集しています。締切は[今月末|来週金曜日]です。",
        "【{city}】{river}沿いの[桜|菜の花|紅葉]が見頃を迎えています🌸 ぜひお散歩にどうぞ。",
        "【ごみ収集】年末年始のごみ収集日程を掲載しました。お住まいの地区のカレンダーをご確認ください。",
        "【{city}】{mascot}が{landmark}に遊びに来ました！",
        "【道路情報】{place}の[水道工事|舗装工事]に伴い、[明日から|来週]一部通行止めとなります。",
        "【子育て】{school}で[親子で楽しむ工作教室|読み聞かせ会]を開催します。申込は[電話|専用フォーム]で受け付けています。",
        "【{city}】マイナンバーカードの休日窓口を今週日曜日に開設します。",
        "【お知らせ】{office}の窓口混雑状況をホームページで公開しています。",
        "【{city}】{station}前広場で[朝市|フリーマーケット]を開催します。",
        "【健康】[特定健診|がん検診]の受診期間は[今月末|来月15日]までです。お早めにどうぞ。",
    ),
    "reply_ordinary": (
        "ありがとうございます！", "いつも情報ありがとうございます", "助かります🙏", "申し込みました",
        "{landmark}、週末行ってみます", "これって{resident}じゃなくても参加できますか？",
        "駐車場はありますか？", "詳しいページのリンクはありますか？", "子ども連れでも大丈夫ですか？",
        "楽しみにしてます！", "去年も参加しました。良かったです", "了解です", "わかりやすい告知ありがとうございます",
        "何時からですか？", "オンラインでも申し込めますか", "{mascot}[かわいい|今日もかわいい]",
        "{place}からだとバスで行けますか？", "うちの地区にも来てほしいな", "お疲れさまです",
        "この前の件、対応ありがとうございました", "写真きれいですね", "{short}の良さがもっと広まるといいな",
        "予約いっぱいでした…次回に期待", "ポスター見ました！", "家族で行きます", "さっそくカレンダーに書きました",
    ),
    "reply_mild": (
        "もう少し早く告知してほしかったです", "リンク切れてるみたいです", "平日だけだと行けないな…",
        "文字が小さくて読みにくいです", "去年より規模小さい？", "電話がなかなかつながらなかった",
        "ホームページのどこに書いてあるかわからない", "土日もやってほしいです",
    ),
    "chatter": (
        "{city}の{landmark}、[今日|週末は]混んでた", "{short}の夕焼けきれい #{tag}",
        "{city}のコミュニティバス、[本数増えないかな|時刻表変わった？]", "{place}のパン屋さん美味しかった #{tag}",
        "{city}に引っ越して[1年|3年|半年]。住みやすい", "{station}前の工事いつ終わるんだろ",
        "{city}の粗大ごみ、ネットで申し込めて便利", "{short}、今日めちゃくちゃ[寒い|暑い]",
        "{river}沿いを散歩 #{tag}", "{festival}のポスター貼ってあった", "{city}のふるさと納税の返礼品届いた！",
        "{landmark}でランチ #{tag}", "{mascot}のグッズ欲しい", "{short}の図書館で勉強中",
        "{office}で住民票とってきた", "{place}の公園、遊具が新しくなってた", "{city}のごみ分別ややこしい",
        "{short}に美味しいラーメン屋ある？", "明日{station}で待ち合わせ", "{short}の空気がおいしい季節",
        "{city}の広報誌、今月の特集おもしろかった", "{place}の桜並木 #{tag}", "{short}の商店街、新しいお店できてた",
    ),
    "mention_official": (
        "@{official} [粗大ごみ|資源ごみ]の出し方を教えてください", "@{official} {landmark}の開館時間は何時までですか？",
        "@{official} {place}の街灯が切れています", "@{official} いつも楽しい投稿ありがとうございます",
        "@{official} {festival}の日程はもう決まってますか？",
    ),
    "quote_official": ("これ行きたい", "メモ", "知らなかった", "家族に共有", "いいね", "便利そう"),
    "complaint": (
        "{office}の窓口、今日も[30分|1時間]待ち。なんとかしてほしい", "また{place}で道路工事。いつまでやるの",
        "ゴミ収集車が来るのが遅すぎる", "{landmark}の駐車場が狭すぎる", "税金の無駄遣いはやめてほしい",
        "{station}前の放置自転車どうにかして", "街灯が切れたままです。前にも言いましたよね",
        "この前の回答、全然答えになってない", "{head}の公約どうなったの", "広報誌読みにくい",
        "子育て支援がもっと欲しい", "公園の草刈りまだですか", "こういう投稿する暇があったら道路直して",
    ),
    "flame_triggers": (
        ("PR動画", "【{city}】新しいPR動画を公開しました！テーマは『{short}のお母さんは今日も台所で家族を待つ』。ぜひご覧ください"),
        ("ポスター", "【{city}】{festival}のポスターが完成しました！今年は浴衣姿の女子高生キャラが「おもてなし」します"),
        ("キャンペーン", "【{city}】移住促進キャンペーン『{short}で婚活！30歳までにお嫁においで』を始めました💍"),
        ("マスコット動画", "【{city}】{mascot}がダイエットに挑戦！『太ってると{mascot}の仲間になれない』篇を公開しました"),
        ("モニュメント", "【{city}】{landmark}に総工費2億円の巨大{mascot}像を設置することが決まりました！"),
        ("広報誌の記事", "【{city}】広報誌の特集『障がいがあっても笑顔で頑張る人たち』をウェブでも公開しました"),
    ),
    "flame_triggers_disaster": (
        ("投稿", "【{city}】台風なんかに負けない！本日の{festival}PRイベントは予定どおり開催します🎉 みんな来てね"),
        ("投稿", "【{city}】雨の日は{mascot}と一緒におうちでゴロゴロ☔ 今日はのんびりいきましょう〜"),
    ),
    "crit_open": ("は？", "いや、", "正直、", "これ、", "えっ", "うーん。", "ちょっと待って。", "マジで", "{resident}ですが、"),
    "crit_core": (
        "この{topic}、[完全に|どう見ても|さすがに]不適切[でしょ|だと思います|です]", "謝罪しろ", "[まず|今すぐ]謝罪[しろ|すべき]",
        "これは税金の無駄[遣い|]では", "税金の無駄遣い[にも程がある|でしかない]", "誰が承認した[の|んですか|んだよ]",
        "この{topic}を誰が承認したのか[明らかにしてください|知りたい]", "説明責任を果たしてください",
        "{office}は説明責任から逃げないで", "センスがない[にも程がある|、担当を変えて]", "センスがなさすぎて[笑えない|恥ずかしい]",
        "[このご時世に|今]これを出すのは不謹慎[です|すぎる|では]", "時代錯誤[も甚だしい|な{topic}ですね]",
        "令和にこれは時代錯誤", "差別的な表現が含まれています", "[明らかに|]差別的だと思う", "[{topic}の|]撤回を求めます",
        "[即刻|早急に]撤回してください", "ありえない", "[こういうの|これ]、誰もおかしいと思わなかったの",
        "住民として恥ずかしい", "{short}に住んでるけど、これは[ないわ|恥ずかしい]", "ふるさと納税するのやめます",
        "抗議の電話入れました", "削除して終わりにしないでくださいね", "炎上して当然", "不快です",
        "担当課は何を考えてるの", "これは問題[だと思う|でしょう]", "ひどすぎる", "本当に残念な{topic}",
    ),
    "crit_question": (
        "これ、どういう意図で作ったんですか", "チェック体制はどうなってるんですか", "何人がこれを見てOK出したの",
        "内部で誰も止めなかったんですか", "この{topic}にいくら使ったんですか", "誰向けの{topic}なの",
    ),
    "crit_sarcasm": (
        "さすが{short}、期待を裏切らない", "{topic}で移住者が増えるといいですね（棒）", "ここまで来ると逆に才能",
        "センス光ってますね（皮肉）", "{office}の皆さん、令和へようこそ", "昭和の広報ポスターかと思った",
    ),
    "crit_head": (
        "{head}はこれを見てどう思ってるんですか", "{head}のコメントを求めます", "{head}は責任を取るべき",
        "{head}、これ本当にOKしたんですか", "{head}は説明してください",
    ),
    "crit_close": ("がっかりです", "本当に残念", "呆れた", "失望しました", "情けない", "最低"),
    "flame_support": (
        "そこまで叩くことかな", "個人的には面白いと思ったけど", "担当の人も大変だね", "騒ぎすぎでは",
        "意図はわかる気がする", "削除までしなくていいのでは", "{short}好きだから応援してる",
    ),
    "apology_post": (
        "【お詫び】先ほど公開した{topic}について、不快な思いをされた皆様に深くお詫び申し上げます。公開を停止し、内容を見直します。",
        "【{city}】{topic}に関して多くのご意見をいただきました。配慮に欠ける表現があったことをお詫びいたします。",
    ),
    "apology_reply": (
        "早い対応で良かったと思います", "謝って済む話？", "何が悪かったのか本当にわかってる？", "再発防止策を示してください",
        "お疲れさまです、次に期待してます", "削除しただけじゃ意味ないよ", "経緯の説明もお願いします",
    ),
    "praise_post": (
        "【{city}】今朝の{river}、霧がとても幻想的でした。今日も一日よろしくお願いします",
        "{mascot}が{station}で一日駅長をつとめました！",
        "【{city}】職員が描いた{mascot}のイラストです。壁紙にどうぞ",
        "【{city}】{landmark}から見た夕焼けです。今日も一日お疲れさまでした",
        "【{city}】{school}の子どもたちが{mascot}と一緒に花を植えてくれました🌷",
    ),
    "praise_reply": (
        "素敵すぎる", "癒やされました", "{short}に住んでてよかった", "最高の一枚", "{mascot}かわいすぎる",
        "担当の方のセンス好き", "保存しました", "毎日の楽しみです", "また見たい", "これは推せる",
        "地元民として誇らしい", "ありがとうございます、元気出ました", "壁紙にしました", "天才では",
        "ほっこりした", "{short}行きたくなった", "めちゃくちゃいい写真", "朝から幸せ", "実家を思い出しました",
        "こういう投稿大好きです", "素晴らしい", "泣いた", "いいね100回押したい",
    ),
    "praise_quote": ("これは良い", "{short}の広報、いい仕事してる", "みんな見て", "地元の誇り", "この写真好き"),
    "praise_sour": ("こういうのに税金使うのはどうなんだろう", "写真はいいけど道路も直してね"),
    "festival_post": (
        "{festival}きた！ #{tag}", "屋台多すぎて迷う #{tag}", "{festival}の花火きれい🎆 #{tag}", "今年の{festival}最高だった",
        "{mascot}いた！ #{tag}", "浴衣で{festival} #{tag}", "ステージのダンス良かった #{tag}", "{festival}、毎年楽しみにしてる",
        "焼きそばとかき氷で優勝 #{tag}", "子どもが金魚すくいに夢中 #{tag}", "久しぶりに地元の友達に会えた #{tag}",
    ),
    "festival_crowd": (
        "人多すぎて全然進まない #{tag}", "トイレ大行列…", "駐車場満車で30分ぐるぐるしてる", "シャトルバス1時間待ちはきつい",
        "ゴミのポイ捨て多いのは残念 #{tag}", "暑すぎて倒れそう #{tag}", "帰りの{station}が激混み",
    ),
    "festival_official": (
        "【{festival}】本日開催！会場周辺は大変混雑しています。公共交通機関をご利用ください #{tag}",
        "【{festival}】シャトルバスの待ち時間は現在約40分です #{tag}",
        "【{festival}】花火は予定どおり19時30分から打ち上げます #{tag}",
        "【{festival}】ご来場ありがとうございました！ #{tag}",
    ),
    "festival_reply": (
        "ありがとうございました！", "帰りのバスも増便してほしい", "来年も楽しみ", "臨時駐車場はまだ空いてますか？",
        "スタッフの皆さんお疲れさまでした", "迷子センターはどこですか？",
    ),
    "announce_post": (
        "【{city}】プレミアム付商品券の申込受付を開始しました。1冊1万円で1万3千円分使えます。申込は{home}/shohinken から",
        "【{city}】子育て応援給付金（子ども1人あたり3万円）の申請受付を開始しました。詳しくは{home}/kyufu をご覧ください",
        "【{city}】{landmark}が来月リニューアルオープンします。オープニングイベントの詳細は{home}/event へ",
    ),
    "announce_reaction": (
        "申し込んだ！", "これはお得", "去年すぐ売り切れたから急がないと", "家族の分も申し込みます", "助かる〜",
        "ありがたい", "待ってました", "リニューアル楽しみ", "周りにも教えよう",
    ),
    "announce_question": ("紙の申込書はどこでもらえますか？", "申請の締切はいつですか？", "引っ越してきたばかりでも対象ですか？"),
    "news_headline": (
        "{city}、{landmark}の隣に新図書館 2028年開館へ", "{city}の「{mascot}」、ご当地キャラ投票で全国3位",
        "{city}、給食費を来年度から無償化", "{station}周辺の再開発計画、概要が明らかに", "{city}出身の高校生、全国大会で優勝",
    ),
    "news_comment": ("おお", "これは嬉しい", "知らなかった", "{short}すごい", "ついに", "へー", "良いニュース", "地元が載ってる", ""),
    "drill_official": (
        "【訓練】本日{time}から{city}総合防災訓練を実施します。訓練用の緊急速報メールが届きますが、実際の災害ではありません #{dtag}",
        "【防災訓練のお知らせ】明日{time}、防災行政無線で訓練放送を行います #{dtag}",
        "【訓練】本日の防災訓練へのご参加ありがとうございました #{dtag}",
    ),
    "drill_resident": (
        "訓練のエリアメールびっくりした #{dtag}", "防災訓練参加してきた #{dtag}", "訓練の放送聞こえた #{dtag}",
        "{school}で避難訓練やってる #{dtag}", "訓練で消火器体験できて良かった #{dtag}", "非常持ち出し袋、見直さなきゃ #{dtag}",
    ),
    "minor_quake": (
        "揺れた？", "今ちょっと揺れたよね #{dtag}", "地震だ、けっこう揺れた", "{short}震度3だって", "小さい地震。びっくりした",
        "揺れたけど大丈夫そう #{tag}", "地震でネコが飛び起きた",
    ),
    "other_disaster": (
        "{other}で震度6弱って…大丈夫かな", "#{otag} 被害が少ないことを祈ります", "{other}の大雨、ニュースで見たけどひどい",
        "{short}からも支援できることないかな", "{other}に住んでる友達と連絡ついた、よかった",
        "{city}でも{other}への募金箱を置いてるらしい", "{other}の映像見て言葉が出ない #{otag}",
    ),
    "other_disaster_official": (
        "【{city}】{other}で発生した災害への義援金の受付を{office}で始めました。ご協力をお願いします",
        "【{city}】{other}の被災地支援のため、職員を派遣しました",
    ),
    "disaster_quake_now": (
        "揺れた！！ #{dtag}", "地震！！ #{dtag}", "今の地震でかい #{dtag}", "めっちゃ揺れてる #{dtag}", "え、地震？ #{dtag}",
        "{place}、かなり揺れた #{dtag}", "縦揺れきた #{dtag}", "緊急地震速報鳴った #{dtag}",
    ),
    "disaster_quake": (
        "揺れた！！ #{dtag}", "今の地震めっちゃ揺れた、{place} #{dtag}", "{place}、棚の物が全部落ちた #{dtag}",
        "{landmark}の前の道路にひび割れ #{dtag}", "ブロック塀が倒れてる、{place}{chome}丁目 #{dtag}",
        "水が出ない…断水？ #{dtag}", "{station}、電車止まってる #{dtag}", "余震こわい #{dtag}",
        "{place}でガスの臭いがする #{dtag}", "家族みんな無事です #{dtag}", "マンションのエレベーター止まった #{dtag}",
        "{school}の体育館に避難してます #{dtag}", "信号が消えてる、{place}の交差点 #{dtag}", "縦揺れやばかった #{dtag}",
    ),
    "disaster_rain": (
        "{river}の水位やばい #{dtag}", "{place}冠水してる #{dtag}", "道路が川みたいになってる、{place}{chome}丁目 #{dtag}",
        "{landmark}の前、膝まで水 #{dtag}", "土砂崩れで{place}の道が通れない #{dtag}", "雨の音がこわい #{dtag}",
        "アンダーパス冠水、車が立ち往生してる #{dtag}", "避難指示出た、{school}に向かいます #{dtag}",
        "マンホールから水があふれてる #{dtag}", "{river}、堤防ギリギリまで来てる #{dtag}",
    ),
    "disaster_typhoon": (
        "風やばい、{place}で看板が飛んでる #{dtag}", "倒木で{place}の道路ふさがってる #{dtag}", "ベランダの物が飛んでった #{dtag}",
        "{station}、電車全部止まった #{dtag}", "高潮で{landmark}付近が冠水 #{dtag}", "窓ガラス割れた #{dtag}",
        "{place}、屋根が飛ばされた家がある #{dtag}",
    ),
    "disaster_snow": (
        "大雪で車が埋まった #{dtag}", "{place}で立ち往生… #{dtag}", "除雪車まだ来ない #{dtag}",
        "屋根の雪下ろし、みなさん気をつけて #{dtag}", "雪で{station}の電車運休 #{dtag}",
    ),
    "disaster_general": (
        "{place}停電してます #{dtag}", "停電から3時間… #{dtag}", "断水してる地域ありますか？ #{dtag}",
        "{place}、今のところ被害なし #{dtag}", "避難所、人が増えてきた #{dtag}", "携帯の充電が心配 #{dtag}",
        "{short}のみなさん無事ですか #{dtag}",
    ),
    "rescue": (
        "助けてください、{place}{chome}丁目で閉じ込められています #{dtag} #救助",
        "【救助要請】{landmark}の近く、{place}{chome}丁目。高齢の母が2階に取り残されています。水が1階まで来ています #救助 #{dtag}",
        "{school}の近くで車ごと水につかって動けません。2人います #救助 #{dtag}",
        "{place}{chome}-[4|8|12]、家が倒れて父が下敷きになっています！助けてください #救助 #{dtag}",
    ),
    "disaster_official": (
        "【避難所開設】{school}、{landmark}に避難所を開設しました #{dtag}",
        "【給水】{landmark}で給水を行っています。容器をお持ちください #{dtag}",
        "【お知らせ】{place}で停電が発生しています。復旧の見込みは未定です #{dtag}",
        "【注意】SNS上の不確かな情報に注意してください。{city}からの情報は公式アカウントとホームページで発信します #{dtag}",
    ),
    "disaster_question": (
        "{school}の避難所は開いてますか？", "ペット連れでも避難できますか？", "給水車はどこに来ますか？",
        "{place}は避難指示の対象ですか？", "罹災証明の申請はいつからですか", "ゴミ出しは通常通りですか",
        "{station}からのバスは動いてますか？", "車中泊でも支援物資はもらえますか", "ボランティアの受付はありますか",
        "{landmark}の駐車場に車を停めてもいいですか？", "一人暮らしの親の安否確認はどこに問い合わせれば？",
        "{place}{chome}丁目はまだ停電してますか", "仮設トイレはどこにありますか",
    ),
    "disaster_frustration": ("電話がつながりません。どこに連絡すれば…", "情報がもう少し早いと助かります"),
    "rumour_markers": ("らしい", "拡散希望", "って聞いた", "本当？", "隠蔽", "友達の"),
    "rumours": (
        {"key": "water",
         "origin": ("【拡散希望】{city}の浄水場で薬品が漏れたらしい。しばらく水道水は飲まないで！",),
         "para": (
             "{short}の水道水、飲まない方がいいって聞いた", "{city}の水が汚染されてるって本当？",
             "友達のお父さんが水道局なんだけど、{short}の浄水場で事故あったって", "{place}の水道水が変な色らしい。浄水場の事故って話",
             "{city}の浄水場の事故、{office}が隠蔽してるっぽい", "水道水やばいらしいから水を買いに行ったら売り切れてた #{tag}",
             "拡散希望：{city}の人、水道水は煮沸してから使って", "{short}の浄水場で何かあったらしい。子どもに飲ませないで",
         ),
         "quote": ("これ本当？", "こわ…拡散します", "{place}住みだけど今朝普通に飲んだ…", "{office}からの発表まだ？"),
         "correction": "【{city}】SNSで「浄水場で薬品が漏れた」という情報が出回っていますが、事実ではありません。水道水は安全にお使いいただけます。"},
        {"key": "lunch",
         "origin": ("【拡散希望】{school}で給食の集団食中毒が出たらしい。明日から給食止めた方がいい",),
         "para": (
             "{city}の給食で集団食中毒らしいよ", "給食で食中毒が出たって聞いた、{short}の小学校", "{school}の子が何人も救急車で運ばれたって本当？",
             "友達の子が{school}に通ってるんだけど、給食のあと具合悪くなった子がたくさんいるって", "{city}、給食の食中毒を隠蔽してるらしい",
             "{short}の小学校の給食センターが原因らしい。うちの子も休ませる", "給食の食中毒、ニュースになってないのが怖い #{tag}",
         ),
         "quote": ("まじか", "うちの子も同じ給食センター…", "拡散します", "学校から連絡来てないけど本当？"),
         "correction": "【{city}】市内の小学校で食中毒が発生したという情報がSNS上にありますが、そのような事実はありません。"},
        {"key": "hospital",
         "origin": ("【拡散希望】{hospital}、来年3月で閉鎖されるらしい。{head}が決めたって",),
         "para": (
             "{hospital}なくなるって聞いた。どこ行けばいいの", "{hospital}が閉鎖って本当？", "友達の看護師さんが{hospital}は来年で閉めるって言ってた",
             "{hospital}閉鎖の話、議会で隠蔽されてるらしい", "{short}から病院がなくなるらしい #{tag}",
         ),
         "quote": ("え、本当に？", "困る…", "親が通ってるのに", "これ本当なら大問題"),
         "correction": "【{city}】{hospital}を閉鎖するという情報がSNSで広がっていますが、そのような計画はありません。"},
        {"key": "festival-cancel",
         "origin": ("【拡散希望】{festival}、会場で事故があって中止になったらしい",),
         "para": (
             "{festival}中止って聞いた", "{festival}中止って本当？ 今向かってるんだけど", "友達の知り合いがスタッフで、{festival}は中止だって",
             "{festival}、{landmark}で事故があって中止らしい #{tag}", "{festival}中止なのに発表しないのは隠蔽では",
         ),
         "quote": ("え、まじ？", "もう着いちゃったんだけど", "公式まだ何も言ってないよね？"),
         "correction": "【{festival}】SNSで「中止」という情報が出ていますが、事実ではありません。予定どおり開催しています。 #{tag}"},
        {"key": "bridge",
         "origin": ("【拡散希望】{river}にかかる橋にひびが入って、もうすぐ崩れるらしい。通らないで！",),
         "para": (
             "{river}の橋、崩れそうって聞いた", "{river}の橋がもうすぐ通行止めって本当？", "友達の旦那さんが工事関係で、{river}の橋は危ないって",
             "{short}の橋の老朽化、{office}は隠蔽してたらしい", "{river}の橋ひび割れてるらしいから遠回りしてる #{tag}",
         ),
         "quote": ("こわ", "毎日通ってるんだけど…", "本当なら早く通行止めにして"),
         "correction": "【{city}】{river}の橋が崩れるという情報がありますが、点検の結果、安全に通行できます。"},
    ),
    "disaster_rumours": (
        {"key": "lion",
         "origin": ("おいふざけんな、地震のせいで{zoo}からライオン放たれたんだが #{dtag}",),
         "para": (
             "{zoo}のライオンが逃げたらしい！{place}の人は外に出ないで #{dtag}", "拡散希望 {zoo}から猛獣が脱走したって聞いた",
             "ライオンが{place}の道路を歩いてるって本当？ #{dtag}", "友達から{zoo}のライオン逃げたってLINE来た",
             "ライオン脱走の件、{office}が隠蔽してるんじゃ… #{dtag}", "地震で{zoo}の檻が壊れてライオンが逃げたらしい",
         ),
         "quote": ("え、本当？", "外に出られない…", "子どもを外で遊ばせないで！拡散", "写真やばい"),
         "correction": "【{city}】「{zoo}からライオンが逃げた」という情報はデマです。動物園の動物はすべて無事に確認されています #{dtag}"},
        {"key": "dam",
         "origin": ("【拡散希望】{river}上流のダムが決壊したらしい！すぐ高いところに逃げて #{dtag}",),
         "para": (
             "ダムが決壊したって聞いた、{place}の人逃げて #{dtag}", "{river}のダム決壊って本当？", "友達の親戚が消防で、ダムがもう持たないって",
             "ダム決壊を{office}が隠蔽してるらしい #{dtag}", "{river}のダムやばいらしい、拡散希望",
         ),
         "quote": ("本当なら逃げないと", "こわすぎる", "拡散します", "公式の発表は？"),
         "correction": "【{city}】{river}上流のダムが決壊したという情報は事実ではありません。ダムは正常に管理されています #{dtag}"},
    ),
    "rumour_quote_generic": ("これ本当なの？", "拡散", "こわい", "まじで？"),
    "rumour_lead": ("【拡散希望】", "拡散希望 ", "えっ、", "ねえ、", "速報：", "聞いて、"),
    "rumour_tail": ("拡散して", "本当なのかな", "怖すぎる", "みんな気をつけて", "情報求む", "続報待ち"),
    "debunk": (
        "それデマだよ、{office}が否定してる", "{city}の公式が否定してるので拡散しないでください", "これデマです。公式の発表を確認して",
        "不確かな情報を拡散するのはやめましょう", "ニュースで確認したけど、そんな事実はないって",
    ),
    "scam_post": (
        "【{city}公式】フォロー＆リポストで{city}プレミアム商品券{amount}円分が当たる！当選者にはDMでご連絡します🎁 {surl}",
        "【重要】{city}臨時給付金のオンライン申請はこちらから。本日締切です {surl}",
        "【{city}公式】アンケートに答えてギフトカード{amount}円分をもらおう {surl}",
        "{city}からのお知らせ：給付金振込のため口座情報の登録をお願いします→ {surl}",
        "【{city}公式】{resident}の皆様へ。特別応援金の受け取り手続きはDMで受け付けています",
    ),
    "scam_reply": (
        "当選おめでとうございます！ギフトカードの受け取りはDMで手続きをお願いします",
        "おめでとうございます🎉 商品券の発送のため、こちらから受け取り手続きをしてください {surl}",
    ),
    "scam_warning": (
        "@{official} @{fake} って偽物ですよね？", "{city}のなりすましアカウントがいます、注意！ @{fake}",
        "これ公式じゃないよね？ DMで商品券とか怪しすぎ @{fake}", "【注意】{city}を名乗る偽アカウント @{fake} からDMが来ました",
    ),
    "scam_official_warning": (
        "【注意】{city}を装った偽アカウントが確認されています。当アカウント以外からのDMやリンクには応じないでください",
    ),
    "report_note": (
        "住民から通報：公式を名乗って商品券の当選DMを送っている", "職員が発見：公式と同じアイコン・プロフィール文を使用",
        "住民から通報：給付金の申請を装った短縮URLを投稿している",
    ),
    "fake_bio_extra": ("", "", " 現在キャンペーン実施中！詳しくはDMで", " お問い合わせはDMへ"),
    "fan_name": ("{short}大好き（非公式）", "{short}ファン【非公式】", "{mascot}を勝手に応援する会"),
    "fan_bio": ("{city}が大好きな個人の非公式アカウントです。{office}とは関係ありません",),
    "fan_post": ("今日の{landmark} #{tag}", "{mascot}のぬいぐるみ買った #{tag}", "{short}の朝焼け #{tag}"),
    "shop_post": ("本日の日替わりランチは{short}産野菜のカレーです #{tag}", "{festival}に出店します！ #{tag}", "新メニュー始めました #{tag}"),
    "news_post": ("【{newsname}】{headline} {url}",),
    "news_bio": ("{city}とその周辺のニュースをお届けします",),
}

VARIANT: dict[str, Any] = {
    "emoji_happy": ("🌼", "😍", "🙌", "💖", "😁", "🍀", "⭐", "🤗"),
    "emoji_angry": ("😠", "👊", "🫠", "🙃", "😒", "❌"),
    "emoji_sad": ("😿", "😔", "💧", "😣"),
    "emoji_scared": ("🚨", "😰", "❗", "🆘", "🙇"),
    "official_routine": (
        "{city}からのお知らせです。[住民税|固定資産税]の納期限は今月末です。口座振替が便利です。",
        "本日は{landmark}で[こども食堂|シニア体操教室]が開かれました。ご参加の皆さま、ありがとうございました。",
        "{river}の河川敷清掃にご協力いただいた[地域の皆さま|ボランティアの皆さま]、ありがとうございました。",
        "[スマホ教室|パソコン講座]の受講者を募集中です。会場は{landmark}です。",
        "{station}の駐輪場が[来月から|4月から]有料になります。ご理解をお願いします。",
        "{mascot}のLINEスタンプができました！",
        "今週末、{place}地区で[不発弾処理|ガス管工事]のため交通規制があります。",
        "[図書館|公民館]の夏季開館時間についてお知らせします。",
        "{school}の[学校公開|運動会]は雨天のため延期になりました。",
        "[献血|無料法律相談]を{landmark}で実施します。",
    ),
    "reply_ordinary": (
        "いつも見てます", "了解しました～", "参加したいです！", "情報感謝です", "{mascot}のスタンプ買います",
        "{landmark}って駐輪場ありましたっけ", "申込はいつまでですか", "うちの子も行きたがってます", "ナイス告知",
        "{place}に住んでますが、対象ですか？", "リマインドありがたい", "見逃すところでした", "{short}最高",
        "手話通訳はありますか？", "ベビーカーで行けますか", "ありがとうございます～", "応援しています",
        "申し込み完了です", "去年行ったけど楽しかった", "雨の場合はどうなりますか",
    ),
    "reply_mild": (
        "平日昼間は働いてるので無理です…", "もっと目立つところに書いてほしい", "申込フォームがスマホだと使いづらい",
        "告知が直前すぎませんか", "駐車場少ないのが難点",
    ),
    "chatter": (
        "{short}駅前、新しいカフェできたね #{tag}", "{city}の夜景、意外と好き", "{river}でカワセミ見た！",
        "{landmark}の展示、見応えあった #{tag}", "{short}に住んで10年目", "{city}の水道、冬は冷たすぎ",
        "{place}の坂道、自転車だとしんどい", "{mascot}のスタンプかわいい", "今日は{short}で用事", "{station}のホーム混みすぎ",
        "{city}の子育て支援センター、助かってる", "{short}産のいちご美味しい #{tag}", "{office}の新しい窓口システム早かった",
        "{festival}、今年はいつだっけ", "{place}でたぬき見た", "{short}の図書館、座席予約できるの便利",
    ),
    "mention_official": (
        "@{official} 大型ごみの予約が取れません", "@{official} {landmark}のWi-Fiがつながりません",
        "@{official} {place}の道路に穴があいています", "@{official} スタンプ買いました！",
    ),
    "quote_official": ("共有します", "これ大事", "覚えとこ", "拡散しとく", "ほう"),
    "complaint": (
        "{office}に電話しても全然つながらない", "{place}の歩道、ガタガタで危ない", "{station}の駐輪場、有料化は納得いかない",
        "夜の{landmark}周辺が暗くて怖い", "回答まだですか？ 2週間たちました", "{head}は現場を見に来てほしい",
        "公金の使い方もっとちゃんと考えて", "申請書類が多すぎる", "ごみ袋が高い", "{place}の信号待ちが長すぎ",
    ),
    "flame_triggers": (
        ("観光動画", "観光プロモーション動画『{short}の女は黙ってついてくる』を公開しました。ぜひご覧ください！"),
        ("イラスト", "{mascot}の新しいイラストができました。『男子は外で働き、女子はおうちで{mascot}のお世話』"),
        ("事業", "{landmark}前に約3億円をかけて{mascot}の巨大バルーンを設置します🎈"),
        ("コラム", "広報コラム『貧乏でも{short}なら幸せになれる』を掲載しました"),
        ("CM", "{city}の新CM『おじいちゃんおばあちゃんは運転しないで、若者の邪魔だから』篇が完成しました"),
    ),
    "flame_triggers_disaster": (
        ("投稿", "大雨でも{mascot}は元気いっぱい！今日の{landmark}ランチ特集です🍛"),
        ("動画", "{mascot}が冠水した道路で水遊びする動画を公開しました🌊"),
    ),
    "crit_open": ("え、待って", "なにこれ", "ちょっと", "率直に言うと、", "ん？", "うわ、", "普通に"),
    "crit_core": (
        "配慮が[足りなさすぎる|欠けている]", "お詫び[するべき|が先でしょう]", "[血税|公金]をこんなことに使うな",
        "予算の使い道がおかしい", "決裁した人の名前を出して", "経緯を[公表|説明]してほしい", "感覚がズレてる",
        "[この状況で|被災地もあるのに]これはない", "価値観が昭和で止まってる", "偏見を助長する内容", "[取り下げ|公開停止]を強く要望します",
        "[担当者|上の人]の感覚を疑う", "見ていて[不快|気分が悪い]", "[{short}|地元]の住民として[情けない|悲しい]",
        "もう返礼品頼むのやめる", "苦情[入れました|送りました]", "消して逃げるのはなしで", "叩かれて当たり前", "人権感覚ゼロ",
        "{topic}、完全にアウト", "炎上狙いにしか見えない", "女性蔑視もいいところ", "これ通した組織が怖い", "二度と見たくない",
        "[今すぐ|早く]取り下げて", "[普通に|本気で]引いた", "行政がやっていいことじゃない",
    ),
    "crit_question": (
        "なんでこれでGOが出たの", "企画段階で誰か気づかなかった？", "この{topic}作るのにいくらかかったんですか",
        "会議で誰も反対しなかったの", "誰に向けて発信してるんですか",
    ),
    "crit_sarcasm": (
        "{short}らしいといえばらしい", "すごい企画力ですね（呆）", "{topic}作った人、ある意味天才", "昭和から来たんですか",
        "さすがお役所仕事", "{topic}のおかげで{short}の名前が全国区ですね",
    ),
    "crit_head": ("{head}の見解を聞きたい", "{head}、出てきて説明して", "{head}も同じ考えなんですか", "{head}の責任問題では"),
    "crit_close": ("残念すぎる", "悲しくなる", "もう無理", "あーあ", "萎えた"),
    "flame_support": ("みんな怒りすぎ", "これくらい許してあげて", "悪気はないと思う", "言い方きつい人多いね", "私は好きだった"),
    "apology_post": (
        "{topic}につきまして、ご不快な思いをおかけしましたことを心よりお詫びします。公開を取りやめました。",
        "先般の{topic}について多数のご指摘をいただきました。内容を精査し、改めてご報告いたします。",
    ),
    "apology_reply": (
        "お詫びが出ただけマシ", "で、誰の責任なの", "形だけの謝罪に見える", "今後どうするのかが大事",
        "対応お疲れさまです", "消すだけなら誰でもできる",
    ),
    "praise_post": (
        "{river}に白鳥が来ました。今年もよろしくね",
        "{mascot}、誕生日おめでとう！みんなからのお祝いメッセージ待ってます🎂",
        "雪化粧した{landmark}です。足元に気をつけてお出かけください",
        "{school}の子どもたちが描いた{mascot}の絵を{office}ロビーに展示しています",
    ),
    "praise_reply": (
        "おめでとう！", "白鳥かわいい～", "ずっと見てられる", "{mascot}大好き", "この景色好き", "心が洗われる", "いい写真すぎる",
        "ロビー見に行きます", "子どもたちの絵、上手！", "ほっこりしました", "{short}の冬、きれい", "待ち受けにした",
        "中の人いつもありがとう", "こういう投稿うれしい", "元気もらった", "優勝", "拝みたくなる", "癒し",
    ),
    "praise_quote": ("朝から癒された", "{short}の中の人、好き", "見て見て", "いい投稿"),
    "praise_sour": ("誕生日とかより除雪をお願いしたい",),
    "festival_post": (
        "{festival}なう #{tag}", "{festival}の屋台制覇したい #{tag}", "花火ドーンってきた #{tag}", "{festival}最高すぎた",
        "{mascot}と写真撮れた！ #{tag}", "盆踊り楽しい #{tag}", "{festival}、今年も来られてよかった #{tag}",
        "りんご飴うまい #{tag}", "友達と{festival} #{tag}",
    ),
    "festival_crowd": (
        "{station}、改札出るまで20分 #{tag}", "人の波に流されてる", "屋台の列が長すぎる #{tag}", "帰りの道が大渋滞",
        "座る場所がない #{tag}",
    ),
    "festival_official": (
        "{festival}は予定どおり開催します。会場周辺では交通規制を行っています #{tag}",
        "{festival}の臨時バスを増便しました #{tag}", "まもなく花火の打ち上げです。立ち止まらずにご覧ください #{tag}",
        "{festival}は終了しました。お気をつけてお帰りください #{tag}",
    ),
    "festival_reply": ("楽しかった！", "増便ありがとう", "来年も来ます", "落とし物の問い合わせはどこですか？", "運営の皆さんに感謝"),
    "announce_post": (
        "地域振興券の販売を始めます。5千円で6千5百円分お買い物できます。購入方法は{home}/shinkouken をご確認ください",
        "物価高騰対策の臨時給付金について、対象の世帯に確認書を送付しました。詳しくは{home}/rinji へ",
        "{landmark}の新しい遊具がお披露目されました。詳細は{home}/park で",
    ),
    "announce_reaction": ("買う！", "これは嬉しい", "確認書届いてた", "早速行ってきます", "お得すぎ", "情報ありがとう"),
    "announce_question": ("確認書が届いていないのですが", "購入の上限は何冊ですか？", "現金以外でも買えますか？"),
    "news_headline": (
        "{city}に大型アウトレット出店へ", "{city}、全小中学校にエアコン設置完了", "{station}に新駅ビル 2027年完成",
        "{short}の老舗和菓子店、100周年", "{city}、子ども医療費を18歳まで無料に",
    ),
    "news_comment": ("記事になってる", "よかった", "すごい", "へえ", "楽しみ", "読んだ", "地元ニュース", ""),
    "drill_official": (
        "本日{time}から、{city}一斉防災訓練を行います。サイレンが鳴りますが訓練です #{dtag}",
        "【お知らせ】防災訓練にともない、{time}ごろ訓練用の緊急速報メールを配信します #{dtag}",
        "防災訓練、おつかれさまでした。ご協力ありがとうございました #{dtag}",
    ),
    "drill_resident": (
        "サイレン鳴ったけど訓練ね #{dtag}", "訓練で避難所まで歩いてみた #{dtag}", "防災無線のテスト聞こえた #{dtag}",
        "{school}でバケツリレー体験 #{dtag}", "訓練メール、心臓に悪い #{dtag}",
    ),
    "minor_quake": (
        "ん、地震？", "カタカタって揺れた #{dtag}", "{short}で震度3か", "一瞬ぐらっときた", "地震速報出てた #{tag}", "軽い揺れだったね",
    ),
    "other_disaster": (
        "{other}の地震、心配… #{otag}", "{other}の被害が広がりませんように", "{other}の親戚、無事だった",
        "{short}は揺れなかった。{other}大丈夫かな", "{other}に何か送れるものないかな", "ニュースの{other}の映像、胸が痛い",
    ),
    "other_disaster_official": (
        "{other}の被災地支援として、{office}に救援物資の受付窓口を設けました",
        "{other}の災害を受け、{city}から給水車を派遣しています",
    ),
    "disaster_quake_now": (
        "ぐらぐらきた #{dtag}", "うわ地震 #{dtag}", "長い…まだ揺れてる #{dtag}", "スマホのアラームで飛び起きた #{dtag}",
        "{place}、家がきしんでる #{dtag}", "震度いくつ？ 体感すごかった #{dtag}",
    ),
    "disaster_quake": (
        "地震！ #{dtag}", "かなり長い揺れだった #{dtag}", "食器が割れた #{dtag}", "{place}で家の壁が崩れてる #{dtag}",
        "{station}の天井が落ちたって #{dtag}", "家具が倒れてきた、みんな固定して #{dtag}", "断水始まった #{dtag}",
        "{landmark}の近く、道路が陥没 #{dtag}", "またドンって来た #{dtag}", "{place}みんな外に出てる #{dtag}",
    ),
    "disaster_rain": (
        "{river}があふれそう #{dtag}", "{place}、床下浸水しました #{dtag}", "車が水没してる #{dtag}", "{school}の校庭が池 #{dtag}",
        "裏山から水が出てきた、こわい #{dtag}", "{place}{chome}丁目、道路が冠水 #{dtag}", "雨やまない #{dtag}",
        "避難所に向かってます #{dtag}",
    ),
    "disaster_typhoon": (
        "暴風で家が揺れる #{dtag}", "{place}で電柱が傾いてる #{dtag}", "自転車が全部倒れてる #{dtag}", "屋根瓦が飛んできた #{dtag}",
        "{river}の河口で高潮 #{dtag}",
    ),
    "disaster_snow": (
        "雪で家から出られない #{dtag}", "{place}、軽トラが立ち往生 #{dtag}", "除雪が追いつかない #{dtag}", "雪の重みで車庫がつぶれた #{dtag}",
        "停電して灯油ストーブしかない #{dtag}", "{station}の列車、今日は全部運休 #{dtag}",
    ),
    "disaster_general": (
        "{place}、電気きてない #{dtag}", "給水どこでやってますか #{dtag}", "{short}のみんな無事？ #{dtag}", "ラジオつけてる #{dtag}",
        "スマホの電池が残り少ない #{dtag}",
    ),
    "rescue": (
        "{place}{chome}丁目、家から出られません。救助お願いします #{dtag} #救助",
        "【SOS】{landmark}の裏、屋根の上に3人います。水が上がってきてます #{dtag} #救助",
        "{place}で祖父がたんすの下敷きに。{chome}丁目の角の家です #救助 #{dtag}",
    ),
    "disaster_official": (
        "{school}と{landmark}を避難所として開放しています #{dtag}",
        "応急給水を{landmark}で行っています #{dtag}",
        "{place}地区に避難指示を発令しました。直ちに安全な場所へ避難してください #{dtag}",
        "デマに注意してください。正しい情報は{office}のホームページで確認してください #{dtag}",
    ),
    "disaster_question": (
        "{landmark}の避難所、まだ入れますか？", "犬と一緒でも大丈夫ですか？", "給水の時間を教えてください",
        "{place}は断水地域に入っていますか？", "毛布の配布はありますか", "{school}に車で行っても大丈夫ですか",
        "避難所にアレルギー対応の食事はありますか", "明日の学校はどうなりますか", "家の片付けボランティアを頼みたいです",
    ),
    "disaster_frustration": ("情報が少なくて不安です", "{office}の電話、ずっと話し中です"),
    "rumour_markers": ("みたい", "RT希望", "と噂", "マジ？", "もみ消し", "知り合いの"),
    "rumours": (
        {"key": "gas",
         "origin": ("RT希望！{city}のごみ処理場で爆発があって有毒ガスが出てるみたい。窓を閉めて！",),
         "para": (
             "ごみ処理場から有毒ガスが出てるみたい、{place}の人気をつけて", "{short}のごみ処理場で爆発と噂", "有毒ガスってマジ？ {city}",
             "知り合いの消防士が{short}のごみ処理場がやばいって", "ごみ処理場の事故、{office}がもみ消してるとか",
             "{city}で有毒ガス、窓閉めろって回ってきた #{tag}",
         ),
         "quote": ("窓閉めた", "ガチ？", "子どもが外にいる…", "情報ソースどこ？"),
         "correction": "{city}のごみ処理施設で爆発や有毒ガスの発生はありません。施設は通常どおり稼働しています。"},
        {"key": "school-closure",
         "origin": ("{city}の小中学校、来週から全部休校になるみたい。RT希望",),
         "para": (
             "{short}の学校、来週全部休校と噂", "全校休校ってマジ？ {city}", "知り合いの先生が、{short}は来週から休校って言ってた",
             "休校の話、{office}がまだ隠してるらしいよ", "{city}全校休校みたいだから仕事休まなきゃ #{tag}",
         ),
         "quote": ("困るんだけど", "学校から何も聞いてない", "共働きどうすれば"),
         "correction": "{city}立の小中学校を来週から休校にする予定はありません。不確かな情報にご注意ください。"},
        {"key": "water-fee",
         "origin": ("{city}の水道料金、来月から3倍になるみたい。RT希望",),
         "para": (
             "水道代3倍ってマジ？ {short}", "{city}の水道料金値上げ、議会でこっそり決まったと噂", "知り合いの議員秘書が水道代3倍になるって",
             "{short}の水道料金3倍、もみ消されてる #{tag}",
         ),
         "quote": ("ありえないんだけど", "生活できない", "ソースは？"),
         "correction": "{city}の水道料金を3倍に値上げするという情報は誤りです。料金の改定予定はありません。"},
        {"key": "knife",
         "origin": ("{station}で刃物を持った男がいるみたい、近づかないで！RT希望",),
         "para": (
             "{station}に刃物男と噂", "{station}で刃物ってマジ？", "知り合いが{station}でパトカーいっぱい見たって",
             "{station}の事件、報道されないのはもみ消し？", "{short}駅周辺やばいみたい #{tag}",
         ),
         "quote": ("おそろしい", "今から{station}使うんだけど", "続報ある？"),
         "correction": "{station}周辺で刃物を持った人物がいるという情報について、警察からそのような事案は確認されていないとのことです。"},
    ),
    "disaster_rumours": (
        {"key": "tiger",
         "origin": ("{zoo}のトラが地震で逃げたみたい！絶対外に出ないで #{dtag}",),
         "para": (
             "トラが脱走したと噂 {zoo} #{dtag}", "{zoo}から猛獣脱走ってマジ？", "知り合いが{place}でトラを見たって",
             "トラ脱走、{office}がもみ消してる？ #{dtag}", "{zoo}の動物が逃げ出したみたい、RT希望",
         ),
         "quote": ("ガチで？", "家から出ない", "子どもに言っとく"),
         "correction": "{zoo}から動物が逃げ出したという情報は事実ではありません #{dtag}"},
        {"key": "levee",
         "origin": ("{river}の堤防が切れたみたい！{place}の人すぐ逃げて RT希望 #{dtag}",),
         "para": (
             "堤防決壊と噂、{river} #{dtag}", "{river}の堤防切れたってマジ？", "知り合いの消防団員が{river}はもうだめだって",
             "堤防決壊、{office}が発表を遅らせてるみたい #{dtag}",
         ),
         "quote": ("本当なら大変", "逃げる準備する", "公式情報どこ"),
         "correction": "{river}の堤防が決壊したという情報は誤りです。現在、堤防の決壊は確認されていません #{dtag}"},
    ),
    "rumour_quote_generic": ("ソースある？", "RT", "不安", "えええ"),
    "rumour_lead": ("RT希望）", "【シェア希望】", "至急 ", "ちょっと、", "【悲報】", "回ってきた→"),
    "rumour_tail": ("シェアお願いします", "ガチなら大変", "誰か詳しい人いる？", "気をつけよう", "ソース求む", "公式の発表まだ？"),
    "debunk": (
        "これ誤情報です、公式サイト見て", "{office}のホームページに否定のお知らせ出てるよ", "デマに踊らされないで",
        "確認できる情報だけ共有しよう", "警察も否定してるって",
    ),
    "scam_post": (
        "{city}公式です。抽選で{amount}名様に地域振興券をプレゼント！応募はDMから {surl}",
        "{city}より：臨時特別給付金の受付を開始しました。こちらのリンクから申請してください {surl}",
        "{city}公式キャンペーン🎁 電子マネー{amount}円分が当たります。詳しくはプロフィールのリンクへ",
        "{resident}の皆様、還付金のお手続きはDMでご案内します",
    ),
    "scam_reply": ("当選のご連絡です。DMをご確認ください", "受け取りはこちらから→ {surl}"),
    "scam_warning": (
        "@{fake} は{city}の公式ではありません", "偽物注意！{city}のふりした @{fake}", "@{official} ニセモノいますよ @{fake}",
        "{city}公式そっくりのアカウント @{fake} 、リンク踏まないで",
    ),
    "scam_official_warning": ("{city}の名前をかたる偽アカウントにご注意ください。{city}の公式アカウントはホームページに掲載しています",),
    "report_note": ("住民からの連絡：偽の給付金案内を投稿", "職員が確認：公式アイコンを無断使用", "住民からの連絡：当選詐欺のDM"),
    "fake_bio_extra": ("", " 各種キャンペーン実施中", " ご質問はDMでどうぞ"),
    "fan_name": ("{short}を愛でる会（非公式）", "{mascot}ファンクラブ※非公式"),
    "fan_bio": ("{short}が好きで勝手に発信しています。{city}とは無関係の個人アカウントです",),
    "fan_post": ("{short}の冬景色 #{tag}", "{mascot}に会えた！ #{tag}"),
    "shop_post": ("本日は{short}産そばの新そば入荷しました #{tag}", "週末限定のケーキあります #{tag}"),
    "news_post": ("{newsname}｜{headline} {url}",),
    "news_bio": ("{city}の地域ニュースサイト",),
}

BANKS: dict[str, dict[str, Any]] = {"main": MAIN, "variant": VARIANT}


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


# --- people ----------------------------------------------------------------------------

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
        tid = _b32((((ms * 1000) + n % 1000) << 10) | ((n // 1000) & 1023), 13)
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


_TRAIL = re.compile(r"(?:[ 　]+(?:[#＃]|https?://)[^\s]+)+\s*$")
X_MAX = 15


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
            return "did:plc:" + _b32(int.from_bytes(_digest("did|" + handle, 15), "big"), 24)
        return str(int.from_bytes(_digest("uid|" + platform + handle, 8), "big") % 10**18)

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
        m = _TRAIL.search(text)
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


def akey(acct: Official) -> str:
    """An official account's key: the same handle may exist on two platforms."""
    return f"{acct.platform}:{acct.handle}"


def ref(event: dict[str, Any]) -> dict[str, str]:
    return {"post_id": event["id"], "account": event["author"]["handle"]}


# --- look-alikes -------------------------------------------------------------------------

#: Character swaps of a fake official name, per bank (katakana vs kanji look-alikes).
LOOKALIKE_CHARS = {
    "main": {"カ": "力", "ロ": "口", "エ": "工", "ー": "一", "ペ": "ぺ", "市": "巿", "ニ": "二"},
    "variant": {"ト": "卜", "ハ": "八", "タ": "夕", "場": "塲", "ン": "ソ", "シ": "ツ", "（": "(", "）": ")"},
}
#: How a fake handle is made from the official one, per bank.
HANDLE_TRICKS = {
    "main": ("l1", "i_l", "o0", "rn_m", "underscore", "suffix_official", "suffix_jp", "info"),
    "variant": ("double", "drop", "swap", "suffix_pr", "suffix_koho", "hyphen", "vv_w", "suffix_staff"),
}
_STEM = re.compile(r"[_\-.]?(city|town|ward|vil|village|ku|pr|koho|official|t|c|tokyo)$")


def _local_part(handle: str) -> tuple[str, str]:
    """A handle's user part and its domain (bluesky) for the tricks to work on."""
    if "." in handle:
        local, _, domain = handle.partition(".")
        return local, "." + domain
    return handle, ""


def confusable(handle: str, platform: str, bank: str, rng: random.Random, taken: set[str]) -> str:
    """A handle that reads like `handle` at a glance (l/1, O/0, rn/m, a stray underscore …)."""
    local, domain = _local_part(handle)
    stem = _STEM.sub("", local) or local
    limit = X_MAX if platform == "x" else 30
    tricks = list(HANDLE_TRICKS[bank])
    rng.shuffle(tricks)
    for trick in tricks + tricks:
        out = None
        letters = [i for i, c in enumerate(local) if c.isalpha()]
        if trick == "l1" and "l" in local:
            i = rng.choice([i for i, c in enumerate(local) if c == "l"])
            out = local[:i] + rng.choice("1I") + local[i + 1:]
        elif trick == "i_l" and "i" in local:
            i = rng.choice([i for i, c in enumerate(local) if c == "i"])
            out = local[:i] + rng.choice("l1") + local[i + 1:]
        elif trick == "o0" and "o" in local:
            i = rng.choice([i for i, c in enumerate(local) if c == "o"])
            out = local[:i] + "0" + local[i + 1:]
        elif trick == "rn_m" and ("m" in local or "rn" in local):
            out = local.replace("rn", "m", 1) if "rn" in local else local.replace("m", "rn", 1)
        elif trick == "underscore":
            if "_" in local:
                out = local.replace("_", rng.choice(("", "__")), 1)
            else:
                i = rng.randrange(2, len(local) - 1)
                out = local[:i] + "_" + local[i:]
        elif trick in ("suffix_official", "suffix_jp", "suffix_pr", "suffix_koho", "suffix_staff", "info"):
            suffix = {"suffix_official": "_official", "suffix_jp": "_jp", "suffix_pr": "_pr",
                      "suffix_koho": "_koho", "suffix_staff": "_staff", "info": "_info"}[trick]
            options = [local + suffix, stem + suffix]
            if trick == "info":
                options.insert(1, "info_" + stem)
            out = next((o for o in options if len(o) <= limit and o != local), None)
        elif trick == "double" and letters:
            i = rng.choice(letters)
            out = local[:i] + local[i] + local[i:]
        elif trick == "drop" and len(letters) > 4:
            i = rng.choice(letters[1:-1])
            out = local[:i] + local[i + 1:]
        elif trick == "swap" and len(letters) > 4:
            i = rng.choice([i for i in letters[1:-2] if local[i + 1].isalpha() and local[i] != local[i + 1]] or [1])
            out = local[:i] + local[i + 1] + local[i] + local[i + 2:]
        elif trick == "hyphen":
            if platform == "bluesky":
                i = rng.randrange(2, len(local) - 1)
                out = local[:i] + "-" + local[i:] if "-" not in local else local.replace("-", "", 1)
            else:
                out = local.replace("_", "-" if platform == "mastodon" else "__", 1) if "_" in local else local + "_"
        elif trick == "vv_w":
            out = local.replace("w", "vv", 1) if "w" in local else local.replace("m", "nn", 1) if "m" in local else None
        if out and platform == "bluesky":
            out = out.replace("_", "-").strip("-")  # bluesky handles are letters, digits and hyphens
        if not out or out == local or len(out) > limit:
            continue
        candidate = out + domain
        if candidate.lower() not in taken:
            taken.add(candidate.lower())
            return candidate
    candidate = f"{stem}_{rng.randint(10, 99)}"[:limit] + domain
    taken.add(candidate.lower())
    return candidate


def lookalike_name(name: str, bank: str, rng: random.Random) -> str:
    """The official name with one or two characters swapped for look-alikes, or 【公式】 added."""
    table = LOOKALIKE_CHARS[bank]
    spots = [i for i, c in enumerate(name) if c in table]
    out = name
    if spots:
        for i in rng.sample(spots, min(len(spots), rng.choice((1, 1, 2)))):
            out = out[:i] + table[out[i]] + out[i + 1:]
    if out == name or rng.random() < .4:
        if "公式" not in out:
            out += rng.choice(("【公式】", "（公式）", " 公式", "【公式アカウント】")) if bank == "main" else \
                rng.choice((" 公式", "(公式)", "｜公式", "\u200b公式"))
        else:
            out = out.replace("公式", "公式 ", 1)
    return out


def far_phash(sim: Sim, key: str) -> str:
    """An avatar hash far from every official avatar (an unrelated picture)."""
    value = hex16(key)
    while min(hamming(value, a.phash) for a in sim.town.accounts) < 20:
        value = hex16(value)
    return value


# --- episodes ------------------------------------------------------------------------------


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
             disaster_trigger: bool = False, apology: bool | None = None) -> list[dict[str, Any]]:
    rng, tm, bank = sim.rng, sim.timing, sim.bank
    acct = sim.account(platform)
    triggers = bank["flame_triggers_disaster" if disaster_trigger else "flame_triggers"]
    topic, template = triggers[trigger % len(triggers)] if trigger is not None else rng.choice(triggers)
    target = sim.official_post(t, acct, sim.fill(template), register=False)
    first = t + MINUTE * rng.randint(*tm.flame_lead)
    critical: list[int] = []

    def criticise(when: int, who: Person, mode: str) -> dict[str, Any]:
        text = sim.criticism(topic)
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


def ep_impersonation(sim: Sim, t: int, platform: str = "x", style: str = "seen",
                     scams: tuple[int, int] = (2, 5), report: bool | None = None) -> list[dict[str, Any]]:
    rng, town = sim.rng, sim.town
    acct = sim.account(platform)
    handle = confusable(acct.handle, platform, sim.bank_name, rng, sim.taken)
    name = lookalike_name(acct.name, sim.bank_name, rng)
    bio = (acct.bio or f"{town.name}の公式アカウントです。") + sim.say("fake_bio_extra")
    created = t - rng.randint(HOUR, 4 * DAY)
    fake = sim.person(platform, followers=rng.randint(0, 60), created=created, handle=handle, name=name, exact=True)
    url = Official(platform, fake.handle, name, "", "", instance=rng.choice(INSTANCES)).url
    close = flip_bits(acct.phash, rng.randint(1, 6), rng)
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
              disaster: bool = False) -> list[dict[str, Any]]:
    rng, tm = sim.rng, sim.timing
    claims = sim.bank["disaster_rumours" if disaster else "rumours"]
    c = next((c for c in claims if c["key"] == claim), None) or rng.choice(claims)
    claim_id = f"claim-{c['key']}-{_digest(f'{sim.seed_key}|{t}', 3).hex()}"
    size = size or {"small": "small", "mid": "medium", "large": "large"}[sim.town.size]
    n = rng.randint(*{"small": (16, 30), "medium": (45, 90), "large": (130, 220)}[size])
    origin_who = sim.person("x", followers=rng.randint(60, 4000))
    text = sim.deco(sim.fill(rng.choice(c["origin"])), "scared", slip=0)
    if disaster and rng.random() < .5:
        text += " https://pic.example.jp/" + _digest(claim_id, 5).hex()
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
                text = _TRAIL.sub("", text) + joint + sim.say("rumour_tail") + (_TRAIL.search(text) or re.match("", "")).group(0)
            text = sim.deco(text, "scared", emoji=.3)
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


# --- hard negatives (unlabelled) ---------------------------------------------------------------


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
            text = _TRAIL.sub("", sim.say(key))
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
                   platform: str = "x") -> list[dict[str, Any]]:
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
    return f"https://www.{sim.town.roman}-news.example.jp/articles/{_digest(headline + sim.seed_key, 5).hex()}"


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


EPISODES: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "flame": ep_flame, "impersonation": ep_impersonation, "rumour": ep_rumour, "disaster": ep_disaster,
    "praise": neg_praise, "festival": neg_festival, "angry": neg_angry, "lookalikes": neg_lookalikes,
    "announce": neg_announce, "news": neg_news, "drill": neg_drill, "elsewhere": neg_elsewhere,
    "minor_quake": neg_minor_quake,
}
LABELLED = frozenset({"flame", "impersonation", "rumour", "disaster"})


def run_episode(sim: Sim, kind: str, t: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    if kind not in EPISODES:
        raise ValueError(f"unknown episode {kind!r}; one of {', '.join(EPISODES)}")
    return EPISODES[kind](sim, int(t), **params)


# --- scenarios and suites ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ep:
    """An episode of a scenario: `kind` (see EPISODES) on day `day` at local time `at`."""

    kind: str
    day: int
    at: str
    params: dict[str, Any] = field(default_factory=dict)


def E(kind: str, day: int, at: str, /, **params: Any) -> Ep:
    return Ep(kind, day, at, params)


@dataclass(frozen=True)
class Spec:
    """A scenario: one municipality, a start date (local midnight), a length and its episodes."""

    town: str
    start: str  # YYYY-MM-DD
    days: float
    episodes: tuple[Ep, ...] = ()
    bank: str = "main"
    about: str = ""
    jitter_min: int = 10


@dataclass
class Scenario:
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    profile: dict[str, Any]


SUITES: dict[str, dict[str, Spec]] = {
    "main": {
        "kirino-slow-flame": Spec("kirino", "2026-06-11", 2.0, (
            E("lookalikes", 0, "09:40", which=("fan", "resident", "shop")),
            E("flame", 0, "14:05", size="slow", platform="x"),
            E("impersonation", 1, "10:20", platform="mastodon", style="seen", report=True),
            E("angry", 1, "20:30"),
        ), about="small town: a slow flame-up (8 replies, 7 people, 30 min), a mastodon impersonation; "
                 "negatives: fan/resident/shop accounts, one angry person with 30 replies, the complaint trickle"),
        "aosawa-flame-rumour": Spec("aosawa", "2026-09-08", 2.0, (
            E("announce", 0, "09:30", which=0),
            E("flame", 0, "10:20", size="medium", platform="x", trigger=0),
            E("praise", 1, "07:50", platform="bluesky"),
            E("rumour", 1, "11:40", claim="water"),
            E("news", 1, "17:00"),
        ), about="mid-size city: a medium flame-up over a PR video, a tap-water rumour; negatives: shares of the "
                 "商品券 announcement, praise going viral on bluesky, a widely shared news link"),
        "higashiminato-big-flame": Spec("higashiminato", "2026-10-16", 1.0, (
            E("lookalikes", 0, "08:30", which=("resident", "news")),
            E("flame", 0, "12:25", size="big", platform="x", trigger=3),
            E("impersonation", 0, "16:10", platform="bluesky", style="created"),
            E("news", 0, "19:30"),
        ), about="large ward: a big fast flame-up (> 20 replies/min at its peak), a bluesky impersonation "
                 "(created → profile_changed); negatives: resident and local-news accounts, a news link"),
        "shirasagi-quake-lion": Spec("shirasagi", "2026-08-31", 1.6, (
            E("drill", 0, "09:55"),
            E("disaster", 0, "21:47", kind="quake", rumour="lion", rumour_after=(30, 45)),
        ), about="mid-size city: drill reminders on the disaster hashtag in the morning, an evening earthquake "
                 "with JMA alerts, rescue requests, questions to the city, and the 'lion escaped from the zoo' rumour"),
        "nagumo-heavy-rain": Spec("nagumo", "2026-07-03", 2.0, (
            E("elsewhere", 0, "11:00"),
            E("disaster", 1, "03:10", kind="rain"),
            E("impersonation", 1, "15:30", platform="x", style="post-first"),
        ), about="small village: news of a disaster elsewhere (with an alert for other areas), a night-time heavy "
                 "rain disaster, then a fake account offering 給付金 while the village is busy"),
        "hanasaki-festival": Spec("hanasaki", "2026-08-15", 1.0, (
            E("festival", 0, "10:00"),
            E("flame", 0, "11:30", size="medium", platform="bluesky", trigger=1),
            E("rumour", 0, "16:20", claim="festival-cancel", size="large"),
        ), about="large city on fireworks day: the festival burst (negative), a medium flame-up on bluesky about "
                 "the poster, a 'festival cancelled' rumour"),
        "miyaura-impersonation": Spec("miyaura", "2026-05-19", 2.0, (
            E("lookalikes", 0, "09:00", which=("fan", "shop", "news")),
            E("impersonation", 0, "11:05", platform="x", style="created"),
            E("announce", 0, "14:00", which=1),
            E("angry", 0, "22:10"),
            E("impersonation", 1, "09:40", platform="mastodon", style="seen"),
            E("rumour", 1, "12:15", claim="lunch"),
        ), about="mid-size city: two impersonations (x, mastodon), a school-lunch rumour; negatives: honest "
                 "look-alike accounts, the 給付金 announcement shared, one angry person"),
        "nishihama-typhoon": Spec("nishihama", "2026-09-21", 1.0, (
            E("disaster", 0, "05:30", kind="typhoon"),
            E("flame", 0, "10:40", size="medium", platform="x", disaster_trigger=True, trigger=0),
        ), about="large ward: a typhoon (alerts, damage reports, a flood of questions to the city) and a flame-up "
                 "over a tone-deaf post during it"),
        "tsurumisawa-ordinary": Spec("tsurumisawa", "2026-11-04", 3.0, (
            E("drill", 0, "09:00"),
            E("lookalikes", 0, "10:15"),
            E("announce", 1, "10:00"),
            E("elsewhere", 1, "14:00"),
            E("news", 2, "12:00"),
            E("minor_quake", 2, "16:42"),
            E("angry", 2, "19:30"),
        ), about="small town, three ordinary days (no labels): drill, honest look-alike accounts, an announcement, "
                 "a disaster elsewhere, a news link, one angry person, the complaint trickle"),
        "midorigaoka-ordinary": Spec("midorigaoka", "2026-04-04", 1.5, (
            E("elsewhere", 0, "03:20"),
            E("praise", 0, "08:30", platform="x"),
            E("festival", 0, "10:00"),
            E("lookalikes", 0, "12:00", which=("resident", "news", "fan")),
            E("news", 0, "18:30"),
            E("minor_quake", 0, "23:05"),
            E("angry", 1, "07:40"),
            E("announce", 1, "09:10", which=2),
            E("drill", 1, "10:00"),
        ), about="large city, a day and a half of ordinary traffic (no labels): praise going viral, the festival, "
                 "look-alike accounts, a news link, one angry person, an announcement, a drill, a disaster elsewhere"),
        "asahino-night-quake": Spec("asahino", "2026-04-14", 1.6, (
            E("praise", 0, "12:10", platform="x"),
            E("disaster", 1, "01:25", kind="quake", rumour="dam", rumour_after=(20, 35)),
        ), about="mid-size city: praise at lunch, then a night-time earthquake with JMA alerts and a 'dam "
                 "collapsed' rumour"),
    },
    "variant": {
        "hoshimi-slow-flame": Spec("hoshimi", "2026-02-17", 2.0, (
            E("lookalikes", 0, "10:00", which=("fan", "shop")),
            E("flame", 0, "19:20", size="slow", platform="x"),
            E("impersonation", 1, "08:15", platform="x", style="post-first"),
            E("angry", 1, "13:00"),
        ), bank="variant", about="small town: an evening slow flame-up, an impersonation seen first by its scam post"),
        "shiomi-flame-rumour": Spec("shiomi", "2026-03-24", 2.0, (
            E("rumour", 0, "08:10", claim="gas"),
            E("announce", 0, "13:30"),
            E("news", 0, "18:00"),
            E("praise", 1, "09:00", platform="x"),
            E("flame", 1, "15:45", size="medium", platform="bluesky"),
        ), bank="variant", about="mid-size city: a toxic-gas rumour, a medium flame-up on bluesky"),
        "sakuradai-big-flame": Spec("sakuradai", "2026-12-04", 1.0, (
            E("news", 0, "07:30"),
            E("impersonation", 0, "09:30", platform="mastodon", style="seen"),
            E("lookalikes", 0, "12:00", which=("news", "resident")),
            E("flame", 0, "18:40", size="big", platform="x"),
        ), bank="variant", about="large ward: a big evening flame-up, a mastodon impersonation"),
        "yamabuki-quake-tiger": Spec("yamabuki", "2026-01-17", 1.6, (
            E("drill", 0, "10:30"),
            E("disaster", 0, "17:52", kind="quake", rumour="tiger", rumour_after=(15, 40)),
        ), bank="variant", about="mid-size city: drill, then an earthquake and a 'tiger escaped' rumour"),
        "okutani-snow": Spec("okutani", "2026-01-27", 2.0, (
            E("elsewhere", 0, "09:00"),
            E("disaster", 0, "22:00", kind="snow"),
            E("impersonation", 1, "11:00", platform="x", style="seen"),
        ), bank="variant", about="small village: heavy snow overnight, an impersonation the next day"),
        "kazahaya-festival": Spec("kazahaya", "2026-07-25", 1.0, (
            E("festival", 0, "10:30"),
            E("flame", 0, "13:10", size="medium", platform="mastodon"),
            E("rumour", 0, "19:50", claim="knife", size="large"),
        ), bank="variant", about="large city on festival day: a flame-up on mastodon, a 'man with a knife' rumour"),
        "iwahashi-impersonation": Spec("iwahashi", "2026-10-06", 2.0, (
            E("lookalikes", 0, "08:00"),
            E("angry", 0, "11:00"),
            E("impersonation", 0, "16:40", platform="bluesky", style="created"),
            E("announce", 1, "09:00"),
            E("impersonation", 1, "10:10", platform="x", style="seen"),
            E("rumour", 1, "14:30", claim="school-closure"),
        ), bank="variant", about="mid-size city: two impersonations (bluesky, x), a school-closure rumour"),
        "shioiri-rain": Spec("shioiri", "2026-06-29", 1.0, (
            E("disaster", 0, "13:00", kind="rain"),
            E("flame", 0, "16:30", size="medium", platform="x", disaster_trigger=True),
        ), bank="variant", about="large ward: a cloudburst and a flame-up over a tone-deaf post during it"),
        "yukimori-ordinary": Spec("yukimori", "2026-02-02", 3.0, (
            E("drill", 0, "10:00"),
            E("lookalikes", 0, "15:00"),
            E("announce", 1, "09:30"),
            E("elsewhere", 1, "16:00"),
            E("news", 2, "08:30"),
            E("minor_quake", 2, "04:10"),
            E("angry", 2, "21:00"),
        ), bank="variant", about="small town, three ordinary days (no labels)"),
        "hikarigahara-ordinary": Spec("hikarigahara", "2026-07-11", 1.5, (
            E("praise", 0, "09:00", platform="bluesky"),
            E("festival", 0, "11:00"),
            E("lookalikes", 0, "13:00"),
            E("news", 0, "20:00"),
            E("elsewhere", 0, "23:10"),
            E("minor_quake", 1, "02:15"),
            E("angry", 1, "06:30"),
            E("announce", 1, "08:45"),
            E("drill", 1, "09:30"),
        ), bank="variant", about="large city, a day and a half of ordinary traffic (no labels)"),
        "kasumino-night-quake": Spec("kasumino", "2026-03-10", 1.6, (
            E("praise", 0, "16:00", platform="x"),
            E("disaster", 1, "03:38", kind="quake", rumour="levee", rumour_after=(25, 50)),
        ), bank="variant", about="mid-size city: a night-time earthquake and a 'levee broke' rumour"),
    },
}


def _midnight(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=JST).timestamp())


def _clock(at: str) -> int:
    hh, mm = at.split(":")
    return int(hh) * HOUR + int(mm) * MINUTE


def _as_spec(spec: Spec | dict[str, Any]) -> Spec:
    if isinstance(spec, Spec):
        return spec
    eps = tuple(e if isinstance(e, Ep) else Ep(e["kind"], int(e["day"]), e["at"], dict(e.get("params", {})))
                for e in spec.get("episodes", ()))
    return Spec(spec["town"], spec["start"], float(spec["days"]), eps, spec.get("bank", "main"),
                spec.get("about", ""), int(spec.get("jitter_min", 10)))


def generate(name: str, spec: Spec | dict[str, Any], seed: int = 1) -> Scenario:
    """One scenario: its events (sorted by ts, unique ids), labels and municipality profile."""
    spec = _as_spec(spec)
    town = TOWNS[spec.town]
    t0 = _midnight(spec.start)
    key = f"{seed}|{spec.bank}|{name}"
    sim = Sim(town, spec.bank, key, t0)
    when = random.Random(key + "|schedule")
    schedule = []
    for ep in spec.episodes:
        jitter = when.randint(-spec.jitter_min, spec.jitter_min) * MINUTE + when.randint(0, 59)
        schedule.append((max(t0, t0 + ep.day * DAY + _clock(ep.at) + jitter), ep.kind, dict(ep.params)))
    labels: list[dict[str, Any]] = []
    events = list(sim.stream(t0, t0 + int(spec.days * DAY), schedule, labels))
    ids = [e["id"] for e in events]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{name}: duplicate event ids")
    labels.sort(key=lambda lab: (lab["start"], lab["type"]))
    return Scenario(events, labels, town.profile())


def dump_events(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def write_scenario(out_dir: Path, name: str, scenario: Scenario) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.jsonl"
    path.write_text(dump_events(scenario.events), encoding="utf-8")
    (out_dir / f"{name}.labels.jsonl").write_text(dump_events(scenario.labels), encoding="utf-8")
    (out_dir / f"{name}.profile.json").write_text(
        json.dumps(scenario.profile, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def generate_suite(out_dir: Path, seed: int = 1, bank: str = "main") -> list[Path]:
    """Write every scenario of the bank's suite (NAME.jsonl, .labels.jsonl, .profile.json);
    returns the scenario files."""
    if bank not in SUITES:
        raise ValueError(f"bank must be one of {', '.join(SUITES)}, got {bank!r}")
    out_dir = Path(out_dir)
    return [write_scenario(out_dir, name, generate(name, spec, seed)) for name, spec in SUITES[bank].items()]


# --- a week of traffic (for the memory and speed benchmark) ------------------------------------------

WEEK: tuple[Ep, ...] = (
    E("lookalikes", 0, "10:00"), E("announce", 0, "14:00"),
    E("flame", 1, "11:30", size="medium"), E("news", 1, "19:00"),
    E("impersonation", 2, "09:40"), E("angry", 2, "21:00"),
    E("rumour", 3, "12:20"), E("drill", 3, "10:00"),
    E("praise", 4, "08:00"), E("minor_quake", 4, "18:30"),
    E("elsewhere", 5, "06:00"), E("festival", 5, "10:00"),
    E("disaster", 6, "02:40", kind="rain", rumour=None), E("flame", 6, "15:00", size="big"),
)


def town_from_profile(profile: Any) -> Town:
    """The simulated municipality for a profile: a known one by id, else a generic one built from it."""
    raw = getattr(profile, "raw", profile)
    muni = raw["municipality"]
    if muni["id"] in TOWNS:
        return TOWNS[muni["id"]]
    name: str = muni["name"]
    kind = name[-1] if name[-1] in OFFICE else "市"
    short = name[:-1] if name[-1] in OFFICE else name
    accounts = tuple(Official(a["platform"], a["handle"], a["name"], a.get("department", "広報課"),
                              a.get("owner", "広報課長"), a.get("bio", "")) for a in raw.get("accounts", ()))
    if not accounts:
        raise ValueError("the profile has no official accounts")
    roman = re.sub(r"[^a-z]", "", accounts[0].handle.split("_")[0].split(".")[0].lower()) or muni["id"]
    return Town(muni["id"], name, name, short, short, kind, "mid", "", tuple(muni.get("areas") or ("",)), roman,
                accounts, ("中央", "本町", "駅前", "東町", "西町"),
                (f"{short}中央公園", f"{short}市民会館", f"{short}図書館", f"{short}駅前広場"),
                f"{short}駅", f"{short}川", f"{short}小学校", f"{short}中央病院", f"{short}くん", f"{short}まつり",
                f"{short}動物公園", f"{short}ベーカリー", f"{short}ニュース", (35.7, 139.7),
                tuple(t.lstrip("#") for t in raw.get("watch_hashtags") or (name,)),
                tuple(t.lstrip("#") for t in raw.get("disaster_hashtags") or (f"{name}災害",)))


def week_of_traffic(profile: Any, start: float | datetime, seed: int = 1, episodes: bool = True, *,
                    bank: str = "main", days: int = 7, size: str | None = None,
                    labels: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """A simulated week of the municipality's traffic, streamed in time order (a generator).

    Ordinary traffic and the hard negatives are always there; `episodes` adds the
    labelled flame-ups, impersonation, rumour and disaster, whose labels are
    appended to `labels` when given. `profile` is a profile dict or a contract
    `Profile`; `size` (small | mid | large) overrides the municipality's size.
    Memory stays bounded by the longest episode, not by the week.
    """
    town = town_from_profile(profile)
    if size:
        town = dataclasses.replace(town, size=size)
    if isinstance(start, datetime):
        start = start.timestamp()
    t0 = int(start)
    key = f"{seed}|{bank}|week|{town.key}"
    sim = Sim(town, bank, key, t0)
    when = random.Random(key + "|schedule")
    local0 = datetime.fromtimestamp(t0, JST).replace(hour=0, minute=0, second=0)
    schedule = []
    for ep in WEEK:
        if ep.day >= days or (ep.kind in LABELLED and not episodes):
            continue
        at = int(local0.timestamp()) + ep.day * DAY + _clock(ep.at) + when.randint(-30, 30) * MINUTE
        if at >= t0:
            schedule.append((at, ep.kind, dict(ep.params)))
    sink = labels if labels is not None else []
    yield from sim.stream(t0, t0 + days * DAY, schedule, sink, min_span=days * DAY)


# --- command line ------------------------------------------------------------------------------------


def summary(out_dir: Path) -> list[str]:
    from collections import Counter
    lines = []
    for path in sorted(Path(out_dir).glob("*.jsonl")):
        if path.name.endswith(".labels.jsonl"):
            continue
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        labels_path = path.with_name(path.name.removesuffix(".jsonl") + ".labels.jsonl")
        labels = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines()] \
            if labels_path.exists() else []
        ts = [datetime.fromisoformat(e["ts"]).timestamp() for e in events]
        kinds = Counter(lab["type"] for lab in labels)
        platforms = Counter(e["platform"] for e in events)
        lines.append(f"{path.stem:28} {len(events):6} events {(max(ts) - min(ts)) / DAY:5.2f} days "
                     f"{path.stat().st_size / 1e6:5.2f} MB  labels: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
                     + "  platforms: " + ", ".join(f"{k} {v}" for k, v in sorted(platforms.items())))
    return lines


def markdown_table(out_dir: Path, bank: str = "main") -> list[str]:
    """The README's table of a written suite: one row per scenario, in suite order."""
    from collections import Counter
    rows = ["| scenario | municipality | size | accounts | days | events | labels |", "|---|---|---|---|---|---|---|"]
    for name, spec in SUITES[bank].items():
        town = TOWNS[spec.town]
        path = Path(out_dir) / f"{name}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        ts = [datetime.fromisoformat(json.loads(line)["ts"]).timestamp() for line in lines]
        labels = Counter(json.loads(line)["type"] for line in
                         path.with_name(f"{name}.labels.jsonl").read_text(encoding="utf-8").splitlines())
        rows.append(f"| `{name}` | {town.name} ({town.areas[0]}) | {town.size} | "
                    f"{', '.join(a.platform for a in town.accounts)} | {(max(ts) - min(ts)) / DAY:.2f} | {len(lines)} | "
                    + (", ".join(f"{k} {v}" for k, v in sorted(labels.items())) or "— (ordinary traffic)") + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scenarios",
                                     description="Write the labelled scenario suite.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bank", choices=BANK_NAMES, default="main")
    parser.add_argument("--table", action="store_true", help="print the README's markdown table")
    args = parser.parse_args(argv)
    paths = generate_suite(args.out_dir, seed=args.seed, bank=args.bank)
    for line in markdown_table(args.out_dir, args.bank) if args.table else summary(args.out_dir):
        print(line)
    print(f"{len(paths)} scenarios written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
