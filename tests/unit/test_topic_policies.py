"""Each topic's policy on Kafka: changelogs compacted, inputs and dead letters time-bounded,
incidents and the timeline kept, heartbeats short; drift said in Japanese first."""

from __future__ import annotations

from pathlib import Path

from streams.topics import PolicyDrift, drift_message, policies_of
from vocabulary.settings import Settings
from vocabulary.topics import (CHANGELOG_POLICY, DAY_MS, TopicNames, is_changelog, topic_policies)

NAMES = TopicNames("noroshi")
PROFILE = Path(__file__).resolve().parents[1] / "data" / "wako-sample.profile.json"


def test_every_topic_noroshi_creates_has_a_policy() -> None:
    assert set(topic_policies(NAMES)) == set(NAMES.all())


def test_every_policy_names_its_cleanup_policy_explicitly() -> None:
    for topic, policy in topic_policies(NAMES).items():
        assert "cleanup.policy" in policy.as_dict(), topic


def test_the_agents_inputs_are_kept_thirty_days_by_default_and_deleted_after() -> None:
    policies = topic_policies(NAMES)
    for topic in (*NAMES.inputs, NAMES.detections, NAMES.commands, NAMES.deadlines, NAMES.effects):
        assert policies[topic].as_dict() == {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}


def test_dead_letters_are_kept_longer_than_the_inputs() -> None:
    policies = topic_policies(NAMES)
    assert policies[NAMES.deadletters].as_dict()["retention.ms"] == str(90 * DAY_MS)


def test_incidents_and_the_timeline_are_kept_for_good_and_not_compacted_since_every_version_counts() -> None:
    for topic in (NAMES.incidents, NAMES.timeline):
        assert topic_policies(NAMES)[topic].as_dict() == {
            "cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def test_heartbeats_are_kept_a_short_time() -> None:
    policies = topic_policies(NAMES)
    heartbeats = int(policies[NAMES.heartbeats].as_dict()["retention.ms"])
    assert 0 < heartbeats < int(policies[NAMES.mentions].as_dict()["retention.ms"])


def test_changelogs_are_compacted() -> None:
    assert CHANGELOG_POLICY.as_dict() == {"cleanup.policy": "compact"}


def test_a_changelog_is_known_by_its_app_id_and_suffix() -> None:
    assert is_changelog("noroshi-detector-state-changelog", "noroshi")
    assert not is_changelog("other-detector-state-changelog", "noroshi")
    assert not is_changelog("noroshi.timeline", "noroshi")


def test_the_retentions_come_from_the_settings() -> None:
    settings = Settings.from_env({"NOROSHI_BROKER": "kafka://k:9092", "NOROSHI_TOPIC_PREFIX": "city",
                                  "NOROSHI_INPUT_RETENTION_DAYS": "7",
                                  "NOROSHI_DEADLETTER_RETENTION_DAYS": "365"})
    policies = policies_of(settings)
    assert policies["city.mentions"].as_dict()["retention.ms"] == str(7 * DAY_MS)
    assert policies["city.deadletters"].as_dict()["retention.ms"] == str(365 * DAY_MS)
    assert Settings.from_env(settings.to_env()) == settings


def test_only_the_configs_that_differ_are_named() -> None:
    policy = topic_policies(NAMES)[NAMES.mentions]
    actual = {"cleanup.policy": "delete", "retention.ms": "604800000", "segment.ms": "1"}
    assert policy.differences(actual) == {"retention.ms": ("604800000", str(30 * DAY_MS))}
    assert policy.differences(policy.as_dict()) == {}


def test_a_drift_is_said_in_japanese_first_and_names_the_command_that_fixes_it() -> None:
    drift = PolicyDrift("noroshi.timeline", topic_policies(NAMES)[NAMES.timeline],
                        {"retention.ms": ("604800000", "-1")}, kept={})
    message = drift_message(drift)
    assert message.startswith("トピック noroshi.timeline の設定が方針と異なります")
    assert message.index("/ Topic noroshi.timeline differs") > 0
    assert "retention.ms=604800000" in message and "noroshi topics --apply-policies" in message


def test_the_worker_s_tables_declare_their_changelogs_compacted() -> None:
    from streams.app import create_app
    from vocabulary.profile_files import load_profiles

    settings = Settings.from_env({"NOROSHI_BROKER": "kafka://127.0.0.1:1"})
    pipeline = create_app(settings, load_profiles((PROFILE,)))
    for table in (pipeline.detector_state, pipeline.playbook_state, pipeline.responder_state):
        assert table.changelog_topic.config == {"cleanup.policy": "compact"}
        assert table.changelog_topic.compacting is True
