"""炎上 flame-up detection: criticism surging at an official account.

Pure and in event time. Per official account it keeps two sliding windows
(10 minutes for fast flame-ups, 60 for the slow ones of a small town), an
hourly history for the account's own baseline of reactions and of criticism,
and the current episode, so one episode opens one incident and later
evidence only updates it. Thresholds are relative to the account's own
baseline, so they fit a town with three replies a day and a city with three
hundred; distinct authors keep one angry person from opening an incident.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from functools import lru_cache
from dataclasses import dataclass
from typing import Any

from vocabulary.contract import AccountEvent, Event, Mention, Profile
from vocabulary.terms import SEVERITY_RANK
from streams.detectors.common import Context, Finding
from streams.detectors.text import KATA_TO_HIRA, contains_any, fold_phrases, normalize, unstretched

def _folded_pattern(source: str) -> re.Pattern[str]:
    """A pattern over normalised text: its katakana folded to hiragana like the posts'."""
    return re.compile(source.translate(KATA_TO_HIRA))


# Criticism that stands on its own: demands, accusations, outrage (批判・要求・非難).
STRONG_CRITICISM = fold_phrases((
    "謝罪", "謝れ", "謝って", "あやまれ", "不適切", "税金の無駄", "無駄遣い", "血税", "税金で",
    "誰が承認", "誰が決め", "誰がokし", "承認した人", "不謹慎", "時代錯誤", "時代遅れ", "古い価値観",
    "差別", "蔑視", "偏見", "侮辱", "冒涜", "軽視", "削除しろ", "削除すべき", "削除と", "削除を",
    "消せ", "撤回", "取り下げ", "説明責任", "説明しろ", "説明を求め", "説明して下さい", "説明してください",
    "辞任", "辞職", "責任者", "責任を取", "責任とれ", "許せない", "許されない", "許さない", "最低",
    "最悪", "ありえない", "あり得ない", "ありえん", "非常識", "無神経", "配慮が足り", "配慮に欠け",
    "配慮がない", "配慮のない", "炎上", "恥ずかし", "恥を知れ", "情けない", "見損な", "失望", "幻滅",
    "呆れ", "あきれ", "がっかり", "ガッカリ", "ふざけ", "舐めて", "なめてる", "馬鹿にし", "バカにし",
    "言語道断", "論外", "看過できない", "容認できない", "受け入れられない", "抗議", "猛省",
    "反省しろ", "反省して", "何考えて", "何を考えて", "センスない", "センスがない", "センスなさ",
    "不快", "不愉快", "気持ち悪", "感覚がずれ", "ズレて", "ずれてる", "疑います", "疑問を感じ",
    "信じられない", "やめろ", "やめるべき", "やめてほしい", "中止しろ", "中止すべき", "即刻",
    "問題発言", "問題だ", "問題では", "問題でしょ", "おかしい", "おかしくない", "怒り", "腹が立",
    "腹立", "ムカつ", "むかつ", "うんざり", "言いたいの", "何様", "上から目線", "傲慢", "無責任",
    "隠蔽", "ごまかし", "誤魔化", "逃げるな", "説明になってない", "開き直", "理解に苦しむ",
    "理解できない", "考えられない", "常識がない", "常識を疑", "ひどすぎ", "酷すぎ", "残念すぎ",
    # Complaints lodged, apologies and explanations demanded, boycotts threatened.
    "苦情", "クレーム", "通報しました", "お詫び", "詫びろ", "釈明", "弁明", "見解を", "経緯を",
    "出てきて説明", "説明不足", "説明がない", "名前を出", "名前を公表", "決裁した", "二度と",
    # Judgements of the organisation: incompetence, insincerity, deceit, being out of touch.
    "お役所仕事", "役所仕事", "税金泥棒", "給料泥棒", "仕事しろ", "ちゃんとしろ", "しっかりしろ",
    "いい加減にし", "無能", "怠慢", "ずさん", "杜撰", "お粗末", "不誠実", "誠意がない", "誠意のない",
    "信用できない", "信頼できない", "信用を失", "信頼を失", "不信感", "言い訳", "言い逃れ", "嘘つき",
    "うそつき", "でたらめ", "デタラメ", "的外れ", "勘違い", "わかってない", "分かってない",
    "見下", "馬鹿", "恥さらし", "人権侵害", "人権意識", "人権感覚", "セクハラ",
    "パワハラ", "ルッキズム", "性差別", "ドン引き", "引くわ", "最低限の", "非難", "批判殺到",
))
# Criticism said with a pattern rather than a word: a quality the organisation lacks
# (配慮が欠けている, センスゼロ), doubting its judgement (感覚を疑う), "no organisation
# should do this", "deserves the backlash", quitting in protest, and ironic praise.
_PATTERNS = _folded_pattern(
    r"(感覚|配慮|センス|危機感|常識|良識|デリカシー|人権|倫理|意識|品位|品性|誠意|想像力|リテラシー)"
    r"(が|も|の)?(ゼロ|皆無|欠如|欠け|足りな|足らな|不足|無さ|なさすぎ|がない|なさ)"
    r"|(感覚|神経|センス|常識|良識|見識|人格|正気|目|耳)を疑"
    r"|(やって|して|やる|する|書く|載せる)(いい)?(こと|事)じゃ(ない|ねえ|ねー)"
    r"|(叩かれ|批判され|炎上し|怒られ|責められ|言われ)て(も)?(当然|当たり前|仕方|しかたな)"
    r"|(もう|二度と).{0,15}(やめる|やめます|しない|しません|行かない|行きません|買わない|頼まない|払わない|見ない|応援しない)"
    r"|アウト(でしょ|だろ|だよ|です|じゃ|やろ|$|[。!！、\s])|これはない|これはだめ|これはダメ"
    r"|[(（](呆|棒)[)）]|ある意味(天才|すごい|凄い|さすが)|悪い意味で|らしいといえばらしい"
    r"|昭和(で止ま|から来|の価値観|脳|かよ|感覚)|価値観が(古|昭和)"
    r"|(消して|削除して)(逃げ|終わり|済ま)|逃げるな|隠すな|ごまかすな"
    # Kana words that hide inside everyday ones: ください (ダサい), ばかり (バカ).
    r"|(?<!く)ださ(い|すぎ|っ)|(?<![っや])ばか(?!り)|(?<![ち])あほ(?!う)"
)
# Negative on their own but also everyday words ("ひどい雨"): vetoed by praise or an enquiry.
WEAK_CRITICISM = fold_phrases((
    "ひどい", "酷い", "残念", "迷惑", "困る", "困ります", "不満", "納得でき", "納得いかない",
    "意味不明", "意味がわから", "疑問", "なぜこんな", "どうしてこんな", "なんでこんな", "批判",
    "微妙", "いかがなものか", "どうかと思", "寒い", "痛い",
    "悲しくな", "悲しい", "萎え", "もう無理", "あーあ", "怖い", "こわい", "嫌だ", "いやだ",
    "なにこれ", "何これ", "なんだこれ", "何だこれ", "がっかり", "うーん", "はぁ?",
))
PRAISE = fold_phrases((
    "ありがとう", "素晴らしい", "すばらしい", "最高", "楽しみ", "感動", "応援", "素敵", "すてき",
    "いいね", "良いですね", "いいですね", "助かる", "助かります", "便利", "かわいい", "可愛い",
    "感謝", "好き", "嬉しい", "うれしい", "すごい", "凄い", "おめでとう", "癒され", "面白い",
    "さすが", "流石", "誇り", "good", "great", "love", "nice",
))
_ENQUIRY = re.compile(r"(ですか|ますか|でしょうか|教えて|いつ|どこ|何時|なんじ|開いて|使えます)")
# Rhetorical questions of responsibility, cost and judgement (誰が承認した？いくら使った？),
# sarcasm markers and angry emoji: criticism without a criticism word.
_RHETORICAL = _folded_pattern(
    r"(誰[がもか].{0,12}(承認|決め|ok|許可|作っ|考え|止め|通し|気づ|気付|指摘|反対|おかしい|チェック|言わ)"
    r"|誰(に向け|向け|得|のため)|(go|ゴー|ok|オーケー)(が|を)?(出|サイン)|これ(を)?通し"
    r"|いくら.{0,8}(使|かけ|かか|税金|予算)|予算.{0,6}(いくら|無駄)"
    r"|(どういう|何の|なんの)意図|意図が(わから|不明|見えな)|何を考え|なにを考え|何考え"
    r"|何人.{0,10}(ok|見て|通し|チェック)|ok出し|ゴーサイン|止める人"
    r"|皮肉|(^|\s)は[?？]|[🤬💢😡😠👎🙄😤🙃❌😒🤮])"
)

