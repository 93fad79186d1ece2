"""Who is told (the roster at a level, or by role) and the `notify` effects that tell them,
one per person, so that one failing channel does not stop the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from playbooks.context import Context
from playbooks.profile import official_accounts
from playbooks.rules import Contact
from playbooks.texts import notification_message
from vocabulary.effects import Notify
from vocabulary.records import iso


def _plain(value: Any) -> Any:
    """A contact (or its channels) as plain JSON."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def contact_record(c: Contact) -> dict[str, Any]:
    return {"name": c.name, "role": c.role, "level": c.level, "channels": _plain(c.channels)}


def held_account(ctx: Context) -> dict[str, Any]:
    target = ctx.st.target.lstrip("@").lower()
    return next((a for a in official_accounts(ctx.profile) if str(a["handle"]).lower() == target),
                {"platform": None, "handle": ctx.st.target})


def notify(ctx: Context, contacts: Iterable[Contact], reason: str, *, ack: bool = False,
            extra: Mapping[str, Any] | None = None) -> None:
    """One notify effect per person (one failing does not stop the others)."""
    if ack:
        due = ctx.rules.ack_deadline(ctx.st.severity, ctx.now)
        ctx.st.ack_since, ctx.st.ack_due = ctx.at, iso(due)
        ctx.schedule("ack", due)
    message_ja, message_en = notification_message(
        ctx.st.type, ctx.st.target, ctx.st.summary, ctx.st.severity, reason)
    seen: set[str] = set()
    for contact in contacts:
        if contact.name in seen:
            continue
        seen.add(contact.name)
        ctx.effect(Notify(
            to=contact_record(contact), level=ctx.st.level, reason=reason, severity=ctx.st.severity,
            message_ja=message_ja, message_en=message_en, ack_due=ctx.st.ack_due if ack else None,
            **(extra or {})))


def at_level(ctx: Context, level: int) -> list[Contact]:
    return list(ctx.rules.recipients(ctx.roster, level, ctx.now, ctx.st.severity, ctx.disaster))


def with_role(ctx: Context, *roles: str) -> list[Contact]:
    return [c for role in roles for c in ctx.roster.with_role(role)]
