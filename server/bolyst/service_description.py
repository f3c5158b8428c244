"""The endpoint's SPARQL 1.1 Service Description (https://www.w3.org/TR/sparql11-service-description/).

``GET /sparql`` without a query answers with this graph: where the endpoint is (the URL as the
client reached it), the language, the result formats, and the default dataset with a VoID
description (triple counts) of its default graph and of each named graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from bolyst.formats import BY_MEDIA_TYPE, FORMATS
from bolyst.store import QueryEngine

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
FORMATS_NS = Namespace("http://www.w3.org/ns/formats/")

TRUNCATED_HEADER = "X-Bolyst-Truncated"

_JSON = "application/sparql-results+json"
# The two counts the VoID description gives; they run once per process, through the engine.
DEFAULT_GRAPH_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
NAMED_GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


@dataclass(frozen=True)
class DatasetCounts:
    """Triples in the default graph, and per named graph."""

    default_graph: int
    named_graphs: Mapping[str, int] = field(default_factory=dict)


def count_triples(engine: QueryEngine) -> DatasetCounts:
    """Count the triples of the default graph and of each named graph the engine serves."""
    default = _rows(engine.run(DEFAULT_GRAPH_COUNT, media_type=_JSON).body)
    named = _rows(engine.run(NAMED_GRAPH_COUNTS, media_type=_JSON).body)
    counts = {row["g"]: int(row["n"]) for row in named}
    for graph in engine.graphs():
        counts.setdefault(graph, 0)
    return DatasetCounts(int(default[0]["n"]) if default else 0, dict(sorted(counts.items())))


def _rows(body: bytes) -> list[dict[str, str]]:
    bindings = json.loads(body)["results"]["bindings"]
    return [{name: value["value"] for name, value in row.items()} for row in bindings]


def describe(
    endpoint: str,
    counts: DatasetCounts,
    *,
    features: Sequence[str] = (),
    title: str | None = None,
) -> Graph:
    """Build the ``sd:Service`` graph of the endpoint at ``endpoint``.

    Args:
        endpoint: the endpoint's URL as the client reached it.
        counts: the triple counts of the default dataset.
        features: ``sd:Feature`` local names (e.g. ``UnionDefaultGraph``) the service has.
        title: a human-readable name for the service.

    >>> g = describe("http://localhost:8000/sparql", DatasetCounts(3, {"urn:g": 3}))
    >>> sorted(str(o) for o in g.objects(None, SD.endpoint))
    ['http://localhost:8000/sparql']
    """
    graph = Graph()
    for prefix, namespace in (
        ("sd", SD),
        ("void", VOID),
        ("formats", FORMATS_NS),
        ("ent", ENTAILMENT),
        ("dct", DCTERMS),
    ):
        graph.bind(prefix, namespace)
    service = BNode("service")
    endpoint_iri = URIRef(endpoint)
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, endpoint_iri))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    if title:
        graph.add((service, DCTERMS.title, Literal(title, lang="en")))
    graph.add(
        (
            service,
            RDFS.comment,
            Literal(
                "Read-only SPARQL 1.1 query endpoint. Every query runs under a time limit; an "
                f"answer cut at the row limit carries the HTTP header {TRUNCATED_HEADER}: true.",
                lang="en",
            ),
        )
    )
    for name in features:
        graph.add((service, SD.feature, SD[name]))
    for fmt in FORMATS:
        graph.add((service, SD.resultFormat, URIRef(fmt.iri)))

    dataset = BNode("dataset")
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    default_graph = BNode("default-graph")
    graph.add((dataset, SD.defaultGraph, default_graph))
    _void(graph, default_graph, counts.default_graph, endpoint_iri)
    for index, (name, triples) in enumerate(sorted(counts.named_graphs.items())):
        named = BNode(f"named-graph-{index}")
        described = BNode(f"graph-{index}")
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(name)))
        graph.add((named, SD.graph, described))
        _void(graph, described, triples, endpoint_iri)
    return graph


def _void(graph: Graph, node: BNode, triples: int, endpoint: URIRef) -> None:
    graph.add((node, RDF.type, SD.Graph))
    graph.add((node, RDF.type, VOID.Dataset))
    graph.add((node, VOID.triples, Literal(triples, datatype=XSD.integer)))
    graph.add((node, VOID.sparqlEndpoint, endpoint))


# TriG and N-Quads of a graph without names are Turtle and N-Triples (rdflib refuses N-Quads of
# a plain graph), so we serialize those two with the simpler syntax.
_SAME_AS = {"application/trig": "turtle", "application/n-quads": "nt"}


def serialize(graph: Graph, media_type: str) -> bytes:
    """Serialize ``graph`` (the service description) in one of the graph formats."""
    fmt = BY_MEDIA_TYPE[media_type]
    name = _SAME_AS.get(media_type, fmt.rdflib)
    if name is None:
        raise ValueError(f"{media_type} is not a graph format")
    return graph.serialize(format=name, encoding="utf-8")
