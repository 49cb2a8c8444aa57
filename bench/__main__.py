"""``python -m bench answers|runner|discord [--content-dir DIR] [--database-url URL]``: run one
benchmark. ``python -m bench runner --fleet``: the runner through Redis versus the local runner
service.

The benchmarks live in the checkout, not in the installed package (``bot`` never imports them),
and take the same Settings as the bot: from the environment, and ``--content-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import logs
from bot.settings import Settings

# name -> module under bench/, each with ``async def main(settings) -> int``.
BENCHMARKS = {"answers": "answers", "runner": "runner", "discord": "discord_ack"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=list(BENCHMARKS), help="which benchmark")
    parser.add_argument("--content-dir", type=Path, help="question files (default: content/)")
    parser.add_argument(
        "--database-url",
        help="answers: a database server to measure (e.g. postgresql+asyncpg://...) besides "
        "the temporary SQLite file",
    )
    parser.add_argument(
        "--fleet", action="store_true", help="runner: through Redis vs the local runner service"
    )
    args = parser.parse_args(argv)
    if args.fleet and args.name != "runner":
        parser.error("--fleet goes with the runner benchmark")
    overrides = {
        key: value
        for key, value in (("content_dir", args.content_dir), ("database_url", args.database_url))
        if value is not None
    }
    settings = Settings(**overrides)
    logs.setup(secrets=logs.url_secrets(settings.database_url.get_secret_value()))
    module = importlib.import_module(f"bench.{'fleet' if args.fleet else BENCHMARKS[args.name]}")
    result: int = asyncio.run(module.main(settings))
    return result


if __name__ == "__main__":
    sys.exit(main())
