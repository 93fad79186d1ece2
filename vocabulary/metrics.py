"""Every Prometheus metric of Noroshi, in the process's default registry, and the words their labels
may take. Each process serves the ones it sets on `GET /metrics` (the worker and `noroshi sources`
on their own HTTP port, the board beside its pages).

Labels are bounded: a topic, a partition, a channel, a source, a reason word, an incident type, an
HTTP status code. Never an id (incident, event, municipality key as typed by a sender) — a label
value that grows with traffic would make a series per message. Free text is turned into one of a
few words by the helpers below before it becomes a label.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from vocabulary.records import BROKER_LOG_LOST, STATE_TOO_LARGE

log = structlog.get_logger(__name__)

#: Arrival → detection takes milliseconds when the worker keeps up; minutes when it is behind.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Event time → detection also counts the platform's and the source's delay, and a replay's age.
EVENT_LATENCY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)

# --- the worker ------------------------------------------------------------------------------

CONSUMER_LAG = Gauge(
    "noroshi_consumer_lag_messages",
    "Messages of a partition not yet consumed: the broker's end offset minus the group's committed "
    "offset, sampled every few seconds for the partitions assigned to this worker.",
    ["group", "topic", "partition"])

EVENTS = Counter(
    "noroshi_events_total",
    "Input messages the detect stage took, by topic and outcome: processed (fed to the detectors), "
    "dead_lettered (could not be used), skipped (already applied, a redelivery), heartbeat.",
    ["topic", "outcome"])

#: The outcomes of EVENTS.
EVENT_OUTCOMES = ("processed", "dead_lettered", "skipped", "heartbeat")

DETECTION_LATENCY = Histogram(
    "noroshi_detection_latency_seconds",
    "Seconds from a message's arrival at the worker (fetched from the broker) to the end of its "
    "detection: the worker's own share; the time a message waits at the broker is not in it.",
    buckets=LATENCY_BUCKETS)

DETECTION_EVENT_LATENCY = Histogram(
    "noroshi_detection_event_time_latency_seconds",
    "Seconds from an event's own time (when it was posted) to the end of its detection.",
    buckets=EVENT_LATENCY_BUCKETS)

PROFILES_REFUSED = Gauge(
    "noroshi_profiles_refused",
    "Profile files refused when this process started (broken JSON, a field that cannot be read): "
    "their municipalities are not watched.")

DEADLETTERS = Counter(
    "noroshi_deadletters_total",
    "Dead letters sent, by the word of their reason (see DEADLETTER_REASONS).",
    ["reason"])

#: The reason words of DEADLETTERS.
DEADLETTER_REASONS = ("contract", "unknown_municipality", "too_large", "detector_failed", "playbook_input",
                      "effect", "state_too_large", "broker_log_lost", "other")

EVENTS_RESTAMPED = Counter(
    "noroshi_events_restamped_total",
    "Input events whose own time could not be trusted and that the detectors saw at another time, by "
    "reason: ahead_of_arrival (stamped more than 15 minutes after the worker received it), "
    "ahead_of_stream (a drill's event far ahead of what its stream confirmed); see "
    "streams/detectors/event_time.py.",
    ["reason"])

CHECKPOINTS = Counter(
    "noroshi_detector_checkpoints_total",
    "Detector-state checkpoints written to the table (streams/stage.py CheckpointPolicy): a "
    "municipality's state is kept in memory and written now and then, not after every batch.")

CHECKPOINT_BYTES = Counter(
    "noroshi_detector_checkpoint_bytes_total",
    "Bytes of the detector-state checkpoints written to the table's changelog.")

REPLAYED = Counter(
    "noroshi_detector_replayed_messages_total",
    "Input messages read again after a restart or a rebalance because the last checkpoints did not "
    "hold them (streams/app.py catch_up); each is applied once, what a checkpoint held is skipped.")

INPUT_GAPS_REFETCHED = Counter(
    "noroshi_input_gaps_refetched_total",
    "Messages the stream skipped and the gap guard fetched again from the broker (streams/gaps.py).")

INCIDENTS_OPENED = Counter(
    "noroshi_incidents_opened_total",
    "Incidents the detectors opened, by type (flame, impersonation, misinformation, disaster, …).",
    ["type"])

DELIVERIES = Counter(
    "noroshi_deliveries_total",
    "Deliveries that ended, by channel, outcome (delivered, failed, possibly_sent) and code: the "
    "failure's code (timeout, unreachable, tls, rate_limited, server, credentials, forbidden, refused, "
    "config, circuit_open; responders.base.FAILURE_CODES), `none` when it was delivered.",
    ["channel", "outcome", "code"])

CIRCUIT_OPEN = Gauge(
    "noroshi_circuit_open",
    "1 while the circuit breaker of a channel is open (its sends are held back), else 0.",
    ["channel"])

HEARTBEAT_AGE = Gauge(
    "noroshi_heartbeat_age_seconds",
    "Seconds since the last heartbeat of an input partition came out at the far end of the pipeline.",
    ["partition"])

# --- noroshi sources -------------------------------------------------------------------------

SOURCE_CONNECTED = Gauge(
    "noroshi_source_connected",
    "1 while a source is connected to its platform (or its receiver is listening), else 0.",
    ["source"])

SOURCE_LAST_EVENT_AGE = Gauge(
    "noroshi_source_last_event_age_seconds",
    "Seconds since a source last produced an event (measured at scrape time); absent before its first.",
    ["source"])

JMA_LAST_POLL_AGE = Gauge(
    "noroshi_jma_last_poll_age_seconds",
    "Seconds since the JMA feed was last polled successfully (measured at scrape time).")

# --- the board -------------------------------------------------------------------------------

BOARD_SSE_CLIENTS = Gauge(
    "noroshi_board_sse_clients",
    "Browsers connected to the board's live feed (server-sent events).")


# --- the watchdog (lookout/) -----------------------------------------------------------------

WATCHDOG_CONDITIONS_FIRING = Gauge(
    "noroshi_watchdog_conditions_firing",
    "Conditions the watchdog finds firing now, by rule (heartbeat_late, component_down, broker_unreachable, "
    "consumer_lag, circuit_open, deadletter_spike, profiles_refused, source_disconnected, source_silent).",
    ["rule"])

WATCHDOG_NOTIFICATIONS = Counter(
    "noroshi_watchdog_notifications_total",
    "The watchdog's sends, one per recipient, by kind (alert, repeat, resolved) and outcome (delivered, failed).",
    ["kind", "outcome"])

WATCHDOG_CHECK_FAILURES = Counter(
    "noroshi_watchdog_check_failures_total",
    "Rounds of the watchdog's checks that failed as a whole (a bug; its log says which).")


# --- bounded label words ---------------------------------------------------------------------

#: A reason's beginning → its word; the first that matches wins.
_REASON_STARTS: tuple[tuple[str, str], ...] = (
    ("contract:", "contract"),
    ("unknown municipality key", "unknown_municipality"),
    ("message has no key", "unknown_municipality"),
    (STATE_TOO_LARGE, "state_too_large"),
    (BROKER_LOG_LOST, "broker_log_lost"),
    ("detector failed", "detector_failed"),
    ("bad playbook input", "playbook_input"),
    ("playbook failed", "playbook_input"),
    ("bad effect", "effect"),
    ("respond failed", "effect"),
    ("too large", "too_large"),
    ("too_large", "too_large"),
)


def deadletter_reason(reason: str) -> str:
    """The bounded word (one of DEADLETTER_REASONS) for a dead letter's free-text reason."""
    text = reason.lstrip()
    lowered = text.lower()
    for start, word in _REASON_STARTS:
        if lowered.startswith(start):
            return word
    return "other"


