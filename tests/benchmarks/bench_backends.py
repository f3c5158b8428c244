"""Benchmark the stores side by side on the same synthetic data and machine (issue 8).

A script, not a test (``make bench``)::

    python tests/benchmarks/bench_backends.py --sizes 10000,100000 [--out DIR]

For each size it writes a synthetic root (``bolyst synth``), then starts each system in turn on a
loopback port, measures it, and stops it:

- ``bolyst``: ``bolyst serve`` (granian, 2 workers, the evaluator pool: every protocol and
  safety feature on), embedded store in memory, as shipped (with its result cache);
- ``bolyst-nocache``: the same with ``RESULT_CACHE_MB=0``: every request evaluated;
- ``bolyst-rdflib``: the same app with rdflib's engine in the worker (``rdflib_app.py``);
- ``bolyst-oxigraph``, ``bolyst-virtuoso``: ``bolyst serve --store URL`` over the servers below,
  loaded with ``bolyst load --to URL``;
- ``oxigraph``: the Oxigraph server itself (Rust), asked the same queries with the same dataset
  (``default-graph-uri`` = the union of the ontology and data graphs, as bolyst's);
- ``virtuoso``: the Virtuoso server itself, with the same dataset parameters;
- ``rdflib-endpoint``: the nearest Python peer (FastAPI + rdflib, uvicorn, one process).

Measured: ready time (from start until the first answer), load time (bolyst embedded: parsing
the files, as it reports it; the servers: their own bulk load plus start) and peak memory while
starting (PSS and RSS of the whole process tree, sampled every 100 ms, bolyst and its server
together where there are two; PSS counts the pages that forks share once, RSS once per
process); latency p50/p95 of each query, cold (its first request
after start; the text is new to every cache) and warm (the same request repeated); HTTP
requests per second at concurrency 1, 8 and 32 with ``wrk`` over keep-alive connections, warm
(one URL) and cold (every request a new text: a random comment is appended). Ratios: bolyst
over the Oxigraph server and over rdflib-endpoint, per query, with their geometric mean.
Writes ``bench.json``, ``bench.md`` and ``bench.png`` to ``--out``.

Bounded: every wait has a deadline, every request a timeout, each wrk run its duration; all
traffic stays on 127.0.0.1; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SRJ = "application/sparql-results+json"
NO_CACHE = {"RESULT_CACHE_MB": "0"}
LOADED = re.compile(r"loaded \d+ triples from \d+ files in ([\d.]+) s")

sys.path.insert(0, str(REPO / "server"))
from bolyst.load import display_name, find_sources  # noqa: E402
from bolyst.namespaces import graph_iri  # noqa: E402
from bolyst.queries import list_stored_queries  # noqa: E402
from bolyst.synthetic import generate  # noqa: E402
from bolyst.testservers import (  # noqa: E402
    Server,
    free_port,
    oxigraph_binary,
    start_oxigraph,
    start_virtuoso,
    virtuoso_available,
)

PREFIXES = """PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX sosa: <http://www.w3.org/ns/sosa/>
"""
# The throughput mix: lookups, a join, aggregates, a filter, two stored queries.
MIX = (
    "lookup-programme",
    "lookup-organisation",
    "join-members",
    "agg-members-per-role",
    "agg-observations",
    "filter-regex",
    "stored:programmes",
    "stored:members-and-roles",
)


def extra_queries(programme: str, organisation: str) -> dict[str, str]:
    return {
        "lookup-programme": f"SELECT ?p ?o WHERE {{ <{programme}> ?p ?o }}",
        "lookup-organisation": f"SELECT ?p ?o WHERE {{ <{organisation}> ?p ?o }}",
        "lookup-incoming": f"SELECT ?s ?p WHERE {{ ?s ?p <{organisation}> }} LIMIT 100",
        "join-members": PREFIXES
        + f"""SELECT ?m ?org ?name WHERE {{ ?m org:organization <{programme}> ; org:member ?org .
  ?org skos:prefLabel ?name FILTER(lang(?name) = "nb") }}""",
        "agg-count-by-class": "SELECT ?c (COUNT(*) AS ?n) WHERE { ?s a ?c } GROUP BY ?c"
        " ORDER BY DESC(?n)",
        "agg-members-per-role": PREFIXES
        + "SELECT ?role (COUNT(?m) AS ?n) WHERE { ?m a org:Membership ; org:role ?role }"
        " GROUP BY ?role",
        "agg-observations": PREFIXES
        + """SELECT ?prop (COUNT(*) AS ?n) (AVG(?v) AS ?mean) WHERE {
  ?o sosa:observedProperty ?prop ; sosa:hasSimpleResult ?v FILTER(isNumeric(?v))
} GROUP BY ?prop""",
        "filter-regex": PREFIXES
        + 'SELECT ?s ?l WHERE { ?s skos:prefLabel ?l FILTER(regex(str(?l), "fjord", "i")) }'
        " LIMIT 100",
    }


# --- processes and memory ---------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_memory(pids: Sequence[int]) -> tuple[int, int]:
    """Bytes of memory of ``pids`` and all their descendants: (RSS, PSS).

    RSS counts a page once per process that maps it, so a tree of forks that share their data
    copy-on-write (bolyst's workers, zygote and evaluators) adds the same pages up many times;
    PSS splits each shared page between its sharers: what the tree really takes.
    """
    tree = _children()
    todo, seen, rss, pss = list(pids), set(), 0, 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(tree.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as rollup:
                for line in rollup:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


class PeakMemory:
    """Sample the memory of a process tree every 100 ms in a thread; keep the peaks."""

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self.pids = pids
        self.rss = 0
        self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rss, pss = tree_memory(self.pids())
        self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.1)

    def stop(self) -> tuple[int, int]:
        """Stop sampling; the peaks (RSS, PSS) in bytes."""
        self._stop.set()
        self._thread.join(5)
        self._sample()
        return self.rss, self.pss


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_answer(url: str, deadline: float, process: subprocess.Popen[bytes] | None = None) -> None:
    probe = url + ("&" if "?" in url else "?") + urllib.parse.urlencode({"query": "ASK {}"})
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with status {process.returncode}")
        try:
            status, _ = request(probe, timeout=5)
            if status == 200:
                return
            if status == 404:
                raise RuntimeError(f"{url} is not a SPARQL endpoint (404)")
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no answer from {url} in time")


_local = threading.local()


def request(url: str, *, timeout: float = 60) -> tuple[int, bytes]:
    """GET ``url`` over this thread's keep-alive connection."""
    parts = urllib.parse.urlsplit(url)
    key = parts.netloc
    conns: dict[str, http.client.HTTPConnection] = getattr(_local, "conns", {})
    _local.conns = conns
    conn = conns.get(key)
    if conn is None:
        conn = conns[key] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + "?" + parts.query, headers={"Accept": SRJ})
        answer = conn.getresponse()
        return answer.status, answer.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        conns.pop(key, None)
        raise


