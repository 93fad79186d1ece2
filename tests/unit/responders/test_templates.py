"""様式: the 報道提供 and the website notices come from Jinja2 templates a city may replace with its
own files, HTML escaped and plain text not, and a broken city file is reported by file and line."""

from __future__ import annotations

import fnmatch
import random
import shutil
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from noroshi.cli import main
from responders.base import FakeChannel
from responders.config import check_templates, responder_for, templates_for
from responders.press import press_release
from responders.responder import Channels, Responder
from responders.templating import NAMES, SHIPPED, TemplateProblem, Templates
from responders.website import Notice, index_page, notice_page
from vocabulary.records import Effect
from vocabulary.profile_files import load_profile
from vocabulary.settings import ResponderSettings, Settings, SettingsError
from tests.unit.test_cli import clean_environment  # noqa: F401 - main() configures logging; put back after

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_PROFILE = ROOT / "tests" / "data" / "wako-sample.profile.json"
SCRIPT = '<script>alert("x")</script>'
JST = timezone(timedelta(hours=9))


def fields(**changes: Any) -> dict[str, Any]:
    return {"subject": "本市公式アカウントのなりすましについて", "summary": "偽アカウントが確認されました。",
            "municipality": "和光市", "issued_at": datetime(2026, 11, 22, 10, 0, tzinfo=JST),
            "contact": {"department": "秘書広報課", "phone": "048-424-9091"}, **changes}


def notice(**changes: Any) -> Notice:
    values: dict[str, Any] = {
        "notice_id": "n1", "municipality": "和光市", "kind": "impersonation_warning", "title": "偽アカウント",
        "body": "本市の公式アカウントは @wako_city_official のみです。",
        "published_at": datetime(2026, 11, 22, 10, 0, tzinfo=JST), "municipality_id": "wako", **changes}
    return Notice(**values)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Escaping

def test_a_script_in_a_field_is_escaped_in_the_html_and_left_as_it_is_in_the_text() -> None:
    release = press_release(fields(summary=SCRIPT, contact={"department": SCRIPT, "phone": "1"}))

    assert "<script" not in release.html and release.html.count("&lt;script&gt;") == 2
    assert release.text.count(SCRIPT) == 2


def test_a_city_template_is_escaped_too_though_it_writes_no_filter(tmp_path: Path) -> None:
    write(tmp_path / "wako" / "press_release.html.j2", "<div>{{ summary }}</div>\n")
    write(tmp_path / "wako" / "press_release.txt.j2", "{{ summary }}\n")

    release = press_release(fields(summary=SCRIPT), templates=Templates(tmp_path), municipality="wako")

    assert release.html == "<div>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</div>\n"
    assert release.text == f"{SCRIPT}\n"


# A city's own 様式

def test_a_city_file_replaces_the_shipped_template_of_its_name_for_that_city_only(tmp_path: Path) -> None:
    write(tmp_path / "wako" / "press_release.txt.j2", "和光市様式\n件名 {{ subject }}\n{{ contact.department }}\n")
    templates = Templates(tmp_path)

    wako = press_release(fields(), templates=templates, municipality="wako")
    toda = press_release(fields(), templates=templates, municipality="toda")

    assert wako.text == "和光市様式\n件名 本市公式アカウントのなりすましについて\n秘書広報課\n"
    assert toda.text == press_release(fields()).text  # no file of its own: the shipped one
    assert wako.html == press_release(fields()).html  # only the text was replaced


def test_a_file_at_the_top_of_the_folder_is_every_citys_and_a_citys_own_comes_first(tmp_path: Path) -> None:
    write(tmp_path / "press_release.txt.j2", "共通様式 {{ subject }}\n")
    write(tmp_path / "wako" / "press_release.txt.j2", "和光市様式 {{ subject }}\n")
    templates = Templates(tmp_path)

    assert press_release(fields(), templates=templates, municipality="toda").text.startswith("共通様式")
    assert press_release(fields(), templates=templates, municipality="wako").text.startswith("和光市様式")


def test_a_citys_page_skeleton_frames_its_press_release_and_its_notices(tmp_path: Path) -> None:
    write(tmp_path / "wako" / "page.html.j2",
          "<!DOCTYPE html>\n<title>{% block title %}{% endblock %}</title>\n<p>和光市 広報課</p>\n"
          "{% block content %}{% endblock %}")
    templates = Templates(tmp_path)

    release = press_release(fields(), templates=templates, municipality="wako")
    page = notice_page(notice(), index_title="お知らせ一覧", templates=templates)

    for html in (release.html, page):
        assert "<p>和光市 広報課</p>" in html and "<style>" not in html
    assert "<h1>本市公式アカウントのなりすましについて</h1>" in release.html
    assert "<p>本市の公式アカウントは @wako_city_official のみです。</p>" in page


