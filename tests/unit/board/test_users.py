"""The users file, argon2 passwords, roles and municipalities, sessions, login limits,
and `noroshi user add|list|remove`."""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog

from dashboards.ratelimit import Limits, LoginLimiter
from dashboards.session import SessionCodec, new_session
from dashboards.users import (
    ALL, UserError, UserStore, bootstrap, normal_role, parse_users, seed_demo,
)
from noroshi.cli import main

from tests.peers.board.world import FAST_HASHER, PASSWORD
from tests.unit.builders import SAMPLE_PROFILE


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return UserStore(tmp_path / "var" / "board-users.json", hasher=FAST_HASHER)


def test_a_user_is_stored_with_an_argon2_hash_in_a_file_only_its_owner_reads(store: UserStore) -> None:
    store.add("tanaka", role="owner", municipality="wako", password=PASSWORD, display_name="田中 花子")
    raw = store.path.read_bytes()
    assert PASSWORD.encode() not in raw
    [record] = orjson.loads(raw)["users"]
    assert record["password_hash"].startswith("$argon2id$")
    assert (record["name"], record["role"], record["municipality"], record["display_name"]) == (
        "tanaka", "owner", "wako", "田中 花子")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["board-users.json"]  # no temporary left behind


def test_the_password_is_verified_and_nothing_else_is(store: UserStore) -> None:
    store.add("tanaka", role="owner", municipality="wako", password=PASSWORD)
    assert store.verify("tanaka", PASSWORD).name == "tanaka"
    assert store.verify("tanaka", PASSWORD + "x") is None
    assert store.verify("TANAKA", PASSWORD) is None
    assert store.verify("nobody", PASSWORD) is None


def test_the_board_sees_a_change_to_the_file_without_a_restart(store: UserStore, tmp_path: Path) -> None:
    assert store.get("sato") is None
    other = UserStore(store.path, hasher=FAST_HASHER)  # `noroshi user add` in another process
    other.add("sato", role="operator", municipality="wako", password=PASSWORD)
    assert store.get("sato") is not None
    other.remove("sato")
    assert store.get("sato") is None


def test_a_broken_file_keeps_the_last_good_users(store: UserStore) -> None:
    store.add("sato", role="operator", municipality="wako", password=PASSWORD)
    assert store.get("sato") is not None
    store.path.write_text("{not json", encoding="utf-8")
    os.utime(store.path, ns=(1, 1))
    assert store.get("sato") is not None
    with pytest.raises(UserError, match="not JSON"):
        store.load_strict()