# --- the systems ----------------------------------------------------------------------------


@dataclass
class System:
    """A running system: ``url(query)`` gives the GET URL of a query."""

    name: str
    base: str
    dataset: str = ""  # extra URL parameters (the servers asked directly)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    load_seconds: float = 0.0
    peak_rss: int = 0

    def url(self, query: str) -> str:
        return f"{self.base}?{urllib.parse.urlencode({'query': query})}{self.dataset}"

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes] + [s.pid for s in self.servers]

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)
        for server in self.servers:
            server.stop()


def bolyst_env(root: Path, **settings: str) -> dict[str, str]:
    env = {**os.environ, "BOLYST_ROOT": str(root), "BOLYST_DUMPS_DIR": str(root / "dist")}
    # wrk is one client (address) standing for many: lift the per-client share of the pool,
    # which would otherwise refuse (503) all but one of its concurrent queries per worker.
    env["BOLYST_CLIENT_QUERIES"] = "64"
    env.update({f"BOLYST_{k}": v for k, v in settings.items()})
    return env


def start_bolyst(
    name: str,
    root: Path,
    log: Path,
    store: str = "",
    deadline: float = 600,
    settings: dict[str, str] | None = None,
) -> System:
    port = free_port()
    command = [str(BIN / "bolyst"), "serve", "--root", str(root), "--skip-validation"]
    command += ["--port", str(port), "--workers", "2"]
    if store:
        command += ["--store", store]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            env=bolyst_env(root, **(settings or {})),
            start_new_session=True,
        )
    system = System(name, f"http://127.0.0.1:{port}/sparql", processes=[process])
    try:
        wait_answer(system.base, time.monotonic() + deadline, process)
    except BaseException:
        system.stop()  # started here, stopped here, also when it never answered
        raise
    if not store:  # the embedded store: how long parsing the files took, as bolyst says
        found = LOADED.findall(log.read_text(encoding="utf-8", errors="replace"))
        system.load_seconds = float(found[-1]) if found else 0.0
    return system