_HANDLE = re.compile(r"@([A-Za-z0-9_.]+)")
#: ー after hiragana (or half-width kana) in the raw text stretches a word; katakana words
#: (ポスター) are not looked at twice.
_STRETCHED_KANA = re.compile("[\u3041-\u3096\uff66-\uff9f][ーｰ]")
OTHER, CRITICAL, ENQUIRY = 0, 1, 2


def classify(text: str, in_disaster: bool = False) -> int:
    """CRITICAL, ENQUIRY (a plain question: not an opinion) or OTHER.

    Words stretched with ー (ありえなーい, さいてーー) are read in both forms. In a disaster
    only clear criticism counts: the weak words are how people say they are afraid or worn out
    (怖い, ひどい雨, もう無理), so such a post is read like a question, not an opinion of the account."""
    norm = normalize(text)
    if _STRETCHED_KANA.search(text) is not None:
        norm = f"{norm}\n{unstretched(norm)}"
    if contains_any(norm, STRONG_CRITICISM) or _RHETORICAL.search(norm) or _PATTERNS.search(norm):
        return CRITICAL
    enquiry = _ENQUIRY.search(norm) is not None
    if contains_any(norm, WEAK_CRITICISM) and not contains_any(norm, PRAISE) and not enquiry:
        return ENQUIRY if in_disaster else CRITICAL
    return ENQUIRY if enquiry else OTHER


