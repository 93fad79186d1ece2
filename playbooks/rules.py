"""The rules the engine needs from the municipality's policy, as the small `Rules` protocol:
who is on call, business hours, approvals and the pre-post check. `default_rules()`
connects `playbooks.policy` and `playbooks.checks`; tests pass a fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from playbooks.policy import NO_CLOSURES, Approval, ClosureDays


class Contact(Protocol):
    name: str
    role: str
    level: int
    channels: Any


class Roster(Protocol):
    def at_level(self, level: int) -> Sequence[Contact]: ...

    def with_role(self, role: str) -> Sequence[Contact]: ...


class Verdict(Protocol):
    ok: bool
    reason_ja: str
    reason_en: str


class CheckFinding(Protocol):
    code: str
    level: str  # "block" | "warn"
    message_ja: str
    message_en: str
    excerpt: str


class Rules(Protocol):
    """What the engine asks of policy; `default_rules()` is the real one, tests pass a fake."""

    def roster(self, profile_raw: Mapping[str, Any]) -> Roster: ...

    def ack_deadline(self, severity: str, since: float) -> float: ...

    def next_level(self, level: int) -> int | None: ...

    def recipients(self, roster: Roster, level: int, now: float, severity: str,
                   disaster: bool) -> Sequence[Contact]: ...

    def may_post_now(self, now: float, *, incident_type: str, severity: str, disaster: bool,
                     closed: ClosureDays = NO_CLOSURES) -> bool: ...

    def next_business_open(self, now: float, closed: ClosureDays = NO_CLOSURES) -> float: ...

    def check_approval(self, approval: Approval, *, drafter: str, draft_id: str, draft_hash: str,
                       now: float) -> Verdict: ...

    def draft_hash(self, texts: Mapping[str, str]) -> str: ...

    def check_preapproved_post(self, category: str, *, poster_role: str) -> Verdict: ...

    def prepost_check(self, text: str, *, trusted_domains: Sequence[str] = (),
                      official_contacts: Sequence[str] = ()) -> Sequence[CheckFinding]: ...

    def blocking(self, findings: Sequence[CheckFinding]) -> bool: ...


@dataclass(frozen=True)
class PolicyRules:
    """`Rules` on top of the `playbooks.policy` and `playbooks.checks` modules."""

    policy: ModuleType
    checks: ModuleType

    def roster(self, profile_raw: Mapping[str, Any]) -> Roster:
        return self.policy.roster_from_profile(profile_raw)  # type: ignore[no-any-return]

    def ack_deadline(self, severity: str, since: float) -> float:
        return float(self.policy.ack_deadline(severity, since))

    def next_level(self, level: int) -> int | None:
        return self.policy.next_level(level)  # type: ignore[no-any-return]

    def recipients(self, roster: Roster, level: int, now: float, severity: str,
                   disaster: bool) -> Sequence[Contact]:
        return self.policy.recipients(roster, level, now, severity, disaster)  # type: ignore[no-any-return]

    def may_post_now(self, now: float, *, incident_type: str, severity: str, disaster: bool,
                     closed: ClosureDays = NO_CLOSURES) -> bool:
        return bool(self.policy.may_post_now(now, incident_type=incident_type, severity=severity,
                                             disaster=disaster, closed=closed))

    def next_business_open(self, now: float, closed: ClosureDays = NO_CLOSURES) -> float:
        return float(self.policy.next_business_open(now, closed))

    def check_approval(self, approval: Approval, *, drafter: str, draft_id: str, draft_hash: str,
                       now: float) -> Verdict:
        return self.policy.check_approval(  # type: ignore[no-any-return]
            approval, drafter=drafter, draft_id=draft_id, draft_hash=draft_hash, now=now)

    def draft_hash(self, texts: Mapping[str, str]) -> str:
        return str(self.policy.draft_hash(texts))

    def check_preapproved_post(self, category: str, *, poster_role: str) -> Verdict:
        return self.policy.check_preapproved_post(category, poster_role=poster_role)  # type: ignore[no-any-return]

    def prepost_check(self, text: str, *, trusted_domains: Sequence[str] = (),
                      official_contacts: Sequence[str] = ()) -> Sequence[CheckFinding]:
        return self.checks.prepost_check(  # type: ignore[no-any-return]
            text, trusted_domains=tuple(trusted_domains), official_contacts=tuple(official_contacts))

    def blocking(self, findings: Sequence[CheckFinding]) -> bool:
        return bool(self.checks.blocking(tuple(findings)))


def default_rules() -> Rules:
    """The municipality's real rules. Imported here, not at module level, so the
    engine loads (and its tests run) without the policy modules."""
    from playbooks import checks, policy

    return PolicyRules(policy=policy, checks=checks)
