"""Small pure helpers of the scenario generator: time units, seeded random
arrivals, template expansion ([a|b] alternatives, {slot}s), typos and full-width text.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from datetime import datetime
from typing import Any

from vocabulary.terms import JST

MINUTE = 60
HOUR = 3600
DAY = 86400
BANK_NAMES = ("main", "variant")

# --- small pure helpers ----------------------------------------------------------


def iso(t: float) -> str:
    """POSIX seconds → RFC 3339 in Japan time, whole seconds."""
    return datetime.fromtimestamp(int(t), JST).isoformat()


def digest(text: str, size: int = 8) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def hex16(text: str) -> str:
    """A stable 64-bit perceptual-hash-like value (16 hex digits) for an avatar."""
    return digest("avatar|" + text).hex()


def flip_bits(phash: str, bits: int, rng: random.Random) -> str:
    """The hash with `bits` distinct bits flipped: a re-encoded copy of the same picture."""
    value = int(phash, 16)
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return f"{value:016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def b32(value: int, length: int) -> str:
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


TRAILER = re.compile(r"(?:[ 　]+(?:[#＃]|https?://)[^\s]+)+\s*$")
