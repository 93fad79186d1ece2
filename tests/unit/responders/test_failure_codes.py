"""What kind of trouble a failed delivery is, so the board can say it in Japanese."""

from __future__ import annotations

import pytest

from dashboards import i18n
from dashboards.incident_page import describe
from responders.base import FAILURE_CODES, Permanent, Transient, failure_code, http_error
from vocabulary.records import TimelineEntry


@pytest.mark.parametrize(("status", "code", "permanent"), [
    (401, "credentials", True), (403, "forbidden", True), (422, "refused", True), (400, "refused", True),
    (429, "rate_limited", False), (408, "timeout", False), (500, "server", False), (503, "server", False),
])
def test_an_http_answer_has_its_code(status: int, code: str, permanent: bool) -> None:
    error = http_error("x", status)
    assert (error.code, error.permanent) == (code, permanent)


@pytest.mark.parametrize(("reason", "permanent", "code"), [
    ("timed out talking to smtp.city.example:587", False, "timeout"),
    ("https://api.example: no answer in time", False, "timeout"),
    ("cannot reach smtp.city.example:587: Connection refused", False, "unreachable"),
    ("TLS with smtp.city.example:587 failed: CERTIFICATE_VERIFY_FAILED", True, "tls"),
    ("sign-in refused (HTTP 401): check the handle and the app password", True, "credentials"),
    ("the PDS accepted the post without saying its URI: check the account", True, "refused"),
    ("something odd", False, "unreachable"),
])
def test_a_reason_without_a_code_gets_one(reason: str, permanent: bool, code: str) -> None:
    assert failure_code(reason, permanent=permanent) == code
    error = (Permanent if permanent else Transient)("email", reason)
    assert error.code == code


def test_every_code_is_explained_in_both_languages() -> None:
    for code in FAILURE_CODES:
        for lang in ("ja", "en"):
            assert i18n.label(lang, "failure", code) != code, (lang, code)


def test_the_timeline_line_says_what_went_wrong_in_japanese_first() -> None:
    entry = TimelineEntry(entry_id="e:1", incident_id="i", municipality="wako", at="2026-12-04T10:00:00+09:00",
                          actor={"kind": "responder", "name": "x"}, action="effect_failed",
                          detail={"kind": "post_statement", "code": "credentials",
                                  "error": "x: HTTP 401 (X refused the credentials: renew the token or keys)"})
    line = describe("ja", entry)
    assert "認証情報が受け付けられません" in line and "HTTP 401" in line
    assert line.index("認証情報") < line.index("HTTP 401")
    assert "The credentials were refused" in describe("en", entry)