def test_a_city_file_read_at_each_render_counts_without_a_restart(tmp_path: Path) -> None:
    templates = Templates(tmp_path)
    before = press_release(fields(), templates=templates, municipality="wako").text
    write(tmp_path / "wako" / "press_release.txt.j2", "新しい様式\n")

    assert before.startswith("報道提供資料")
    assert press_release(fields(), templates=templates, municipality="wako").text == "新しい様式\n"


# A broken city file: named by file and line, Japanese first, never replaced by the shipped one

def test_a_syntax_error_names_the_file_and_line_japanese_first(tmp_path: Path) -> None:
    broken = write(tmp_path / "wako" / "press_release.html.j2", "<p>{{ subject }}</p>\n\n{% if %}\n")

    with pytest.raises(TemplateProblem) as caught:
        press_release(fields(), templates=Templates(tmp_path), municipality="wako")

    message = str(caught.value)
    assert message.startswith(f"様式（テンプレート）{broken} の 3 行目: 書き方に誤りがあります")
    assert f" / template {broken}, line 3: syntax error" in message
    assert (caught.value.path, caught.value.line) == (str(broken), 3)


def test_a_name_the_template_is_not_given_names_the_file_and_line_and_lists_the_names(tmp_path: Path) -> None:
    broken = write(tmp_path / "wako" / "press_release.txt.j2", "{{ subject }}\nFAX：{{ contact.fax }}\n")

    with pytest.raises(TemplateProblem) as caught:
        press_release(fields(), templates=Templates(tmp_path), municipality="wako")

    message = str(caught.value)
    assert message.startswith(f"様式（テンプレート）{broken} の 2 行目: この様式にない項目を使っています")
    assert "has no attribute 'fax'" in message and "subject, summary" in message
    assert f"template {broken}, line 2: it uses a name the template is not given" in message


def test_a_misspelt_variable_in_a_block_of_the_skeleton_names_the_skeleton(tmp_path: Path) -> None:
    skeleton = write(tmp_path / "page.html.j2", "<title>{{ titel }}</title>{% block content %}{% endblock %}")

    with pytest.raises(TemplateProblem) as caught:
        notice_page(notice(), index_title="一覧", templates=Templates(tmp_path))

    assert (caught.value.path, caught.value.line) == (str(skeleton), 1)
    assert "'titel' is undefined" in str(caught.value)


def test_the_check_finds_each_broken_or_misnamed_city_file_and_nothing_in_a_sound_folder(tmp_path: Path) -> None:
    write(tmp_path / "wako" / "notice.html.j2", '{% extends "page.html.j2" %}{% block content %}{{ bdy }}{% endblock %}')
    write(tmp_path / "wako" / "press_relase.txt.j2", "typo in the name\n")
    write(tmp_path / "wako" / "_letterhead.html.j2", "<p>和光市</p>\n")  # a partial: not a problem
    write(tmp_path / "toda" / "press_release.txt.j2", "{{ subject }}\n{% for s in sections %}{{ s.body }}\n{% endfor %}")
    templates = Templates(tmp_path)

    problems = check_templates(templates, "wako")

    assert sorted(Path(p.path).name for p in problems) == ["notice.html.j2", "press_relase.txt.j2"]
    assert any("'bdy' is undefined" in str(p) for p in problems)
    assert check_templates(templates, "toda") == [] and check_templates(Templates(), "wako") == []
    [missing] = check_templates(Templates(tmp_path / "gone"), "wako")
    assert str(missing).startswith(f"様式（テンプレート）{tmp_path / 'gone'}: NOROSHI_TEMPLATES_DIR のフォルダがありません")


def test_the_shipped_templates_pass_their_own_check() -> None:
    assert check_templates(Templates(SHIPPED.parent), None) == []  # a folder holding no template: ours
    templates = Templates(SHIPPED)  # every shipped file given as a city's own, rendered with the samples
    assert set(templates.overrides("wako")) == set(NAMES)
    assert check_templates(templates, "wako") == []


