"""The board's words, Japanese first with English beside them.

The language comes from `?lang=ja|en`, remembered in a cookie; Japanese is the default
because the people on call are municipal PR staff.
"""

from __future__ import annotations

LANGS = ("ja", "en")
DEFAULT_LANG = "ja"
LANG_COOKIE = "noroshi_lang"

# Keys are "group.value" so the browser script can look up `type.flame` etc. from
# the same table the server renders with.
TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "type.flame": "炎上",
        "type.impersonation": "なりすまし",
        "type.misinformation": "デマ",
        "type.disaster": "災害",
        "severity.critical": "緊急",
        "severity.high": "高",
        "severity.medium": "中",
        "severity.low": "低",
        "state.open": "対応中",
        "state.resolved": "解決済み",
        "app.name": "狼煙 状況ボード",
        "now.title": "現在の状況",
        "now.empty": "対応中の事案はありません",
        "now.drill": "訓練",
        "col.type": "種別",
        "col.target": "対象",
        "col.severity": "深刻度",
        "col.state": "状態",
        "col.opened_at": "発生時刻",
        "col.elapsed": "経過",
        "col.summary": "概要",
        "conn.connecting": "接続確認中…",
        "conn.live": "接続中",
        "conn.retrying": "再接続中…",
        "elapsed.m": "{m}分",
        "elapsed.hm": "{h}時間{m}分",
        "elapsed.dh": "{d}日{h}時間",
        "login.title": "ログイン",
        "login.user": "ユーザー名",
        "login.password": "パスワード",
        "login.submit": "ログイン",
        "login.failed": "ユーザー名またはパスワードが正しくありません。",
        "login.expired": "画面の有効期限が切れました。もう一度ログインしてください。",
        "logout": "ログアウト",
        "switch.label": "English",
        "switch.lang": "en",
    },
    "en": {
        "type.flame": "Flame-up",
        "type.impersonation": "Impersonation",
        "type.misinformation": "Misinformation",
        "type.disaster": "Disaster",
        "severity.critical": "Critical",
        "severity.high": "High",
        "severity.medium": "Medium",
        "severity.low": "Low",
        "state.open": "Open",
        "state.resolved": "Resolved",
        "app.name": "Noroshi status board",
        "now.title": "Now",
        "now.empty": "No open incidents",
        "now.drill": "Drill",
        "col.type": "Type",
        "col.target": "Target",
        "col.severity": "Severity",
        "col.state": "State",
        "col.opened_at": "Opened",
        "col.elapsed": "Elapsed",
        "col.summary": "Summary",
        "conn.connecting": "Connecting…",
        "conn.live": "Live",
        "conn.retrying": "Reconnecting…",
        "elapsed.m": "{m} min",
        "elapsed.hm": "{h} h {m} min",
        "elapsed.dh": "{d} d {h} h",
        "login.title": "Sign in",
        "login.user": "User name",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Wrong user name or password.",
        "login.expired": "This page expired. Please sign in again.",
        "logout": "Sign out",
        "switch.label": "日本語",
        "switch.lang": "ja",
    },
}


def _add_playbook_states() -> None:
    """The playbooks' state names (受付待ち, 承認待ち …) in both languages."""
    from playbooks.machines import STATE_LABELS

    for state, (ja, en) in STATE_LABELS.items():
        TEXT["ja"].setdefault(f"state.{state}", ja)
        TEXT["en"].setdefault(f"state.{state}", en)


_add_playbook_states()

#: States in which an incident is over: it leaves the Now page.
ENDED_STATES = frozenset({"resolved", "closed"})


def pick_lang(query: str | None, cookie: str | None) -> str:
    """The language asked for in the URL, else the remembered one, else Japanese."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG


def text(lang: str, key: str) -> str:
    return TEXT[lang][key]


def label(lang: str, group: str, value: str) -> str:
    """A domain value's name (`type`, `severity`, `state`); unknown values show as they are,
    so a state added by a playbook still appears before it gets a translation."""
    return TEXT[lang].get(f"{group}.{value}", value)


def elapsed(lang: str, seconds: float) -> str:
    """Time since an incident opened, to the minute (board.js has the same rule)."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return TEXT[lang]["elapsed.dh"].format(d=days, h=hours)
    if hours:
        return TEXT[lang]["elapsed.hm"].format(h=hours, m=mins)
    return TEXT[lang]["elapsed.m"].format(m=mins)
