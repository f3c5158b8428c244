"""Domain errors that carry their HTTP status and CLI exit code."""

from __future__ import annotations


class BolystError(Exception):
    """A failure we can explain to the user; ``status`` is the HTTP status it maps to."""

    status = 500
    exit_code = 2


class InputError(BolystError):
    """The user's input (a file, a query, a request) is malformed."""

    status = 400


class LoadError(InputError):
    """A source file could not be read or parsed; names the file and the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
