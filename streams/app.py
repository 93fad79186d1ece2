"""The Faust application: topics, tables, and the thin agents and timers that connect them.

Each agent decodes, calls its stage and sends what the stage returned; the stages hold the logic
and no Faust (`streams.stage` detects, `streams.playbook_stage` plays, `streams.respond_stage`
carries out, `streams.clock` says which deadlines are due). Every message is handled inside
`streams.boundary.handling`: its position is bound to the log context, and a message that cannot
be handled is logged and dead-lettered. `create_app` only wires topics, tables, stages and agents.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
import structlog
from faust.serializers import codecs
from structlog.contextvars import bound_contextvars

from playbooks.engine import default_rules
from responders.config import responder_for
from streams import durable, heartbeat, hotpath, tansu
from streams.boundary import DeadLetters, Outgoing, handling, key_text, utc_now
from streams.clock import DeadlineClock
from streams.gaps import BrokerRefetch, Gap, GapFiller
from streams.lineage import BrokerProbe, LineageGuard, loss_letter
from streams.playbook_stage import PlaybookStage
from streams.respond_stage import RespondStage
from streams.stage import CheckpointPolicy, DetectionStage, Message, replay_starts
from vocabulary.contract import Profile
from vocabulary.records import BROKER_LOG_LOST, DeadLetter
from vocabulary.metrics import DETECTION_EVENT_LATENCY, DETECTION_LATENCY, INCIDENTS_OPENED, REPLAYED, word
from vocabulary.settings import Settings
from vocabulary.topics import CHANGELOG_POLICY, TopicNames

log = structlog.get_logger(__name__)

#: Events per detector batch.
BATCH_MAX = 1000
#: Input messages read again at a time when a partition is caught up after an assignment, and the
#: tries before what cannot be read is reported (1, 2, 4, 8 s between them).
REPLAY_CHUNK = 5000
REPLAY_ATTEMPTS = 5
BATCH_WITHIN_S = 0.2
#: Events a stream may hold before its partitions' fetching pauses; bytes a fetch may return per partition.
STREAM_BUFFER = 16_384
FETCH_BYTES = 4 * 1024 * 1024
#: The topics the agents send to, by the role name stages use in `Outgoing.topic`.
OUTPUTS = ("detections", "commands", "deadlines", "effects", "incidents", "timeline", "deadletters", "heartbeats")


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
class Shell:
    """One app's topics, tables, stages and guards: everything its agents and timers use."""

    app: faust.App
    topics: dict[str, faust.types.TopicT]  # by role, see OUTPUTS
    detector_state: faust.types.TableT
    playbook_state: faust.types.TableT
    responder_state: faust.types.TableT
    detection: DetectionStage
    playbooks: PlaybookStage
    responding: RespondStage
    clock: DeadlineClock
    letters: DeadLetters
    lineage: LineageGuard
    # Every agent's input: no topic of ours is compacted, so a hole in a partition's offsets is a
    # message the stream skipped (streams/gaps.py); offsets that go back are checked against the
    # broker's log before anything is skipped (streams/lineage.py).
    guards: dict[str, GapFiller]
    delivering: asyncio.Lock  # the respond agent and `resume_cut_off` carry out one effect at a time
    # Detection: a checkpoint is written only between batches (outputs before state), and the input
    # since the checkpoints is replayed once per partition after an assignment (`catch_up`).
    detecting: asyncio.Lock
    replayer: BrokerRefetch
    caught_up: set[tuple[str, int]]


@dataclass(frozen=True)
class Pipeline:
    """The app and the parts tests and start-up need to reach."""

    app: faust.App
    shell: Shell
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
    heartbeats: faust.types.TopicT
    detector_state: faust.types.TableT
    playbook_state: faust.types.TableT
    responder_state: faust.types.TableT


# --- the shell's steps, each around a stage ------------------------------------------------


async def publish(shell: Shell, outputs: Iterable[Outgoing]) -> None:
    for out in outputs:
        await shell.topics[out.topic].send(key=out.key, value=out.value)


