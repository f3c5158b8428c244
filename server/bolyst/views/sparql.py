"""``/sparql``: the SPARQL 1.1 Protocol query endpoint (read-only).

- ``GET``/``HEAD``/``POST`` answer queries (:mod:`bolyst.protocol`); a ``GET`` without a query
  answers with the service description (:mod:`bolyst.service_description`).
- The answer's format is negotiated from ``Accept`` or ``?format=`` (:mod:`bolyst.formats`).
- CORS is open (``Access-Control-Allow-Origin: *``; ``OPTIONS`` answers preflights).
- Bodies over ``GZIP_MIN_BYTES`` are gzipped when the client accepts it.
- ``GET`` answers carry an ``ETag`` (the dataset version, the request and the format) and
  ``Cache-Control``; ``If-None-Match`` with that tag gets ``304`` without running the query.
- An answer cut at the engine's row limit carries ``X-Bolyst-Truncated: true``.
- A repeated request is answered from the result cache without running the query
  (:mod:`bolyst.store.cache`); with the cache on, answers say ``X-Cache: hit`` or ``miss``.
- Each request (but preflights) writes one line to the ``bolyst.access`` logger: the method, the
  query's hash (never its text; ``-`` for none), status, rows, milliseconds, format, truncated.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from bolyst import service_description
from bolyst.errors import EvaluatorCrashed, ProtocolError
from bolyst.formats import GRAPH, content_type, kind_of, negotiate
from bolyst.policy import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, check_query
from bolyst.protocol import QueryRequest, parse_request
from bolyst.service_description import TRUNCATED_HEADER
from bolyst.store import QueryEngine
from bolyst.store.cache import CachingEngine
from bolyst.store.pool import EvaluatorPool, client_key
from bolyst.views.errors import render

bp = Blueprint("sparql", __name__)
access_log = logging.getLogger("bolyst.access")

METHODS = ("GET", "HEAD", "POST", "OPTIONS")
# Routed too, so that the protocol (not the router) refuses them, with CORS headers and a reason.
REFUSED_METHODS = ("PUT", "DELETE", "PATCH")
GZIP_MIN_BYTES = 1024
BODY_LIMIT = 1024 * 1024  # bytes of a POST body; the policy limits the query text further
SD_CACHE_SIZE = 64
CACHE_HEADER = "X-Cache"
EXPOSED = ("ETag", "Content-Length", "Retry-After", TRUNCATED_HEADER, CACHE_HEADER)


@dataclass
class _Entry:
    """What the access log line says about one request."""

    started: float
    query_hash: str = "-"
    rows: int | None = None
    media_type: str = "-"
    truncated: bool = False


@bp.before_request
def _start() -> None:
    g.sparql = _Entry(time.perf_counter())
    request.max_content_length = BODY_LIMIT


@bp.after_request
def _finish(response: Response) -> Response:
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED)
    headers["Vary"] = "Accept, Accept-Encoding"
    headers["X-Content-Type-Options"] = "nosniff"
    entry: _Entry | None = g.get("sparql")
    if entry is not None and request.method != "OPTIONS":
        access_log.info(
            "%s query=%s status=%d rows=%s ms=%.1f format=%s truncated=%d",
            request.method,
            entry.query_hash,
            response.status_code,
            "-" if entry.rows is None else entry.rows,
            (time.perf_counter() - entry.started) * 1000,
            entry.media_type,
            entry.truncated,
        )
    return response


@bp.route("/sparql", methods=METHODS + REFUSED_METHODS, provide_automatic_options=False)
def sparql() -> Response:
    """Answer a SPARQL query, or describe the service."""
    if request.method == "OPTIONS":
        return _preflight()
    query = parse_request(
        request.method,
        request.headers.get("Content-Type"),
        request.query_string,
        request.get_data(cache=True),
    )
    if query is None:
        return _describe_service()
    return _answer(query)


def _answer(query: QueryRequest) -> Response:
    state = _state()
    engine: QueryEngine = state["engine"]
    entry: _Entry = g.sparql
    entry.query_hash = _hash(query.query)
    # Relative IRIs resolve against the endpoint's URL, as Oxigraph's server does (computed
    # once: Werkzeug builds it anew, IRI-decoding the URL, each time it is asked).
    base_iri = request.base_url
    info = check_query(
        query.query,
        max_length=int(current_app.config.get("MAX_QUERY_LENGTH", DEFAULT_MAX_LENGTH)),
        max_depth=int(current_app.config.get("MAX_DEPTH", DEFAULT_MAX_DEPTH)),
        known_graphs=engine.graphs(),
        base_iri=base_iri,
    )
    media_type = negotiate(kind_of(info.form), request.headers.get("Accept"), query.format)
    entry.media_type = media_type
    tag = None
    if request.method in ("GET", "HEAD"):
        tag = _etag(
            state,
            "query",
            query.query,
            *query.default_graph_uris,
            "|",
            *query.named_graph_uris,
            media_type,
        )
        if _not_modified(tag):
            return _cacheable(_empty(304), tag)
    run = engine.run
    # One client cannot take every evaluator (issue 9); the cache passes this on to the pool.
    if isinstance(engine, EvaluatorPool | CachingEngine):
        run = functools.partial(engine.run, client=_client())
    try:
        answer = run(
            query.query,
            media_type=media_type,
            default_graphs=query.default_graph_uris,
            named_graphs=query.named_graph_uris,
            base_iri=base_iri,
        )
    except EvaluatorCrashed as exc:
        # Our fault (500), and the cause is the engine's, no secret: say it (issue 9).
        access_log.error("query=%s: %s", entry.query_hash, exc)
        return render(500, str(exc))
    entry.rows, entry.truncated = answer.rows, answer.truncated
    response = Response(answer.body, status=200, content_type=content_type(answer.media_type))
    if answer.truncated:
        response.headers[TRUNCATED_HEADER] = "true"
    if isinstance(engine, CachingEngine):
        response.headers[CACHE_HEADER] = "hit" if answer.cached else "miss"
    if tag is not None:
        _cacheable(response, tag)
    return _compress(response)


def _client() -> str:
    """Who asks, for the engine's per-client limit (X-Forwarded-For only behind PROXY_HOPS)."""
    hops = int(current_app.config.get("PROXY_HOPS", 0) or 0)
    return client_key(request.remote_addr, request.headers.get("X-Forwarded-For"), hops)