def is_critical(text: str) -> bool:
    """Criticism: a strong phrase, or a weak one that is neither praise nor an enquiry."""
    return classify(text) == CRITICAL


def surprising(rate: float, surprise: float) -> int:
    """The smallest count k with P(X ≥ k) < surprise for X ~ Poisson(rate)."""
    return _poisson_k(round(rate, 2), surprise)


@lru_cache(maxsize=4096)
def _poisson_k(rate: float, surprise: float) -> int:
    if rate <= 0:
        return 1
    term = math.exp(-rate)  # P(X = 0)
    below = 0.0  # P(X < k)
    k = 0
    while 1.0 - below >= surprise:
        below += term
        k += 1
        term *= rate / k
        if k > 10_000:  # a rate that large is never reached by chance either way
            break
    return k


def severity_for(count: int, reach: int, per_minute: float = 0.0) -> str:
    if count >= 200 or reach >= 1_000_000:
        return "critical"
    if count >= 50 or reach >= 100_000 or per_minute >= 10:
        return "high"
    if count >= 15 or reach >= 10_000 or per_minute >= 3:
        return "medium"
    return "low"


@dataclass(frozen=True)
class FlameConfig:
    # (seconds, minimum critical replies from as many distinct authors): a burst of three
    # people in ten minutes, four in half an hour or five over an hour for the slow flame-up
    # of a small town (with only the hour, one whose critics came a quarter of an hour apart
    # at first opened after twenty-five minutes). A trickle of a complaint every 20 minutes
    # reaches none of them.
    windows: tuple[tuple[int, int], ...] = ((600, 3), (1800, 4), (3600, 5))
    min_share: float = 0.4
    # A count opens only if the account's own rate would reach it by chance less than
    # once in 1/surprise windows (Poisson tail); the rate is doubled for peak hours.
    surprise: float = 1e-4
    peak_factor: float = 2.0
    history_hours: int = 168
    # Episodes (one episode, one incident). A wave is over once no window has surged for
    # `quiet_close_s`; the episode then waits, and a new surge of criticism of the same posts
    # is a 再燃 (resurgence) of it, not a new incident. The episode ends after
    # `episode_end_s` back at baseline (no surge at all); a surge after that opens a new one.
    quiet_close_s: int = 2 * 3600
    episode_end_s: int = 48 * 3600
    # A surge while an episode waits is a resurgence when at least this share of its
    # criticism that names a post answers one of the episode's posts (the trigger, the
    # apology…); criticism of another post is a new flame-up. `posts_cap` bounds them.
    resurgence_share: float = 0.5
    posts_cap: int = 20
    update_every: int = 20
    evidence_cap: int = 50
    # In a disaster every official account is flooded with questions and worry: only clear
    # criticism counts then (the weak words are worry, see `classify`; questions never count),
    # from `disaster_extra_critics` more people than usual (none by default: a tone-deaf post
    # in a typhoon is the flame-up to catch early; doubling every bar kept one unseen for
    # half an hour, one more critic for twenty minutes after its first lull).
    disaster_extra_critics: int = 0
    # Bounds that keep a municipality's state snapshot small (it is one Kafka
    # message, ≤ 1 MB) however long and loud an episode gets.
    window_cap: int = 1000
    authors_cap: int = 1000


