"""The one error handler: a domain error's status and message, as text (or JSON when asked).

The client's mistakes (4xx) say what is wrong and where (a syntax error gives line and column);
our own faults (500) are logged with a reference and say nothing of the request. Messages name
only the request that caused them, never another user's query.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException

from bolyst.errors import BolystError, MethodNotAllowed
from bolyst.formats import best_of

log = logging.getLogger("bolyst.errors")

_OFFERS = ("text/plain", "application/json")


def register(app: Flask) -> None:
    app.register_error_handler(BolystError, handle_bolyst_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)


def handle_bolyst_error(exc: BolystError) -> Response:
    if exc.status >= 500 and exc.status not in (503, 504):
        return handle_unexpected(exc)
    response = render(exc.status, _message(exc))
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(float(retry_after))))
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allowed)
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return handle_unexpected(exc)
    response = render(status, f"{exc.name}: {exc.description}")
    # Keep what Werkzeug adds (Allow on 405, WWW-Authenticate...) but not its HTML body.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(exc: BaseException) -> Response:
    reference = uuid.uuid4().hex[:12]
    log.error("internal error %s on %s %s", reference, request.method, request.path, exc_info=exc)
    return render(500, f"Internal server error (reference {reference}); it has been logged.")


def render(status: int, message: str) -> Response:
    """An error response: plain text, or ``{"status", "message"}`` if the client asks for JSON,
    or a page if a browser asks for HTML (but not at the protocol endpoint /sparql)."""
    offers = _OFFERS if request.blueprint == "sparql" else (*_OFFERS, "text/html")
    chosen = best_of(request.headers.get("Accept"), offers)
    if chosen == "application/json":
        body = json.dumps({"status": status, "message": message})
        return Response(body, status=status, content_type="application/json")
    if chosen == "text/html":
        page = render_template("error.html", status=status, message=message)
        return Response(page, status=status, content_type="text/html; charset=utf-8")
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def _message(exc: BolystError) -> str:
    message = str(exc) or type(exc).__name__
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    if line is not None and f"line {line}" not in message:
        where = f"line {line}" + (f", column {column}" if column is not None else "")
        message = f"{message} ({where})"
    return message
