"""What the HTML views share: the page model (:class:`bolyst.pages.site.Site`), the reader's
language, the site navigation, and content negotiation between a page and its RDF.

Not a view itself: :func:`init_app` builds the :class:`Site` once, when the app is made, and
adds the app-wide hooks (language from ``?lang=``, the ``lang`` cookie or ``Accept-Language``;
the ``Vary`` headers of pages; the template context).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, has_request_context, request

from bolyst.errors import NotAcceptable
from bolyst.load import display_name
from bolyst.namespaces import PREFIXES, graph_iri
from bolyst.pages.i18n import LANGUAGES, NAMES, choose_language, other, translate
from bolyst.pages.site import Site
from bolyst.queries import StoredQuery, list_stored_queries

HTML = "text/html"
# The RDF syntaxes of a page's description: extension, media type, name. The order breaks ties.
RDF_SYNTAXES = (
    ("ttl", "text/turtle", "Turtle"),
    ("jsonld", "application/ld+json", "JSON-LD"),
    ("nt", "application/n-triples", "N-Triples"),
    ("rdf", "application/rdf+xml", "RDF/XML"),
)
BY_EXTENSION = {ext: media_type for ext, media_type, _ in RDF_SYNTAXES}
# Media types clients send for ours (never matched through a wildcard: they come last).
ALIASES = {
    "application/xhtml+xml": HTML,
    "application/json": "application/ld+json",
    "application/x-turtle": "text/turtle",
}
# Pages load nothing from another host; the policy makes the browser enforce it (and would stop
# a script that got into a page). YASGUI's editor sets inline styles, hence 'unsafe-inline' there.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600
# Blueprints whose answers are pages (they get the language's Vary headers).
PAGE_BLUEPRINTS = ("home", "resources", "stored_queries", "query_ui")
NAV = (
    ("home.index", "/", "nav.home"),
    ("query_ui.editor", "/query", "nav.query"),
    ("stored_queries.listing", "/queries", "nav.queries"),
    ("resources.ontology", "/ontology", "nav.ontology"),
    ("dumps.listing", "/dumps/", "nav.dumps"),
    ("dumps.record", "/dataset", "nav.dataset"),
)


def init_app(app: Flask) -> None:
    """Build the page model of the app's store and add the hooks every page relies on."""
    state = app.extensions["bolyst"]
    sources = state["sources"]
    ontology = [graph_iri(display_name(p, sources.root)) for p in sources.ontology]
    data = [graph_iri(display_name(p, sources.root)) for p in sources.data]
    if "site" not in state:  # else built once for every worker (bolyst.store.shared)
        state["site"] = Site.open(state["store"], (*ontology, *data))
    state["ontology_graphs"] = tuple(ontology)
    folder = Path(sources.root) / "queries"
    state["stored_queries"] = (
        {q.name: q for q in list_stored_queries(folder)} if folder.is_dir() else {}
    )
    app.after_request(_finish)
    app.context_processor(_template_context)


def site() -> Site:
    found: Site = current_app.extensions["bolyst"]["site"]
    return found


def ontology_graphs() -> tuple[str, ...]:
    graphs: tuple[str, ...] = current_app.extensions["bolyst"]["ontology_graphs"]
    return graphs


def stored_queries() -> dict[str, StoredQuery]:
    queries: dict[str, StoredQuery] = current_app.extensions["bolyst"]["stored_queries"]
    return queries


def lang() -> str:
    """The reader's language, chosen on first use: most requests (queries) never ask."""
    if not has_request_context():
        return LANGUAGES[0]
    chosen: str | None = g.get("lang")
    if chosen is None:
        chosen = g.lang = choose_language(
            request.args.get("lang"),
            request.cookies.get(COOKIE),
            request.headers.get("Accept-Language"),
        )
    return chosen


def _finish(response: Response) -> Response:
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(
            COOKIE, request.args["lang"], max_age=COOKIE_AGE, samesite="Lax", httponly=True
        )
    if request.blueprint in PAGE_BLUEPRINTS and response.mimetype == HTML:
        for header in ("Accept-Language", "Cookie"):
            response.vary.add(header)
    if response.mimetype == HTML:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _template_context() -> dict[str, Any]:
    current = lang()
    switch = other(current)
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", switch))
    return {
        "lang": current,
        "t": lambda key: translate(key, current),
        "nav": [
            (href, translate(label, current), request.endpoint == endpoint)
            for endpoint, href, label in NAV
        ],
        "switch_href": request.path + "?" + urlencode(args),
        "switch_lang": switch,
        "switch_name": NAMES[switch],
    }


def negotiate(extension: str | None, offers: Sequence[str] = (HTML,)) -> str:
    """Choose between a page and its RDF: the extension decides, else ``Accept``.

    ``offers`` come first (the page, by default); then the RDF syntaxes. No ``Accept`` (or ``*/*``)
    gets the first offer; an ``Accept`` nothing fits is 406, naming what would.
    """
    all_offers = (*offers, *(media_type for _, media_type, _ in RDF_SYNTAXES))
    if extension is not None:
        return BY_EXTENSION[extension]
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return all_offers[0]
    best = request.accept_mimetypes.best_match((*all_offers, *ALIASES))
    if best is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {accept} is offered here; "
            f"ask for one of: {', '.join(all_offers)}",
            tuple(all_offers),
        )
    return ALIASES.get(best, best)


def split_extension(path: str, known: Sequence[str]) -> tuple[str, str | None]:
    """Split ``path`` into (name, extension) when it ends in one of ``known`` extensions.

    >>> split_extension("programme/kom-trainee.ttl", ("ttl", "nt"))
    ('programme/kom-trainee', 'ttl')
    >>> split_extension("dataset/bolyst-kg/0.1.0", ("ttl", "nt"))
    ('dataset/bolyst-kg/0.1.0', None)
    """
    stem, dot, extension = path.rpartition(".")
    if dot and extension in known and stem:
        return stem, extension
    return path, None


def alternates(path: str, canonical: str) -> str:
    """The ``Link`` header of a page: its canonical IRI and its other syntaxes."""
    links = [f'<{canonical}>; rel="canonical"']
    links.append(f'<{path}>; rel="alternate"; type="{HTML}"')
    for extension, media_type, _ in RDF_SYNTAXES:
        links.append(f'<{path}.{extension}>; rel="alternate"; type="{media_type}"')
    return ", ".join(links)


def rdf_prefixes() -> dict[str, str]:
    return dict(PREFIXES)
