"""One settings object from the environment: defaults, errors that name the variable, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vocabulary.settings import Secret, Settings, SettingsError

SECRET = "kouhou-sakura-2025-very-secret"


def test_an_empty_environment_starts_the_embedded_broker_with_fast_groups() -> None:
    s = Settings.from_env({})

    assert s.broker == "" and s.broker_is_tansu is True and s.fast_groups is True
    assert s.profiles == ()
    assert (s.topic_prefix, s.partitions, s.replication) == ("noroshi", 8, 1)
    assert (s.board_host, s.board_port, s.board_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert (s.board_user, s.log_format, s.log_level, s.worker_id) == ("demo", "auto", "INFO", "noroshi")
    assert s.data_dir == Path("var")


def test_without_configured_secrets_each_start_gets_random_ones() -> None:
    a, b = Settings.from_env({}), Settings.from_env({})

    assert a.secret_key and a.board_password
    assert a.secret_key != b.secret_key and a.board_password != b.board_password


def test_a_configured_broker_is_not_assumed_to_be_tansu_nor_to_want_fast_groups() -> None:
    s = Settings.from_env({"NOROSHI_BROKER": "kafka://kafka:9092"})

    assert s.broker == "kafka://kafka:9092"
    assert s.broker_is_tansu is False and s.fast_groups is False
    assert s.broker_servers == "kafka:9092"


def test_a_bare_host_and_port_gets_the_kafka_scheme() -> None:
    s = Settings.from_env({"NOROSHI_BROKER": " kafka-1:9092,kafka-2:9092 "})

    assert s.broker == "kafka://kafka-1:9092,kafka-2:9092"
    assert s.broker_servers == "kafka-1:9092,kafka-2:9092"


def test_explicit_flags_win_over_the_broker_dependent_defaults() -> None:
    s = Settings.from_env({"NOROSHI_BROKER": "localhost:9092", "NOROSHI_BROKER_TANSU": "yes",
                           "NOROSHI_FAST_GROUPS": "ON"})

    assert s.broker_is_tansu is True and s.fast_groups is True


def test_no_broker_has_no_servers_to_connect_to() -> None:
    with pytest.raises(SettingsError, match="no broker configured"):
        _ = Settings.from_env({}).broker_servers


def test_profiles_are_a_comma_separated_list_of_paths() -> None:
    s = Settings.from_env({"NOROSHI_PROFILES": "profiles/wako.profile.json, profiles/more ,"})

    assert s.profiles == (Path("profiles/wako.profile.json"), Path("profiles/more"))


@pytest.mark.parametrize(("name", "value"), [
    ("NOROSHI_PARTITIONS", "eight"),
    ("NOROSHI_PARTITIONS", "0"),
    ("NOROSHI_REPLICATION", "1.5"),
    ("NOROSHI_BOARD_PORT", "70000"),
    ("NOROSHI_BOARD_PORT", "http"),
    ("NOROSHI_FAST_GROUPS", "maybe"),
    ("NOROSHI_BROKER_TANSU", "2"),
    ("NOROSHI_LOG_FORMAT", "xml"),
])
def test_a_malformed_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}="):
        Settings.from_env({name: value})


# --- secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "attribute"), [
    ("NOROSHI_SECRET_KEY", "secret_key"),
    ("NOROSHI_BOARD_PASSWORD", "board_password"),
])
def test_a_secret_can_come_from_a_file(tmp_path: Path, variable: str, attribute: str) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n", encoding="utf-8")

    s = Settings.from_env({variable + "_FILE": str(path), variable: "ignored-when-a-file-is-given"})

    assert getattr(s, attribute) == Secret(SECRET)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  \n", encoding="utf-8")

    with pytest.raises(SettingsError, match="^NOROSHI_SECRET_KEY_FILE=.*empty"):
        Settings.from_env({"NOROSHI_SECRET_KEY_FILE": str(path)})


def test_an_unreadable_secret_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="^NOROSHI_BOARD_PASSWORD_FILE=.*cannot read"):
        Settings.from_env({"NOROSHI_BOARD_PASSWORD_FILE": str(tmp_path / "missing")})


def test_a_secret_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="^NOROSHI_SECRET_KEY_FILE=.*cannot read"):
        Settings.from_env({"NOROSHI_SECRET_KEY_FILE": str(tmp_path)})


def test_secrets_never_show_in_the_settings_repr_str_or_f_strings() -> None:
    s = Settings.from_env({"NOROSHI_SECRET_KEY": SECRET, "NOROSHI_BOARD_PASSWORD": SECRET + "-pw"})

    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s.secret_key}", f"{s.board_password!r}",
             str(s.board_password), repr(s.secret_key)]

    assert all(SECRET not in text for text in shown)
    assert "Secret('********')" in repr(s)
    assert s.secret_key.value == SECRET


def test_an_empty_secret_shows_that_it_is_empty() -> None:
    assert repr(Secret("")) == "Secret('')" and not Secret("")


def test_to_env_rebuilds_equal_settings() -> None:
    s = Settings.from_env({
        "NOROSHI_BROKER": "kafka:9092", "NOROSHI_BROKER_TANSU": "true",
        "NOROSHI_PROFILES": "a.profile.json,folder", "NOROSHI_TOPIC_PREFIX": "wako",
        "NOROSHI_PARTITIONS": "3", "NOROSHI_REPLICATION": "2", "NOROSHI_DATA_DIR": "/data",
        "NOROSHI_WORKER_ID": "w1", "NOROSHI_BOARD_HOST": "0.0.0.0", "NOROSHI_BOARD_PORT": "9000",
        "NOROSHI_BOARD_URL": "https://board.example/", "NOROSHI_SECRET_KEY": SECRET,
        "NOROSHI_BOARD_USER": "kouhou", "NOROSHI_LOG_FORMAT": "JSON", "NOROSHI_LOG_LEVEL": "debug",
    })

    rebuilt = Settings.from_env(s.to_env())

    assert rebuilt == s
    assert rebuilt.board_url == "https://board.example" and rebuilt.log_format == "json"


def test_to_env_rebuilds_the_embedded_defaults_including_the_random_secrets() -> None:
    s = Settings.from_env({})

    assert Settings.from_env(s.to_env()) == s


def test_secrets_are_stripped_like_every_other_setting() -> None:
    settings = Settings.from_env({"NOROSHI_BOARD_PASSWORD": "  pw \n"})
    assert settings.board_password.value == "pw"


def test_board_port_zero_is_refused() -> None:
    with pytest.raises(SettingsError, match="NOROSHI_BOARD_PORT"):
        Settings.from_env({"NOROSHI_BOARD_PORT": "0"})
