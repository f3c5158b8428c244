"""``bolyst load --to``: graphs replaced whole or not at all, in batches, with a count check."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bolyst.cli import main
from bolyst.load import find_sources
from bolyst.namespaces import GRAPH
from bolyst.store import upload as upload_module
from bolyst.store.httpclient import Unreachable
from bolyst.store.upload import TEMP, UploadError, _Batcher, _Server, endpoints_for, upload
from bolyst.testservers import Server

from .conftest import _server

pytestmark = pytest.mark.server

EX = "https://example.org/upload-test#"
GRAPH_A = GRAPH + "data/upload-test-a"


def data(count: int) -> str:
    """``count`` subjects, each with a blank node (a period) hanging off it."""
    lines = [f"PREFIX ex: <{EX}>"]
    for i in range(count):
        lines.append(
            f'ex:s{i} ex:label "thing {i}"@nb ; '
            f"ex:during [ ex:start {1990 + i} ; ex:end {2000 + i} ] ."
        )
    return "\n".join(lines) + "\n"


def make_root(folder: Path, count: int) -> Path:
    (folder / "ontology").mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "ontology" / "upload-test.ttl").write_text(
        f"<{EX}label> a <http://www.w3.org/2002/07/owl#DatatypeProperty> .\n", encoding="utf-8"
    )
    (folder / "data" / "upload-test-a.ttl").write_text(data(count), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A fresh server per kind: these tests write, drop and prune graphs."""
    started = _server(request.param, tmp_path_factory.mktemp(f"upload-{request.param}") / "db")
    yield started
    started.stop()


