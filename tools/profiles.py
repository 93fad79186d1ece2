"""Generated municipality profiles at the scale of Japan (1,741 municipalities), for the
profile-loading benchmark, the scale benchmark and the tests that load many profiles.

`generate_profiles(folder, n, seed)` writes `n` distinct, contract-valid profiles, one
`ID.profile.json` each: invented kanji names with their readings, a prefecture and its
area, one to three official accounts on X, Bluesky and Mastodon, hashtags and owners.
The same seed writes the same files.

    python -m tools.profiles FOLDER [N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import orjson

from tools.scenarios.common import hex16
from tools.scenarios.towns import OFFICE

#: Japan's municipalities (市区町村, the 23 special wards included) as of 2024.
JAPAN = 1_741

#: Kanji with one reading each (kana, romaji); two make a name: 桜川, さくらがわ, sakuragawa.
_PARTS: tuple[tuple[str, str, str], ...] = (
    ("桜", "さくら", "sakura"), ("川", "かわ", "kawa"), ("山", "やま", "yama"), ("田", "た", "ta"),
    ("野", "の", "no"), ("島", "しま", "shima"), ("原", "はら", "hara"), ("松", "まつ", "matsu"),
    ("北", "きた", "kita"), ("南", "みなみ", "minami"), ("東", "ひがし", "higashi"), ("西", "にし", "nishi"),
    ("大", "おお", "oo"), ("小", "こ", "ko"), ("高", "たか", "taka"), ("新", "にい", "nii"),
    ("長", "なが", "naga"), ("白", "しろ", "shiro"), ("石", "いし", "ishi"), ("岡", "おか", "oka"),
    ("宮", "みや", "miya"), ("沢", "さわ", "sawa"), ("津", "つ", "tsu"), ("浜", "はま", "hama"),
    ("井", "い", "i"), ("谷", "や", "ya"), ("林", "はやし", "hayashi"), ("森", "もり", "mori"),
    ("水", "みず", "mizu"), ("木", "き", "ki"), ("上", "かみ", "kami"), ("中", "なか", "naka"),
    ("下", "しも", "shimo"), ("本", "もと", "moto"), ("福", "ふく", "fuku"), ("富", "とみ", "tomi"),
    ("吉", "よし", "yoshi"), ("安", "やす", "yasu"), ("豊", "とよ", "toyo"), ("和", "わ", "wa"),
    ("光", "みつ", "mitsu"), ("清", "きよ", "kiyo"), ("若", "わか", "waka"), ("青", "あお", "ao"),
    ("鶴", "つる", "tsuru"), ("亀", "かめ", "kame"), ("草", "くさ", "kusa"), ("竹", "たけ", "take"),
    ("梅", "うめ", "ume"), ("藤", "ふじ", "fuji"), ("桐", "きり", "kiri"), ("岩", "いわ", "iwa"),
    ("崎", "さき", "saki"), ("瀬", "せ", "se"), ("坂", "さか", "saka"), ("江", "え", "e"),
    ("泉", "いずみ", "izumi"), ("里", "さと", "sato"), ("見", "み", "mi"), ("平", "ひら", "hira"),
    ("日", "ひ", "hi"), ("月", "つき", "tsuki"), ("星", "ほし", "hoshi"), ("宇", "う", "u"),
    ("佐", "さ", "sa"), ("賀", "が", "ga"), ("船", "ふな", "funa"), ("舞", "まい", "mai"),
)
_PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
_AREAS = ("北部", "南部", "東部", "西部", "中部")
#: Japan's mix: 792 市, 743 町, 183 村, 23 区.
_KINDS = (("市", "city", 792), ("町", "town", 743), ("村", "village", 183), ("区", "ward", 23))
_DEPARTMENTS = ("広報課", "広報広聴課", "秘書広報課", "総務課", "企画課", "シティプロモーション課", "危機管理課")
_INSTANCES = ("mstdn.jp", "mastodon-japan.net", "fedibird.com")


def _voiced(kana: str, roman: str) -> tuple[str, str]:
    """The rendaku of a second part (さわ → ざわ) now and then, as real names have it."""
    pairs = {"か": ("が", "g"), "さ": ("ざ", "z"), "た": ("だ", "d"), "は": ("ば", "b"), "し": ("じ", "j")}
    if kana[0] in pairs:
        voiced, letter = pairs[kana[0]]
        rest = roman[2:] if roman.startswith("sh") else roman[1:]
        return voiced + kana[1:], letter + rest
    return kana, roman


def _account(platform: str, roman: str, kind_en: str, name: str, office: str, department: str,
             rng: random.Random) -> dict[str, Any]:
    if platform == "x":
        handle = f"{roman}_{kind_en}"[:15]  # X handles are at most 15 characters
        url, shown = f"https://x.com/{handle}", office
    elif platform == "bluesky":
        handle = f"{roman}-{kind_en}.bsky.social"
        url, shown = f"https://bsky.app/profile/{handle}", f"{name}（公式）"
    else:
        instance = rng.choice(_INSTANCES)
        handle = f"{roman}_{kind_en}"
        url, shown = f"https://{instance}/@{handle}", f"{name} 公式"
    return {"platform": platform, "handle": handle, "name": shown, "url": url,
            "avatar_phash": hex16(f"{platform}|{handle}"), "department": department,
            "owner": department + "長", "reply_policy": "none"}


def profile_dicts(n: int = JAPAN, seed: int = 1) -> list[dict[str, Any]]:
    """`n` distinct profiles (ids, names and handles all different), the same for the same seed."""
    rng = random.Random(seed)
    kinds = [k for k in _KINDS for _ in range(k[2])]
    rng.shuffle(kinds)
    pairs = [(a, b) for a in _PARTS for b in _PARTS if a != b]
    rng.shuffle(pairs)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()  # ids and handles
    for first, second in pairs * len(_KINDS):  # the same two kanji may name a 市 and a 町 (桜川市, 桜川町)
        if len(out) == n:
            break
        kind, kind_en, _ = kinds[len(out) % len(kinds)]
        kana2, roman2 = _voiced(second[1], second[2]) if rng.random() < 0.3 else (second[1], second[2])
        short, short_kana, roman = first[0] + second[0], first[1] + kana2, first[2] + roman2
        muni_id = f"{roman}-{kind_en}"
        name = short + kind
        kind_kana = {"市": "し", "町": "まち", "村": "むら", "区": "く"}[kind]
        pref = rng.choice(_PREFECTURES)
        department = rng.choice(_DEPARTMENTS)
        platforms = ["x"] + rng.sample(["bluesky", "mastodon"], rng.choice((0, 0, 1, 1, 2)))
        accounts = [_account(p, roman, kind_en, name, short + OFFICE[kind], department, rng) for p in platforms]
        keys = {muni_id, name} | {f"{a['platform']}:{a['handle']}" for a in accounts}
        if keys & seen:
            continue
        seen |= keys
        out.append({
            "municipality": {"id": muni_id, "name": name, "names": [name, short, short_kana + kind_kana, short_kana],
                             "kana": short_kana + kind_kana, "prefecture": pref,
                             "areas": [pref + rng.choice(_AREAS)]},
            "accounts": accounts,
            "watch_hashtags": [name] + ([short] if rng.random() < 0.3 else []),
            "disaster_hashtags": [f"{name}災害"] + ([f"{name}防災"] if rng.random() < 0.4 else []),
        })
    if len(out) < n:
        raise ValueError(f"made only {len(out):,} distinct profiles of {n:,}")
    return out


def generate_profiles(folder: Path | str, n: int = JAPAN, seed: int = 1) -> list[Path]:
    """Write `n` profiles into `folder` as `ID.profile.json`; the paths written, in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for profile in profile_dicts(n, seed):
        path = folder / f"{profile['municipality']['id']}.profile.json"
        path.write_bytes(orjson.dumps(profile, option=orjson.OPT_INDENT_2) + b"\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.profiles", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("n", type=int, nargs="?", default=JAPAN)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    paths = generate_profiles(args.folder, args.n, args.seed)
    print(f"{len(paths):,} profiles in {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
