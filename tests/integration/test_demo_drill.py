"""`noroshi run --demo`: the drill reads one clock (issue 17, item 3).

The whole stack as real processes, the drill played fast (`--speed 600`): every time a person
sees of the drill's incidents — opened, 受付期限, each timeline entry, the detector's and the
responders' and the operator's alike — is on the real clock, in order, never ahead of now.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from playbooks.policy import ACK_DEADLINE_S

from .board_client import sign_in
from .test_supervision import alive, descendants, running_stack

pytestmark = pytest.mark.integration


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


async def _drill_seen(base: str, started: float) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await sign_in(http, base, "demo", "test-password")).status == 303
        deadline = time.monotonic() + 90
        while True:
            rows = await (await http.get(base + "/api/incidents")).json()
            if {r["type"] for r in rows} >= {"flame", "impersonation", "misinformation", "disaster"}:
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.5)
        flame = next(r for r in rows if r["type"] == "flame")
        # The operator acknowledges it: a command stamped by the board, on the same clock.
        page = await (await http.get(f"{base}/incidents/{flame['incident_id']}")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        await http.post(f"{base}/incidents/{flame['incident_id']}/actions", allow_redirects=False,
                        data={"csrf": csrf, "action": "acknowledge", "version": str(flame["version"])})
        deadline = time.monotonic() + 30
        while "受付済み" not in (page := await (await http.get(f"{base}/incidents/{flame['incident_id']}")).text()):
            assert time.monotonic() < deadline, "the acknowledgement never came back"
            await asyncio.sleep(0.5)
        now = time.time()
        for row in rows:
            assert row["drill"] is True
            opened = _ts(row["opened_at"])
            assert started - 5 <= opened <= now, row  # on the real clock, not the scenario's hour ahead
            if row["ack_due"]:
                assert _ts(row["ack_due"]) - opened <= ACK_DEADLINE_S[row["severity"]] + 1, row
        times = [_ts(t) for t in re.findall(r'<time datetime="([^"]+)"', page[page.index('id="timeline"'):])]
        assert len(times) >= 3  # detected, notified, acknowledged at least
        assert all(started - 5 <= t <= now for t in times), (started, now, times)
        assert "訓練の時刻は実際の時刻" in page  # the page says which clock


def test_the_demo_drill_reads_the_real_clock_from_detection_to_the_operators_action(tmp_path: Path) -> None:
    started = time.time()
    with running_stack(tmp_path, "--demo", "--speed", "600") as (stack, out_path):
        base = re.search(rb"http://[\w.]+:\d+", out_path.read_bytes())
        assert base is not None, out_path.read_text(errors="replace")[-2000:]
        asyncio.run(_drill_seen(base.group().decode(), started))
        procs = descendants(stack.pid)
        stack.send_signal(signal.SIGTERM)
        assert stack.wait(30) == 0
    assert [p for p in procs if alive(p)] == []  # nothing of the stack is left behind
