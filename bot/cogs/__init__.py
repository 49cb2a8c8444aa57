"""The Discord layer: one extension per feature (quiz, run, progress, help), plus the shared
rendering (``render``), error reporting (``errors``) and handler wrapper (``_handling``)."""
