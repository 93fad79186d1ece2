"""Delivery with real peers: a Slack-compatible webhook server that is down for a while, a real
SMTP server on loopback, the playbook's answer to a channel that keeps failing, a command
delivered twice, and secrets that never reach a log line, the timeline or an error."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from aiohttp import web

from vocabulary.settings import Secret
from playbooks.engine import decide, default_rules
from responders.chat import SlackWebhookChannel
from responders.email import EmailChannel, SmtpConfig
from responders.ledger import Ledger, carry_out, finish
from responders.reliability import RetryPolicy
from responders.responder import Channels, Responder
from vocabulary.records import Effect
from tests.smtp import Inbox, free_port, smtp_server
from tests.unit.builders import OFFICIAL, detection

SATO, TANAKA, KOHO = "当番 佐藤", "広報課長 田中", "広報課"
PROFILE: dict[str, Any] = {
    "municipality": {"id": "wako", "name": "和光市"},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "department": "広報課"}],
    "roster": {"contacts": [
        {"name": SATO, "role": "operator", "channels": ["slack:oncall"]},
        {"name": TANAKA, "role": "owner", "channels": ["email:tanaka@city.wako.example.jp"]},
        {"name": KOHO, "role": "pr", "channels": ["email:koho@city.wako.example.jp"]},
    ]},
}
SMTP_PASSWORD = "smtp-pa55-do-not-show"
HOOK_TOKEN = "T000/B000/hook-secret-do-not-show"


class SlackPeer:
    """A Slack-compatible incoming webhook: down (503, or no answer at all) for its first
    `down` requests, then `ok` as Slack answers."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.calls = 0
        self.received: list[dict[str, Any]] = []

    async def hook(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.json()
        if self.calls <= self.down:
            return web.Response(status=503, text="service unavailable")
        self.received.append(body)
        return web.Response(text="ok")


@pytest.fixture
async def slack_peer() -> AsyncIterator[tuple[SlackPeer, str]]:
    peer = SlackPeer(down=2)
    app = web.Application()
    app.router.add_post(f"/services/{HOOK_TOKEN}", peer.hook)
    # No access log: the peer plays Slack, and Slack's own log of its URL is not Noroshi's (once a
    # test before has set logging up, aiohttp's access lines would reach the secret check below).
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield peer, f"http://127.0.0.1:{port}/services/{HOOK_TOKEN}"
    finally:
        await runner.cleanup()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def mail_channel(port: int) -> EmailChannel:
    return EmailChannel(SmtpConfig(host="127.0.0.1", port=port, username="", password=Secret(""),
                                   from_addr="noroshi@city.wako.example.jp", from_name="和光市 狼煙",
                                   starttls=False, timeout=5.0))


class NoWait:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def responder(channels: Channels, wait: NoWait, attempts: int = 4) -> Responder:
    return Responder(channels, profiles={"wako": PROFILE}, board_url="https://board.wako.example.jp",
                     policy=RetryPolicy(attempts=attempts), sleep=wait, rng=random.Random(3))


def opened_incident() -> tuple[Any, list[Effect]]:
    decision = decide(None, detection(severity="high"), profile_raw=PROFILE, rules=default_rules())
    return decision.state, decision.effects


async def test_a_peer_that_is_down_for_a_while_gets_the_message_after_retries(
        slack_peer: tuple[SlackPeer, str]) -> None:
    peer, url = slack_peer
    wait = NoWait()
    r = responder(Channels(chat={"slack": SlackWebhookChannel(Secret(url))}), wait)
    _, effects = opened_incident()
    to_sato = next(e for e in effects if e.kind == "notify" and e.payload["to"]["name"] == SATO)

    result = await r.carry_out(to_sato)

    assert not result.failed and peer.calls == 3 and len(peer.received) == 1
    assert [(e.action, e.detail.get("attempt")) for e in result.timeline][:3] == [
        ("delivery_failed", 1), ("delivery_failed", 2), ("delivered", 3)]
    assert result.timeline[0].detail["code"] == "server"  # 503: what the board explains in Japanese
    assert len(wait.slept) == 2 and wait.slept[1] > wait.slept[0] * 0.9  # exponential, jittered
    shown = orjson.dumps(peer.received[0]).decode()
    assert "【炎上】" in shown and "https://board.wako.example.jp/incidents/" in shown


async def test_a_peer_that_stays_down_is_answered_by_the_playbook_through_another_channel(
        slack_peer: tuple[SlackPeer, str], smtp: tuple[Inbox, int]) -> None:
    peer, url = slack_peer
    peer.down = 10**6  # down for good
    inbox, port = smtp
    wait = NoWait()
    r = responder(Channels(email=mail_channel(port), chat={"slack": SlackWebhookChannel(Secret(url))}), wait,
                  attempts=3)
    state, effects = opened_incident()
    pending = [e for e in effects if e.kind == "notify" and e.payload["to"]["name"] == SATO]
    rounds, failed_codes = 0, []
    while pending:  # responder → channel_failed command → playbook → the next effects, as the worker runs them
        rounds += 1
        assert rounds < 10
        result = await r.carry_out(pending.pop(0))
        failed_codes += [e.detail.get("code") for e in result.timeline if e.action == "effect_failed"]
        for cmd in result.commands:
            decision = decide(state, cmd, profile_raw=PROFILE, rules=default_rules())
            state = decision.state
            pending += [e for e in decision.effects if e.kind == "notify"]
            if any(e.payload.get("reason") == "unreachable" for e in decision.effects):
                for e in decision.effects:
                    await r.carry_out(e)
                pending = []

    # The first notice: three attempts; its retry: two more, then the circuit breaker opens
    # (five failures in a row) and the peer is left alone.
    assert peer.calls == 5
    assert failed_codes == ["server", "circuit_open"]  # the retry met the open breaker
    reached = {rcpt for rcpts, _ in inbox.messages for rcpt in rcpts}
    assert {"tanaka@city.wako.example.jp", "koho@city.wako.example.jp"} <= reached
    _, mail = inbox.messages[0]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "届きませんでした" in body and mail["Subject"].startswith("【炎上】")


async def test_a_command_delivered_twice_sends_one_mail(smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp
    r = responder(Channels(email=mail_channel(port)), NoWait())
    _, effects = opened_incident()
    to_tanaka = Effect(**{**next(e for e in effects if e.kind == "notify").to_dict(),
                          "payload": {**next(e for e in effects if e.kind == "notify").payload,
                                      "to": {"name": TANAKA, "role": "owner", "level": 2,
                                             "channels": ["email:tanaka@city.wako.example.jp"]}}})
    ledger = Ledger()
    saved: list[bytes] = []

    async def save(current: Ledger) -> None:
        saved.append(current.dump())

    first = await carry_out(r, to_tanaka, ledger, save)
    # The worker dies after the mail went out, before it marked the effect finished; after the
    # restart the ledger comes back from the table and the same effect is delivered again.
    restored = Ledger.load(saved[-1])
    again = await carry_out(responder(Channels(email=mail_channel(port)), NoWait()), to_tanaka, restored, save)
    # Once finished, a third delivery of the command is not even looked at.
    finish(r, to_tanaka, restored, again)
    third = await carry_out(r, to_tanaka, restored, save)

    assert first is not None and first.delivered and len(inbox.messages) == 1
    assert again is not None and not again.delivered and not again.failed
    assert "delivery_skipped" in [e.action for e in again.timeline]
    assert third is None


async def test_no_secret_reaches_a_log_line_the_timeline_or_an_error(
        slack_peer: tuple[SlackPeer, str]) -> None:
    peer, url = slack_peer
    peer.down = 10**6
    output = io.StringIO()
    structlog.configure(processors=[structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(output))
    handler = logging.StreamHandler(output)
    logging.getLogger().addHandler(handler)
    try:
        dead_port = free_port()
        mail = EmailChannel(SmtpConfig(host="127.0.0.1", port=dead_port, username="noroshi",
                                       password=Secret(SMTP_PASSWORD), from_addr="noroshi@city.wako.example.jp",
                                       from_name="狼煙", starttls=True, timeout=2.0))
        r = responder(Channels(email=mail, chat={"slack": SlackWebhookChannel(Secret(url))}), NoWait(), attempts=2)
        _, effects = opened_incident()
        notice = next(e for e in effects if e.kind == "notify")
        both = Effect(**{**notice.to_dict(), "payload": {**notice.payload, "to": {
            "name": SATO, "role": "operator", "level": 1,
            "channels": ["slack:oncall", "email:sato@city.wako.example.jp"]}}})
        result = await r.carry_out(both)
    finally:
        logging.getLogger().removeHandler(handler)
        structlog.reset_defaults()

    assert result.failed and result.commands  # it did fail, and said so
    assert "effect_failed" in output.getvalue()  # the log was captured
    said = output.getvalue() + "".join(e.to_json().decode() for e in result.timeline) + "".join(
        c.to_json().decode() for c in result.commands) + repr(r.channels)
    for secret in (SMTP_PASSWORD, HOOK_TOKEN, "hook-secret"):
        assert secret not in said
    assert "503" in said or "cannot reach" in said  # the reasons themselves are kept
