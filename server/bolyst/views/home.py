"""The landing page and the health probe."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
from flask import Blueprint, current_app, render_template

bp = Blueprint("home", __name__)

PROGRAMMES = """
PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?programme ?label WHERE {
  ?programme a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?label .
  FILTER(lang(?label) = "nb")
} ORDER BY ?label
"""


def _state() -> dict[str, Any]:
    state: dict[str, Any] = current_app.extensions["bolyst"]
    return state


@bp.get("/")
def index() -> str:
    state = _state()
    store: ox.Store = state["store"]
    solutions = store.query(PROGRAMMES, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    programmes = [(str(row["programme"].value), str(row["label"].value)) for row in solutions]
    return render_template("home.html", programmes=programmes, stats=state["stats"])


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    stats = _state()["stats"]
    return {"status": "ok", "triples": stats.triples}, 200
