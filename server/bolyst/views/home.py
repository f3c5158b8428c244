"""The landing page and the health probe."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from bolyst.pages import landing
from bolyst.views.common import lang, site, stored_queries

bp = Blueprint("home", __name__)


def _state() -> dict[str, Any]:
    state: dict[str, Any] = current_app.extensions["bolyst"]
    return state


@bp.get("/")
def index() -> str:
    """What the dataset is, and the three programmes side by side (from the stored queries)."""
    model = landing.build(site(), stored_queries(), lang())
    return render_template("home.html", landing=model, stats=_state()["stats"])


@bp.get("/favicon.ico")
def favicon() -> tuple[str, int]:
    """No icon (pages say ``<link rel="icon" href="data:,">``); browsers still ask for this one
    when they show a file that is not a page, and a 404 would be an error in their console."""
    return "", 204


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    stats = _state()["stats"]
    return {"status": "ok", "triples": stats.triples}, 200
