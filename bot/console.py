"""The terminal frontend: the same tutor as on Discord, one line of input at a time.

Works interactively and with a pipe (``printf '/quiz\n2\n' | python -m bot chat``): when stdin is
not a terminal, each input line is echoed so the output reads as a transcript, and the chat ends at
end of input.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.console_admin import AdminCommands, whole_number
from bot.console_io import LineReader, terminal_width, wrapped
from bot.runner.api import RunRefused, RunResult, SandboxUnavailable, SnippetRunner
from bot.runner.files import describe_saved, save_files
from bot.tutor.commands import Frontend, help_reply, listed
from bot.tutor.content import is_practice
from bot.tutor.moderator import Actor, Authority
from bot.tutor.replies import Action, Align, Bars, Block, Kind, Reply, Table, Text
from bot.tutor.reports import Reports
from bot.tutor.service import MAX_PAGE, LearnerRef, Tutor, Window
from bot.tutor.session import is_text
from bot.tutor.study import quiz_request

if TYPE_CHECKING:
    from bot.services import Services

PLATFORM = "terminal"
# Everyone using the terminal on this machine shares one leaderboard.
GUILD = "local"

END = "/end"
NOTHING = Reply(text="", kind=Kind.INFO)  # a line that needs no answer (see Reply.empty)


def _printable(text: str) -> str:
    """``text`` with undecodable input bytes shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def table_lines(table: Table) -> list[str]:
    """A table as aligned text: each column padded to its widest cell (numbers to the right).
    A separator that starts with punctuation (": ") sticks to its cell; one that starts with a
    space (" · ") lines up with the others."""
    rows = [[cell.plain for cell in row] for row in table.rows]
    seps = [c.after for c in table.columns[:-1]] + [""]
    sticks = [sep.rstrip() if sep[:1].strip() else "" for sep in seps]
    widths = [max(len(row[i]) + len(sticks[i]) for row in rows) for i in range(len(seps))]
    lines = []
    for row in rows:
        line = ""
        for cell, column, sep, stick, width in zip(
            row, table.columns, seps, sticks, widths, strict=True
        ):
            text = cell + stick
            line += (text.rjust if column.align is Align.RIGHT else text.ljust)(width)
            line += sep[len(stick) :]
        lines.append("  " + line.rstrip())
    return lines


def block_lines(block: Block) -> list[str]:
    if isinstance(block, Text):
        return [block.plain]
    if isinstance(block, Table):
        body = table_lines(block)
    elif isinstance(block, Bars):
        body = ["  " + line for line in block.lines()]
    else:
        width = max((len(c.usage) for c in block.commands), default=0)
        body = [f"  {c.usage:<{width}}  {c.summary}" for c in block.commands]
    return [f"{block.caption}:", *body] if block.caption else body


def render(reply: Reply) -> str:
    """A Reply as plain terminal text."""
    sections: list[str] = [reply.text] if reply.text else []
    sections += ["\n".join(block_lines(block)) for block in reply.blocks]
    if reply.code:
        sections.append(textwrap.indent(reply.code.rstrip("\n"), "    │ "))
    if reply.choices:
        sections.append(
            "\n".join(f"  {i}) {choice}" for i, choice in enumerate(reply.choices, start=1))
        )
    if reply.page is not None and reply.page.has_more:
        sections.append(f"(more on page {reply.page.number + 1})")
    hints = []
    if Action.NEXT in reply.actions:
        practising = reply.question_id is not None and is_practice(reply.question_id)
        hints.append(
            "Enter or /practice: next practice question"
            if practising
            else "Enter or /quiz: next question"
        )
    if Action.HINT in reply.actions:
        hints.append("/hint")
    if Action.SKIP in reply.actions:
        hints.append("/skip")
    if hints:
        sections.append("(" + " · ".join(hints) + ")")
    body = "\n\n".join(sections)
    if reply.title:
        return f"── {reply.title} " + "─" * max(0, 60 - len(reply.title)) + "\n" + body
    return body


