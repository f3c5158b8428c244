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


class ProtocolError(InputError):
    """The HTTP request does not follow the SPARQL 1.1 Protocol (no query, two queries...)."""


class UnsupportedMediaType(ProtocolError):
    """A POST body of a media type the endpoint does not read."""

    status = 415


class MethodNotAllowed(ProtocolError):
    """An HTTP method the endpoint does not offer; ``allowed`` lists those it does."""

    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed
        super().__init__(message)


class NotAcceptable(BolystError):
    """Nothing the client accepts can carry the answer; ``offers`` lists what would."""

    status = 406

    def __init__(self, message: str, offers: tuple[str, ...]) -> None:
        self.offers = offers
        super().__init__(message)
