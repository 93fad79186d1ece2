"""One デマ claim: the cluster of posts that carry it, its spread and its incident, and its
bounded state as a flat JSON list (see `streams.detectors.misinformation`).
"""

from __future__ import annotations

import zlib
from collections import deque
from typing import Any

from streams.detectors.misinformation_text import snippet


def claim_id(key: str) -> str:
    """The incident target: a stable id derived from the claim's first post id."""
    data = key.encode()
    return f"claim-{zlib.crc32(data):08x}{zlib.crc32(data[::-1]) & 0xFFFF:04x}"


def authors_needed(points: int, table: tuple[tuple[int, int], ...]) -> int | None:
    """How many distinct authors a claim this alarming needs (the first row it reaches), or None."""
    for at_least, authors in table:
        if points >= at_least:
            return authors
    return None


def window_counts(c: Claim, now: float, window_s: int) -> tuple[int, int, int]:
    """Distinct authors and posts in the window, and posts in the window before it."""
    edge = now - c.t0 - window_s
    authors = set()
    posts = before = 0
    for dt, author in c.recent:
        if dt >= edge:
            posts += 1
            authors.add(author)
        elif dt >= edge - window_s:
            before += 1
    return len(authors), posts, before


def source_of(c: Claim) -> dict[str, Any]:
    """The city's post the claim contradicts: the correction's source (`source_url`)."""
    if c.src is None:
        return {}
    post_id, url, words = c.src
    out: dict[str, Any] = {"official_post_id": post_id, "official_post": words, "contradicts_official": True}
    if url:
        out["source_url"] = url
    return out


def claim_summary(c: Claim, municipality: str, wave: int, *, resurgence: bool, disaster: bool) -> str:
    """The incident's summary, as the board and the notifications say it."""
    summary = f"「{snippet(c.rep)}」という未確認情報が {c.n} 件（{c.distinct_authors} 人）拡散中"
    if resurgence:
        summary = f"再燃（第{wave}波）: " + summary
    if c.ne:
        summary += f"。{municipality}への問い合わせ {c.ne} 件"
    if c.src is not None:
        summary += f"。{municipality}の発表「{c.src[2]}」と食い違います（訂正の根拠）"
    if disaster:
        summary += "。災害時のため早めの訂正を"
    return summary


def count_author(claim: Claim, author: int, cap: int) -> bool:
    """Count an author towards a claim's spread; true when not seen before. The first
    `cap` are kept by id, the rest only counted, to keep the state bounded."""
    if author in claim.author_set:
        return False
    if len(claim.authors) < cap:
        claim.authors.append(author)
        claim.author_set.add(author)
    else:
        claim.more_authors += 1
    return True


class Claim:
    """One cluster of posts carrying the same claim, with its spread and its incident."""

    __slots__ = ("key", "rep", "t0", "last", "n", "nt", "nm", "ne", "bits", "fac", "alarm", "peak",
                 "reach", "authors", "author_set", "more_authors", "recent", "orig", "reposts",
                 "refs", "url", "extra", "places", "inc", "src")

    def __init__(self, key: str, rep: str, t0: float, recent_cap: int) -> None:
        self.key, self.rep, self.t0, self.last = key, rep, t0, t0
        self.n = 0  # every post: texts, reposts, quotes and replies
        self.nt = 0  # texts that joined by content (the claim stated again)
        self.nm = 0  # … of which carry a rumour marker
        self.ne = 0  # enquiries to an official account
        self.bits = self.fac = self.alarm = 0  # unions over the posts: what the claim is about
        self.peak = 0  # the intensity of its most alarming marked post (`post_points`)
        self.reach = 0
        self.authors: list[int] = []
        self.author_set: set[int] = set()
        self.more_authors = 0  # authors past the cap (approximate: counted per post)
        self.recent: deque[tuple[int, int]] = deque(maxlen=recent_cap)  # (seconds after t0, author)
        self.orig: list[str] = []
        self.reposts: list[str] = []
        self.refs: list[str] = []  # ids of unseen posts that point here (quoted, replied to)
        self.url = 0
        self.extra: list[str] = []  # keywords learnt from members
        self.places: list[str] = []  # … and the places they name (`place_names`)
        self.inc: list[Any] | None = None  # [opened_at, seq, posts reported, severity index]
        #: The city's announcement the claim contradicts: [post id, url or None, its opening words].
        self.src: list[Any] | None = None

    def to_state(self) -> list[Any]:
        """A flat list in the order of `__slots__` (`recent` flattened, `orig` without the key it
        always starts with): a thousand claims take about 150 kB."""
        recent = [x for pair in self.recent for x in pair]
        return [self.key, self.rep, self.t0, self.last, self.n, self.nt, self.nm, self.ne,
                self.bits, self.fac, self.alarm, self.peak, self.reach, self.authors, self.more_authors,
                recent, self.orig[1:], self.reposts, self.refs, self.url, self.extra, self.places, self.inc,
                *([self.src] if self.src is not None else [])]

    @classmethod
    def from_state(cls, s: list[Any], recent_cap: int) -> Claim:
        c = cls(s[0], s[1], s[2], recent_cap)
        (c.last, c.n, c.nt, c.nm, c.ne, c.bits, c.fac, c.alarm, c.peak, c.reach) = s[3:13]
        c.authors, c.more_authors = list(s[13]), s[14]
        c.author_set = set(c.authors)
        flat = s[15]
        c.recent.extend(zip(flat[::2], flat[1::2]))
        c.orig, c.reposts, c.refs, c.url, c.extra, c.places, c.inc = (
            [c.key, *s[16]], list(s[17]), list(s[18]), s[19], list(s[20]), list(s[21]), s[22])
        c.src = s[23] if len(s) > 23 else None
        return c

    @property
    def distinct_authors(self) -> int:
        return len(self.authors) + self.more_authors

    def evidence(self, cap: int, reposts: int) -> list[str]:
        """The claim's posts, originals first, with a few reposts."""
        shown = self.reposts[:reposts]
        return self.orig[:cap - len(shown)] + shown

