"""Benchmark the stored queries: pyoxigraph vs rdflib in process, and the evaluator pool's cost.

A script, not a test: ``python tests/benchmarks/bench_queries.py [--root DIR] [--seconds S]``.

For each ``queries/*.rq`` (or, when there is none, a built-in mix of eight queries) it prints the
latency p50 / p95 in milliseconds of

- pyoxigraph in process: ``Store.query`` plus serializing the answer as SPARQL JSON;
- rdflib's SPARQL engine in process, on the same triples: ``Graph.query`` plus ``serialize``;
- the engine of the endpoint (:mod:`bolyst.store.pool`): policy check, a trip to an evaluator
  process and back, the same evaluation and serialization there;

and the pool's overhead (its p50 minus pyoxigraph's). Then: the pool's start-up time, how close
to the limit a runaway query is stopped, and queries per second through the pool at
concurrency 1 and 8. Every engine sees the default graph as the union of ontology/ and data/.
Parameters of stored queries are left unbound (the variable stays free) in all three.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from bolyst.errors import BolystError, QueryTimeout
from bolyst.load import find_sources, load_dataset, union
from bolyst.namespaces import graph_iri
from bolyst.store.local import open_memory_store
from bolyst.store.pool import EvaluatorPool, open_engine

JSON = "application/sparql-results+json"
REPO = Path(__file__).resolve().parents[2]
PREFIXES = """PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
# Used when queries/ holds no .rq file: lookups, joins, aggregates, a path, a regex, ASK, CONSTRUCT.
BUILT_IN = {
    "point-lookup": "SELECT ?p ?o { <https://w3id.org/bolyst/id/programme/intro-innherred> ?p ?o }",
    "programmes": "SELECT ?p ?label { ?p a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?label"
    ' FILTER(lang(?label) = "nb") } ORDER BY ?label',
    "memberships": "SELECT ?m ?org ?prog { ?m a org:Membership ; org:member ?org ;"
    " org:organization ?prog }",
    "count-by-class": "SELECT ?class (COUNT(?s) AS ?n) { ?s a ?class } GROUP BY ?class"
    " ORDER BY DESC(?n)",
    "concept-paths": "SELECT ?c ?top { ?c skos:broader+ ?top }",
    "regex-labels": 'SELECT ?s ?l { ?s skos:prefLabel ?l FILTER(regex(str(?l), "trainee", "i")) }',
    "ask": "ASK { ?s a bolyst:RegionalTraineeProgramme }",
    "construct-labels": "CONSTRUCT { ?s rdfs:label ?l } WHERE { ?s skos:prefLabel ?l }",
}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure(run: Callable[[], object], seconds: float, at_least: int = 5) -> list[float]:
    """Call ``run`` twice to warm up, then repeatedly for ``seconds`` (at least ``at_least``)."""
    run()
    run()
    samples: list[float] = []
    budget = time.perf_counter() + seconds
    while len(samples) < at_least or time.perf_counter() < budget:
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
        if len(samples) >= 2000:
            break
    return samples


def load_queries(root: Path) -> dict[str, str]:
    files = sorted((root / "queries").glob("*.rq"))
    if files:
        return {path.stem: path.read_text(encoding="utf-8") for path in files}
    return {name: PREFIXES + text for name, text in BUILT_IN.items()}


def throughput(pool: EvaluatorPool, queries: list[str], clients: int, seconds: float) -> float:
    """Queries per second through the pool with ``clients`` threads cycling over ``queries``."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(number: int) -> None:
        index = number
        while time.perf_counter() < stop:
            pool.run(queries[index % len(queries)], media_type=JSON)
            done[number] += 1
            index += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_throughput(port: int, queries: list[str], clients: int, seconds: float) -> float:
    """Requests per second to /sparql (GET, JSON), keep-alive, ``clients`` threads."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.perf_counter() + seconds
    paths = ["/sparql?" + urllib.parse.urlencode({"query": q}) for q in queries]

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        index = number
        while time.perf_counter() < stop:
            conn.request("GET", paths[index % len(paths)], headers={"Accept": JSON})
            response = conn.getresponse()
            response.read()
            done[number] += 1
            errors[number] += response.status != 200
            index += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sum(errors):
        print(f"  ({sum(errors)} answers were not 200)")
    return sum(done) / (time.perf_counter() - started)


