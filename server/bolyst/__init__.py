"""bolyst: Linked Open Data on Norway's regional trainee programmes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from bolyst.config import load_config
from bolyst.load import find_sources
from bolyst.store.local import open_memory_store

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: settings, the loaded store, and the views."""
    from bolyst import views

    settings = load_config(config)
    app = Flask(__name__)
    app.config.update(settings)
    sources = find_sources(Path(settings["ROOT"]))
    store, stats = open_memory_store(
        (*sources.ontology, *sources.data, *sources.shapes), sources.root
    )
    app.extensions["bolyst"] = {"store": store, "stats": stats, "sources": sources}
    views.register(app)
    return app
