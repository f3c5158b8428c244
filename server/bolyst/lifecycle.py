"""The served app's lifecycle in a worker process: new dataset versions, and shutting down.

Issue 9 asks that a new version of the data be swapped in atomically without a failed request,
and that SIGTERM finish the requests in flight and exit within a few seconds.

**Swap.** :class:`SwappableApp` is the WSGI callable the production server runs
(:mod:`bolyst.wsgi`): it hands each request to the current Flask app, a whole one built by
:func:`bolyst.create_app` (store, query engine, pages, ETag version). With ``RELOAD_INTERVAL``
set (``bolyst serve --reload-on-change``), a thread looks at the data files (names, sizes,
modification times) every so often; when they changed and then stayed unchanged for a moment,
it builds a new app beside the current one (a new zygote and evaluators on the new snapshot),
and if the content really differs, switches to it with one assignment. A request runs wholly in
the app it started in, so it sees one version, and the ETags change with the version. The old
engine then routes queries that reach it late to the new one
(:meth:`bolyst.store.pool.EvaluatorPool.retire`), lets its running queries finish, and stops
its evaluators. Files that do not load (an edit half written, a syntax error) are logged and the
current version stays. Each HTTP worker swaps on its own, within ``RELOAD_INTERVAL`` of the
others.

**Shutdown.** granian's workers stop on SIGTERM after the requests in flight have been
answered, however long they take: a runaway would hold the exit up for the whole query time
limit. :func:`drain_on_signal` learns of the signal through :func:`signal.set_wakeup_fd`
(granian installs Python handlers, which write the signal's number there) and drains the engine:
new queries are refused (503), running ones get ``SHUTDOWN_GRACE`` seconds more, then a 503.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bolyst.config import load_config
from bolyst.load import dataset_version, find_sources

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

__all__ = ["SwappableApp", "drain_on_signal", "serve_app", "signature"]

log = logging.getLogger(__name__)

SETTLE = 0.5  # seconds the files must stay unchanged before a new version is loaded


def signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the files served from ``root`` (cheap: stat only)."""
    try:
        sources = find_sources(root)
    except Exception:  # a root being replaced: no folders for a moment
        return ()
    found = []
    for path in (*sources.ontology, *sources.data, *sources.shapes):
        try:
            info = path.stat()
        except OSError:
            continue
        found.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(found)


class SwappableApp:
    """A WSGI app that forwards to the current Flask app and can swap in a new one.

    Args:
        factory: builds a complete app from the settings (:func:`bolyst.create_app`).
        config: the settings (``ROOT``, ``RELOAD_INTERVAL``, ...; :mod:`bolyst.config`).
    """

    def __init__(
        self, factory: Callable[[Mapping[str, Any]], Flask], config: Mapping[str, Any]
    ) -> None:
        self.factory = factory
        self.config = dict(config)
        self.root = Path(self.config["ROOT"])
        self._signature = signature(self.root)
        self.current = factory(self.config)
        self._swap_lock = threading.Lock()
        self._stop = threading.Event()
        self.swaps = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.current(environ, start_response)

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.current.extensions["bolyst"]
        return state

    @property
    def version(self) -> str:
        return str(self.state.get("version", ""))

    def swap(self) -> bool:
        """Load the files as they are now and switch to them if their content changed.

        Returns whether a new version is being served. Raises when the files do not load.
        """
        with self._swap_lock:
            sources = find_sources(self.root)
            if dataset_version(sources) == self.version:
                return False
            started = time.perf_counter()
            new = self.factory(self.config)
            old = self.current
            self.current = new  # the switch: one reference; requests already in `old` stay
            self.swaps += 1
            log.info(
                "serving dataset version %s (was %s), loaded in %.2f s",
                new.extensions["bolyst"].get("version"),
                old.extensions["bolyst"].get("version"),
                time.perf_counter() - started,
            )
            _retire(old, new)
            return True

    def watch(self, interval: float) -> threading.Thread:
        """Look for a new version of the files every ``interval`` seconds (in a thread)."""
        thread = threading.Thread(
            target=self._watch, args=(interval,), name="bolyst-reload", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            seen = signature(self.root)
            if seen == self._signature:
                continue
            time.sleep(SETTLE)  # let a copy or a build finish writing
            if signature(self.root) != seen:
                continue  # still changing: look again next time
            try:
                self.swap()
            except Exception:
                log.exception(
                    "the changed data could not be loaded; still serving %s", self.version
                )
            self._signature = seen


def _retire(old: Flask, new: Flask) -> None:
    """Let the old app's engine finish its queries and stop (queries reaching it go to new)."""
    from bolyst.store.cache import unwrap
    from bolyst.store.pool import EvaluatorPool

    # The result caches go with their apps; the engines behind them hand over.
    before = unwrap(old.extensions["bolyst"].get("engine"))
    after = unwrap(new.extensions["bolyst"].get("engine"))
    if isinstance(before, EvaluatorPool) and isinstance(after, EvaluatorPool):
        before.retire(after)
    elif before is not None:
        timer = threading.Timer(float(old.config.get("QUERY_TIMEOUT", 10.0)) + 1, before.close)
        timer.daemon = True
        timer.start()


def drain_on_signal(
    engine_of: Callable[[], Any], grace: float, signals: Iterable[int] = (15, 2)
) -> bool:
    """Drain the engine when the process gets SIGTERM or SIGINT (call from the main thread).

    Python's C signal handler writes the number of each signal that has a Python handler to
    the wakeup descriptor, whoever installed the handler; a thread reads it. Returns whether
    the hook is installed (not on the main thread, or a wakeup descriptor is taken already).
    """
    wanted = frozenset(signals)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        os.close(read_end)
        os.close(write_end)
        return False
    if previous != -1:  # somebody else's: leave it
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        return False

    def wait() -> None:
        while True:
            try:
                data = os.read(read_end, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            if wanted.intersection(data):
                engine = engine_of()
                log.info("shutting down: draining the query engine (%.1f s grace)", grace)
                if hasattr(engine, "drain"):
                    engine.drain(grace)
                    if hasattr(engine, "wait_idle") and engine.wait_idle(grace + 1.0):
                        engine.close()
                return

    threading.Thread(target=wait, name="bolyst-drain", daemon=True).start()
    return True


def serve_app(config: Mapping[str, Any] | None = None) -> SwappableApp:
    """The production app of a worker: swappable, drained on SIGTERM, watching if asked."""
    from bolyst import create_app

    settings = load_config(config)
    app = SwappableApp(create_app, settings)
    drain_on_signal(lambda: app.state.get("engine"), float(settings.get("SHUTDOWN_GRACE", 3.0)))
    interval = float(settings.get("RELOAD_INTERVAL", 0) or 0)
    if interval > 0:
        app.watch(interval)
    return app
