"""The pre-post check (投稿前チェック) run on every draft before it may go out.

It finds what must not be posted (block) and what a person must look at first (warn), from the
rules on outbound posts in the municipal guidelines [002, 004]; it never rewrites the draft.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

BLOCK, WARN = "block", "warn"


@dataclass(frozen=True)
class CheckFinding:
    code: str  # e.g. "url_shortener", "personal_phone", "rumour_wording"
    level: str  # "block" | "warn"
    message_ja: str
    message_en: str
    excerpt: str  # the matched text (NFKC-normalised), for the operator


def blocking(findings: Iterable[CheckFinding]) -> bool:
    return any(f.level == BLOCK for f in findings)


# --- links -----------------------------------------------------------------

# URL短縮サービス are banned [002]: residents cannot see where the link goes, and whoever
# controls the short link can re-point it. t.co is X's own wrapper, added by X itself; written
# by hand it hides the target like any other. Not listed, on purpose: lin.ee (LINE's own
# friend-add links for official accounts), forms.gle and youtu.be lead only into their own
# platform; they are links like any other, trusted only when the city lists its own.
URL_SHORTENERS = frozenset({
    "bit.ly", "j.mp", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "v.gd", "buff.ly",
    "cutt.ly", "shorturl.at", "x.gd", "amzn.to", "tiny.cc", "t.ly", "rb.gy", "rebrand.ly",
})
# Only governments can register under go.jp (国の機関) and lg.jp (地方公共団体).
GOVERNMENT_DOMAINS = ("go.jp", "lg.jp")
# わいせつな内容を含むホームページへのリンク [002]: top-level domains for adult content and a few
# of the best-known sites; a marker, not a filter list.
OBSCENE_TLDS = frozenset({"xxx", "adult", "porn", "sex"})
OBSCENE_HOSTS = frozenset({"pornhub.com", "xvideos.com", "xhamster.com", "xnxx.com"})

_URL = re.compile(
    r"(?<![A-Za-z0-9.@/_-])"
    r"(?P<scheme>https?://)?"
    r"(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?::\d{1,5})?"
    r"(?P<path>/[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?"
)


def _trim_url(url: str) -> str:
    # Text around a link ends it: "（https://…/）" becomes "(https://…/)" after NFKC.
    while url and url[-1] in ".,;:!?'\")]":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _trust_rule(entry: str) -> tuple[str, str]:
    """'city.example.jp' trusts the domain and its subdomains; 'x.com/wako_city' only that path."""
    rest = re.sub(r"^https?://", "", _nfkc(entry).strip().casefold())
    host, _, path = rest.partition("/")
    return host.split(":")[0].lstrip("*."), ("/" + path).rstrip("/") if path else ""


def _host_under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _trusted(host: str, path: str, rules: Iterable[tuple[str, str]]) -> bool:
    path = path.casefold()
    return any(
        _host_under(host, rule_host) and (not rule_path or path == rule_path or path.startswith(rule_path + "/"))
        for rule_host, rule_path in rules
    )


# --- personal data ---------------------------------------------------------

_DASH_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ー‐‑‒–—―−ｰ](?=\d)")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:\+81[- ]?(?:\(0\)[- ]?)?|\(?0)"  # +81 or the trunk 0
    r"\d{1,4}\)?[- ]?"  # area code or 90/80/70
    r"(?:\(?\d{1,4}\)?[- ]?)?"  # exchange
    r"\d{3,4}(?![0-9])"  # subscriber
)
_ELEVEN_DIGIT_PREFIXES = ("090", "080", "070", "060", "050", "020", "0800")  # mobiles, IP phones, free dial
# フリーダイヤル and ナビダイヤル numbers are contracted by organisations, never a person's own line:
# an unlisted one (a national hotline, a company) is for a person to confirm, not personal data.
_ORGANISATION_PREFIXES = ("0120", "0800", "0570")
_N = r"[0-9一二三四五六七八九十〇]+"
# A street address down to the lot (番地, 番・号): a person's home if it is not the city's.
_ADDRESS = re.compile(
    rf"{_N}丁目{_N}番(?:地)?(?:の?{_N}号?)?"
    rf"|{_N}丁目{_N}-{_N}(?:-{_N})?"
    rf"|{_N}番地(?:の{_N})?(?:{_N}号)?"
    rf"|{_N}番{_N}号"
    r"|(?<=[々ァ-ヺ一-鿿])[1-9][0-9]?-[0-9]{1,4}-[0-9]{1,4}(?![0-9-])"
)
_PLACE_CHAR = re.compile(r"[々ヶァ-ヺ一-鿿]")


def _phone_key(text: str) -> str | None:
    """The number as dialled in Japan, or None when it is not a Japanese phone number."""
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        digits = "0" + digits[2:].lstrip("0")
    if not digits.startswith("0"):
        return None
    if len(digits) == 10 or (len(digits) == 11 and digits.startswith(_ELEVEN_DIGIT_PREFIXES)):
        return digits
    return None


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


# --- words -----------------------------------------------------------------

# 差別用語・放送禁止用語 [004]: a small tripwire, not a dictionary. The terms and their categories
# are those Japanese newsrooms and broadcasters list as 差別語・不快語 with a replacement
# (e.g. 共同通信『記者ハンドブック』, the broadcasters' 言い換え lists); renamed medical terms name the
# term now in use (統合失調症 since 2002, 認知症 since 2004). Guards keep everyday words that
# contain a term from matching (ちびっこ, かたわら, ページをめくらない, 朝鮮人, 1時間ぐらい病院で,
# 土人形). Staff judgement still decides: 判断に迷う場合は、発信を控える [002].
# (pattern, category ja, category en, say instead)
DISCRIMINATORY_TERMS: tuple[tuple[str, str, str, str], ...] = (
    (r"気違い|キチガイ|基地外", "障害", "disability", ""),
    (r"めくら(?![なずせれ])|メクラ", "障害", "disability", "目の不自由な人"),
    (r"つんぼ|ツンボ", "障害", "disability", "耳の不自由な人"),
    (r"(?<!ち)びっこ|ビッコ", "障害", "disability", "足の不自由な人"),
    (r"かたわ(?!ら)|カタワ", "障害", "disability", "障害のある人"),
    (r"白痴|知恵遅れ|精神薄弱", "障害", "disability", "知的障害"),
    (r"精神分裂病", "病名", "illness", "統合失調症"),
    (r"痴呆", "病名", "illness", "認知症"),
    (r"(?<![ぐくつ])らい病(?!院|棟)|癩病", "病名", "illness", "ハンセン病"),
    (r"穢多|特殊部落", "出自", "descent", ""),
    (r"支那", "民族・国籍", "ethnicity or nationality", "中国"),
    (r"土人(?!形)|毛唐|三国人|(?<!朝)鮮人|バカチョン", "民族・国籍", "ethnicity or nationality", ""),
    (r"乞食", "境遇", "circumstance", ""),
    (r"オカマ|ホモ(?![・サジロ])|レズ(?!ビアン)", "性的指向", "sexual orientation", ""),
)
_DISCRIMINATORY = tuple((re.compile(p), ja, en, instead) for p, ja, en, instead in DISCRIMINATORY_TERMS)

# 違法行為又は違法行為を煽る情報, わいせつな内容 [002]: markers that have no place in a city's post.
# Warnings about crime (爆破予告, 闇バイト) are not markers; the guards spare 殺せる, 死ねない, ….
PROHIBITED_MARKERS: tuple[tuple[str, str, str], ...] = (
    (r"アダルト(?:サイト|動画)|エロ動画|無修正動画", "わいせつな内容", "obscene content"),
    (r"ぶっ殺|殺せ(?![るなばずま])|死ね(?![るなばずま])|(?:爆破|放火)しろ", "違法行為をあおる表現", "incitement to an illegal act"),
)
_PROHIBITED = tuple((re.compile(p), ja, en) for p, ja, en in PROHIBITED_MARKERS)

# 単なる噂や噂を助長させる情報 [002] in the city's own voice. らしい is judged by what precedes it
# (rumour after a verb or adjective: 中止になるらしい; not in 新しい, 素晴らしい, 春らしい).
# かもしれない is a rumour only about what happened (起きたかもしれない); about what may
# happen (川があふれるかもしれません) it is the caution a warning needs.
_RUMOUR = re.compile(
    r"らしい"
    r"|(?:と|って)\s*聞(?:いた|きました|いています|いている|いております)|(?:と|って)\s*ききました|って\s*きいた"
    r"|(?:という|との|って)\s*(?:噂|うわさ|ウワサ)|(?:噂|うわさ)(?:によると|では)"
    r"|(?:た|だ)\s*(?:の\s*)?かも\s*(?:しれ|知れ)(?:ない|ません)"
    r"|未確認(?:情報)?(?:です|だ)が|真偽(?:は)?不明"
)
_RASHII_AFTER = "るたい"
_RASHII_WORDS = ("あた", "かわい", "可愛", "にくた", "憎た", "あなた", "貴方", "長った", "みった")
_QUOTED = re.compile(r"「[^「」]*」|『[^『』]*』|“[^”]*”")


# --- the check -------------------------------------------------------------


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


class _Scan:
    """One draft being checked: the working text, in which each link, address or number is
    blanked once a check has claimed it (so the next check does not read it again), and
    the findings with their positions."""

    def __init__(self, text: str) -> None:
        self.work = _DASH_BETWEEN_DIGITS.sub("-", _nfkc(text))  # same length as the NFKC text
        self.found: list[tuple[int, CheckFinding]] = []

    def add(self, at: int, code: str, level: str, ja: str, en: str, excerpt: str) -> None:
        self.found.append((at, CheckFinding(code, level, ja, en, excerpt)))

    def claim(self, start: int, end: int) -> None:
        self.work = _mask(self.work, start, end)

    def findings(self) -> tuple[CheckFinding, ...]:
        return tuple(f for _, f in sorted(self.found, key=lambda pair: pair[0]))


def prepost_check(
    text: str,
    *,
    trusted_domains: Iterable[str] = (),
    official_contacts: Iterable[str] = (),
) -> tuple[CheckFinding, ...]:
    """Findings on a draft, in the order they appear in it.

    `trusted_domains` are the city's own domains and any other sources it trusts (a domain trusts
    its subdomains; 'x.com/handle' trusts that path only). `official_contacts` are the city's
    published phone numbers, e-mail addresses and postal addresses: these are not personal data.
    Post length is the responders' (`responders/textsplit.py`): a long statement becomes a thread.
    """
    scan = _Scan(text)
    official = [_nfkc(c).strip() for c in official_contacts]
    # The order matters: a link is claimed before the e-mail address in it, an address
    # before the phone number that looks like its digits.
    check_links(scan, [_trust_rule(d) for d in (*GOVERNMENT_DOMAINS, *trusted_domains)])
    check_emails(scan, {c.casefold().removeprefix("mailto:") for c in official if "@" in c})
    check_phones(scan, {k for c in official if "@" not in c and (k := _phone_key(c.removeprefix("tel:")))})
    check_addresses(scan, [c for c in official if "@" not in c])
    check_discriminatory_words(scan)
    check_prohibited_words(scan)
    check_rumour_wording(scan)
    return scan.findings()


def check_links(scan: _Scan, trust: list[tuple[str, str]]) -> None:
    """URL短縮サービス and obscene sites are blocked; a link outside what the city trusts is a warning."""
    for m in _URL.finditer(scan.work):
        url = _trim_url(m.group())
        host = m["host"].casefold()
        if not (m["scheme"] or host.startswith("www.") or len(url) > len(m["host"]) + 1) or (
                host[0].isdigit() and not m["scheme"]):
            continue  # a bare name such as "example.jp" in running text is not a link
        scan.claim(m.start(), m.start() + len(url))
        bare_host = host.removeprefix("www.")
        parts = urlsplit(url if m["scheme"] else "http://" + url)
        if bare_host in URL_SHORTENERS:
            scan.add(m.start(), "url_shortener", BLOCK, "短縮URLは使えません（URL短縮サービスは禁止）。リンク先のURLをそのまま書いてください",
                     "Short links are not allowed (no URL shorteners); write the full address", url)
        elif bare_host in OBSCENE_HOSTS or host.rsplit(".", 1)[-1] in OBSCENE_TLDS:
            scan.add(m.start(), "prohibited_link", BLOCK, "わいせつな内容を含むサイトへのリンクは掲載できません",
                     "Links to obscene sites are not allowed", url)
        elif not _trusted(host, parts.path, trust):
            scan.add(m.start(), "untrusted_link", WARN,
                     "市・国・自治体以外のリンクです。信頼できるリンク先か確認してください（信頼性のない第三者の投稿へのリンクは禁止）",
                     "A link outside the city's and government sites; make sure it is trustworthy "
                     "(no links to untrusted third-party posts)", url)


def check_emails(scan: _Scan, official_emails: set[str]) -> None:
    """A personal e-mail address is blocked; the city's published ones are not personal."""
    for m in _EMAIL.finditer(scan.work):
        scan.claim(m.start(), m.end())
        if m.group().casefold() not in official_emails:
            scan.add(m.start(), "personal_email", BLOCK,
                     "個人のメールアドレスは掲載できません（市の公式窓口ならプロフィールの公式連絡先に登録してください）",
                     "Personal e-mail addresses are not allowed (a city contact must be in the profile's official contacts)",
                     m.group())


