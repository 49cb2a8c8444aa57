"""One process of a shard cluster, for tests/test_cluster.py: a real bot (``create_bot``, its
services opened from Settings with a shared Redis) doing one thing the test asks, and saying
on stdout what happened, one JSON object a line.

``python -m tests.cluster_child identify CONFIG``: waits for a line on stdin, then goes through
discord.py's IDENTIFY hook for each of its shards in the order ``launch_shards`` does (the call
``DiscordWebSocket.identify`` makes just before it sends IDENTIFY), printing when each may go.

``python -m tests.cluster_child hold CONFIG``: holds a learner's run in the run gate (as /run
does while the snippet runs), prints ``held``, and lets go when a line arrives on stdin.

CONFIG is JSON: redis_url, database_url, content_dir, shard_ids, shard_count, and for the test's
lowered limits identify_interval_s, max_concurrency, cooldown_s, lease_s, user.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from pydantic import SecretStr

from bot.client import create_bot
from bot.cluster import IdentifyLock, SharedRunGate
from bot.services import open_services
from bot.settings import DiscordSettings, Settings


def say(**what: Any) -> None:
    print(json.dumps(what), flush=True)


async def line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def main(mode: str, config: dict[str, Any]) -> None:
    settings = Settings(
        database_url=SecretStr(config["database_url"]),
        content_dir=config["content_dir"],
        redis_url=SecretStr(config["redis_url"]),
        discord=DiscordSettings(
            shard_count=config.get("shard_count", 1),
            shard_ids=config.get("shard_ids"),
            run_cooldown_s=config.get("cooldown_s", 10.0),
        ),
    )
    services = await open_services(settings, runner=None)
    bot = create_bot(settings, services=services)
    try:
        if mode == "identify":
            assert isinstance(services.identify, IdentifyLock)
            services.identify.interval_s = config["identify_interval_s"]
            bot.identify_concurrency = config["max_concurrency"]
            say(ready=True)
            await line()
            ids = list(bot.shard_ids or range(bot.shard_count or 1))
            for shard_id in ids:
                await bot._connection.call_hooks(
                    "before_identify", shard_id, initial=shard_id == ids[0]
                )
                say(shard=shard_id, at=time.time())
        else:
            assert isinstance(services.run_gate, SharedRunGate)
            services.run_gate.lease_s = config.get("lease_s", services.run_gate.lease_s)
            async with services.run_gate.hold(config["user"]):
                say(held=True)
                await line()
            say(released=True)
    finally:
        await services.close()  # the bot never connected: its services are all to close


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
