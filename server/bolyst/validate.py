"""Validate a graph against SHACL shapes with pySHACL and report readably."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyshacl
from rdflib import BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.plugins.sparql import processor as sparql_processor
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.term import Node

from bolyst.load import Sources, load_dataset, parse_file, union
from bolyst.namespaces import PREFIXES

SH = Namespace("http://www.w3.org/ns/shacl#")
SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


@dataclass(frozen=True)
class Result:
    """One SHACL validation result."""

    severity: str
    focus: str
    path: str | None
    shape: str
    message: str
    value: str | None
    files: tuple[str, ...] = ()
    constraint: str | None = None  # the SHACL-SPARQL constraint that fired, if it has an IRI


@dataclass
class Report:
    """The outcome of a validation: ``conforms`` is false only when there is a Violation."""

    results: list[Result] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not any(r.severity == "Violation" for r in self.results)

    def count(self, severity: str) -> int:
        return sum(1 for r in self.results if r.severity == severity)

    def text(self) -> str:
        """Render the results, Violations first, one block per result."""
        order = {"Violation": 0, "Warning": 1, "Info": 2}
        blocks = []
        for r in sorted(self.results, key=lambda r: (order[r.severity], r.files, r.focus)):
            lines = [f"{r.severity}: {r.message}", f"  focus: {r.focus}"]
            if r.path:
                lines.append(f"  path:  {r.path}")
            if r.value:
                lines.append(f"  value: {r.value}")
            lines.append(f"  shape: {r.shape}")
            if r.files:
                lines.append(f"  file:  {', '.join(r.files)}")
            blocks.append("\n".join(lines))
        summary = (
            f"{self.count('Violation')} violation(s), {self.count('Warning')} warning(s), "
            f"{self.count('Info')} info(s)"
        )
        return "\n\n".join([*blocks, summary])


def shorten(node: Node | None) -> str:
    """Write an IRI with one of our prefixes where one fits.

    >>> shorten(URIRef("https://w3id.org/bolyst/id/programme/kom-trainee"))
    'prog:kom-trainee'
    """
    if node is None:
        return ""
    if isinstance(node, URIRef):
        best = max(
            ((p, ns) for p, ns in PREFIXES.items() if str(node).startswith(ns)),
            key=lambda item: len(item[1]),
            default=None,
        )
        return f"{best[0]}:{str(node)[len(best[1]) :]}" if best else f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    return "[blank node]"


def _describe_focus(node: Node | None, data: Graph) -> str:
    """Name a blank focus node by the IRI subject that holds it, so it can be found."""
    if node is None:
        return "(none)"
    if not isinstance(node, BNode):
        return shorten(node)
    seen: set[Node] = {node}
    chain: list[str] = []
    current: Node = node
    while isinstance(current, BNode):
        parent = next(((s, p) for s, p in data.subject_predicates(current) if s not in seen), None)
        if parent is None:
            break
        current = parent[0]
        seen.add(current)
        chain.append(shorten(parent[1]))
    if isinstance(current, BNode):
        return "[blank node]"
    return f"[blank node] at {shorten(current)} / {' / '.join(reversed(chain))}"


@functools.lru_cache(maxsize=1024)
def _prepared(query: str, namespaces: tuple[tuple[str, str], ...], base: str | None) -> Any:
    return translateQuery(parseQuery(query), base, dict(namespaces))


@contextlib.contextmanager
def _memoised_sparql_parsing() -> Iterator[None]:
    """Parse each SHACL-SPARQL query once, not once per focus node.

    pySHACL hands rdflib the query text for every focus node, and rdflib parses it anew each time:
    on the shipped data that was 90 % of the validation time.
    """
    original = sparql_processor.SPARQLProcessor.query

    def query(  # type: ignore[no-untyped-def]
        self,
        query,
        initBindings=None,
        initNs=None,
        base=None,
        DEBUG=False,  # noqa: N803
    ):
        if isinstance(query, str):
            namespaces = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
            query = _prepared(query, namespaces, base)
        return original(self, query, initBindings or {}, initNs or {}, base, DEBUG)

    sparql_processor.SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        sparql_processor.SPARQLProcessor.query = original  # type: ignore[method-assign]


def validate(
    data: Graph,
    shapes: Graph,
    origins: Mapping[Node, tuple[str, ...]] | None = None,
    use_shapes: Sequence[str] | None = None,
) -> Report:
    """Validate ``data`` against ``shapes`` (SHACL Core and SHACL-SPARQL, no inference).

    Args:
        data: the graph to check; it should include the ontology and concept schemes.
        shapes: the shapes graph.
        origins: for each subject, the files it was read from, to say where a result comes from.
        use_shapes: run only these shapes (IRIs), e.g. to test one shape against a fixture.
    """
    with _memoised_sparql_parsing():
        _, results_graph, _ = pyshacl.validate(
            data,
            shacl_graph=shapes,
            inference="none",
            advanced=True,
            allow_warnings=True,
            allow_infos=True,
            abort_on_first=False,
            use_shapes=list(use_shapes) if use_shapes is not None else None,
            inplace=True,  # no inference or rules run, so nothing is written into ``data``
        )
    assert isinstance(results_graph, Graph)
    report = Report()
    # Only the report's own results: those nested under sh:detail (why an sh:node failed) explain
    # a result and are not results themselves.
    for node in results_graph.objects(None, SH.result):
        focus = results_graph.value(node, SH.focusNode)
        path = results_graph.value(node, SH.resultPath)
        value = results_graph.value(node, SH.value)
        severity = results_graph.value(node, SH.resultSeverity)
        messages = sorted(str(m) for m in results_graph.objects(node, SH.resultMessage))
        root = _root_subject(focus, data) if focus is not None else None
        report.results.append(
            Result(
                severity=SEVERITIES.get(severity, str(severity)),  # type: ignore[call-overload]
                focus=str(focus) if isinstance(focus, URIRef) else _describe_focus(focus, data),
                path=str(path) if isinstance(path, URIRef) else (shorten(path) if path else None),
                shape=_shape_name(results_graph.value(node, SH.sourceShape), shapes),
                message=messages[0] if messages else "(no message)",
                value=shorten(value) if value is not None else None,
                files=(origins or {}).get(root, ()) if root is not None else (),
                constraint=_iri_or_none(results_graph.value(node, SH.sourceConstraint)),
            )
        )
    return report


def _iri_or_none(node: Node | None) -> str | None:
    return str(node) if isinstance(node, URIRef) else None


def _root_subject(node: Node, data: Graph) -> Node:
    current = node
    seen = {node}
    while isinstance(current, BNode):
        parent = next((s for s in data.subjects(None, current) if s not in seen), None)
        if parent is None:
            break
        seen.add(parent)
        current = parent
    return current


def _shape_name(shape: Node | None, shapes: Graph) -> str:
    if isinstance(shape, URIRef):
        return str(shape)
    # An anonymous property shape: name it by its node shape and path.
    if shape is not None:
        owner = shapes.value(None, SH.property, shape)
        path = shapes.value(shape, SH.path)
        if owner is not None:
            return f"{owner} (property {shorten(path)})"
    return "[anonymous shape]"


def validate_dataset(dataset: Dataset, shapes: Graph) -> Report:
    """Validate the union of ``dataset``'s graphs; results name the file each subject is from."""
    origins: dict[Node, tuple[str, ...]] = {}
    for graph in dataset.graphs():
        name = str(graph.identifier).rsplit("/graph/", 1)[-1]
        for subject in set(graph.subjects()):
            origins[subject] = (*origins.get(subject, ()), name + ".ttl")
    return validate(union(dataset), shapes, origins)


def load_shapes(sources: Sources) -> Graph:
    """Parse ``shapes/*.ttl`` into one graph (``shapes/external/`` is left out on purpose)."""
    shapes = Graph()
    for path in sources.shapes:
        parse_file(path, into=shapes, root=sources.root)
    return shapes


def validate_sources(sources: Sources, files: tuple[Path, ...] = ()) -> Report:
    """Validate the ontology plus ``files`` (default: everything in data/) against shapes/."""
    dataset = load_dataset((*sources.ontology, *(files or sources.data)), sources.root)
    return validate_dataset(dataset, load_shapes(sources))
