"""SPARQL 1.1 Protocol parsing: (method, content type, URL, body) -> QueryRequest or an error."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from bolyst.errors import (
    BolystError,
    MethodNotAllowed,
    ProtocolError,
    UnsupportedMediaType,
    UpdateRejected,
)
from bolyst.protocol import QueryRequest, parse_request

ASK = "ASK { ?s ?p ?o }"
G1, G2 = "http://example.org/g1", "http://example.org/g2"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"


def qs(*pairs: tuple[str, str]) -> bytes:
    return urlencode(pairs, quote_via=quote).encode("ascii")


ACCEPTED = [
    pytest.param("GET", None, qs(("query", ASK)), b"", QueryRequest(ASK), id="get"),
    pytest.param("HEAD", None, qs(("query", ASK)), b"", QueryRequest(ASK), id="head"),
    pytest.param(
        "GET",
        None,
        qs(("query", ASK), ("default-graph-uri", G1), ("default-graph-uri", G2)),
        b"",
        QueryRequest(ASK, default_graph_uris=(G1, G2)),
        id="get-default-graphs-in-order",
    ),
    pytest.param(
        "GET",
        None,
        qs(("named-graph-uri", G2), ("query", ASK), ("format", "csv")),
        b"",
        QueryRequest(ASK, named_graph_uris=(G2,), format="csv"),
        id="get-named-graph-and-format",
    ),
    pytest.param(
        "GET",
        None,
        b"query=ASK+%7B%7D",
        b"",
        QueryRequest("ASK {}"),
        id="get-plus-is-space",
    ),
    pytest.param("POST", FORM, b"", qs(("query", ASK)), QueryRequest(ASK), id="post-form"),
    pytest.param(
        "POST",
        FORM + "; charset=UTF-8",
        qs(("default-graph-uri", G1)),
        qs(("query", ASK), ("named-graph-uri", G2)),
        QueryRequest(ASK, default_graph_uris=(G1,), named_graph_uris=(G2,)),
        id="post-form-graphs-from-url-and-body",
    ),
    pytest.param(
        "POST",
        DIRECT,
        qs(("default-graph-uri", G1), ("format", "xml")),
        ASK.encode(),
        QueryRequest(ASK, default_graph_uris=(G1,), format="xml"),
        id="post-direct",
    ),
    pytest.param(
        "POST",
        "Application/SPARQL-Query; charset=utf-8",
        b"",
        'SELECT * { ?s ?p "blåbær" }'.encode(),
        QueryRequest('SELECT * { ?s ?p "blåbær" }'),
        id="post-direct-utf8-case-insensitive-type",
    ),
    pytest.param(
        "GET",
        None,
        qs(("query", 'ASK { ?s ?p "Tromsø" }')),
        b"",
        QueryRequest('ASK { ?s ?p "Tromsø" }'),
        id="get-percent-encoded-utf8",
    ),
    pytest.param(
        "GET",
        None,
        qs(("query", ASK), ("timeout", "3"), ("output", "json")),
        b"",
        QueryRequest(ASK),
        id="unknown-parameters-ignored",
    ),
]


@pytest.mark.parametrize(("method", "ctype", "url", "body", "expected"), ACCEPTED)
def test_accepted(
    method: str, ctype: str | None, url: bytes, body: bytes, expected: QueryRequest
) -> None:
    assert parse_request(method, ctype, url, body) == expected


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_without_query_asks_for_the_service_description(method: str) -> None:
    assert parse_request(method, None, b"", b"") is None
    assert parse_request(method, None, b"format=ttl", b"") is None


REFUSED = [
    # (method, content type, URL, body, error class, status, words the message must contain)
    ("GET", None, qs(("query", ASK), ("query", ASK)), b"", ProtocolError, 400, "2 times"),
    ("POST", FORM, qs(("query", ASK)), qs(("query", ASK)), ProtocolError, 400, "2 times"),
    ("POST", DIRECT, qs(("query", ASK)), ASK.encode(), ProtocolError, 400, "twice"),
    ("POST", FORM, b"", b"", ProtocolError, 400, "no query"),
    ("POST", FORM, b"", b"format=json", ProtocolError, 400, "no query"),
    ("POST", DIRECT, b"", b"", ProtocolError, 400, "empty"),
    ("GET", None, b"query=", b"", ProtocolError, 400, "empty"),
    ("GET", None, b"query=%20%0A", b"", ProtocolError, 400, "empty"),
    ("POST", "text/plain", b"", ASK.encode(), UnsupportedMediaType, 415, "text/plain"),
    ("POST", None, b"", qs(("query", ASK)), UnsupportedMediaType, 415, "no Content-Type"),
    ("POST", "", b"", ASK.encode(), UnsupportedMediaType, 415, "application/sparql-query"),
    ("POST", "application/json", b"", b"{}", UnsupportedMediaType, 415, "application/json"),
    ("POST", DIRECT + "; charset=UTF-16", b"", ASK.encode("utf-16"), ProtocolError, 400, "UTF-8"),
    ("POST", FORM + "; charset=latin1", b"", b"query=ASK%7B%7D", ProtocolError, 400, "latin1"),
    ("POST", DIRECT, b"", "ASK { ?s ?p 'ø' }".encode("latin-1"), ProtocolError, 400, "UTF-8"),
    ("POST", FORM, b"", b"query=ASK%20%7B%20%22%F8%22%20%7D", ProtocolError, 400, "UTF-8"),
    ("GET", None, b"query=%FF", b"", ProtocolError, 400, "UTF-8"),
    ("GET", None, "query=ASK{}&x=ø".encode("latin-1"), b"", ProtocolError, 400, "UTF-8"),
    ("GET", None, qs(("query", ASK), ("default-graph-uri", "g1")), b"", ProtocolError, 400, "IRI"),
    (
        "GET",
        None,
        qs(("query", ASK), ("named-graph-uri", "urn:a b")),
        b"",
        ProtocolError,
        400,
        "IRI",
    ),
    ("PUT", FORM, qs(("query", ASK)), b"", MethodNotAllowed, 405, "PUT"),
    ("DELETE", None, qs(("query", ASK)), b"", MethodNotAllowed, 405, "GET or POST"),
    # Updates, however sent, are refused: the endpoint is read-only.
    ("GET", None, b"update=CLEAR%20ALL", b"", UpdateRejected, 403, "read-only"),
    ("POST", FORM, b"", b"update=CLEAR+ALL", UpdateRejected, 403, "read-only"),
    ("POST", FORM, b"", b"update=CLEAR%20NAMED&update=CLEAR%20DEFAULT", UpdateRejected, 403, ""),
    ("POST", "application/sparql-update", b"", b"CLEAR ALL", UpdateRejected, 403, "read-only"),
    ("POST", "application/sparql-update; charset=UTF-16", b"", b"", UpdateRejected, 403, ""),
    ("POST", DIRECT, qs(("using-graph-uri", G1)), ASK.encode(), UpdateRejected, 403, ""),
    ("POST", FORM, b"", qs(("query", ASK), ("update", "CLEAR ALL")), UpdateRejected, 403, ""),
]


@pytest.mark.parametrize(("method", "ctype", "url", "body", "error", "status", "words"), REFUSED)
def test_refused(
    method: str,
    ctype: str | None,
    url: bytes,
    body: bytes,
    error: type[BolystError],
    status: int,
    words: str,
) -> None:
    with pytest.raises(error) as caught:
        parse_request(method, ctype, url, body)
    assert caught.value.status == status
    assert words in str(caught.value)


def test_method_not_allowed_lists_the_allowed_methods() -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        parse_request("PATCH", None, b"", b"")
    assert caught.value.allowed == ("GET", "HEAD", "POST")


def test_query_string_may_be_text() -> None:
    assert parse_request("GET", None, "query=ASK%7B%7D", b"") == QueryRequest("ASK{}")


def test_get_ignores_a_body() -> None:
    assert parse_request("GET", FORM, qs(("query", ASK)), b"query=other") == QueryRequest(ASK)
