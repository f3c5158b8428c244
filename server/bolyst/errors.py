"""Domain errors that carry their HTTP status and CLI exit code."""

from __future__ import annotations


class BolystError(Exception):
    """A failure we can explain to the user; ``status`` is the HTTP status it maps to.

    ``line`` and ``column`` (1-based) say where in the query, when known; ``retry_after`` is the
    seconds a 503 asks the client to wait (the ``Retry-After`` header).
    """

    status = 500
    exit_code = 2
    line: int | None = None
    column: int | None = None
    retry_after: int | None = None

    def __init__(
        self,
        *args: object,
        line: int | None = None,
        column: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(*args)
        if line is not None:
            self.line = line
        if column is not None:
            self.column = column
        if retry_after is not None:
            self.retry_after = retry_after


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


class UpdateRejected(BolystError):
    """A SPARQL update sent to the read-only endpoint (403, as Oxigraph's read-only server)."""

    status = 403


class RemoteError(BolystError):
    """Another SPARQL endpoint refused a query or kept failing after the retries (`bolyst link`)."""

    status = 502


# --- the query engine (bolyst.policy, bolyst.store.pool) ----------------------------------------


class QueryRejected(InputError):
    """The policy refuses a query before evaluating it: too long, too deep, SERVICE, or a
    FROM / default-graph-uri / named-graph-uri outside the dataset. The message says where."""


class QuerySyntaxError(InputError):
    """The query is not valid SPARQL 1.1; ``line`` and ``column`` say where."""


class QueryTimeout(BolystError):
    """The query ran past the time limit; its evaluator was killed and replaced."""

    status = 503
    retry_after = 10


class Overloaded(BolystError):
    """Every evaluator is busy and the queue is full (or the wait too long): try again later."""

    status = 503
    retry_after = 2


class QueryResourceExhausted(BolystError):
    """The query needed more memory than an evaluator may use; it was stopped and replaced."""

    status = 503
    retry_after = 10


class EvaluatorCrashed(BolystError):
    """The evaluator process died while answering (a crash in the engine: our fault, 500).

    The message names the cause (e.g. a segmentation fault); the evaluator was replaced.
    """

    status = 500
