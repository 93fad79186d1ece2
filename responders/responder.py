"""Carry out a playbook's effects: one table from effect type to what the responders do.

`Responder.carry_out(effect)` turns an effect into deliveries (an e-mail, a chat message,
a post, a website notice, a press release), sends each with retries and a circuit
breaker per channel, and returns what the shell must publish: a timeline entry for
every attempt, success and failure, and a `channel_failed` command for the playbook
when an effect could not be carried out, which the playbook answers by trying once
more and then telling a person through another channel. Nothing is dropped silently.

Exactly once: each delivery has a key (`effect_id` + what it sends + to whom). The
shell passes in the keys already delivered (kept in a table with the offsets) and
records each new one as soon as it succeeds, so a redelivered effect sends only what
had not gone out; the adapters also hand the key to peers that have idempotency.

A crash during a send: the shell records each key as in flight before calling the peer
(`on_started`) and passes those marks back in after a restart (`in_flight`). A key in
flight is sent again, with the same key, only through a channel whose peer still
recognises it (`responders.base.dedup_window`); through any other it is not sent again
but reported as possibly sent (送信済みの可能性): a timeline entry and a
`delivery_possibly_sent` command, so that a person checks and decides.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog

from playbooks.engine import TYPE_LABELS
from responders.base import ALWAYS, Permanent, Receipt, dedup_window
from responders.chat import ChatMessage
from responders.email import EmailMessageSpec
from responders.holds import HeldError, Holds, OutboundPost, account_key
from responders.press import PressReleaseError, press_release
from responders.reliability import Attempt, CircuitBreaker, Outcome, RetryPolicy, attempt_delivery
from responders.templating import TemplateProblem, Templates
from vocabulary.commands import ChannelFailed, DeliveryPossiblySent
from vocabulary.effects import (
    EFFECT_TYPES, DisasterMode, HoldReplies, Notify, NotifyPress, PostStatement, PublishNotice, QueueRescue,
    ReleaseHold, RequestTakedown, TypedEffect, effect_from,
)
from vocabulary.metrics import DELIVERIES, word
from vocabulary.records import JST, BoardCommand, Effect, TimelineEntry
from vocabulary.terms import DRILL_LABEL, SEVERITIES
from vocabulary.typed import present

log = structlog.get_logger(__name__)

Send = Callable[[], Awaitable[Receipt]]
RESPONDER = {"kind": "responder", "name": "noroshi"}
CHAT_KINDS = ("slack", "teams", "lineworks", "webhook")


class Channel:  # the protocol every adapter meets (see responders.base)
    name: str

    async def send(self, message: Any, *, key: str) -> Receipt:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass
class Channels:
    """The configured adapters. A missing one is reported as a failure, never skipped."""

    email: Channel | None = None
    chat: Mapping[str, Channel] = field(default_factory=dict)  # slack, teams, lineworks, webhook
    posts: Mapping[str, Channel] = field(default_factory=dict)  # account_key → channel
    dry_run_posts: Callable[[str], Channel] | None = None  # platform → a recording channel
    notice: Channel | None = None
    press_to: tuple[str, ...] = ()
    lineworks: Callable[[str], Channel] | None = None  # a contact's `lineworks:` target → its channel
    _lineworks: dict[str, Channel] = field(default_factory=dict, repr=False)

    def chat_for(self, kind: str, target: str) -> Channel | None:
        """The chat channel for a contact's `kind:target` (LINE WORKS: one per member or room, kept)."""
        if kind == "lineworks" and self.lineworks is not None:
            if target not in self._lineworks:
                self._lineworks[target] = self.lineworks(target)
            return self._lineworks[target]
        return self.chat.get(kind)


@dataclass(frozen=True)
class Job:
    """One delivery: its idempotency key, the channel, the message, and whom it reaches."""

    key: str
    channel: Channel
    message: Any
    group: str  # notifications: one person; any of their channels reaching them is enough
    what: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    timeline: list[TimelineEntry] = field(default_factory=list)
    commands: list[BoardCommand] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)  # job keys that went out in this call
    possibly_sent: list[str] = field(default_factory=list)  # keys cut off by a crash, not resent
    failed: bool = False


