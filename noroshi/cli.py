"""The `noroshi` command line: run, worker, board, topics, produce, replay, evaluate, user, avatar-hash, profiles."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import orjson
import structlog
from aiokafka.errors import KafkaConnectionError

from noroshi import logs
from noroshi.broker import BrokerError
from vocabulary.settings import Settings, SettingsError
from vocabulary.contract import ContractError

log = structlog.get_logger("noroshi")


class UsageError(Exception):
    """A mistake in how a command was called; printed without a traceback."""


PROFILES_CHECK = (
    "自治体プロファイル（*.profile.json）を一つずつ読み、読み込めるか、読み込めない理由を表示します。"
    "NOROSHI_TEMPLATES_DIR があれば各自治体の様式（テンプレート）も確かめます。"
    "読み込めないファイルか様式の誤りがあれば終了コードは 1 です。 / Reads each profile file and says whether it "
    "loads or why not, and fills each municipality's own templates (NOROSHI_TEMPLATES_DIR) as its documents "
    "would be; exits 1 when any file is refused or any template is broken.")


def _positive(value: str) -> float:
    """--speed: a number above 0, or a usage error saying so (not a traceback)."""
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: 0 より大きい数を指定してください / give a number above 0")
    return speed


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noroshi",
        description="狼煙 Noroshi — incident response for municipal social-media accounts.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start broker (embedded unless configured), worker and board")
    run.add_argument("--demo", action="store_true", help="also play the built-in drill scenario")
    run.add_argument("--speed", type=_positive, default=60.0,
                     help="demo: scenario seconds per wall second (default 60)")

    sub.add_parser("worker", help="run the stream worker (needs NOROSHI_BROKER)")
    sub.add_parser("board", help="run the status board (needs NOROSHI_BROKER)")
    sub.add_parser("sources", help="run the sources named by NOROSHI_SOURCES (needs NOROSHI_BROKER)")
    topics = sub.add_parser("topics", help="create Noroshi's topics if missing, with their policies, and say "
                                           "which existing ones differ (needs NOROSHI_BROKER)")
    topics.add_argument("--apply-policies", action="store_true",
                        help="alter existing topics whose retention or cleanup policy differs (not on Tansu)")
    sub.add_parser("watchdog", help="watch Noroshi itself and alert the on-call roster and 広報課 "
                                    "when a part of it fails (needs NOROSHI_BROKER)")
    archive = sub.add_parser("archive", help="archive incidents and the timeline (監査記録) in SQLite "
                                             "under NOROSHI_DATA_DIR (needs NOROSHI_BROKER)")
    archive.add_argument("--status", action="store_true",
                         help="print how far the archive has got and exit (1 if the archiver is not running)")

    produce = sub.add_parser("produce", help="publish a scenario file's events; a rejected line goes to the "
                                             "dead letters and makes the exit status 1")
    produce.add_argument("file", type=Path)
    produce.add_argument("--speed", type=_positive, default=None,
                         help="pace events at this many scenario seconds per second (default: no pacing)")
    produce.add_argument("--profile", type=Path, default=None,
                         help="municipality profile (default: NAME.profile.json beside the file)")
    produce.add_argument("--now", action="store_true",
                         help="re-time the scenario to start now on the real clock, squeezed by --speed "
                              "(for a training: one clock on the board)")

    replay = sub.add_parser("replay", help="run the detectors over a file in event time, no broker")
    replay.add_argument("file", type=Path)
    replay.add_argument("--profile", type=Path, default=None,
                        help="municipality profile (default: NAME.profile.json beside the file)")
    replay.add_argument("--out", type=Path, default=None, help="write incidents as JSON lines here")

    _people_and_checks(sub)
    return p


def _people_and_checks(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The commands for the board's users, the scores, the profiles and the avatar hashes."""
    user = sub.add_parser("user", help="manage the board's users (NOROSHI_USERS_FILE)")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create a user, or replace one's password, role or municipality")
    add.add_argument("name", help="sign-in name: letters, digits, '.', '_', '@', '-'")
    add.add_argument("--role", required=True,
                     help="viewer, operator (当番), owner (所属長・承認者; also: approver) or admin (広報課; also: pr_head)")
    add.add_argument("--municipality", required=True,
                     help="the municipality id whose incidents the user sees, or '*' for all (admin only)")
    add.add_argument("--display-name", default="", help="the name shown on the board (default: the sign-in name)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password (at least 12 characters) from standard input; "
                          "without it a password is generated and printed once")
    user_sub.add_parser("list", help="list the users (never their passwords)")
    remove = user_sub.add_parser("remove", help="remove a user; their sessions end at once")
    remove.add_argument("name")

    evaluate = sub.add_parser("evaluate", help="replay every labelled scenario in a folder and score it")
    evaluate.add_argument("folder", type=Path)
    evaluate.add_argument("--details", action="store_true",
                          help="list every label (found, how late, or missed) and every false alarm")

    profiles = sub.add_parser("profiles", help="自治体プロファイルの確認 / check the municipality profiles")
    profiles_sub = profiles.add_subparsers(dest="profiles_command", required=True, metavar="ACTION")
    check = profiles_sub.add_parser(
        "check", help="各ファイルを読み込めるか一覧にする / list each profile file and whether it loads",
        description=PROFILES_CHECK)
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="files or folders of *.profile.json (default: NOROSHI_PROFILES)")

    avatar = sub.add_parser(
        "avatar-hash", help="アイコン画像の avatar_phash を計算する（なりすまし検知用）: print the "
                            "hash of each picture (file or URL), or write it into a profile",
        description="公式アカウントのアイコン画像から avatar_phash（imagehash の phash、64 ビット、16 桁の "
                    "16 進数）を計算します。アカウント探索が見つけた偽アカウントのアイコンと同じ方法です。"
                    " / The avatar_phash of each picture, computed as account discovery does: "
                    "`noroshi avatar-hash IMAGE` prints it; `--profile FILE --account HANDLE IMAGE` writes it "
                    "into that account; `--profile FILE` fills every account that has an avatar_url.")
    avatar.add_argument("images", nargs="*", metavar="IMAGE", help="a picture file or an http(s) URL")
    avatar.add_argument("--profile", type=Path, default=None,
                        help="fill avatar_phash in this profile: for --account from the one IMAGE, else for each "
                             "account from its avatar_url")
    avatar.add_argument("--account", default=None, help="the handle of the profile's account IMAGE belongs to")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        logs.configure(settings.log_format, settings.log_level)
        handler = COMMANDS[args.command]
        return handler(settings, args) or 0
    except (SettingsError, ContractError, UsageError, BrokerError) as exc:
        print(f"noroshi: {exc}", file=sys.stderr)
        return 2
    except KafkaConnectionError:
        where = settings.broker_servers if settings.broker else "(NOROSHI_BROKER)"
        print(f"noroshi: ブローカー {where} に接続できません。NOROSHI_BROKER のアドレスと、ブローカーが起動して"
              f"いることを確かめてください / cannot reach the broker at {where}: check NOROSHI_BROKER and that "
              f"the broker is running and reachable from here", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _need_broker(settings: Settings) -> None:
    if not settings.broker:
        raise UsageError("NOROSHI_BROKER が設定されていません。`noroshi run` は組み込みブローカーを起動します。"
                         "ほかのコマンドには NOROSHI_BROKER=kafka://HOST:PORT が必要です / "
                         "NOROSHI_BROKER is not set. `noroshi run` starts an embedded broker; "
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
    from noroshi.stack import resolve_profiles
    from vocabulary.contract import ContractError

    try:
        profiles = resolve_profiles(settings)
    except (ContractError, OSError) as exc:  # the board still serves sign-in and says what it lacks
        log.error("board_profiles_unreadable", error=str(exc))
        profiles = {}
    asyncio.run(serve(settings, profiles))
    return 0


def cmd_sources(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from noroshi.stack import resolve_profiles
    from sources.runner import run_sources

    return asyncio.run(run_sources(settings, resolve_profiles(settings)))


def cmd_watchdog(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from lookout.service import run_watchdog
    from noroshi.stack import resolve_profiles

    profiles = {muni: p.raw for muni, p in resolve_profiles(settings).items()}
    return asyncio.run(run_watchdog(settings, profiles))


def cmd_archive(settings: Settings, args: argparse.Namespace) -> int:
    from dashboards.archiver import print_status, run_archiver

    if args.status:
        return print_status(settings)
    _need_broker(settings)
    return asyncio.run(run_archiver(settings))


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from vocabulary.topics import TopicNames
    from streams.topics import (TANSU_KEEPS_ALL, apply_policies, drift_message, ensure_topics, policies_of,
                                policy_drifts)

    names, policies = TopicNames(settings.topic_prefix), policies_of(settings)
    created = asyncio.run(ensure_topics(settings.broker_servers, names, settings.partitions,
                                        settings.replication, policies=policies))
    drifts = asyncio.run(policy_drifts(settings.broker_servers, names, settings.worker_id, policies))
    log.info("topics_ready", topics=list(names.all()), created=created, differing=[d.topic for d in drifts])
    if settings.broker_is_tansu:
        print(TANSU_KEEPS_ALL, file=sys.stderr)
    for drift in drifts:
        print(drift_message(drift), file=sys.stderr)
    if not (args.apply_policies and drifts):
        return 0
    if settings.broker_is_tansu:
        raise UsageError("Tansu はトピックの設定変更（AlterConfigs）に対応していません。 / "
                         "Tansu cannot alter topic configs (no AlterConfigs).")
    asyncio.run(apply_policies(settings.broker_servers, drifts))
    for drift in drifts:
        changed = ", ".join(f"{name}={wanted}" for name, (_actual, wanted) in drift.differences.items())
        print(f"トピック {drift.topic} を方針どおりに変更しました: {changed} / Topic {drift.topic} altered to its "
              f"policy: {changed}", file=sys.stderr)
    log.info("topic_policies_applied", topics=[d.topic for d in drifts])
    return 0


def _need_scenario_file(path: Path) -> None:
    """A scenario file (`NAME.jsonl`, its profile `NAME.profile.json` beside it), or a clear error."""
    if path.is_dir():
        raise UsageError(f"{path}: フォルダです。シナリオのファイル (NAME.jsonl) を指定してください。"
                         f"フォルダ全体は `noroshi evaluate {path}` / {path} is a folder: give a scenario "
                         f"file (NAME.jsonl); `noroshi evaluate {path}` scores every scenario in it")
    if path.name.endswith(".profile.json"):
        raise UsageError(f"{path}: プロファイルです。シナリオ (NAME.jsonl) を指定してください"
                         f"（プロファイルは --profile で） / {path} is a profile: give the scenario "
                         f"(NAME.jsonl), and the profile with --profile if it is not NAME.profile.json")
    if not path.is_file():
        raise UsageError(f"{path}: ファイルがありません / no such file")


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    _need_broker(settings)
    from vocabulary.profile_files import load_profile
    from tools.replay import default_profile_path
    from sources.producer import produce_lines
    from vocabulary.topics import TopicNames

    _need_scenario_file(args.file)
    profile = load_profile(args.profile or default_profile_path(args.file))
    speed = args.speed
    with args.file.open("rb") as lines:
        if args.now:  # each event stamped as it is sent: detections, deadlines and people read one clock
            from sources.drill import lines_on_the_wall_clock

            lines, speed = lines_on_the_wall_clock(lines, time.time(), args.speed or 1.0), 1.0
        report = asyncio.run(produce_lines(
            settings.broker_servers, TopicNames(settings.topic_prefix), profile.id, lines,
            speed=speed, source=args.file.name, log_rejected=False))
    for number, reason in report.rejected:
        print(f"{args.file}:{number}: 却下 rejected: {reason}", file=sys.stderr)
    rejected = len(report.rejected)
    print(f"{profile.id}: {report.sent} 件を送信、{rejected} 件を却下（デッドレター） / "
          f"{report.sent} events published for {profile.id}, {rejected} rejected (sent to dead letters)")
    return 1 if rejected else 0  # a scenario published in part must not pass for a whole one


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from tools.replay import replay_file

    _need_scenario_file(args.file)
    result = replay_file(args.file, args.profile)
    for number, reason in result.rejected:
        print(f"{args.file}:{number}: 却下 rejected: {reason}", file=sys.stderr)
    for event_id, original, reason in result.restamped:  # its own time could not be trusted
        print(f"{args.file}: {event_id}: 時刻を付け直しました re-stamped (ts {original}: {reason})", file=sys.stderr)
    lines = [orjson.dumps(i.contract_line()) for i in result.incidents.values()]
    if args.out:
        args.out.write_bytes(b"".join(line + b"\n" for line in lines))
    else:
        sys.stdout.buffer.write(b"".join(line + b"\n" for line in lines))
    print(f"イベント {result.events} 件、インシデント {len(result.incidents)} 件、却下 {len(result.rejected)} 行 / "
          f"{result.events} events, {len(result.incidents)} incidents, "
          f"{len(result.rejected)} rejected lines", file=sys.stderr)
    return 0


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from tools.evaluation import DAY_S, explain, load_labels, scenario_files, score, table
    from tools.replay import replay_file

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: フォルダではありません / not a folder")
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
        print(f"{path.name}: イベント {result.events} 件、インシデント {len(result.incidents)} 件、"
              f"正解ラベル {len(labels)} 件 / {result.events} events, {len(result.incidents)} incidents, "
              f"{len(labels)} labelled episodes", file=sys.stderr)
        if args.details:
            lines = explain([i.contract_line() for i in result.incidents.values()], labels)
            print("\n".join(lines), file=sys.stderr)
    if not count or scores is None:
        raise UsageError(f"{args.folder}: シナリオ (*.jsonl) がありません / no scenario files (*.jsonl) found")
    print(f"シナリオ {count} 件、模擬 {days:.2f} 日分 / {count} scenarios, {days:.2f} simulated days")
    print(table(scores, days))
    return 0


def cmd_user(settings: Settings, args: argparse.Namespace) -> int:
    from dashboards.users import MIN_PASSWORD, UserError, UserStore, generate_password

    store = UserStore(settings.users_file)
    try:
        if args.user_command == "list":
            for user in sorted(store.load_strict().values(), key=lambda u: u.name):
                seeded = "  (demo)" if user.seeded else ""
                print(f"{user.name}\t{user.role}\t{user.municipality}\t{user.display_name}{seeded}")
            return 0
        if args.user_command == "remove":
            if not store.remove(args.name):
                raise UsageError(f"利用者 {args.name!r} は {store.path} にいません / no user {args.name!r} in {store.path}")
            print(f"利用者 {args.name} を削除しました / removed {args.name}")
            return 0
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if len(password) < MIN_PASSWORD:
                raise UsageError(f"パスワードは {MIN_PASSWORD} 文字以上にしてください / "
                                 f"the password must have at least {MIN_PASSWORD} characters")
            shown = None
        else:
            password = shown = generate_password()
        existed = args.name in store.load_strict()
        _known_municipality(settings, args.municipality)
        user = store.add(args.name, role=args.role, municipality=args.municipality, password=password,
                         display_name=args.display_name)
    except UserError as exc:
        raise UsageError(str(exc)) from None
    print(f"利用者 {user.name} を{'更新' if existed else '追加'}しました（{user.role}, {user.municipality}） / "
          f"{'updated' if existed else 'added'} {user.name}: {user.role} of {user.municipality} in {store.path}")
    if shown is not None:
        print(f"パスワード（この一度だけ表示） / password (shown once): {shown}")
    return 0


def _known_municipality(settings: Settings, municipality: str) -> None:
    """A user's municipality must be one the deployment has a profile for (or "*"): a typo would give
    a user who sees nothing and is never told why."""
    if municipality == "*":
        return
    from noroshi.stack import resolve_profiles

    known = resolve_profiles(settings, quiet=True)
    if municipality not in known:
        listed = ", ".join(sorted(known)[:10]) + (" …" if len(known) > 10 else "")
        raise UsageError(f"自治体 {municipality!r} のプロファイルがありません（NOROSHI_PROFILES: {listed}） / "
                         f"no profile for municipality {municipality!r} in NOROSHI_PROFILES (known: {listed}); "
                         f"'*' is every municipality (admin only)")


def cmd_profiles(settings: Settings, args: argparse.Namespace) -> int:
    from noroshi.stack import read_usable_profiles
    from responders.config import check_templates
    from responders.templating import Templates

    paths = args.paths or settings.profiles
    if not paths:
        raise UsageError("確認するファイルかフォルダを指定するか、NOROSHI_PROFILES を設定してください / "
                         "name the files or folders to check, or set NOROSHI_PROFILES")
    loaded = read_usable_profiles(paths)
    rows = [(path, f"OK\t{muni}\t{loaded.profiles[muni].name}") for muni, path in loaded.files.items()]
    rows += [(r.path, f"却下 refused\t{r.reason}") for r in loaded.refused]
    # Each city's 様式 (NOROSHI_TEMPLATES_DIR), filled as its documents would be: a broken one is named
    # by file and line here rather than found when a press release is due.
    templates = Templates(settings.responders.templates_dir)
    problems = {str(p): (p.path, muni) for muni in (loaded.profiles if templates.folder else ())
                for p in check_templates(templates, muni)}
    rows += [(Path(path), f"様式の誤り template error\t{muni}\t{message}") for message, (path, muni) in problems.items()]
    for path, status in sorted(rows, key=lambda row: str(row[0])):
        print(f"{path}\t{status}")
    print(f"{len(loaded.profiles):,} 件を読み込めます、{len(loaded.refused):,} 件は読み込めません / "
          f"{len(loaded.profiles):,} loaded, {len(loaded.refused):,} refused", file=sys.stderr)
    if templates.folder:
        print(f"様式の誤り {len(problems):,} 件 / {len(problems):,} template errors ({templates.folder})",
              file=sys.stderr)
    return 1 if loaded.refused or problems or not loaded.profiles else 0


def cmd_avatar_hash(settings: Settings, args: argparse.Namespace) -> int:
    from sources.avatars import AvatarRefused, AvatarsUnavailable, hash_avatar, load_hasher

    hasher = load_hasher()
    if hasher is None:
        raise UsageError(str(AvatarsUnavailable()))
    raw: dict = {}
    if args.profile is not None:
        from vocabulary.contract import profile_from_dict

        try:
            raw = orjson.loads(args.profile.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UsageError(f"{args.profile}: プロファイルを読めません / cannot read the profile: {exc}") from None
        profile_from_dict(raw, where=f"profile {args.profile.name}")
    accounts = raw.get("accounts") or []
    if args.account is not None:
        if args.profile is None or len(args.images) != 1:
            raise UsageError("--account には --profile と画像 1 つが必要です / --account needs --profile and one IMAGE")
        chosen = [a for a in accounts if a["handle"].lstrip("@").lower() == args.account.lstrip("@").lower()]
        if not chosen:
            raise UsageError(f"{args.profile}: アカウント {args.account} がありません / no account {args.account}")
        jobs = [(args.images[0], a) for a in chosen]
    elif args.profile is not None:
        if args.images:
            raise UsageError("画像を指定するときは --account も指定してください / name the --account the IMAGE is of")
        jobs = [(a["avatar_url"], a) for a in accounts if isinstance(a.get("avatar_url"), str) and a["avatar_url"]]
        for a in accounts:
            if not (isinstance(a.get("avatar_url"), str) and a["avatar_url"]):
                print(f"@{a['handle']}: avatar_url がないため未計算（--account と画像で指定できます） / "
                      f"skipped, no avatar_url", file=sys.stderr)
    elif args.images:
        jobs = [(image, None) for image in args.images]
    else:
        raise UsageError("画像（ファイルか URL）か --profile を指定してください / give an IMAGE or --profile")

    async def hash_all() -> list[tuple[str, dict | None, str | None, str]]:
        import aiohttp

        done = []
        async with aiohttp.ClientSession() as session:
            for image, account in jobs:
                try:
                    done.append((image, account, await hash_avatar(session, image, hasher), ""))
                except AvatarRefused as exc:
                    done.append((image, account, None, str(exc)))
        return done

    failed = 0
    for image, account, phash, reason in asyncio.run(hash_all()):
        if phash is None:
            failed += 1
            print(f"{image}: ハッシュを計算できません / not hashed: {reason}", file=sys.stderr)
        elif account is None:
            print(f"{phash}\t{image}")
        else:
            account["avatar_phash"] = phash
            print(f"@{account['handle']}: avatar_phash = {phash}（{image}）")
    if args.profile is not None and len(jobs) > failed:
        import json

        args.profile.write_text(json.dumps(raw, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"{args.profile} に保存しました / saved")
    return 1 if failed else 0


COMMANDS = {
    "run": cmd_run, "worker": cmd_worker, "board": cmd_board, "sources": cmd_sources, "topics": cmd_topics,
    "archive": cmd_archive, "watchdog": cmd_watchdog,
    "produce": cmd_produce, "replay": cmd_replay, "evaluate": cmd_evaluate, "user": cmd_user,
    "avatar-hash": cmd_avatar_hash, "profiles": cmd_profiles,
}
