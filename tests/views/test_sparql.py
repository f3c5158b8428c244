"""``/sparql`` through the Flask test client: formats, the protocol's ways in, errors, HTTP."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import warnings
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from werkzeug.test import TestResponse

from bolyst.errors import BolystError
from bolyst.store import Answer

EX = "https://example.org/test#"
ID = "https://example.org/id/"
ALPHA = "https://w3id.org/bolyst/graph/data/alpha"
BETA = "https://w3id.org/bolyst/graph/data/beta"
SRJ = "application/sparql-results+json"
SRX = "application/sparql-results+xml"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"

SELECT = f"""PREFIX ex: <{EX}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?p ?label ?n WHERE {{ ?p a ex:Programme ; rdfs:label ?label ; ex:members ?n }}
ORDER BY ?label"""
ROWS = [
    {"p": ID + "innherred", "label": "Intro Innherred", "n": "8"},
    {"p": ID + "kom", "label": 'KOM Trainee, "Sør"\tvest', "n": "5"},
    {"p": ID + "tromso", "label": "Trainee Tromsø", "n": "12"},
]
CONSTRUCT = f"""PREFIX ex: <{EX}>
CONSTRUCT {{ ?p ex:members ?n }} WHERE {{ ?p ex:members ?n }}"""
MEMBERS = [(ID + "tromso", 12), (ID + "innherred", 8), (ID + "kom", 5)]
COUNT_ALPHA_BETA = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


def get(client: FlaskClient, query: str, **params: Any) -> TestResponse:
    pairs = [("query", query), *_pairs(params)]
    return client.get("/sparql?" + urlencode(pairs, quote_via=quote), headers=params.get("h"))


def _pairs(params: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if key == "h":
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key.replace("_", "-"), item))
    return pairs


# --- reading answers, with parsers independent of the engine --------------------------------


def rows_json(body: bytes) -> list[dict[str, str]]:
    data = json.loads(body)
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


def rows_xml(body: bytes) -> list[dict[str, str]]:
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    root = ET.fromstring(body)
    return [
        {b.get("name", ""): (b[0].text or "") for b in result.findall("r:binding", ns)}
        for result in root.findall("r:results/r:result", ns)
    ]


def rows_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def rows_tsv(body: bytes) -> list[dict[str, str]]:
    lines = body.decode("utf-8").rstrip("\n").split("\n")
    header = [name.removeprefix("?") for name in lines[0].split("\t")]
    return [dict(zip(header, map(_tsv_term, line.split("\t")), strict=True)) for line in lines[1:]]


def _tsv_term(term: str) -> str:
    if term.startswith("<"):
        return term[1:-1]
    match = re.fullmatch(r'"((?:[^"\\]|\\.)*)"(?:@[\w-]+|\^\^<[^>]*>)?', term)
    if match:
        escapes = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], match.group(1))
    return term  # a bare number


def boolean(response: TestResponse) -> bool:
    if response.mimetype == SRX:
        text = ET.fromstring(response.data).findtext(
            "{http://www.w3.org/2005/sparql-results#}boolean"
        )
        return text == "true"
    value = json.loads(response.data)["boolean"]
    assert isinstance(value, bool)
    return value


def parse_rdf(data: bytes, rdflib_format: str) -> Graph:
    """Parse any RDF syntax; quads are merged into one graph."""
    dataset = Dataset()
    with warnings.catch_warnings():
        # rdflib 7.6 parses TriG, N-Quads and JSON-LD through its deprecated ConjunctiveGraph.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.parse(data=data, format=rdflib_format)
    graph = Graph()
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        graph.add((s, p, o))
    return graph


def members_graph() -> Graph:
    graph = Graph()
    for programme, count in MEMBERS:
        graph.add((URIRef(programme), URIRef(EX + "members"), Literal(count)))
    return graph


# --- answers in every format ------------------------------------------------------------------

RESULT_FORMATS = [
    (SRJ, "json", rows_json),
    (SRX, "xml", rows_xml),
    ("text/csv", "csv", rows_csv),
    ("text/tab-separated-values", "tsv", rows_tsv),
]


@pytest.mark.parametrize(("media_type", "name", "parse"), RESULT_FORMATS)
def test_select_in_every_results_format(
    client: FlaskClient, media_type: str, name: str, parse: Any
) -> None:
    by_accept = get(client, SELECT, h={"Accept": media_type})
    by_name = get(client, SELECT, format=name, h={"Accept": "text/html"})
    for response in (by_accept, by_name):
        assert response.status_code == 200, response.text
        assert response.mimetype == media_type
        assert response.mimetype_params.get("charset") == "utf-8"
        assert parse(response.data) == ROWS


@pytest.mark.parametrize("media_type", [SRJ, SRX])
def test_ask_true_and_false(client: FlaskClient, media_type: str) -> None:
    yes = get(client, f"ASK {{ <{ID}kom> ?p ?o }}", h={"Accept": media_type})
    no = get(client, f"ASK {{ <{ID}nowhere> ?p ?o }}", h={"Accept": media_type})
    assert (yes.status_code, yes.mimetype, boolean(yes)) == (200, media_type, True)
    assert (no.status_code, no.mimetype, boolean(no)) == (200, media_type, False)


GRAPH_FORMATS = [
    ("text/turtle", "ttl", "turtle"),
    ("application/n-triples", "nt", "nt"),
    ("application/rdf+xml", "rdfxml", "xml"),
    ("application/ld+json", "jsonld", "json-ld"),
    ("application/trig", "trig", "trig"),
    ("application/n-quads", "nq", "nquads"),
]


@pytest.mark.parametrize(("media_type", "name", "rdflib_format"), GRAPH_FORMATS)
def test_construct_in_every_graph_format(
    client: FlaskClient, media_type: str, name: str, rdflib_format: str
) -> None:
    for response in (
        get(client, CONSTRUCT, h={"Accept": media_type}),
        get(client, CONSTRUCT, format=name),
    ):
        assert response.status_code == 200, response.text
        assert response.mimetype == media_type
        assert isomorphic(parse_rdf(response.data, rdflib_format), members_graph())


def test_describe_gives_the_resource(client: FlaskClient) -> None:
    response = get(client, f"DESCRIBE <{ID}kom>", h={"Accept": "application/n-triples"})
    assert response.status_code == 200, response.text
    graph = parse_rdf(response.data, "nt")
    assert (URIRef(ID + "kom"), URIRef(EX + "members"), Literal(5)) in graph
    assert set(graph.subjects()) == {URIRef(ID + "kom")}


def test_defaults_without_accept(client: FlaskClient) -> None:
    assert get(client, SELECT).mimetype == SRJ
    assert get(client, CONSTRUCT).mimetype == "text/turtle"


# --- the three ways in, and the protocol dataset ----------------------------------------------


def test_get_post_form_and_post_direct_agree(client: FlaskClient) -> None:
    by_get = get(client, SELECT)
    by_form = client.post("/sparql", data={"query": SELECT}, content_type=FORM)
    by_direct = client.post("/sparql", data=SELECT.encode(), content_type=DIRECT)
    for response in (by_get, by_form, by_direct):
        assert response.status_code == 200, response.text
        assert rows_json(response.data) == ROWS


def test_default_graph_uri_restricts_the_default_graph(client: FlaskClient) -> None:
    only_beta = get(client, SELECT, default_graph_uri=BETA)
    assert [row["label"] for row in rows_json(only_beta.data)] == [ROWS[1]["label"]]
    both = client.post(
        "/sparql?" + urlencode([("default-graph-uri", ALPHA), ("default-graph-uri", BETA)]),
        data=SELECT.encode(),
        content_type=DIRECT,
    )
    assert rows_json(both.data) == ROWS


def test_named_graph_uri_gives_exactly_those_named_graphs(client: FlaskClient) -> None:
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    response = client.post(
        "/sparql", data={"query": query, "named-graph-uri": ALPHA}, content_type=FORM
    )
    assert response.status_code == 200, response.text
    assert rows_json(response.data) == [{"g": ALPHA}]
    # The protocol dataset replaces the query's FROM NAMED.
    response = get(
        client, f"SELECT DISTINCT ?g FROM NAMED <{ALPHA}> {{ GRAPH ?g {{}} }}", named_graph_uri=BETA
    )
    assert rows_json(response.data) == [{"g": BETA}]


def test_without_protocol_dataset_all_named_graphs_are_queryable(client: FlaskClient) -> None:
    graphs = {row["g"] for row in rows_json(get(client, COUNT_ALPHA_BETA).data)}
    assert {ALPHA, BETA} <= graphs


# --- saying no precisely ----------------------------------------------------------------------

BAD_REQUESTS = [
    # (method, URL, content type, body, status, words the text/plain message contains)
    ("GET", "/sparql?query=ASK%7B%7D&query=ASK%7B%7D", None, b"", 400, "2 times"),
    ("POST", "/sparql", FORM, b"format=json", 400, "no query"),
    ("POST", "/sparql", "text/plain", b"ASK {}", 415, "Content-Type"),
    ("POST", "/sparql", None, b"query=ASK%7B%7D", 415, "Content-Type"),
    ("POST", "/sparql", DIRECT + ";charset=UTF-16", "ASK {}".encode("utf-16"), 400, "UTF-8"),
    ("POST", "/sparql", DIRECT, "ASK { ?s ?p 'Tromsø' }".encode("latin-1"), 400, "UTF-8"),
    ("GET", "/sparql?query=ASK%7B%7D&default-graph-uri=nope", None, b"", 400, "IRI"),
    ("PUT", "/sparql?query=ASK%7B%7D", FORM, b"", 405, ""),
    ("DELETE", "/sparql", None, b"", 405, ""),
]


@pytest.mark.parametrize(("method", "url", "ctype", "body", "status", "words"), BAD_REQUESTS)
def test_malformed_requests_get_4xx_with_a_message(
    client: FlaskClient,
    method: str,
    url: str,
    ctype: str | None,
    body: bytes,
    status: int,
    words: str,
) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    response = client.open(url, method=method, data=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.mimetype == "text/plain"
    assert words in response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_huge_body_is_refused_before_it_is_read(client: FlaskClient) -> None:
    body = b"ASK {} #" + b"x" * (2 * 1024 * 1024)
    response = client.post("/sparql", data=body, content_type=DIRECT)
    assert response.status_code == 413
    assert response.mimetype == "text/plain"


def test_405_says_what_is_allowed(client: FlaskClient) -> None:
    response = client.put("/sparql")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_syntax_error_says_line_and_column(client: FlaskClient) -> None:
    response = get(client, "SELECT ?s\nWHERE { ?s ?p }")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert re.search(r"line 2\b", response.text), response.text
    assert re.search(r"column \d+", response.text), response.text


def test_error_as_json_when_asked(client: FlaskClient) -> None:
    response = get(client, "ASK {", h={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json is not None and response.json["status"] == 400


@pytest.mark.parametrize(
    ("query", "accept", "fmt", "words"),
    [
        (SELECT, "text/html", None, SRJ),
        (SELECT, None, "ttl", "use one of: json, xml, csv, tsv"),
        (CONSTRUCT, f"{SRJ}, text/csv", None, "text/turtle"),
    ],
)
def test_406_names_what_would_work(
    client: FlaskClient, query: str, accept: str | None, fmt: str | None, words: str
) -> None:
    params = {"format": fmt} if fmt else {}
    response = get(client, query, h={"Accept": accept} if accept else {}, **params)
    assert response.status_code == 406
    assert words in response.text


# --- read-only --------------------------------------------------------------------------------

INSERT = f"INSERT DATA {{ GRAPH <{ALPHA}> {{ <{ID}x> <{EX}members> 99 }} }}"
UPDATES = [
    ("GET", "/sparql?" + urlencode({"update": INSERT}), None, b""),
    ("POST", "/sparql", FORM, urlencode({"update": INSERT}).encode()),
    ("POST", "/sparql", "application/sparql-update", INSERT.encode()),
    ("POST", "/sparql", DIRECT, INSERT.encode()),
    ("GET", "/sparql?" + urlencode({"query": INSERT}), None, b""),
    ("POST", "/sparql", FORM, urlencode({"query": f"CLEAR GRAPH <{ALPHA}>"}).encode()),
    ("POST", "/sparql", DIRECT, f"DROP GRAPH <{BETA}>".encode()),
    ("POST", "/sparql", DIRECT, b"LOAD <http://example.org/data.ttl>"),
]


@pytest.mark.parametrize(("method", "url", "ctype", "body"), UPDATES)
def test_updates_are_refused_and_change_nothing(
    client: FlaskClient, method: str, url: str, ctype: str | None, body: bytes
) -> None:
    before = get(client, CONSTRUCT, h={"Accept": "application/n-triples"}).data
    counts = rows_json(get(client, COUNT_ALPHA_BETA).data)
    headers = {"Content-Type": ctype} if ctype else {}
    response = client.open(url, method=method, data=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert get(client, CONSTRUCT, h={"Accept": "application/n-triples"}).data == before
    assert rows_json(get(client, COUNT_ALPHA_BETA).data) == counts


# --- HTTP: CORS, gzip, caching, HEAD, logging -------------------------------------------------


def test_cors_on_answers_and_preflight(client: FlaskClient) -> None:
    response = get(client, SELECT, h={"Origin": "https://elsewhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert "Content-Type" not in preflight.headers
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert {"GET", "POST"} <= set(
        m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")
    )
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()


BIG = "SELECT ?i WHERE { VALUES ?i { " + " ".join(str(i) for i in range(200)) + " } }"


def test_gzip_for_large_bodies_when_accepted(client: FlaskClient) -> None:
    plain = get(client, BIG)
    zipped = get(client, BIG, h={"Accept-Encoding": "gzip, deflate"})
    refused = get(client, BIG, h={"Accept-Encoding": "gzip;q=0, identity"})
    small = get(client, "ASK {}", h={"Accept-Encoding": "gzip"})
    assert len(plain.data) > 1024 and "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
    assert gzip.decompress(zipped.data) == plain.data
    assert "Content-Encoding" not in refused.headers
    assert "Content-Encoding" not in small.headers
    assert "Accept-Encoding" in zipped.headers["Vary"]


def test_etag_and_304(client: FlaskClient) -> None:
    first = get(client, SELECT)
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert get(client, SELECT).headers["ETag"] == tag
    assert get(client, SELECT, format="csv").headers["ETag"] != tag
    assert get(client, SELECT + " LIMIT 1").headers["ETag"] != tag
    again = get(client, SELECT, h={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.data == b""
    assert "Content-Type" not in again.headers
    assert again.headers["ETag"] == tag
    assert get(client, SELECT, h={"If-None-Match": '"other"'}).status_code == 200


def test_etag_of_gzipped_answer_revalidates(client: FlaskClient) -> None:
    zipped = get(client, BIG, h={"Accept-Encoding": "gzip"})
    tag = zipped.headers["ETag"]
    assert tag.endswith('-gzip"')
    assert get(client, BIG, h={"Accept-Encoding": "gzip", "If-None-Match": tag}).status_code == 304


def test_post_answers_are_not_tagged(client: FlaskClient) -> None:
    response = client.post("/sparql", data=SELECT.encode(), content_type=DIRECT)
    assert "ETag" not in response.headers


def test_head_has_the_headers_of_get_and_no_body(client: FlaskClient) -> None:
    url = "/sparql?" + urlencode({"query": SELECT, "format": "csv"})
    got, head = client.get(url), client.head(url)
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Access-Control-Allow-Origin"):
        assert head.headers[name] == got.headers[name]
    assert client.head("/sparql").status_code == 200  # the service description


def test_access_log_line_per_query(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "SELECT * WHERE { ?s ?p 'a secret' }"
    with caplog.at_level(logging.INFO, logger="bolyst.access"):
        get(client, secret, format="csv")
        get(client, "SELECT * WHERE {")
    lines = [r.getMessage() for r in caplog.records if r.name == "bolyst.access"]
    assert len(lines) == 2
    assert re.fullmatch(
        r"GET query=[0-9a-f]{12} status=200 rows=\S+ ms=[\d.]+ format=text/csv truncated=0",
        lines[0],
    )
    assert "status=400" in lines[1]
    assert all("secret" not in line for line in lines)


# --- the engine's answers and errors, through fakes standing in for it ------------------------


class _FakeEngine:
    """Wraps the real engine's graphs(); run() returns or raises what the test says."""

    def __init__(self, real: Any, outcome: Answer | BaseException) -> None:
        self.real, self.outcome = real, outcome

    def graphs(self) -> tuple[str, ...]:
        graphs: tuple[str, ...] = self.real.graphs()
        return graphs

    def run(self, query: str, **kwargs: Any) -> Answer:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def close(self) -> None:
        pass


