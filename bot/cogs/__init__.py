"""The Discord layer: one extension per feature (quiz, run, progress, help, moderation, and the
error path), plus what they share: rendering (``render``), components (``components``: the one
base of every button) and the handler wrapper (``_handling``). Services come from the bot
(``bot.services``, built once); no extension builds one or imports another extension."""