async def complete(shell: Shell, agent: str, messages: list[Message]) -> list[Message]:
    """`messages` with any the stream skipped before them put back (streams/gaps.py)."""
    try:
        return await shell.guards[agent].complete(messages)
    except Exception:  # noqa: BLE001 - the boundary: the messages in hand are still handled
        log.exception("input_gap_check_failed", agent=agent, **messages[-1].position)
        return messages


async def arrivals(shell: Shell, stream: faust.StreamT, agent: str) -> AsyncIterator[Message]:
    """The stream's messages one by one, none skipped."""
    async for event in stream.events():
        for msg in await complete(shell, agent, [_message(event)]):
            yield msg


async def apply_detections(shell: Shell, muni: str, messages: list[Message], replaying: bool = False) -> None:
    """One municipality's messages of a batch → detections, then its checkpoint if one is due."""
    stage, stored = shell.detection, shell.detector_state.get(muni)
    lost = await shell.lineage.lost(stage.applied(muni, stored, messages), municipality=muni)
    # Arrival is this worker's clock now: the Kafka timestamp is the event's own time (the producer's).
    out = stage.process(muni, stored, messages, utc_now(), lost, arrived=time.time(), replaying=replaying)
    # Outputs before state (see streams/playbook_stage.py): the playbook ignores a repeated detection.
    await shell.letters.send(out.dead_letters)
    for found, msg in out.detections:
        log.info("incident_detected", **msg.position, incident_id=found.incident_id,
                 change=found.change, type=found.type, severity=found.severity, replayed=replaying)
        if found.change == "opened" and not replaying:
            INCIDENTS_OPENED.labels(word(found.type)).inc()
        await shell.topics["detections"].send(key=found.incident_id, value=found.to_json())
    for key, beat, _ in out.heartbeats:
        await shell.topics["detections"].send(key=key, value=beat)
    if out.state is not None:
        shell.detector_state[muni] = out.state


async def detect_batch(shell: Shell, messages: list[Message], replaying: bool = False) -> None:
    """A batch of input messages → detections per municipality, then the checkpoints that fell due."""
    groups, rejected = shell.detection.group(messages, utc_now())
    await shell.letters.send(rejected)
    for muni, group in groups.items():
        async with handling(group, shell.letters, "detect", municipality=muni):
            await apply_detections(shell, muni, group, replaying)
    await write_checkpoints(shell, shell.detection.due(time.time()), messages[-1])


async def write_checkpoints(shell: Shell, munis: Iterable[str], last: Message | None = None,
                            wait: bool = False) -> None:
    """The states held for `munis` to the table; `wait`: until the broker has them (a rebalance)."""
    stage = shell.detection
    for muni in munis:
        letters: list[Any] = []
        position = last or Message(topic="", partition=-1, offset=-1, key=muni.encode(), value=None)
        state = stage.checkpoint(muni, position, utc_now(), letters)
        await shell.letters.send(letters)
        if wait:
            await durable.store(shell.detector_state, muni, state)
        else:
            shell.detector_state[muni] = state


async def catch_up(shell: Shell, messages: list[Message]) -> None:
    """Once per partition after an assignment: the input between the checkpoints in the table and the
    first message the stream delivers, read again from the broker and applied before it (what a
    killed worker applied and never wrote). What a checkpoint already holds is skipped by offset."""
    firsts: dict[tuple[str, int], int] = {}
    for msg in messages:
        where = (msg.topic, msg.partition)
        if where not in shell.caught_up and where not in firsts:
            firsts[where] = msg.offset
    if not firsts:
        return
    starts = replay_starts(shell.detector_state.values())
    for (topic, partition), first in firsts.items():
        start = starts.get(f"{topic}:{partition}")
        if start is not None and start < first:
            log.info("detector_replay_started", topic=topic, partition=partition, first=start, last=first - 1)
            replayed = 0
            for chunk_start in range(start, first, REPLAY_CHUNK):
                chunk = await read_again(shell, Gap(topic, partition, chunk_start,
                                                    min(chunk_start + REPLAY_CHUNK, first) - 1))
                if chunk:
                    await detect_batch(shell, chunk, replaying=True)
                    replayed += len(chunk)
            REPLAYED.inc(replayed)
            log.info("detector_replay_finished", topic=topic, partition=partition, messages=replayed,
                     expected=first - start)
        shell.caught_up.add((topic, partition))


