"""Real clients against the real production server (``bolyst serve``) over the shipped data.

The server runs as a subprocess on a free loopback port. Expected answers are computed in
process with pyoxigraph from the same files, so the test checks the HTTP path, not the data.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import requests
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, POST, POSTDIRECTLY, TURTLE, XML, SPARQLWrapper

from bolyst.load import find_sources
from bolyst.store.local import open_memory_store

pytestmark = pytest.mark.server

PROGRAMMES = """PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?programme ?label WHERE {
  ?programme a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?label .
} ORDER BY ?label ?programme"""
LABELS = """PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT { ?programme skos:prefLabel ?label } WHERE {
  ?programme a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?label .
}"""
ASK = """PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
ASK { ?programme a bolyst:RegionalTraineeProgramme }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(repo_root: Path) -> Iterator[str]:
    """Start ``bolyst serve`` (granian) on loopback; yield its base URL; stop it."""
    port = free_port()
    bolyst = shutil.which("bolyst", path=str(Path(sys.executable).parent)) or "bolyst"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLYST_")}
    process = subprocess.Popen(
        [
            bolyst,
            "serve",
            "--root",
            str(repo_root),
            "--port",
            str(port),
            "--workers",
            "1",
            "--skip-validation",
        ],
        env={**env, "BOLYST_DEVSHIM": os.environ.get("BOLYST_DEVSHIM", "")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers share its process group, stopped together below
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"bolyst serve exited with {process.returncode}:\n{output}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("bolyst serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base + "/sparql"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def expected(repo_root: Path) -> dict[str, Any]:
    """The answers, computed in process from the same files (default graph: every graph)."""
    sources = find_sources(repo_root)
    store, _ = open_memory_store((*sources.ontology, *sources.data), sources.root)
    solutions = store.query(PROGRAMMES, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    rows = [(str(r["programme"].value), str(r["label"].value)) for r in solutions]
    assert len(rows) >= 3
    triples = store.query(LABELS, use_default_graph_as_union=True)
    assert isinstance(triples, ox.QueryTriples)
    graph = parse_rdf(triples.serialize(format=ox.RdfFormat.N_TRIPLES) or b"", "nt")
    return {"rows": rows, "graph": graph}


def parse_rdf(data: bytes, rdflib_format: str) -> Graph:
    dataset = Dataset()
    with warnings.catch_warnings():
        # rdflib 7.6 parses quads and JSON-LD through its deprecated ConjunctiveGraph.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.parse(data=data, format=rdflib_format)
    graph = Graph()
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        graph.add((s, p, o))
    return graph


def wrapper(endpoint: str, query: str, fmt: str, method: str = "GET") -> SPARQLWrapper:
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if method == "POST":
        client.setMethod(POST)
    elif method == "POSTDIRECTLY":
        client.setMethod(POST)
        client.setRequestMethod(POSTDIRECTLY)
    return client


# --- SPARQLWrapper ----------------------------------------------------------------------------

METHODS = ["GET", "POST", "POSTDIRECTLY"]


@pytest.mark.parametrize("method", METHODS)
def test_sparqlwrapper_json(server: str, expected: dict[str, Any], method: str) -> None:
    result = wrapper(server, PROGRAMMES, JSON, method).queryAndConvert()
    assert isinstance(result, dict)
    rows = [(b["programme"]["value"], b["label"]["value"]) for b in result["results"]["bindings"]]
    assert rows == expected["rows"]


@pytest.mark.parametrize("method", METHODS)
def test_sparqlwrapper_xml(server: str, expected: dict[str, Any], method: str) -> None:
    document = wrapper(server, PROGRAMMES, XML, method).queryAndConvert()
    rows = []
    for result in document.getElementsByTagName("result"):  # type: ignore[union-attr]
        values = {
            b.getAttribute("name"): b.firstChild.firstChild.data  # type: ignore[union-attr]
            for b in result.getElementsByTagName("binding")
        }
        rows.append((values["programme"], values["label"]))
    assert rows == expected["rows"]


@pytest.mark.parametrize("method", METHODS)
def test_sparqlwrapper_csv(server: str, expected: dict[str, Any], method: str) -> None:
    body = wrapper(server, PROGRAMMES, CSV, method).queryAndConvert()
    assert isinstance(body, bytes)
    reader = csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))
    assert [(r["programme"], r["label"]) for r in reader] == expected["rows"]


# SPARQLWrapper 2.0 converts RDF/XML into rdflib's deprecated ConjunctiveGraph.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_sparqlwrapper_ask_and_construct(server: str, expected: dict[str, Any]) -> None:
    answer = wrapper(server, ASK, JSON).queryAndConvert()
    assert isinstance(answer, dict) and answer["boolean"] is True
    turtle = wrapper(server, LABELS, TURTLE).queryAndConvert()
    assert isinstance(turtle, bytes)
    assert isomorphic(parse_rdf(turtle, "turtle"), expected["graph"])
    rdfxml = wrapper(server, LABELS, XML).queryAndConvert()  # CONSTRUCT + XML: RDF/XML, a Graph
    assert isinstance(rdfxml, Graph)
    assert isomorphic(rdfxml, expected["graph"])


# --- rdflib's SPARQLStore ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
def test_rdflib_sparqlstore(server: str, expected: dict[str, Any], method: str) -> None:
    graph = Graph(store=SPARQLStore(server, method=method))
    rows = [(str(r[0]), str(r[1])) for r in graph.query(PROGRAMMES)]  # type: ignore[index]
    assert rows == expected["rows"]
    assert graph.query(ASK).askAnswer is True
    constructed = graph.query(LABELS).graph
    assert constructed is not None and isomorphic(constructed, expected["graph"])


def test_rdflib_sparqlstore_triples(server: str, expected: dict[str, Any]) -> None:
    graph = Graph(store=SPARQLStore(server))
    programme, label = expected["rows"][0]
    skos_label = URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
    labels = set(graph.objects(URIRef(programme), skos_label))
    assert any(isinstance(o, Literal) and str(o) == label for o in labels)


# --- curl-like requests, every format ---------------------------------------------------------

RESULT_FORMATS = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
]
GRAPH_FORMATS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}