def select(server: Server, query: str) -> list[dict[str, str]]:
    body = urllib.parse.urlencode({"query": query}).encode()
    request = urllib.request.Request(
        server.query_url, data=body, headers={"Accept": "application/sparql-results+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        bindings = json.loads(answer.read())["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in bindings]


def count(server: Server, graph: str) -> int:
    return int(
        select(server, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")[0][
            "n"
        ]
    )


def periods(server: Server, graph: str) -> int:
    """Subjects whose blank-node period still has both ends: the blank nodes survived."""
    query = f"""SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH <{graph}> {{
        ?s <{EX}during> ?b . ?b <{EX}start> ?x ; <{EX}end> ?y }} }}"""
    return int(select(server, query)[0]["n"])


def temporary_graphs(server: Server) -> list[str]:
    rows = select(server, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    return [r["g"] for r in rows if r["g"].startswith(TEMP)]


def test_load_in_batches_keeps_blank_nodes_and_is_idempotent(
    server: Server, tmp_path: Path
) -> None:
    root = make_root(tmp_path, 30)
    endpoints = endpoints_for(server.query_url, kind=server.kind)
    lines: list[str] = []
    first = upload(find_sources(root), endpoints, batch_triples=10, progress=lines.append)
    assert [r.ok for r in first] == [True, True]
    assert first[1].batches > 1 and any("batch 2/" in line for line in lines)
    assert count(server, GRAPH_A) == 30 * 4 and periods(server, GRAPH_A) == 30
    again = upload(find_sources(root), endpoints, batch_triples=10)
    assert [(r.triples, r.counted) for r in again] == [(r.triples, r.counted) for r in first]
    assert count(server, GRAPH_A) == 120 and periods(server, GRAPH_A) == 30
    assert temporary_graphs(server) == []


def test_failed_load_leaves_the_old_graph(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(tmp_path, 10)
    endpoints = endpoints_for(server.query_url, kind=server.kind)
    upload(find_sources(root), endpoints)
    assert count(server, GRAPH_A) == 40
    make_root(tmp_path, 40)  # the new version, loaded in 4+ batches; the 3rd request dies
    real = _Server.put_graph
    calls = {"n": 0}

    def flaky(self: _Server, graph: str, body: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise UploadError("PUT: Unreachable: connection reset (injected)")
        real(self, graph, body)

    monkeypatch.setattr(_Server, "put_graph", flaky)
    files = [root / "data" / "upload-test-a.ttl"]
    with pytest.raises(UploadError, match="injected"):
        upload(find_sources(root), endpoints, files=files, batch_triples=50)
    assert count(server, GRAPH_A) == 40 and periods(server, GRAPH_A) == 10  # the old graph
    monkeypatch.setattr(_Server, "put_graph", real)
    upload(find_sources(root), endpoints, files=files, batch_triples=50)
    assert count(server, GRAPH_A) == 160 and periods(server, GRAPH_A) == 40
    assert temporary_graphs(server) == []  # the leftovers of the failed load were dropped


def test_a_broken_put_keeps_the_old_graph(server: Server) -> None:
    """Measured on Oxigraph 0.5.13 and Virtuoso 7.2: a PUT whose body does not parse leaves the
    graph as it was (so does a body that breaks off, on Oxigraph). The loader does not rely on
    it (Oxigraph's code clears, then loads): it swaps whole graphs in one update request."""
    graph = GRAPH + "data/upload-test-put"
    url = server.store_url + "?" + urllib.parse.urlencode({"graph": graph})

    def put(body: str) -> int:
        request = urllib.request.Request(
            url, data=body.encode(), method="PUT", headers={"Content-Type": "application/n-triples"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert put(f'<{EX}a> <{EX}b> "1" .\n<{EX}a> <{EX}c> "2" .\n') in (200, 201, 204)
    assert count(server, graph) == 2
    assert put(f'<{EX}a> <{EX}b> "3" .\n<{EX}a> <{EX}c> .\n') >= 400  # breaks off on line 2
    assert count(server, graph) == 2


def test_prune_drops_graphs_no_file_has(server: Server, tmp_path: Path) -> None:
    root = make_root(tmp_path, 3)
    endpoints = endpoints_for(server.query_url, kind=server.kind)
    (root / "data" / "upload-test-old.ttl").write_text(data(2), encoding="utf-8")
    upload(find_sources(root), endpoints)
    assert count(server, GRAPH + "data/upload-test-old") == 8
    (root / "data" / "upload-test-old.ttl").unlink()
    upload(find_sources(root), endpoints, prune=True)
    assert count(server, GRAPH + "data/upload-test-old") == 0
    assert count(server, GRAPH_A) == 12


def test_cli_load_and_serve_from_the_server(server: Server, tmp_path: Path) -> None:
    root = make_root(tmp_path, 4)
    result = CliRunner().invoke(
        main, ["load", "--root", str(root), "--to", server.query_url, "--skip-validation"]
    )
    assert result.exit_code == 0, result.output
    assert "count ok" in result.output and "loaded 17 triples in 2 graphs" in result.output
    from bolyst import create_app

    app = create_app({"ROOT": str(root), "STORE": server.query_url, "TESTING": True})
    try:
        answer = app.test_client().get(
            "/sparql",
            query_string={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}label> ?o }}"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert json.loads(answer.data)["results"]["bindings"][0]["n"]["value"] == "4"
    finally:
        app.extensions["bolyst"]["engine"].close()


# --- without a server -------------------------------------------------------------------------


class _FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    def read(self) -> bytes:
        return b"busy"


class _FakeClient:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers

    def request(self, *args: Any, **kwargs: Any) -> _FakeResponse:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return _FakeResponse(answer)

    def close(self) -> None:
        pass


def test_retries_with_exponential_back_off() -> None:
    waits: list[float] = []
    server = _Server(
        endpoints_for("http://127.0.0.1:9/query"),
        timeout=1,
        retries=3,
        backoff=0.5,
        sleep=waits.append,
    )
    server.client = _FakeClient([503, Unreachable("refused"), 429, 204])  # type: ignore[assignment]
    server.put_graph("urn:g", b"")
    assert waits == [0.5, 1.0, 2.0]
    server.client = _FakeClient([503] * 5)  # type: ignore[assignment]
    with pytest.raises(UploadError, match="after 4 tries"):
        server.put_graph("urn:g", b"")
    server.client = _FakeClient([403])  # type: ignore[assignment]
    with pytest.raises(UploadError, match="HTTP 403"):  # refused: no retry
        server.put_graph("urn:g", b"")


def test_batches_never_split_a_blank_node_component() -> None:
    import pyoxigraph as ox

    triples = [q.triple for q in ox.parse(data(12).encode(), format=ox.RdfFormat.TURTLE)]
    batches = _Batcher(7).batches(triples)
    assert sum(map(len, batches)) == len(triples) and len(batches) > 3
    for batch in batches:
        blanks_as_subject = {t.subject for t in batch if isinstance(t.subject, ox.BlankNode)}
        blanks_as_object = {t.object for t in batch if isinstance(t.object, ox.BlankNode)}
        assert blanks_as_subject == blanks_as_object


def test_load_to_a_folder_builds_the_disk_store(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", 3)
    target = tmp_path / "store"
    result = CliRunner().invoke(
        main, ["load", "--root", str(root), "--to", str(target), "--skip-validation"]
    )
    assert result.exit_code == 0, result.output
    from bolyst.store.disk import open_disk_store, read_note

    note = read_note(target)
    assert note is not None and note["triples"] == 13
    store, stats = open_disk_store(target, find_sources(root))
    assert stats.triples == 13 and len(store) == 13
    assert upload_module.TEMP.startswith("urn:")
