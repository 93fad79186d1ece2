"""Creating Noroshi's topics with their policies, checking and changing the policies of topics
that exist, and reading every partition of some with a plain consumer.

The names, keys and policies are `vocabulary.topics`. A topic that exists already is never
changed silently: `policy_drifts` says how it differs, and only `apply_policies` (`noroshi topics
--apply-policies`) alters it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vocabulary.settings import Settings
from vocabulary.topics import CHANGELOG_POLICY, TopicNames, TopicPolicy, is_changelog, topic_policies

#: DescribeConfigs' config_source for a value set on the topic itself (Kafka's DYNAMIC_TOPIC_CONFIG).
_SET_ON_TOPIC = 1


@dataclass(frozen=True)
class PolicyDrift:
    """An existing topic whose configs differ from its policy: name → (on the broker, wanted)."""

    topic: str
    policy: TopicPolicy
    differences: dict[str, tuple[str | None, str]]
    kept: dict[str, str]  # the other configs set on the topic, which an AlterConfigs must repeat


def policies_of(settings: Settings) -> dict[str, TopicPolicy]:
    """The policy of each of Noroshi's topics, with the retentions the settings give."""
    return topic_policies(TopicNames(settings.topic_prefix), input_retention_days=settings.input_retention_days,
                          deadletter_retention_days=settings.deadletter_retention_days)


def drift_message(drift: PolicyDrift) -> str:
    """What `noroshi topics` says of a topic whose configs differ from its policy."""
    found = ", ".join(f"{name}={actual if actual is not None else '(なし none)'}（方針 policy: {wanted}）"
                      for name, (actual, wanted) in drift.differences.items())
    return (f"トピック {drift.topic} の設定が方針と異なります: {found}。変更するには "
            f"`noroshi topics --apply-policies` を実行してください。 / Topic {drift.topic} differs from its "
            f"policy ({drift.policy.why}): {found}. Run `noroshi topics --apply-policies` to change it.")


TANSU_KEEPS_ALL = ("組み込みブローカー（Tansu）はトピックの設定を記録しますが、保持期間による削除もコンパクションも"
                   "行いません。書き込まれたものはすべてメモリに残ります（README「The embedded broker」参照）。 / "
                   "The embedded broker (Tansu) records the topic configs but never expires or compacts "
                   "anything: every message written stays in its memory (README, \"The embedded broker\").")


async def ensure_topics(servers: str, names: TopicNames, partitions: int, replication: int, *,
                        policies: Mapping[str, TopicPolicy] | None = None) -> list[str]:
    """Create Noroshi's topics that are missing, each with its policy's configs (idempotent);
    return the names created. Topics that exist are left as they are (see `policy_drifts`)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    policies = topic_policies(names) if policies is None else policies
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names.all() if n not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name, partitions, replication, topic_configs=policies[name].as_dict())
                 for name in missing]
            )
        return missing
    finally:
        await admin.close()


def _entries(response: Any) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """topic → (every config, the configs set on the topic itself) from DescribeConfigs answers."""
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for answer in response:
        for error_code, error_message, _type, topic, entries in (r[:5] for r in answer.resources):
            if error_code:
                raise RuntimeError(f"describe configs of {topic}: error {error_code} {error_message}")
            every = {e[0]: e[1] for e in entries}
            # v0 has is_default where later versions have config_source
            set_here = ((lambda e: not e[3]) if answer.API_VERSION == 0 else (lambda e: e[3] == _SET_ON_TOPIC))
            on_topic = {e[0]: e[1] for e in entries if set_here(e) and not e[2] and not e[4] and e[1] is not None}
            out[topic] = (every, on_topic)
    return out


async def policy_drifts(servers: str, names: TopicNames, app_id: str,
                        policies: Mapping[str, TopicPolicy]) -> list[PolicyDrift]:
    """The existing topics (Noroshi's, and the changelogs of the app `app_id`) whose configs
    differ from their policy, read with DescribeConfigs."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {t: p for t, p in policies.items() if t in existing}
        wanted |= {t: CHANGELOG_POLICY for t in sorted(existing) if is_changelog(t, app_id)}
        if not wanted:
            return []
        described = _entries(await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in wanted]))
    finally:
        await admin.close()
    drifts = []
    for topic, policy in wanted.items():
        every, on_topic = described.get(topic, ({}, {}))
        differences = policy.differences(every)
        if differences:
            drifts.append(PolicyDrift(topic, policy, differences, on_topic))
    return drifts


async def apply_policies(servers: str, drifts: Iterable[PolicyDrift]) -> None:
    """Alter each drifted topic to its policy. AlterConfigs replaces every config set on the topic,
    so the ones set there before and not in the policy are sent again unchanged."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    resources = [ConfigResource(ConfigResourceType.TOPIC, d.topic, configs={**d.kept, **d.policy.as_dict()})
                 for d in drifts]
    if not resources:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        for answer in await admin.alter_configs(resources):
            for error_code, error_message, _type, topic in (r[:4] for r in answer.resources):
                if error_code:
                    raise RuntimeError(f"alter configs of {topic}: error {error_code} {error_message}")
    finally:
        await admin.close()


async def assign_every_partition(consumer: Any, topics: Iterable[str]) -> list[Any]:
    """Assign a plain (group-less) consumer every partition of `topics`, in order.

    Refreshes the metadata first, so a topic created since the consumer started is seen;
    a topic that does not exist yet raises `LookupError` for the caller's retry."""
    from aiokafka import TopicPartition

    await consumer.topics()
    assigned = []
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic} does not exist yet")
        assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    return assigned
