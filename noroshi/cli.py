"""The `noroshi` command line: run, worker, board, topics, produce, replay, evaluate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import orjson
import structlog

from noroshi import logs
from noroshi.settings import Settings, SettingsError
from streams.contract import ContractError

log = structlog.get_logger("noroshi")


class UsageError(Exception):
    """A mistake in how a command was called; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noroshi",
        description="狼煙 Noroshi — incident response for municipal social-media accounts.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start broker (embedded unless configured), worker and board")
    run.add_argument("--demo", action="store_true", help="also play the built-in drill scenario")
    run.add_argument("--speed", type=float, default=60.0,
                     help="demo: scenario seconds per wall second (default 60)")

    sub.add_parser("worker", help="run the stream worker (needs NOROSHI_BROKER)")
    sub.add_parser("board", help="run the status board (needs NOROSHI_BROKER)")
    sub.add_parser("topics", help="create Noroshi's topics if missing (needs NOROSHI_BROKER)")

    produce = sub.add_parser("produce", help="publish a scenario file's events")
    produce.add_argument("file", type=Path)
    produce.add_argument("--speed", type=float, default=None,
                         help="pace events at this many scenario seconds per second (default: no pacing)")
    produce.add_argument("--profile", type=Path, default=None,
                         help="municipality profile (default: NAME.profile.json beside the file)")

    replay = sub.add_parser("replay", help="run the detectors over a file in event time, no broker")
    replay.add_argument("file", type=Path)
    replay.add_argument("--profile", type=Path, default=None,
                        help="municipality profile (default: NAME.profile.json beside the file)")
    replay.add_argument("--out", type=Path, default=None, help="write incidents as JSON lines here")

    evaluate = sub.add_parser("evaluate", help="replay every labelled scenario in a folder and score it")
    evaluate.add_argument("folder", type=Path)
    evaluate.add_argument("--details", action="store_true",
                          help="list every label (found, how late, or missed) and every false alarm")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        logs.configure(settings.log_format, settings.log_level)
        handler = COMMANDS[args.command]
        return handler(settings, args) or 0
    except (SettingsError, ContractError, UsageError) as exc:
        print(f"noroshi: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _need_broker(settings: Settings) -> None:
    if not settings.broker:
        raise UsageError("NOROSHI_BROKER is not set. `noroshi run` starts an embedded broker; "
                         "other commands need NOROSHI_BROKER=kafka://HOST:PORT.")


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from noroshi.stack import run_stack

    return run_stack(settings, demo=args.demo, speed=args.speed)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from noroshi.stack import run_worker

    return run_worker(settings)


def cmd_board(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from dashboards.board import serve

    asyncio.run(serve(settings))
    return 0


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from streams.topics import TopicNames, ensure_topics

    names = TopicNames(settings.topic_prefix)
    asyncio.run(ensure_topics(settings.broker_servers, names, settings.partitions, settings.replication))
    log.info("topics_ready", topics=list(names.all()))
    return 0


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from streams.contract import load_profile
    from streams.replay import default_profile_path
    from streams.sources.producer import produce_lines
    from streams.topics import TopicNames

    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    profile = load_profile(args.profile or default_profile_path(args.file))
    with args.file.open("rb") as lines:
        report = asyncio.run(produce_lines(
            settings.broker_servers, TopicNames(settings.topic_prefix), profile.id, lines,
            speed=args.speed, source=args.file.name))
    for number, reason in report.rejected:
        print(f"{args.file}:{number}: sent to dead letters: {reason}", file=sys.stderr)
    print(f"{report.sent} events published for {profile.id}, {len(report.rejected)} dead-lettered")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from streams.replay import replay_file

    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    result = replay_file(args.file, args.profile)
    for number, reason in result.rejected:
        print(f"{args.file}:{number}: rejected: {reason}", file=sys.stderr)
    lines = [orjson.dumps(i.contract_line()) for i in result.incidents.values()]
    if args.out:
        args.out.write_bytes(b"".join(line + b"\n" for line in lines))
    else:
        sys.stdout.buffer.write(b"".join(line + b"\n" for line in lines))
    print(f"{result.events} events, {len(result.incidents)} incidents, "
          f"{len(result.rejected)} rejected lines", file=sys.stderr)
    return 0


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from streams.evaluation import DAY_S, explain, load_labels, scenario_files, score, table
    from streams.replay import replay_file

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: not a folder")
    scores = None
    days = 0.0
    count = 0
    for path in scenario_files(args.folder):
        labels_path = path.with_name(path.name.removesuffix(".jsonl") + ".labels.jsonl")
        labels = load_labels(labels_path) if labels_path.exists() else []
        result = replay_file(path)
        scores = score([i.contract_line() for i in result.incidents.values()], labels, scores)
        days += result.span_s / DAY_S
        count += 1
        print(f"{path.name}: {result.events} events, {len(result.incidents)} incidents, "
              f"{len(labels)} labelled episodes", file=sys.stderr)
        if args.details:
            lines = explain([i.contract_line() for i in result.incidents.values()], labels)
            print("\n".join(lines), file=sys.stderr)
    if not count or scores is None:
        raise UsageError(f"{args.folder}: no scenario files (*.jsonl) found")
    print(f"{count} scenarios, {days:.2f} simulated days")
    print(table(scores, days))
    return 0


COMMANDS = {
    "run": cmd_run, "worker": cmd_worker, "board": cmd_board, "topics": cmd_topics,
    "produce": cmd_produce, "replay": cmd_replay, "evaluate": cmd_evaluate,
}