class Unroutable(Exception):
    """An effect that cannot be turned into a delivery (nothing configured, bad text)."""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, JST).isoformat(timespec="seconds")


class Responder:
    def __init__(self, channels: Channels, *, profiles: Mapping[str, Mapping[str, Any]], board_url: str,
                 holds: Holds | None = None, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 rng: random.Random | None = None, templates: Templates | None = None) -> None:
        import asyncio

        self.channels = channels
        self.profiles = profiles
        self.board_url = board_url.rstrip("/")
        self.holds = holds if holds is not None else Holds()
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.sleep = sleep or asyncio.sleep
        self.rng = rng or random.Random()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.templates = templates or Templates()  # the 報道提供's 様式, a city's own where it has them

    # --- the shell's entry point ------------------------------------------------------------

    async def carry_out(self, effect: Effect, *, already: frozenset[str] = frozenset(),
                        on_delivered: Callable[[str], Awaitable[None]] | None = None,
                        in_flight: Mapping[str, float] | None = None,
                        on_started: Callable[[str, str], Awaitable[None]] | None = None,
                        on_given_up: Callable[[str], Awaitable[None]] | None = None) -> Result:
        """Carry `effect` out. `already`: keys delivered before; `in_flight`: keys whose send
        was started (at that Unix time) by a process that died before it ended. The hooks are
        awaited before each send (`on_started(key, channel)`), after it succeeded
        (`on_delivered(key)`) and after it failed for good (`on_given_up(key)`)."""
        result = Result()
        in_flight = in_flight or {}
        try:
            order = effect_from(effect)  # an unknown kind or a missing field: MalformedPayload, named
            jobs = HANDLERS[type(order)](self, effect, order, result)
        except (Unroutable, HeldError, PressReleaseError, TemplateProblem, ValueError) as exc:
            self._fail(result, effect, "responder", str(exc), code="config")
            return result
        groups: dict[str, bool] = {}
        failures: list[tuple[Job, Outcome]] = []
        for job in jobs:
            if job.key in already:
                groups[job.group] = True
                self._entry(result, effect, "delivery_skipped", job.channel.name,
                            {"key": job.key, "why": "already delivered", **job.what})
                continue
            started = in_flight.get(job.key)
            if started is not None:
                window = dedup_window(job.channel)  # a clock that went back counts as outside it
                if not (window == ALWAYS or 0 <= self.clock() - started < window):
                    groups[job.group] = True  # it most likely arrived; a person checks (no resend)
                    self._possibly_sent(result, effect, job, started)
                    continue
                self._entry(result, effect, "delivery_resumed", job.channel.name,
                            {"key": job.key, "started_at": _iso(started), **job.what,
                             "why": "前回の送信が中断されたため、同じキーで再送します（相手側で重複は除かれます）"
                                    " / cut off by a restart: sent again with the same key, which the peer"
                                    " recognises"})
            if on_started is not None:
                await on_started(job.key, job.channel.name)
            outcome = await attempt_delivery(
                job.channel.name, lambda job=job: job.channel.send(job.message, key=job.key),
                policy=self.policy, breaker=self.breakers.setdefault(job.channel.name, CircuitBreaker()),
                clock=self.clock, sleep=self.sleep, rng=self.rng)
            for attempt in outcome.attempts:
                self._attempt(result, effect, job, attempt)
            DELIVERIES.labels(word(job.channel.name), "delivered" if outcome.ok else "failed",
                              "none" if outcome.ok else word(outcome.code, "other")).inc()
            if outcome.ok:
                groups[job.group] = True
                result.delivered.append(job.key)
                if on_delivered is not None:
                    await on_delivered(job.key)
            else:
                if on_given_up is not None:
                    await on_given_up(job.key)
                groups.setdefault(job.group, False)
                failures.append((job, outcome))
        for job, outcome in failures:
            if not groups[job.group]:
                self._fail(result, effect, job.channel.name, outcome.error or "delivery failed", job.what,
                           code=outcome.code)
                groups[job.group] = True  # one failure report per person or delivery
        if not result.failed:
            self._entry(result, effect, "effect_carried_out", "responder",
                        {"kind": effect.kind, "deliveries": len(jobs),
                         **({"possibly_sent": len(result.possibly_sent)} if result.possibly_sent else {})})
        return result

    # --- timeline and failure reports -------------------------------------------------------

    def _entry(self, result: Result, effect: Effect, action: str, channel: str, detail: dict[str, Any]) -> None:
        n = len(result.timeline)
        result.timeline.append(TimelineEntry(
            entry_id=f"{effect.effect_id}:respond:{n}", incident_id=effect.incident_id,
            municipality=effect.municipality, at=_iso(self.clock()),
            actor={"kind": "responder", "name": channel}, action=action,
            detail={"effect_id": effect.effect_id, "kind": effect.kind, "drill": effect.drill, **detail}))

    def _attempt(self, result: Result, effect: Effect, job: Job, attempt: Attempt) -> None:
        detail = {"key": job.key, "attempt": attempt.number, "ok": attempt.ok, **job.what}
        if attempt.waited_s:
            detail["waited_s"] = round(attempt.waited_s, 1)
        if attempt.ok:
            detail["ref"] = attempt.ref
            if attempt.detail:
                detail["receipt"] = attempt.detail
        else:
            detail["error"] = attempt.error
            detail["code"] = attempt.code
            detail["permanent"] = attempt.permanent
        self._entry(result, effect, "delivered" if attempt.ok else "delivery_failed", job.channel.name, detail)

    def _possibly_sent(self, result: Result, effect: Effect, job: Job, started: float) -> None:
        """A send cut off by a crash through a channel that cannot recognise a repeat: not sent
        again (that could reach people twice); the operator is asked to check and decide."""
        result.possibly_sent.append(job.key)
        DELIVERIES.labels(word(job.channel.name), "possibly_sent", "none").inc()
        channel = job.channel.name
        to = job.what.get("to") or job.what.get("account") or job.what.get("address") or ""
        where = f"{channel}（{to}）" if to else channel
        where_en = f"{channel} ({to})" if to else channel
        message_ja = (f"送信済みの可能性があります：{where}への送信中に処理が中断されました。"
                      "このチャネルは重複を見分けられないため、自動では再送しません。"
                      "相手に届いたかを確認し、届いていなければ再送、届いていれば送信済みとしてください。")
        message_en = (f"Possibly sent: the delivery through {where_en} was cut off by a restart while in"
                      " flight. This channel cannot recognise a repeat, so it is not sent again by itself."
                      " Check whether it arrived: resend it if not, mark it as sent if so.")
        n = len(result.timeline)
        result.timeline.append(TimelineEntry(
            entry_id=f"{effect.effect_id}:respond:{n}", incident_id=effect.incident_id,
            municipality=effect.municipality, at=_iso(self.clock()),
            actor={"kind": "responder", "name": channel}, action="delivery_possibly_sent",
            # The message first: a reader without a dedicated label still sees it before the rest.
            detail={"message_ja": message_ja, "message_en": message_en, "effect_id": effect.effect_id,
                    "kind": effect.kind, "drill": effect.drill, "key": job.key, "code": "possibly_sent",
                    "started_at": _iso(started), **job.what}))
        n = len(result.commands)
        result.commands.append(DeliveryPossiblySent(
            effect_id=effect.effect_id, channel=channel, key=job.key, to=str(to), started_at=_iso(started),
        ).to_command(command_id=f"{effect.effect_id}:possibly_sent:{n}", incident_id=effect.incident_id,
                     municipality=effect.municipality, actor=RESPONDER, at=self._utc_now()))

    def _fail(self, result: Result, effect: Effect, channel: str, error: str,
              what: Mapping[str, Any] | None = None, *, code: str | None = None) -> None:
        """The playbook hears of it (and retries, then tells a person another way)."""
        result.failed = True
        log.warning("effect_failed", incident_id=effect.incident_id, effect_id=effect.effect_id,
                    kind=effect.kind, channel=channel, error=error)
        self._entry(result, effect, "effect_failed", channel,
                    {"error": error, **({"code": code} if code else {}), **(what or {})})
        n = len(result.commands)
        result.commands.append(ChannelFailed(effect_id=effect.effect_id, channel=channel, error=error).to_command(
            command_id=f"{effect.effect_id}:failed:{n}", incident_id=effect.incident_id,
            municipality=effect.municipality, actor=RESPONDER, at=self._utc_now()))

    def _utc_now(self) -> str:
        return datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="seconds")

    # --- helpers for the handlers -----------------------------------------------------------

    def link(self, effect: Effect) -> str:
        return f"{self.board_url}/incidents/{effect.incident_id}"

    def profile(self, effect: Effect) -> Mapping[str, Any]:
        return self.profiles.get(effect.municipality) or {}

    def post_channel(self, account: str, platform: str, drill: bool) -> Channel:
        channel = None if drill else self.channels.posts.get(account)
        if channel is not None:
            return channel
        if self.channels.dry_run_posts is None:
            raise Unroutable(f"no posting channel for {account} / {account} に投稿する手段が設定されていません")
        return self.channels.dry_run_posts(platform)


