"""One logging pipeline for Noroshi, Faust, mode and aiokafka.

structlog renders JSON lines (via orjson) in production and readable lines on
a terminal; the standard library's loggers (Faust's, aiokafka's) are routed
through the same processors, so every line has the same shape.

A library error that repeats (aiokafka logs every failed connection attempt, ~85
lines a second while the broker is down) is logged the first time, then once a
minute as a count (`RepeatFilter`): the first line says what happened, the count
says it goes on, and the log stays readable.
"""

from __future__ import annotations

import atexit
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import structlog


def _orjson_dumps(obj: object, default: object = None) -> str:
    return orjson.dumps(obj, default=default).decode()  # type: ignore[arg-type]


#: A repeated library warning or error is logged once per this many seconds, then counted.
REPEAT_WINDOW_S = 60.0
_NUMBERS = re.compile(r"\d+")


@dataclass
class _Repeats:
    since: float  # when the line last went out
    level: int
    sample: str  # the last message held back, as it was
    held: int = 0  # lines held back since


class RepeatFilter(logging.Filter):
    """Lets a repeated warning or error of a library logger through once per `window` seconds.

    Lines are the same when their logger and level match and their messages match with every
    number taken out (node ids, ports, counts, errno). The lines held back are reported as one
    line per kind, "N more in the last minute", as soon as the window has passed and anything is
    logged, and at exit. Noroshi's own structlog events are never held back: they are logged
    once per fault already.
    """

    def __init__(self, window: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic,
                 level: int = logging.WARNING) -> None:
        super().__init__()
        self.window, self.clock, self.level = window, clock, level
        self._seen: dict[tuple[str, int, str], _Repeats] = {}
        self._lock = threading.Lock()
        self._reporting = threading.local()
        self._next_scan = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self._reporting, "on", False):
            return True  # our own count line
        now = self.clock()
        self._report_due(now)
        if record.levelno < self.level or not isinstance(record.msg, str):
            return True  # below warnings, or a structlog event of ours
        message = record.getMessage()
        key = (record.name, record.levelno, _NUMBERS.sub("#", message))
        with self._lock:
            seen = self._seen.get(key)
            if seen is None or (now - seen.since >= self.window and seen.held == 0):
                self._seen[key] = _Repeats(since=now, level=record.levelno, sample=message)
                return True
            seen.held += 1
            seen.sample = message
            return False

    def _report_due(self, now: float) -> None:
        """Counts whose minute has passed are said; kinds quiet for a minute are forgotten."""
        with self._lock:
            if now < self._next_scan:
                return
            self._next_scan = now + min(1.0, self.window)
            due, quiet = [], []
            for key, seen in self._seen.items():
                if now - seen.since >= self.window:
                    (due if seen.held else quiet).append((key, seen))
            for key, _ in quiet:
                del self._seen[key]
            for key, seen in due:
                self._seen[key] = _Repeats(since=now, level=seen.level, sample=seen.sample)
        for (name, _, _), seen in due:
            self._say(name, seen)

    def flush(self) -> None:
        """Report every count still held back (at exit)."""
        with self._lock:
            due = [(key, _Repeats(seen.since, seen.level, seen.sample, seen.held))
                   for key, seen in self._seen.items() if seen.held]
            for key, _ in due:
                self._seen[key].held = 0
        for (name, _, _), seen in due:
            self._say(name, seen)

    def _say(self, name: str, seen: _Repeats) -> None:
        self._reporting.on = True
        try:
            logging.getLogger(name).log(
                seen.level, "%s more in the last minute like: %s", seen.held, seen.sample,
                extra={"repeated": seen.held, "window_s": self.window})
        finally:
            self._reporting.on = False


_repeats: RepeatFilter | None = None


def configure(fmt: str = "auto", level: str = "INFO") -> None:
    """Configure structlog and route stdlib logging through it. Idempotent."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if fmt == "json":
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer(
            serializer=_orjson_dumps
        )
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    global _repeats
    if _repeats is None:
        _repeats = RepeatFilter()
        atexit.register(_repeats.flush)
    handler.addFilter(_repeats)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka is chatty at INFO about every group join; its warnings still come through.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
