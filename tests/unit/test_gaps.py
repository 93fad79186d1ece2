"""The detect agent's guard against messages the stream skipped (streams.gaps)."""

from __future__ import annotations

from streams.gaps import MAX_GAP, Gap, GapFiller, fill, find_gaps
from streams.stage import Message

M, A = "noroshi.mentions", "noroshi.accounts"


def msg(offset: int, topic: str = M, partition: int = 1) -> Message:
    return Message(topic=topic, partition=partition, offset=offset, key=b"wako", value=f"{topic}:{offset}".encode())


def offsets(messages: list[Message]) -> list[tuple[str, int]]:
    return [(m.topic[-8:], m.offset) for m in messages]


def test_contiguous_offsets_and_redeliveries_are_no_gap() -> None:
    seen: dict[tuple[str, int], int] = {}
    assert find_gaps(seen, [msg(30), msg(2, A), msg(31), msg(3, A), msg(32)]) == []
    assert find_gaps(seen, [msg(31), msg(32), msg(33), msg(4, A)]) == []
    assert seen == {(M, 1): 33, (A, 1): 4}


def test_a_jump_in_one_partition_is_a_gap_and_only_there() -> None:
    seen = {(M, 1): 29, (A, 1): 1}
    gaps = find_gaps(seen, [msg(30), msg(2, A), msg(31), msg(33), msg(3, A), msg(36), msg(0, M, 0), msg(5, M, 0)])
    assert gaps == [Gap(M, 1, 32, 32), Gap(M, 1, 34, 35), Gap(M, 0, 1, 4)]
    assert seen == {(M, 1): 36, (A, 1): 3, (M, 0): 5}


def test_a_redelivery_after_a_restart_is_not_a_gap_and_keeps_the_high_mark() -> None:
    seen = {(M, 1): 40}
    assert find_gaps(seen, [msg(30), msg(31), msg(41)]) == []
    assert seen[(M, 1)] == 41


def test_fill_puts_each_found_message_back_in_its_place() -> None:
    batch = [msg(30), msg(2, A), msg(31), msg(34), msg(3, A), msg(35)]
    filled = fill(batch, [msg(33), msg(32)])
    assert offsets(filled) == [("mentions", 30), ("accounts", 2), ("mentions", 31), ("mentions", 32),
                               ("mentions", 33), ("mentions", 34), ("accounts", 3), ("mentions", 35)]


async def test_the_filler_reads_the_missing_messages_again_and_the_batch_comes_out_whole() -> None:
    asked: list[Gap] = []

    async def refetch(gap: Gap) -> list[Message]:
        asked.append(gap)
        return [msg(o) for o in range(gap.first - 1, gap.last + 2)]  # the reader may return neighbours too

    filler = GapFiller(refetch)
    assert await filler.complete([msg(30), msg(31)]) == [msg(30), msg(31)]
    out = await filler.complete([msg(32), msg(33), msg(34), msg(35), msg(37), msg(38)])
    assert asked == [Gap(M, 1, 36, 36)]
    assert [m.offset for m in out] == [32, 33, 34, 35, 36, 37, 38]
    assert filler.filled == 1


async def test_what_cannot_be_read_again_is_reported_and_the_rest_goes_on(capsys) -> None:
    async def refetch(gap: Gap) -> list[Message]:
        return [msg(gap.first)]  # one of the two is gone

    filler = GapFiller(refetch)
    await filler.complete([msg(10)])
    out = await filler.complete([msg(13), msg(14)])
    assert [m.offset for m in out] == [11, 13, 14]
    assert "input_gap_refetched" in capsys.readouterr().out


async def test_a_huge_hole_is_not_read_message_by_message() -> None:
    async def refetch(gap: Gap) -> list[Message]:
        raise AssertionError("must not refetch")

    filler = GapFiller(refetch)
    await filler.complete([msg(0)])
    out = await filler.complete([msg(MAX_GAP + 2)])
    assert [m.offset for m in out] == [MAX_GAP + 2]


async def test_after_a_rebalance_the_stream_may_start_anywhere() -> None:
    async def refetch(gap: Gap) -> list[Message]:
        raise AssertionError("must not refetch")

    filler = GapFiller(refetch)
    await filler.complete([msg(10)])
    filler.forget()
    assert [m.offset for m in await filler.complete([msg(50)])] == [50]
