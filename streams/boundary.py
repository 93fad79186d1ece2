"""What crosses an agent's edge: the messages a stage asks it to publish, and the ones it cannot
handle. While a message is handled its position is bound to the log context; a message that
cannot be handled is logged and sent to the dead letters.

Faust acks a message even when its agent raises, and restarts the agent: raising would lose the
message in silence. No Faust here; the dead-letter topic is anything with an async `send`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import structlog

from streams.stage import Message, dead_letter
from vocabulary.metrics import DEADLETTERS, EVENTS, deadletter_reason
from vocabulary.records import DeadLetter

log = structlog.get_logger(__name__)


class Sends(Protocol):
    async def send(self, *, key: Any, value: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message a stage asks its agent to publish; `topic` is its role (`effects`, `timeline`, …)."""

    topic: str
    key: str
    value: bytes


class Rejected(Exception):
    """Input a stage cannot use. Its text is the dead letter's reason; `event` the log line's name."""

    def __init__(self, reason: str, event: str = "input_rejected") -> None:
        super().__init__(reason)
        self.event = event


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def key_text(key: bytes | str | None) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else (key or "")


class DeadLetters:
    """Sends dead letters to their topic, each logged with where its message was."""

    def __init__(self, topic: Sends) -> None:
        self.topic = topic  # read at each send: tests replace the topic's `send`
        self.unsent = 0  # letters the producer refused (each logged once)

    async def send(self, letters: Iterable[DeadLetter]) -> None:
        """Each letter is bounded (`DeadLetter.of`); if even so it cannot be sent, say so once and go on:
        raising here would restart the agent and lose the batch around the message."""
        for letter in letters:
            DEADLETTERS.labels(deadletter_reason(letter.reason)).inc()
            log.warning("event_dead_lettered", topic=letter.topic, partition=letter.partition,
                        offset=letter.offset, reason=letter.reason, size=letter.size,
                        sha256=letter.sha256, truncated=letter.truncated)
            try:
                await self.topic.send(key=letter.key or "", value=letter.to_json())
            except Exception as exc:  # noqa: BLE001 - the boundary: keep the stream alive
                self.unsent += 1
                log.error("dead_letter_send_failed", topic=letter.topic, partition=letter.partition,
                          offset=letter.offset, reason=letter.reason, sha256=letter.sha256,
                          error=f"{type(exc).__name__}: {exc}", unsent_total=self.unsent)


@asynccontextmanager
async def handling(messages: Sequence[Message], letters: DeadLetters, agent: str,
                   **context: Any) -> AsyncIterator[None]:
    """Handle one message (or one batch): its position and `context` on every log line meanwhile;
    whatever is raised is logged and the messages dead-lettered, so the stream goes on."""
    first, last = messages[0], messages[-1]
    where = first.position if len(messages) == 1 else {
        "topic": first.topic, "partition": first.partition, "offset": first.offset, "last_offset": last.offset}
    with structlog.contextvars.bound_contextvars(**where, **context):
        try:
            yield
        except Rejected as exc:
            log.exception(exc.event, reason=str(exc))
            _count_input(agent, messages)
            await letters.send([dead_letter(msg, str(exc), utc_now()) for msg in messages])
        except Exception as exc:  # noqa: BLE001 - the boundary: keep the stream alive
            log.exception("message_failed", agent=agent)
            _count_input(agent, messages)
            reason = f"{agent} failed: {type(exc).__name__}: {exc}"
            await letters.send([dead_letter(msg, reason, utc_now()) for msg in messages])


def _count_input(agent: str, messages: Sequence[Message]) -> None:
    """Input events of the detect stage that a failure dead-lettered (the stage counts the others)."""
    if agent == "detect":
        for msg in messages:
            EVENTS.labels(msg.topic, "dead_lettered").inc()
