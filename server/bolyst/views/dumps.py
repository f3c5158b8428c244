"""``/dumps/``, ``/dataset`` and ``/.well-known/void``: the release ``bolyst build`` wrote.

- ``/dumps/`` lists the files: an HTML table (size, SHA-256, media type) for people, the DCAT
  record for clients that ask for RDF (``Accept`` or ``?format=``).
- ``/dumps/<name>`` serves one file with its media type, ``Content-Length``, a strong ``ETag``
  (its SHA-256), ``Last-Modified``, ``Range`` (206) and ``HEAD``, and answers ``If-None-Match`` /
  ``If-Modified-Since`` with 304 (Werkzeug's ``send_file(conditional=True)``).
- ``.gz`` files go out as stored: ``Content-Type: application/gzip`` and an attachment, **not**
  ``Content-Encoding: gzip``. With ``Content-Encoding`` a client would unpack the file on the fly
  and save bytes that no longer match the published size and checksum.
- Only names listed in the release's ``SHA256SUMS`` are served
  (:func:`bolyst.release.read_release`); every other path, ``..`` or ``%2e%2e``, encoded slashes,
  absolute paths and symlinks, is 404.
- ``/dataset`` and ``/.well-known/void`` (the VoID well-known location) answer with the catalogue
  record, Turtle by default, or JSON-LD, RDF/XML or N-Triples by ``Accept`` or ``?format=``.

The folder is ``DUMPS_DIR`` (default ``<ROOT>/dist``), read at each request, so a new release is
served as soon as ``bolyst build`` has swapped it in. Without one, these paths answer 404 and say
to run ``bolyst build`` (``bolyst serve`` builds one at start when the data conforms).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, send_file
from werkzeug.exceptions import NotFound

from bolyst.errors import NotAcceptable
from bolyst.formats import BY_MEDIA_TYPE
from bolyst.release import Release, ReleaseFile, read_release, sha256_of

bp = Blueprint("dumps", __name__)

# The record's syntaxes, the default first.
RECORD_FILES = {
    "text/turtle": "dataset.ttl",
    "application/ld+json": "dataset.jsonld",
    "application/rdf+xml": "dataset.rdf",
    "application/n-triples": "dataset.nt",
}
HTML = "text/html"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Content-Length, Content-Range, Accept-Ranges",
}


def _release() -> Release:
    release = read_release(Path(current_app.config["DUMPS_DIR"]))
    if release is None:
        raise NotFound("No release has been built yet: run `bolyst build`.")
    return release


@bp.get("/dumps/")
def listing() -> Response | str:
    release = _release()
    media_type = _negotiate((HTML, *RECORD_FILES))
    if media_type != HTML:
        return _negotiated(_send(_record(release, media_type)))
    html = render_template("dumps.html", files=release.files, version=_version(release))
    response = Response(html, content_type="text/html; charset=utf-8")
    return _negotiated(response)


@bp.get("/dumps/<path:name>")
def dump(name: str) -> Response:
    found = _release().get(name)
    if found is None:
        raise NotFound(f"No file {name!r} in the release; see /dumps/ for the list.")
    return _send(found)


@bp.get("/dataset")
@bp.get("/.well-known/void")
def record() -> Response:
    release = _release()
    return _negotiated(_send(_record(release, _negotiate(tuple(RECORD_FILES)))))


def _record(release: Release, media_type: str) -> ReleaseFile:
    found = release.get(RECORD_FILES[media_type])
    if found is None:
        raise NotFound("The release has no catalogue record: rebuild it with `bolyst build`.")
    return found


def _send(file: ReleaseFile) -> Response:
    etag = file.sha256 if file.sha256 is not None else sha256_of(file.path)
    response = send_file(
        file.path,
        mimetype=file.spec.served_as.split(";")[0],
        as_attachment=file.spec.gzipped,
        download_name=file.spec.name,
        conditional=True,
        etag=etag,
        max_age=int(current_app.config.get("CACHE_MAX_AGE", 300)),
    )
    # Werkzeug adds a charset to text/* only; ours says UTF-8 for every text syntax.
    response.headers["Content-Type"] = file.spec.served_as
    response.headers.update(CORS)
    return response


def _negotiated(response: Response) -> Response:
    response.vary.add("Accept")
    return response


def _negotiate(offers: tuple[str, ...]) -> str:
    """Pick one of ``offers`` by ``?format=`` (a name such as ``ttl``) or ``Accept``.

    No ``Accept`` gets the first offer; nothing acceptable is 406 naming what would do.
    """
    wanted = request.args.get("format", "").strip().lower()
    if wanted:
        for offer in offers:
            fmt = BY_MEDIA_TYPE.get(offer)
            names = fmt.names if fmt is not None else ("html",)
            if wanted == offer or wanted in names:
                return offer
        raise NotAcceptable(
            f"format={wanted!r} is not offered here; ask for one of: {', '.join(offers)}", offers
        )
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return offers[0]
    best = request.accept_mimetypes.best_match(offers)
    if best is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {accept} is offered here; "
            f"ask for one of: {', '.join(offers)}",
            offers,
        )
    return best


def _version(release: Release) -> str | None:
    """The release's version, read from its N-Triples record (a line, no parser needed)."""
    found = release.get("dataset.nt")
    if found is None:
        return None
    marker = "<http://www.w3.org/ns/dcat#version> "
    for line in found.path.read_text(encoding="utf-8").splitlines():
        if marker in line:
            return line.split(marker, 1)[1].rsplit(" .", 1)[0].strip('"')
    return None