def _describe_service() -> Response:
    if request.method == "POST":  # parse_request already refuses this; keep the view total
        raise ProtocolError("the POST request has no query")
    state = _state()
    media_type = negotiate(GRAPH, request.headers.get("Accept"), request.args.get("format"))
    endpoint = request.base_url
    tag = _etag(state, "service-description", endpoint, media_type)
    if _not_modified(tag):
        return _cacheable(_empty(304), tag)
    # Built once per endpoint URL and format (about 20 ms with rdflib), at most SD_CACHE_SIZE.
    cache: dict[str, bytes] = state.setdefault("service_descriptions", {})
    body = cache.get(tag)
    if body is None:
        counts = state.get("dataset_counts")
        if counts is None:
            counts = service_description.count_triples(state["engine"])
            state["dataset_counts"] = counts
        graph = service_description.describe(endpoint, counts, title="bolyst SPARQL endpoint")
        body = service_description.serialize(graph, media_type)
        if len(cache) >= SD_CACHE_SIZE:
            cache.clear()  # Host headers are the client's to choose: keep the cache bounded
        cache[tag] = body
    response = Response(body, status=200, content_type=content_type(media_type))
    return _compress(_cacheable(response, tag))


def _empty(status: int) -> Response:
    """A response without a body (204, 304): no Content-Type either."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response


def _preflight() -> Response:
    response = _empty(204)
    response.headers["Allow"] = ", ".join(METHODS)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(METHODS)
    requested = request.headers.get("Access-Control-Request-Headers")
    response.headers["Access-Control-Allow-Headers"] = (
        requested or "Accept, Content-Type, If-None-Match"
    )
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _state() -> dict[str, Any]:
    state: dict[str, Any] = current_app.extensions["bolyst"]
    return state


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _etag(state: dict[str, Any], *parts: str) -> str:
    digest = hashlib.sha256(str(state.get("version", "")).encode("utf-8"))
    for part in parts:
        digest.update(b"\0" + part.encode("utf-8"))
    return digest.hexdigest()[:32]


def _not_modified(tag: str) -> bool:
    # A gzipped answer's tag is "<tag>-gzip" (see _compress); either names the same answer.
    wanted = request.if_none_match
    return bool(wanted) and (
        wanted.star_tag or any(t.removesuffix("-gzip") == tag for t in wanted.as_set(True))
    )


def _cacheable(response: Response, tag: str) -> Response:
    response.set_etag(tag)
    max_age = int(current_app.config.get("CACHE_MAX_AGE", 300))
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _compress(response: Response) -> Response:
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES or request.accept_encodings["gzip"] <= 0:
        return response
    response.set_data(gzip.compress(body, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    tag, weak = response.get_etag()
    if tag is not None:
        response.set_etag(tag + "-gzip", weak=bool(weak))
    return response
