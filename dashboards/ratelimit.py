"""Login attempt limits: guessing passwords must be slow, locking out the person on call impossible.

Failures are counted in a sliding window for one name from one address (5), for one
address whatever the name (20) and for one name from anywhere (50): the first stops
plain guessing, the second a spray over many names, the third a guess spread over
many addresses. The first and the third refuse at once, right password or not.

The address limit does not: behind an office NAT or a reverse proxy one address is the
whole 広報課, and one script must not lock them all out. Once an address is over its
limit, a name that has not failed from it in the window still gets its tries (two: a
typo and a retry) — the password is checked, a right one signs in, a wrong one counts —
while names that have failed there twice are refused unchecked. A spray from one address
so gets at most two guesses per name per window past its limit, and every guess still
counts against that name everywhere (50 per window, from all addresses together). Names that do not exist are treated alike
(the board waits as long as a check would take), so the answers tell nothing about
which names exist.

A browser that has signed in as a name before (the device cookie, dashboards/session.py)
skips the per-name and the per-address limits for that name: only five failures of that
one cookie stop it. A guess spread over many addresses refuses the name to new browsers
for the window, never to the operator's own phone.

Which address counts is `client_address`: the peer, or — only when the peer is a trusted
proxy (NOROSHI_BOARD_TRUSTED_PROXIES) — the rightmost `X-Forwarded-For` hop that is not
one. IPv6 clients are counted per /64, the block one subscriber gets.

Bounded: only the most recently seen keys are kept. Per process: several board
processes each keep their own counts.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

WINDOW_S = 15 * 60
IPv4Or6 = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limits:
    per_name_and_address: int = 5
    per_address: int = 20
    per_name: int = 50
    #: Tries a name still gets from an address that is over its limit: a typo and a retry.
    gated_tries: int = 2
    window_s: float = WINDOW_S
    max_keys: int = 10_000


@dataclass(frozen=True)
class Verdict:
    """What a sign-in attempt may do. `wait > 0`: refused without looking at the password,
    for that many seconds. `gated`: the address is over its limit but this name has not
    failed from it (more than `gated_tries` allows), so its password is checked; once its
    tries are used up the answer is "limited", with `address_wait` as the time to wait."""

    wait: float = 0.0
    gated: bool = False
    address_wait: float = 0.0


class LoginLimiter:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        #: Seconds a password check typically takes (argon2): a refusal that must not be told
        #: apart from a checked wrong password waits this long. Updated by the board.
        self.verify_cost = 0.05

    def _keys(self, name: str, address: str) -> tuple[tuple[tuple[str, str], int], ...]:
        name = name.strip().casefold()[:64]
        address = address_key(address)
        return ((("pair", f"{name}\x00{address}"), self.limits.per_name_and_address),
                (("address", address), self.limits.per_address),
                (("name", name), self.limits.per_name))

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.limits.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> tuple[float, int]:
        """(seconds until this key is under its limit, failures in the window)."""
        times = self._recent(key, now)
        if times is None:
            return 0.0, 0
        if len(times) < limit:
            return 0.0, len(times)
        return max(0.0, times[-limit] + self.limits.window_s - now), len(times)

    def check(self, name: str, address: str, now: float, device: str = "") -> Verdict:
        """`device`: the id of a device cookie this browser holds for `name`, if any."""
        if device:
            return Verdict(wait=self._wait(("device", device), self.limits.per_name_and_address, now)[0])
        (pair, pair_limit), (addr, addr_limit), (named, name_limit) = self._keys(name, address)
        pair_wait, pair_failures = self._wait(pair, pair_limit, now)
        name_wait, _ = self._wait(named, name_limit, now)
        address_wait, _ = self._wait(addr, addr_limit, now)
        hard = max(pair_wait, name_wait)
        if hard > 0:
            return Verdict(wait=hard)
        if address_wait > 0:
            if pair_failures < self.limits.gated_tries:
                return Verdict(gated=True, address_wait=address_wait)
            return Verdict(wait=address_wait)
        return Verdict()

    def retry_after(self, name: str, address: str, now: float) -> float:
        """Seconds before this name may be tried from this address unchecked; 0 when it may now."""
        verdict = self.check(name, address, now)
        return max(verdict.wait, verdict.address_wait)

    def failed(self, name: str, address: str, now: float, device: str = "") -> None:
        keys = self._keys(name, address)
        if device:
            keys += ((("device", device), self.limits.per_name_and_address),)
        for key, limit in keys:
            times = self._failures.get(key)
            if times is None:
                times = self._failures[key] = deque(maxlen=limit)
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.limits.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, name: str, address: str, device: str = "") -> None:
        """A right password clears that name's failures from that address (not the others)."""
        self._failures.pop(self._keys(name, address)[0][0], None)
        self._failures.pop(("device", device), None)

    def checked(self, seconds: float) -> None:
        """A password check took `seconds`: a running average, bounded against outliers."""
        self.verify_cost = 0.8 * self.verify_cost + 0.2 * min(max(seconds, 0.0), 2.0)


# --- which address counts -------------------------------------------------------------

def _ip(text: str) -> IPv4Or6 | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:51234"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=16)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: tuple[str, ...]) -> str:
    """The address a sign-in attempt counts against. `X-Forwarded-For` is believed only when
    the direct peer is a trusted proxy; then the client is the rightmost hop that is not a
    trusted proxy (hops further left are whatever the client chose to send). A hop that is
    not an address ends the walk at the last proxy that was trusted."""
    peer_ip = _ip(peer or "")
    if peer_ip is None:
        return peer or "?"
    networks = trusted_networks(proxies)
    if not any(peer_ip in n for n in networks):
        return str(peer_ip)
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    client = peer_ip
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        client = ip
        if not any(ip in n for n in networks):
            break
    return str(client)


def address_key(address: str) -> str:
    """One address's bucket: itself, or its /64 for IPv6 (one subscriber's block)."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip) if ip is not None else address
