"""Whether a process is ready, decided from what it observed: the worker (partitions, recovery,
consuming, lag) and `noroshi sources` (its producer, each source). Pure: the caller passes what it
saw and `now`; the HTTP servers (streams/http.py, sources/http.py) answer /readyz with the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The worker counts as consuming while its last message or fetch is at most this old (seconds).
CONSUMING_WITHIN_S = 15.0


@dataclass(frozen=True, slots=True)
class Check:
    """One condition of readiness, with what an operator reads when it fails (Japanese first)."""

    name: str
    ok: bool
    ja: str = ""
    en: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "ja": self.ja, "en": self.en}


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: tuple[Check, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "failing": self.failing,
                "checks": [c.to_dict() for c in self.checks], **self.detail}


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the worker's HTTP server saw of its Faust app."""

    assigned: int  # partitions assigned to this worker (its group's topics)
    rebalancing: bool
    recovered: bool  # table recovery completed
    last_activity: float | None  # epoch seconds of the last message or fetch; None: none yet
    lag: int | None  # messages not yet consumed over the assigned partitions; None: not known yet


def worker_readiness(view: WorkerView, now: float, *, max_lag: int,
                     consuming_within_s: float = CONSUMING_WITHIN_S) -> Readiness:
    """Ready: partitions assigned (no rebalance under way), tables recovered, consuming (a message
    or a fetch within `consuming_within_s`), and the consumer lag at most `max_lag`."""
    assigned = view.assigned > 0 and not view.rebalancing
    age = None if view.last_activity is None else max(0.0, now - view.last_activity)
    consuming = age is not None and age <= consuming_within_s
    lag_ok = view.lag is not None and view.lag <= max_lag
    return Readiness(checks=(
        Check("assigned", assigned,
              *(("", "") if assigned else (
                  "パーティションの割り当て待ち（リバランス中）" if view.rebalancing else "パーティションが割り当てられていません",
                  "rebalancing" if view.rebalancing else "no partition assigned"))),
        Check("recovered", view.recovered,
              *(("", "") if view.recovered else ("テーブルの復元中", "table recovery not completed"))),
        Check("consuming", consuming,
              *(("", "") if consuming else (
                  "ブローカーからまだ受信していません" if age is None else
                  f"ブローカーから {age:.0f} 秒受信がありません",
                  "nothing fetched from the broker yet" if age is None else
                  f"nothing fetched from the broker for {age:.0f} s (bound {consuming_within_s:.0f} s)"))),
        Check("lag", lag_ok,
              *(("", "") if lag_ok else (
                  "未処理件数がまだ分かりません" if view.lag is None else
                  f"未処理 {view.lag:,} 件（上限 {max_lag:,} 件）",
                  "consumer lag not known yet" if view.lag is None else
                  f"consumer lag {view.lag:,} messages, over {max_lag:,}"))),
    ), detail={"lag": view.lag, "assigned_partitions": view.assigned,
               "last_activity_age_s": None if age is None else round(age, 3)})


@dataclass(frozen=True, slots=True)
class SourceView:
    name: str
    enabled: bool
    running: bool  # its task is alive (not ended, not crashed)
    connected: bool | None = None  # None: the source has no connection of its own to report


def sources_readiness(producer_connected: bool, sources: list[SourceView]) -> Readiness:
    """Ready: the sinks' producer is connected and every enabled source is running."""
    stopped = [s.name for s in sources if s.enabled and not s.running]
    return Readiness(checks=(
        Check("producer", producer_connected,
              *(("", "") if producer_connected else ("ブローカーへの送信者が接続していません",
                                                    "the producer is not connected to the broker"))),
        Check("sources", not stopped,
              *(("", "") if not stopped else (f"停止しているソース: {', '.join(stopped)}",
                                              f"sources not running: {', '.join(stopped)}"))),
    ), detail={"sources": [{"name": s.name, "enabled": s.enabled, "running": s.running,
                            "connected": s.connected} for s in sources]})
