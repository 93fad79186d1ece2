"""報道提供 (press release): the approved draft and the municipality's details as a document for the press.

`press_release(fields)` checks the fields and fills the 様式 with them: the same fields and
template files always give the same plain text and the same printable HTML page, which the
e-mail channel then carries. The wording and layout are in `templates/press_release.txt.j2` and
`templates/press_release.html.j2`, which a city may replace (`responders.templating`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from responders.templating import PRESS_HTML, PRESS_TEXT, Templates, japanese_datetime
from vocabulary.terms import DRILL_LABEL

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


def press_release(fields: Mapping[str, object], *, templates: Templates = Templates(),
                  municipality: str | None = None) -> PressRelease:
    """The press release for `fields`, from `templates` (the city's own for `municipality`
    when it has them); `PressReleaseError` for fields that cannot make one, `TemplateProblem`
    for a city template that cannot be filled.

    subject (件名), summary (概要) and contact (問い合わせ先: a mapping with department and
    phone or email, optionally person) are required; issued_at (日時: an aware datetime or an
    ISO 8601 string, naive meaning Japan time), municipality, background (経緯), response
    (市の対応) and request (市民の皆様へのお願い) are optional and left out when empty; drill
    (訓練) marks the subject and both bodies. Any other key is refused, since a misspelt one
    would silently drop its section.
    """
    context = press_context(fields)
    return PressRelease(
        subject=context["subject"],
        text=templates.render(PRESS_TEXT, context, municipality=municipality),
        html=templates.render(PRESS_HTML, context, municipality=municipality),
    )


def press_context(fields: Mapping[str, object]) -> dict[str, Any]:
    """The checked fields as the templates get them (see `templates/press_release.txt.j2`)."""
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
    subject = (DRILL_LABEL if drill else "") + texts["subject"]
    return {
        **texts,
        "subject": subject,
        "issued_at": _issued_at(fields.get("issued_at")),
        "sections": [{"key": key, "heading": heading, "body": texts[key]} for key, heading in SECTIONS if texts[key]],
        "contact": {key: contact.get(key, "") for key, _ in CONTACT_FIELDS},
        "drill": drill,
        "drill_notice": DRILL_NOTICE,
    }


def sample_contexts() -> list[dict[str, Any]]:
    """What a city's press release templates are checked with: every field given, then the fewest, as a drill."""
    full = {"subject": "本市公式アカウントのなりすましについて", "issued_at": datetime(2026, 11, 22, 10, 0),
            "municipality": "見本市", "summary": "概要の見本です。", "background": "経緯の見本です。\n\n二段落目です。",
            "response": "市の対応の見本です。", "request": "お願いの見本です。",
            "contact": {"department": "広報課", "person": "担当者", "phone": "000-000-0000",
                        "email": "koho@city.example.lg.jp"}}
    fewest = {"subject": "件名の見本", "summary": "概要の見本です。", "contact": {"department": "広報課", "phone": "0"},
              "drill": True}
    return [press_context(full), press_context(fewest)]


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


__all__ = ["CONTACT_FIELDS", "DRILL_NOTICE", "SECTIONS", "PressRelease", "PressReleaseError", "japanese_datetime",
           "press_context", "press_release", "sample_contexts"]