class _Window:
    """Reactions of the last `seconds`, as a deque pruned from the left with running
    counts, so each reaction costs O(1) however busy the account is."""

    __slots__ = ("seconds", "minimum", "cap", "recent", "critical", "enquiries", "critical_authors")

    def __init__(self, seconds: int, minimum: int, cap: int,
                 recent: list[list[Any]] | None = None) -> None:
        self.seconds, self.minimum, self.cap = seconds, minimum, cap
        self.recent: deque[list[Any]] = deque()
        self.critical = 0
        self.enquiries = 0
        self.critical_authors: Counter[str] = Counter()
        for r in recent or ():
            self._push(r)

    def _push(self, r: list[Any]) -> None:
        self.recent.append(r)
        if r[2] == CRITICAL:
            self.critical += 1
            self.critical_authors[r[1]] += 1
        elif r[2] == ENQUIRY:
            self.enquiries += 1

    def add(self, r: list[Any]) -> None:
        self._push(r)
        now = r[0]
        while self.recent and (now - self.recent[0][0] > self.seconds or len(self.recent) > self.cap):
            gone = self.recent.popleft()
            if gone[2] == CRITICAL:
                self.critical -= 1
                self.critical_authors[gone[1]] -= 1
                if not self.critical_authors[gone[1]]:
                    del self.critical_authors[gone[1]]
            elif gone[2] == ENQUIRY:
                self.enquiries -= 1

    def count(self, now: float) -> float:
        """Reactions in the window; once the cap cut the deque short, estimated from its span."""
        if len(self.recent) < self.cap:
            return float(len(self.recent))
        span = max(now - self.recent[0][0], 1.0)
        return len(self.recent) * max(self.seconds / span, 1.0)

    def critical_reactions(self) -> list[list[Any]]:
        return [r for r in self.recent if r[2] == CRITICAL]

    def critical_share(self) -> float:
        """Criticism among the opinions in the window: plain questions are not opinions."""
        return self.critical / max(1, len(self.recent) - self.enquiries)