def _use(app: Flask, monkeypatch: pytest.MonkeyPatch, outcome: Answer | BaseException) -> None:
    state = app.extensions["bolyst"]
    monkeypatch.setitem(state, "engine", _FakeEngine(state["engine"], outcome))


def test_truncated_answer_says_so(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"head": {"vars": ["i"]}, "results": {"bindings": []}}).encode()
    _use(app, monkeypatch, Answer(body, SRJ, 0, True))
    response = get(client, "SELECT ?i WHERE { ?i ?p ?o }")
    assert response.status_code == 200
    assert response.headers["X-Bolyst-Truncated"] == "true"
    assert "X-Bolyst-Truncated" in response.headers["Access-Control-Expose-Headers"]


class _Busy(BolystError):
    status = 503
    retry_after = 2


def test_503_carries_retry_after(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(app, monkeypatch, _Busy("the query took longer than 10 s"))
    response = get(client, SELECT)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "10 s" in response.text


def test_our_faults_are_500_logged_and_say_nothing_of_the_query(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _use(app, monkeypatch, RuntimeError("engine exploded near 'a secret'"))
    with caplog.at_level(logging.ERROR, logger="bolyst.errors"):
        response = get(client, "SELECT * WHERE { ?s ?p 'a secret' }")
    assert response.status_code == 500
    assert response.mimetype == "text/plain"
    assert "secret" not in response.text and "exploded" not in response.text
    reference = re.search(r"reference ([0-9a-f]+)", response.text)
    assert reference is not None
    assert any(reference.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


# --- the service description ------------------------------------------------------------------

SD_NS = "http://www.w3.org/ns/sparql-service-description#"
VOID_TRIPLES = URIRef("http://rdfs.org/ns/void#triples")


@pytest.mark.parametrize(
    ("accept", "media_type", "rdflib_format"),
    [
        (None, "text/turtle", "turtle"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/turtle", "turtle"),
        ("application/ld+json", "application/ld+json", "json-ld"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("application/n-triples", "application/n-triples", "nt"),
    ],
)
def test_service_description_on_bare_get(
    client: FlaskClient, accept: str | None, media_type: str, rdflib_format: str
) -> None:
    response = client.get(
        "/sparql", base_url="https://data.example.org:8443", headers={"Accept": accept or ""}
    )
    assert response.status_code == 200, response.text
    assert response.mimetype == media_type
    graph = parse_rdf(response.data, rdflib_format)
    endpoints = set(graph.objects(None, URIRef(SD_NS + "endpoint")))
    assert endpoints == {URIRef("https://data.example.org:8443/sparql")}
    assert (None, URIRef(SD_NS + "supportedLanguage"), URIRef(SD_NS + "SPARQL11Query")) in graph


def test_service_description_counts_what_queries_count(client: FlaskClient) -> None:
    graph = parse_rdf(client.get("/sparql", query_string={"format": "nt"}).data, "nt")
    counted = {row["g"]: int(row["n"]) for row in rows_json(get(client, COUNT_ALPHA_BETA).data)}
    described = {}
    for named in graph.objects(None, URIRef(SD_NS + "namedGraph")):
        name = graph.value(named, URIRef(SD_NS + "name"))
        triples = graph.value(graph.value(named, URIRef(SD_NS + "graph")), VOID_TRIPLES)
        described[str(name)] = int(str(triples))
    assert described == counted
    dataset = next(graph.objects(None, URIRef(SD_NS + "defaultDataset")))
    default = graph.value(dataset, URIRef(SD_NS + "defaultGraph"))
    total = rows_json(get(client, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }").data)[0]["n"]
    assert graph.value(default, VOID_TRIPLES) == Literal(int(total))


def test_service_description_is_cacheable(client: FlaskClient) -> None:
    first = client.get("/sparql")
    again = client.get("/sparql", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    other_host = client.get("/sparql", base_url="http://elsewhere.example")
    assert other_host.headers["ETag"] != first.headers["ETag"]
