"""Command line: ``python -m bot run | chat | content check | run-snippet | db upgrade |
weights fetch | bench``.

Settings are built here once and passed down (nothing else reads the environment).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import logs
from bot.settings import Settings
from bot.store import StoreError, open_store
from bot.tutor.content import Bank, ContentError, json_schema, load_bank
from bot.tutor.service import LearnerRef, Tutor

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--content-dir", type=Path, help="question files (default: content/)")
    common.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in data/)")

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        parents=[common],
        help="start the bot: Discord if DISCORD_TOKEN is set, else the terminal chat",
    )
    chat = sub.add_parser("chat", parents=[common], help="the tutor in the terminal")
    chat.add_argument("--user", default=None, help="your name (default: your login name)")

    content = sub.add_parser("content", help="question files").add_subparsers(
        dest="content_command", required=True
    )
    check = content.add_parser("check", parents=[common], help="validate every question file")
    check.add_argument(
        "--execute",
        action="store_true",
        help="also run every snippet and compare with its expect block",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="with --execute: run every snippet again, even those verified before",
    )
    schema = content.add_parser(
        "schema", parents=[common], help="print the JSON Schema (or --write it to the content dir)"
    )
    schema.add_argument("--write", action="store_true")

    snippet = sub.add_parser(
        "run-snippet", help="run one snippet in the sandbox and print what it did"
    )
    snippet.add_argument("file", help="a Python file, or - for standard input")
    snippet.add_argument("--json", action="store_true", help="the result as one JSON object")

    weights = sub.add_parser("weights", help="pretrained weights for the sandbox").add_subparsers(
        dest="weights_command", required=True
    )
    fetch = weights.add_parser(
        "fetch", parents=[common], help="download ImageNet weights (needs internet access)"
    )
    fetch.add_argument(
        "models", nargs="*", help="e.g. MobileNetV2 ResNet50 (default: those the content uses)"
    )

    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", parents=[common], help="create or migrate the database")

    bench = sub.add_parser("bench", parents=[common], help="benchmarks (see bench/)")
    bench.add_argument("name", nargs="?", default="answers", choices=["answers", "runner"])
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "content_dir", None) is not None:
        overrides["content_dir"] = args.content_dir
    if getattr(args, "database_url", None) is not None:
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def _load(settings: Settings) -> Bank:
    """The question bank, or exit 1 with every problem listed: never start on broken content."""
    try:
        return load_bank(settings.content_dir)
    except ContentError as exc:
        print(exc.report(), file=sys.stderr)
        print(
            f"{len(exc.problems)} problem(s) in {settings.content_dir}; not starting.",
            file=sys.stderr,
        )
        raise SystemExit(1) from None


async def _chat(settings: Settings, user: str) -> int:
    bank = _load(settings)
    store = await open_store(settings.database_url.get_secret_value())
    # The runner starts its sandboxed workers on the first /run, not before.
    from bot.runner.cache import ResultCache
    from bot.runner.pool import Runner

    runner = Runner(settings.runner, cache=ResultCache(settings.runner.cache_dir))
    try:
        from bot.console import GUILD, PLATFORM, run_chat

        who = LearnerRef(PLATFORM, user, GUILD, user)
        return await run_chat(Tutor(bank, store), who, runner=runner)
    finally:
        await runner.close()
        await store.close()


async def _db_upgrade(settings: Settings) -> int:
    store = await open_store(settings.database_url.get_secret_value())
    await store.close()
    print("Database is up to date.")
    return 0


def _content(args: argparse.Namespace, settings: Settings) -> int:
    if args.content_command == "schema":
        if args.write:
            target = settings.content_dir / "schema.json"
            target.write_text(json_schema(), encoding="utf-8")
            print(f"wrote {target}")
        else:
            sys.stdout.write(json_schema())
        return 0
    bank = _load(settings)
    if args.execute:
        from bot.runner.cli import check_execute

        return asyncio.run(check_execute(settings, bank, use_cache=not args.no_cache))
    print(f"{len(bank)} questions in {len(bank.topics)} topics: all valid.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings(args)
    secrets = [settings.database_url.get_secret_value()]
    if settings.discord_token:
        secrets.append(settings.discord_token.get_secret_value())
    logs.setup(secrets=secrets)
    try:
        match args.command:
            case "run":
                if settings.discord_token:
                    print(
                        "DISCORD_TOKEN is set, but the Discord frontend is not built yet; "
                        "unset it to use the terminal chat.",
                        file=sys.stderr,
                    )
                    return 1
                return asyncio.run(_chat(settings, getpass.getuser()))
            case "chat":
                return asyncio.run(_chat(settings, args.user or getpass.getuser()))
            case "content":
                return _content(args, settings)
            case "db":
                return asyncio.run(_db_upgrade(settings))
            case "run-snippet":
                from bot.runner.cli import run_snippet

                return run_snippet(settings, args.file, args.json)
            case "weights":
                from bot.runner.cli import weights_fetch

                bank = load_bank(settings.content_dir) if settings.content_dir.is_dir() else None
                return weights_fetch(settings, args.models, bank)
            case "bench" if args.name == "runner":
                from bench.runner import main as bench_runner

                return asyncio.run(bench_runner(settings))
            case "bench":
                from bench.answers import main as bench_answers

                return asyncio.run(bench_answers(settings))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
