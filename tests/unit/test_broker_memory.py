"""`noroshi run` warns before the embedded broker's memory becomes a problem (fake RSS, fake clock)."""

from __future__ import annotations

import os

from noroshi.stack import (MEMORY_REMIND_S, MEMORY_SAMPLE_S, MIB, BrokerMemoryWatch, machine_memory_bytes,
                           memory_warn_bytes, rss_bytes)
from vocabulary.settings import Settings


class FakeRSS:
    def __init__(self, mib: int) -> None:
        self.mib, self.reads = mib, 0

    def __call__(self, pid: int) -> int:
        self.reads += 1
        return self.mib * MIB


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watch(rss: FakeRSS, clock: Clock, limit_mib: int = 500) -> BrokerMemoryWatch:
    return BrokerMemoryWatch(4242, limit_mib * MIB, read_rss=rss, clock=clock)


def test_no_warning_while_the_broker_stays_under_the_threshold() -> None:
    rss, clock = FakeRSS(100), Clock()
    watch = _watch(rss, clock)
    assert watch.tend() is None


def test_past_the_threshold_it_warns_in_japanese_first_with_the_figures() -> None:
    watch = _watch(FakeRSS(612), Clock())
    message = watch.tend()
    assert message is not None
    assert message.startswith("組み込みブローカーのメモリ使用量が 612 MiB")
    assert "500 MiB" in message and "/ The embedded broker uses 612 MiB" in message
    assert "NOROSHI_BROKER_MEMORY_WARN_MB" in message


def test_it_reads_the_memory_once_a_sample_interval_not_every_poll() -> None:
    rss, clock = FakeRSS(100), Clock()
    watch = _watch(rss, clock)
    watch.tend()
    clock.now += MEMORY_SAMPLE_S / 2
    watch.tend()
    assert rss.reads == 1
    clock.now += MEMORY_SAMPLE_S / 2
    watch.tend()
    assert rss.reads == 2


def test_it_warns_once_then_reminds_after_an_hour_while_it_stays_past() -> None:
    rss, clock = FakeRSS(100), Clock()
    watch = _watch(rss, clock)
    assert watch.tend() is None
    rss.mib = 700
    clock.now += MEMORY_SAMPLE_S
    assert watch.tend() is not None
    clock.now += MEMORY_SAMPLE_S
    assert watch.tend() is None
    clock.now += MEMORY_REMIND_S
    assert watch.tend() is not None


def test_an_unreadable_process_gives_no_warning() -> None:
    watch = BrokerMemoryWatch(4242, MIB, read_rss=lambda pid: None, clock=Clock())
    assert watch.tend() is None


def test_the_threshold_is_the_setting_or_half_the_machine_s_memory() -> None:
    embedded = Settings.from_env({})
    assert memory_warn_bytes(embedded, 8 * 1024 * MIB) == 4 * 1024 * MIB
    assert memory_warn_bytes(embedded, None) is None
    set_ = Settings.from_env({"NOROSHI_BROKER_MEMORY_WARN_MB": "750"})
    assert memory_warn_bytes(set_, 8 * 1024 * MIB) == 750 * MIB


def test_the_real_readers_read_this_process_and_this_machine() -> None:
    own, machine = rss_bytes(os.getpid()), machine_memory_bytes()
    assert own is not None and machine is not None and 0 < own < machine
