"""Push the data to a SPARQL 1.1 server: ``bolyst load --to URL`` (issue 8).

One named graph per source file, as everywhere (:func:`bolyst.namespaces.graph_iri`). A graph
is replaced as a whole or not at all:

1. its triples, as N-Triples, go in batches to *temporary* graphs (``urn:x-bolyst:load:...``)
   with the Graph Store Protocol's ``PUT``, which replaces: a batch sent twice (a retry) is
   the batch once;
2. one SPARQL Update request then replaces the graph by the union of the temporary ones
   (``DROP SILENT GRAPH <g> ; ADD <t1> TO <g> ; ...``): Oxigraph runs an update request in one
   transaction, Virtuoso too, so readers see the old graph or the new one. Sent again after a
   lost answer it gives the same graph: idempotent;
3. the temporary graphs are dropped, and the graph's triples are counted on the server and
   compared with the file's.

Why not ``PUT`` straight into the graph? One PUT per graph cannot be batched (blank nodes and
a request of 100 MB), and its atomicity is the server's affair: measured, Oxigraph 0.5.13 and
Virtuoso 7.2 keep the old graph when a PUT body does not parse, and Oxigraph also when it breaks
off (``tests/backends/test_upload.py``), but Oxigraph's server code reads "clear the graph, then
load the body" (``cli/src/main.rs``), two steps. An update request is one transaction on both.

Batches keep blank nodes together: a blank node label means the same node only within one
request, so every triple that mentions a blank node goes into the batch of that node's
connected component. Network errors, timeouts, 429 and 5xx are retried with exponential
back-off; other 4xx answers stop the load at once (the server refuses the data or us).
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from bolyst.errors import LoadError, RemoteError
from bolyst.load import Sources, display_name
from bolyst.namespaces import GRAPH, graph_iri
from bolyst.store.httpclient import HttpClient, Unreachable

__all__ = ["Endpoints", "GraphResult", "UploadError", "endpoints_for", "upload"]

TEMP = "urn:x-bolyst:load:"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
Progress = Callable[[str], None]


class UploadError(RemoteError):
    """The load failed; the graphs not yet replaced keep their old content."""


@dataclass(frozen=True)
class Endpoints:
    """The URLs of one server: queries, updates and the Graph Store Protocol."""

    query: str
    update: str
    store: str
    kind: str


def endpoints_for(
    url: str, *, kind: str | None = None, update: str | None = None, store: str | None = None
) -> Endpoints:
    """Derive the update and graph-store URLs from a query URL.

    >>> endpoints_for("http://127.0.0.1:7878/query").store
    'http://127.0.0.1:7878/store'
    >>> endpoints_for("http://127.0.0.1:8890/sparql").store
    'http://127.0.0.1:8890/sparql-graph-crud'
    """
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if kind is None:
        kind = "oxigraph" if parts.path.rstrip("/").endswith("/query") else "virtuoso"
        if not parts.path.rstrip("/").endswith(("/query", "/sparql")):
            kind = "standard"
    if kind == "oxigraph":
        base = origin + parts.path.rstrip("/").removesuffix("/query")
        guess = (base + "/update", base + "/store")
    elif kind == "virtuoso":
        guess = (url, origin + "/sparql-graph-crud")
    else:
        guess = (url, url)
    return Endpoints(url, update or guess[0], store or guess[1], kind)


@dataclass
class GraphResult:
    path: Path
    graph: str
    triples: int
    batches: int
    seconds: float
    counted: int | None = None

    @property
    def ok(self) -> bool:
        return self.counted == self.triples


@dataclass
class _Batcher:
    """Group triples into batches of about ``size``, blank-node components kept whole."""

    size: int
    parent: dict[str, str] = field(default_factory=dict)

    def find(self, node: str) -> str:
        root = node
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def batches(self, triples: Sequence[ox.Triple]) -> list[list[ox.Triple]]:
        if len(triples) <= self.size:
            return [list(triples)]
        for t in triples:
            s = t.subject.value if isinstance(t.subject, ox.BlankNode) else None
            o = t.object.value if isinstance(t.object, ox.BlankNode) else None
            if s is not None and o is not None:
                self.union(s, o)
        units: dict[object, list[ox.Triple]] = {}
        for index, t in enumerate(triples):
            node = t.subject if isinstance(t.subject, ox.BlankNode) else t.object
            key: object = self.find(node.value) if isinstance(node, ox.BlankNode) else index
            units.setdefault(key, []).append(t)
        batches: list[list[ox.Triple]] = [[]]
        for unit in units.values():  # in order of first appearance
            if batches[-1] and len(batches[-1]) + len(unit) > self.size:
                batches.append([])
            batches[-1].extend(unit)
        return batches


def read_triples(path: Path, root: Path) -> list[ox.Triple]:
    """The distinct triples of one Turtle file.

    Raises:
        LoadError: it does not parse.
    """
    try:
        quads = ox.parse(
            path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri()
        )
        return list(dict.fromkeys(q.triple for q in quads))
    except SyntaxError as exc:
        raise LoadError(display_name(path, root), exc.lineno, exc.msg) from exc


class _Server:
    def __init__(
        self,
        endpoints: Endpoints,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.endpoints = endpoints
        self.client = HttpClient(endpoints.query, timeout=timeout, user_agent="bolyst-load")
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.requests = 0

    def call(
        self, method: str, url: str, body: bytes, content_type: str, accept: str = "*/*"
    ) -> bytes:
        """One idempotent request, retried with back-off on network errors and 429/5xx."""
        attempt = 0
        while True:
            self.requests += 1
            try:
                response = self.client.request(
                    method, url, body=body, headers={"Content-Type": content_type, "Accept": accept}
                )
                data = response.read()
                if 200 <= response.status < 300:
                    return data
                problem = f"HTTP {response.status}: {data.decode('utf-8', 'replace').strip()[:300]}"
                retry = response.status in RETRY_STATUS
            except (Unreachable, TimeoutError) as exc:
                problem, retry = f"{type(exc).__name__}: {exc}", True
            if not retry or attempt >= self.retries:
                tries = f" after {attempt + 1} tries" if retry else ""
                raise UploadError(f"{method} {url}: {problem}{tries}")
            self.sleep(self.backoff * 2**attempt)
            attempt += 1

    def put_graph(self, graph: str, ntriples: bytes) -> None:
        url = self.endpoints.store + "?" + urllib.parse.urlencode({"graph": graph})
        self.call("PUT", url, ntriples, "application/n-triples")

    def update(self, text: str) -> None:
        body = urllib.parse.urlencode({"update": text}).encode("utf-8")
        self.call("POST", self.endpoints.update, body, "application/x-www-form-urlencoded")

    def select(self, query: str) -> list[dict[str, str]]:
        import json

        body = urllib.parse.urlencode({"query": query}).encode("utf-8")
        data = self.call(
            "POST",
            self.endpoints.query,
            body,
            "application/x-www-form-urlencoded",
            accept="application/sparql-results+json",
        )
        rows = json.loads(data)["results"]["bindings"]
        return [{k: v["value"] for k, v in row.items()} for row in rows]

    def count(self, graph: str) -> int:
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"]) if rows else 0

    def graphs(self) -> list[str]:
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return [row["g"] for row in rows if "g" in row]


def upload(
    sources: Sources,
    endpoints: Endpoints,
    *,
    files: Iterable[Path] | None = None,
    batch_triples: int = 100_000,
    timeout: float = 300.0,
    retries: int = 4,
    backoff: float = 1.0,
    prune: bool = False,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[GraphResult]:
    """Replace each file's graph on the server with the file's triples; check the counts.

    Args:
        sources: the root's files; all of them (ontology, data, shapes) unless ``files``.
        endpoints: where to send (:func:`endpoints_for`).
        batch_triples: the most triples per request (blank-node components stay whole).
        timeout: seconds to wait for one answer.
        retries: how often to retry a request after a network error, 429 or 5xx.
        backoff: seconds before the first retry, doubled each time.
        prune: also drop graphs under our graph namespace that no file has any more.

    Raises:
        UploadError: a request kept failing or was refused; graphs not replaced yet keep their
            old content (the one being replaced included).
        LoadError: a file does not parse (nothing of it was sent).
    """
    server = _Server(endpoints, timeout=timeout, retries=retries, backoff=backoff, sleep=sleep)
    try:
        return _upload(
            sources, server, files, batch_triples, prune, progress or (lambda line: None)
        )
    finally:
        server.client.close()


def _upload(
    sources: Sources,
    server: _Server,
    files: Iterable[Path] | None,
    batch_triples: int,
    prune: bool,
    say: Progress,
) -> list[GraphResult]:
    chosen = (
        tuple(files) if files is not None else (*sources.ontology, *sources.data, *sources.shapes)
    )
    run = secrets.token_hex(4)
    stale = [g for g in server.graphs() if g.startswith(TEMP)]
    if stale:
        say(f"dropping {len(stale)} temporary graph(s) left by an earlier load")
        server.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in stale))
    results = []
    for number, path in enumerate(chosen, start=1):
        started = time.perf_counter()
        name = display_name(path, sources.root)
        graph = graph_iri(name)
        triples = read_triples(path, sources.root)
        batches = _Batcher(batch_triples).batches(triples)
        temps = [f"{TEMP}{run}:{number}:{i}" for i in range(len(batches))]
        for i, (temp, batch) in enumerate(zip(temps, batches, strict=True), start=1):
            body = ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES) or b""
            server.put_graph(temp, body)
            if len(batches) > 1:
                say(f"  {name}: batch {i}/{len(batches)} ({len(batch):,} triples)")
        replace = [f"DROP SILENT GRAPH <{graph}>"] + [
            f"ADD SILENT <{t}> TO <{graph}>" for t in temps
        ]
        server.update(" ;\n".join(replace))
        server.update(" ;\n".join(f"DROP SILENT GRAPH <{t}>" for t in temps))
        result = GraphResult(path, graph, len(triples), len(batches), 0.0, server.count(graph))
        result.seconds = time.perf_counter() - started
        results.append(result)
        check = "ok" if result.ok else f"MISMATCH: the server holds {result.counted:,}"
        say(
            f"[{number}/{len(chosen)}] {name} -> {graph.removeprefix(GRAPH)}: "
            f"{len(triples):,} triples in {len(batches)} batch(es), {result.seconds:.1f} s, "
            f"count {check}"
        )
    if prune:
        keep = {graph_iri(display_name(p, sources.root)) for p in chosen}
        gone = [g for g in server.graphs() if g.startswith(GRAPH) and g not in keep]
        if gone:
            server.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in gone))
            say(f"dropped {len(gone)} graph(s) no file has any more: {', '.join(gone)}")
    bad = [r for r in results if not r.ok]
    if bad:
        raise UploadError(
            "count check failed: "
            + "; ".join(
                f"{r.graph}: {r.triples:,} in the file, {r.counted} on the server" for r in bad
            )
        )
    return results
