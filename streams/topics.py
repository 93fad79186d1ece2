"""Creating Noroshi's topics, and reading every partition of some with a plain consumer.

The names and keys are `vocabulary.topics`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vocabulary.topics import TopicNames


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
