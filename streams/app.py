"""The Faust application: topics, tables and the agents that connect them.

Agents are thin: they move raw bytes between topics and the pure core
(`streams.stage`, `playbooks.runner`), log every message they give up on
with its topic, partition and offset, and send it to the dead letters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import faust
import structlog
from faust.serializers import codecs

from vocabulary.settings import Settings
from playbooks.engine import default_rules
from playbooks.runner import Stored, due, parse_input, step
from responders.config import responder_for
from responders.ledger import Ledger, carry_out, cut_off_effects, finish, restore_holds
from streams import durable, tansu
from vocabulary.contract import Profile
from streams.gaps import BrokerRefetch, Gap, GapFiller
from streams.lineage import BrokerProbe, LineageGuard, loss_letter
from vocabulary.records import DeadLetter, Effect
from streams.stage import DetectionStage, Message, dead_letter
from vocabulary.topics import TopicNames

log = structlog.get_logger(__name__)

#: Events per detector batch: one state snapshot is written per municipality per batch.
BATCH_MAX = 1000
BATCH_WITHIN_S = 0.2


class _StrCodec(codecs.Codec):
    """UTF-8 text keys: the same bytes on topics and tables, so partitioning agrees."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode() if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> str:
        return s.decode("utf-8")


codecs.register("str", _StrCodec())


class StrKeyTable(faust.Table):
    """A table whose `str` keys use the `str` codec, as the topics do.

    Faust would serialize them as JSON (`"wako"` with quotes), which hashes to
    another partition than the topic's key `wako`: the table entry and the
    events that change it would then live on different partitions.
    """

    def _serializer_from_type(self, typ: Any) -> Any:
        return "str" if typ is str else super()._serializer_from_type(typ)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _message(event: faust.EventT) -> Message:
    m = event.message
    return Message(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key, value=m.value)


def _group_timeouts(settings: Settings) -> dict[str, Any]:
    if not settings.fast_groups:
        return {}
    # Tansu holds every JoinGroup for half the session timeout; these bring a
    # worker to Ready in ~4 s. Never for production Kafka (see platform notes).
    return {
        "broker_session_timeout": 3.0,
        "broker_heartbeat_interval": 0.5,
        "broker_rebalance_timeout": 3.0,
        "broker_commit_interval": 0.5,
    }


@dataclass(frozen=True)
class Pipeline:
    """The app and the parts tests and start-up need to reach."""

    app: faust.App
    detect: faust.types.AgentT
    playbook: faust.types.AgentT
    respond: faust.types.AgentT
    detections: faust.types.TopicT
    commands: faust.types.TopicT
    deadlines: faust.types.TopicT
    effects: faust.types.TopicT
    incidents: faust.types.TopicT
    timeline: faust.types.TopicT
    deadletters: faust.types.TopicT
    detector_state: faust.types.TableT
    playbook_state: faust.types.TableT
    responder_state: faust.types.TableT