@pytest.mark.parametrize(("name", "role", "municipality", "message"), [
    ("sato", "operator", ALL, "admin role"),
    ("sato", "superuser", "wako", "role"),
    ("sa to", "operator", "wako", "user name"),
    ("", "operator", "wako", "user name"),
    ("sato", "operator", "../etc", "municipality"),
])
def test_an_invalid_user_is_refused(store: UserStore, name: str, role: str, municipality: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        store.add(name, role=role, municipality=municipality, password=PASSWORD)
    assert not store.path.exists()


def test_role_aliases_map_onto_the_board_roles() -> None:
    assert [normal_role(r) for r in ("approver", "pr_head", "Owner", " viewer ")] == ["owner", "admin", "owner", "viewer"]


def test_board_roles_act_as_the_roles_the_playbooks_check(store: UserStore) -> None:
    for name, role in (("o", "operator"), ("w", "owner"), ("a", "admin")):
        store.add(name, role=role, municipality=ALL if role == "admin" else "wako", password=PASSWORD)
    actors = {n: store.get(n).actor()["role"] for n in ("o", "w", "a")}
    assert actors == {"o": "operator", "w": "owner", "a": "pr_head"}
    store.add("v", role="viewer", municipality="wako", password=PASSWORD)
    assert store.get("v").actor_role is None


def test_parsing_refuses_duplicates_and_hashes_that_are_not_argon2() -> None:
    user = {"name": "a", "role": "viewer", "municipality": "wako", "password_hash": "$argon2id$x"}
    with pytest.raises(UserError, match="twice"):
        parse_users(orjson.dumps({"version": 1, "users": [user, user]}))
    with pytest.raises(UserError, match="argon2"):
        parse_users(orjson.dumps({"version": 1, "users": [{**user, "password_hash": "plain"}]}))


def test_the_first_admin_comes_from_the_settings_only_when_nobody_exists(store: UserStore) -> None:
    admin = bootstrap(store, "demo", "first-password")
    assert admin is not None and (admin.role, admin.municipality) == ("admin", ALL)
    assert store.verify("demo", "first-password") is not None
    assert bootstrap(store, "demo", "other-password") is None  # never again, never overwritten
    assert store.verify("demo", "first-password") is not None


def test_the_demo_users_get_new_passwords_at_each_start_but_hand_made_users_do_not(store: UserStore) -> None:
    first = seed_demo(store, municipality="wako", operator="demo", operator_password="op-password-1")
    assert [(u.name, u.role, u.municipality) for u, _ in first] == [("demo", "operator", "wako"),
                                                                    ("demo-owner", "owner", "wako")]
    owner_password = first[1][1]
    assert store.verify("demo-owner", owner_password) is not None
    again = seed_demo(store, municipality="wako", operator="demo", operator_password="op-password-2")
    assert store.verify("demo", "op-password-2") is not None
    assert store.verify("demo-owner", again[1][1]) is not None and again[1][1] != owner_password
    store.add("demo", role="admin", municipality=ALL, password="hand-made-password")
    third = seed_demo(store, municipality="wako", operator="demo", operator_password="op-password-3")
    assert [u.name for u, _ in third] == ["demo-owner"]
    assert store.verify("demo", "hand-made-password") is not None


# --- sessions ---------------------------------------------------------------------------

def test_a_session_opens_with_its_key_until_it_expires() -> None:
    codec = SessionCodec("key-one")
    sealed = codec.seal(new_session("tanaka", "fp", now=1_000_000))
    opened = codec.open(sealed, now=1_000_000 + 12 * 3600 - 1)
    assert opened is not None and (opened.user, opened.fingerprint) == ("tanaka", "fp") and opened.csrf
    assert codec.open(sealed, now=1_000_000 + 12 * 3600) is None
    assert SessionCodec("key-two").open(sealed, now=1_000_000) is None
    assert codec.open(sealed[:-4] + "AAAA", now=1_000_000) is None


def test_two_sessions_of_one_user_never_share_a_csrf_token_or_a_ciphertext() -> None:
    codec = SessionCodec("key")
    a, b = new_session("tanaka", "fp", now=0), new_session("tanaka", "fp", now=0)
    assert a.csrf != b.csrf
    assert codec.seal(a) != codec.seal(a)  # a fresh nonce every time


# --- login limits -------------------------------------------------------------------------

def test_five_failures_for_one_name_from_one_address_make_it_wait_for_the_window() -> None:
    limiter = LoginLimiter(Limits(per_name_and_address=5, per_address=100, per_name=100, window_s=900))
    for i in range(5):
        assert limiter.retry_after("sato", "10.0.0.1", now=i) == 0
        limiter.failed("sato", "10.0.0.1", now=i)
    assert limiter.retry_after("sato", "10.0.0.1", now=5) == 895  # until the first failure is 15 min old
    assert limiter.retry_after("sato", "10.0.0.2", now=5) == 0  # the on-call operator elsewhere
    assert limiter.retry_after("sato", "10.0.0.1", now=901) == 0  # the window slid past


def test_a_spray_over_many_names_from_one_address_is_limited() -> None:
    limiter = LoginLimiter(Limits(per_name_and_address=5, per_address=20, per_name=100))
    for i in range(20):
        limiter.failed(f"user{i}", "10.0.0.9", now=0)
    assert limiter.retry_after("someone-else", "10.0.0.9", now=1) > 0


def test_a_success_clears_only_that_name_from_that_address() -> None:
    limiter = LoginLimiter(Limits(per_name_and_address=2, per_address=100, per_name=100))
    limiter.failed("sato", "a", now=0)
    limiter.failed("sato", "a", now=0)
    assert limiter.retry_after("sato", "a", now=1) > 0
    limiter.succeeded("sato", "a")
    assert limiter.retry_after("sato", "a", now=1) == 0


def test_the_limiter_forgets_the_oldest_keys_beyond_its_bound() -> None:
    limiter = LoginLimiter(Limits(max_keys=30))
    for i in range(1000):
        limiter.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}", now=0)
    assert len(limiter._failures) <= 30


