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


# --- what each topic keeps on Kafka ------------------------------------------------------------

DAY_MS = 86_400_000
#: Defaults of NOROSHI_INPUT_RETENTION_DAYS and NOROSHI_DEADLETTER_RETENTION_DAYS.
INPUT_RETENTION_DAYS = 30
DEADLETTER_RETENTION_DAYS = 90
#: Heartbeats: the board wants the latest of each input partition; a week is plenty.
HEARTBEAT_RETENTION_DAYS = 7


@dataclass(frozen=True)
class TopicPolicy:
    """The topic configs Noroshi sets on Kafka for one topic, and why (for `noroshi topics`)."""

    configs: tuple[tuple[str, str], ...]
    why: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.configs)

    def differences(self, actual: dict[str, str]) -> dict[str, tuple[str | None, str]]:
        """Each config of the policy whose value on the broker differs: name → (actual, wanted)."""
        return {name: (actual.get(name), wanted) for name, wanted in self.configs if actual.get(name) != wanted}


def _deleting(days: int, why: str) -> TopicPolicy:
    return TopicPolicy((("cleanup.policy", "delete"), ("retention.ms", str(days * DAY_MS))), why)


#: Faust's table changelogs (`WORKER_ID-TABLE-changelog`): only the latest value of a key counts.
CHANGELOG_POLICY = TopicPolicy((("cleanup.policy", "compact"),),
                               "a table's changelog: the latest value per key is all a recovery reads")
KEPT = TopicPolicy((("cleanup.policy", "delete"), ("retention.ms", "-1"), ("retention.bytes", "-1")),
                   "kept for years: every version counts (the board, the audit trail)")


def is_changelog(topic: str, app_id: str) -> bool:
    """A Faust table changelog of the app `app_id` (the worker id)."""
    return topic.startswith(f"{app_id}-") and topic.endswith("-changelog")


def topic_policies(names: TopicNames, *, input_retention_days: int = INPUT_RETENTION_DAYS,
                   deadletter_retention_days: int = DEADLETTER_RETENTION_DAYS) -> dict[str, TopicPolicy]:
    """The policy of each of Noroshi's topics (the changelogs: `CHANGELOG_POLICY`).

    Inputs of every agent are read within minutes and replayed at most after an outage, so they
    are kept `input_retention_days`; the incidents topic (the board reads every version of an
    incident, so it is not compacted) and the timeline (監査記録, also archived by `noroshi
    archive`) are kept for good; dead letters long enough to be inspected and re-driven."""
    flowing = _deleting(input_retention_days, "an agent's input: read at once, kept for replay after an outage")
    return {
        **{topic: flowing for topic in (*names.inputs, names.detections, names.commands, names.deadlines,
                                        names.effects)},
        names.incidents: KEPT,
        names.timeline: KEPT,
        names.deadletters: _deleting(deadletter_retention_days, "kept for inspection and re-drive"),
        names.heartbeats: _deleting(HEARTBEAT_RETENTION_DAYS, "the board needs only the latest"),
    }
