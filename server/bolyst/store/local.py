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