def create_app(settings: Settings, profiles: dict[str, Profile]) -> Pipeline:
    broker = settings.broker
    if settings.broker_is_tansu:
        tansu.register()
        broker = f"{tansu.SCHEME}://{settings.broker_servers}"
    app = faust.App(
        settings.worker_id,
        broker=broker,
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(settings.data_dir / settings.worker_id),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        key_serializer="str",
        value_serializer="raw",
        Table=StrKeyTable,
        **_group_timeouts(settings),
    )
    names = TopicNames(settings.topic_prefix)
    wire = {"key_serializer": "str", "value_serializer": "raw"}
    inputs = app.topic(*names.inputs, key_serializer="raw", value_serializer="raw")
    detections = app.topic(names.detections, **wire)
    incidents = app.topic(names.incidents, **wire)
    timeline = app.topic(names.timeline, **wire)
    deadletters = app.topic(names.deadletters, **wire)
    commands = app.topic(names.commands, **wire)
    deadlines = app.topic(names.deadlines, **wire)
    effects = app.topic(names.effects, **wire)

    table = {"key_type": str, "value_type": bytes, "use_partitioner": True,
             "partitions": settings.partitions}
    detector_state = app.Table("detector-state", **table)
    playbook_state = app.Table("playbooks", **table)
    rules = default_rules()
    stage = DetectionStage(profiles)
    # Every agent's input: no topic of ours is compacted, so a hole in a partition's offsets
    # is a message the stream skipped (see streams/gaps.py).
    # Offsets that go back are checked against the broker's log before anything is skipped
    # (see streams/lineage.py): a log the broker lost is said once, on the board too, and read afresh.
    lineage = LineageGuard(BrokerProbe(settings.broker_servers),
                           notify=lambda applied, why: send_dead_letters([loss_letter(applied, why, _now())]))
    gaps, inbox_gaps, effect_gaps = (GapFiller(BrokerRefetch(settings.broker_servers), lineage, name)
                                     for name in ("detect", "playbook", "respond"))

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: Any, **_: Any) -> None:
        for guard in (gaps, inbox_gaps, effect_gaps):
            guard.forget()  # the streams start again from the committed offsets

    unsent_letters = 0  # dead letters the producer refused (each logged once)

    async def send_dead_letters(letters: Iterable[DeadLetter]) -> None:
        """Each letter is bounded (`DeadLetter.of`); if even so it cannot be sent, say so once and go on:
        raising here would restart the agent and lose the batch around the message."""
        nonlocal unsent_letters
        for letter in letters:
            log.warning("event_dead_lettered", topic=letter.topic, partition=letter.partition,
                        offset=letter.offset, reason=letter.reason, size=letter.size,
                        sha256=letter.sha256, truncated=letter.truncated)
            try:
                await deadletters.send(key=letter.key or "", value=letter.to_json())
            except Exception as exc:  # noqa: BLE001 - the boundary: keep the stream alive
                unsent_letters += 1
                log.error("dead_letter_send_failed", topic=letter.topic, partition=letter.partition,
                          offset=letter.offset, reason=letter.reason, sha256=letter.sha256,
                          error=f"{type(exc).__name__}: {exc}", unsent_total=unsent_letters)

    @app.agent(inputs, name="detect")
    async def detect(stream: faust.StreamT) -> None:
        """Contract events → detections, one state snapshot per municipality per batch."""
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            messages = await gaps.complete([_message(e) for e in events])
            groups, rejected = stage.group(messages, _now())
            await send_dead_letters(rejected)
            for muni, messages in groups.items():
                stored = detector_state.get(muni)
                lost = await lineage.lost(stage.applied(muni, stored, messages), municipality=muni)
                out = stage.process(muni, stored, messages, _now(), lost)
                # Outputs before state: after a crash between the two, the batch is
                # processed again and re-sends the same detections (same id and seq),
                # which the playbook ignores. The other order could lose them.
                await send_dead_letters(out.dead_letters)
                for found, msg in out.detections:
                    log.info("incident_detected", **msg.position, incident_id=found.incident_id,
                             change=found.change, type=found.type, severity=found.severity)
                    await detections.send(key=found.incident_id, value=found.to_json())
                detector_state[muni] = out.state

    inbox = app.topic(names.detections, names.commands, names.deadlines, **wire)
    fired: set[str] = set()  # deadlines this process already delivered (the engine ignores repeats)

    async def play(msg: Message) -> None:
        """One detection, board command or deadline → the incident's playbook step."""
        try:
            inp = parse_input(msg.value or b"")
            profile = profiles.get(inp.municipality)
            if profile is None:
                raise ValueError(f"unknown municipality {inp.municipality!r}")
            stored, decision = step(Stored.load(playbook_state.get(inp.incident_id)), inp,
                                    profile_raw=profile.raw, rules=rules)
        except Exception as exc:  # noqa: BLE001 - the boundary: keep the stream alive
            log.exception("playbook_input_rejected", **msg.position)
            await send_dead_letters([dead_letter(msg, f"bad playbook input: {exc}", _now())])
            return
        # Publish before storing, for the same reason as in `detect`: a repeated
        # output is harmless (ids are stable, readers keep the highest version), a lost one is not.
        for effect in decision.effects:
            await effects.send(key=effect.incident_id, value=effect.to_json())
        for entry in decision.timeline:
            await timeline.send(key=entry.incident_id, value=entry.to_json())
        if decision.incident is not None:
            await incidents.send(key=decision.incident.incident_id, value=decision.incident.to_json())
        playbook_state[inp.incident_id] = stored.dump()
        if decision.rejection:
            log.info("command_rejected", **msg.position, incident_id=inp.incident_id,
                     reason=decision.rejection.get("reason_en"))
        elif decision.incident is not None:
            log.info("incident_" + decision.incident.change, **msg.position,
                     incident_id=inp.incident_id, state=decision.incident.state,
                     version=decision.incident.version, effects=len(decision.effects))

    @app.agent(inbox, name="playbook")
    async def playbook(stream: faust.StreamT) -> None:
        """Detections, board commands and deadlines → the incident's playbook step."""
        async for event in stream.events():
            for msg in await inbox_gaps.complete([_message(event)]):
                await play(msg)

    responded = app.Table("responders", **table)
    responder = responder_for(settings, profiles)
    holds_restored = False

    async def deliver(msg: Message) -> None:
        """One effect → its delivery; its timeline entries and any failure report, then the ledger."""
        nonlocal holds_restored
        if not holds_restored:  # the table is recovered before the first message arrives
            restore_holds(responder.holds, responded.items())
            holds_restored = True
        try:
            effect = Effect.from_json(msg.value or b"")
        except Exception as exc:  # noqa: BLE001 - the boundary: keep the stream alive
            await send_dead_letters([dead_letter(msg, f"bad effect: {exc}", _now())])
            return
        ledger = Ledger.load(responded.get(effect.incident_id))

        async def save(current: Ledger, incident_id: str = effect.incident_id) -> None:
            # On the broker before the peer is called (in flight) and as soon as it answered.
            await durable.store(responded, incident_id, current.dump())

        result = await carry_out(responder, effect, ledger, save, at=(msg.topic, msg.partition, msg.offset))
        if result is None:
            log.info("effect_already_carried_out", **msg.position, effect_id=effect.effect_id)
            return
        for key in result.possibly_sent:
            log.warning("delivery_possibly_sent", **msg.position, incident_id=effect.incident_id,
                        effect_id=effect.effect_id, key=key)
        for entry in result.timeline:
            await timeline.send(key=entry.incident_id, value=entry.to_json())
        for command in result.commands:
            await commands.send(key=command.incident_id, value=command.to_json())
        finish(responder, effect, ledger, result)
        responded[effect.incident_id] = ledger.dump()
        log.info("effect_carried_out" if not result.failed else "effect_failed", **msg.position,
                 incident_id=effect.incident_id, effect_id=effect.effect_id, kind=effect.kind)

    delivering = asyncio.Lock()  # the agent and `resume_cut_off` carry out one effect at a time

    @app.agent(effects, name="respond")
    async def respond(stream: faust.StreamT) -> None:
        """Effects → deliveries, each once (the ledger), none skipped (the gap guard)."""
        async for event in stream.events():
            for msg in await effect_gaps.complete([_message(event)]):
                async with delivering:
                    await deliver(msg)

    resume_due = False  # set by an assignment: look for sends a crash cut off
    refetch_effect = BrokerRefetch(settings.broker_servers)

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: Any, **_: Any) -> None:
        nonlocal resume_due
        resume_due = True

    @app.timer(interval=1.0)
    async def resume_cut_off() -> None:
        """Effects with a send a crash left in flight, read again from the effects topic once the
        tables are back. Faust may skip the last messages of a partition when a worker starts, and
        such an effect is nearly always the last: waiting for its redelivery could wait forever."""
        nonlocal resume_due
        if not resume_due or app.rebalancing or app.in_recovery or not app.tables.recovery.completed.is_set():
            return
        resume_due = False
        assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        for topic, partition, offset in cut_off_effects(responded.items()):
            if (topic, partition) not in assigned:
                continue  # another worker's (a standby copy of its ledger)
            try:
                found = [m for m in await refetch_effect(Gap(topic, partition, offset, offset)) if m.offset == offset]
                if not found:
                    log.error("cut_off_effect_unreadable", topic=topic, partition=partition, offset=offset)
                    continue
                log.info("cut_off_effect_read_again", topic=topic, partition=partition, offset=offset)
                async with delivering:  # a redelivery handled meanwhile leaves it finished: then a no-op
                    await deliver(found[0])
            except Exception:  # noqa: BLE001 - keep the timer alive; a redelivery may still bring it
                log.exception("cut_off_effect_not_resumed", topic=topic, partition=partition, offset=offset)

    @app.timer(interval=1.0)
    async def deliver_deadlines() -> None:
        """The clock: scheduled deadlines whose time has come go to the playbook as events."""
        now = time.time()
        for incident_id, raw in list(playbook_state.items()):
            for deadline in due(raw, now):
                if deadline.deadline_id not in fired:
                    fired.add(deadline.deadline_id)
                    log.info("deadline_passed", incident_id=incident_id, name=deadline.name,
                             deadline_id=deadline.deadline_id)
                    await deadlines.send(key=incident_id, value=deadline.to_json())

    return Pipeline(app=app, detect=detect, playbook=playbook, respond=respond, detections=detections,
                    commands=commands, deadlines=deadlines, effects=effects,
                    incidents=incidents, timeline=timeline, deadletters=deadletters,
                    detector_state=detector_state, playbook_state=playbook_state,
                    responder_state=responded)