def serve(root: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start the production server (``bolyst serve``: granian) and wait until it answers."""
    command = [sys.executable, "-m", "bolyst", "serve", "--root", str(root), "--port", str(port)]
    command += ["--workers", str(workers), "--skip-validation"]
    # All benchmark clients share one loopback address; lift the per-client limit (issue 9's
    # fairness) so that they count as the distinct clients they stand for.
    env = {**os.environ, "BOLYST_CLIENT_QUERIES": "64"}
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("bolyst serve did not answer /healthz within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="repository root [checkout]")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per query and engine")
    parser.add_argument("--evaluators", type=int, default=2, help="evaluator processes")
    parser.add_argument("--workers", type=int, default=2, help="HTTP worker processes")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # rdflib warns about some literals in the data

    sources = find_sources(args.root)
    union_files = (*sources.ontology, *sources.data)
    store, stats = open_memory_store((*union_files, *sources.shapes), sources.root)
    default = [ox.NamedNode(graph_iri(p.relative_to(sources.root).as_posix())) for p in union_files]
    graph = union(load_dataset(union_files, sources.root))
    started = time.perf_counter()
    pool = open_engine(sources, {"EVALUATORS": args.evaluators, "QUERY_TIMEOUT": 30})
    startup = time.perf_counter() - started
    queries = load_queries(args.root)
    print(f"{stats.triples} triples in {stats.files} files; {len(queries)} queries; ", end="")
    print(f"{args.seconds:g} s per query and engine; latency in ms (query + JSON serialization)")

    def oxigraph(text: str) -> Callable[[], object]:
        def run() -> object:
            result = store.query(text, default_graph=default)  # type: ignore[arg-type]
            if isinstance(result, ox.QueryTriples):
                return ox.serialize(list(result), format=ox.RdfFormat.TURTLE)
            return result.serialize(format=ox.QueryResultsFormat.JSON)

        return run

    def rdflib(text: str) -> Callable[[], object]:
        return lambda: graph.query(text).serialize(format="json")

    def pooled(text: str, media_type: str) -> Callable[[], object]:
        return lambda: pool.run(text, media_type=media_type)

    header = (
        f"{'query':34} {'rows':>5} | {'pyoxigraph':>13} | {'rdflib':>15} | {'x':>5} | "
        f"{'pool':>13} | {'overhead':>8}"
    )
    print(header)
    print(
        f"{'':34} {'':>5} | {'p50':>6} {'p95':>6} | {'p50':>7} {'p95':>7} | {'':>5} | "
        f"{'p50':>6} {'p95':>6} | {'p50':>8}"
    )
    print("-" * len(header))
    summary: dict[str, list[float]] = {"ox": [], "rdflib": [], "pool": [], "overhead": []}
    for name, text in queries.items():
        form = "graph" if "CONSTRUCT" in text.upper() or "DESCRIBE" in text.upper() else "rows"
        media_type = "text/turtle" if form == "graph" else JSON
        try:
            answer = pool.run(text, media_type=media_type)
        except BolystError as exc:
            print(f"{name:34} pool refused it: {exc}")
            continue
        ox50, ox95 = percentiles(measure(oxigraph(text), args.seconds))
        pool50, pool95 = percentiles(measure(pooled(text, media_type), args.seconds))
        try:
            rd50, rd95 = percentiles(measure(rdflib(text), args.seconds, at_least=3))
            rd = f"{rd50:7.2f} {rd95:7.2f} | {rd50 / ox50:5.0f}"
            summary["rdflib"].append(rd50)
        except Exception as exc:  # rdflib lacks some SPARQL 1.1 corners
            rd = f"{'failed: ' + type(exc).__name__:>15} | {'':>5}"
        rows = "-" if answer.rows is None else str(answer.rows)
        print(
            f"{name[:34]:34} {rows:>5} | {ox50:6.2f} {ox95:6.2f} | {rd} | "
            f"{pool50:6.2f} {pool95:6.2f} | {pool50 - ox50:8.2f}"
        )
        summary["ox"].append(ox50)
        summary["pool"].append(pool50)
        summary["overhead"].append(pool50 - ox50)
    print("-" * len(header))
    med = {key: statistics.median(values) for key, values in summary.items() if values}
    print(
        f"median over queries: pyoxigraph p50 {med['ox']:.2f} ms, rdflib p50 "
        f"{med.get('rdflib', float('nan')):.2f} ms, pool p50 {med['pool']:.2f} ms, "
        f"pool overhead {med['overhead']:.2f} ms"
    )
    print(
        f"pool start-up: {args.evaluators} evaluators in {startup:.2f} s (evaluators alone "
        f"{pool.stats.seconds:.2f} s; network isolated: {pool.stats.isolated})"
    )

    cross = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    for limit in (1.0, 2.0):
        started = time.perf_counter()
        try:
            pool.run(cross, media_type=JSON, timeout=limit)
            outcome = "answered (not a runaway on this data)"
        except QueryTimeout:
            outcome = "stopped (503)"
        took = time.perf_counter() - started
        print(f"runaway with a {limit:g} s limit: {outcome} after {took:.3f} s")
    time.sleep(0.5)  # let the killed evaluator's replacement start
    texts = [
        t for t in queries.values() if "CONSTRUCT" not in t.upper() and "DESCRIBE" not in t.upper()
    ]
    for clients in (1, 8):
        rate = throughput(pool, texts, clients, max(2.0, args.seconds * 2))
        print(f"throughput through the pool, {clients} client(s): {rate:.0f} queries/s")
    pool.close()

    port = free_port()
    server = serve(args.root, port, args.workers)
    try:
        for clients in (1, 8):
            rate = http_throughput(port, texts, clients, max(3.0, args.seconds * 3))
            print(
                f"HTTP through bolyst serve (granian, {args.workers} workers), {clients} "
                f"client(s), GET /sparql JSON over the stored queries: {rate:.0f} requests/s"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
