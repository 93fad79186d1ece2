"""Look-alike handles, names and avatars for the impersonation episodes and the honest
look-alikes the detectors must leave alone, per bank.
"""

from __future__ import annotations

import random
import re
import unicodedata
from typing import TYPE_CHECKING

from tools.scenarios.common import hamming, hex16
from tools.scenarios.people import X_MAX

if TYPE_CHECKING:  # only for annotations: the Sim runs the episodes
    from tools.scenarios.traffic import Sim


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



# --- disguises (issue 15): look-alike letters from outside any hand-made table, and words
# written apart, stretched or in mixed widths so that a plain word match misses them ----------

#: Per letter, the look-alike each kind of disguise puts in a fake handle.
HANDLE_DISGUISES: dict[str, dict[str, str]] = {
    "small_caps": dict(zip("abcdefghijklmnoprstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ")),
    "cyrillic": {"w": "ԝ", "o": "օ", "a": "а", "e": "е", "c": "с", "p": "р", "x": "х", "y": "у", "s": "ѕ"},
    "greek": {"i": "ι", "o": "ο", "a": "α", "v": "ν", "k": "κ"},
    "math": {c: chr(0x1D68A + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")},  # monospace 𝚊…𝚣
    "dotless": {"i": "ı"},
    "kra": {"k": "ĸ"},
    "zero_width": {},
}


def disguised_handle(handle: str, kind: str, rng: random.Random) -> str:
    """`handle` with every letter the kind has a look-alike for swapped for it (a one-letter
    swap is caught by edit distance alone); "zero_width" hides a zero-width space inside it."""
    local, domain = _local_part(handle)
    if kind == "zero_width":
        i = rng.randrange(1, len(local))
        return local[:i] + "\u200b" + local[i:] + domain
    table = HANDLE_DISGUISES[kind]
    spots = [i for i, c in enumerate(local) if c.lower() in table]
    if not spots:
        raise ValueError(f"{handle!r} has no letter the {kind} disguise can replace")
    return "".join(table[c.lower()] if i in spots else c for i, c in enumerate(local)) + domain


_KANA_KANJI = re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u9fff]")
_HIRAGANA = re.compile("[\u3041-\u3096]")
#: Katakana → half-width katakana (ザ → ｻﾞ): NFKC read backwards.
_HALF_WIDTH = {unicodedata.normalize("NFKC", chr(cp) + mark): chr(cp) + mark
               for cp in range(0xFF66, 0xFF9E) for mark in ("", "\uff9e", "\uff9f")
               if len(unicodedata.normalize("NFKC", chr(cp) + mark)) == 1}
TEXT_DISGUISES = ("spaced", "zero_width", "stretched", "mixed_width")


def disguise_text(text: str, rng: random.Random, kind: str | None = None) -> str:
    """The same words written so that a plain match misses them: a space or a zero-width space
    between their characters (謝 罪 し ろ), stretched kana (ありえな〜い, ひどーーい), or
    half-width katakana and spaces mixed in (ﾌｻﾞ ｹﾙﾅ)."""
    kind = kind or rng.choice(TEXT_DISGUISES)
    out: list[str] = []
    for i, c in enumerate(text):
        out.append(c)
        nxt = text[i + 1] if i + 1 < len(text) else ""
        inside = bool(nxt) and _KANA_KANJI.match(c) is not None and _KANA_KANJI.match(nxt) is not None
        if kind == "spaced" and inside:
            out.append(rng.choice((" ", " ", "\u3000")))
        elif kind == "zero_width" and inside:
            out.append(rng.choice(("\u200b", "\u200c", "\u2060")))
        elif kind == "stretched" and inside and _HIRAGANA.match(c) and _HIRAGANA.match(nxt) and rng.random() < .5:
            out.append(rng.choice(("〜", "〜〜", "ーー", "ーーー", "～")))
        elif kind == "mixed_width" and inside and rng.random() < .5:
            out.append(" ")
    if kind == "mixed_width":
        # hiragana as katakana, then half width: the way a phone's half-width keyboard writes
        return "".join(_HALF_WIDTH.get(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3093" else c, c) for c in out)
    return "".join(out)
