"""Who the watchdog tells, and the telling: straight from this process through the responders'
own adapters (chat, webhook, e-mail), never through Kafka — it must still reach people when the
worker or the broker is dead.

Recipients: the on-call roster's level 1 (当番) and the 広報課 (role `pr`) of every profile, plus
NOROSHI_WATCHDOG_CONTACTS; each contact address (`email:…`, `slack:…`, `webhook:…`, `teams:…`,
`lineworks:…`, as in a roster) is one recipient, the same address once however many name it. Every
address is sent to: a watchdog alert is worth a second channel. Each send is retried with the
responders' backoff (`responders.reliability.attempt_delivery`), and each recipient's outcome is
recorded in the notification log; a failure is logged once, when its retries are spent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from lookout.alerts import Notification
from playbooks.policy import LEVEL_OPERATOR, RosterError, roster_from_profile
from responders.chat import ChatMessage
from responders.email import EmailMessageSpec
from responders.reliability import CircuitBreaker, RetryPolicy, attempt_delivery
from responders.responder import CHAT_KINDS, Channels
from vocabulary.metrics import WATCHDOG_NOTIFICATIONS

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recipient:
    contact: str  # kind:address
    who: str  # the names it stands for (for the log)


def recipients(profiles: Mapping[str, Mapping[str, Any]], extra: Iterable[str] = ()) -> list[Recipient]:
    """The on-call operators (level 1) and 広報課 of every profile, then `extra`; one per address.
    A contact with no channel is reached on the board only: it is logged, not an error."""
    found: dict[str, list[str]] = {}
    for muni, raw in sorted(profiles.items()):
        try:
            roster = roster_from_profile(dict(raw))
        except RosterError as exc:
            log.error("watchdog_roster_unreadable", municipality=muni, error=str(exc))
            continue
        for contact in (*roster.at_level(LEVEL_OPERATOR), *roster.with_role("pr")):
            if not contact.channels:
                log.info("watchdog_contact_without_channel", municipality=muni, contact=contact.name)
            for address in contact.channels:
                names = found.setdefault(address.strip(), [])
                if f"{muni}:{contact.name}" not in names:
                    names.append(f"{muni}:{contact.name}")
    for address in extra:
        found.setdefault(address.strip(), []).append("NOROSHI_WATCHDOG_CONTACTS")
    return [Recipient(address, ", ".join(names)) for address, names in found.items()]


class Sender:
    """Sends one notification to every recipient at once; the outcome of each."""

    def __init__(self, channels: Channels, to: list[Recipient], *, board_url: str,
                 policy: RetryPolicy | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, rng: random.Random | None = None) -> None:
        self.channels, self.to, self.board_url = channels, to, board_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.clock, self.sleep, self.rng = clock, sleep, rng or random.Random()
        self.breakers: dict[str, CircuitBreaker] = {}

    def unroutable(self) -> list[tuple[str, str]]:
        """The recipients no configured channel can reach, and why (said once at start)."""
        probe = Notification(0, 0.0, "alert", (), "確認", "check", "")
        found = []
        for r in self.to:
            kind, _, target = r.contact.partition(":")
            try:
                self._route(probe, kind, target.strip())
            except (LookupError, ValueError) as exc:
                found.append((r.contact, str(exc)))
        return found

    async def send(self, n: Notification) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self._one(n, r) for r in self.to)))

    async def _one(self, n: Notification, r: Recipient) -> dict[str, Any]:
        kind, _, target = r.contact.partition(":")
        try:
            channel, message = self._route(n, kind, target.strip())
        except (LookupError, ValueError) as exc:
            return self._outcome(n, r, False, str(exc), "config")
        outcome = await attempt_delivery(
            channel.name, lambda: channel.send(message, key=f"{n.key}:{r.contact}"), policy=self.policy,
            breaker=self.breakers.setdefault(r.contact, CircuitBreaker()), clock=self.clock, sleep=self.sleep,
            rng=self.rng)
        return self._outcome(n, r, outcome.ok, outcome.error, outcome.code)

    def _route(self, n: Notification, kind: str, target: str) -> tuple[Any, Any]:
        link = f"{self.board_url}/system"
        if kind == "email":
            if self.channels.email is None:
                raise LookupError("e-mail is not configured (NOROSHI_SMTP_URL) / メール送信が設定されていません")
            subject = f"{n.title_ja} / {n.title_en}"[:200]
            return self.channels.email, EmailMessageSpec(to=[target], subject=subject, text=n.text, link=link)
        if kind in CHAT_KINDS:
            channel = self.channels.chat_for(kind, target)
            if channel is None:
                raise LookupError(f"chat channel {kind!r} is not configured / チャット {kind} が設定されていません")
            return channel, ChatMessage(title=n.title_ja, text=n.text,
                                        severity="low" if n.kind == "resolved" else "critical", link=link,
                                        facts=[("種別 / Kind", {"alert": "異常 / alert", "repeat": "継続 / repeat",
                                                                "resolved": "復旧 / resolved"}[n.kind])])
        raise LookupError(f"unknown contact kind {kind!r} / 不明な連絡手段です")

    def _outcome(self, n: Notification, r: Recipient, ok: bool, error: str | None, code: str | None) -> dict[str, Any]:
        WATCHDOG_NOTIFICATIONS.labels(n.kind, "delivered" if ok else "failed").inc()
        if ok:
            log.info("watchdog_notification_delivered", number=n.number, kind=n.kind, contact=r.contact)
        else:
            log.warning("watchdog_notification_failed", number=n.number, kind=n.kind, contact=r.contact, who=r.who,
                        error=error, code=code)
        return {"contact": r.contact, "outcome": "delivered" if ok else "failed", "error": None if ok else error}
