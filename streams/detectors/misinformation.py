"""デマ misinformation detection: a claim about the municipality spreading faster than it can be checked.

Pure and in event time. A post with a rumour marker (らしい, 拡散希望, 本当？, 隠蔽 …)
starts a claim unless it repeats one: near-duplicates and paraphrases join through
the claim index (`streams.detectors.cluster`), retellings that share only their
subject join the alarming rumour of the hour that has it (`_related`), reposts,
quotes and replies join by post id, and unmarked posts join the claims that could
ever alarm. Posts naming different places (上森図書館, 本松図書館) never join.

A claim is as alarming as its most alarming marked post (`post_points`), and it
opens one incident when enough distinct authors carry it within ten or thirty
minutes: two for the most alarming, eight for the mildest, none for chatter; in a
disaster one point more and longer windows. Most of a claim's texts must be
hedged, so shares of a news link or of the city's own posts, and everyday
chatter, stay quiet. A marked post is compared with the city's recent announcements
(`streams.detectors.announcements`): one that retells an announcement in its own words
(「川端断水、9時から15時だって」) is 公式発表の拡散 and counts in no claim; one that contradicts
it (「断水は1週間続くらしい」) is a rumour one point more alarming, never joins the city's post,
and its incident names that post as the correction's source (`source_url`,
`official_post_id`). Later growth updates the incident on doubling or a higher
severity. The state is bounded (quiet claims expire, the least recently active
are evicted) and rebuilds exactly from its JSON.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from vocabulary.contract import AccountEvent, Event, Mention, Profile
from vocabulary.terms import SEVERITIES
from streams.detectors.announcements import AGREES, CONTRADICTS, Announcements
from streams.detectors.cluster import (
    Features, NearDuplicateIndex, Thresholds, cleaned, content_of, keywords, names_conflict,
)
from streams.detectors.common import Context, Finding
from streams.detectors.misinformation_claims import (
    Claim, authors_needed, claim_id, claim_summary, count_author, source_of, window_counts,
)
from streams.detectors.misinformation_text import (
    CHATTER_POINTS, CONCERN, COVERUP, COVERUP_PHRASES, DOUBT_PHRASES, ENQUIRY, ENQUIRY_PHRASES, FAMILY_OF_BIT,
    GENERIC_TOKENS, HANDLE_MENTION, HEARSAY_PHRASES, KANJI, LINK, MARKER_CATEGORY, MITAI, NAMED, OFFICIAL,
    QUICK_FOLD, RASHII_NOT_AFTER, SPREAD, SPREAD_PHRASES, RUTTE, RUTTE_ENDINGS, TATTE, alternation,
    is_kana_word, place_and_alarm_masks, place_names, post_points, rep_text, snippet, tier,
)
from streams.detectors.text import fold_phrases, normalize


@dataclass(frozen=True)
class MisinformationConfig:
    """The thresholds of デマ detection; the defaults are the tuned ones."""

    #: Distinct authors needed in a window, by the claim's intensity points (`post_points`:
    #: alarm word 2, facility 1, names the city 1, markers as `_MARKER_POINTS`): in ten
    #: minutes a claim at 7+ opens on its second author, one at 4 needs eight, below 4 never;
    #: in thirty minutes a few more are needed, except by the most alarming claims.
    window_s: int = 600
    authors_needed: tuple[tuple[int, int], ...] = ((7, 2), (6, 3), (5, 5), (4, 8))
    long_window_s: int = 1800
    long_authors_needed: tuple[tuple[int, int], ...] = ((7, 2), (6, 4), (5, 7), (4, 11))
    disaster_window_s: int = 1200
    disaster_long_window_s: int = 2700
    #: In a disaster rumours spread fast (熊本のライオン): every claim counts one point more.
    disaster_points: int = 1
    min_marked_share: float = 0.5  # of the claim's own texts (or of the posts sharing its link)
    disaster_min_marked_share: float = 0.34
    acceleration: float = 1.5  # posts in the window vs the window before
    disaster_acceleration: float = 1.0
    similarity: Thresholds = Thresholds()  # when two posts say the same (`streams.detectors.cluster`)
    quiet_s: int = 6 * 3600
    # A claim with an incident is kept this long after its last post: when it resurfaces
    # after a quiet spell of `resurface_gap_s` or more and spreads again, that is a 再燃 of
    # the same incident, not a new one (one episode, one incident).
    open_quiet_s: int = 48 * 3600
    resurface_gap_s: int = 6 * 3600
    sweep_every_s: int = 600
    related_within_s: int = 3600  # an alarming rumour this recent absorbs marked posts sharing its subject
    related_max_holders: int = 2  # … if at most this many such rumours have the shared word
    # Bounds that keep the state a small part of one Kafka message, however long the traffic.
    max_claims: int = 1000
    max_urls: int = 300
    evidence_cap: int = 50
    repost_evidence: int = 10
    authors_cap: int = 64
    recent_cap: int = 32
    refs_cap: int = 8
    extra_tokens_cap: int = 16
    places_cap: int = 8
    #: The city's own posts that say something checkable (断水します, 事実ではありません),
    #: kept to compare claims with: the last `announcements_cap` of `announcements_keep_s`.
    announcements_keep_s: int = 7 * 86400
    announcements_cap: int = 30
    #: A claim that contradicts the city's own announcement is worth correcting: one point more.
    contradiction_points: int = 1

class MisinformationDetector:
    """デマ: one incident per claim that spreads faster than it can be checked."""

    kind = "misinformation"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: MisinformationConfig | None = None) -> None:
        self.config = cfg = config or MisinformationConfig()
        self.official = profile.official_handles
        self.municipality = profile.name
        names = list(profile.names or (profile.name,))
        names += [n[:-1] for n in names if len(n) >= 3 and n[-1] in "市町村区"]
        self.names = fold_phrases(tuple(names))
        self.areas = fold_phrases(profile.areas)
        self.watch_tags = frozenset(normalize(t) for t in profile.watch_hashtags + profile.disaster_hashtags)
        markers = SPREAD_PHRASES + HEARSAY_PHRASES + DOUBT_PHRASES + COVERUP_PHRASES
        # らしい after 素晴, 秋, 和光市 … is an adjective (素晴らしい, 秋らしい), not hearsay.
        not_after = "".join(f"(?<!{re.escape(p)}らしい)" for p in RASHII_NOT_AFTER + self.names)
        # This and `_strip` name the municipality, so each municipality compiles its own (~3 ms
        # each): at the first post that needs them, so that a quiet one of 1,741 never does.
        self._markers_pattern = f"{alternation(markers)}|らしい{not_after}|{MITAI}|{TATTE}|{RUTTE}"
        self._enquiry = re.compile(alternation(ENQUIRY_PHRASES))
        # One literal scan of the quickly folded raw text finds every post that may carry
        # a marker; most posts carry none and, unless they share a watched claim's words,
        # stop there.
        self._worth_a_look = re.compile(alternation(
            markers + ENQUIRY_PHRASES + ("らしい", "みたい", "たって", "だって") + RUTTE_ENDINGS))
        # The city's full names go from the content; a short one (和光) only where it is
        # the city, not part of a place named after it (和光駅, 和光小学校).
        full = tuple(n for n in self.names if n[-1] in "市町村区")
        short = tuple(n for n in self.names if n not in full) + self.areas
        self._strip_pattern = "|".join(filter(None, (
            alternation(markers + ENQUIRY_PHRASES + ("らしい", "みたい") + full),
            f"(?:{alternation(short)})(?!{KANJI})" if short else "",
        )))
        self.index = NearDuplicateIndex(cfg.similarity)
        self.claims: dict[str, Claim] = {}  # least recently active first
        self.ids: dict[str, str] = {}  # post id → claim key
        self.urls: dict[int, list[Any]] = {}  # crc32 of a link → [posts, last seen]
        state = state or {}
        self.announcements = Announcements(state.get("announcements"), areas=profile.areas,
                                           keep_s=cfg.announcements_keep_s, cap=cfg.announcements_cap)
        self.swept: float = state.get("swept", 0.0)
        for h, count, last in state.get("urls", ()):
            self.urls[h] = [count, last]
        for s in state.get("claims", ()):
            self._install(Claim.from_state(s, cfg.recent_cap))

    @cached_property
    def _markers(self) -> re.Pattern[str]:
        return re.compile(self._markers_pattern)

    @cached_property
    def _strip(self) -> re.Pattern[str]:
        return re.compile(self._strip_pattern)

    def shrink(self) -> None:
        """Forget the least recently active half of the claims (those without an incident
        first) and of the links. Only for a snapshot that would not fit in one message
        (`streams.stage`)."""
        drop = len(self.claims) - len(self.claims) // 2 if len(self.claims) > 1 else len(self.claims)
        victims = [k for k, c in self.claims.items() if c.inc is None][:drop]
        if len(victims) < drop:
            chosen = set(victims)
            victims += [k for k in self.claims if k not in chosen][: drop - len(victims)]
        for key in victims:
            self._drop(key)
        for h in list(self.urls)[: len(self.urls) - len(self.urls) // 2]:
            del self.urls[h]
        del self.announcements.items[: len(self.announcements.items) // 2]

    def to_state(self) -> dict[str, Any]:
        return {"claims": [c.to_state() for c in self.claims.values()],
                "urls": [[h, count, last] for h, (count, last) in self.urls.items()],
                "swept": self.swept, "announcements": self.announcements.to_state()}

    # --- events -----------------------------------------------------------------

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        if isinstance(event, Mention):
            return self.on_mention(event, ctx)
        if isinstance(event, AccountEvent) and event.type == "official_post" and event.post:
            text = event.post.get("text")
            if event.ts - self.swept >= self.config.sweep_every_s:
                self._sweep(event.ts)
            text = text if isinstance(text, str) else ""
            url = event.post.get("url")
            self._official(str(event.post["id"]), text, event.ts, url if isinstance(url, str) else None)
        return []

    def on_mention(self, m: Mention, ctx: Context) -> list[Finding]:
        now = m.ts
        late = self.ids.get(m.id)
        if late is not None:
            c = self.claims[late]
            if m.id not in c.refs:
                return []  # seen already (the detector set drops repeats; this keeps a claim's posts unique)
            # The post that a claim's quotes or replies pointed to arrives after them: count it there.
            c.refs.remove(m.id)
            del self.ids[m.id]
            return self._amplify(late, m, 0, now, ctx, repost=False)
        if now - self.swept >= self.config.sweep_every_s:
            self._sweep(now)
        raw = m.text
        url = self._count_links(m, now) if (m.urls or "http" in raw) else 0
        if m.author.handle.lower() in self.official:
            if raw and m.repost_of is None:
                self._official(m.id, raw, now)
            return []
        shared = m.repost_of or m.quote_of
        if shared is not None and shared.account.lower() in self.official:
            source = self._contradicted(raw, now, m.quote_of.post_id) if m.quote_of is not None and raw else None
            if source is None:
                return []  # a share of the city's own post
            # 「これ、実は1週間続くらしい」 quoting the announcement: a rumour of its own.
            return self._on_text(m, ctx, key=None, refs=[], addressed=self._addressed(m), url=url,
                                 quoted=source)
        if m.repost_of is not None:
            key = self.ids.get(m.repost_of.post_id)
            if key is not None:
                return self._amplify(key, m, 0, now, ctx, repost=True)
        addressed = self._addressed(m)
        refs = [r.post_id for r in (m.quote_of, None if addressed else m.reply_to) if r is not None]
        key = next((self.ids[r] for r in refs if r in self.ids), None)
        return self._on_text(m, ctx, key=key, refs=refs, addressed=addressed, url=url)

    def _on_text(self, m: Mention, ctx: Context, *, key: str | None, refs: list[str], addressed: bool,
                 url: int, quoted: list[Any] | None = None) -> list[Finding]:
        """A post that is neither the city's nor a repost of a claim: read what it says.

        `key` is the claim it quotes or replies to, if any; `refs` the posts it points to;
        `quoted` the city's announcement it quotes and contradicts."""
        now, raw = m.ts, m.text
        if not raw:
            return [] if key is None else self._amplify(key, m, 0, now, ctx, repost=False)
        flagged = self._worth_a_look.search(raw.translate(QUICK_FOLD)) is not None
        if key is None and not flagged and not self.index.touches(raw):
            return []  # everyday chatter: no marker and no word of a watched claim
        text = rep_text(raw)
        norm = normalize(text)
        cats = self._categories(norm, addressed) if flagged else 0
        if key is not None:
            return self._amplify(key, m, cats, now, ctx, repost=False)
        fac, alarm = place_and_alarm_masks(norm)
        source = quoted
        if quoted is not None:  # what it says is about what the announcement is about
            alarm = alarm or place_and_alarm_masks(normalize(quoted[3]))[1]
        elif cats and alarm and self.announcements.items:
            # A marked post about what the city announced: a retelling (公式発表の拡散) is no
            # rumour and counts nowhere; a contradiction is one, with the city's post as its source.
            verdict, announcement = self.announcements.judge(raw, now)
            if verdict == AGREES:
                return []
            if verdict == CONTRADICTS and announcement is not None:
                source = announcement
        clean = cleaned(norm, self._strip)
        tokens = keywords(clean, text)
        # Only a post that may start a claim needs its LSH bands (a claim's are those of its text).
        feats = Features.of(content_of(clean), tokens, lsh=cats != 0, names=place_names(clean))
        if feats.empty:
            return []
        candidates = self.index.candidates(feats, watched_only=not cats)
        if source is not None:  # a contradiction never joins the city's own post
            candidates = {k for k in candidates if not self.claims[k].bits & OFFICIAL}
        key = self.index.best(feats, candidates) if candidates else None
        learn = True
        if key is None and cats:
            key = self._related(feats, fac, now, exclude=None, alarming=alarm != 0)
            learn = alarm != 0  # a retelling that says what happened teaches the claim its words
        if key is None:
            if not cats:
                return []
            key = self._create(m.id, text, now, feats)
            for ref in refs:
                self._refer(self.claims[key], ref)
        c = self.claims[key]
        if c.url == 0:
            c.url = url
        if source is not None and c.src is None and not c.bits & OFFICIAL:
            c.src = [source[0], source[2], snippet(source[3])]
        c.nt += 1
        c.nm += cats != 0
        c.ne += (cats & ENQUIRY) != 0
        named = self._named(norm, m)
        c.bits |= cats | named
        c.fac |= fac
        c.alarm |= alarm
        if cats:
            bonus = self.config.contradiction_points if source is not None else 0
            c.peak = max(c.peak, post_points(alarm, fac, named, cats) + bonus)
        # Chatter that shares the claim's words (花火大会、混むらしい beside 花火大会、中止らしい)
        # dilutes it but does not spread it, nor teach it words: only alarming or strongly
        # marked texts do, or hedged worry about an alarming claim (ごみ処理場がやばいって).
        carries = (alarm != 0 or (cats & (SPREAD | COVERUP | ENQUIRY)) != 0
                   or (cats != 0 and c.alarm != 0 and CONCERN.search(norm) is not None))
        if learn and carries and key != m.id:
            self._learn(c, feats.tokens, feats.names)
        self._watch(c)
        self._record(c, m, now, original=True, carries=carries)
        return self._evaluate(c, now, ctx)

    # --- joining -------------------------------------------------------------------

    def _contradicted(self, raw: str, now: float, quoting: str) -> list[Any] | None:
        """The announcement a marked quote of it contradicts, if it does."""
        if not self.announcements.items or self._worth_a_look.search(raw.translate(QUICK_FOLD)) is None:
            return None
        verdict, item = self.announcements.judge(raw, now, quoting)
        return item if verdict == CONTRADICTS else None

    def _addressed(self, m: Mention) -> bool:
        if m.reply_to is not None and m.reply_to.account.lower() in self.official:
            return True
        return "@" in m.text and any(h.lower() in self.official for h in HANDLE_MENTION.findall(m.text))

    def _categories(self, norm: str, addressed: bool) -> int:
        bits = 0
        for found in self._markers.findall(norm):
            bits |= MARKER_CATEGORY[found]
        if addressed and self._enquiry.search(norm):
            bits |= ENQUIRY
        return bits

    def _named(self, norm: str, m: Mention) -> int:
        if any(n in norm for n in self.names) or any(a in norm for a in self.areas):
            return NAMED
        if self.watch_tags and any(normalize(t) in self.watch_tags for t in m.hashtags):
            return NAMED
        return 0

    def _amplify(self, key: str, m: Mention, cats: int, now: float, ctx: Context, *,
                 repost: bool) -> list[Finding]:
        """A repost, quote or reply of a post of the claim: spread, not a new statement."""
        c = self.claims[key]
        c.bits |= cats
        c.ne += (cats & ENQUIRY) != 0
        if cats:  # a marked quote or reply of the claim says its words again
            c.peak = max(c.peak, post_points(c.alarm, c.fac, c.bits & NAMED, cats))
        self._record(c, m, now, original=not repost)
        return self._evaluate(c, now, ctx)

    def _record(self, c: Claim, m: Mention, now: float, *, original: bool, carries: bool = True) -> None:
        """Count a post in its claim; only posts that carry the claim (`carries`) count as its spread."""
        cfg = self.config
        c.n += 1
        if c.inc is not None and now - c.last >= cfg.resurface_gap_s:
            c.inc[4:] = [c.inc[4] if len(c.inc) > 4 else 1, 1]  # quiet for a while: may come back
        c.last = max(c.last, now)
        author = zlib.crc32(m.author.id.encode())
        if count_author(c, author, cfg.authors_cap):
            c.reach += m.author.followers
        if carries:
            c.recent.append((round(now - c.t0), author))
        if original:
            if len(c.orig) < cfg.evidence_cap and m.id not in self.ids:
                c.orig.append(m.id)
                self.ids[m.id] = c.key
        elif len(c.reposts) < cfg.repost_evidence:
            c.reposts.append(m.id)
        self.claims[c.key] = self.claims.pop(c.key)  # most recently active last

    def _learn(self, c: Claim, tokens: frozenset[str], names: frozenset[str]) -> None:
        """Teach a claim the words and places of a post that retells it (both capped)."""
        cfg = self.config
        room = cfg.extra_tokens_cap - len(c.extra)
        if room > 0:
            vocab = self.index.vocabulary(c.key)
            new = sorted(t for t in tokens if t not in vocab)[:room]
            c.extra.extend(new)
            self.index.extend(c.key, new)
        room = cfg.places_cap - len(c.places)
        if room > 0 and names:
            known = self.index.names(c.key)
            new = sorted(n for n in names if n not in known)[:room]
            c.places.extend(new)
            self.index.add_names(c.key, new)

    def _refer(self, c: Claim, post_id: str) -> None:
        if post_id not in self.ids and len(c.refs) < self.config.refs_cap:
            c.refs.append(post_id)
            self.ids[post_id] = c.key

    def _watch(self, c: Claim) -> None:
        """Watch a claim that could ever alarm, so that unmarked posts repeating it are counted."""
        if not c.bits & OFFICIAL and (c.alarm or c.bits & (SPREAD | COVERUP | ENQUIRY) or c.inc is not None):
            self.index.watch(c.key)

    def _related(self, feats: Features, fac: int, now: float, exclude: str | None,
                 alarming: bool = True) -> str | None:
        """The alarming rumour of the last hour that shares the most specific words with `tokens`.

        Rumours retell a story in few, varied words (「浄水場で薬品が漏れたらしい」,
        「水道が汚染されてるって本当？」; 「ライオン脱走の件…」, 「動物園のライオンが逃げた」):
        a marked post that is no near-duplicate of any claim still belongs to the
        alarming rumour it shares a subject with, if there is one this hour. A word
        counts only if at most `related_max_holders` such rumours have it: バス or 桜川
        in every other rumour says nothing about which one a post retells. A post with
        no alarm word of its own must share two words, or a katakana noun (ダム, ライオン),
        so that 「駅前のカフェ、混んでるらしい」 does not join 「駅前で刃物男がいるらしい」;
        and sharing words is not enough when each names places the other
        does not (「プールで事故」, 「駅前で事故」, 「公園で火事」, 「商店街で火事」), nor when they
        name different places of one kind (「上森図書館が閉鎖」, 「本松図書館が閉鎖」).
        """
        tokens = feats.tokens
        shared: dict[str, list[str]] = {}
        for token in tokens:
            if token in GENERIC_TOKENS:
                continue
            holders = self.index.holders(token)
            if len(holders) > self.index.thresholds.max_posting:
                continue  # in so many claims it says nothing about which one
            holders = [k for k in holders if k != exclude and self._rumour(k, now)]
            if 0 < len(holders) <= self.config.related_max_holders:
                for key in holders:
                    shared.setdefault(key, []).append(token)
        places = self._places(fac, feats.names)
        best: tuple[int, float, str] | None = None
        for key, words in shared.items():
            if not alarming and len(words) < 2 and not is_kana_word(words[0]):
                continue
            claim = self.claims[key]
            # Where the claim's first post is: retellings add venues (会場, ホール, 公園) freely.
            theirs = self._places(claim.fac, self.index.names(key).difference(claim.places))
            if places and theirs and not places & theirs and not any(is_kana_word(w) for w in words):
                continue  # each names places, none the other does, and no thing (ライオン) in common
            if names_conflict(feats.names, self.index.names(key)):
                continue
            rank = (len(words), self.claims[key].last, key)
            if best is None or rank > best:
                best = rank
        return best[2] if best else None

    def _contradicting_the_same(self, c: Claim, now: float) -> str | None:
        """A rumour of the hour that contradicts the same announcement of the city: the same story
        told otherwise (「1週間続くらしい」, 「復旧は未定らしい」 against its 9時から15時)."""
        assert c.src is not None
        found = [(other.inc is not None, other.last, key) for key, other in self.claims.items()
                 if key != c.key and other.src is not None and other.src[0] == c.src[0] and self._rumour(key, now)]
        return max(found)[2] if found else None

    @staticmethod
    def _places(fac: int, names: frozenset[str]) -> set[str]:
        """Where a post or claim is: the kinds of facility and of named place it mentions."""
        found = {f"f{family}" for bit, family in FAMILY_OF_BIT if fac & bit}
        found.update(f"n{name.partition(':')[0]}" for name in names)
        return found

    def _rumour(self, key: str, now: float) -> bool:
        c = self.claims[key]
        return bool(c.alarm and c.nm and not c.bits & OFFICIAL and now - c.last <= self.config.related_within_s)

    # --- lifecycle -----------------------------------------------------------------

    def features(self, text: str) -> Features:
        """How the claim index sees a post's text (markers and the municipality's names left out)."""
        rep = rep_text(text)
        clean = cleaned(normalize(rep), self._strip)
        return Features.of(content_of(clean), keywords(clean, rep), names=place_names(clean))

    def claim_of(self, post_id: str) -> str | None:
        """The claim id (an incident's target) that a post was counted in, if it still is."""
        key = self.ids.get(post_id)
        if key is None:
            key = next((k for k, c in self.claims.items() if post_id in c.reposts), None)
        return None if key is None or self.claims[key].bits & OFFICIAL else claim_id(key)

    def _install(self, c: Claim) -> None:
        self.claims[c.key] = c
        self.index.add(c.key, self.features(c.rep))
        self.index.extend(c.key, c.extra)
        self.index.add_names(c.key, c.places)
        for post_id in c.orig + c.refs:
            self.ids[post_id] = c.key
        self._watch(c)

    def _create(self, key: str, text: str, now: float, feats: Features) -> str:
        cfg = self.config
        while len(self.claims) >= cfg.max_claims:
            victim = next((k for k, c in self.claims.items() if c.inc is None), None)
            self._drop(victim if victim is not None else next(iter(self.claims)))
        self.claims[key] = Claim(key, text, now, cfg.recent_cap)
        self.index.add(key, feats)
        return key

    def _official(self, post_id: str, text: str, now: float, url: str | None = None) -> None:
        """The city's own post: a claim that never alarms, so its echoes stay quiet; and an
        announcement claims are compared with, if it says something checkable."""
        self.announcements.remember(post_id, now, text, url)
        if post_id in self.ids:
            return
        rep = rep_text(text)
        c = self.claims[self._create(post_id, rep, now, self.features(rep))]
        c.bits |= OFFICIAL
        c.orig.append(post_id)
        self.ids[post_id] = post_id

    def _drop(self, key: str) -> None:
        c = self.claims.pop(key)
        self.index.remove(key)
        for post_id in c.orig + c.refs:
            if self.ids.get(post_id) == key:
                del self.ids[post_id]

    def _sweep(self, now: float) -> None:
        cfg = self.config
        self.swept = now
        expired = [k for k, c in self.claims.items()
                   if now - c.last > (cfg.open_quiet_s if c.inc is not None else cfg.quiet_s)]
        for key in expired:
            self._drop(key)
        self.announcements.forget(now)
        for h in [h for h, (_, last) in self.urls.items() if now - last > cfg.quiet_s]:
            del self.urls[h]

    def _count_links(self, m: Mention, now: float) -> int:
        links = m.urls or tuple(LINK.findall(m.text))
        if not links:
            return 0
        h = zlib.crc32(links[0].lower().rstrip("/").encode())
        entry = self.urls.pop(h, None)
        self.urls[h] = [entry[0] + 1 if entry else 1, now]
        if len(self.urls) > self.config.max_urls:
            del self.urls[next(iter(self.urls))]
        return h

    def _merge(self, src: Claim, dst: Claim) -> None:
        """Fold a claim found to be another wording of the same story into `dst`."""
        cfg = self.config
        self._drop(src.key)
        dst.n += src.n
        dst.nt += src.nt
        dst.nm += src.nm
        dst.ne += src.ne
        dst.bits |= src.bits
        dst.fac |= src.fac
        dst.alarm |= src.alarm
        dst.peak = max(dst.peak, src.peak)
        dst.reach += src.reach
        dst.more_authors += src.more_authors
        for author in src.authors:
            count_author(dst, author, cfg.authors_cap)
        shift = round(src.t0 - dst.t0)
        merged = sorted([*dst.recent, *((dt + shift, a) for dt, a in src.recent)])
        dst.recent = deque(merged[-cfg.recent_cap:], maxlen=cfg.recent_cap)
        for post_id in src.orig:
            if len(dst.orig) < cfg.evidence_cap:
                dst.orig.append(post_id)
                self.ids[post_id] = dst.key
        dst.reposts.extend(src.reposts[:cfg.repost_evidence - len(dst.reposts)])
        for post_id in src.refs:
            self._refer(dst, post_id)
        dst.url = dst.url or src.url
        dst.src = dst.src or src.src
        learnt = self.features(src.rep)
        self._learn(dst, learnt.tokens, learnt.names)
        dst.last = max(dst.last, src.last)
        self._watch(dst)

    # --- judging ---------------------------------------------------------------------

    def intensity(self, c: Claim, ctx: Context) -> int:
        """The claim's most alarming marked post, one point more in a disaster.

        Taken per post, not over the claim's words together, so that a post asking
        to spread a new café menu and one saying a road had an accident, joined by
        the place they share, do not add up to an alarming rumour.
        """
        if c.peak <= CHATTER_POINTS:
            return c.peak  # chatter stays chatter in a disaster too
        return c.peak + (self.config.disaster_points if ctx.disaster_active else 0)

    def _qualifies(self, c: Claim, now: float, ctx: Context) -> dict[str, Any] | None:
        """The signals that open an incident for this claim now, or None."""
        cfg = self.config
        disaster = ctx.disaster_active
        if c.nm == 0:
            return None
        links = self.urls[c.url][0] if c.url in self.urls else 0
        share = c.nm / max(c.nt, links, 1)
        if share < (cfg.disaster_min_marked_share if disaster else cfg.min_marked_share):
            return None
        points = self.intensity(c, ctx)
        acceleration = cfg.disaster_acceleration if disaster else cfg.acceleration
        windows = ((cfg.disaster_window_s if disaster else cfg.window_s, cfg.authors_needed),
                   (cfg.disaster_long_window_s if disaster else cfg.long_window_s, cfg.long_authors_needed))
        for window, table in windows:
            needed = authors_needed(points, table)
            if needed is None:
                continue
            authors, posts, before = window_counts(c, now, window)
            if authors >= needed and posts >= acceleration * before:
                return {"intensity": points, "window_s": window, "authors_needed": needed,
                        "window_authors": authors, "window_posts": posts,
                        "previous_window_posts": before, "marked_share": round(share, 2)}
        return None

    def severity(self, c: Claim, ctx: Context) -> int:
        spread = max(tier(c.distinct_authors, (10, 30, 100)), tier(c.reach, (10_000, 100_000, 1_000_000)))
        strong = c.peak >= self.config.authors_needed[0][0]
        return min(spread + strong + ctx.disaster_active, len(SEVERITIES) - 1)

    def _evaluate(self, c: Claim, now: float, ctx: Context) -> list[Finding]:
        if c.bits & OFFICIAL:
            return []
        if c.inc is not None:
            return self._update(c, now, ctx)
        signals = self._qualifies(c, now, ctx)
        if signals is None:
            return []
        own = self.features(c.rep)
        own.tokens = frozenset(self.index.vocabulary(c.key))
        target = self._related(own, c.fac, now, exclude=c.key)
        if target is None and c.src is not None:
            target = self._contradicting_the_same(c, now)
        if target is not None:
            # One story, one incident: fold into the open claim, or else the stronger (then older) one.
            other = self.claims[target]
            keep_other = other.inc is not None or (-other.peak, other.t0, other.key) < (-c.peak, c.t0, c.key)
            src, dst = (c, other) if keep_other else (other, c)
            self._merge(src, dst)
            return self._evaluate(dst, now, ctx)
        c.inc = [now, 0, c.n, self.severity(c, ctx)]
        return [self._finding(c, "opened", now, ctx, signals)]

    def _update(self, c: Claim, now: float, ctx: Context) -> list[Finding]:
        inc = c.inc
        assert inc is not None
        if len(inc) > 5 and inc[5]:  # it had gone quiet: back only when it spreads again
            signals = self._qualifies(c, now, ctx)
            if signals is None:
                return []
            inc[1] += 1
            inc[2] = c.n
            inc[3] = max(inc[3], self.severity(c, ctx))
            inc[4], inc[5] = inc[4] + 1, 0
            return [self._finding(c, "updated", now, ctx, {**signals, "resurgence": True})]
        severity = max(inc[3], self.severity(c, ctx))
        if c.n < 2 * inc[2] and severity == inc[3]:
            return []
        inc[1] += 1
        inc[2] = c.n
        inc[3] = severity
        return [self._finding(c, "updated", now, ctx, {})]

    def _finding(self, c: Claim, change: str, now: float, ctx: Context,
                 signals: dict[str, Any]) -> Finding:
        assert c.inc is not None
        authors = c.distinct_authors
        wave = c.inc[4] if len(c.inc) > 4 else 1
        summary = claim_summary(c, self.municipality, wave, resurgence=bool(signals.get("resurgence")),
                                disaster=ctx.disaster_active)
        return Finding(
            target=claim_id(c.key),
            change=change,
            opened_at=c.inc[0],
            at=now,
            severity=SEVERITIES[c.inc[3]],
            evidence_ids=c.evidence(self.config.evidence_cap, self.config.repost_evidence),
            summary=summary,
            # `claim`: what the board shows as the incident's subject (the target is an internal id)
            metrics={"claim": snippet(c.rep, 40), "posts": c.n, "texts": c.nt, "marked": c.nm, "enquiries": c.ne,
                     "authors": authors, "reach": c.reach, "disaster": ctx.disaster_active,
                     "wave": wave, **signals, **source_of(c)},
            seq=c.inc[1],
        )