async def read_again(shell: Shell, gap: Gap) -> list[Message]:
    """The messages of `gap` from the broker, tried REPLAY_ATTEMPTS times with backoff. What it still
    cannot read (the broker no longer holds it: retention, a lost log) is logged once as an error and
    sent as a dead letter naming the range, so that the board shows it and the watchdog counts it;
    detection goes on with the rest."""
    chunk: list[Message] = []
    for attempt in range(REPLAY_ATTEMPTS):
        try:
            chunk = await shell.replayer(gap)
        except Exception:  # noqa: BLE001 - retried, then reported below
            log.warning("detector_replay_read_failed", topic=gap.topic, partition=gap.partition,
                        first=gap.first, last=gap.last, attempt=attempt + 1, exc_info=attempt == 0)
        if len(chunk) >= gap.size:
            return chunk
        await asyncio.sleep(min(8.0, 2.0 ** attempt))
    got = len(chunk)
    log.error("detector_replay_incomplete", topic=gap.topic, partition=gap.partition, first=gap.first,
              last=gap.last, expected=gap.size, read=got)
    await shell.letters.send([DeadLetter.of(
        reason=f"{BROKER_LOG_LOST}: 再起動後の再処理で {gap.size - got} 件を読めませんでした（保持期間切れまたは"
               f"ブローカーのデータ消失）。検知の状態にはその分が欠けています / after a restart, {gap.size - got} of "
               f"{gap.size} messages could not be read again (past retention, or the broker lost them); "
               f"the detector state lacks them",
        topic=gap.topic, partition=gap.partition, offset=gap.first, key=None, raw=None, failed_at=utc_now())])
    return chunk


async def deliver(shell: Shell, msg: Message) -> None:
    """One effect → its delivery; its timeline entries and any failure report, then the ledger."""
    delivery = await shell.responding.carry_out(msg)
    if delivery is not None:
        await publish(shell, delivery.outputs)
        shell.responding.finish(delivery)


def observe_latency(events: Iterable[faust.EventT]) -> None:
    """Each message's time from its arrival at this worker (Faust's `time_in`, monotonic) and from its
    event time (the Kafka timestamp sources set to the event's own time) to the end of detection."""
    now, wall = time.monotonic(), time.time()
    for event in events:
        message = event.message
        if message.time_in is not None:
            DETECTION_LATENCY.observe(max(0.0, now - message.time_in))
        if message.timestamp:
            DETECTION_EVENT_LATENCY.observe(max(0.0, wall - message.timestamp))


# --- agents and timers -----------------------------------------------------------------------


async def detect(shell: Shell, stream: faust.StreamT) -> None:
    """Contract events → detections; the state is held in memory and checkpointed now and then."""
    async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
        async with shell.detecting:
            messages = await complete(shell, "detect", [_message(e) for e in events])
            await catch_up(shell, messages)
            await detect_batch(shell, messages)
        observe_latency(events)


async def playbook(shell: Shell, stream: faust.StreamT) -> None:
    """Detections, board commands and deadlines → the incident's playbook step."""
    async for msg in arrivals(shell, stream, "playbook"):
        async with handling([msg], shell.letters, "playbook", incident_id=key_text(msg.key)):
            step = shell.playbooks.play(msg, shell.playbook_state)
            await publish(shell, step.outputs)
            if step.state is not None:  # None: a heartbeat, no incident
                shell.playbook_state[step.incident_id] = step.state
            step.log_outcome()


async def respond(shell: Shell, stream: faust.StreamT) -> None:
    """Effects → deliveries, each once (the ledger), none skipped (the gap guard)."""
    async for msg in arrivals(shell, stream, "respond"):
        async with shell.delivering, handling([msg], shell.letters, "respond", incident_id=key_text(msg.key)):
            await deliver(shell, msg)


