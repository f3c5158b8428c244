"""Validate a graph against SHACL shapes with pySHACL and report readably."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyshacl
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

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


def validate(
    data: Graph, shapes: Graph, origins: Mapping[Node, tuple[str, ...]] | None = None
) -> Report:
    """Validate ``data`` against ``shapes`` (SHACL Core and SHACL-SPARQL, no inference).

    Args:
        data: the graph to check; it should include the ontology and concept schemes.
        shapes: the shapes graph.
        origins: for each subject, the files it was read from, to say where a result comes from.
    """
    _, results_graph, _ = pyshacl.validate(
        data,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        allow_warnings=True,
        abort_on_first=False,
    )
    assert isinstance(results_graph, Graph)
    report = Report()
    for node in results_graph.subjects(RDF.type, SH.ValidationResult):
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
            )
        )
    return report


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
