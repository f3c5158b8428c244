"""``/dumps/``, ``/dataset`` and ``/.well-known/void`` over a built release."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import RDF, Graph, Namespace
from werkzeug.test import TestResponse

from bolyst import build as build_module
from bolyst import create_app
from bolyst.build import BuildError, build
from bolyst.release import FILES, SUMS

ENDPOINT_ROOT = Path(__file__).resolve().parents[1] / "data" / "endpoint"
VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")

# rdflib 7.6's JSON-LD parser builds its own deprecated ConjunctiveGraph.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


class BufferedClient(FlaskClient):
    """Read each answer whole and close it: ``send_file`` answers hold an open file."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def make_app(dumps: Path) -> Flask:
    # The tiny endpoint root keeps the app quick to start; the release is ours.
    app = create_app({"ROOT": str(ENDPOINT_ROOT), "DUMPS_DIR": str(dumps), "TESTING": True})
    app.test_client_class = BufferedClient
    return app


def close(app: Flask) -> None:
    engine = app.extensions["bolyst"].get("engine")
    if engine is not None:
        engine.close()


@pytest.fixture(scope="module")
def served(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built release, with a symlink planted next to it."""
    out = tmp_path_factory.mktemp("served") / "dist"
    shutil.copytree(built_release, out)
    secret = out.parent / "secret.txt"
    secret.write_text("not for download")
    (out / "secret.txt").symlink_to(secret)
    return out


@pytest.fixture(scope="module")
def app(served: Path) -> Iterator[Flask]:
    app = make_app(served)
    yield app
    close(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_listing_for_people(client: FlaskClient, served: Path) -> None:
    response = client.get("/dumps/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for spec in FILES:
        assert f'href="/dumps/{spec.name}"' in page
        assert f"{(served / spec.name).stat().st_size:,}" in page
    digest = hashlib.sha256((served / "bolyst.ttl").read_bytes()).hexdigest()
    assert digest in page
    assert "release 0.1.0" in page
    assert "secret.txt" not in page
    assert "Accept" in response.headers["Vary"]


def test_listing_without_accept_is_html(client: FlaskClient) -> None:
    assert client.get("/dumps/").mimetype == "text/html"
    assert client.get("/dumps").status_code == 308  # to /dumps/


@pytest.mark.parametrize(
    ("accept", "media_type", "file"),
    [
        ("text/turtle", "text/turtle", "dataset.ttl"),
        ("application/ld+json", "application/ld+json", "dataset.jsonld"),
        ("application/rdf+xml;q=0.9, text/html;q=0.1", "application/rdf+xml", "dataset.rdf"),
    ],
)
def test_listing_for_machines_is_the_record(
    client: FlaskClient, served: Path, accept: str, media_type: str, file: str
) -> None:
    response = client.get("/dumps/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.data == (served / file).read_bytes()


@pytest.mark.parametrize("spec", FILES, ids=lambda s: s.name)
def test_each_file_served_as_stored(client: FlaskClient, served: Path, spec: object) -> None:
    name = spec.name  # type: ignore[attr-defined]
    data = (served / name).read_bytes()
    response = client.get(f"/dumps/{name}")
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert "Last-Modified" in response.headers
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Encoding" not in response.headers
    if name.endswith(".gz"):
        assert response.mimetype == "application/gzip"
        assert response.headers["Content-Disposition"].startswith("attachment")
    else:
        assert response.mimetype == spec.media_type  # type: ignore[attr-defined]


def test_media_types_of_the_dumps(client: FlaskClient) -> None:
    expected = {
        "bolyst.ttl": "text/turtle; charset=utf-8",
        "bolyst.jsonld": "application/ld+json",
        "ontology.rdf": "application/rdf+xml",
        "dataset.nt": "application/n-triples; charset=utf-8",
        SUMS: "text/plain; charset=utf-8",
        "bolyst.nq.gz": "application/gzip",
    }
    for name, content_type in expected.items():
        assert client.get(f"/dumps/{name}").headers["Content-Type"] == content_type, name


def test_head(client: FlaskClient, served: Path) -> None:
    response = client.head("/dumps/bolyst.nt.gz")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str((served / "bolyst.nt.gz").stat().st_size)
    assert response.headers["Content-Type"] == "application/gzip"


def test_range(client: FlaskClient, served: Path) -> None:
    data = (served / "bolyst.ttl").read_bytes()
    response = client.get("/dumps/bolyst.ttl", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.data == data[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert response.headers["Content-Length"] == "100"
    tail = client.get("/dumps/bolyst.ttl", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == data[-10:]
    beyond = client.get("/dumps/bolyst.ttl", headers={"Range": f"bytes={len(data) + 5}-"})
    assert beyond.status_code == 416


def test_conditional_requests(client: FlaskClient) -> None:
    first = client.get("/dumps/bolyst.jsonld")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/dumps/bolyst.jsonld", headers={"If-None-Match": etag}).status_code == 304
    again = client.get("/dumps/bolyst.jsonld", headers={"If-Modified-Since": modified})
    assert again.status_code == 304
    stale = client.get("/dumps/bolyst.jsonld", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.data == first.data


@pytest.mark.parametrize(
    "path",
    [
        "/dumps/../pyproject.toml",
        "/dumps/%2e%2e/pyproject.toml",
        "/dumps/%2E%2E%2Fpyproject.toml",
        "/dumps/..%2f..%2fpyproject.toml",
        "/dumps/%2Fetc%2Fpasswd",
        "/dumps//etc/passwd",
        "/dumps/./bolyst.ttl",
        "/dumps/sub/../bolyst.ttl",
        "/dumps/bolyst.ttl%00",
        "/dumps/BOLYST.TTL",
        "/dumps/secret.txt",
        "/dumps/.dist.lock",
        "/dumps/..",
    ],
)
def test_paths_outside_the_release_are_not_found(client: FlaskClient, path: str) -> None:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 404, path
    assert b"not for download" not in response.data
    assert b"[project]" not in response.data


def test_a_listed_name_that_is_a_symlink_is_not_served(built_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built_release, out)
    (out / "ontology.rdf").unlink()
    (out / "ontology.rdf").symlink_to(out.parent.parent / "elsewhere.txt")
    (out.parent.parent / "elsewhere.txt").write_text("not for download")
    app = make_app(out)
    try:
        response = app.test_client().get("/dumps/ontology.rdf")
        assert response.status_code == 404
        assert b"not for download" not in response.data
    finally:
        close(app)


@pytest.mark.parametrize(
    ("headers", "query", "media_type", "file"),
    [
        ({}, "", "text/turtle", "dataset.ttl"),
        ({"Accept": "*/*"}, "", "text/turtle", "dataset.ttl"),
        ({"Accept": "application/ld+json"}, "", "application/ld+json", "dataset.jsonld"),
        ({"Accept": "application/rdf+xml"}, "", "application/rdf+xml", "dataset.rdf"),
        ({"Accept": "application/n-triples"}, "", "application/n-triples", "dataset.nt"),
        ({"Accept": "text/turtle"}, "?format=jsonld", "application/ld+json", "dataset.jsonld"),
    ],
)
def test_dataset_record_by_negotiation(
    client: FlaskClient,
    served: Path,
    headers: dict[str, str],
    query: str,
    media_type: str,
    file: str,
) -> None:
    response = client.get("/dataset" + query, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert response.data == (served / file).read_bytes()
    assert "Accept" in response.headers["Vary"]
    graph = Graph().parse(data=response.data, format=media_type)
    assert (None, RDF.type, DCAT.Dataset) in graph


def test_dataset_record_not_acceptable(client: FlaskClient) -> None:
    response = client.get("/dataset", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "text/turtle" in response.get_data(as_text=True)
    assert client.get("/dataset?format=csv").status_code == 406


def test_well_known_void(client: FlaskClient) -> None:
    response = client.get("/.well-known/void")
    assert response.status_code == 200
    assert response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.data, format="turtle")
    datasets = set(graph.subjects(RDF.type, VOID.Dataset))
    assert len(datasets) == 1
    (dataset,) = datasets
    assert len(list(graph.objects(dataset, VOID.dataDump))) == 5
    assert graph.value(dataset, VOID.triples) is not None


def test_no_release_yet(tmp_path: Path) -> None:
    app = make_app(tmp_path / "nothing")
    try:
        client = app.test_client()
        for path in ("/dumps/", "/dumps/bolyst.ttl", "/dataset", "/.well-known/void"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "bolyst build" in response.get_data(as_text=True), path
    finally:
        close(app)


def test_a_failed_build_leaves_the_old_release_serving(
    built_release: Path, release_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    shutil.copytree(built_release, out)
    app = make_app(out)
    try:
        client = app.test_client()
        before = {spec.name: client.get(f"/dumps/{spec.name}") for spec in FILES}
        original = build_module._Writer.write

        def write(self: build_module._Writer, name: str, data: bytes, triples: int | None) -> None:
            if name == "shapes.ttl":  # midway: ten files are already written
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            original(self, name, data, triples)

        monkeypatch.setattr(build_module._Writer, "write", write)
        with pytest.raises(BuildError):
            build(release_root, out, validate_first=False)
        for name, old in before.items():
            now = client.get(f"/dumps/{name}")
            assert now.status_code == 200, name
            assert now.data == old.data, name
            assert now.headers["ETag"] == old.headers["ETag"], name
    finally:
        close(app)
