"""The SPARQL 1.1 Protocol, query operation: an HTTP request's parts -> a :class:`QueryRequest`.

https://www.w3.org/TR/sparql11-protocol/#query-operation allows three ways to send a query:

- ``GET`` (or ``HEAD``) with ``query=`` in the URL;
- ``POST`` with ``Content-Type: application/x-www-form-urlencoded`` and ``query=`` in the body;
- ``POST`` with ``Content-Type: application/sparql-query``: the body is the query and the other
  parameters stay in the URL.

Each may add ``default-graph-uri`` and ``named-graph-uri`` (any number of times) and our own
``format`` (a short name overriding ``Accept``). ``query`` must be given exactly once. The
endpoint is read-only: an update, by ``update=`` or ``application/sparql-update``, is refused.

We decode the raw URL and body ourselves, strictly as UTF-8: Werkzeug's ``request.args`` and
``request.form`` silently replace bytes that are not UTF-8, and the protocol wants a 400.

>>> parse_request("GET", None, b"query=ASK%20%7B%7D&named-graph-uri=urn%3Ag", b"")
QueryRequest(query='ASK {}', default_graph_uris=(), named_graph_uris=('urn:g',), format=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.http import parse_options_header

from bolyst.errors import (
    MethodNotAllowed,
    ProtocolError,
    UnsupportedMediaType,
    UpdateRejected,
)

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
UPDATE_PARAMS = ("update", "using-graph-uri", "using-named-graph-uri")

# An absolute IRI (RFC 3987): a scheme, then no space and none of the characters IRIs exclude.
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$")


@dataclass(frozen=True)
class QueryRequest:
    """What the client asked for: the query text, the protocol dataset and a format name."""

    query: str
    default_graph_uris: tuple[str, ...] = ()
    named_graph_uris: tuple[str, ...] = ()
    format: str | None = None


def parse_request(
    method: str, content_type: str | None, query_string: bytes | str, body: bytes
) -> QueryRequest | None:
    """Read a query request the way the SPARQL 1.1 Protocol describes it.

    Args:
        method: the HTTP method.
        content_type: the ``Content-Type`` header, or ``None``.
        query_string: the raw (percent-encoded) query string of the URL.
        body: the raw request body.

    Returns:
        The request, or ``None`` when it carries no query (a ``GET`` of the endpoint itself,
        which the caller answers with the service description).

    Raises:
        ProtocolError: two queries, an empty query, a bad IRI, a charset other than UTF-8,
            bytes that are not UTF-8, or a ``POST`` without a query (400).
        UnsupportedMediaType: a ``POST`` body that is neither form nor query (415).
        MethodNotAllowed: a method other than ``GET``, ``HEAD`` or ``POST`` (405).
        UpdateRejected: an update; the endpoint is read-only.
    """
    method = method.upper()
    params = _parse_params(query_string, "the URL")
    body_query: str | None = None
    if method == "POST":
        mime, options = parse_options_header(content_type or "")
        mime = mime.lower()
        if mime == SPARQL_UPDATE:
            raise UpdateRejected("this endpoint is read-only: SPARQL updates are not accepted")
        if mime not in (FORM, SPARQL_QUERY):
            got = f"Content-Type {mime}" if mime else "no Content-Type"
            raise UnsupportedMediaType(
                f"a POST query needs Content-Type {SPARQL_QUERY} (the body is the query) "
                f"or {FORM} (query=... in the body); got {got}"
            )
        charset = options.get("charset")
        if charset is not None and charset.lower().replace("-", "") != "utf8":
            raise ProtocolError(f"charset={charset} is not supported: send the query as UTF-8")
        if mime == FORM:
            params += _parse_params(body, "the request body")
        else:
            body_query = _decode(body, "the request body")
    elif method not in ("GET", "HEAD"):
        raise MethodNotAllowed(
            f"{method} is not a SPARQL query method: use GET or POST", ("GET", "HEAD", "POST")
        )
    if any(name in UPDATE_PARAMS for name, _ in params):
        raise UpdateRejected("this endpoint is read-only: SPARQL updates are not accepted")

    queries = [value for name, value in params if name == "query"]
    if body_query is not None:
        if queries:
            raise ProtocolError(
                "the query is given twice, as the body and as query= in the URL; give it once"
            )
        queries.append(body_query)
    if len(queries) > 1:
        raise ProtocolError(f"query= is given {len(queries)} times; give exactly one query")
    if not queries:
        if method == "POST":
            raise ProtocolError(
                f"the POST request has no query: send query=... as a {FORM} body, "
                f"or the query itself with Content-Type: {SPARQL_QUERY}"
            )
        return None
    query = queries[0]
    if not query.strip():
        raise ProtocolError("the query is empty")
    return QueryRequest(
        query=query,
        default_graph_uris=_iris(params, "default-graph-uri"),
        named_graph_uris=_iris(params, "named-graph-uri"),
        format=next((value for name, value in params if name == "format"), None),
    )


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"{where} is not valid UTF-8 (byte {exc.start}): send the query as UTF-8"
        ) from exc


def _parse_params(raw: bytes | str, where: str) -> list[tuple[str, str]]:
    text = _decode(raw, where) if isinstance(raw, bytes) else raw
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"a percent-encoded value in {where} is not valid UTF-8: encode the query as UTF-8"
        ) from exc


def _iris(params: list[tuple[str, str]], key: str) -> tuple[str, ...]:
    values = tuple(value for name, value in params if name == key)
    for value in values:
        if not _IRI.match(value):
            raise ProtocolError(f"{key}={value!r} is not an absolute IRI")
    return values