async def deliver_deadlines(shell: Shell) -> None:
    """The clock: scheduled deadlines whose time has come go to the playbook as events."""
    for incident_id, deadline in shell.clock.due(shell.playbook_state.items(), time.time()):
        with bound_contextvars(incident_id=incident_id):
            try:
                log.info("deadline_passed", incident_id=incident_id, name=deadline.name,
                         deadline_id=deadline.deadline_id)
                await shell.topics["deadlines"].send(key=incident_id, value=deadline.to_json())
                shell.clock.delivered(incident_id, deadline)
            except Exception:  # noqa: BLE001 - keep the timer alive: the next tick tries again
                log.exception("deadline_not_sent", deadline_id=deadline.deadline_id)


async def send_heartbeats(beats: faust.types.TopicT, targets: dict[int, str]) -> None:
    """The heartbeat: one per input partition in use onto the mentions topic (streams/heartbeat.py)."""
    now = time.time()
    for partition, muni in targets.items():
        try:
            await beats.send(key=muni, partition=partition,
                             value=heartbeat.beat(partition, muni, int(now * 1000), utc_now()))
        except Exception:  # noqa: BLE001 - keep the timer alive: the board shows the heartbeat late
            log.exception("heartbeat_not_sent", partition=partition, municipality=muni)


async def resume_cut_off(shell: Shell) -> None:
    """Effects with a send a crash left in flight, carried out again once the tables are back."""
    app = shell.app
    if not shell.responding.resume_due or app.rebalancing or app.in_recovery \
            or not app.tables.recovery.completed.is_set():
        return
    assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
    async for msg in shell.responding.read_cut_off_again(assigned):
        with bound_contextvars(**msg.position, incident_id=key_text(msg.key)):
            try:
                async with shell.delivering:  # a redelivery handled meanwhile leaves it finished: then a no-op
                    await deliver(shell, msg)
            except Exception:  # noqa: BLE001 - keep the timer alive; a redelivery may still bring it
                log.exception("cut_off_effect_not_resumed", **msg.position)


async def forget_positions(shell: Shell, sender: Any, revoked: Any, **_: Any) -> None:
    for guard in shell.guards.values():
        guard.forget()  # the streams start again from the committed offsets
    await flush_checkpoints(shell, "partitions_revoked")
    shell.caught_up.clear()  # a partition assigned again may hold checkpoints written elsewhere


async def flush_checkpoints(shell: Shell, why: str, *_: Any, **__: Any) -> None:
    """Every state held in memory to the table before partitions move or the worker stops, so that
    whoever takes them next needs no replay (a worker killed without this is caught up by `catch_up`)."""
    async with shell.detecting:
        dirty = shell.detection.dirty()
        try:
            await write_checkpoints(shell, dirty, wait=True)
        except Exception:  # noqa: BLE001 - the next owner replays what was not written
            log.exception("detector_checkpoints_not_written", why=why, municipalities=len(dirty))
        else:
            log.info("detector_checkpoints_written", why=why, municipalities=len(dirty))


async def look_for_cut_off_sends(shell: Shell, sender: Any, assigned: Any, **_: Any) -> None:
    shell.responding.partitions_assigned()


# --- wiring ----------------------------------------------------------------------------------


def _faust_app(settings: Settings) -> faust.App:
    # Both transports are Faust's aiokafka one with the direct drain (streams/hotpath.py); Tansu's also
    # corrects the end offsets it reports wrong (streams/tansu.py).
    if settings.broker_is_tansu:
        tansu.register()
        broker = f"{tansu.SCHEME}://{settings.broker_servers}"
    else:
        hotpath.register()
        broker = f"{hotpath.SCHEME}://{settings.broker_servers}"
    return hotpath.App(
        settings.worker_id, broker=broker, store="memory://", autodiscover=False, web_enabled=False,
        datadir=str(settings.data_dir / settings.worker_id), topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication, consumer_auto_offset_reset="earliest",
        producer_acks=-1, key_serializer="str", value_serializer="raw", Table=StrKeyTable,
        # A deeper stream buffer and larger fetches: with Faust's defaults (4,096 events, 1 MiB) the
        # fetcher pauses the partition each time the buffer is three quarters full and the stream
        # waits for the next fetch; measured 6.6k → 10.4k events/s draining a backlog (bench/pipeline.py).
        stream_buffer_maxsize=STREAM_BUFFER, consumer_max_fetch_size=FETCH_BYTES,
        **_group_timeouts(settings))


