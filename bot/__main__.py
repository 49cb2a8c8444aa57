"""Command line: ``python -m bot run | chat | web | content check | run-snippet | runner serve |
db upgrade | db copy | weights fetch | sync-commands | bench``.

Settings are built here once and passed down (nothing else reads the environment).

Each command imports what it needs when it runs: ``content check`` (the authors' edit loop)
must not pay for SQLAlchemy, Alembic, discord.py or matplotlib (tests/test_command_line.py).
The benchmarks are not part of the package: ``python -m bench`` runs them from a checkout, and
``python -m bot bench`` hands over to it in a child process (the package never imports them).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import logs
from bot.settings import Settings
from bot.tutor.content import Bank, ContentError, json_schema, load_bank
from bot.tutor.lint import lint
from bot.tutor.practice import TEMPLATES_DIR, Templates, load_templates

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--content-dir", type=Path, help="question files (default: content/)")
    common.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in data/)")

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        parents=[common],
        help="start the bot: Discord if DISCORD_TOKEN is set, else the terminal chat",
    )
    run.add_argument(
        "--shard-ids",
        metavar="IDS",
        help="run only these shards, e.g. 0-3 or 0,2,4-7 (a shard cluster; docs/deploy.md)",
    )
    run.add_argument(
        "--shard-count", type=str, metavar="N", help="the total number of shards of the bot"
    )
    chat = sub.add_parser("chat", parents=[common], help="the tutor in the terminal")
    chat.add_argument("--user", default=None, help="your name (default: your login name)")
    chat.add_argument(
        "--admin",
        action="store_true",
        help="open the /mod commands: you are this machine's local moderator",
    )

    web = sub.add_parser(
        "web", parents=[common], help="the web leaderboards and moderator dashboard"
    )
    web.add_argument("--port", type=int, help="default: TUTOR_WEB__PORT, else 8080")

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
    practice = content.add_parser(
        "practice",
        parents=[common],
        help="print generated practice questions with answers computed in the sandbox",
    )
    practice.add_argument("--count", type=int, default=5, help="how many (default 5)")
    practice.add_argument("--seed", type=int, default=0, help="the same seed, the same questions")
    practice.add_argument("--topic", default=None, help="only templates of this topic")
    schema = content.add_parser(
        "schema", parents=[common], help="print the JSON Schema (or --write it to the content dir)"
    )
    schema.add_argument("--write", action="store_true")

    sync = sub.add_parser(
        "sync-commands",
        parents=[common],
        help="publish the slash commands to Discord (needs DISCORD_TOKEN)",
    )
    sync.add_argument(
        "--guild",
        type=int,
        default=None,
        help="only to this server (instant; for development) instead of globally",
    )

    snippet = sub.add_parser(
        "run-snippet",
        parents=[common],  # --database-url: the returned files are written next to it
        help="run one snippet in the sandbox and print what it did",
    )
    snippet.add_argument("file", help="a Python file, or - for standard input")
    snippet.add_argument("--json", action="store_true", help="the result as one JSON object")
    snippet.add_argument(
        "--layers", action="store_true", help="each model's layer table (name, shape, params)"
    )
    snippet.add_argument(
        "--runner-url",
        default=None,
        help="send it through a runner fleet (redis://HOST:PORT/DB) instead of a local sandbox",
    )

    runner = sub.add_parser("runner", help="the snippet runner as its own service").add_subparsers(
        dest="runner_command", required=True
    )
    serve = runner.add_parser(
        "serve", help="run the sandboxed pool: on a Unix socket, or as a fleet host with --url"
    )
    serve.add_argument(
        "--url", dest="runner_url", default=None, help="redis://HOST:PORT/DB: serve a runner fleet"
    )
    serve.add_argument("--workers", type=int, default=None, help="warm workers (default: cores)")
    serve.add_argument("--socket", type=Path, default=None, help="default: data/runner.sock")
    serve.add_argument("--socket-group", default=None, help="group allowed to use the socket")
    serve.add_argument("--name", default=None, help="this fleet host's name (default: hostname)")
    serve.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)

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
    copy = db.add_parser(
        "copy",
        parents=[common],
        help="copy every table of the database (--database-url) into another one (--to), "
        "e.g. SQLite into PostgreSQL; both are migrated first",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the target database's URL")
    copy.add_argument(
        "--replace", action="store_true", help="empty the target first if it holds data"
    )

    bench = sub.add_parser("bench", help="run a benchmark from a checkout (python -m bench)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="e.g. answers, runner")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "content_dir", None) is not None:
        overrides["content_dir"] = args.content_dir
    if getattr(args, "database_url", None) is not None:
        overrides["database_url"] = args.database_url
    settings = Settings(**overrides)
    settings = _with_shards(args, settings)
    # The runner's fields given on the command line (run-snippet, runner serve), checked alike.
    names = {"url": "runner_url", "workers": "workers", "socket_path": "socket"}
    given = {f: getattr(args, n) for f, n in names.items() if getattr(args, n, None) is not None}
    if not given:
        return settings
    runner = settings.runner.model_validate({**settings.runner.model_dump(), **given})
    return settings.model_copy(update={"runner": runner})


class UsageError(Exception):
    """A command-line argument that cannot work: one line on stderr, exit 2."""


def _with_shards(args: argparse.Namespace, settings: Settings) -> Settings:
    """``run --shard-ids 0-3 --shard-count 16``, checked with the settings they complete."""
    from bot.shards import check_shard_ids, parse_shard_ids

    ids_text, count_text = getattr(args, "shard_ids", None), getattr(args, "shard_count", None)
    if ids_text is None and count_text is None:
        return settings
    if not settings.discord_token:
        raise UsageError("--shard-ids and --shard-count are for Discord: set DISCORD_TOKEN")
    discord = settings.discord
    count = discord.shard_count
    if count_text is not None:
        if not count_text.strip().isdigit() or int(count_text) < 1:
            raise UsageError(f"--shard-count must be a whole number, 1 or more: {count_text!r}")
        count = int(count_text)
    ids = discord.shard_ids
    if ids_text is not None:
        try:
            ids = parse_shard_ids(ids_text)
        except ValueError as exc:
            raise UsageError(f"--shard-ids: {exc}") from None
        if count is None:
            raise UsageError(
                "--shard-ids needs --shard-count (the total number of shards, all processes)"
            )
    if ids is not None:
        try:
            check_shard_ids(ids, count)
        except ValueError as exc:
            raise UsageError(f"--shard-ids: {exc}") from None
    update = {"shard_count": count, "shard_ids": ids}
    return settings.model_copy(update={"discord": discord.model_copy(update=update)})


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


async def _chat(settings: Settings, user: str, admin: bool = False, with_web: bool = False) -> int:
    from bot.console import GUILD, PLATFORM, run_chat
    from bot.services import Start, open_services
    from bot.tutor.service import LearnerRef

    # The runner starts its sandboxed workers on the first /run, not before.
    services = await open_services(
        settings,
        bank=_load(settings),
        templates=_load_templates(settings),
        runner=Start.ON_FIRST_RUN,
    )
    web = None
    try:
        if with_web and settings.web.port is not None:
            from bot.web import WebServer

            web = WebServer(services, settings.web)
            await web.start()
            print(f"Web leaderboard of this machine: {settings.web.base_url()}/local")
        return await run_chat(services, LearnerRef(PLATFORM, user, GUILD, user), admin=admin)
    finally:
        if web is not None:
            await web.stop()
        await services.close()


async def _web(settings: Settings, port: int | None) -> int:
    from bot.services import open_services
    from bot.web import serve

    port = port or settings.web.port or 8080
    if not 0 < port < 65536:
        print(f"error: no such port: {port}", file=sys.stderr)
        return EXIT_USAGE
    web = settings.web.model_copy(update={"port": port})
    services = await open_services(settings, bank=_load(settings), runner=None)
    try:
        await serve(
            services,
            web,
            lambda: print(
                f"Web leaderboards and dashboard on {web.base_url()} (Ctrl-C stops)", flush=True
            ),
        )
    finally:
        await services.close()
    return 0


async def _discord(settings: Settings) -> int:
    """The Discord bot until SIGTERM/SIGINT. Problems the operator can fix are one line on
    stderr (never with the token in it); the rest is logged."""
    import aiohttp
    import discord

    from bot.client import create_bot, serve
    from db import open_store

    assert settings.discord_token is not None
    bank = _load(settings)
    _load_templates(settings)  # never start on broken templates (setup_hook loads them again)
    store = await open_store(settings.database_url.get_secret_value())
    # The services are built in setup_hook (bot.services), after logging in; the bot closes
    # them, the store included.
    bot = create_bot(settings, bank=bank, store=store)
    try:
        await serve(bot, settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        print(
            "Discord rejected DISCORD_TOKEN: copy the token again from the Developer Portal "
            "(your application → Bot → Reset Token).",
            file=sys.stderr,
        )
        return 1
    except (aiohttp.ClientError, OSError) as exc:
        print(f"cannot reach Discord ({type(exc).__name__}); not starting.", file=sys.stderr)
        return 1
    return 0


async def _sync_commands(settings: Settings, guild: int | None) -> int:
    import aiohttp
    import discord

    from bot.client import create_bot, sync_commands
    from db import open_store

    if not settings.discord_token:
        print("sync-commands needs DISCORD_TOKEN.", file=sys.stderr)
        return 1
    store = await open_store(settings.database_url.get_secret_value())
    bot = create_bot(settings, bank=_load(settings), store=store, runner=None)
    try:
        async with bot:
            await bot.login(settings.discord_token.get_secret_value())  # runs setup_hook
            synced = await sync_commands(bot, guild)
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN.", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError) as exc:
        print(f"cannot reach Discord ({type(exc).__name__}).", file=sys.stderr)
        return 1
    where = f"to server {guild}" if guild else "globally (allow up to an hour to appear)"
    print(f"Published {len(synced)} commands {where}: " + ", ".join(c.name for c in synced))
    return 0


async def _db_copy(settings: Settings, target: str, replace: bool) -> int:
    from db.copy import copy_database

    copied = await copy_database(settings.database_url.get_secret_value(), target, replace=replace)
    rows = ", ".join(f"{n} {table}" for table, n in copied.items())
    print(f"Copied {sum(copied.values())} rows to {logs.safe_url(target)}: {rows}.")
    return 0


async def _db_upgrade(settings: Settings) -> int:
    from db import open_store

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
    templates = _load_templates(settings)
    if args.content_command == "practice":
        from bot.runner.cli import practice

        return asyncio.run(practice(settings, templates, args.count, args.seed, args.topic))
    # Authoring rules (bot/tutor/lint.py): the bot starts despite them, but the check fails.
    rules = lint(bank)
    if rules:
        print("\n".join(str(p) for p in rules), file=sys.stderr)
        print(f"{len(rules)} authoring problem(s) in {settings.content_dir}.", file=sys.stderr)
        return 1
    if args.execute:
        from bot.runner.cli import check_execute

        return asyncio.run(check_execute(settings, bank, templates, use_cache=not args.no_cache))
    print(
        f"{len(bank)} questions in {len(bank.topics)} topics, "
        f"{len(templates)} practice templates: all valid."
    )
    return 0


def _load_templates(settings: Settings) -> Templates:
    """The practice templates (content/templates/), or exit 1 with every problem listed."""
    try:
        return load_templates(settings.content_dir / TEMPLATES_DIR)
    except ContentError as exc:
        print(exc.report(), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the practice templates.", file=sys.stderr)
        raise SystemExit(1) from None


# Exit statuses besides 0 and StoreError.exit_status (1, 3-7): README, "Command line".
EXIT_USAGE = 2  # argparse's own, also for arguments it cannot check (e.g. not UTF-8)
EXIT_INTERNAL = 70  # a bug: the traceback is logged (through the secret filter)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_OUTPUT_CLOSED = 141  # stdout closed (`... | head`), as a shell reports SIGPIPE
MAX_USER_CHARS = 64  # learners.user_id (db/models.py)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        # pydantic's message quotes each bad value, which may be a secret: name the setting only.
        where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()) or "settings"
        print(f"error: invalid setting {where}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    secrets = logs.url_secrets(settings.database_url.get_secret_value())
    if getattr(args, "to", None):
        secrets += logs.url_secrets(args.to)  # db copy's target
    if settings.discord_token:
        secrets.append(settings.discord_token.get_secret_value())
    for redis in (settings.runner.url, settings.redis_url):
        if redis is not None:
            secrets += logs.url_secrets(redis.get_secret_value())
    logs.setup(secrets=secrets)
    try:
        return _command(args, settings, secrets)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Nobody reads our output any more; keep Python from complaining at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OUTPUT_CLOSED
    except Exception:
        log.exception("unexpected error; please report it with this traceback")
        return EXIT_INTERNAL


def _bench(bench_args: list[str]) -> int:
    """Hand over to ``python -m bench`` in the checkout this package runs from."""
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "bench" / "__main__.py").is_file():
        print(
            "error: the benchmarks run from a checkout of the project: python -m bench NAME",
            file=sys.stderr,
        )
        return EXIT_USAGE
    import subprocess

    return subprocess.run([sys.executable, "-m", "bench", *bench_args], cwd=checkout).returncode


def _command(args: argparse.Namespace, settings: Settings, secrets: list[str]) -> int:
    match args.command:
        case "bench":
            return _bench(args.bench_args)
        case "content":
            return _content(args, settings)
        case "run-snippet":
            from bot.runner.cli import run_snippet

            return run_snippet(settings, args.file, args.json, args.layers)
        case "runner":
            from bot.runner.cli import serve

            return serve(settings, args.socket_group, args.name, args.exit_with_stdin)
        case "weights":
            from bot.runner.cli import weights_fetch

            bank = _load(settings) if settings.content_dir.is_dir() else None
            return weights_fetch(settings, args.models, bank)
    # The other commands open the database (only they import it).
    from db import StoreError

    try:
        return _database_command(args, settings)
    except StoreError as exc:
        # One line, whatever went wrong with the database; its class says which status.
        print(f"error: {logs.redact(str(exc), secrets)}", file=sys.stderr)
        return exc.exit_status


def _database_command(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "run":
            if settings.discord_token:
                return asyncio.run(_discord(settings))
            return _start_chat(settings, getpass.getuser(), with_web=True)
        case "web":
            return asyncio.run(_web(settings, args.port))
        case "sync-commands":
            return asyncio.run(_sync_commands(settings, args.guild))
        case "chat":
            return _start_chat(settings, args.user or getpass.getuser(), args.admin)
        case "db" if args.db_command == "copy":
            return asyncio.run(_db_copy(settings, args.to, args.replace))
        case "db":
            return asyncio.run(_db_upgrade(settings))
    return EXIT_USAGE


def _start_chat(settings: Settings, user: str, admin: bool = False, with_web: bool = False) -> int:
    from bot.tutor.session import is_text

    if not is_text(user):
        # The name comes from argv or the login name, decoded with surrogateescape.
        print("error: the user name is not valid UTF-8; choose one with --user", file=sys.stderr)
        return EXIT_USAGE
    if len(user) > MAX_USER_CHARS:  # the store's column; cutting it could make two users one
        print(
            f"error: the user name is longer than {MAX_USER_CHARS} characters; "
            "choose a shorter one with --user",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return asyncio.run(_chat(settings, user, admin, with_web))


if __name__ == "__main__":
    sys.exit(main())
