"""報道提供 (press release): the approved draft and the municipality's details as a document for the press.

`press_release(fields)` is pure: the same fields always give the same plain text and the same
printable HTML page, which the e-mail channel then carries. It also owns the small pieces every
Japanese public document of Noroshi shares (date format, escaped paragraphs, the page skeleton).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from vocabulary.terms import DRILL_LABEL, JST

WEEKDAYS = "月火水木金土日"

DRILL_NOTICE = f"{DRILL_LABEL}この資料は訓練のためのものです。実際の事案ではありません。"

# The body sections after 件名 and 日時, in the order a press release gives them.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "概要"),
    ("background", "経緯"),
    ("response", "市の対応"),
    ("request", "市民の皆様へのお願い"),
)
CONTACT_FIELDS: tuple[tuple[str, str], ...] = (
    ("department", "担当部署"),
    ("person", "担当者"),
    ("phone", "電話"),
    ("email", "メール"),
)
FIELDS = frozenset({"subject", "issued_at", "municipality", "contact", "drill", *(key for key, _ in SECTIONS)})

CSS = """\
body{margin:0;background:#fff;color:#1a1a1a;line-height:1.8;\
font-family:"BIZ UDPGothic","Hiragino Sans","Noto Sans JP","Yu Gothic",sans-serif}
main{max-width:42em;margin:0 auto;padding:2em 1.5em}
h1{font-size:1.5em;line-height:1.4;margin:.4em 0}
h2{font-size:1.15em;margin:1.6em 0 .4em;padding-left:.5em;border-left:.3em solid #1a1a1a}
p{margin:.4em 0}
a{color:#0645ad}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.4em 0}
dt{font-weight:bold}
dd{margin:0}
.kind{font-weight:bold;letter-spacing:.2em}
.drill{border:3px solid #b00020;color:#b00020;font-weight:bold;padding:.5em 1em;text-align:center}
@page{size:A4;margin:20mm}
@media print{body{font-size:10.5pt}main{max-width:none;padding:0}a{color:inherit}}
"""


class PressReleaseError(ValueError):
    """The fields cannot make a press release. The message is in Japanese, then English."""

    def __init__(self, japanese: str, english: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(f"報道提供資料を作成できません: {japanese} / Cannot build the press release: {english}")
        self.problems = problems  # the field names at fault, e.g. ("subject", "contact.phone")


@dataclass(frozen=True, slots=True)
class PressRelease:
    """The release as an e-mail subject, a plain-text body and a complete HTML document."""

    subject: str
    text: str
    html: str


def press_release(fields: Mapping[str, object]) -> PressRelease:
    """The press release for `fields`.

    subject (件名), summary (概要) and contact (問い合わせ先: a mapping with department and
    phone or email, optionally person) are required; issued_at (日時: an aware datetime or an
    ISO 8601 string, naive meaning Japan time), municipality, background (経緯), response
    (市の対応) and request (市民の皆様へのお願い) are optional and left out when empty; drill
    (訓練) marks the subject and both bodies. Any other key is refused, since a misspelt one
    would silently drop its section.
    """
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        names = ", ".join(unknown)
        raise PressReleaseError(f"不明な項目があります: {names}", f"unknown fields: {names}", tuple(unknown))
    texts = {key: _text(fields, key) for key in ("subject", "municipality", *(key for key, _ in SECTIONS))}
    contact = _contact(fields.get("contact"))
    missing = [name for name in ("subject", "summary") if not texts[name]]
    if not contact:
        missing.append("contact")
    else:
        missing += ["contact.department"] if "department" not in contact else []
        missing += ["contact.phone/email"] if "phone" not in contact and "email" not in contact else []
    if missing:
        labels = "、".join(_LABELS[m] for m in missing)
        raise PressReleaseError(
            f"必須項目がありません: {labels}", f"missing required fields: {', '.join(missing)}", tuple(missing)
        )
    drill = fields.get("drill", False)
    if not isinstance(drill, bool):
        raise PressReleaseError("drill は true か false です", "drill must be true or false", ("drill",))
    issued_at = _issued_at(fields.get("issued_at"))
    subject = (DRILL_LABEL if drill else "") + texts["subject"]
    sections = [(heading, texts[key]) for key, heading in SECTIONS if texts[key]]
    return PressRelease(
        subject=subject,
        text=_render_text(subject, texts["municipality"], issued_at, sections, contact, drill),
        html=_render_html(subject, texts["municipality"], issued_at, sections, contact, drill),
    )


def japanese_datetime(when: datetime) -> str:
    """`when` in Japan time, as official documents write it: 2026年11月22日（日）10時00分."""
    when = when.astimezone(JST) if when.tzinfo else when
    return f"{when.year}年{when.month}月{when.day}日（{WEEKDAYS[when.weekday()]}）{when.hour}時{when.minute:02d}分"


def html_paragraphs(text: str) -> str:
    """Escaped `<p>`s for text whose paragraphs are separated by blank lines (a single newline is `<br>`)."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in paragraph.splitlines()) + "</p>"
        for paragraph in paragraphs
        if paragraph.strip()
    )


def html_document(title: str, content: str) -> str:
    """A complete, printable Japanese HTML page: `title` is escaped here, `content` must be already."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="ja">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>\n{CSS}</style>\n"
        "</head>\n"
        "<body>\n"
        f"<main>\n{content}\n</main>\n"
        "</body>\n"
        "</html>\n"
    )


_LABELS = {
    "subject": "件名 (subject)",
    "summary": "概要 (summary)",
    "contact": "問い合わせ先 (contact)",
    "contact.department": "問い合わせ先の担当部署 (contact.department)",
    "contact.phone/email": "問い合わせ先の電話番号かメールアドレス (contact.phone/email)",
}


def _text(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PressReleaseError(f"{key} は文字列で指定してください", f"{key} must be text", (key,))
    return value.replace("\r\n", "\n").strip()


def _contact(value: object) -> dict[str, str]:
    """The non-empty contact details, in display order."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PressReleaseError("contact は項目の一覧で指定してください", "contact must be a mapping", ("contact",))
    unknown = sorted(set(value) - {key for key, _ in CONTACT_FIELDS})
    if unknown:
        names = tuple(f"contact.{key}" for key in unknown)
        listed = ", ".join(names)
        raise PressReleaseError(f"不明な項目があります: {listed}", f"unknown fields: {listed}", names)
    contact = {key: _text(value, key) for key, _ in CONTACT_FIELDS}
    return {key: text for key, text in contact.items() if text}


def _issued_at(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise PressReleaseError(
        f"日時が読めません: {value!r}", f"issued_at is not a date and time: {value!r}", ("issued_at",)
    )


def _render_text(
    subject: str,
    municipality: str,
    issued_at: datetime | None,
    sections: list[tuple[str, str]],
    contact: dict[str, str],
    drill: bool,
) -> str:
    lines = [DRILL_NOTICE, ""] if drill else []
    lines += ["報道提供資料", *([municipality] if municipality else []), "", f"件名：{subject}"]
    if issued_at is not None:
        lines.append(f"日時：{japanese_datetime(issued_at)}")
    for heading, body in sections:
        lines += ["", f"■ {heading}", body]
    lines += ["", "■ 問い合わせ先"]
    for key, label in CONTACT_FIELDS:
        if key in contact:
            lines.append(contact[key] if key == "department" else f"{label}：{contact[key]}")
    return "\n".join(lines) + "\n"


def _render_html(
    subject: str,
    municipality: str,
    issued_at: datetime | None,
    sections: list[tuple[str, str]],
    contact: dict[str, str],
    drill: bool,
) -> str:
    parts = [f'<p class="drill" role="note">{html.escape(DRILL_NOTICE)}</p>'] if drill else []
    parts += ["<header>", '<p class="kind">報道提供資料</p>']
    if municipality:
        parts.append(f"<p>{html.escape(municipality)}</p>")
    parts.append(f"<h1>{html.escape(subject)}</h1>")
    if issued_at is not None:
        stamp = (issued_at.astimezone(JST) if issued_at.tzinfo else issued_at.replace(tzinfo=JST)).isoformat()
        parts.append(f'<p>日時：<time datetime="{stamp}">{japanese_datetime(issued_at)}</time></p>')
    parts.append("</header>")
    for number, (heading, body) in enumerate(sections, start=1):
        parts += [
            f'<section aria-labelledby="section-{number}">',
            f'<h2 id="section-{number}">{heading}</h2>',
            html_paragraphs(body),
            "</section>",
        ]
    parts += ['<section aria-labelledby="contact">', '<h2 id="contact">問い合わせ先</h2>', "<dl>"]
    for key, label in CONTACT_FIELDS:
        if key in contact:
            parts.append(f"<dt>{label}</dt><dd>{html.escape(contact[key])}</dd>")
    parts += ["</dl>", "</section>"]
    return html_document(subject, "\n".join(parts))