def _shell(app: faust.App, settings: Settings, profiles: dict[str, Profile]) -> Shell:
    names = TopicNames(settings.topic_prefix)
    topics = {role: app.topic(getattr(names, role), key_serializer="str", value_serializer="raw")
              for role in OUTPUTS}
    # Faust compacts changelogs by default; the policy says so explicitly (vocabulary.topics).
    table = {"key_type": str, "value_type": bytes, "use_partitioner": True, "partitions": settings.partitions,
             "extra_topic_configs": CHANGELOG_POLICY.as_dict()}
    detector_state, playbook_state, responded = (app.Table(name, **table)
                                                 for name in ("detector-state", "playbooks", "responders"))
    letters = DeadLetters(topics["deadletters"])
    lineage = LineageGuard(BrokerProbe(settings.broker_servers),
                           notify=lambda applied, why: letters.send([loss_letter(applied, why, utc_now())]))
    responding = RespondStage(responder_for(settings, profiles), durable.TableLedgers(responded),
                              BrokerRefetch(settings.broker_servers))
    return Shell(
        app=app, topics=topics, detector_state=detector_state, playbook_state=playbook_state,
        responder_state=responded, detection=DetectionStage(profiles, CheckpointPolicy(
            bytes_per_event=settings.checkpoint_bytes_per_event, max_age_s=settings.checkpoint_max_age_s,
            replay_max=settings.checkpoint_replay_max)),
        playbooks=PlaybookStage(profiles, default_rules()), responding=responding, clock=DeadlineClock(),
        letters=letters, lineage=lineage, delivering=asyncio.Lock(), detecting=asyncio.Lock(),
        replayer=BrokerRefetch(settings.broker_servers, timeout=60.0), caught_up=set(),
        guards={name: GapFiller(BrokerRefetch(settings.broker_servers), lineage, name)
                for name in ("detect", "playbook", "respond")})


def create_app(settings: Settings, profiles: dict[str, Profile]) -> Pipeline:
    app = _faust_app(settings)
    shell = _shell(app, settings, profiles)
    names = TopicNames(settings.topic_prefix)
    inputs = app.topic(*names.inputs, key_serializer="raw", value_serializer="raw")
    inbox = app.topic(names.detections, names.commands, names.deadlines, key_serializer="str",
                      value_serializer="raw")
    agents = {name: app.agent(topic, name=name)(partial(fun, shell))
              for name, topic, fun in (("detect", inputs, detect), ("playbook", inbox, playbook),
                                       ("respond", shell.topics["effects"], respond))}
    for timer in (resume_cut_off, deliver_deadlines):
        app.timer(interval=1.0, name=timer.__name__)(partial(timer, shell))
    beats = app.topic(names.mentions, key_serializer="str", value_serializer="raw")
    app.timer(interval=settings.heartbeat_interval_s, name="send_heartbeats")(
        partial(send_heartbeats, beats, heartbeat.targets(profiles, settings.partitions)))
    app.on_partitions_revoked.connect(partial(forget_positions, shell))
    app.on_partitions_assigned.connect(partial(look_for_cut_off_sends, shell))
    app.on_before_shutdown.connect(partial(flush_checkpoints, shell, "shutdown"))
    return Pipeline(app=app, shell=shell, **agents, **shell.topics, detector_state=shell.detector_state,
                    playbook_state=shell.playbook_state, responder_state=shell.responder_state)
