"""One copy of the dataset for the whole server: loaded once, shared by fork (issue 8).

Each HTTP worker used to load the files into a store of its own for the pages, and its pool
started a zygote that loaded them once more from an N-Quads snapshot. With W workers that is
2W + 1 copies and as many parses: measured with 1M synthetic triples and 2 workers, 60 s to
start and 5 GB of resident memory. Now ``bolyst serve`` loads the data once, before it starts
anything else (:func:`preload`), and shares it:

- with a **shared zygote** forked right after loading, while the server has one thread
  (:func:`start_shared_zygote`): it forks the evaluators of every worker's pool, which reach it
  over a Unix socket in a private folder (:class:`bolyst.store.pool.EvaluatorPool`,
  ``shared``); the worker passes the socket of its evaluator and its log file, as before;
- with the **HTTP workers**, which the production server forks from this process: they find
  the store and the page model (:class:`bolyst.pages.site.Site`) already built in
  :data:`PRELOADED`, keyed by dataset version, instead of loading and indexing again.

Copy-on-write keeps one copy in memory as long as nobody writes to it, and the store is
read-only. (Python's reference counts do write to the objects of the page model: the server
calls :func:`gc.freeze` before it forks, so that at least the collector leaves them alone.)

A new dataset version (``--reload-on-change``) is not preloaded: its pools start zygotes of
their own, as does a pool that finds the shared zygote gone. Neither is a remote store, which
holds its own data.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from bolyst.load import Sources
from bolyst.store.local import LoadStats, open_memory_store

__all__ = ["PRELOADED", "Preloaded", "SharedZygote", "preload", "start_shared_zygote"]

log = logging.getLogger(__name__)


@dataclass
class Preloaded:
    """A dataset version loaded before the workers start: the store, and the page model once
    the first app has built it."""

    store: ox.Store
    stats: LoadStats
    site: Any = None  # bolyst.pages.site.Site: not imported here, the evaluators import us


PRELOADED: dict[str, Preloaded] = {}


def preload(sources: Sources, version: str) -> Preloaded:
    """Load the files of ``sources`` into memory, once, for every worker of this server."""
    files = (*sources.ontology, *sources.data, *sources.shapes)
    store, stats = open_memory_store(files, sources.root)
    PRELOADED.clear()  # one version at a time: an older one would only hold memory
    PRELOADED[version] = Preloaded(store, stats)
    return PRELOADED[version]


def from_disk(disk: ox.Store) -> ox.Store:
    """An in-memory copy of a store on disk, for the shared zygote (evaluation in memory: see
    :mod:`bolyst.store.disk`)."""
    memory = ox.Store()
    memory.extend(disk.quads_for_pattern(None, None, None, None))
    return memory


@dataclass
class SharedZygote:
    """The server's zygote: its process id and the socket the pools connect to."""

    pid: int
    path: str
    folder: str
    seconds: float

    def stop(self) -> None:
        """Kill it (its evaluators die with it) and remove its folder."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def start_shared_zygote(store: ox.Store, memory_mb: int) -> SharedZygote:
    """Fork the shared zygote from this process, which must have one thread only (the zygote
    leaves the network with ``unshare``, which refuses a threaded process, and a fork copies
    only the calling thread: locks held by others would stay locked forever)."""
    from bolyst.store.evaluator import shared_zygote

    started = time.perf_counter()
    # A folder only we can enter: the socket forks processes that hold the data.
    folder = tempfile.mkdtemp(prefix="bolyst-zygote-")
    path = str(Path(folder) / "zygote.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(64)
        pid = os.fork()
    except BaseException:
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            shared_zygote(store, listener, memory_mb)
        finally:
            os._exit(1)
    listener.close()
    return SharedZygote(pid, path, folder, time.perf_counter() - started)