class Chat:
    """Turns typed lines into tutor calls. Holds only what the terminal needs between lines."""

    def __init__(
        self,
        tutor: Tutor,
        who: LearnerRef,
        files_dir: Path = Path("data"),
        admin: AdminCommands | None = None,
        runner: SnippetRunner | None = None,
        notify: Callable[[str], None] | None = None,
        reports: Reports | None = None,
    ) -> None:
        self.tutor = tutor
        self.who = who
        self.files_dir = files_dir  # where charts are written
        self.admin = admin
        self.practice_topic: str | None = None  # of the last /practice, for Enter after it
        self.last: Reply | None = None
        self.runner = runner
        self.notify = notify or (lambda text: None)
        self.code_lines: list[str] | None = None  # lines typed after a bare /run, until /end
        self.question_code: str | None = None  # the code of the last question shown
        self.last_run: RunResult | None = None  # for /layers
        self.question_id: str | None = None  # the last question shown (for /report)
        self.runs = 0  # snippets run so far in this chat
        self.reports = reports

    @property
    def collecting(self) -> bool:
        return self.code_lines is not None

    async def handle(self, line: str) -> Reply | None:
        """The reply to one line, or None to quit."""
        if not is_text(line):
            return Reply(
                text="That line is not valid UTF-8 text (check your terminal's encoding); "
                "nothing was done with it.",
                kind=Kind.ERROR,
            )
        if self.admin is not None and self.admin.pending is not None:
            return await self.admin.confirm(line)
        if self.code_lines is not None:
            if line.strip() != END:
                self.code_lines.append(line if line.endswith("\n") else line + "\n")
                return NOTHING
            return await self.finish()
        text = line.strip()
        if not text:
            # Enter after feedback moves on; elsewhere an empty line does nothing.
            last = self.last
            if last is not None and Action.NEXT in last.actions:
                if last.question_id is not None and is_practice(last.question_id):
                    return await self.tutor.practice(self.who, self.practice_topic)
                return await self.tutor.quiz(self.who)  # within the filters in force
            return NOTHING
        if not text.startswith("/"):
            return await self.tutor.answer(self.who, text)
        name, _, rest = text[1:].partition(" ")
        args = rest.split()
        match name.lower():
            case "quiz" | "next":
                asked = quiz_request(args)
                return await self.tutor.quiz(
                    self.who, asked.topic, asked.difficulty, count=asked.count, clear=asked.clear
                )
            case "practice":
                self.practice_topic = args[0] if args else None
                return await self.tutor.practice(self.who, self.practice_topic)
            case "review":
                return await self.tutor.review(self.who, args[0] if args else None)
            case "settings":
                return await self._settings(args)
            case "hint":
                return await self.tutor.hint(self.who)
            case "skip":
                return await self.tutor.skip(self.who, rest.strip() or None)
            case "progress":
                return self._save_picture(await self.tutor.progress(self.who))
            case "leaderboard":
                return await self._leaderboard(args)
            case "mod":
                if self.admin is None:
                    return Reply(
                        text="Moderator commands need a local admin: start the chat with --admin.",
                        kind=Kind.ERROR,
                    )
                return await self.admin.handle(args)
            case "run":
                return await self._run_command(rest)
            case "layers":
                return self._layers()
            case "report":
                return await self._report(rest)
            case "quit" | "exit":
                return None
            case "help":
                return self.help()
            case _:
                # Said first, then the list: what was typed is not a command here.
                unknown = Text(f"Unknown command /{name}; here is what I know:")
                reply = self.help()
                return replace(reply, kind=Kind.ERROR, blocks=(unknown, *reply.blocks))

    def help(self) -> Reply:
        """/help: the registry's terminal commands (/run where a sandbox is), and the local
        admin's."""
        mine = listed(Frontend.TERMINAL)
        if self.runner is None:  # no sandbox here: nothing to run, no layers to show
            ran = ("run", "layers")
            mine = replace(mine, commands=tuple(c for c in mine.commands if c.name not in ran))
        lists = [mine, listed(Frontend.TERMINAL, moderators=True)] if self.admin else [mine]
        return help_reply(Frontend.TERMINAL, self.tutor.bank.topics, *lists)

    async def _settings(self, args: list[str]) -> Reply:
        what = args[0].lower() if args else ""
        if not args or args == ["show"]:
            return await self.tutor.settings(self.who)
        if len(args) == 2 and what == "timezone":
            return await self.tutor.set_timezone(self.who, args[1])
        if len(args) == 2 and what == "retention":
            return await self.tutor.set_learning(self.who, retention=args[1])
        if len(args) == 2 and what == "new":
            return await self.tutor.set_learning(self.who, new_per_day=args[1])
        return Reply(
            text="Usage: /settings, /settings timezone NAME (e.g. Europe/Paris), "
            "/settings retention 0.9, /settings new 20",
            kind=Kind.ERROR,
        )

    def _save_picture(self, reply: Reply) -> Reply:
        """A terminal cannot show the chart: write it next to the database and say where."""
        if reply.image is None:
            return reply
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.who.user_id)
        path = self.files_dir / f"progress-{safe}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(reply.image)
        except OSError as exc:
            note = Text(f"(Could not save the chart: {exc})")
        else:
            note = Text(f"Chart: {path}")
        return replace(reply, blocks=(*reply.blocks, note))

    def seen(self, reply: Reply) -> None:
        """Remember a reply shown to the learner (the last question's code, or the example a
        feedback shows, for /run; the question, for /report)."""
        if reply.kind is Kind.QUESTION or (reply.kind is Kind.FEEDBACK and reply.code):
            self.question_code = reply.code
        if reply.kind in (Kind.QUESTION, Kind.FEEDBACK) and reply.question_id:
            self.question_id = reply.question_id

    async def _report(self, note: str) -> Reply:
        """/report NOTE: a problem with the last question shown, for the moderators."""
        if self.reports is None or self.question_id is None:
            return Reply(
                text="/report goes with a question: answer one (/quiz), then /report what is "
                "wrong with it.",
                kind=Kind.ERROR,
            )
        return await self.reports.report(self.who, self.question_id, note)

    async def finish(self) -> Reply | None:
        """End of the code typed after /run (``/end`` or end of input): run it."""
        if self.code_lines is None:
            return None
        code, self.code_lines = "".join(self.code_lines), None
        if not code.strip():
            if not self.question_code:
                return Reply(text="Nothing to run.", kind=Kind.ERROR)
            code = self.question_code
        return await self._run(code)

    async def _run_command(self, rest: str) -> Reply:
        if self.runner is None:
            return Reply(text="Running code is not available here.", kind=Kind.ERROR)
        if rest.strip():
            return await self._run(rest.strip() + "\n")  # /run print(1): a one-liner
        if self.last is not None and self.question_code and Action.RUN in self.last.actions:
            return await self._run(self.question_code)  # right after feedback: "Run it"
        if self.last is not None and self.last.kind is Kind.QUESTION and self.question_code:
            return await self._run(self.question_code)  # right after a question: its code
        self.code_lines = []
        hint = " (/end right away runs the last question's code)" if self.question_code else ""
        return Reply(
            text=f"Type or paste your code, then {END} on a line of its own{hint}.",
            kind=Kind.INFO,
        )

    async def _run(self, code: str) -> Reply:
        assert self.runner is not None
        # The open question's own code shows its answer: said before it runs, recorded once the
        # output is here.
        revealing = await self.tutor.reveal(self.who, code) if self.tutor is not None else None
        if revealing is not None:
            self.notify(render(revealing))
        first, self.runs = self.runs == 0, self.runs + 1
        # The terminal starts the sandbox on its first /run: the wait then is the start, not a
        # queue (being first in line only means no sandbox is ready yet).
        self.notify(
            "Starting the sandbox for your first run (this takes a few seconds)..."
            if first
            else "Running it in the sandbox..."
        )

        def place(position: int) -> None:
            if position > 1:
                self.notify(f"Waiting for a free sandbox: you are number {position} in line.")
            elif not first:
                self.notify("Waiting for the sandbox to be ready...")

        try:
            result = await self.runner.run(code, self.who.user_id, on_position=place)
        except (RunRefused, SandboxUnavailable) as exc:
            return Reply(text=str(exc), kind=Kind.ERROR)
        if revealing is not None:
            await self.tutor.ran(self.who, code)  # committed before the output is shown
        self.last_run = result
        text = result.render()
        if result.files:  # a terminal cannot show a plot: written next to the database
            try:
                saved = save_files(result, self.files_dir, self.who.user_id)
                text += "\n\n" + describe_saved(saved)
            except OSError as exc:
                text += f"\n\n(Could not save the files the snippet wrote: {exc})"
        if any(m.layers for m in result.models):
            text += "\n(/layers shows each model's layers.)"
        return Reply(text=text, kind=Kind.INFO, title="Run result")

    def _layers(self) -> Reply:
        tables = self.last_run.layer_tables() if self.last_run is not None else ""
        if not tables:
            return Reply(text="No model to show: /run a snippet that builds one.", kind=Kind.ERROR)
        return Reply(text=tables, kind=Kind.INFO, title="Layers")

    async def _leaderboard(self, args: list[str]) -> Reply:
        window, page, topic = Window.ALL, 1, None
        for arg in args:
            if arg.lstrip("+-").isdigit():  # any spelling of a number, "-5" and "²" included
                number = whole_number(arg, MAX_PAGE)
                if number is None:
                    return Reply(text=f"Pages go from 1 to {MAX_PAGE:,}.", kind=Kind.ERROR)
                page = number
            elif arg.lower() in Window.__members__.values():
                window = Window(arg.lower())
            elif arg in self.tutor.bank.topics:
                topic = arg
            else:
                return Reply(
                    text="Usage: /leaderboard [week|month|all] [topic] [page]", kind=Kind.ERROR
                )
        return await self.tutor.leaderboard(self.who, window, page, topic)


