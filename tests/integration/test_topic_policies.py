"""Topics made with their policies on the real embedded broker; existing ones never changed silently."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from noroshi.broker import EmbeddedBroker
from streams.topics import ensure_topics, policy_drifts
from vocabulary.topics import CHANGELOG_POLICY, TopicNames, is_changelog, topic_policies


async def _configs(servers: str, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    return {r[3]: {e[0]: e[1] for e in r[4]} for answer in answers for r in answer.resources}


async def _create_bare(servers: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics])
    finally:
        await admin.close()


def test_ensure_topics_creates_every_topic_with_its_policy() -> None:
    with EmbeddedBroker() as broker:  # started outside a running loop (it waits with asyncio.run)
        asyncio.run(_ensure_topics_creates_every_topic_with_its_policy(broker.servers))


async def _ensure_topics_creates_every_topic_with_its_policy(servers: str) -> None:
    names = TopicNames("fresh")
    created = await ensure_topics(servers, names, 2, 1)
    assert sorted(created) == sorted(names.all())
    configs = await _configs(servers, list(names.all()))
    for topic, policy in topic_policies(names).items():
        assert {k: configs[topic].get(k) for k in policy.as_dict()} == policy.as_dict(), topic
    assert await policy_drifts(servers, names, "fresh", topic_policies(names)) == []
    assert await ensure_topics(servers, names, 2, 1) == []  # idempotent


def test_an_existing_topic_is_left_as_it_is_and_its_difference_reported() -> None:
    with EmbeddedBroker() as broker:
        asyncio.run(_an_existing_topic_is_left_as_it_is(broker.servers))


async def _an_existing_topic_is_left_as_it_is(servers: str) -> None:
    names = TopicNames("old")
    await _create_bare(servers, [names.timeline, "old-playbooks-changelog"])
    await ensure_topics(servers, names, 2, 1)
    assert await _configs(servers, [names.timeline]) == {names.timeline: {}}
    drifts = {d.topic: d for d in await policy_drifts(servers, names, "old", topic_policies(names))}
    assert set(drifts) == {names.timeline, "old-playbooks-changelog"}
    assert drifts[names.timeline].differences["retention.ms"] == (None, "-1")
    assert drifts["old-playbooks-changelog"].policy == CHANGELOG_POLICY


def test_noroshi_topics_reports_a_differing_topic_and_refuses_to_alter_it_on_tansu(tmp_path) -> None:
    with EmbeddedBroker() as broker:
        asyncio.run(_create_bare(broker.servers, ["noroshi.timeline"]))
        env = {"PATH": "/usr/bin:/bin", "NOROSHI_BROKER": broker.url, "NOROSHI_BROKER_TANSU": "true",
               "NOROSHI_LOG_FORMAT": "json", "NOROSHI_DATA_DIR": str(tmp_path)}
        report = subprocess.run([sys.executable, "-m", "noroshi", "topics"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert report.returncode == 0, report.stderr
        assert "トピック noroshi.timeline の設定が方針と異なります" in report.stderr
        assert "/ Topic noroshi.timeline differs from its policy" in report.stderr
        assert "組み込みブローカー（Tansu）はトピックの設定を記録しますが" in report.stderr
        apply = subprocess.run([sys.executable, "-m", "noroshi", "topics", "--apply-policies"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert apply.returncode == 2
        assert "Tansu cannot alter topic configs" in apply.stderr


async def _changelogs(servers: str, app_id: str, wanted: int, worker) -> list[str]:
    """The app's changelog topics, once the worker has declared `wanted` of them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        for _ in range(600):  # at most a minute: the worker declares them while it starts
            found = sorted(t for t in await admin.list_topics() if is_changelog(t, app_id))
            if len(found) >= wanted or worker.proc.poll() is not None:
                return found
            await asyncio.sleep(0.1)
        return found
    finally:
        await admin.close()


def test_a_worker_declares_its_table_changelogs_compacted(broker, names, spawn) -> None:
    worker = spawn("worker")
    changelogs = asyncio.run(_changelogs(broker.servers, "noroshi", 3, worker))
    assert changelogs == ["noroshi-detector-state-changelog", "noroshi-playbooks-changelog",
                          "noroshi-responders-changelog"]
    configs = asyncio.run(_configs(broker.servers, changelogs))
    assert all(configs[t].get("cleanup.policy") == "compact" for t in changelogs), configs
    assert asyncio.run(policy_drifts(broker.servers, names, "noroshi", topic_policies(names))) == []