def status_code(code: int | str | None) -> str:
    """An HTTP status code as a label: `200`, `503`…; `none` when there was none or it is not one."""
    try:
        number = int(code)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "none"
    return str(number) if 100 <= number <= 599 else "none"


#: Characters a label word built from a name (a channel, a source, an incident type) may keep.
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.:")


def word(name: str | None, fallback: str = "other", limit: int = 40) -> str:
    """A short lower-case word for a name from configuration or code (never from a message)."""
    text = (name or "").strip().lower()
    if not text or len(text) > limit or not set(text) <= _WORD_CHARS:
        return fallback
    return text


# --- the scrape ------------------------------------------------------------------------------

#: Callables run before each scrape: they set the gauges measured at scrape time (ages, lag).
_SCRAPE_HOOKS: list[Callable[[], None]] = []


def on_scrape(hook: Callable[[], None]) -> Callable[[], None]:
    """Run `hook` before every scrape of this process's /metrics (e.g. to set an age from a time)."""
    _SCRAPE_HOOKS.append(hook)
    return hook


def exposition() -> tuple[bytes, str]:
    """This process's metrics in the Prometheus text format, and its content type. A hook that
    fails leaves its gauges as they were; it never takes the scrape down."""
    for hook in list(_SCRAPE_HOOKS):
        try:
            hook()
        except Exception:  # noqa: BLE001 - the scrape still answers with what it has
            _SCRAPE_FAILURES.inc()
            log.exception("metrics_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))
    return generate_latest(), CONTENT_TYPE_LATEST


_SCRAPE_FAILURES = Counter(
    "noroshi_scrape_hook_failures_total",
    "Times a gauge measured at scrape time could not be set (its last value is served).")
