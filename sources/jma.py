"""気象庁防災情報XML (JMA disaster-information XML): the municipality's official warnings and
earthquake reports as contract `alert` events, the ones that can suggest disaster mode.

`JmaSource` polls JMA's Atom feeds — `extra.xml` (随時: 警報・注意報, 土砂災害警戒情報,
記録的短時間大雨情報, 指定河川洪水予報) and `eqvol.xml` (地震・火山) by default — with
`If-Modified-Since`, reads the entries it has not seen, fetches the detail XML of the kinds
below and publishes one `alert` per report that concerns the municipality:

| types          | report                                 | ours when                                |
|----------------|----------------------------------------|------------------------------------------|
| VPWW55–VPWW61  | 気象警報・注意報（Ｒ０６）, one per phenomenon | a 市町村等 item is our city            |
| VXSE51         | 震度速報                                | a 震度 is reported in one of our areas     |
| VXSE53         | 震源・震度に関する情報                    | our city has a 震度 (else one of our areas) |
| VXWW50         | 土砂災害警戒情報                         | our city is listed                        |
| VPOA50         | 記録的短時間大雨情報                      | our city is named (「和光市付近」)          |
| VXKO50–VXKO89  | 指定河川洪水予報                         | our city is in a 浸水想定地区, or the river is one of `rivers` |

The R06 warnings (in use since 2026-05-29) name the level in the kind (レベル４大雨危険警報).
VPWW53 / VPWW54 (気象特別警報・警報・注意報, 気象警報・注意報（Ｈ２７）), still sent in the
transition, repeat them with the older names; the same parser reads them, but they are off
by default (`with_types(config, *LEGACY_WARNINGS)` turns them on) so that one warning is not
three alerts. The high-frequency feeds hold about ten minutes; after a longer outage, add
the long feed (`extra_l.xml`) to `feeds` to catch up (`max_age_s` bounds how far back).

"Our city" is an area whose code is one of `JmaConfig.area_codes` (7-digit 市町村 codes, e.g.
1122900 for 和光市; a 5-digit 全国地方公共団体コード is widened with "00"; for a 政令市 list
the wards' codes too, since earthquake reports name wards 「さいたま中央区」). Without codes, an
area whose name is the profile's name or one of its names (a ward 「さいたま市中央区」 or part
「静岡市南部」 of it counts) — set the codes: some names exist in two prefectures. The
contract's profile carries no JMA code, so `JmaConfig.for_profile` also reads an optional
`municipality.jma_area_codes` list (and `jma_rivers`) from the profile file.

Each alert has `source: "jma"`, `platform: "web"`, `ts` = the report's `ReportDateTime`, a
`title` the disaster detector reads (the kinds in effect 「レベル３大雨警報・雷注意報（和光市）」,
「…解除」 when no warning is left, 「震源・震度に関する情報：和光市 震度4」), `severity`
(`emergency` 特別警報・震度6弱以上・氾濫発生, `warning`, `advisory` 注意報, `info`), `areas`,
`text`, and extra fields: `level` (警戒レベル相当 1–5 where JMA gives one, else null),
`url` (the detail XML) and `jma` (`type`, `event_id`, `serial`, `info_type`, `office`).
Earthquake texts name only our own 震度, since the detector reads the largest 震度 in them.
A JMA 訓練 report gets `drill: true`; 試験 reports and 取消 (cancellations, which carry no
area) are skipped.

The id is the detail file's name, `jma:<yyyymmddhhmmss>_<n>_<type>_<office>` — one report,
one id — so a feed entry read again is never published twice; the ids already fetched are
also kept (bounded) in the source's `Cursor`, with each feed's `Last-Modified`. A detail XML
that is not well formed, or not a JMA report, goes to the dead letters with the reason and
the other entries go on. A feed or detail that cannot be fetched (network, 5xx) is retried
with `Backoff`, from the first entry not yet done.

This module is the poller; what it polls and what is our area are in `sources.jma_config`,
the Atom feed and the XML helpers in `sources.jma_feed`, the reports read into alerts
(pure) in `sources.jma_reports`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp
import structlog

from vocabulary.contract import Profile
from sources.base import Cursor, Sink, sleep_or_stop
from vocabulary.waits import Backoff, retry_after_seconds
from sources.jma_config import SOURCE, JmaConfig, Place
from sources.jma_feed import Entry, JmaXmlError, fresh_entries, parse_feed
from sources.jma_reports import alert_from_report

log = structlog.get_logger(__name__)


class JmaUnavailable(Exception):
    """JMA's server did not answer usefully (network, 5xx, 429): try again after a backoff."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- the poller ----------------------------------------------------------------------------