async def test_a_press_release_with_a_broken_city_template_fails_the_effect_and_is_not_sent(tmp_path: Path) -> None:
    write(tmp_path / "wako" / "press_release.html.j2", "{{ subject }\n")
    mail = FakeChannel("email")
    profile = {"municipality": {"id": "wako", "name": "和光市"},
               "press": {"contact": {"department": "広報課", "phone": "048"}, "recipients": ["desk@press.example"]}}
    responder = Responder(Channels(email=mail), profiles={"wako": profile}, board_url="https://board.example",
                          clock=lambda: 1_800_000_000.0, rng=random.Random(1), templates=Templates(tmp_path))
    effect = Effect(effect_id="wako-imp-1:notify_press:1", incident_id="wako-imp-1", municipality="wako",
                    kind="notify_press", at="2026-11-22T10:00:00+09:00",
                    payload={"draft_id": "d1", "kind": "press", "texts": {"ja": "偽アカウントが確認されました。"},
                             "approval": {"approver": "課長"}, "incident": {"type": "impersonation"}})

    result = await responder.carry_out(effect)

    assert mail.sent == [] and result.failed
    [failed] = [entry for entry in result.timeline if entry.action == "effect_failed"]
    assert failed.detail["code"] == "config" and "press_release.html.j2 の 1 行目" in failed.detail["error"]
    [command] = result.commands
    assert command.action == "channel_failed"  # the playbook retries once, then tells a person


# Packaging

def test_every_shipped_template_is_package_data_and_exists() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]["responders"]
    shipped = sorted(p.relative_to(SHIPPED.parent).as_posix() for p in SHIPPED.iterdir())

    assert sorted(f"templates/{name}" for name in NAMES) == shipped
    assert all(any(fnmatch.fnmatch(path, glob) for glob in globs) for path in shipped)
    assert any(dep.startswith("jinja2") for dep in data["project"]["dependencies"])


def test_the_index_is_rendered_from_its_template_newest_first() -> None:
    entries = [{"page": f"{day}.html", "headline": f"11月{day}日のお知らせ",
                "published_at": datetime(2026, 11, day, 9, 0, tzinfo=JST).isoformat()} for day in (20, 22, 21)]

    html = index_page(entries, title="お知らせ一覧")

    assert html.index("22.html") < html.index("21.html") < html.index("20.html")
    assert '<time datetime="2026-11-22T09:00:00+09:00">2026年11月22日（日）9時00分</time>' in html


def test_the_setting_names_the_folder_and_a_folder_that_is_not_there_is_a_settings_error(tmp_path: Path) -> None:
    settings = ResponderSettings.from_env({"NOROSHI_TEMPLATES_DIR": str(tmp_path)})
    assert templates_for(settings) == Templates(tmp_path)
    assert templates_for(ResponderSettings.from_env({})) == Templates()

    with pytest.raises(SettingsError, match="NOROSHI_TEMPLATES_DIR=.*フォルダがありません / no such folder"):
        templates_for(ResponderSettings.from_env({"NOROSHI_TEMPLATES_DIR": str(tmp_path / "gone")}))


# Checked before a document is due: `noroshi profiles check` and the worker's start

def test_profiles_check_names_a_broken_city_template_by_file_and_line_and_exits_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "profiles").mkdir()
    shutil.copy(SAMPLE_PROFILE, tmp_path / "profiles" / "wako.profile.json")
    broken = write(tmp_path / "templates" / "wako" / "press_release.txt.j2", "{{ subject }}\n{{ contact.fax }}\n")
    monkeypatch.setenv("NOROSHI_TEMPLATES_DIR", str(tmp_path / "templates"))

    status = main(["profiles", "check", str(tmp_path / "profiles")])

    out, err = capsys.readouterr()
    rows = dict(line.split("\t", 1) for line in out.splitlines())
    assert status == 1
    assert rows[str(tmp_path / "profiles" / "wako.profile.json")].startswith("OK\twako")
    assert rows[str(broken)].startswith(f"様式の誤り template error\twako\t様式（テンプレート）{broken} の 2 行目")
    assert "様式の誤り 1 件 / 1 template errors" in err

    write(broken, "{{ subject }}\n{{ contact.phone }}\n")
    assert main(["profiles", "check", str(tmp_path / "profiles")]) == 0


def test_the_worker_logs_a_broken_city_template_when_it_starts(tmp_path: Path) -> None:
    broken = write(tmp_path / "templates" / "wako" / "notice.html.j2", "{% block %}\n")
    settings = Settings.from_env({"NOROSHI_DATA_DIR": str(tmp_path / "var"),
                                  "NOROSHI_TEMPLATES_DIR": str(tmp_path / "templates")})

    with capture_logs() as logs:
        responder = responder_for(settings, {"wako": load_profile(SAMPLE_PROFILE)})

    [logged] = [entry for entry in logs if entry["event"] == "template_check_failed"]
    assert (logged["municipality"], logged["file"], logged["line"]) == ("wako", str(broken), 1)
    assert logged["message"].startswith("様式（テンプレート）")
    assert responder.templates == Templates(tmp_path / "templates")
