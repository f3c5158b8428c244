"""The embedded store on disk: ``bolyst serve --store DIR`` and ``bolyst load --to DIR``.

A pyoxigraph (RocksDB) store in ``DIR`` holding one named graph per source file, and beside the
data a note (:data:`NOTE`) of the dataset version it was built from
(:func:`bolyst.load.dataset_version`). Opening it when the note matches the files costs
milliseconds instead of parsing the Turtle again, and the HTTP worker's trusted store (pages,
counts) lives in the page cache rather than in each worker's memory.

Building is atomic: a new store is bulk-loaded into a sibling folder and renamed over the old
one only when complete, so a failed build leaves the previous store. Readers open it with
``Store.read_only``, which many processes may do at once (a read-write open locks the folder).

The query engine still evaluates in memory: the evaluator pool (:mod:`bolyst.store.pool`) takes
its snapshot from this store as from the in-memory one. Its docstring gives the measurements
behind that: lookups 2.7x faster in memory than on RocksDB, and a tenth of the address space.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from pathlib import Path

import pyoxigraph as ox

from bolyst.errors import LoadError
from bolyst.load import Sources, dataset_version, display_name
from bolyst.namespaces import graph_iri
from bolyst.store.local import LoadStats

__all__ = ["NOTE", "build_disk_store", "open_disk_store"]

NOTE = "bolyst-store.json"


def _files(sources: Sources) -> tuple[Path, ...]:
    return (*sources.ontology, *sources.data, *sources.shapes)


def read_note(directory: Path) -> dict[str, object] | None:
    try:
        note = json.loads((directory / NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def build_disk_store(
    directory: Path, sources: Sources, *, progress: object = None
) -> tuple[LoadStats, dict[str, int]]:
    """(Re)build the store in ``directory`` from ``sources``; return stats and triples per graph.

    Raises:
        LoadError: a file does not parse (the old store, if any, is left as it was).
    """
    started = time.perf_counter()
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(directory.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    counts: dict[str, int] = {}
    store = ox.Store(str(staging))
    try:
        for path in _files(sources):
            name = display_name(path, sources.root)
            graph = ox.NamedNode(graph_iri(name))
            try:
                store.bulk_load(
                    path=str(path),
                    format=ox.RdfFormat.TURTLE,
                    base_iri=path.resolve().as_uri(),
                    to_graph=graph,
                )
            except SyntaxError as exc:
                raise LoadError(name, exc.lineno, exc.msg) from exc
            counts[graph.value] = sum(1 for _ in store.quads_for_pattern(None, None, None, graph))
            if callable(progress):
                progress(f"{name}: {counts[graph.value]:,} triples")
        store.optimize()
        store.flush()
        del store
        note = {
            "version": dataset_version(sources),
            "root": str(sources.root),
            "graphs": counts,
            "triples": sum(counts.values()),
        }
        (staging / NOTE).write_text(json.dumps(note, indent=1), encoding="utf-8")
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    stats = LoadStats(len(counts), sum(counts.values()), time.perf_counter() - started)
    return stats, counts


def open_disk_store(directory: Path, sources: Sources) -> tuple[ox.Store, LoadStats]:
    """Open the store in ``directory`` read-only, building it first if it is missing or stale.

    The HTTP workers start at once: a lock beside the folder lets one of them build while the
    others wait, then find it fresh.
    """
    started = time.perf_counter()
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.with_name(directory.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        note = read_note(directory)
        if note is None or note.get("version") != dataset_version(sources):
            build_disk_store(directory, sources)
            note = read_note(directory) or {}
        store = ox.Store.read_only(str(directory))
    graphs = note.get("graphs")
    files = len(graphs) if isinstance(graphs, dict) else 0
    triples = note.get("triples")
    return store, LoadStats(
        files,
        int(triples) if isinstance(triples, int) else len(store),
        time.perf_counter() - started,
    )
