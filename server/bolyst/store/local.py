"""The embedded pyoxigraph store, loaded from the project's Turtle files."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pyoxigraph as ox

from bolyst.errors import LoadError
from bolyst.load import display_name
from bolyst.namespaces import graph_iri


@dataclass(frozen=True)
class LoadStats:
    files: int
    triples: int
    seconds: float


def open_memory_store(paths: Iterable[Path], root: Path) -> tuple[ox.Store, LoadStats]:
    """Load every file into its own named graph of a new in-memory store."""
    started = time.perf_counter()
    store = ox.Store()
    count = 0
    for path in paths:
        name = display_name(path, root)
        try:
            store.load(
                path=str(path),
                format=ox.RdfFormat.TURTLE,
                base_iri=path.resolve().as_uri(),
                to_graph=ox.NamedNode(graph_iri(name)),
            )
        except SyntaxError as exc:
            raise LoadError(name, exc.lineno, exc.msg) from exc
        count += 1
    return store, LoadStats(count, len(store), time.perf_counter() - started)


def term(kind: str, lexical: str) -> ox.NamedNode | ox.Literal:
    """Turn a typed stored-query parameter (see :mod:`bolyst.queries`) into an RDF term."""
    if kind == "iri":
        return ox.NamedNode(lexical)
    datatypes = {"integer": "integer", "year": "gYear"}
    if kind in datatypes:
        xsd = "http://www.w3.org/2001/XMLSchema#" + datatypes[kind]
        return ox.Literal(lexical, datatype=ox.NamedNode(xsd))
    return ox.Literal(lexical)


def select(
    store: ox.Store,
    query: str,
    *,
    default_graphs: Iterable[str],
    bindings: dict[str, tuple[str, str]] | None = None,
) -> list[dict[str, str]]:
    """Run a trusted SELECT in process; rows map variable names to plain string values.

    Only for the project's own queries (pages, tests): public queries go through the pool.
    """
    substitutions = {ox.Variable(k): term(*v) for k, v in (bindings or {}).items()}
    solutions = store.query(
        query,
        default_graph=[ox.NamedNode(g) for g in default_graphs],
        substitutions=substitutions,  # type: ignore[arg-type]
    )
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in solutions]


# --- Terms, descriptions and serializations for the pages (bolyst.pages, bolyst.views) ----------
# The pages need to know what kind of term a value is (a link, a blank node to unfold, a literal
# with its language or datatype), so they get Term values, not the plain strings of select().

XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = XSD + "string"
_new = tuple.__new__
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


class Term(NamedTuple):
    """An RDF term as plain data: ``kind`` is ``iri``, ``bnode`` or ``literal``.

    A named tuple, not a frozen dataclass: the page model turns every value of a big dataset
    into one (a million at 1M triples), and a frozen dataclass takes four times as long to make.

    >>> Term.of(ox.Literal("Hamar", language="nb"))
    Term(kind='literal', value='Hamar', lang='nb', datatype=None)
    """

    kind: str
    value: str
    lang: str | None = None
    datatype: str | None = None

    @property
    def is_iri(self) -> bool:
        return self.kind == "iri"

    @property
    def is_bnode(self) -> bool:
        return self.kind == "bnode"

    @property
    def is_literal(self) -> bool:
        return self.kind == "literal"

    @classmethod
    def of(cls, term: object) -> Term:
        # tuple.__new__: the named tuple's own __new__ (defaults, keywords) costs twice as much
        kind = type(term)
        if kind is ox.NamedNode:
            return _new(cls, ("iri", term.value, None, None))  # type: ignore[attr-defined]
        if kind is ox.Literal:
            value, lang = term.value, term.language  # type: ignore[attr-defined]
            if lang:
                return _new(cls, ("literal", value, lang, None))
            datatype = term.datatype.value  # type: ignore[attr-defined]
            if datatype == _XSD_STRING:
                return _new(cls, ("literal", value, None, None))
            return _new(cls, ("literal", value, None, datatype))
        if kind is ox.BlankNode:
            return _new(cls, ("bnode", term.value, None, None))  # type: ignore[attr-defined]
        raise TypeError(f"not a supported RDF term: {term!r}")

    def to_ox(self) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        if self.kind == "iri":
            return ox.NamedNode(self.value)
        if self.kind == "bnode":
            return ox.BlankNode(self.value)
        if self.lang:
            return ox.Literal(self.value, language=self.lang)
        if self.datatype:
            return ox.Literal(self.value, datatype=ox.NamedNode(self.datatype))
        return ox.Literal(self.value)


Triple = tuple[Term, Term, Term]


@dataclass(frozen=True)
class TermResult:
    """A query's answer as terms: ``rows`` for SELECT (``variables`` name the columns),
    ``triples`` for CONSTRUCT and DESCRIBE, ``boolean`` for ASK."""

    form: str
    variables: tuple[str, ...] = ()
    rows: tuple[dict[str, Term], ...] = ()
    triples: tuple[Triple, ...] = ()
    boolean: bool | None = None


# media type -> pyoxigraph format (the table of bolyst.formats, as pyoxigraph names it)
RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


def _run(
    store: ox.Store,
    query: str,
    default_graphs: Iterable[str],
    bindings: dict[str, tuple[str, str]] | None,
) -> ox.QuerySolutions | ox.QueryTriples | ox.QueryBoolean:
    substitutions = {ox.Variable(k): term(*v) for k, v in (bindings or {}).items()}
    return store.query(
        query,
        default_graph=[ox.NamedNode(g) for g in default_graphs],
        substitutions=substitutions,  # type: ignore[arg-type]
    )


def query_terms(
    store: ox.Store,
    query: str,
    *,
    default_graphs: Iterable[str],
    bindings: dict[str, tuple[str, str]] | None = None,
) -> TermResult:
    """Run a trusted query of any form in process; the answer as :class:`Term` values."""
    answer = _run(store, query, default_graphs, bindings)
    if isinstance(answer, ox.QuerySolutions):
        names = tuple(v.value for v in answer.variables)
        of = Term.of
        rows = tuple(
            {name: of(value) for name, value in zip(names, row, strict=True) if value is not None}
            for row in answer
        )
        return TermResult("SELECT", variables=names, rows=rows)
    if isinstance(answer, ox.QueryTriples):
        triples = tuple(
            (Term.of(t.subject), Term.of(t.predicate), Term.of(t.object)) for t in answer
        )
        return TermResult("CONSTRUCT", triples=triples)
    return TermResult("ASK", boolean=bool(answer))


def select_terms(
    store: ox.Store,
    query: str,
    *,
    default_graphs: Iterable[str],
    bindings: dict[str, tuple[str, str]] | None = None,
) -> list[dict[str, Term]]:
    """Run a trusted SELECT in process; rows map variable names to :class:`Term` values."""
    return list(query_terms(store, query, default_graphs=default_graphs, bindings=bindings).rows)


def query_serialized(
    store: ox.Store,
    query: str,
    media_type: str,
    *,
    default_graphs: Iterable[str],
    bindings: dict[str, tuple[str, str]] | None = None,
    prefixes: dict[str, str] | None = None,
) -> bytes:
    """Run a trusted query in process and serialize its answer in ``media_type``.

    Raises:
        ValueError: ``media_type`` cannot carry this kind of answer.
    """
    answer = _run(store, query, default_graphs, bindings)
    if isinstance(answer, ox.QueryTriples):
        if media_type not in GRAPH_FORMATS:
            raise ValueError(f"{media_type} cannot carry a graph")
        return _bytes(ox.serialize(answer, format=GRAPH_FORMATS[media_type], prefixes=prefixes))
    if media_type not in RESULT_FORMATS:
        raise ValueError(f"{media_type} cannot carry query results")
    return _bytes(answer.serialize(format=RESULT_FORMATS[media_type]))


def describe(store: ox.Store, iri: str, *, graphs: Iterable[str]) -> tuple[Triple, ...]:
    """The description of ``iri`` in ``graphs``: its own triples, closed over blank nodes (its
    provenance, periods and results hang off blank nodes), then the triples that point to it.

    Empty when the store says nothing about ``iri`` in those graphs.
    """
    allowed = [ox.NamedNode(g) for g in graphs]
    seen: dict[tuple[str, str, str], Triple] = {}

    def triples_about(subject: ox.NamedNode | ox.BlankNode) -> list[ox.Quad]:
        found: list[ox.Quad] = []
        for graph in allowed:
            found.extend(store.quads_for_pattern(subject, None, None, graph))
        return found

    todo: list[ox.NamedNode | ox.BlankNode] = [ox.NamedNode(iri)]
    done: set[str] = set()
    while todo:
        subject = todo.pop()
        key = str(subject)
        if key in done:
            continue
        done.add(key)
        for quad in triples_about(subject):
            triple = (Term.of(quad.subject), Term.of(quad.predicate), Term.of(quad.object))
            seen.setdefault((str(quad.subject), str(quad.predicate), str(quad.object)), triple)
            if isinstance(quad.object, ox.BlankNode):
                todo.append(quad.object)
    for graph in allowed:
        for quad in store.quads_for_pattern(None, None, ox.NamedNode(iri), graph):
            triple = (Term.of(quad.subject), Term.of(quad.predicate), Term.of(quad.object))
            seen.setdefault((str(quad.subject), str(quad.predicate), str(quad.object)), triple)
    return tuple(seen.values())


def serialize_triples(
    triples: Iterable[Triple], media_type: str, prefixes: dict[str, str] | None = None
) -> bytes:
    """Write ``triples`` in one of :data:`GRAPH_FORMATS`."""
    body = ox.serialize(
        [ox.Triple(s.to_ox(), p.to_ox(), o.to_ox()) for s, p, o in triples],  # type: ignore[arg-type]
        format=GRAPH_FORMATS[media_type],
        prefixes=prefixes,
    )
    return _bytes(body)


def _bytes(body: bytes | None) -> bytes:
    assert body is not None  # pyoxigraph returns bytes when no output file is given
    return body


def graph_triples(store: ox.Store, graphs: Iterable[str]) -> tuple[Triple, ...]:
    """Every triple of ``graphs`` (each once), e.g. the ontology files for ``/ontology``."""
    seen: dict[tuple[str, str, str], Triple] = {}
    for graph in graphs:
        for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
            key = (str(quad.subject), str(quad.predicate), str(quad.object))
            seen.setdefault(
                key, (Term.of(quad.subject), Term.of(quad.predicate), Term.of(quad.object))
            )
    return tuple(seen.values())
