"""The e-mail channel (メール通知): one notification to the people on call, over SMTP with STARTTLS.

`EmailChannel.send` builds a UTF-8 message (Japanese subject, body and sender name encoded
for any relay) and hands it to the configured server with aiosmtplib. The idempotency key
becomes the `Message-ID`, so a copy delivered twice is recognisable as one message.
"""

from __future__ import annotations

import hashlib
import html
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path

import aiosmtplib

from vocabulary.settings import Secret
from responders.base import DeliveryError, Permanent, Receipt, Transient

CHANNEL = "email"
LINK_LABEL = "ボードで確認する / Open on the board"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to hand mail over. `ca_file` trusts a private CA (PEM) besides the system's."""

    host: str
    port: int
    username: str
    password: Secret
    from_addr: str
    from_name: str
    starttls: bool = True
    timeout: float = 30.0
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class EmailMessageSpec:
    """One message: plain text always, HTML optionally; `link` (to the incident) goes into both."""

    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None
    link: str | None = None
    reply_to: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("an e-mail needs at least one recipient")
        for address in [*self.to, *([self.reply_to] if self.reply_to else [])]:
            _check_address(address)
        if "\r" in self.subject or "\n" in self.subject:
            raise ValueError("the subject must be one line")
        if self.link is not None and not self.link.startswith(("https://", "http://")):
            raise ValueError(f"the link must be an http(s) URL, not {self.link!r}")


def message_id(key: str, from_addr: str) -> str:
    """The `Message-ID` for an idempotency key: the same key always gives the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@noroshi.{from_addr.rpartition('@')[2]}>"


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, closing its connection at once.

    After QUIT, or after a refusal (a wrong password, say), nothing more is said:
    closing a TLS connection politely waits for the peer's close_notify, and a
    server that has gone quiet leaves the socket open behind us. Aborting frees
    it now, TLS or not.
    """

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()
        super().close()


class EmailChannel:
    """Sends `EmailMessageSpec`s through one SMTP server (STARTTLS, then AUTH)."""

    name = CHANNEL
    #: SMTP servers deliver every message handed over; the `Message-ID` only lets a reader see a
    #: repeat as one message. A mail cut off by a crash is reported as possibly sent, not resent.
    dedup_window_s = 0.0

    def __init__(self, config: SmtpConfig) -> None:
        _check_address(config.from_addr)
        self.config = config

    async def send(self, message: EmailMessageSpec, *, key: str) -> Receipt:
        mail = self.build(message, key=key)
        config = self.config
        try:
            client = _Client(
                hostname=config.host,
                port=config.port,
                username=config.username or None,
                password=config.password.value or None,
                start_tls=config.starttls,
                timeout=config.timeout,
                cert_bundle=str(config.ca_file) if config.ca_file else None,
            )
            async with client:
                refused, _ = await client.send_message(mail)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            raise self._delivery_error(exc) from None
        detail: dict[str, object] = {"to": list(message.to)}
        if refused:  # some recipients got it: a retry would not reach the others either
            detail["refused"] = {address: f"{reply.code} {reply.message}" for address, reply in refused.items()}
        return Receipt(CHANNEL, ref=mail["Message-ID"], detail=detail)

    def build(self, message: EmailMessageSpec, *, key: str) -> EmailMessage:
        """The MIME message for `message`, with its `Message-ID` derived from `key`."""
        config = self.config
        mail = EmailMessage(policy=SMTP)
        mail["From"] = Address(display_name=config.from_name, addr_spec=config.from_addr)
        mail["To"] = ", ".join(message.to)
        if message.reply_to:
            mail["Reply-To"] = message.reply_to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = message_id(key, config.from_addr)
        # RFC 3834: tells vacation responders and ticket systems not to answer back.
        mail["Auto-Submitted"] = "auto-generated"
        # base64 keeps Japanese text intact through relays without 8BITMIME.
        mail.set_content(_text_with_link(message.text, message.link), charset="utf-8", cte="base64")
        if message.html is not None:
            mail.add_alternative(
                _html_with_link(message.html, message.link), subtype="html", charset="utf-8", cte="base64"
            )
        return mail

    def _delivery_error(self, exc: aiosmtplib.SMTPException | OSError | ValueError) -> DeliveryError:
        """Transient or Permanent for what aiosmtplib raised, in words that hold no secret."""
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [refusal.code for refusal in exc.recipients]
            replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            error_type = Transient if any(400 <= code < 500 for code in codes) else Permanent
            return error_type(CHANNEL, self._scrub(f"every recipient was refused ({replies})"))
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            what = "sign-in refused" if isinstance(exc, aiosmtplib.SMTPAuthenticationError) else "server refused"
            reason = self._scrub(f"{what}: SMTP {exc.code} {exc.message}")
            return (Permanent if exc.code >= 500 else Transient)(CHANNEL, reason)
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            return Transient(CHANNEL, f"timed out talking to {self._server}")
        if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected)):
            return Transient(CHANNEL, f"cannot reach {self._server}")
        if isinstance(exc, ssl.SSLError):
            return Permanent(CHANNEL, f"TLS with {self._server} failed: {exc.reason or type(exc).__name__}")
        if isinstance(exc, aiosmtplib.SMTPException):  # STARTTLS or AUTH not offered, and the like
            return Permanent(CHANNEL, self._scrub(f"{self._server}: {exc.message}"))
        if isinstance(exc, OSError):
            return Transient(CHANNEL, f"cannot reach {self._server}: {exc.strerror or type(exc).__name__}")
        # A ValueError: an address aiosmtplib will not put on the wire.
        return Permanent(CHANNEL, self._scrub(f"the message cannot be sent: {exc}"))

    @property
    def _server(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _scrub(self, reason: str) -> str:
        """`reason` with the password masked, should a server ever echo it back."""
        password = self.config.password.value
        return reason.replace(password, "********") if password else reason


def _check_address(address: str) -> None:
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(c.isspace() or c in '<>,;"' for c in address):
        raise ValueError(f"not a plain e-mail address: {address!r}")


def _text_with_link(text: str, link: str | None) -> str:
    if link is None or link in text:
        return text
    return f"{text.rstrip()}\n\n{LINK_LABEL}:\n{link}\n"


def _html_with_link(body: str, link: str | None) -> str:
    if link is None or html.escape(link) in body:
        return body
    anchor = f'<p><a href="{html.escape(link)}">{html.escape(LINK_LABEL)}</a></p>'
    closing = body.lower().rfind("</body>")
    return body + anchor if closing < 0 else body[:closing] + anchor + body[closing:]