class _Target:
    """One official account: its windows, hourly history [reactions, critical, under an
    episode's wave (1) or not (0)] and episode."""

    __slots__ = ("windows", "hours", "episode", "_baselines", "_newest_hour", "_guard")

    def __init__(self, config: FlameConfig, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        # The baseline reads only the hours before the longest window: the reactions it judges
        # are never part of the normal they are judged against.
        self._guard = -(-max(s for s, _ in config.windows) // 3600)
        recent = state.get("recent", [])
        self.windows = [_Window(s, minimum, config.window_cap,
                                [r for r in recent if r[0] >= (recent[-1][0] - s)])
                        for s, minimum in config.windows]
        self.hours: dict[int, list[int]] = {int(h): [*c, 0][:3] for h, c in state.get("hours", {}).items()}
        self.episode: dict[str, Any] | None = state.get("episode")
        # (hour, seconds) → baseline: it reads only the hours before the current one, so it
        # holds for the hour unless a late reaction changes a past hour (then it is dropped).
        self._baselines: dict[tuple[int, int], tuple[float, float]] = {}
        self._newest_hour = max(self.hours, default=-1)

    def to_state(self) -> dict[str, Any]:
        longest = max(self.windows, key=lambda w: w.seconds)
        return {"recent": list(longest.recent),
                "hours": {str(h): c for h, c in self.hours.items()}, "episode": self.episode}

    def add(self, reaction: list[Any], history_hours: int, in_wave: bool = False) -> None:
        hour = int(reaction[0] // 3600)
        if hour < self._newest_hour:
            self._baselines.clear()  # a late reaction changes a past hour
        else:
            self._newest_hour = hour
        if hour not in self.hours:
            for old in [h for h in self.hours if h < hour - history_hours]:
                del self.hours[old]
            self.hours[hour] = [0, 0, 0]
        bucket = self.hours[hour]
        bucket[0] += 1
        bucket[1] += reaction[2] == CRITICAL
        if in_wave:
            bucket[2] = 1
        for window in self.windows:
            window.add(reaction)

    def baseline(self, now: float, seconds: int) -> tuple[float, float]:
        """Expected (reactions, critical) per window of `seconds` from the past hours.

        Hours under a flame-up's wave are left out: yesterday's 炎上 is not the account's
        normal, and a slower flame-up the day after must not be measured against it. So are
        the hours the longest window reaches into: a flame-up that starts at 14:51 is judged
        at 15:10 against the hours up to 14:00, not against its own first replies.
        """
        current = int(now // 3600)
        key = (current, seconds)
        cached = self._baselines.get(key)
        if cached is not None:
            return cached
        before = current - self._guard
        past = [c for h, c in self.hours.items() if h < before and not c[2]]
        if not past:
            result = (0.0, 0.0)
        else:
            left_out = sum(1 for h, c in self.hours.items() if h < before and c[2])
            span_hours = max(1, before - min(self.hours) - left_out)
            scale = seconds / 3600 / span_hours
            result = (sum(c[0] for c in past) * scale, sum(c[1] for c in past) * scale)
        if len(self._baselines) > 16:
            self._baselines.clear()
        self._baselines[key] = result
        return result



def usual_rate(per_window: float, window_minutes: int) -> str:
    """The usual rate as a person says it: 普段はほとんどありません, 1日に約3件, 1時間に約4件, 10分に約7件
    (not "10分あたり約 0.0 件")."""
    per_hour = per_window * 60 / window_minutes if window_minutes else 0.0
    if per_hour * 24 < 0.5:
        return "普段はほとんどありません"
    if per_hour < 1:
        return f"普段は1日に約{max(1, round(per_hour * 24))}件"
    if per_window < 1:
        return f"普段は1時間に約{round(per_hour)}件"
    return f"普段は{window_minutes}分に約{round(per_window)}件"

class FlameDetector:
    kind = "flame"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: FlameConfig | None = None) -> None:
        self.official = profile.official_handles
        self.config = config or FlameConfig()
        self.targets: dict[str, _Target] = {
            name: _Target(self.config, t) for name, t in (state or {}).get("targets", {}).items()}

    def to_state(self) -> dict[str, Any]:
        return {"targets": {name: t.to_state() for name, t in self.targets.items()}}

    def shrink(self) -> None:
        """Forget the older half of each account's reactions and episode authors.

        Only for a snapshot that would not fit in one message (`streams.stage`); the
        caps keep ordinary traffic far below that.
        """
        for name, target in list(self.targets.items()):
            state = target.to_state()
            state["recent"] = _newer_half(state["recent"])
            episode = state["episode"]
            if episode is not None:
                episode["authors"] = episode["authors"][: len(episode["authors"]) // 2]
            self.targets[name] = _Target(self.config, state)

    def _target_of(self, m: Mention) -> str | None:
        for ref in (m.reply_to, m.quote_of):
            if ref is not None and ref.account.lower() in self.official:
                return ref.account.lower()
        if m.repost_of is None and "@" in m.text:
            for handle in _HANDLE.findall(m.text):
                if handle.lower() in self.official:
                    return handle.lower()
        return None

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        if isinstance(event, Mention):
            return self.on_mention(event, ctx)
        if isinstance(event, AccountEvent) and event.type == "official_post" and event.post:
            self._official_post(event)
        return []

    def _official_post(self, event: AccountEvent) -> None:
        """The city's own post during a wave (an apology, an explanation) belongs to the episode:
        criticism of it later is the same 炎上 coming back."""
        st = self.targets.get(event.account.handle.lower())
        episode = st.episode if st is not None else None
        if episode is not None and not episode.get("calm"):
            _note_post(episode.setdefault("posts", {}), str(event.post.get("id") or ""),
                       self.config.posts_cap)

    def _ref_of(self, m: Mention, target: str) -> str:
        """The id of the official post the reaction answers or quotes ("" for an @mention)."""
        for ref in (m.reply_to, m.quote_of):
            if ref is not None and ref.account.lower() == target:
                return ref.post_id
        return ""

    def on_mention(self, m: Mention, ctx: Context = Context()) -> list[Finding]:
        target = self._target_of(m)
        if target is None or m.author.handle.lower() in self.official:
            return []
        cfg = self.config
        st = self.targets.get(target)
        if st is None:
            st = self.targets[target] = _Target(cfg)
        now = m.ts
        found = self._age(target, st, now) if st.episode is not None else []
        kind = classify(m.text, ctx.disaster_active)
        critical = kind == CRITICAL
        episode = st.episode
        st.add([now, m.author.id, kind, m.author.followers, m.id, self._ref_of(m, target)],
               cfg.history_hours, in_wave=episode is not None and not episode.get("calm"))
        if episode is None:
            return found + self._maybe_open(target, st, now, ctx)
        if episode.get("calm"):
            return found + (self._maybe_resurge(target, st, now, ctx) if critical else [])
        return found + self._grow(target, st, m, critical, ctx)

    def _age(self, target: str, st: _Target, now: float) -> list[Finding]:
        """A wave is over after `quiet_close_s` without a surge; the episode ends after
        `episode_end_s` (reported once, as back to baseline)."""
        episode = st.episode
        assert episode is not None
        cfg = self.config
        last_surge = episode.get("last_surge", episode["last_critical"])
        if now - last_surge > cfg.episode_end_s:
            st.episode = None
            episode["reports"] += 1
            episode["ended_at"] = last_surge + cfg.episode_end_s
            return [self._finding(target, episode, "updated", now)]
        if not episode.get("calm") and now - last_surge > cfg.quiet_close_s:
            episode["calm"] = True
        return []

    def _surging_window(self, st: _Target, now: float, ctx: Context
                        ) -> tuple[_Window, float, float] | None:
        """The first window where criticism and volume both surge against the account's
        own baseline, with that baseline (reactions, critical) per window."""
        cfg = self.config
        extra = cfg.disaster_extra_critics if ctx.disaster_active else 0
        for window in st.windows:
            minimum = window.minimum + extra
            if window.critical < minimum or len(window.critical_authors) < minimum:
                continue
            if window.critical_share() < cfg.min_share:
                continue
            # Against the account's own baseline of criticism: surprising for this account,
            # whatever its size. (Total volume is not required: in a disaster the account
            # is flooded with questions, which must neither open nor mask a flame-up.)
            base_total, base_critical = st.baseline(now, window.seconds)
            if window.critical < max(minimum, surprising(cfg.peak_factor * base_critical, cfg.surprise)):
                continue
            return window, base_total, base_critical
        return None

    def _maybe_open(self, target: str, st: _Target, now: float, ctx: Context) -> list[Finding]:
        surging = self._surging_window(st, now, ctx)
        if surging is None:
            return []
        window, base_total, base_critical = surging
        cfg = self.config
        crit = window.critical_reactions()
        reach = sum(r[3] for r in crit)
        short = st.windows[0]
        per_minute = short.critical / (short.seconds / 60)
        posts: dict[str, int] = {}
        for r in crit:
            _note_post(posts, _ref(r), cfg.posts_cap)
        st.episode = {
            "opened_at": now,
            "last_critical": now,
            "last_surge": now,
            "counted_until": now,
            "calm": False,
            "waves": 1,
            "posts": posts,
            "count": len(crit),
            "total": len(window.recent),
            "reach": reach,
            "authors": sorted(window.critical_authors)[: cfg.authors_cap],
            "evidence": [r[4] for r in crit][: cfg.evidence_cap],
            "severity": severity_for(len(crit), reach, per_minute),
            "reported_count": len(crit),
            "reports": 0,
            "window_minutes": window.seconds // 60,
            "baseline": round(base_total, 2),
            "baseline_critical": round(base_critical, 2),
            "peak_per_minute": round(per_minute, 2),
        }
        return [self._finding(target, st.episode, "opened", now)]

    def _maybe_resurge(self, target: str, st: _Target, now: float, ctx: Context) -> list[Finding]:
        """A surge while the episode waits: the same 炎上 again (再燃), or, when its criticism
        is about another post, a new flame-up."""
        episode = st.episode
        assert episode is not None
        surging = self._surging_window(st, now, ctx)
        if surging is None:
            return []
        cfg = self.config
        window = surging[0]
        crit = window.critical_reactions()
        named = [_ref(r) for r in crit if _ref(r)]
        posts = episode.setdefault("posts", {})
        if named and sum(1 for p in named if p in posts) < cfg.resurgence_share * len(named):
            st.episode = None  # criticism of another post: a new flame-up, a new incident
            return self._maybe_open(target, st, now, ctx)
        fresh = [r for r in crit if r[0] > episode.get("counted_until", episode["last_critical"])]
        episode["calm"] = False
        episode["waves"] = episode.get("waves", 1) + 1
        episode["last_critical"] = episode["last_surge"] = episode["counted_until"] = now
        episode["count"] += len(fresh)
        episode["total"] += len(fresh)
        episode["reach"] += sum(r[3] for r in fresh)
        for r in fresh:
            if len(episode["authors"]) < cfg.authors_cap and r[1] not in episode["authors"]:
                episode["authors"].append(r[1])
            _note_post(posts, _ref(r), cfg.posts_cap)
        # The evidence shows how it started and how it came back.
        head = episode["evidence"][: cfg.evidence_cap // 2]
        episode["evidence"] = (head + [r[4] for r in fresh if r[4] not in head])[: cfg.evidence_cap]
        short = st.windows[0]
        per_minute = short.critical / (short.seconds / 60)
        episode["peak_per_minute"] = round(max(episode["peak_per_minute"], per_minute), 2)
        severity = severity_for(episode["count"], episode["reach"], episode["peak_per_minute"])
        episode["severity"] = max(severity, episode["severity"], key=SEVERITY_RANK.__getitem__)
        episode["reported_count"] = episode["count"]
        episode["reports"] += 1
        return [self._finding(target, episode, "updated", now, resurgence=True)]

    def _grow(self, target: str, st: _Target, m: Mention, critical: bool, ctx: Context) -> list[Finding]:
        episode = st.episode
        assert episode is not None
        episode["total"] += 1
        episode["counted_until"] = m.ts
        if not critical:
            return []
        cfg = self.config
        episode["last_critical"] = m.ts
        if self._surging_window(st, m.ts, ctx) is not None:
            episode["last_surge"] = m.ts
        _note_post(episode.setdefault("posts", {}), self._ref_of(m, target), cfg.posts_cap)
        episode["count"] += 1
        episode["reach"] += m.author.followers
        if len(episode["authors"]) < cfg.authors_cap and m.author.id not in episode["authors"]:
            episode["authors"].append(m.author.id)
        if len(episode["evidence"]) < cfg.evidence_cap:
            episode["evidence"].append(m.id)
        short = st.windows[0]
        per_minute = short.critical / (short.seconds / 60)
        episode["peak_per_minute"] = round(max(episode["peak_per_minute"], per_minute), 2)
        severity = severity_for(episode["count"], episode["reach"], episode["peak_per_minute"])
        grew = episode["count"] - episode["reported_count"] >= cfg.update_every
        if severity == episode["severity"] and not grew:
            return []
        episode["severity"] = max(severity, episode["severity"], key=SEVERITY_RANK.__getitem__)
        episode["reported_count"] = episode["count"]
        episode["reports"] += 1
        return [self._finding(target, episode, "updated", m.ts)]

    def _finding(self, target: str, episode: dict[str, Any], change: str, now: float,
                 *, resurgence: bool = False) -> Finding:
        count, authors = episode["count"], len(episode["authors"])
        waves = episode.get("waves", 1)
        ended = episode.get("ended_at")
        summary = f"@{target} への批判的な返信・引用・言及が {count} 件（{authors} 人）。"
        if resurgence:
            summary = f"再燃（第{waves}波）: " + summary
        elif waves > 1:
            summary += f"これまで {waves} 回の波。"
        summary += f"ピーク毎分 {episode['peak_per_minute']} 件、{usual_rate(episode['baseline'], episode['window_minutes'])}。"
        if ended is not None:
            summary += f"通常の水準に戻って {self.config.episode_end_s // 3600} 時間が経ち、検知を終えました。"
        metrics: dict[str, Any] = {
            "critical": count, "total": episode["total"], "authors": authors,
            "reach": episode["reach"], "peak_per_minute": episode["peak_per_minute"],
            "window_minutes": episode["window_minutes"],
            "baseline_per_window": episode["baseline"],
            "baseline_critical_per_window": episode["baseline_critical"],
            "wave": waves, "episode_end_hours": self.config.episode_end_s // 3600}
        if resurgence:
            metrics["resurgence"] = True
        if ended is not None:
            metrics["back_to_baseline"] = True
            metrics["ended_at"] = ended
        return Finding(
            target=target,
            change=change,
            opened_at=episode["opened_at"],
            at=now,
            severity=episode["severity"],
            evidence_ids=list(episode["evidence"]),
            summary=summary,
            metrics=metrics,
            seq=episode["reports"],
        )


def _ref(reaction: list[Any]) -> str:
    """The official post a stored reaction answers ("" for an @mention or an older state)."""
    return reaction[5] if len(reaction) > 5 else ""


def _note_post(posts: dict[str, int], post_id: str, cap: int) -> None:
    """Count a post of an episode; past `cap` posts only the known ones are counted."""
    if post_id and (post_id in posts or len(posts) < cap):
        posts[post_id] = posts.get(post_id, 0) + 1


def _newer_half(items: list[Any]) -> list[Any]:
    return items[len(items) - len(items) // 2:] if len(items) > 1 else []
