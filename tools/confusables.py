"""Writes `streams/detectors/confusables.py`, the table that folds Latin look-alikes to ASCII,
from Unicode's confusables data (confusables.txt, as shipped by the `confusable-homoglyphs`
package, a test dependency).

    .venv/bin/python -m tools.confusables        # regenerate after upgrading the package

Unicode maps each confusable character to a prototype that is not always ASCII (ᴀ → ꭺ, the
Cherokee small a; ĸ → ᴋ), so a character's ASCII letter is found by walking the confusable
pairs together with case pairs (ꭺ ↔ Ꭺ) and NFKC (𝚠 → w) up to four steps, nearest first.
Japanese blocks (kana, kanji, full-width forms) are left out: NFKC and the hand-made kana and
kanji table of `impersonation_text` fold those, and 〇 must stay a kanji in a name.
The few plain small capitals the data leaves out (ꜰ, ɴ, ꞯ) are added from their Unicode names.
`tests/unit/test_disguise.py` regenerates the table from the installed data and compares.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from importlib import metadata, resources
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "streams" / "detectors" / "confusables.py"
MAX_STEPS = 4
#: Unicode's confusables leave out a few small capitals (ꜰ, ɴ, ꞯ); their names say the letter.
SMALL_CAPITAL = re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])")
#: Blocks folded elsewhere (NFKC, NAME_FOLD), never by this table.
JAPANESE_BLOCKS = ((0x3000, 0x30FF), (0x3400, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF))


def in_japanese_block(char: str) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in JAPANESE_BLOCKS)


def load_data() -> dict[str, list[dict[str, str]]]:
    """The package's confusables.json: character → its confusables (`c`) with their names (`n`)."""
    return json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))


def source() -> str:
    return f"confusable-homoglyphs {metadata.version('confusable-homoglyphs')} (Unicode confusables.txt)"


def graph(data: dict[str, list[dict[str, str]]]) -> dict[str, set[str]]:
    """Single characters joined when Unicode calls them confusable, when one is the other's
    upper or lower case, or its NFKC form."""
    g: dict[str, set[str]] = {}

    def join(a: str, b: str) -> None:
        if len(a) == 1 and len(b) == 1 and a != b:
            g.setdefault(a, set()).add(b)
            g.setdefault(b, set()).add(a)

    for char, others in data.items():
        for other in others:
            join(char, other["c"])
    for char in list(g):
        for related in (char.lower(), char.upper(), unicodedata.normalize("NFKC", char)):
            join(char, related)
    return g


def ascii_letter(g: dict[str, set[str]], char: str) -> str | None:
    """The nearest ASCII letter or digit (lower case) `char` passes for, or None."""
    seen, frontier = {char}, [char]
    for step in range(1, MAX_STEPS + 1):
        following = []
        for node in frontier:
            for nxt in sorted(g.get(node, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    following.append(nxt)
        found = sorted(c.lower() for c in following if c.isascii() and c.isalnum())
        if found:
            return found[0]
        frontier = following
    return None


def build(data: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Every non-ASCII character of the data outside the Japanese blocks → its ASCII letter.

    Keys are what the fold meets after NFKC (𝚠 is met as w, 𝚺 as Σ); it folds before lower
    case, since a lower case can look unlike its capital (Σ, σ)."""
    g = graph(data)
    table: dict[str, str] = {}
    for char in sorted(g):
        if char.isascii() or in_japanese_block(char):
            continue
        letter = ascii_letter(g, char)
        if letter is None:
            continue
        seen_as = unicodedata.normalize("NFKC", char)
        for key in (char, seen_as):
            if len(key) == 1 and not key.isascii() and not in_japanese_block(key):
                table.setdefault(key, ascii_letter(g, key) or letter)
    for char, letter in small_capitals().items():
        table.setdefault(char, letter)
    return dict(sorted(table.items()))


def small_capitals() -> dict[str, str]:
    """LATIN LETTER SMALL CAPITAL F → f, for every plain small capital Unicode names."""
    found = {}
    for cp in range(0x80, 0x30000):
        m = SMALL_CAPITAL.fullmatch(unicodedata.name(chr(cp), ""))
        if m:
            found[chr(cp)] = m.group(1).lower()
    return found


def render(table: dict[str, str]) -> str:
    rows = []
    row = "   "
    for key, letter in table.items():
        item = f" 0x{ord(key):X}: {letter!r},"
        if len(row) + len(item) > 110:
            rows.append(row)
            row = "   "
        row += item
    rows.append(row)
    body = "\n".join(rows)
    return f'''"""Latin look-alikes (ᴡ, ԝ, ι, ı, ĸ, 𝚠 after NFKC …) → the ASCII letter they pass for.

Generated by `python -m tools.confusables` from {source()} and the names of
the small capitals; do not edit by hand.
{len(table)} characters; Japanese blocks are folded elsewhere. Use with `str.translate`.
"""

SOURCE = {source()!r}

TO_ASCII: dict[int, str] = {{
{body}
}}
'''


def main(argv: list[str] | None = None) -> int:
    table = build(load_data())
    OUT.write_text(render(table), encoding="utf-8")
    print(f"{len(table)} look-alikes written to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
