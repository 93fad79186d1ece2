"""The sign-out store is shared by every board process: several starting at once must all open it."""
from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from pathlib import Path

from dashboards.session import RevokedSessions


def _open(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    store = RevokedSessions(Path(path))
    store.revoke("sid-" + str(multiprocessing.current_process().pid), 2**40, 0)


def test_boards_starting_at_the_same_moment_all_open_the_store(tmp_path: Path) -> None:
    # Switching to WAL takes an exclusive lock that SQLite does not wait for; before the store
    # retried it, about one start in twenty of six boards at once failed "database is locked".
    context = multiprocessing.get_context("fork")
    for round_ in range(12):
        path = tmp_path / f"round{round_}" / "revoked.sqlite3"
        barrier = context.Barrier(6)
        procs = [context.Process(target=_open, args=(str(path), barrier)) for _ in range(6)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [proc.exitcode for proc in procs] == [0] * 6, f"round {round_}"
        store = RevokedSessions(path)
        assert len(store) == 6 and all(store.is_revoked(f"sid-{proc.pid}") for proc in procs)
        store.close()