# --- the command line ---------------------------------------------------------------------

@pytest.fixture
def users_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No NOROSHI_* from the shell; logging put back as main() found it (main configures it)."""
    for name in [n for n in os.environ if n.startswith("NOROSHI_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "users.json"
    monkeypatch.setenv("NOROSHI_USERS_FILE", str(path))
    monkeypatch.setenv("NOROSHI_LOG_FORMAT", "json")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    aiokafka_level = logging.getLogger("aiokafka").level
    structlog_config = structlog.get_config()
    yield path
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(aiokafka_level)
    structlog.configure(**structlog_config)


def test_user_add_prints_a_generated_password_once_and_list_never_shows_it(
        users_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "tanaka", "--role", "approver", "--municipality", "wako",
                 "--display-name", "田中 花子"]) == 0
    out = capsys.readouterr().out
    password = out.split("password (shown once): ")[1].strip()
    assert "added tanaka: owner of wako" in out and len(password) >= 16
    assert UserStore(users_env).verify("tanaka", password) is not None
    assert main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed == "tanaka\towner\twako\t田中 花子\n" and password not in listed


def test_user_add_reads_a_password_from_stdin_and_refuses_a_short_one(
        users_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "sato", "--role", "operator", "--municipality", "wako", "--password-stdin"]) == 2
    assert "at least 12" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["user", "add", "sato", "--role", "operator", "--municipality", "wako", "--password-stdin"]) == 0
    assert "shown once" not in capsys.readouterr().out
    assert UserStore(users_env).verify("sato", "a-long-enough-password") is not None


def test_user_add_refuses_star_for_a_non_admin_and_remove_names_a_missing_user(
        users_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "sato", "--role", "operator", "--municipality", "*"]) == 2
    assert "admin role" in capsys.readouterr().err
    assert main(["user", "remove", "sato"]) == 2
    assert "no user 'sato'" in capsys.readouterr().err
    assert main(["user", "add", "koho", "--role", "pr_head", "--municipality", "*"]) == 0
    assert main(["user", "remove", "koho"]) == 0
    assert UserStore(users_env).load_strict() == {}


def test_user_add_refuses_a_municipality_no_profile_names(
        users_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOROSHI_PROFILES", str(SAMPLE_PROFILE))
    assert main(["user", "add", "sato", "--role", "operator", "--municipality", "wakoo"]) == 2
    err = capsys.readouterr().err
    assert "'wakoo' のプロファイルがありません" in err and "known: wako" in err
    assert UserStore(users_env).load_strict() == {}
    assert main(["user", "add", "sato", "--role", "operator", "--municipality", "wako"]) == 0


def test_the_demo_users_are_on_the_demo_roster_each_at_their_level(tmp_path: Path) -> None:
    """当番 showed no level-1 row, and the 所属長 row named 広報課長 (issue 17, item 11)."""
    from playbooks.policy import roster_from_profile
    from noroshi.stack import DEMO_PROFILE

    seeded = seed_demo(UserStore(tmp_path / "users.json", hasher=FAST_HASHER), municipality="wako",
                       operator="demo", operator_password="a-long-enough-password")
    roster = roster_from_profile(orjson.loads(DEMO_PROFILE.read_bytes()))
    by_level = {c.level: (c.name, c.role) for c in roster.contacts}
    operator, owner = (user for user, _ in seeded)
    assert by_level[1] == (operator.display_name, "operator")
    assert by_level[2] == (owner.display_name, "owner")
    assert by_level[3] == ("広報課長", "pr_head") and by_level[0] == ("広報課", "pr")
