"""The event contract as code: good lines parse into dataclasses, broken lines say why."""

from __future__ import annotations

import copy
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from vocabulary.contract import Account, AccountEvent, Alert, Author, ContractError, Mention, PostRef, event_from_dict, parse_event, profile_from_dict
from vocabulary.profile_files import load_profile, load_profiles
from tests.unit.builders import SAMPLE, SAMPLE_PROFILE

# The examples of ../shared/contracts/events.md, verbatim.
MENTION: dict[str, Any] = {
    "kind": "mention", "id": "x:1790000000000000001", "platform": "x",
    "ts": "2026-11-22T10:15:00+09:00",
    "author": {"id": "x:u:55501", "handle": "taro_w", "name": "和光 太郎",
               "followers": 120, "created_at": "2019-04-01T00:00:00+09:00"},
    "text": "@wako_city_official この動画は不謹慎では？ #和光市",
    "reply_to": {"post_id": "x:1789999999999990000", "account": "wako_city_official"},
    "quote_of": None, "repost_of": None,
    "hashtags": ["和光市"], "urls": [], "lang": "ja",
    "geo": None,
}
ACCOUNT: dict[str, Any] = {
    "kind": "account", "id": "x:acct:991", "platform": "x",
    "ts": "2026-11-22T10:20:00+09:00", "type": "seen",
    "account": {"id": "x:u:991", "handle": "wako_clty_official",
                "name": "和光市【公式】", "bio": "和光市の公式アカウントです",
                "url": "https://x.com/wako_clty_official",
                "avatar_phash": "c3a1e0f0b0d09878", "followers": 3,
                "created_at": "2026-11-22T09:00:00+09:00", "verified": False},
    "note": None,
}
ALERT: dict[str, Any] = {
    "kind": "alert", "id": "jma:20261122101500_0_VXSE53", "platform": "web",
    "ts": "2026-11-22T10:15:00+09:00", "source": "jma",
    "title": "震源・震度に関する情報", "severity": "warning",
    "areas": ["埼玉県南部"], "text": "…",
}
PROFILE: dict[str, Any] = {
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"],
                     "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "x", "handle": "wako_city_official", "name": "和光市役所",
                  "url": "https://x.com/wako_city_official", "avatar_phash": "c3a1e0f0b0d09878",
                  "department": "広報課", "owner": "広報課長", "reply_policy": "none"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": ["和光市災害"],
}


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with `a.b` set to `value` (or removed when value is ...)."""
    obj = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = obj
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return obj


def jst_to_posix(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour - 9, minute, tzinfo=timezone.utc).timestamp()


# --- good lines -----------------------------------------------------------


def test_the_contract_mention_parses_into_a_mention_with_posix_time() -> None:
    event = parse_event(orjson.dumps(MENTION))

    assert event == Mention(
        id="x:1790000000000000001", platform="x",
        ts=jst_to_posix(2026, 11, 22, 10, 15), ts_text="2026-11-22T10:15:00+09:00",
        author=Author(id="x:u:55501", handle="taro_w", name="和光 太郎", followers=120,
                      created_at="2019-04-01T00:00:00+09:00"),
        text="@wako_city_official この動画は不謹慎では？ #和光市",
        reply_to=PostRef(post_id="x:1789999999999990000", account="wako_city_official"),
        quote_of=None, repost_of=None, hashtags=("和光市",), urls=(), lang="ja",
    )
    assert event.kind == "mention"


def test_the_contract_account_event_parses_into_an_account_event() -> None:
    event = parse_event(orjson.dumps(ACCOUNT))

    assert event == AccountEvent(
        id="x:acct:991", platform="x", ts=jst_to_posix(2026, 11, 22, 10, 20),
        ts_text="2026-11-22T10:20:00+09:00", type="seen",
        account=Account(id="x:u:991", handle="wako_clty_official", name="和光市【公式】",
                        bio="和光市の公式アカウントです", url="https://x.com/wako_clty_official",
                        avatar_phash="c3a1e0f0b0d09878", followers=3,
                        created_at="2026-11-22T09:00:00+09:00", verified=False),
        note=None, post=None,
    )


def test_the_contract_alert_parses_into_an_alert() -> None:
    event = parse_event(orjson.dumps(ALERT))

    assert event == Alert(
        id="jma:20261122101500_0_VXSE53", platform="web", ts=jst_to_posix(2026, 11, 22, 10, 15),
        ts_text="2026-11-22T10:15:00+09:00", source="jma", title="震源・震度に関する情報",
        severity="warning", areas=("埼玉県南部",), text="…",
    )


def test_times_with_different_offsets_for_the_same_instant_give_the_same_seconds() -> None:
    jst = event_from_dict(changed(MENTION, "ts", "2026-11-22T10:15:00+09:00"))
    utc = event_from_dict(changed(MENTION, "ts", "2026-11-22T01:15:00Z"))

    assert jst.ts == utc.ts


def test_handles_lose_their_at_sign_in_author_and_references() -> None:
    obj = changed(MENTION, "author.handle", "@taro_w")
    obj["quote_of"] = {"post_id": "x:2", "account": "@wako_city_official"}

    event = event_from_dict(changed(obj, "reply_to.account", "@wako_city_official"))

    assert event.author.handle == "taro_w"
    assert event.reply_to == PostRef("x:1789999999999990000", "wako_city_official")
    assert event.quote_of == PostRef("x:2", "wako_city_official")


def test_hashtags_are_taken_from_the_text_when_absent_including_full_width_signs() -> None:
    obj = changed(MENTION, "hashtags", ...)
    obj["text"] = "市民まつり #和光市 と ＃ＷＡＫＯ　そして #わこう、最高"

    event = event_from_dict(obj)

    assert event.hashtags == ("和光市", "WAKO", "わこう")


def test_given_hashtags_win_over_the_text_and_lose_their_sign() -> None:
    event = event_from_dict(changed(MENTION, "hashtags", ["#和光市", "＃防災"]))

    assert event.hashtags == ("和光市", "防災")


def test_every_line_of_the_sample_scenario_parses() -> None:
    lines = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]

    events = [parse_event(line) for line in lines]

    assert len(events) == len(lines) > 100
    kinds = {type(e) for e in events}
    assert {Mention, AccountEvent} <= kinds
    posts = [e for e in events if isinstance(e, AccountEvent) and e.type == "official_post"]
    assert posts and all(isinstance(e.post, dict) and e.post["id"] for e in posts)


# --- broken lines ---------------------------------------------------------


@pytest.mark.parametrize(("raw", "reason"), [
    pytest.param(b'{"kind": "mention", ', "not valid JSON", id="not JSON"),
    pytest.param(b"[1, 2]", "expected a JSON object", id="not an object"),
])
def test_a_line_that_is_not_a_json_object_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        parse_event(raw)


@pytest.mark.parametrize(("base", "path", "value", "field"), [
    pytest.param(MENTION, "kind", "tweet", "kind", id="unknown kind"),
    pytest.param(MENTION, "id", ..., "id", id="missing id"),
    pytest.param(MENTION, "id", "", "id", id="empty id"),
    pytest.param(MENTION, "platform", "myspace", "platform", id="unknown platform"),
    pytest.param(MENTION, "ts", "2026-11-22T10:15:00", "ts", id="ts without offset"),
    pytest.param(MENTION, "ts", "yesterday at ten", "ts", id="ts not a time"),
    pytest.param(MENTION, "ts", 1795000000, "ts", id="ts a number"),
    pytest.param(MENTION, "author", ..., "author", id="author missing"),
    pytest.param(MENTION, "author.id", ..., "author.id", id="author id missing"),
    pytest.param(MENTION, "author.followers", -1, "author.followers", id="followers negative"),
    pytest.param(MENTION, "text", ..., "text", id="text missing"),
    pytest.param(MENTION, "reply_to", "x:123", "reply_to", id="reply_to not an object"),
    pytest.param(MENTION, "hashtags", "和光市", "hashtags", id="hashtags not a list"),
    pytest.param(ACCOUNT, "type", "deleted", "type", id="account event type unknown"),
    pytest.param(ACCOUNT, "account", ..., "account", id="account missing"),
    pytest.param(ACCOUNT, "account.followers", -3, "account.followers", id="account followers negative"),
    pytest.param(ACCOUNT, "type", "official_post", "official_post", id="official_post without post"),
])
def test_a_contract_break_is_refused_with_a_reason_naming_the_field(
    base: dict[str, Any], path: str, value: Any, field: str,
) -> None:
    with pytest.raises(ContractError) as caught:
        event_from_dict(changed(base, path, value))

    assert f"{field}:" in str(caught.value)


def test_an_official_post_with_its_post_is_accepted() -> None:
    obj = changed(ACCOUNT, "type", "official_post")
    obj["post"] = {"id": "x:9", "text": "【和光市】お知らせ", "url": "https://x.com/p/9"}

    event = event_from_dict(obj)

    assert isinstance(event, AccountEvent) and event.post == obj["post"]


# --- profiles -------------------------------------------------------------


def test_the_contract_profile_parses() -> None:
    profile = profile_from_dict(PROFILE)

    assert (profile.id, profile.name) == ("wako", "和光市")
    assert profile.names == ("和光市", "和光", "わこう")
    assert profile.areas == ("埼玉県南部",)
    assert profile.watch_hashtags == ("和光市",)
    assert profile.disaster_hashtags == ("和光市災害",)
    [account] = profile.accounts
    assert (account.handle, account.department, account.owner) == ("wako_city_official", "広報課", "広報課長")
    assert profile.official_handles == {"wako_city_official"}


def test_a_minimal_profile_gets_its_name_as_its_only_name() -> None:
    profile = profile_from_dict({
        "municipality": {"id": "toda", "name": "戸田市"},
        "accounts": [{"platform": "x", "handle": "@Toda_City", "name": "戸田市"}],
    })

    assert profile.names == ("戸田市",)
    assert profile.accounts[0].handle == "Toda_City"
    assert profile.accounts[0].reply_policy == "none"
    assert profile.official_handles == {"toda_city"}


@pytest.mark.parametrize(("path", "value", "field"), [
    pytest.param("municipality", ..., "municipality", id="no municipality"),
    pytest.param("municipality.id", ..., "id", id="no id"),
    pytest.param("municipality.name", ..., "name", id="no name"),
    pytest.param("accounts", {"handle": "x"}, "accounts", id="accounts not a list"),
])
def test_a_profile_without_a_required_field_is_refused(path: str, value: Any, field: str) -> None:
    with pytest.raises(ContractError) as caught:
        profile_from_dict(changed(PROFILE, path, value))

    assert field in str(caught.value)


@pytest.mark.parametrize("field", ["platform", "handle", "name"])
def test_an_official_account_without_a_required_field_is_refused(field: str) -> None:
    obj = copy.deepcopy(PROFILE)
    del obj["accounts"][0][field]

    with pytest.raises(ContractError, match=rf"accounts\[0\]\.{field}"):
        profile_from_dict(obj)


def test_the_sample_profile_loads() -> None:
    profile = load_profile(SAMPLE_PROFILE)

    assert profile.id == "wako"
    assert profile.official_handles == {"wako_city_official"}


def test_load_profiles_reads_every_profile_of_a_folder_by_id(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_PROFILE, tmp_path / "wako.profile.json")
    (tmp_path / "toda.profile.json").write_bytes(orjson.dumps(changed(PROFILE, "municipality.id", "toda")))
    (tmp_path / "notes.json").write_text("not a profile")

    profiles = load_profiles([tmp_path])

    assert sorted(profiles) == ["toda", "wako"]
    assert profiles["toda"].id == "toda"


def test_load_profiles_refuses_a_municipality_defined_twice(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_PROFILE, tmp_path / "a.profile.json")
    shutil.copy(SAMPLE_PROFILE, tmp_path / "b.profile.json")

    with pytest.raises(ContractError, match="'wako' is defined twice"):
        load_profiles([tmp_path])


def test_load_profiles_refuses_a_folder_without_profiles(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no municipality profile"):
        load_profiles([tmp_path])


def test_load_profile_of_a_missing_file_says_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read"):
        load_profile(tmp_path / "missing.profile.json")


def test_verified_is_true_only_for_json_true() -> None:
    line = {"kind": "account", "id": "x:acct:1", "platform": "x", "ts": "2026-11-22T10:20:00+09:00",
            "type": "seen", "account": {"handle": "fake", "verified": "false"}}
    assert event_from_dict(line).account.verified is False  # type: ignore[union-attr]


def test_profile_names_must_be_a_list_of_strings() -> None:
    with pytest.raises(ContractError, match="names"):
        profile_from_dict({"municipality": {"id": "wako", "name": "和光市", "names": "和光市"},
                           "accounts": []})


def test_a_drill_flag_is_read_only_when_it_is_json_true() -> None:
    line = {"kind": "mention", "id": "x:1", "platform": "x", "ts": "2026-11-22T10:15:00+09:00",
            "author": {"id": "x:u:1", "handle": "a"}, "text": "訓練です"}
    assert event_from_dict({**line, "drill": True}).drill is True
    assert event_from_dict({**line, "drill": "true"}).drill is False
    assert event_from_dict(line).drill is False


# --- the usual mention's short path ----------------------------------------


def _suite_mentions() -> list[dict[str, Any]]:
    root = Path(__file__).resolve().parents[1]
    found = []
    for folder in ("scenarios", "scenarios-variant"):
        for path in sorted((root / folder).glob("*.jsonl")):
            found += [o for o in map(orjson.loads, path.read_bytes().splitlines()) if o.get("kind") == "mention"]
    return found


def test_the_short_path_builds_the_same_mention_as_the_checked_path_for_every_suite_line() -> None:
    from vocabulary.contract import _checked_event, _usual_mention

    mentions = _suite_mentions()
    assert len(mentions) > 10_000
    for obj in mentions:
        assert _usual_mention(obj) == _checked_event(obj), obj["id"]


@pytest.mark.parametrize(("path", "value"), [
    pytest.param("ts", "2026-11-22T10:15:00Z", id="ts in Z form"),
    pytest.param("ts", "2026-11-22T10:15:00.250+09:00", id="ts with a fraction"),
    pytest.param("ts", "2026-02-30T10:15:00+09:00", id="a day that does not exist"),
    pytest.param("ts", "2026-11-22T24:15:00+09:00", id="an hour out of range"),
    pytest.param("author.followers", True, id="followers a bool"),
    pytest.param("author.followers", 12.0, id="followers a float"),
    pytest.param("hashtags", ["和光市", 3], id="a hashtag not a string"),
    pytest.param("reply_to", {"post_id": 5}, id="reply_to post_id not a string"),
    pytest.param("id", "x:" + "1" * 300, id="an id over the limit"),
    pytest.param("author.handle", "h" * 101, id="a handle over the limit"),
    pytest.param("author.name", "名" * 201, id="a name over the limit"),
    pytest.param("text", "炎" * 20_001, id="a text over the limit"),
    pytest.param("quote_of", {"post_id": "x:" + "2" * 300, "account": "a"}, id="a quoted post id over the limit"),
])
def test_an_unusual_mention_gets_the_checked_paths_answer(path: str, value: Any) -> None:
    from vocabulary.contract import _checked_event

    obj = changed(MENTION, path, value)
    try:
        expected: Any = _checked_event(copy.deepcopy(obj))
    except ContractError as exc:
        expected = str(exc)
    try:
        got: Any = event_from_dict(obj)
    except ContractError as exc:
        got = str(exc)
    assert got == expected
