"""Tests for the SHACL shapes in shapes/.

* Every invalid fixture (tests/fixtures/invalid/*.ttl) makes the shape named in its header fire:
  a result with exactly that source shape (and source constraint, for SHACL-SPARQL), focus node,
  path and severity.
* Every shape IRI in shapes/*.ttl (node shapes, named property shapes, SPARQL constraints) is
  covered by at least one invalid fixture, and every shape carries a message or a comment.
* Every valid fixture (tests/fixtures/valid/*.ttl) raises no Violation and no Warning.

Each fixture is validated together with ontology/*.ttl, as the shipped data is. Fixture headers:

    # expect-shape: https://w3id.org/bolyst/shapes#MembershipShape
    # expect-constraint: https://w3id.org/bolyst/shapes#MembershipWithinLifetime   (SPARQL only)
    # expect-focus: https://w3id.org/bolyst/id/membership/x--y--member
    # expect-path: http://www.w3.org/ns/org#role        (omitted for node-level results)
    # expect-severity: Violation

Speed: ``bolyst.validate`` memoises parsed SHACL-SPARQL queries. An invalid fixture is
validated with pySHACL's ``use_shapes`` set to the top-level shape under test (the node shape that
holds the expected property shape or SPARQL constraint, or the targeted property shape itself) and
the named shapes it uses: targets are still computed on the whole graph, and pySHACL evaluates
shapes independently (no inference), so that shape reports exactly what a full run would report.
The valid fixtures run every shape. (pySHACL's ``focus_nodes`` is not an option: it also filters
the value nodes of nested sh:node/sh:or/sh:qualifiedValueShape checks, which then silently pass.)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyshacl
import pytest
import rdflib
from rdflib.namespace import RDF, RDFS, SH

from bolyst.validate import validate as bolyst_validate

REPO = Path(__file__).resolve().parents[1]
SHAPES_DIR = REPO / "shapes"
ONTOLOGY_DIR = REPO / "ontology"
INVALID_DIR = REPO / "tests" / "fixtures" / "invalid"
VALID_DIR = REPO / "tests" / "fixtures" / "valid"
SHP = "https://w3id.org/bolyst/shapes#"

HEADER = re.compile(
    r"^#\s*expect-(shape|constraint|focus|path|severity):\s*(\S+)\s*$", re.MULTILINE
)
SEVERITIES = {"Violation", "Warning", "Info"}


@dataclass(frozen=True)
class Expectation:
    """What an invalid fixture must make the shapes report."""

    shape: str
    focus: str
    severity: str
    path: str | None = None
    constraint: str | None = None


@dataclass(frozen=True)
class Result:
    """One validation result, reduced to plain strings."""

    severity: str
    focus: str
    path: str | None
    shape: str
    constraint: str | None
    message: str

    def __str__(self) -> str:
        path = f" path={self.path}" if self.path else ""
        constraint = f" constraint={self.constraint}" if self.constraint else ""
        where = f"shape={self.shape}{constraint} focus={self.focus}{path}"
        return f"{self.severity} {where}: {self.message}"


def read_expectation(path: Path) -> Expectation:
    """Read the ``# expect-*`` header of a fixture file."""
    fields = dict(HEADER.findall(path.read_text(encoding="utf-8")))
    missing = {"shape", "focus", "severity"} - fields.keys()
    assert not missing, f"{path.name}: header lacks expect-{', expect-'.join(sorted(missing))}"
    assert fields["severity"] in SEVERITIES, f"{path.name}: unknown severity {fields['severity']}"
    return Expectation(
        shape=fields["shape"],
        focus=fields["focus"],
        severity=fields["severity"],
        path=fields.get("path"),
        constraint=fields.get("constraint"),
    )


def _local(iri: str | None) -> str | None:
    return None if iri is None else re.split(r"[#/]", iri)[-1]


def _text(node: Any) -> str | None:
    if node is None:
        return None
    return str(node)


def _severity(node: Any) -> str:
    return str(node).rsplit("#", 1)[-1]