async def run_chat(
    services: Services,
    who: LearnerRef,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    admin: bool = False,
) -> int:
    """The chat loop over the shared services. With ``admin``, the /mod commands are open (a
    local admin); charts and exports go to ``services.files_dir``."""
    interactive = stdin.isatty()
    # Bytes that are not UTF-8 arrive as lone surrogates for Chat.handle to refuse, instead of
    # ending the chat in readline; output the terminal cannot show is replaced, not fatal.
    for stream, errors in ((stdin, "surrogateescape"), (stdout, "replace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)
    files_dir = services.files_dir
    commands = None
    if admin:
        actor = Actor(who.platform, who.guild_id, who.user_id, who.display_name, Authority.MANAGER)
        commands = AdminCommands(
            services.moderator, actor, files_dir, services.web, services.reports
        )

    width = terminal_width(interactive)

    def say(text: str) -> None:
        stdout.write(wrapped(text, width) + "\n")
        stdout.flush()

    tutor = services.tutor
    chat = Chat(
        tutor,
        who,
        files_dir,
        commands,
        runner=services.runner,
        notify=say,
        reports=services.reports,
    )
    reader = LineReader(stdin, interactive and stdin is sys.stdin, files_dir / ".chat-history")

    say(
        f"Hello {who.display_name}! I'm your transfer-learning tutor "
        f"({len(tutor.bank)} questions on {len(tutor.bank.topics)} topics)."
    )
    say("Type /quiz to start, /help for commands, /quit to leave.\n")
    try:
        await _loop(chat, reader, say, interactive)
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Ctrl-C: leave at once (asyncio.run cancels this task, then raises KeyboardInterrupt
        # for the command line to end quietly); every answer given so far is committed.
        say("")
        say("Bye! Your progress is saved.")
        reader.close()
        raise
    reader.close()
    say("Bye! Your progress is saved.")
    return 0


async def _loop(
    chat: Chat, reader: LineReader, say: Callable[[str], None], interactive: bool
) -> None:
    while True:
        prompt = "... " if chat.collecting else "> "
        line = await reader.read(prompt)
        if not line:  # end of input: code typed after /run still runs
            reply = await chat.finish()
            if reply is not None and not reply.empty:
                say(render(reply) + "\n")
            return
        if not interactive:
            say(f"{prompt}{_printable(line.rstrip())}")
        reply = await chat.handle(line)
        if reply is None:
            return
        if not reply.empty:
            chat.last = reply
            say(render(reply) + "\n")
        chat.seen(reply)
