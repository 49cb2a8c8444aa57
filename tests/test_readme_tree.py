"""README's architecture tree is the tree: every path it names exists where it says, and every
module of the packages it lists is named in it (a new contributor finds their room there)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTION_COLUMN = 22  # a line indented this far continues the description above it
# Packages whose every module and subpackage the tree must name.
COMPLETE = ("bot", "bot/runner", "bot/tutor", "bot/web", "bot/cogs", "db")


def tree() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    architecture = readme.split("\n## Architecture\n", 1)[1]
    return architecture.split("```text\n", 1)[1].split("\n```", 1)[0]


def named_paths(block: str) -> list[str]:
    """Each name of the tree's name column as a path from the root, directories ending in /."""
    parents: list[str] = []
    found = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip() or indent >= DESCRIPTION_COLUMN:
            continue
        depth = indent // 2
        del parents[depth:]
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for name in names.split(", "):
            found.append("".join(parents) + name)
        if names.endswith("/"):
            parents.append(names)
    return found


def test_every_path_the_tree_names_exists():
    paths = named_paths(tree())
    assert len(paths) > 60, paths  # the parser still reads the tree
    missing = [
        p for p in paths if not (ROOT / p).exists() or p.endswith("/") != (ROOT / p).is_dir()
    ]
    assert missing == []


def test_every_module_is_named_in_the_tree():
    words = set(re.findall(r"[\w.]+/?", tree()))
    unnamed = []
    for package in COMPLETE:
        for entry in sorted((ROOT / package).iterdir()):
            if entry.name.startswith("__") or entry.suffix not in (".py", "") or not (
                entry.suffix == ".py" or (entry / "__init__.py").exists()
            ):
                continue
            name = entry.name + ("/" if entry.is_dir() else "")
            if name not in words:
                unnamed.append(f"{package}/{name}")
    assert unnamed == []
