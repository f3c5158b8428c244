"""``/query``: the query editor (YASGUI, served from our own static files; no CDN).

It sends queries to our ``/sparql``, knows our prefixes, and offers every stored query as an
example (with its parameters' defaults written in). ``?query=`` opens a tab with that query (the
"open in the query editor" links of the other pages use it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, json, render_template, request

from bolyst.namespaces import PREFIXES
from bolyst.pages import tables
from bolyst.queries import bind
from bolyst.views.common import stored_queries

bp = Blueprint("query_ui", __name__)
MAX_QUERY = 65536  # characters of ?query= taken over into the editor
YASGUI_VERSION = "4.6.2"
DEFAULT_QUERY = """PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?programme ?name WHERE {
  ?programme a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?name .
  FILTER(lang(?name) = "en")
}
ORDER BY ?name"""


@bp.get("/query")
def editor() -> str:
    examples = [
        {
            "name": q.name,
            "title": q.title,
            "query": tables.editor_text(q, bind(q, {})),
        }
        for q in sorted(stored_queries().values(), key=lambda q: q.title.lower())
    ]
    config: dict[str, Any] = {
        "endpoint": "/sparql",
        "prefixes": PREFIXES,
        "examples": examples,
        "query": request.args.get("query", "")[:MAX_QUERY],
        "defaultQuery": DEFAULT_QUERY,
    }
    return render_template(
        "query.html", config=config, examples=examples, yasgui_version=YASGUI_VERSION
    )


@bp.get("/query/prefixes.json")
def prefixes() -> Response:
    """Our prefixes as ``{"prefix": "namespace"}``: what the editor completes and adds."""
    return Response(json.dumps(PREFIXES), content_type="application/json")