def _rows(media_type: str, body: bytes) -> list[tuple[str, str]]:
    if media_type == "application/sparql-results+json":
        bindings = json.loads(body)["results"]["bindings"]
        return [(b["programme"]["value"], b["label"]["value"]) for b in bindings]
    if media_type == "application/sparql-results+xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        rows = []
        for result in ET.fromstring(body).iter(ns + "result"):
            values = {b.get("name"): b[0].text for b in result.iter(ns + "binding")}
            rows.append((str(values["programme"]), str(values["label"])))
        return rows
    text = body.decode("utf-8")
    if media_type == "text/csv":
        return [(r["programme"], r["label"]) for r in csv.DictReader(io.StringIO(text))]
    lines = text.rstrip("\n").split("\n")[1:]
    rows = []
    for line in lines:
        iri, literal = line.split("\t")
        rows.append((iri[1:-1], json.loads(literal.rsplit("@", 1)[0])))  # "..."@nb
    return rows


@pytest.mark.parametrize("media_type", RESULT_FORMATS)
def test_requests_results_formats(server: str, expected: dict[str, Any], media_type: str) -> None:
    response = requests.get(
        server, params={"query": PROGRAMMES}, headers={"Accept": media_type}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert _rows(media_type, response.content) == expected["rows"]


@pytest.mark.parametrize("media_type", GRAPH_FORMATS)
def test_requests_graph_formats(server: str, expected: dict[str, Any], media_type: str) -> None:
    response = requests.post(
        server,
        data=LABELS.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": media_type},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type
    assert isomorphic(parse_rdf(response.content, GRAPH_FORMATS[media_type]), expected["graph"])


def test_requests_gzip_etag_and_errors(server: str) -> None:
    everything = "SELECT * WHERE { ?s ?p ?o } LIMIT 200"
    raw = requests.get(
        server,
        params={"query": everything},
        headers={"Accept-Encoding": "gzip"},
        stream=True,
        timeout=30,
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    json.loads(gzip.decompress(raw.raw.read()))
    tag = raw.headers["ETag"]
    again = requests.get(
        server, params={"query": everything}, headers={"If-None-Match": tag}, timeout=30
    )
    assert again.status_code == 304
    bad = requests.get(server, params={"query": "SELECT * WHERE {\n  ?s ?p"}, timeout=30)
    assert bad.status_code == 400
    assert "line 2" in bad.text
    update = requests.post(server, data={"update": "CLEAR ALL"}, timeout=30)
    assert update.status_code in (400, 403)
    assert requests.get(server, params={"query": ASK}, timeout=30).json()["boolean"] is True


def test_service_description_names_the_endpoint(server: str) -> None:
    response = requests.get(server, headers={"Accept": "application/n-triples"}, timeout=30)
    graph = parse_rdf(response.content, "nt")
    endpoint = URIRef("http://www.w3.org/ns/sparql-service-description#endpoint")
    assert set(graph.objects(None, endpoint)) == {URIRef(server)}
