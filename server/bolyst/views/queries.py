"""``/queries``: the stored queries of ``queries/*.rq``, answered as pages and as downloads.

- ``/queries`` lists them with their titles and descriptions.
- ``/queries/<name>`` runs one with the parameters of the query string (typed and checked; an
  empty field takes the parameter's default) and shows the answer as a table, with a form for
  the parameters and a link that opens the same query in the query editor.
- ``/queries/<name>.csv``, ``.tsv``, ``.json`` (and ``.ttl``, ``.nt``, ``.jsonld`` for graph
  queries) give the same answer as a file.
- A bad parameter is 400: the page shows the form with the message beside the field; a download
  answers with the message (naming the parameter) as text.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import NotFound

from bolyst.formats import content_type
from bolyst.pages import tables
from bolyst.queries import ParameterError, StoredQuery, bind
from bolyst.store.local import query_serialized
from bolyst.views.common import lang, rdf_prefixes, site, split_extension, stored_queries

bp = Blueprint("stored_queries", __name__)
RESERVED = ("lang",)  # query-string names the site itself uses


@bp.get("/queries")
def listing() -> str:
    queries = sorted(stored_queries().values(), key=lambda q: q.title.lower())
    return render_template("queries.html", queries=queries)


@bp.get("/queries/<name>")
def stored(name: str) -> Response:
    extensions = tuple(sorted({e for d in tables.DOWNLOADS.values() for e in d}))
    stem, extension = split_extension(name, extensions)
    query = stored_queries().get(stem)
    if query is None:
        raise NotFound(f"There is no stored query {stem!r}; see /queries for the list.")
    given = _given(query)
    if extension is not None:
        return _download(query, extension, given)
    errors = _check(query, given)
    bindings = bind(query, given) if not errors else {}
    table = tables.run(site(), query, bindings, lang()) if not errors else None
    query_string = urlencode(sorted(given.items()))
    html = render_template(
        "stored_query.html",
        query=query,
        given=given,
        errors=errors,
        table=table,
        downloads=tables.downloads(query),
        query_string=query_string,
        editor_text=tables.editor_text(query, bindings),
    )
    return Response(html, status=400 if errors else 200, content_type="text/html; charset=utf-8")


def _given(query: StoredQuery) -> dict[str, str]:
    """The parameters of the query string; empty fields are left out (they take the default)."""
    declared = {p.name for p in query.parameters}
    return {
        key: value
        for key, value in request.args.items()
        if value != "" and (key in declared or key not in RESERVED)
    }


def _check(query: StoredQuery, given: dict[str, str]) -> dict[str, str]:
    """Check each given value against its parameter's type: parameter name -> message."""
    known = {p.name: p for p in query.parameters}
    errors: dict[str, str] = {}
    for key, value in given.items():
        param = known.get(key)
        if param is None:
            errors[key] = f"unknown parameter {key!r}: this query has " + (
                ", ".join(sorted(known)) or "no parameters"
            )
            continue
        try:
            param.coerce(value)
        except ParameterError as exc:
            errors[key] = str(exc)
    return errors


def _download(query: StoredQuery, extension: str, given: dict[str, str]) -> Response:
    offered = tables.downloads(query)
    if extension not in offered:
        raise NotFound(
            f"{query.name} answers as {', '.join('.' + e for e in offered)}, not .{extension}"
        )
    media_type = offered[extension]
    body = query_serialized(
        site().store,
        query.text,
        media_type,
        default_graphs=site().graphs,
        bindings=bind(query, given),  # raises ParameterError (400) naming the parameter
        prefixes=rdf_prefixes(),
    )
    response = Response(body, content_type=content_type(media_type))
    response.headers["Content-Disposition"] = f'attachment; filename="{query.name}.{extension}"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