def check_phones(scan: _Scan, official_phones: set[str]) -> None:
    """A personal phone number is blocked; an organisation's number not listed is a warning."""
    for m in _PHONE.finditer(scan.work):
        key = _phone_key(m.group())
        if key is None:
            continue
        scan.claim(m.start(), m.end())
        if key in official_phones:
            continue
        if key.startswith(_ORGANISATION_PREFIXES):
            scan.add(m.start(), "unlisted_phone", WARN,
                     "市の公式連絡先にない番号です（フリーダイヤル等）。掲載してよい団体の番号か確認してください",
                     "A number not among the city's official contacts (free dial or similar); "
                     "make sure the organisation's number may be published", m.group().strip())
        else:
            scan.add(m.start(), "personal_phone", BLOCK,
                     "個人の電話番号は掲載できません（市の公式番号ならプロフィールの公式連絡先に登録してください）",
                     "Personal phone numbers are not allowed (a city number must be in the profile's official contacts)",
                     m.group().strip())


def check_addresses(scan: _Scan, official_places: list[str]) -> None:
    """A street address down to the lot is a warning, unless it is one the city publishes."""
    work = scan.work
    for m in _ADDRESS.finditer(work):
        start = m.start()
        while start > 0 and m.start() - start < 12 and _PLACE_CHAR.match(work[start - 1]):
            start -= 1
        place, lot = work[start:m.start()], m.group()
        if any(lot in c and _common_suffix(place, c[:c.index(lot)]) >= min(2, len(place), c.index(lot))
               for c in official_places):
            continue
        scan.add(start, "personal_address", WARN,
                 "番地・号までの住所があります。個人の住所でないか確認してください（個人情報は掲載しない）",
                 "A street address down to the lot number; make sure it is not a person's (no personal data)",
                 place + lot)


