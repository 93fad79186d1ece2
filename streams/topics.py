"""Topic names, keys and creation.

Partitioning (which key each topic uses, and why):

| topic | key | why |
|---|---|---|
| `PREFIX.mentions`, `PREFIX.accounts`, `PREFIX.alerts` | municipality id | a municipality's detector state lives in one place; wards scale out across partitions |
| `PREFIX.detections` | incident id | every change to one incident is applied in order by one playbook instance |
| `PREFIX.commands` | incident id | co-partitioned with detections: board actions meet the incident's state |
| `PREFIX.deadlines` | incident id | co-partitioned with detections and commands: the timer's deadline events meet the incident's state |
| `PREFIX.effects` | incident id | side effects for the responders, in the order the playbook decided them |
| `PREFIX.incidents` | incident id | every lifecycle change of one incident in order; the board keeps the latest |
| `PREFIX.timeline` | incident id | an incident's audit trail in order |
| `PREFIX.deadletters` | the original key | kept beside its source for inspection and re-drive |

All keys are UTF-8 strings hashed by Kafka's default (murmur2) partitioner,
the same one Faust's tables use, so a table entry and the events that change
it sit in the same partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

INPUT_KINDS = ("mention", "account", "alert")


@dataclass(frozen=True)
class TopicNames:
    prefix: str

    @property
    def mentions(self) -> str:
        return f"{self.prefix}.mentions"

    @property
    def accounts(self) -> str:
        return f"{self.prefix}.accounts"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def detections(self) -> str:
        return f"{self.prefix}.detections"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def deadlines(self) -> str:
        return f"{self.prefix}.deadlines"

    @property
    def effects(self) -> str:
        return f"{self.prefix}.effects"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}.incidents"

    @property
    def timeline(self) -> str:
        return f"{self.prefix}.timeline"

    @property
    def deadletters(self) -> str:
        return f"{self.prefix}.deadletters"

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.mentions, self.accounts, self.alerts)

    def for_kind(self, kind: str) -> str:
        """The input topic for a contract event's `kind`."""
        return {"mention": self.mentions, "account": self.accounts, "alert": self.alerts}[kind]

    def all(self) -> tuple[str, ...]:
        return (*self.inputs, self.detections, self.commands, self.deadlines, self.effects,
                self.incidents, self.timeline, self.deadletters)


async def ensure_topics(servers: str, names: TopicNames, partitions: int, replication: int) -> None:
    """Create Noroshi's topics if they are missing (idempotent)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names.all() if n not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name, partitions, replication) for name in missing]
            )
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
