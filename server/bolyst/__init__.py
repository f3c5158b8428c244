"""bolyst: Linked Open Data on Norway's regional trainee programmes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: settings, the loaded store, the query engine, and the views."""
    # Imported here, not at the top: the query evaluators import bolyst.store.evaluator, hence
    # this package, and should not pay for Flask and rdflib (bolyst.store.pool).
    import atexit

    from flask import Flask

    from bolyst import views
    from bolyst.config import load_config
    from bolyst.load import dataset_version, find_sources
    from bolyst.store.backend import open_backend
    from bolyst.store.cache import with_cache
    from bolyst.store.shared import PRELOADED

    settings = load_config(config)
    app = Flask(__name__)
    app.config.update(settings)
    sources = find_sources(Path(settings["ROOT"]))
    # The store of the STORE setting (memory, disk or a remote server; bolyst.store.backend).
    backend = open_backend(sources, settings)
    app.extensions["bolyst"] = {
        "store": backend.store,
        "stats": backend.stats,
        "backend": backend.kind,
        "sources": sources,
        "version": dataset_version(sources),  # ETags of /sparql answers build on it
    }
    # Every public query runs in the engine's evaluator processes (killed at the deadline), or
    # in the remote SPARQL server.
    engine = backend.engine
    # The engine's close, not the cache's: atexit would keep every old version's cache alive.
    atexit.register(engine.close)
    # Repeated queries are answered from memory (bolyst.store.cache). One cache per app, and an
    # app per dataset version (bolyst.lifecycle): a new version never gets an old answer.
    app.extensions["bolyst"]["engine"] = with_cache(engine, settings)
    # The page model, built once by `bolyst serve` for all its workers (bolyst.store.shared).
    preloaded = PRELOADED.get(app.extensions["bolyst"]["version"])
    if preloaded is not None and preloaded.store is backend.store and preloaded.site is not None:
        app.extensions["bolyst"]["site"] = preloaded.site
    views.register(app)
    if preloaded is not None and preloaded.store is backend.store:
        preloaded.site = app.extensions["bolyst"]["site"]
    return app
