"""``/id/...`` and ``/ontology``: our IRIs, dereferenced.

- ``/id/<type>/<slug>`` answers with the resource's page (HTML) or its description in Turtle,
  JSON-LD, N-Triples or RDF/XML, chosen by the extension (``.ttl``, ``.jsonld``, ``.nt``,
  ``.rdf``) or else by ``Accept``. The description is the resource's own triples closed over
  blank nodes (its provenance hangs off them), then the triples pointing to it.
- ``/ontology`` answers with the ontology's documentation or with the ontology files' triples;
  ``https://w3id.org/bolyst/ontology#Term`` lands on ``/ontology#Term``.
- Every answer says ``Vary: Accept`` and lists the others in ``Link: rel="alternate"``, with
  ``rel="canonical"`` pointing to the ``https://w3id.org/bolyst/...`` IRI.
- An IRI the graph says nothing about is 404: a page with resources whose names are close, for
  people; plain text for RDF clients.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import NotFound

from bolyst.formats import content_type
from bolyst.namespaces import BASE, ID, ONTOLOGY_DOC
from bolyst.pages import ontology as ontology_page
from bolyst.pages import resource as resource_page
from bolyst.store.local import Triple, graph_triples, serialize_triples
from bolyst.views.common import (
    BY_EXTENSION,
    HTML,
    RDF_SYNTAXES,
    alternates,
    lang,
    negotiate,
    ontology_graphs,
    rdf_prefixes,
    site,
    split_extension,
)

bp = Blueprint("resources", __name__)


@bp.after_request
def _vary(response: Response) -> Response:
    # Errors too (404, 406): what they say depends on Accept.
    response.vary.add("Accept")
    return response


@bp.get("/id/<path:path>")
def resource(path: str) -> Response:
    name, extension = split_extension(path, tuple(BY_EXTENSION))
    iri = ID + name
    media_type = negotiate(extension)
    page = resource_page.build(site(), iri, lang())
    if page is None:
        if media_type != HTML:
            raise NotFound(f"Nothing is known about <{iri}>.")
        return _not_found(iri, name)
    location = "/id/" + name
    if media_type == HTML:
        html = render_template(
            "resource.html",
            page=page,
            path=location,
            syntaxes=RDF_SYNTAXES,
            canonical=iri,
        )
        response = Response(html, content_type="text/html; charset=utf-8")
    else:
        response = _rdf(page.triples, media_type)
    return _negotiated(response, location, iri, extension)


@bp.get("/ontology")
@bp.get("/ontology.<any(ttl, jsonld, nt, rdf):extension>")
def ontology(extension: str | None = None) -> Response:
    media_type = negotiate(extension)
    graphs = ontology_graphs()
    if media_type == HTML:
        page = ontology_page.build(site(), graphs, lang())
        html = render_template(
            "ontology.html",
            page=page,
            path="/ontology",
            syntaxes=RDF_SYNTAXES,
            canonical=ONTOLOGY_DOC,
        )
        response = Response(html, content_type="text/html; charset=utf-8")
    else:
        response = _rdf(graph_triples(site().store, graphs), media_type)
    return _negotiated(response, "/ontology", ONTOLOGY_DOC, extension)


def _rdf(triples: tuple[Triple, ...], media_type: str) -> Response:
    body = serialize_triples(triples, media_type, rdf_prefixes())
    return Response(body, content_type=content_type(media_type))


def _negotiated(response: Response, path: str, canonical: str, extension: str | None) -> Response:
    response.vary.add("Accept")
    response.headers["Link"] = alternates(path, canonical)
    if extension is None and response.mimetype != HTML:
        ext = next(e for e, m, _ in RDF_SYNTAXES if m == response.mimetype)
        response.headers["Content-Location"] = f"{path}.{ext}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _not_found(iri: str, name: str) -> Response:
    words = [w for w in re.split(r"[^a-z0-9æøå]+", name.lower()) if w]
    suggestions = site().search(words, lang())
    html = render_template(
        "not_found.html",
        iri=iri,
        path=request.path,
        suggestions=suggestions,
        base=BASE,
    )
    response = Response(html, status=404, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response
