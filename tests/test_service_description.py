"""The SPARQL 1.1 Service Description graph, built and serialized without a server."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import cast

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, XSD
from rdflib.query import ResultRow

from bolyst.formats import FORMATS, GRAPH, Format, formats_of
from bolyst.service_description import (
    SD,
    VOID,
    DatasetCounts,
    count_triples,
    describe,
    serialize,
)
from bolyst.store import Answer

ENDPOINT = "https://data.example.org:8443/sparql"
G1, G2 = "https://w3id.org/bolyst/graph/data/a", "https://w3id.org/bolyst/graph/data/b"
COUNTS = DatasetCounts(7, {G1: 4, G2: 3})

WHAT = """
PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>
PREFIX void: <http://rdfs.org/ns/void#>
SELECT ?endpoint ?language ?triples WHERE {
  ?service a sd:Service ; sd:endpoint ?endpoint ; sd:supportedLanguage ?language ;
    sd:defaultDataset/sd:defaultGraph/void:triples ?triples .
}
"""
NAMED = """
PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>
PREFIX void: <http://rdfs.org/ns/void#>
SELECT ?name ?triples WHERE {
  ?service sd:defaultDataset/sd:namedGraph ?g .
  ?g a sd:NamedGraph ; sd:name ?name ; sd:graph/void:triples ?triples .
}
"""


def parse_rdf(data: bytes, rdflib_format: str) -> Graph:
    dataset = Dataset()
    with warnings.catch_warnings():
        # rdflib 7.6 parses N-Quads, TriG and JSON-LD through its deprecated ConjunctiveGraph.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.parse(data=data, format=rdflib_format)
    graph = Graph()
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        graph.add((s, p, o))
    return graph


def test_endpoint_language_and_default_graph() -> None:
    graph = describe(ENDPOINT, COUNTS)
    rows = [cast(ResultRow, r) for r in graph.query(WHAT)]
    assert [tuple(r) for r in rows] == [
        (URIRef(ENDPOINT), SD.SPARQL11Query, Literal(7, datatype=XSD.integer))
    ]
    assert len(set(graph.subjects(RDF.type, SD.Service))) == 1


def test_named_graphs_with_void_counts() -> None:
    result = [cast(ResultRow, r) for r in describe(ENDPOINT, COUNTS).query(NAMED)]
    rows = {(str(r[0]), int(str(r[1]))) for r in result}
    assert rows == {(G1, 4), (G2, 3)}


def test_every_result_format_is_listed() -> None:
    listed = set(describe(ENDPOINT, COUNTS).objects(None, SD.resultFormat))
    assert listed == {URIRef(f.iri) for f in FORMATS}
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in listed
    assert URIRef("http://www.w3.org/ns/formats/Turtle") in listed


def test_features() -> None:
    assert not set(describe(ENDPOINT, COUNTS).objects(None, SD.feature))
    graph = describe(ENDPOINT, COUNTS, features=["UnionDefaultGraph"])
    assert set(graph.objects(None, SD.feature)) == {SD.UnionDefaultGraph}


def test_void_says_where_to_query() -> None:
    graph = describe(ENDPOINT, COUNTS)
    datasets = set(graph.subjects(RDF.type, VOID.Dataset))
    assert len(datasets) == 3
    for dataset in datasets:
        assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef(ENDPOINT)


@pytest.mark.parametrize("fmt", formats_of(GRAPH), ids=lambda f: f.label)
def test_serializes_in_every_graph_format(fmt: Format) -> None:
    assert fmt.rdflib is not None
    graph = describe(ENDPOINT, COUNTS)
    body = serialize(graph, fmt.media_type)
    assert isomorphic(parse_rdf(body, fmt.rdflib), graph)


def test_serialize_refuses_results_formats() -> None:
    with pytest.raises(ValueError, match="not a graph format"):
        serialize(describe(ENDPOINT, COUNTS), "text/csv")


class _Engine:
    """Answers the two counting queries with canned SPARQL JSON."""

    def __init__(self, graphs: Sequence[str]) -> None:
        self._graphs = tuple(graphs)
        self.queries: list[str] = []

    def run(self, query: str, *, media_type: str, **kwargs: object) -> Answer:
        self.queries.append(query)
        assert media_type == "application/sparql-results+json"
        if "GRAPH" in query:
            rows = [{"g": {"type": "uri", "value": G1}, "n": _int(4)}]
        else:
            rows = [{"n": _int(7)}]
        body = json.dumps({"head": {"vars": ["g", "n"]}, "results": {"bindings": rows}})
        return Answer(body.encode(), media_type, len(rows), False)

    def graphs(self) -> tuple[str, ...]:
        return self._graphs

    def close(self) -> None:
        pass


def _int(value: int) -> dict[str, str]:
    return {"type": "literal", "value": str(value), "datatype": str(XSD.integer)}


def test_count_triples_lists_empty_graphs_too() -> None:
    engine = _Engine([G2, G1])
    counts = count_triples(engine)
    assert counts == DatasetCounts(7, {G1: 4, G2: 0})
    assert len(engine.queries) == 2
