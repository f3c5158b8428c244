"""Deterministic serializations: the same RDF always gives the same bytes.

Three things make a dump depend on more than its triples, and each is fixed here:

- **blank-node labels**: relabelled by W3C RDF Dataset Canonicalization (RDFC-1.0,
  https://www.w3.org/TR/rdf-canon/) before anything is written, so they are ``c14n0``,
  ``c14n1``... whatever the parser chose. rdflib's own canonicaliser (``rdflib.compare``) needs
  about 10 s for our graph; pyoxigraph's RDFC-1.0 needs milliseconds. That is why this module, and
  not only ``store/local.py``, imports pyoxigraph.
- **statement order**: quads are sorted (by their N-Quads form) before they are handed to a
  writer; line-based formats are sorted line by line; JSON-LD arrays are sorted (they are sets,
  except ``@list``). rdflib's ``longturtle`` sorts subjects and predicates itself.
- **gzip headers**: ``mtime`` 0 and no file name (RFC 1952 ``FNAME``), see :func:`gzip_bytes`.

Parsing and writing take plain lists of ``pyoxigraph.Quad``; :func:`to_rdflib` converts a term for
the writers that rdflib does better (pretty Turtle with nested blank nodes, compact JSON-LD).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from bolyst.errors import LoadError
from bolyst.load import display_name
from bolyst.namespaces import graph_iri

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def parse_files(paths: Iterable[Path], root: Path) -> tuple[list[ox.Quad], dict[str, str]]:
    """Parse Turtle files into quads, one named graph per file, and collect their prefixes.

    Blank nodes are renamed on parsing, so two files that both say ``_:b1`` do not share a node.

    Raises:
        LoadError: a file is not valid Turtle (names the file and the line).
    """
    quads: list[ox.Quad] = []
    prefixes: dict[str, str] = {}
    for path in paths:
        name = display_name(path, root)
        graph = ox.NamedNode(graph_iri(name))
        try:
            parser = ox.parse(
                path=str(path),
                format=ox.RdfFormat.TURTLE,
                base_iri=path.resolve().as_uri(),
                rename_blank_nodes=True,
            )
            quads.extend(ox.Quad(q.subject, q.predicate, q.object, graph) for q in parser)
        except SyntaxError as exc:
            raise LoadError(name, exc.lineno, exc.msg) from exc
        except OSError as exc:
            raise LoadError(name, None, exc.strerror or str(exc)) from exc
        for prefix, namespace in parser.prefixes.items():
            prefixes.setdefault(prefix, namespace)
    return quads, prefixes


def canonicalize(quads: Iterable[ox.Quad]) -> list[ox.Quad]:
    """Relabel blank nodes by RDFC-1.0 and sort; duplicates collapse (a dataset is a set)."""
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return sorted(dataset, key=str)


def triples_of(quads: Iterable[ox.Quad]) -> list[ox.Triple]:
    """The union of the graphs: each distinct triple once, sorted."""
    return sorted({q.triple for q in quads}, key=str)


def ntriples(triples: Iterable[ox.Triple]) -> bytes:
    """Canonical N-Triples, one sorted line per triple."""
    return _sorted_lines(_bytes(ox.serialize(list(triples), format=ox.RdfFormat.N_TRIPLES)))


def nquads(quads: Iterable[ox.Quad]) -> bytes:
    """N-Quads, one sorted line per quad."""
    return _sorted_lines(_bytes(ox.serialize(list(quads), format=ox.RdfFormat.N_QUADS)))


def trig(quads: Iterable[ox.Quad], prefixes: Mapping[str, str]) -> bytes:
    """TriG: one block per named graph, graphs and statements in sorted order."""
    ordered = sorted(quads, key=lambda q: (str(q.graph_name), str(q)))
    return _bytes(
        ox.serialize(ordered, format=ox.RdfFormat.TRIG, prefixes=dict(sorted(prefixes.items())))
    )


def rdfxml(triples: Iterable[ox.Triple], prefixes: Mapping[str, str]) -> bytes:
    """RDF/XML, statements grouped by subject in sorted order."""
    return _bytes(
        ox.serialize(
            sorted(triples, key=str),
            format=ox.RdfFormat.RDF_XML,
            prefixes=dict(sorted(prefixes.items())),
        )
    )


def turtle(triples: Iterable[ox.Triple], prefixes: Mapping[str, str]) -> bytes:
    """Pretty Turtle (rdflib ``longturtle``): ``PREFIX`` lines, blank nodes nested as ``[...]``.

    Feed it canonical triples: a blank node that cannot be nested keeps its ``c14n`` label.
    """
    return to_graph(triples, prefixes).serialize(format="longturtle", encoding="utf-8")


def jsonld(triples: Iterable[ox.Triple], context: Mapping[str, str]) -> bytes:
    """Compact JSON-LD with ``context`` inline, keys and set-valued arrays sorted."""
    graph = to_graph(triples, context)
    text = graph.serialize(format="json-ld", context=dict(context), auto_compact=False)
    document = json.loads(text)
    if isinstance(document, list) or "@graph" not in document:
        nodes = document if isinstance(document, list) else [document]
        document = {"@context": dict(context), "@graph": nodes}
        for node in nodes:
            node.pop("@context", None)
    document["@context"] = dict(sorted(context.items()))
    return json_bytes(_sort_json(document))


def json_bytes(value: Any) -> bytes:
    """JSON as we publish it: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with a fixed header: ``mtime`` 0 and no file name, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(data)
    return buffer.getvalue()


def to_graph(triples: Iterable[ox.Triple], prefixes: Mapping[str, str]) -> Graph:
    """An rdflib graph with exactly ``prefixes`` bound (none of rdflib's defaults)."""
    graph = Graph(bind_namespaces="none")
    for prefix, namespace in sorted(prefixes.items()):
        graph.bind(prefix, namespace, override=True, replace=True)
    for triple in sorted(triples, key=str):
        graph.add(
            (to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object))
        )
    return graph


def to_rdflib(term: Any) -> Node:
    """Convert a pyoxigraph term to rdflib, keeping literals' lexical forms as they are."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype in (XSD_STRING, RDF_LANG_STRING):
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype), normalize=False)
    raise TypeError(f"cannot convert {term!r} to rdflib")


def from_rdflib(node: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Convert an rdflib term to pyoxigraph."""
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, BNode):
        return ox.BlankNode(str(node))
    if isinstance(node, Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        if node.datatype is not None:
            return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
        return ox.Literal(str(node))
    raise TypeError(f"cannot convert {node!r} to pyoxigraph")


def graph_triples(graph: Graph) -> list[ox.Triple]:
    """The triples of an rdflib graph as pyoxigraph triples."""
    return [
        ox.Triple(from_rdflib(s), from_rdflib(p), from_rdflib(o))  # type: ignore[arg-type]
        for s, p, o in graph
    ]


def _bytes(data: bytes | None) -> bytes:
    assert data is not None  # ox.serialize returns the bytes when given no output
    return data


def _sorted_lines(data: bytes) -> bytes:
    return b"".join(sorted(data.splitlines(keepends=True)))


def _sort_json(value: Any, key: str | None = None) -> Any:
    """Sort every JSON-LD array that is a set; ``@list`` arrays keep their order."""
    if isinstance(value, dict):
        return {k: _sort_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sort_json(v) for v in value]
        if key == "@list":
            return items
        return sorted(items, key=_json_key)
    return value


def _json_key(value: Any) -> tuple[str, str]:
    node_id = value.get("@id", "") if isinstance(value, dict) else ""
    return (str(node_id), json.dumps(value, ensure_ascii=False, sort_keys=True))
