"""返信保留 hold replies: the outbound queue of an official account while an incident holds it.

During a flame-up nobody answers on their own judgement: while any incident holds an
account, the only thing that may go out on it is an approved statement of an incident
(an explanation, a correction, a holding statement). Everything else is refused with a
reason the operator can read, and the refusal lands in the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Draft kinds that are incident statements (the playbook's draft kinds).
STATEMENT_KINDS = frozenset({"statement", "correction", "holding", "warning"})


def account_key(account: Mapping[str, Any]) -> str:
    """`platform:handle` in lower case (platform `*` when the profile does not say)."""
    platform = str(account.get("platform") or "*").lower()
    return f"{platform}:{str(account.get('handle') or '').lstrip('@').lower()}"


class HeldError(Exception):
    """A post refused because replies on the account are held. Japanese first, then English."""

    def __init__(self, account: str, holders: Iterable[str]) -> None:
        self.account = account
        self.holders = tuple(sorted(holders))
        super().__init__(
            f"{account} は返信保留中です（{', '.join(self.holders)}）。承認済みの事案対応の投稿のみ送信できます。"
            f" / Replies on {account} are held by {', '.join(self.holders)}: only approved incident statements may go out.")


@dataclass(frozen=True)
class OutboundPost:
    """What asks to go out on an account: an incident statement or anything else."""

    account: str  # account_key
    kind: str  # a draft kind, or "routine" for the city's ordinary posts
    incident_id: str | None = None
    approved: bool = False


class Holds:
    """Which accounts are held, and by which incidents (several may hold one account)."""

    def __init__(self) -> None:
        self._holders: dict[str, set[str]] = {}

    def hold(self, account: str, incident_id: str) -> None:
        self._holders.setdefault(account, set()).add(incident_id)

    def release(self, account: str, incident_id: str) -> None:
        holders = self._holders.get(account)
        if holders is not None:
            holders.discard(incident_id)
            if not holders:
                del self._holders[account]

    def holders(self, account: str) -> frozenset[str]:
        return frozenset(self._holders.get(account, ()))

    def held(self) -> dict[str, list[str]]:
        """Every held account with its incidents, for the board."""
        return {account: sorted(ids) for account, ids in sorted(self._holders.items())}

    def check(self, post: OutboundPost) -> None:
        """Raise HeldError unless the post may go out now."""
        holders = self.holders(post.account)
        if not holders:
            return
        if post.incident_id is not None and post.approved and post.kind in STATEMENT_KINDS:
            return
        raise HeldError(post.account, holders)
