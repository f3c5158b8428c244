"""The embedded pyoxigraph store, loaded from the project's Turtle files."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
