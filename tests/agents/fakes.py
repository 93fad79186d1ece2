"""Fakes for the Faust parts an agent test must not start: a topic's producer, a table's changelog."""

from __future__ import annotations

import asyncio


class FakeSend:
    """Stands in for `topic.send`: records what was sent instead of producing it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, *, key: str, value: bytes, **_: object) -> None:
        self.sent.append((key, value))


class FakeChangelog:
    """Stands in for `table.send_changelog`: records each durable write, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.fail: Exception | None = None

    def __call__(self, partition: int | None, key: str, value: bytes) -> asyncio.Future[None]:
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            acked.set_exception(self.fail)
        else:
            self.sent.append((key, value))
            acked.set_result(None)
        return acked
