"""Errors that reach the user as one clear line (never a traceback)."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: a file, line or field that is not what was expected.

    ``str(err)`` is the one-line message the CLI prints; the CLI exits with status 2.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.field = field
        where = []
        if path is not None:
            where.append(str(path) if line is None else f"{path}:{line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)
