"""What travels between the bot and a runner service or fleet host: one JSON object per line.

A job asks ``{"code", "user", "use_cache"}``; the runner answers ``{"accepted": true}`` (from
then on a runner that dies has lost the job; before it, the job never reached it), any number
of ``{"position": n}`` while the job waits, then exactly one of ``{"result": <the run-snippet --json
object>}``, ``{"refused": message}`` (RunRefused: shown to the learner as it is) or
``{"unavailable": message}`` (SandboxUnavailable: snippets cannot run there). ``{"ping": true}``
is answered ``{"pong": stats}`` or ``{"unavailable": message}``.

The same objects go through Redis (bot.runner.fleet), so both transports decode one way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.runner.pool import RunRefused
from bot.runner.result import RunResult
from bot.runner.sandbox import SandboxUnavailable

# Lines can hold a whole result (outputs are bounded by output_limit_bytes, code by
# code_limit_bytes): far below this, which only stops a runaway peer.
MAX_LINE = 16 * 1024 * 1024


class BadMessage(ValueError):
    """A peer sent something that is not one of the messages above."""


@dataclass(frozen=True)
class Job:
    code: str
    user: str
    use_cache: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "user": self.user, "use_cache": self.use_cache}

    @classmethod
    def from_dict(cls, data: object) -> Job:
        if not isinstance(data, dict):
            raise BadMessage("a job is a JSON object")
        code, user, use_cache = data.get("code"), data.get("user"), data.get("use_cache", True)
        if not isinstance(code, str) or not isinstance(user, str):
            raise BadMessage("a job needs the strings 'code' and 'user'")
        return cls(code, user, use_cache is not False)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise BadMessage("a message is a JSON object")
    return message


def outcome(result: RunResult | BaseException) -> dict[str, Any]:
    """The final message for a run's result, or for the refusal that stopped it."""
    if isinstance(result, RunResult):
        return {"result": result.to_dict()}
    if isinstance(result, RunRefused):
        return {"refused": str(result)}
    if isinstance(result, SandboxUnavailable):
        return {"unavailable": str(result)}
    return {"error": f"{type(result).__name__}: {result}"}


def final(message: dict[str, Any]) -> RunResult | None:
    """The result in a final message (None for a position); raises the refusal it carries."""
    if "position" in message or "accepted" in message:
        return None
    if "result" in message:
        try:
            return RunResult.from_dict(message["result"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadMessage(f"not a result: {exc}") from None
    if "refused" in message:
        raise RunRefused(str(message["refused"]))
    if "unavailable" in message:
        raise SandboxUnavailable(str(message["unavailable"]))
    raise BadMessage(f"the runner failed: {message.get('error', message)}")
