"""報道提供: the press release built from an approved draft and the municipality's details."""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from responders.press import PressReleaseError, japanese_datetime, press_release

VOID = {"meta", "br", "link", "img", "hr", "input"}


class Tags(HTMLParser):
    """Every start tag with its attributes; fails on an end tag that closes nothing open."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.doctype = ""
        self.feed(document)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def names(self) -> list[str]:
        return [tag for tag, _ in self.starts]


def fields(**changes: Any) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "subject": "本市公式Xアカウントのなりすましについて",
        "issued_at": datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc),
        "municipality": "千葉市",
        "summary": "本市の公式Xアカウントになりすましたアカウントが確認されました。",
        "background": "11月21日午後、市民の方からの通報により確認しました。\n\n同日、X社に削除を依頼しました。",
        "response": "市ホームページで注意を呼びかけています。",
        "request": "不審なアカウントからのメッセージには返信せず、リンクを開かないでください。",
        "contact": {
            "department": "総務局 市長公室 広報広聴課",
            "person": "山田 花子",
            "phone": "043-245-5011",
            "email": "koho@city.example.lg.jp",
        },
    }
    draft.update(changes)
    return {key: value for key, value in draft.items() if value is not None}


def test_japanese_datetime_is_written_in_japan_time_with_the_weekday() -> None:
    assert japanese_datetime(datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc)) == "2026年11月22日（日）10時00分"
    assert japanese_datetime(datetime(2026, 4, 1, 9, 5)) == "2026年4月1日（水）9時05分"


def test_the_text_gives_every_section_in_order() -> None:
    release = press_release(fields())

    order = ["報道提供資料", "千葉市", "件名：本市公式X", "日時：2026年11月22日（日）10時00分", "■ 概要", "■ 経緯",
             "■ 市の対応", "■ 市民の皆様へのお願い", "■ 問い合わせ先", "総務局 市長公室 広報広聴課",
             "担当者：山田 花子", "電話：043-245-5011", "メール：koho@city.example.lg.jp"]
    positions = [release.text.index(part) for part in order]
    assert positions == sorted(positions)
    assert release.subject == "本市公式Xアカウントのなりすましについて"
    assert "【訓練】" not in release.text + release.html


def test_the_html_is_a_complete_accessible_page_with_the_sections_in_order() -> None:
    release = press_release(fields())
    tags = Tags(release.html)

    assert tags.doctype.lower() == "doctype html" and tags.open == []
    assert tags.starts[0] == ("html", {"lang": "ja"})
    assert ("meta", {"charset": "utf-8"}) in tags.starts
    assert tags.names().count("h1") == 1 and "style" in tags.names()
    assert not {"script", "link", "img", "iframe"} & set(tags.names())
    assert "url(" not in release.html and "@import" not in release.html
    order = ["<title>本市公式X", "<h1>本市公式X", "2026年11月22日（日）10時00分", ">概要</h2>", ">経緯</h2>",
             ">市の対応</h2>", ">市民の皆様へのお願い</h2>", ">問い合わせ先</h2>", "<dd>043-245-5011</dd>"]
    positions = [release.html.index(part) for part in order]
    assert positions == sorted(positions)
    assert '<time datetime="2026-11-22T10:00:00+09:00">' in release.html
    assert "<p>11月21日午後、市民の方からの通報により確認しました。</p>\n<p>同日、X社に削除を依頼しました。</p>" in release.html


def test_missing_optional_sections_are_left_out() -> None:
    release = press_release(fields(background=None, response="  ", request=None, issued_at=None,
                                   contact={"department": "広報広聴課", "email": "koho@city.example.lg.jp"}))

    for absent in ("経緯", "市の対応", "市民の皆様へのお願い", "日時", "担当者", "電話"):
        assert absent not in release.text
        assert absent not in release.html
    assert "■ 概要" in release.text and "メール：koho@city.example.lg.jp" in release.text


def test_missing_required_fields_are_named_in_japanese_and_english() -> None:
    with pytest.raises(PressReleaseError) as caught:
        press_release(fields(subject=" ", summary=None, contact={"person": "山田"}))

    message = str(caught.value)
    assert message.startswith("報道提供資料を作成できません")
    assert "件名" in message and "概要" in message and "担当部署" in message and "電話番号かメールアドレス" in message
    assert "Cannot build the press release: missing required fields: subject, summary" in message
    assert caught.value.problems == ("subject", "summary", "contact.department", "contact.phone/email")


def test_a_press_release_without_contact_is_refused() -> None:
    with pytest.raises(PressReleaseError, match="問い合わせ先") as caught:
        press_release(fields(contact=None))
    assert caught.value.problems == ("contact",)


def test_misspelt_or_mistyped_fields_are_refused_rather_than_dropped() -> None:
    with pytest.raises(PressReleaseError, match="sumary"):
        press_release(fields(sumary="typo"))
    with pytest.raises(PressReleaseError, match="contact.fax"):
        press_release(fields(contact={"department": "広報広聴課", "phone": "1", "fax": "2"}))
    with pytest.raises(PressReleaseError, match="summary must be text"):
        press_release(fields(summary=["not", "text"]))
    with pytest.raises(PressReleaseError, match="issued_at"):
        press_release(fields(issued_at="明日の朝"))
    with pytest.raises(PressReleaseError, match="drill"):
        press_release(fields(drill="yes"))


def test_every_value_is_escaped_in_the_html() -> None:
    attack = '<script>alert("x")</script>'
    release = press_release(fields(subject=f"件名{attack}", municipality=attack, summary=attack, background=attack,
                                   contact={"department": attack, "person": attack, "phone": attack}))

    assert "<script" not in release.html
    assert "script" not in Tags(release.html).names()
    assert release.html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 8  # title, h1 and six values
    assert attack in release.text  # plain text is shown as it is


def test_an_iso_date_string_is_accepted_and_a_naive_one_means_japan_time() -> None:
    assert "日時：2026年11月22日（日）10時00分" in press_release(fields(issued_at="2026-11-22T10:00")).text
    assert "日時：2026年11月22日（日）10時00分" in press_release(fields(issued_at="2026-11-22T01:00:00+00:00")).text


def test_a_drill_is_marked_in_the_subject_and_both_bodies() -> None:
    release = press_release(fields(drill=True))

    assert release.subject == "【訓練】本市公式Xアカウントのなりすましについて"
    assert release.text.startswith("【訓練】この資料は訓練のためのものです。実際の事案ではありません。")
    assert "件名：【訓練】本市公式X" in release.text
    assert '<p class="drill" role="note">【訓練】この資料は訓練のためのものです。' in release.html
    assert release.html.index('class="drill"') < release.html.index("<h1>【訓練】")
