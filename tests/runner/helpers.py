"""What the runner's tests share: the lowered limits of their pool, and the secrets planted in
the environment that no sandbox may see.

The limits are lowered (snekbox-style) so that attacks end in seconds. The wall clock stays at
the default on purpose: on a busy 2-core machine a legitimate snippet (or a busy loop on its way
to the CPU limit) can take many times longer than on a quiet one, and a test must show which
limit ended a run, not race the clock. A test of the wall clock itself lowers it for its own pool.
"""

from __future__ import annotations

from bot.settings import RunnerSettings

PLANTED_TOKEN = "planted-discord-token-8c1f2e7d"
PLANTED_DB_URL = "sqlite+aiosqlite:////srv/planted-secret-db-5a9b.db"

TEST_LIMITS = RunnerSettings(
    workers=2,
    queue_limit=10,
    wall_timeout_s=30,
    cpu_time_s=3,
    memory_mb=2048,
    max_processes=48,
    output_limit_bytes=8 * 1024,
    file_size_mb=4,
    tmpfs_mb=16,
    warmup_models=(),
)