def check_discriminatory_words(scan: _Scan) -> None:
    """差別用語・放送禁止用語 are blocked, with a word to say instead where there is one."""
    for pattern, category_ja, category_en, instead in _DISCRIMINATORY:
        for m in pattern.finditer(scan.work):
            ja = f"差別用語・放送禁止用語です（{category_ja}）。" + (f"「{instead}」などに言い換えてください" if instead else "使わないでください")
            en = f"A discriminatory or broadcast-banned word ({category_en}); " + (
                f"say {instead} instead" if instead else "do not use it")
            scan.add(m.start(), "discriminatory_word", BLOCK, ja, en, m.group())


def check_prohibited_words(scan: _Scan) -> None:
    """Obscene content and incitement to an illegal act are blocked."""
    for pattern, what_ja, what_en in _PROHIBITED:
        for m in pattern.finditer(scan.work):
            scan.add(m.start(), "prohibited_word", BLOCK, f"公の発信にふさわしくない表現です（{what_ja}）",
                     f"Not for a public body's post ({what_en})", m.group())


def check_rumour_wording(scan: _Scan) -> None:
    """Rumour in the city's own voice is a warning; a rumour quoted in 「」 to deny it is not."""
    work = scan.work
    quoted = [q.span() for q in _QUOTED.finditer(work)]
    for m in _RUMOUR.finditer(work):
        if any(a < m.start() < b for a, b in quoted):
            continue  # a rumour quoted in 「」 to be denied is not the city's own voice
        if m.group() == "らしい":
            before = work[:m.start()].rstrip()
            if not before.endswith(tuple(_RASHII_AFTER)) or before.endswith(_RASHII_WORDS):
                continue
        scan.add(m.start(), "rumour_wording", WARN,
                 "噂や未確認の情報と読める表現です。市の発信では確認できた事実だけを書いてください（噂を否定するため引用するなら「」で囲む）",
                 "Reads as rumour or unverified information; the city states only confirmed facts "
                 "(to deny a rumour, quote it in 「」)", m.group())
