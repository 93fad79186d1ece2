"""The e-mail channel against a real SMTP server on loopback that requires STARTTLS and AUTH."""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from vocabulary.settings import Secret
from responders.base import Permanent, Transient
from responders.email import EmailChannel, EmailMessageSpec, SmtpConfig, message_id

USER = "koho@city.example.lg.jp"
PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "not-the-password-4711"
LINK = "https://board.example.lg.jp/incidents/inc-42?tab=timeline&lang=ja"


@dataclass
class Mailbox:
    """What the test server accepted, and the replies it is told to give."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    data_reply: str = "250 OK"
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> RCPT reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply.startswith("250"):
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.data_reply

    def only_message(self) -> EmailMessage:
        assert len(self.received) == 1
        parsed = message_from_bytes(self.received[0][2], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    if isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode()):
        return AuthResult(success=True)
    # A careless server that echoes what it was given: the channel must not pass that on.
    password = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else "?"
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials ({password})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def mailbox(ca: trustme.CA) -> Iterator[tuple[Mailbox, int]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def config(port: int, ca_file: Path, password: str = PASSWORD) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        username=USER,
        password=Secret(password),
        from_addr="noroshi@city.example.lg.jp",
        from_name="千葉市 広報広聴課",
        timeout=5.0,
        ca_file=ca_file,
    )


def spec(**changes: Any) -> EmailMessageSpec:
    message = EmailMessageSpec(
        to=["tobuan@city.example.lg.jp", "kacho@city.example.lg.jp"],
        subject="【炎上】公式Xアカウントへの批判が急増しています",
        text="当番の皆様\n\n本市公式アカウントへの返信が急増しています。ボードで確認し、承認をお願いします。\n",
        html="<html lang=\"ja\"><body><p>本市公式アカウントへの返信が急増しています。</p></body></html>",
        link=LINK,
        reply_to="koho@city.example.lg.jp",
    )
    return replace(message, **changes)


async def test_japanese_message_arrives_intact_with_link_and_key_based_message_id(
    mailbox: tuple[Mailbox, int], ca_file: Path
) -> None:
    box, port = mailbox
    channel = EmailChannel(config(port, ca_file))

    receipt = await channel.send(spec(), key="inc-42/notify/tobuan")

    mail_from, rcpt_tos, _ = box.received[0]
    assert mail_from == "noroshi@city.example.lg.jp"
    assert rcpt_tos == ["tobuan@city.example.lg.jp", "kacho@city.example.lg.jp"]
    received = box.only_message()
    assert received["Subject"] == "【炎上】公式Xアカウントへの批判が急増しています"
    assert received["From"].addresses[0].display_name == "千葉市 広報広聴課"
    assert received["Reply-To"] == "koho@city.example.lg.jp"
    digest = hashlib.sha256(b"inc-42/notify/tobuan").hexdigest()[:32]
    assert received["Message-ID"] == f"<{digest}@noroshi.city.example.lg.jp>" == receipt.ref
    text = received.get_body(("plain",))
    html_part = received.get_body(("html",))
    assert text is not None and html_part is not None
    assert "返信が急増しています" in text.get_content()
    assert LINK in text.get_content()
    assert "返信が急増しています" in html_part.get_content()
    assert 'href="https://board.example.lg.jp/incidents/inc-42?tab=timeline&amp;lang=ja"' in html_part.get_content()
    assert receipt.channel == "email" and receipt.detail == {"to": list(spec().to)}


async def test_the_raw_message_is_seven_bit_with_encoded_japanese_headers(
    mailbox: tuple[Mailbox, int], ca_file: Path
) -> None:
    box, port = mailbox

    await EmailChannel(config(port, ca_file)).send(spec(html=None), key="k")

    raw = box.received[0][2]
    raw.decode("ascii")  # every relay can carry it
    assert b"=?utf-8?" in raw
    assert box.only_message().get_content_type() == "text/plain"


async def test_the_same_key_gives_the_same_message_id_so_a_duplicate_is_recognisable(
    mailbox: tuple[Mailbox, int], ca_file: Path
) -> None:
    box, port = mailbox
    channel = EmailChannel(config(port, ca_file))

    first = await channel.send(spec(), key="inc-42/notify")
    second = await channel.send(spec(), key="inc-42/notify")
    other = await channel.send(spec(), key="inc-43/notify")

    assert first.ref == second.ref == message_id("inc-42/notify", "noroshi@city.example.lg.jp")
    assert other.ref != first.ref


async def test_a_link_already_in_the_text_is_not_repeated(mailbox: tuple[Mailbox, int], ca_file: Path) -> None:
    box, port = mailbox

    await EmailChannel(config(port, ca_file)).send(spec(text=f"詳細: {LINK}\n", html=None), key="k")

    assert box.only_message().get_content().count(LINK) == 1


async def test_a_wrong_password_is_permanent_and_never_shown(mailbox: tuple[Mailbox, int], ca_file: Path) -> None:
    _, port = mailbox
    channel = EmailChannel(config(port, ca_file, password=WRONG_PASSWORD))

    with pytest.raises(Permanent) as caught:
        await channel.send(spec(), key="k")

    assert "535" in str(caught.value)
    assert WRONG_PASSWORD not in str(caught.value)
    assert WRONG_PASSWORD not in repr(caught.value.args)


async def test_a_server_that_is_not_listening_is_transient(ca_file: Path) -> None:
    channel = EmailChannel(config(free_port(), ca_file))

    with pytest.raises(Transient) as caught:
        await channel.send(spec(), key="k")

    assert PASSWORD not in str(caught.value)


async def test_a_451_reply_is_transient(mailbox: tuple[Mailbox, int], ca_file: Path) -> None:
    box, port = mailbox
    box.data_reply = "451 4.3.0 Mail server temporarily rejected message"

    with pytest.raises(Transient, match="451"):
        await EmailChannel(config(port, ca_file)).send(spec(), key="k")


async def test_every_recipient_refused_with_550_is_permanent(mailbox: tuple[Mailbox, int], ca_file: Path) -> None:
    box, port = mailbox
    box.refuse = {address: "550 5.1.1 No such user" for address in spec().to}

    with pytest.raises(Permanent, match="550"):
        await EmailChannel(config(port, ca_file)).send(spec(), key="k")


async def test_a_partly_refused_message_is_delivered_and_the_refusal_recorded(
    mailbox: tuple[Mailbox, int], ca_file: Path
) -> None:
    box, port = mailbox
    box.refuse = {"kacho@city.example.lg.jp": "550 5.1.1 No such user"}

    receipt = await EmailChannel(config(port, ca_file)).send(spec(), key="k")

    assert box.received[0][1] == ["tobuan@city.example.lg.jp"]
    assert receipt.detail["refused"] == {"kacho@city.example.lg.jp": "550 5.1.1 No such user"}


async def test_an_untrusted_server_certificate_is_permanent(mailbox: tuple[Mailbox, int], tmp_path: Path) -> None:
    _, port = mailbox
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))

    with pytest.raises(Permanent, match="TLS"):
        await EmailChannel(config(port, stranger)).send(spec(), key="k")


def test_malformed_messages_are_refused_before_sending() -> None:
    with pytest.raises(ValueError):
        spec(to=[])
    with pytest.raises(ValueError):
        spec(to=["a@example.jp>, evil@example.com"])
    with pytest.raises(ValueError):
        spec(subject="件名\r\nBcc: evil@example.com")
    with pytest.raises(ValueError):
        spec(link="javascript:alert(1)")