def start_rdflib_app(root: Path, log: Path, deadline: float = 900) -> System:
    port = free_port()
    env = bolyst_env(root, EVALUATORS="1")
    env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    command = [str(BIN / "granian"), "--interface", "wsgi", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(port), "rdflib_app:app"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=HERE,
            start_new_session=True,
        )
    system = System("bolyst-rdflib", f"http://127.0.0.1:{port}/sparql", processes=[process])
    try:
        wait_answer(system.base, time.monotonic() + deadline, process)
    except BaseException:
        system.stop()  # started here, stopped here, also when it never answered
        raise
    return system


def start_rdflib_endpoint(root: Path, log: Path, deadline: float = 900) -> System:
    port = free_port()
    sources = find_sources(root)
    files = [str(p) for p in (*sources.ontology, *sources.data)]
    command = [str(BIN / "rdflib-endpoint"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command + files,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    # Its query path is "/" (0.6.3; its --help still says /sparql).
    system = System("rdflib-endpoint", f"http://127.0.0.1:{port}/", processes=[process])
    try:
        wait_answer(system.base, time.monotonic() + deadline, process)
    except BaseException:
        system.stop()  # started here, stopped here, also when it never answered
        raise
    return system


def dataset_params(root: Path) -> str:
    """The union default graph as protocol parameters (what bolyst's adapter sends)."""
    sources = find_sources(root)
    union = [graph_iri(display_name(p, sources.root)) for p in (*sources.ontology, *sources.data)]
    return "&" + urllib.parse.urlencode([("default-graph-uri", g) for g in union])


def load_oxigraph_natively(root: Path, directory: Path) -> None:
    """``oxigraph load`` of the ontology and data into the default graph: the Oxigraph server
    at its best (no dataset to name in each query), with the same default graph as bolyst's."""
    binary = oxigraph_binary()
    assert binary is not None
    sources = find_sources(root)
    files = [str(p) for p in (*sources.ontology, *sources.data)]
    subprocess.run(
        [binary, "load", "--location", str(directory), "--format", "ttl", "--file", *files],
        check=True,
        capture_output=True,
        timeout=900,
    )


def bolyst_load(root: Path, server: Server, log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(
            [
                str(BIN / "bolyst"),
                "load",
                "--root",
                str(root),
                "--to",
                server.query_url,
                "--skip-validation",
                "--kind",
                server.kind,
            ],
            check=True,
            stdout=out,
            stderr=out,
            timeout=1800,
        )


# --- measurements -----------------------------------------------------------------------------


@dataclass
class Latency:
    cold_ms: float
    warm_p50_ms: float
    warm_p95_ms: float
    status: int
    bytes: int


def measure_latency(
    system: System, queries: dict[str, str], repeats: int, budget: float
) -> dict[str, Latency]:
    results = {}
    for name, query in queries.items():
        url = system.url(query)
        started = time.perf_counter()
        try:
            status, body = request(url, timeout=120)
        except OSError:
            status, body = 599, b""
        cold = (time.perf_counter() - started) * 1000
        samples = []
        spent = time.perf_counter()
        for _ in range(repeats):
            if time.perf_counter() - spent > budget:
                break
            t = time.perf_counter()
            try:
                status, body = request(url, timeout=120)
            except OSError:
                status = 599
            samples.append((time.perf_counter() - t) * 1000)
        samples = samples or [cold]
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        results[name] = Latency(
            round(cold, 2), round(statistics.median(ordered), 2), round(p95, 2), status, len(body)
        )
    return results


_WRK_COLD = """
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  return wrk.format(nil, wrk.path .. "%0A%23" .. math.random(1, 1000000000))
end
"""


def wrk_rps(
    url: str, concurrency: int, seconds: float, cold: bool, scripts: Path
) -> dict[str, float]:
    """Requests/s of ``wrk`` on one URL; cold appends a random comment to the query each time."""
    parts = urllib.parse.urlsplit(url)
    if cold:  # put the query parameter last so the comment lands in it
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        pairs.sort(key=lambda kv: kv[0] == "query")
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(pairs)))
    threads = 1 if concurrency == 1 else 2
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"]
    command += ["--timeout", "10s"]
    command += ["-H", f"Accept: {SRJ}"]
    if cold:
        script = scripts / "cold.lua"
        script.write_text(_WRK_COLD, encoding="utf-8")
        command += ["-s", str(script)]
    done = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    requests = float(total.group(1)) if total else 0.0
    elapsed = (
        float(total.group(2)) / (1000 if total and total.group(3) == "ms" else 1) if total else 0
    )
    refused = float(non2xx.group(1)) if non2xx else 0.0
    failed = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    # Only answers count: a 503 (overload) or a timeout is not a request served.
    ok = max(0.0, requests - refused - failed)
    return {
        "rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "wrk_rps": float(rps.group(1)) if rps else 0.0,
        "requests": requests,
        "non2xx": refused,
        "errors": failed,
    }


def geomean(values: Sequence[float], floor: float | None = None) -> float | None:
    """Geometric mean; with ``floor``, a query that got no answer at all (0 requests/s: all
    timeouts or 503s) counts as ``floor`` instead of being left out, which would flatter."""
    values = [max(v, floor) for v in values] if floor is not None else [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


# --- one size ---------------------------------------------------------------------------------


def first_iri(root: Path, prefix: str, namespace: str) -> str:
    for path in sorted((root / "data").glob("synthetic-programmes-*.ttl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith(prefix + ":"):
                    return namespace + line.split()[0].split(":", 1)[1]
    raise RuntimeError(f"no {prefix}: subject in {root}")


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bolyst-bench-{size}-"))
    root = work / "root"
    synth = generate(root, size, seed=1, source_root=REPO)
    print(f"\n== {synth.triples:,} triples ({synth.programmes} programmes) in {root}", flush=True)
    # The servers' output (an access-log line per request: tens of MB) beside, not in, the report.
    log = Path(tempfile.gettempdir()) / f"bolyst-bench-{size}.log"
    print(f"   servers' output: {log}", flush=True)
    id_base = "https://w3id.org/bolyst/id/"
    queries = extra_queries(
        first_iri(root, "prog", id_base + "programme/"),
        first_iri(root, "orgn", id_base + "organisation/"),
    )
    for stored in list_stored_queries(REPO / "queries"):
        queries["stored:" + stored.name] = stored.text
    mix = {name: queries[name] for name in MIX}
    dataset = dataset_params(root)
    results: dict[str, Any] = {"triples": synth.triples, "systems": {}}

    def make_bolyst() -> System:
        return start_bolyst("bolyst", root, log)

    def make_oxigraph() -> System:
        directory = work / "oxigraph-direct"
        t = time.perf_counter()
        load_oxigraph_natively(root, directory)
        server = start_oxigraph(directory)
        return System(
            "oxigraph", server.query_url, servers=[server], load_seconds=time.perf_counter() - t
        )

    def make_bolyst_remote(kind: str) -> Callable[[], System]:
        def make() -> System:
            t = time.perf_counter()
            server = (
                start_oxigraph(work / f"{kind}-remote")
                if kind == "oxigraph"
                else start_virtuoso(work / f"{kind}-remote", buffers=args.virtuoso_buffers)
            )
            try:
                bolyst_load(root, server, log)
                system = start_bolyst(f"bolyst-{kind}", root, log, store=server.query_url)
            except BaseException:
                server.stop()
                raise
            system.servers.append(server)
            system.load_seconds = time.perf_counter() - t
            return system

        return make

    def make_virtuoso() -> System:
        t = time.perf_counter()
        server = start_virtuoso(work / "virtuoso-direct", buffers=args.virtuoso_buffers)
        try:
            bolyst_load(root, server, log)
        except BaseException:
            server.stop()
            raise
        return System(
            "virtuoso",
            server.query_url,
            dataset=dataset,
            servers=[server],
            load_seconds=time.perf_counter() - t,
        )

    wanted = set(args.systems.split(",")) if args.systems else None
    plans = [
        ("bolyst", make_bolyst),
        # The engine path alone: every request evaluated, as a cache would not help.
        ("bolyst-nocache", lambda: start_bolyst("bolyst-nocache", root, log, settings=NO_CACHE)),
        ("oxigraph", make_oxigraph),
        ("rdflib-endpoint", lambda: start_rdflib_endpoint(root, log)),
        ("bolyst-rdflib", lambda: start_rdflib_app(root, log)),
        ("bolyst-oxigraph", make_bolyst_remote("oxigraph")),
        ("bolyst-virtuoso", make_bolyst_remote("virtuoso")),
        ("virtuoso", make_virtuoso),
    ]
    for name, make in plans:
        if wanted is not None and name not in wanted:
            continue
        if "rdflib" in name and size > args.rdflib_max:
            print(
                f"-- {name}: skipped above {args.rdflib_max:,} triples (rdflib is too slow there)"
            )
            continue
        if "virtuoso" in name and not virtuoso_available():
            print(f"-- {name}: skipped, Virtuoso is not installed")
            continue
        print(f"-- {name}", flush=True)
        t0 = time.perf_counter()
        holder: dict[str, System] = {}
        sampler = PeakMemory(lambda holder=holder: _pids_of(holder))  # type: ignore[misc]
        try:
            system = _start_tracked(make, holder)
        except Exception as exc:  # a system that does not start is reported, not fatal
            sampler.stop()
            print(f"   did not start: {exc}")
            results["systems"][name] = {"error": str(exc)}
            continue
        ready = time.perf_counter() - t0
        try:
            entry: dict[str, Any] = {"ready_seconds": round(ready, 2)}
            if system.load_seconds:
                entry["load_seconds"] = round(system.load_seconds, 2)
            time.sleep(0.5)
            peak_rss, peak_pss = sampler.stop()
            entry["peak_rss_mb"] = round(peak_rss / 2**20, 1)
            entry["peak_pss_mb"] = round(peak_pss / 2**20, 1)
            latency = measure_latency(system, queries, args.repeats, args.latency_budget)
            entry["latency"] = {k: asdict(v) for k, v in latency.items()}
            rss_after, pss_after = tree_memory(system.pids())
            entry["rss_after_mb"] = round(rss_after / 2**20, 1)
            entry["pss_after_mb"] = round(pss_after / 2**20, 1)
            throughput: dict[str, Any] = {}
            for query_name, query in mix.items():
                runs = {}
                for concurrency in args.concurrency:
                    runs[f"warm-{concurrency}"] = wrk_rps(
                        system.url(query), concurrency, args.duration, False, work
                    )
                runs[f"cold-{args.cold_concurrency}"] = wrk_rps(
                    system.url(query), args.cold_concurrency, args.duration, True, work
                )
                throughput[query_name] = runs
                summary = " ".join(f"{k}={v['rps']:.0f}" for k, v in runs.items())
                print(f"   {query_name}: {summary}", flush=True)
            entry["throughput"] = throughput
            results["systems"][name] = entry
            p50 = statistics.median(latency[q].warm_p50_ms for q in mix)
            print(
                f"   ready in {ready:.1f} s, peak {entry['peak_pss_mb']:.0f} MB PSS "
                f"({entry['peak_rss_mb']:.0f} MB RSS); "
                f"warm p50 of the mix {p50:.1f} ms",
                flush=True,
            )
        finally:
            system.stop()
    shutil.rmtree(work, ignore_errors=True)
    results["ratios"] = ratios(results["systems"], args)
    return results


def _pids_of(holder: dict[str, System]) -> list[int]:
    system = holder.get("system")
    return system.pids() if system is not None else [os.getpid()]


def _start_tracked(make: Callable[[], System], holder: dict[str, System]) -> System:
    system = make()
    holder["system"] = system
    return system


def ratios(systems: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per-query and geometric-mean ratios of bolyst's requests/s over the peers'."""
    out: dict[str, Any] = {}
    keys = [f"warm-{c}" for c in args.concurrency] + [f"cold-{args.cold_concurrency}"]
    for ours in ("bolyst", "bolyst-nocache", "bolyst-oxigraph", "bolyst-virtuoso", "bolyst-rdflib"):
        for peer in ("oxigraph", "rdflib-endpoint", "virtuoso"):
            a, b = systems.get(ours, {}).get("throughput"), systems.get(peer, {}).get("throughput")
            if not a or not b:
                continue
            table: dict[str, Any] = {}
            for key in keys:
                per_query = {
                    q: round(a[q][key]["rps"] / b[q][key]["rps"], 3)
                    for q in a
                    if q in b and b[q][key]["rps"] > 0 and a[q][key]["rps"] > 0
                }
                mean = geomean(list(per_query.values()))
                table[key] = {"geomean": round(mean, 3) if mean else None, "per_query": per_query}
            out[f"{ours}/{peer}"] = table
    return out


# --- reports ----------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Backend benchmark", "", f"Machine: {report['machine']}", ""]
    for size, result in report["sizes"].items():
        lines += [f"## {int(result['triples']):,} triples (synthetic, --size {size})", ""]
        lines += [
            "| system | ready s | load s | peak PSS MB | peak RSS MB | mix warm p50 ms "
            "| mix warm p95 ms | cold p50 ms | stored warm p50 ms | stored cold p50 ms "
            "| rps c1 | rps c8 | rps c32 | cold rps c8 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, entry in result["systems"].items():
            if "error" in entry:
                lines.append(f"| {name} | did not start: {entry['error'][:80]} |")
                continue
            lat = entry["latency"]
            mix = [lat[q] for q in MIX if q in lat]
            stored = [v for k, v in lat.items() if k.startswith("stored:")]

            def med(xs: list[float]) -> str:
                return f"{statistics.median(xs):.1f}" if xs else "-"

            def rps(key: str, entry: dict[str, Any] = entry) -> str:
                values = [v[key]["rps"] for v in entry["throughput"].values() if key in v]
                mean = geomean(values, floor=0.1)
                return f"{mean:,.0f}" if mean else "-"

            lines.append(
                f"| {name} | {entry['ready_seconds']} | {entry.get('load_seconds', '-')} | "
                f"{entry.get('peak_pss_mb', 0):.0f} | {entry['peak_rss_mb']:.0f} | "
                f"{med([m['warm_p50_ms'] for m in mix])} | "
                f"{med([m['warm_p95_ms'] for m in mix])} | {med([m['cold_ms'] for m in mix])} | "
                f"{med([s['warm_p50_ms'] for s in stored])} | "
                f"{med([s['cold_ms'] for s in stored])} | {rps('warm-1')} | {rps('warm-8')} | "
                f"{rps('warm-32')} | {rps('cold-8')} |"
            )
        lines += [
            "",
            "rps: answered (2xx) requests per second, geometric mean over the mix ("
            + ", ".join(MIX)
            + "); a query with no answer at all counts as 0.1. Ratios: over the queries both "
            "systems answered.",
            "",
        ]
        lines += [
            "| ratio (geomean of per-query rps ratios) | c1 | c8 | c32 | cold c8 |",
            "|---|---|---|---|---|",
        ]
        for pair, table in result["ratios"].items():
            cells = [
                table.get(k, {}).get("geomean") for k in ("warm-1", "warm-8", "warm-32", "cold-8")
            ]
            lines.append(
                f"| {pair} | " + " | ".join(f"{c:.2f}" if c else "-" for c in cells) + " |"
            )
        lines += ["", "Per query, warm rps at c8:", ""]
        names = list(result["systems"])
        lines += ["| query | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for q in MIX:
            cells = []
            for n in names:
                t = result["systems"][n].get("throughput", {}).get(q, {}).get("warm-8")
                cells.append(f"{t['rps']:,.0f}" if t else "-")
            lines.append(f"| {q} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(report["sizes"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(7 * len(sizes), 4.8), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        result = report["sizes"][size]
        systems = [n for n, e in result["systems"].items() if "throughput" in e]
        keys = ["warm-1", "warm-8", "warm-32", "cold-8"]
        width = 0.8 / max(1, len(systems))
        for i, name in enumerate(systems):
            values = [
                geomean(
                    [v[k]["rps"] for v in result["systems"][name]["throughput"].values() if k in v],
                    floor=0.1,
                )
                or 0
                for k in keys
            ]
            ax.bar([x + i * width for x in range(len(keys))], values, width, label=name)
        ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(keys))])
        ax.set_xticklabels(["c1", "c8", "c32", "cold c8"])
        ax.set_yscale("log")
        ax.set_ylabel("answered requests/s (geomean over the query mix, log)")
        ax.set_title(f"{int(result['triples']):,} triples")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated triple counts")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--systems", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--cold-concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20, help="warm latency samples per query")
    parser.add_argument("--latency-budget", type=float, default=5.0, help="seconds per query")
    parser.add_argument("--rdflib-max", type=int, default=100_000, help="largest size for rdflib")
    parser.add_argument("--virtuoso-buffers", type=int, default=100_000, help="8 KiB pages")
    parser.add_argument("--report-only", action="store_true", help="redo md and png from json")
    args = parser.parse_args()
    if args.report_only:
        report = json.loads((args.out / "bench.json").read_text(encoding="utf-8"))
        (args.out / "bench.md").write_text(markdown(report), encoding="utf-8")
        plot(report, args.out / "bench.png")
        return
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make setup-test does)")
    args.out.mkdir(parents=True, exist_ok=True)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {memory / 2**30:.0f} GiB, Python "
        + sys.version.split()[0],
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "sizes": {},
    }
    for size in (int(s) for s in args.sizes.split(",")):
        report["sizes"][str(size)] = bench_size(size, args)
        (args.out / "bench.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (args.out / "bench.md").write_text(markdown(report), encoding="utf-8")
    plot(report, args.out / "bench.png")
    print(f"\nwrote {args.out / 'bench.json'}, bench.md and bench.png")


if __name__ == "__main__":
    main()
