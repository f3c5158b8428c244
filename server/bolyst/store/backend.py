"""Choose the store from the ``STORE`` setting: in memory, on disk, or a remote SPARQL server.

=========================  ==================================================================
``STORE``                  what answers the endpoint's queries
=========================  ==================================================================
empty (the default)        the evaluator pool over the files loaded in memory
a folder (``--store DIR``) the evaluator pool over a pyoxigraph store on disk in that folder
                           (:mod:`bolyst.store.disk`; built from the files when stale)
``http(s)://...``          that SPARQL 1.1 server (:mod:`bolyst.store.remote_engine`), which
                           must hold the files' graphs (``bolyst load --to URL``)
=========================  ==================================================================

In every case the app also has a trusted in-process store of the same files for the pages
(``state["store"]``); the endpoint, the pages and the stored queries behave the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from bolyst.load import Sources, dataset_version, display_name
from bolyst.namespaces import graph_iri
from bolyst.policy import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH
from bolyst.store import QueryEngine
from bolyst.store.local import LoadStats, open_memory_store
from bolyst.store.shared import PRELOADED

__all__ = ["Backend", "is_remote", "open_backend"]


@dataclass
class Backend:
    """The stores of one app: ``store`` for trusted in-process reads, ``engine`` for /sparql."""

    kind: str  # "memory", "disk" or "remote"
    store: ox.Store
    stats: LoadStats
    engine: QueryEngine
    location: str | None = None


def is_remote(target: str | None) -> bool:
    return bool(target) and str(target).startswith(("http://", "https://"))


def graphs_of(sources: Sources) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every graph, the graphs of the default graph): one per file, shapes only named."""
    files = (*sources.ontology, *sources.data, *sources.shapes)
    union = (*sources.ontology, *sources.data)
    return (
        tuple(graph_iri(display_name(p, sources.root)) for p in files),
        tuple(graph_iri(display_name(p, sources.root)) for p in union),
    )


def open_backend(sources: Sources, settings: Mapping[str, Any]) -> Backend:
    """Open the stores ``settings["STORE"]`` asks for (see the table above)."""
    from bolyst.store.pool import open_engine

    target = str(settings.get("STORE") or "")
    files = (*sources.ontology, *sources.data, *sources.shapes)
    if is_remote(target):
        from bolyst.store.remote_engine import RemoteEngine

        store, stats = open_memory_store(files, sources.root)
        graphs, union = graphs_of(sources)
        engine = RemoteEngine(
            target,
            graphs=graphs,
            union=union,
            timeout=float(settings.get("QUERY_TIMEOUT", 10.0)),
            max_rows=int(settings.get("MAX_ROWS", 10_000)),
            max_length=int(settings.get("MAX_QUERY_LENGTH", DEFAULT_MAX_LENGTH)),
            max_depth=int(settings.get("MAX_DEPTH", DEFAULT_MAX_DEPTH)),
            dialect=settings.get("STORE_DIALECT") or None,
        )
        try:
            engine.ping()
        except BaseException:
            engine.close()
            raise
        return Backend("remote", store, stats, engine, target)
    if target:
        from bolyst.store.disk import open_disk_store

        store, stats = open_disk_store(Path(target), sources)
        return Backend("disk", store, stats, open_engine(sources, settings, store), target)
    found = PRELOADED.get(dataset_version(sources))  # loaded once by `bolyst serve`
    if found is not None:
        store, stats = found.store, found.stats
    else:
        store, stats = open_memory_store(files, sources.root)
    return Backend("memory", store, stats, open_engine(sources, settings, store))
