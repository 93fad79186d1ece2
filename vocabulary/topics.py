"""Topic names and keys: the one list of Noroshi's topics.

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
| `PREFIX.heartbeats` | `heartbeat:<input partition>` | the pipeline's heartbeat after detect and playbook, read by the board |

All keys are UTF-8 strings hashed by Kafka's default (murmur2) partitioner,
the same one Faust's tables use, so a table entry and the events that change
it sit in the same partition.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    def heartbeats(self) -> str:
        """The heartbeats that came out at the far end (detect → playbook), for the board."""
        return f"{self.prefix}.heartbeats"

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.mentions, self.accounts, self.alerts)

    def for_kind(self, kind: str) -> str:
        """The input topic for a contract event's `kind`."""
        return {"mention": self.mentions, "account": self.accounts, "alert": self.alerts}[kind]

    def all(self) -> tuple[str, ...]:
        return (*self.inputs, self.detections, self.commands, self.deadlines, self.effects,
                self.incidents, self.timeline, self.deadletters, self.heartbeats)