def validate(
    data: rdflib.Graph, shapes: rdflib.Graph, use_shapes: list[str] | None = None
) -> list[Result]:
    """Validate ``data`` against ``shapes`` (or only ``use_shapes``) with the project's function."""
    report = bolyst_validate(data, shapes, use_shapes=use_shapes)
    return [
        Result(
            severity=r.severity,
            focus=r.focus,
            path=r.path,
            shape=r.shape,
            constraint=r.constraint,
            message=r.message,
        )
        for r in report.results
    ]


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes_graph() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def ontology_graph() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in sorted(ONTOLOGY_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@contextlib.contextmanager
def with_ontology(ontology: rdflib.Graph, fixture: rdflib.Graph) -> Iterator[rdflib.Graph]:
    """The ontology graph with the fixture's triples added, removed again afterwards (copying the
    ontology for each of 200 fixtures would take most of the test's time)."""
    added = [triple for triple in fixture if triple not in ontology]
    for triple in added:
        ontology.add(triple)
    try:
        yield ontology
    finally:
        for triple in added:
            ontology.remove(triple)


def shapes_under_test(shapes: rdflib.Graph, iri: str) -> list[str]:
    """The shapes to run for ``iri``: the top-level shape holding it, and every named shape that
    one uses (pySHACL's ``use_shapes`` skips named shapes that are not listed)."""
    node = rdflib.URIRef(iri)
    parent = shapes.value(None, SH.property, node) or shapes.value(None, SH.sparql, node)
    top = parent if isinstance(parent, rdflib.URIRef) else node
    nested = set(shapes.objects(top, SH.property)) | set(shapes.objects(top, SH.node))
    return [str(top)] + sorted(str(n) for n in nested if isinstance(n, rdflib.URIRef))


def shape_iris(shapes: rdflib.Graph) -> set[str]:
    """Every named shape and SPARQL constraint in the shapes graph."""
    kinds = (SH.NodeShape, SH.PropertyShape, SH.SPARQLConstraint)
    return {
        str(node)
        for kind in kinds
        for node in shapes.subjects(RDF.type, kind)
        if isinstance(node, rdflib.URIRef)
    }


INVALID = sorted(INVALID_DIR.glob("*.ttl"))
VALID = sorted(VALID_DIR.glob("*.ttl"))


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_fires_its_shape(
    path: Path, shapes_graph: rdflib.Graph, ontology_graph: rdflib.Graph
) -> None:
    expected = read_expectation(path)
    fixture = rdflib.Graph().parse(path, format="turtle")
    under_test = shapes_under_test(shapes_graph, expected.constraint or expected.shape)
    with with_ontology(ontology_graph, fixture) as data:
        results = validate(data, shapes_graph, under_test)

    def matches(r: Result) -> bool:
        return (
            r.shape == expected.shape
            and r.focus == expected.focus
            and r.path == expected.path
            and r.severity == expected.severity
            and (expected.constraint is None or r.constraint in (None, expected.constraint))
        )

    found = [r for r in results if matches(r)]
    report = "\n".join(str(r) for r in results) or "(no results)"
    assert found, f"{path.name}: expected {expected}\nresults:\n{report}"
    if expected.constraint is not None and all(r.constraint is not None for r in found):
        assert any(r.constraint == expected.constraint for r in found), report


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_fixture_raises_no_violation_or_warning(
    path: Path, shapes_graph: rdflib.Graph, ontology_graph: rdflib.Graph
) -> None:
    fixture = rdflib.Graph().parse(path, format="turtle")
    with with_ontology(ontology_graph, fixture) as data:
        results = validate(data, shapes_graph)
    problems = [r for r in results if r.severity in ("Violation", "Warning")]
    assert not problems, "\n".join(str(r) for r in problems)


def test_ontology_graph_is_restored_after_each_fixture(ontology_graph: rdflib.Graph) -> None:
    fresh = rdflib.Graph()
    for path in sorted(ONTOLOGY_DIR.glob("*.ttl")):
        fresh.parse(path, format="turtle")
    assert len(ontology_graph) == len(fresh)


def test_every_shape_has_an_invalid_fixture(shapes_graph: rdflib.Graph) -> None:
    expectations = {p.name: read_expectation(p) for p in INVALID}
    covered = {e.shape for e in expectations.values()} | {
        e.constraint for e in expectations.values() if e.constraint
    }
    declared = shape_iris(shapes_graph)
    uncovered = sorted(declared - covered)
    assert not uncovered, f"shapes without an invalid fixture: {uncovered}"
    assert not covered - declared, f"fixtures name unknown shapes: {sorted(covered - declared)}"
    for name, e in expectations.items():
        stem = name.removesuffix(".ttl").split("--")[0]
        assert stem in {_local(e.shape), _local(e.constraint)}, (
            f"{name}: name it after its shape or constraint (<local-name>[--variant].ttl)"
        )


def test_every_shape_explains_itself(shapes_graph: rdflib.Graph) -> None:
    silent = [
        iri
        for iri in shape_iris(shapes_graph)
        if shapes_graph.value(rdflib.URIRef(iri), SH.message) is None
        and shapes_graph.value(rdflib.URIRef(iri), RDFS.comment) is None
    ]
    assert not silent, f"shapes without sh:message or rdfs:comment: {sorted(silent)}"


def test_recommended_shapes_are_not_violations(shapes_graph: rdflib.Graph) -> None:
    """shapes-recommended.ttl holds only Warnings and Infos; the other files only Violations."""
    recommended = rdflib.Graph().parse(SHAPES_DIR / "shapes-recommended.ttl", format="turtle")
    for iri in shape_iris(recommended) - {
        str(s) for s in recommended.subjects(RDF.type, SH.SPARQLConstraint)
    }:
        severity = recommended.value(rdflib.URIRef(iri), SH.severity)
        assert severity in (SH.Warning, SH.Info), f"{iri} (shapes-recommended.ttl): {severity}"
    for name in ("shapes.ttl", "ontology.ttl"):
        graph = rdflib.Graph().parse(SHAPES_DIR / name, format="turtle")
        severe = [s for s, o in graph.subject_objects(SH.severity) if o != SH.Violation]
        assert not severe, f"{name} must hold only Violations: {severe}"


def test_shapes_are_well_formed_shacl(shapes_graph: rdflib.Graph) -> None:
    """The shapes graph conforms to SHACL-SHACL (pySHACL's meta_shacl check)."""
    conforms, _graph, text = pyshacl.validate(
        rdflib.Graph(), shacl_graph=shapes_graph, meta_shacl=True, advanced=True, inference="none"
    )
    assert conforms, text
