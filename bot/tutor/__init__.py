"""The tutor core: content, grading, quiz flow and progress rules.

Nothing here imports discord, sqlalchemy or tensorflow, and nothing here knows which frontend is
talking. I/O happens only through the ``Store`` protocol that ``service.Tutor`` is given.
"""