# --- one handler per effect type: effect → jobs (and timeline notes for the immediate ones) ---
# A handler gets the record (its id, incident and drill flag) and its typed payload.

Handler = Callable[[Responder, Effect, Any, Result], list[Job]]
_HANDLERS: dict[type[TypedEffect], Handler] = {}
#: Effect type → what carries it out (a test checks every type in `EFFECT_TYPES` is here).
HANDLERS: Mapping[type[TypedEffect], Handler] = _HANDLERS


def handles(kind: type[TypedEffect]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn
    return register


@handles(Notify)
def _notify(r: Responder, effect: Effect, p: Notify, result: Result) -> list[Job]:
    person = p.to or {}
    name = str(person.get("name") or "?")
    message_ja, message_en = str(p.message_ja or ""), str(p.message_en or "")
    title = _first_line(message_ja) or "狼煙 Noroshi"
    body = "\n".join(message_ja.strip().splitlines()[1:])
    text = f"{body}\n\n{message_en}".strip()
    severity = str(p.severity or "high")
    facts = [("宛先 / To", name)]
    if p.ack_due:
        facts.append(("受付期限 / Acknowledge by", str(p.ack_due)))
    jobs: list[Job] = []
    for address in person.get("channels") or ():
        kind, _, target = str(address).partition(":")
        what = {"to": name, "via": kind}
        key = f"{effect.effect_id}:{address}"
        if kind == "email":
            if r.channels.email is None:
                raise Unroutable("e-mail is not configured (NOROSHI_SMTP_URL) / メール送信が設定されていません")
            subject = (DRILL_LABEL if effect.drill and not title.startswith(DRILL_LABEL) else "") + title
            message = EmailMessageSpec(to=[target], subject=subject[:200], text=f"{body}\n\n{message_en}".strip(),
                                       link=r.link(effect))
            jobs.append(Job(key, r.channels.email, message, name, {**what, "address": target}))
        elif kind in CHAT_KINDS:
            channel = r.channels.chat_for(kind, target)
            if channel is None:
                raise Unroutable(f"chat channel {kind!r} is not configured / チャット {kind} が設定されていません")
            message = ChatMessage(title=title[:150], text=text,
                                  severity=severity if severity in SEVERITIES else "high",
                                  link=r.link(effect), facts=facts, drill=effect.drill)
            jobs.append(Job(key, channel, message, name, what))
        else:
            raise Unroutable(f"unknown channel {address!r} for {name} / 不明な連絡手段です")
    if not jobs:
        r._entry(result, effect, "notified_on_board", "board", {"to": name, "reason": p.reason})
    return jobs


@handles(HoldReplies)
def _hold(r: Responder, effect: Effect, p: HoldReplies, result: Result) -> list[Job]:
    account = account_key(p.account or {})
    r.holds.hold(account, effect.incident_id)
    r._entry(result, effect, "replies_held", "outbound",
             {"account": account, "held_by": sorted(r.holds.holders(account)), "reason": p.reason})
    return []


@handles(ReleaseHold)
def _release(r: Responder, effect: Effect, p: ReleaseHold, result: Result) -> list[Job]:
    account = account_key(p.account or {})
    r.holds.release(account, effect.incident_id)
    r._entry(result, effect, "hold_released", "outbound",
             {"account": account, "still_held_by": sorted(r.holds.holders(account))})
    return []


@handles(PostStatement)
def _post(r: Responder, effect: Effect, p: PostStatement, result: Result) -> list[Job]:
    from responders.posts import Post

    acct = p.account or {}
    account = account_key(acct)
    kind = str(p.draft_kind or "statement")
    approved = bool((p.approval or {}).get("approver"))
    r.holds.check(OutboundPost(account, kind, effect.incident_id, approved=approved))
    text = str((p.texts or {}).get("ja") or "").strip()
    if not text:
        raise Unroutable("the approved draft has no Japanese text / 承認済み文案に日本語の本文がありません")
    platform = str(acct.get("platform") or "x")
    channel = r.post_channel(account, platform, effect.drill)
    post = Post(account=str(acct.get("handle") or ""), text=text, source_url=present(p.source_url),
                kind=kind, drill=effect.drill)
    return [Job(f"{effect.effect_id}:{account}", channel, post, account,
                {"account": account, "draft_id": p.draft_id})]


@handles(PublishNotice)
def _notice(r: Responder, effect: Effect, p: PublishNotice, result: Result) -> list[Job]:
    from responders.website import Notice

    if effect.drill:
        r._entry(result, effect, "notice_not_published", "website",
                 {"why": "訓練のためウェブサイトには掲載しません / a drill is never published",
                  "texts": p.texts})
        return []
    if r.channels.notice is None:
        raise Unroutable("no website notice channel is configured / ウェブサイト掲載の手段が設定されていません")
    texts = p.texts or {}
    body = str(texts.get("ja") or "").strip()
    if not body:
        raise Unroutable("the approved notice has no Japanese text / 承認済み文案に日本語の本文がありません")
    incident = p.incident or {}
    kind = "impersonation_warning" if p.draft_kind == "warning" else "correction"
    title = str(incident.get("title") or _first_line(body))
    city = str((r.profile(effect).get("municipality") or {}).get("name") or effect.municipality)
    notice = Notice(notice_id=effect.effect_id, municipality=city, kind=kind, title=title, body=body,
                    published_at=datetime.fromtimestamp(r.clock(), JST), source_url=present(p.source_url),
                    drill=effect.drill, municipality_id=effect.municipality)
    return [Job(f"{effect.effect_id}:notice", r.channels.notice, notice, "notice",
                {"draft_id": p.draft_id, "notice_kind": kind})]


@handles(NotifyPress)
def _press(r: Responder, effect: Effect, p: NotifyPress, result: Result) -> list[Job]:
    profile = r.profile(effect)
    press = profile.get("press") or {}
    recipients = list(dict.fromkeys([*r.channels.press_to, *(press.get("recipients") or ())]))
    if effect.drill:
        recipients = list(press.get("drill_recipients") or ())
        if not recipients:
            r._entry(result, effect, "press_release_not_sent", "press",
                     {"why": "訓練のため報道機関には送信しません / a drill is never sent to the press"})
            return []
    if not recipients:
        raise Unroutable("no press recipients (NOROSHI_PRESS_TO or the profile's press.recipients)"
                         " / 報道提供先が設定されていません")
    if r.channels.email is None:
        raise Unroutable("e-mail is not configured (NOROSHI_SMTP_URL) / メール送信が設定されていません")
    # A city's broken 様式 raises TemplateProblem: reported as failed like any effect that cannot be
    # carried out (the playbook retries once, then tells a person), never sent with the shipped one.
    release = press_release(_press_fields(r, effect, p, profile), templates=r.templates,
                            municipality=effect.municipality)
    message = EmailMessageSpec(to=recipients, subject=release.subject, text=release.text, html=release.html)
    r._entry(result, effect, "press_release_prepared", "press",
             {"subject": release.subject, "recipients": len(recipients), "text": release.text})
    return [Job(f"{effect.effect_id}:press", r.channels.email, message, "press",
                {"recipients": len(recipients), "subject": release.subject})]


def _press_fields(r: Responder, effect: Effect, p: NotifyPress, profile: Mapping[str, Any]) -> dict[str, Any]:
    muni = profile.get("municipality") or {}
    city = str(muni.get("name") or effect.municipality)
    incident = p.incident or {}
    type_ja = TYPE_LABELS.get(str(incident.get("type")), (None,))[0]
    texts = p.texts or {}
    body = str(texts.get("ja") or "").strip()
    lines = body.splitlines()
    subject = lines[0] if lines and len(lines[0]) <= 60 and len(lines) > 1 else (
        f"{city}の公式アカウントに関する{type_ja}について" if type_ja else f"{city}からのお知らせ")
    summary = "\n".join(lines[1:]).strip() if subject == (lines[0] if lines else None) else body
    press = profile.get("press") or {}
    contact = dict(press.get("contact") or {})
    if not contact.get("department"):
        department = next((a.get("department") for a in profile.get("accounts") or () if a.get("department")), None)
        if department:
            contact["department"] = department
    fields: dict[str, Any] = {"subject": subject, "summary": summary, "municipality": city, "contact": contact,
                              "issued_at": datetime.fromtimestamp(r.clock(), JST), "drill": effect.drill}
    if incident.get("summary"):
        fields["background"] = f"{incident.get('opened_at', '')} {incident['summary']}".strip()
    if press.get("request") or _REQUESTS.get(str(incident.get("type"))):
        fields["request"] = press.get("request") or _REQUESTS[str(incident.get("type"))]
    if present(p.source_url):
        fields["response"] = f"正しい情報を以下に掲載しています。{p.source_url}"
    return fields


_REQUESTS = {
    "impersonation": "本市を名乗る不審なアカウントからの連絡には応じず、リンクを開いたり個人情報を入力したりしないでください。"
                     "本市の公式アカウントは市ホームページでご確認いただけます。",
    "misinformation": "不確かな情報を拡散せず、市ホームページなど公式の情報をご確認ください。",
    "disaster": "不確かな情報を拡散せず、市ホームページなど公式の情報をご確認ください。",
}


@handles(RequestTakedown)
def _takedown(r: Responder, effect: Effect, p: RequestTakedown, result: Result) -> list[Job]:
    """The report is for a person to file (platforms offer no API for it): ready text, form link, tracked."""
    r._entry(result, effect, "takedown_request_prepared", "takedown",
             {"platform": p.platform, "handle": p.handle, "report_url": p.report_url,
              "report_text_ja": p.report_text_ja, "status": "ready_to_file"})
    return []


# The board's timeline shows these two as they were asked for (the whole payload, a retry's `retry_of` too).

@handles(QueueRescue)
def _rescue(r: Responder, effect: Effect, p: QueueRescue, result: Result) -> list[Job]:
    r._entry(result, effect, "rescue_request_queued", "board", dict(effect.payload))
    return []


@handles(DisasterMode)
def _disaster_mode(r: Responder, effect: Effect, p: DisasterMode, result: Result) -> list[Job]:
    r._entry(result, effect, "disaster_mode_on" if p.on else "disaster_mode_off", "board", dict(effect.payload))
    return []


assert set(_HANDLERS) == set(EFFECT_TYPES.values()), "an effect type without a handler"

__all__ = ["HANDLERS", "Channels", "Job", "Permanent", "Responder", "Result", "Unroutable"]
