"""How the frontends are put together: services come from the composition root only, the bot
shell knows no cog, the quiz and run extensions know nothing of each other, and every persistent
button shares one base. Read from the source (imports, calls) and from the loaded classes."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import discord

from bot.cogs.components import PersistentButton

BOT = Path(__file__).parents[2] / "bot"
FRONTENDS = [
    *sorted((BOT / "cogs").rglob("*.py")),
    BOT / "client.py",
    BOT / "console.py",
    BOT / "console_admin.py",
]
# What only the composition root (bot/services.py) may build or open.
SERVICES = {"Tutor", "Moderator", "RunGate", "Runner", "SqlStore", "open_store", "load_bank"}


def imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports at run time, at any depth (lazy imports included), but
    not the ones only a type checker reads (``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for child in block.body
        for node in ast.walk(child)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def called(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }


def test_the_bot_shell_imports_no_cog():
    assert not [m for m in imported(BOT / "client.py") if m.startswith("bot.cogs")]


def test_the_quiz_and_run_extensions_do_not_import_each_other():
    for one, other in (("quiz", "run"), ("run", "quiz")):
        for path in (BOT / "cogs" / one).glob("*.py"):
            assert not [m for m in imported(path) if m.startswith(f"bot.cogs.{other}")], path


def test_no_frontend_builds_a_service_or_reaches_the_store():
    for path in FRONTENDS:
        assert not called(path) & SERVICES, path
        assert not [m for m in imported(path) if m == "db" or m.startswith("db.")], path
    for path in (BOT / "cogs").rglob("*.py"):  # nor through the services the cogs are given
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reads = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert "store" not in reads, path


def test_every_persistent_button_shares_one_base():
    for name in ("bot.cogs.quiz._views", "bot.cogs.progress", "bot.cogs.run._buttons"):
        importlib.import_module(name)

    def subclasses(cls: type) -> Iterator[type]:
        found: list[type] = cls.__subclasses__()
        for sub in found:
            yield sub
            yield from subclasses(sub)

    items = {c for c in subclasses(discord.ui.DynamicItem) if c.__module__.startswith("bot.")}
    ours = {c for c in items if issubclass(c, PersistentButton)}
    assert ours and ours == items
    keys = {c.key for c in ours if c.key}
    # The quiz's seven, "Report a problem", and a run result's three: edit and run, layers,
    # delete.
    assert keys == {"a", "sa", "h", "s", "n", "r", "lb", "rq", "rx", "rl", "rd"}
    # Each declares only what differs: no button parses its custom_id or checks the clicker.
    for cls in ours - {PersistentButton}:
        assert "from_custom_id" not in vars(cls) and "interaction_check" not in vars(cls), cls