class JmaSource:
    """Polls the feeds and publishes alerts: `await JmaSource(config, profile).run(sink, stop)`."""

    name = SOURCE

    def __init__(self, config: JmaConfig, profile: Profile, *, cursor: Cursor | None = None,
                 session: aiohttp.ClientSession | None = None, backoff: Backoff | None = None) -> None:
        self.config = config
        self.place = Place.of(profile, config)
        self.cursor = cursor or Cursor(None, SOURCE)
        self.backoff = backoff or Backoff(base_s=5.0, cap_s=600.0)
        self._session = session
        #: For /metrics and /readyz (sources/http.py): the last poll that read every feed, and
        #: whether the last poll did.
        self.last_poll_at: float | None = None
        self.connected = True
        state = self.cursor.load()
        seen = state.get("seen")
        self.seen: dict[str, None] = dict.fromkeys(s for s in seen if isinstance(s, str)) \
            if isinstance(seen, list) else {}
        modified = state.get("last_modified")
        self.last_modified: dict[str, str] = {k: v for k, v in modified.items() if isinstance(v, str)} \
            if isinstance(modified, dict) else {}

    def _remember(self, entry_id: str) -> None:
        self.seen[entry_id] = None
        while len(self.seen) > self.config.seen_cap:
            del self.seen[next(iter(self.seen))]

    def _save(self) -> None:
        self.cursor.save({"seen": list(self.seen), "last_modified": self.last_modified})

    async def _get(self, session: aiohttp.ClientSession, url: str,
                   headers: Mapping[str, str] | None = None) -> tuple[int, bytes, str | None]:
        """(status, body, Last-Modified); JmaUnavailable for what a retry may cure."""
        try:
            async with session.get(url, headers=headers or {}, allow_redirects=True) as resp:
                if resp.status == 429 or resp.status >= 500:
                    raise JmaUnavailable(f"HTTP {resp.status} from {url}",
                                         retry_after_seconds(resp.headers.get("Retry-After"), time.time()) or 0.0)
                if resp.status != 200:
                    return resp.status, b"", None
                if (resp.content_length or 0) > self.config.max_bytes:
                    raise JmaXmlError(f"{url}: larger than {self.config.max_bytes} bytes")
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.config.max_bytes:
                        raise JmaXmlError(f"{url}: larger than {self.config.max_bytes} bytes")
                    chunks.append(chunk)
                return resp.status, b"".join(chunks), resp.headers.get("Last-Modified")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise JmaUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None

    async def poll_once(self, session: aiohttp.ClientSession, sink: Sink) -> int:
        """Read each feed once and publish what is new; the number of alerts published.

        A feed that fails does not hold up the others (an earthquake report must not wait
        for a warning); the first failure is raised once all have been tried."""
        published, failure = 0, None
        try:
            for feed_url in self.config.feeds:
                try:
                    published += await self._poll_feed(session, sink, feed_url)
                except JmaUnavailable as exc:
                    failure = failure or exc
        finally:
            self._save()
        if failure is not None:
            raise failure
        return published

    async def _poll_feed(self, session: aiohttp.ClientSession, sink: Sink, feed_url: str) -> int:
        headers = {"If-Modified-Since": self.last_modified[feed_url]} if feed_url in self.last_modified else {}
        try:
            status, body, modified = await self._get(session, feed_url, headers)
        except JmaXmlError as exc:
            raise JmaUnavailable(str(exc)) from None
        if status == 304:
            return 0
        if status != 200:
            raise JmaUnavailable(f"HTTP {status} from {feed_url}")
        try:
            updated, entries = parse_feed(body, feed_url)
        except JmaXmlError as exc:
            raise JmaUnavailable(f"{feed_url}: {exc}") from None  # a feed half-written: read it again later
        published = 0
        for entry in fresh_entries(entries, updated, seen=self.seen, config=self.config):
            published += await self._take(session, sink, entry)
            self._remember(entry.id)
        if modified:
            self.last_modified[feed_url] = modified  # only once every entry is done
        return published

    async def _take(self, session: aiohttp.ClientSession, sink: Sink, entry: Entry) -> int:
        try:
            status, body, _ = await self._get(session, entry.url)
        except JmaXmlError as exc:  # too large
            return await self._reject(sink, entry, entry.url.encode(), str(exc))
        if status != 200:  # gone (404): a retry will not bring it back
            return await self._reject(sink, entry, entry.url.encode(), f"{entry.url}: HTTP {status}")
        try:
            alert = alert_from_report(body, entry, self.place)
        except JmaXmlError as exc:
            return await self._reject(sink, entry, body, str(exc))
        if alert is None or not await sink.publish(alert):
            return 0
        log.info("jma_alert_published", alert_id=alert["id"], title=alert["title"], severity=alert["severity"])
        return 1

    async def _reject(self, sink: Sink, entry: Entry, raw: bytes, reason: str) -> int:
        log.warning("jma_report_rejected", entry=entry.id, reason=reason)
        await sink.reject(raw, f"{SOURCE}: {reason}", SOURCE)
        return 0

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; after a failure wait with `Backoff`, then go on."""
        session = self._session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            headers={"User-Agent": self.config.user_agent})
        try:
            while not stop.is_set():
                try:
                    await self.poll_once(session, sink)
                except JmaUnavailable as exc:
                    self.connected = False
                    delay = self.backoff.next_delay(exc.retry_after)
                    log.warning("jma_poll_failed", reason=str(exc), retry_in_s=round(delay, 1))
                except Exception:  # noqa: BLE001 — a source keeps going; the log has the trace
                    delay = self.backoff.next_delay()
                    log.exception("jma_poll_crashed", retry_in_s=round(delay, 1))
                else:
                    self.last_poll_at, self.connected = time.time(), True
                    self.backoff.reset()
                    delay = self.config.poll_interval_s
                if await sleep_or_stop(delay, stop):
                    break
        finally:
            if self._session is None:
                await session.close()
