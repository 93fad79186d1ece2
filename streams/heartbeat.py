"""The pipeline's heartbeat (心拍), as pure helpers with no Faust in them: which municipality key
lands on which input partition, the heartbeat records at each hop, and how to recognise one.

Every `NOROSHI_HEARTBEAT_INTERVAL` seconds one heartbeat per input partition in use is produced to
the mentions topic, keyed by a municipality whose key lands on that partition (Kafka's default
murmur2 partitioner, as aiokafka's `DefaultPartitioner` and Faust's tables use it). The detect
stage passes it on to the detections topic (never to a detector; its offset counts as applied),
the playbook stage passes it on to `PREFIX.heartbeats` (never to an incident) with the three hop
times, and the board shows how old the last one is. One input topic is enough to prove the path:
the three input topics share the detect agent, its stage and its partitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

KIND = "heartbeat"
#: The hop times a heartbeat collects: produced, seen by detect, seen by the playbook.
HOPS = ("sent_at", "detected_at", "played_at")
_MARK = b'"heartbeat"'


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a UTF-8 key among `partitions`."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def targets(municipalities: Iterable[str], partitions: int) -> dict[int, str]:
    """One municipality key per input partition in use (the first by name), by partition."""
    chosen: dict[int, str] = {}
    for muni in sorted(municipalities):
        chosen.setdefault(partition_for(muni, partitions), muni)
    return dict(sorted(chosen.items()))


def beat(partition: int, municipality: str, n: int, sent_at: str) -> bytes:
    """The heartbeat as it is produced to the input topic."""
    return orjson.dumps({"kind": KIND, "id": f"hb:{partition}:{n}", "sent_at": sent_at,
                         "partition": partition, "municipality": municipality})


def parse(raw: bytes | None) -> dict[str, Any] | None:
    """The heartbeat in `raw` (at any hop), or None when `raw` is anything else. Cheap for other
    records: only a value that names the kind near its start is decoded."""
    if not raw or _MARK not in raw[:40]:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or obj.get("kind") != KIND or not isinstance(obj.get("id"), str) \
            or type(obj.get("partition")) is not int or not isinstance(obj.get("municipality"), str) \
            or not isinstance(obj.get("sent_at"), str):
        return None
    return obj


def detection_key(heartbeat: Mapping[str, Any]) -> str:
    """The key on the detections and heartbeats topics: one stream per input partition."""
    return f"heartbeat:{heartbeat['partition']}"


def stamped(heartbeat: Mapping[str, Any], hop: str, at: str) -> bytes:
    """The heartbeat passed on with the time `hop` (`detected_at`, `played_at`) saw it."""
    return orjson.dumps({**{k: heartbeat[k] for k in ("kind", "id", "partition", "municipality", *HOPS)
                            if k in heartbeat}, hop: at})
