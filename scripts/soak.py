#!/usr/bin/env python3
"""Soak the SPARQL endpoint: many clients, runaway queries in the middle, the contract checked.

Issue 9's contract, measured on loopback against a real ``bolyst serve`` (started here on the
synthetic data of ``bolyst synth``, or one you started: ``--url`` and ``--server-pid``):

1. ``--clients`` clients (each its own loopback address, 127.10.x.y, so that the server's
   per-client limit sees them as the different users they stand for) send, for ``--duration``
   seconds, back to back over keep-alive connections, a mix of the stored queries
   (``queries/*.rq``), point lookups, aggregates, CONSTRUCT, ASK and a REGEX filter, by GET and
   POST (form and direct), asking for JSON, XML, CSV, TSV, Turtle and N-Triples. Every answer
   is checked to be complete. The clients run as threads in ``--processes`` processes.
2. At ``--runaway-at`` seconds, the runaway shapes (``--shapes``) start at once, each from its
   own address, and one greedy client sends ``--greedy`` cross products at once from one
   address.
3. Every second the server's processes (the HTTP workers, zygotes and evaluators, found under
   its pid in /proc) are sampled: CPU (utime + stime, children reaped included) and memory
   (RSS, and PSS, which counts pages shared copy-on-write once); so are the load generator's.
   A prober asks ``/healthz`` four times a second throughout.
4. After the load: whether the server still answers, how long its CPU takes to fall idle, and
   the runaway shapes once more on the quiet server: the CPU must be idle again within the
   query time limit + 1 s and the memory back where it was.
5. With ``--stop-server``, the server it started is stopped with SIGTERM and the exit timed.

It exits 1 when the contract is broken: an error for a normal client; p99 latency during or
after the runaways above ``--p99-factor`` times the p99 before (plus ``--p99-slack-ms``); a
runaway answered otherwise than 503 with a message within the limit + 1 s; the greedy client
never refused at once; /healthz unanswered (or slower than 2 s); the CPU not idle or the
memory not given back after the quiet runaways; the server not answering at the end. Always
bounded: everything stops by itself (a watchdog kills the server and exits after
``--duration`` + 150 s).

    scripts/soak.py                              # the full run: 100 clients, 60 s, 100k triples
    scripts/soak.py --clients 6 --duration 8 --runaway-at 3 --shapes cross4,path --timeout 2
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JSON = "application/sparql-results+json"
XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
NTRIPLES = "application/n-triples"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PREFIXES = (
    "PREFIX bolyst: <https://w3id.org/bolyst/ontology#>\n"
    f"PREFIX skos: <{SKOS}>\n"
    "PREFIX org: <http://www.w3.org/ns/org#>\n"
    "PREFIX sosa: <http://www.w3.org/ns/sosa/>\n"
)
RUNAWAYS = {
    # Four unconstrained patterns: (triples)^4 solutions to count.
    "cross4": "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
    # A join on a shared variable: the sum over predicates of their count squared (billions).
    "join": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?p ?d . ?e ?p ?f }",
    # ORDER BY must hold the whole cross product: it grows until the memory cap stops it.
    "orderby": "SELECT ?a ?d WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f",
    # A deep property path, both ways: every node to every node it is connected to. (Only
    # forwards, (<p>|!<p>)*, it answers 2.7M pairs in 7.7 s at 100k triples on an idle machine.)
    "path": f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s (<{SKOS}prefLabel>|!<{SKOS}prefLabel>"
    f"|^<{SKOS}prefLabel>|^!<{SKOS}prefLabel>)* ?o }}",
    # A catastrophic-backtracking pattern over long strings (made of four literals each).
    "regex": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?x . ?b ?q ?y "
    'FILTER(REGEX(CONCAT(STR(?x), STR(?y), STR(?x), STR(?y)), "^(([a-z]+|[a-z]*)*[A-Z])+$")) }',
}
IDLE_CORES = 0.15  # server CPU below this (cores) is idle


# --- the requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # stored, lookup, aggregate, construct, ask, regex
    query: str
    accept: str
    method: str  # GET, POST-form, POST-direct


def build_mix(queries: Sequence[str], subjects: Sequence[str], seed: int = 7) -> list[Request]:
    """The normal traffic: weighted kinds, each in turn by every method and format."""
    rng = random.Random(seed)
    methods = ("GET", "POST-form", "POST-direct")
    select_formats = (JSON, XML, CSV, TSV)
    graph_formats = (TURTLE, NTRIPLES)
    mix: list[Request] = []

    def add(kind: str, query: str, formats: Sequence[str], weight: int) -> None:
        for index in range(weight):
            mix.append(
                Request(kind, query, formats[index % len(formats)], methods[index % len(methods)])
            )

    for query in queries:
        add("stored", query, select_formats, 3)
    for subject in rng.sample(list(subjects), min(40, len(subjects))):
        add("lookup", f"SELECT ?p ?o WHERE {{ <{subject}> ?p ?o }}", select_formats, 2)
        add(
            "construct",
            f"CONSTRUCT {{ <{subject}> ?p ?o }} WHERE {{ <{subject}> ?p ?o }}",
            graph_formats,
            1,
        )
        add("ask", f"ASK {{ <{subject}> ?p ?o }}", (JSON, XML), 1)
    aggregates = (
        "SELECT ?type (COUNT(?s) AS ?n) WHERE { ?s a ?type } GROUP BY ?type ORDER BY DESC(?n)",
        PREFIXES + "SELECT ?org (COUNT(?m) AS ?n) WHERE { ?m org:organization ?org } "
        "GROUP BY ?org ORDER BY DESC(?n) LIMIT 20",
        PREFIXES + "SELECT ?property (COUNT(?o) AS ?n) WHERE { ?o sosa:observedProperty "
        "?property } GROUP BY ?property",
    )
    for query in aggregates:
        add("aggregate", query, select_formats, 8)
    for letters in ("Tra", "reg", "kom", "inn", "sen", "øst"):
        query = (
            PREFIXES + "SELECT ?s ?label WHERE { ?s skos:prefLabel ?label "
            f'FILTER(REGEX(?label, "^{letters}", "i")) }} LIMIT 50'
        )
        add("regex", query, select_formats, 4)
    rng.shuffle(mix)
    return mix


def encode(request: Request) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, path, body, headers) of the request."""
    headers = {"Accept": request.accept}
    if request.method == "GET":
        return "GET", "/sparql?" + urllib.parse.urlencode({"query": request.query}), None, headers
    if request.method == "POST-form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return "POST", "/sparql", urllib.parse.urlencode({"query": request.query}).encode(), headers
    headers["Content-Type"] = "application/sparql-query"
    return "POST", "/sparql", request.query.encode("utf-8"), headers


def complete(accept: str, body: bytes) -> bool:
    """Whether a 200 answer is a whole document (never one cut off)."""
    if accept == JSON:
        try:
            document = json.loads(body)
        except ValueError:
            return False
        return "boolean" in document or "bindings" in document.get("results", {})
    text = body.rstrip()
    if accept == XML:
        return text.startswith(b"<?xml") and text.endswith(b"</sparql>")
    if accept in (CSV, TSV):
        return body.endswith(b"\n") and len(body.splitlines()) >= 1
    if accept in (TURTLE, NTRIPLES):
        return not text or text.endswith(b".")
    return bool(body)


# --- one client ------------------------------------------------------------------------------

Record = tuple[
    int, str, float, float, int, str
]  # client, kind, sent (s), latency (s), status, error


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, bytes, dict[str, str]]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    found = {name.lower(): value for name, value in response.getheaders()}
    if response.will_close:
        conn.close()
    return response.status, data, found


def client_loop(
    cid: int,
    address: str,
    host: str,
    port: int,
    mix: Sequence[Request],
    t0: float,
    stop: float,
    out: list[Record],
) -> None:
    rng = random.Random(cid)
    conn = http.client.HTTPConnection(host, port, timeout=60, source_address=(address, 0))
    while time.monotonic() < stop:
        request = mix[rng.randrange(len(mix))]
        method, path, body, headers = encode(request)
        sent = time.monotonic()
        status, error = 0, ""
        try:
            status, data, _ = exchange(conn, method, path, body, headers)
            if status != 200:
                error = f"http {status}"
            elif not complete(request.accept, data):
                error = "incomplete body"
        except (OSError, http.client.HTTPException) as exc:
            error = f"connection: {type(exc).__name__}"
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60, source_address=(address, 0))
        out.append((cid, request.kind, sent - t0, time.monotonic() - sent, status, error))
    conn.close()


def client_process(
    first: int,
    count: int,
    host: str,
    port: int,
    mix: Sequence[Request],
    t0: float,
    stop: float,
    results: Any,
) -> None:
    """Run clients ``first`` .. ``first + count - 1`` as threads; send their records back."""
    out: list[Record] = []
    threads = [
        threading.Thread(
            target=client_loop,
            args=(cid, client_address(cid), host, port, mix, t0, stop, out),
            daemon=True,
        )
        for cid in range(first, first + count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop - time.monotonic()) + 70)
    usage = os.times()
    results.send((out, usage.user + usage.system))
    results.close()


def client_address(cid: int) -> str:
    return f"127.10.{cid // 200}.{cid % 200 + 1}"


# --- runaways, health, sampling ---------------------------------------------------------------


@dataclass
class Runaway:
    shape: str
    address: str
    started: float = 0.0
    seconds: float = 0.0
    status: int = 0
    message: str = ""
    retry_after: str | None = None


def run_runaway(host: str, port: int, runaway: Runaway, query: str, t0: float) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=120, source_address=(runaway.address, 0))
    method, path, body, headers = encode(Request("runaway", query, JSON, "POST-direct"))
    headers["Accept"] = f"{JSON}, text/plain;q=0.5"
    started = time.monotonic()
    runaway.started = started - t0
    try:
        status, data, found = exchange(conn, method, path, body, headers)
        runaway.status = status
        runaway.message = data.decode("utf-8", "replace").strip()[:160]
        runaway.retry_after = found.get("retry-after")
    except (OSError, http.client.HTTPException) as exc:
        runaway.message = f"connection: {type(exc).__name__}"
    finally:
        runaway.seconds = time.monotonic() - started
        conn.close()


def start_runaways(
    host: str, port: int, shapes: Sequence[str], t0: float, greedy: int, subnet: int
) -> tuple[list[Runaway], list[threading.Thread]]:
    runaways = [Runaway(shape, f"127.20.{subnet}.{i + 1}") for i, shape in enumerate(shapes)]
    queries = [RUNAWAYS[shape] for shape in shapes]
    for index in range(greedy):
        runaways.append(Runaway("greedy", f"127.30.{subnet}.1"))
        queries.append(RUNAWAYS["cross4"].replace("?c)", f"?c{index})"))
    threads = [
        threading.Thread(target=run_runaway, args=(host, port, r, q, t0), daemon=True)
        for r, q in zip(runaways, queries, strict=True)
    ]
    for thread in threads:
        thread.start()
    return runaways, threads


class Prober(threading.Thread):
    """Asks /healthz every ``interval`` seconds; records (sent, seconds, status)."""

    def __init__(self, host: str, port: int, t0: float, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.t0, self.interval = host, port, t0, interval
        self.records: list[tuple[float, float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            conn = http.client.HTTPConnection(
                self.host, self.port, timeout=10, source_address=("127.40.0.1", 0)
            )
            sent = time.monotonic()
            try:
                status, _, _ = exchange(conn, "GET", "/healthz", None, {})
            except (OSError, http.client.HTTPException):
                status = 0
            self.records.append((sent - self.t0, time.monotonic() - sent, status))
            conn.close()


CLOCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def processes() -> dict[int, tuple[int, float, int, int]]:
    """Every process: pid -> (ppid, cpu seconds with reaped children, rss bytes, nice)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        found[int(name)] = (int(fields[1]), ticks / CLOCK, int(fields[21]) * PAGE, int(fields[16]))
    return found


def machine_busy() -> float:
    """Seconds the CPUs have been busy since boot (all processes, the kernel included)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK


def descendants(root: int, table: dict[int, tuple[int, float, int, int]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def is_evaluator(pid: int) -> bool:
    """An evaluator names itself so (bolyst.store.evaluator.name_process)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read().strip() == b"bolyst-eval"
    except OSError:
        return False


@dataclass
class Sample:
    t: float
    server_cpu: float  # cumulative seconds
    server_rss: int
    server_pss: int
    processes: int
    evaluators: int
    loadgen_cpu: float  # cumulative seconds
    machine_cpu: float  # cumulative seconds of every CPU busy (all processes), from /proc/stat


class Sampler(threading.Thread):
    """Samples the server's and the load generator's processes every ``interval`` seconds."""

    def __init__(
        self,
        server_pid: int,
        loadgen: Callable[[], Iterable[int]],
        t0: float,
        interval: float = 1.0,
    ) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.loadgen, self.t0, self.interval = server_pid, loadgen, t0, interval
        self.samples: list[Sample] = []
        self.halt = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> Sample:
        with self._lock:
            table = processes()
            server = descendants(self.server_pid, table)
            own = set(self.loadgen()) | {os.getpid()}
            found = Sample(
                time.monotonic() - self.t0,
                sum(table[p][1] for p in server),
                sum(table[p][2] for p in server),
                sum(pss(p) for p in server),
                len(server),
                sum(1 for p in server if is_evaluator(p)),
                sum(table[p][1] for p in own if p in table),
                machine_busy(),
            )
            self.samples.append(found)
            return found

    def run(self) -> None:
        self.sample()
        while not self.halt.wait(self.interval):
            self.sample()


def other(a: Sample, b: Sample) -> float:
    """Cores busy with neither the server nor the load generator."""
    return max(0.0, cores(a, b, "machine_cpu") - cores(a, b) - cores(a, b, "loadgen_cpu"))


def cores(a: Sample, b: Sample, attribute: str = "server_cpu") -> float:
    seconds = b.t - a.t
    return (getattr(b, attribute) - getattr(a, attribute)) / seconds if seconds > 0 else 0.0


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bolyst_command() -> str:
    return shutil.which("bolyst", path=str(Path(sys.executable).parent)) or "bolyst"


def synthetic_root(triples: int, folder: Path) -> Path:
    """A root with about ``triples`` synthetic triples (`bolyst synth`, issue 8)."""
    root = folder / f"synthetic-{triples}"
    subprocess.run(
        [
            bolyst_command(),
            "synth",
            "--triples",
            str(triples),
            "--out",
            str(root),
            "--root",
            str(REPO),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return root


def start_server(
    root: Path, port: int, workers: int, timeout: float, env_extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLYST_")}
    env.update({"BOLYST_QUERY_TIMEOUT": str(timeout), **env_extra})
    log = tempfile.TemporaryFile(prefix="bolyst-soak-server-")
    process = subprocess.Popen(
        [
            bolyst_command(),
            "serve",
            "--root",
            str(root),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--skip-validation",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def server_log(process: subprocess.Popen[bytes], last: int = 4000) -> str:
    log = getattr(process, "log", None)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-last:]


def wait_until_up(host: str, port: int, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(
                f"bolyst serve exited with {process.returncode}:\n{server_log(process)}"
            )
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            status, _, _ = exchange(conn, "GET", "/healthz", None, {})
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /healthz within 120 s")


def select(host: str, port: int, query: str) -> list[dict[str, str]]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    method, path, body, headers = encode(Request("setup", query, JSON, "POST-direct"))
    status, data, _ = exchange(conn, method, path, body, headers)
    conn.close()
    if status != 200:
        raise SystemExit(f"setup query failed ({status}): {data[:200]!r}")
    rows = json.loads(data)["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in rows]


def stored_queries(root: Path, host: str, port: int, limit_seconds: float) -> list[str]:
    """The stored queries that answer within ``limit_seconds`` on this data (most do in ms)."""
    found = []
    for path in sorted((root / "queries").glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        conn = http.client.HTTPConnection(host, port, timeout=60)
        method, req_path, body, headers = encode(Request("stored", text, JSON, "POST-direct"))
        started = time.monotonic()
        status, _, _ = exchange(conn, method, req_path, body, headers)
        conn.close()
        if status == 200 and time.monotonic() - started < limit_seconds:
            found.append(text)
    return found


# --- figures and the verdict -------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class Phase:
    name: str
    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def line(self) -> str:
        seconds = max(self.end - self.start, 1e-9)
        ms = [1000 * v for v in self.latencies]
        return (
            f"  {self.name:<7} {self.start:5.1f}-{self.end:5.1f} s  {len(ms) / seconds:7.0f} req/s"
            f"  p50 {percentile(ms, 0.5):7.1f}  p95 {percentile(ms, 0.95):7.1f}"
            f"  p99 {percentile(ms, 0.99):7.1f}  max {max(ms, default=math.nan):7.1f} ms"
            f"  errors {self.errors}"
        )

    def p99(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--runaway-at", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not counted")
    parser.add_argument("--shapes", default=",".join(RUNAWAYS), help="runaway shapes")
    parser.add_argument("--greedy", type=int, default=6, help="runaways from one client")
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's query limit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--triples", type=int, default=100_000, help="synthetic data size")
    parser.add_argument("--root", type=Path, help="serve this root instead of synthetic data")
    parser.add_argument(
        "--url", help="soak a running server (loopback only), e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--server-pid", type=int, help="with --url: its pid, for CPU and memory")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--p99-factor", type=float, default=2.0)
    parser.add_argument("--p99-slack-ms", type=float, default=0.0)
    parser.add_argument("--rss-slack-mb", type=float, default=64.0)
    parser.add_argument(
        "--quiet-shapes", default=None, help="shapes for the quiet check [--shapes]"
    )
    parser.add_argument("--stop-server", action="store_true", help="SIGTERM it and time the exit")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--server-log", type=Path, help="copy the server's whole log here")
    parser.add_argument("--verbose", action="store_true", help="print every second")
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in RUNAWAYS]
    if unknown:
        parser.error(f"unknown shapes {unknown}; known: {', '.join(RUNAWAYS)}")
    quiet_shapes = [s for s in (args.quiet_shapes or args.shapes).split(",") if s]

    # A watchdog: whatever happens, nothing outlives this bound.
    bound = args.duration + args.timeout * 3 + 150
    server: subprocess.Popen[bytes] | None = None

    def expire(*_: object) -> None:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        os._exit(3)

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(bound))

    scratch = Path(tempfile.mkdtemp(prefix="bolyst-soak-"))
    try:
        if args.url:
            parsed = urllib.parse.urlsplit(args.url)
            host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
            if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
                parser.error("--url must be a loopback address: this is a load test")
            server_pid = args.server_pid or 0
            root = args.root or REPO
        else:
            root = args.root or synthetic_root(args.triples, scratch)
            host, port = "127.0.0.1", free_port()
            env = dict(item.split("=", 1) for item in args.env)
            setup = time.monotonic()
            server = start_server(root, port, args.workers, args.timeout, env)
            server_pid = server.pid
        wait_until_up(host, port, server)
        if server is not None:
            print(f"server up in {time.monotonic() - setup:.1f} s (pid {server_pid}, port {port})")
        return soak(args, host, port, server, server_pid, root, shapes, quiet_shapes)
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        signal.alarm(0)


def soak(
    args: argparse.Namespace,
    host: str,
    port: int,
    server: subprocess.Popen[bytes] | None,
    server_pid: int,
    root: Path,
    shapes: list[str],
    quiet_shapes: list[str],
) -> int:
    count = select(host, port, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]
    subjects = [
        row["s"]
        for row in select(
            host,
            port,
            PREFIXES + "SELECT DISTINCT ?s WHERE { { ?s a bolyst:RegionalTraineeProgramme } "
            "UNION { ?m org:organization ?s } UNION { ?s a org:Membership } } LIMIT 400",
        )
    ] or [row["s"] for row in select(host, port, "SELECT DISTINCT ?s WHERE { ?s ?p ?o } LIMIT 400")]
    queries = stored_queries(root, host, port, limit_seconds=0.5)
    mix = build_mix(queries, subjects)
    kinds = Counter(r.kind for r in mix)
    print(
        f"data: {int(count):,} triples; mix of {len(mix)} requests "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
        f"{len(queries)} stored queries"
    )
    print(
        f"load: {args.clients} clients in {args.processes} processes for {args.duration:g} s; "
        f"runaways {', '.join(shapes)} + {args.greedy} from one client at {args.runaway_at:g} s; "
        f"query limit {args.timeout:g} s"
    )

    context = multiprocessing.get_context("spawn")
    t0 = time.monotonic() + 2.0  # the clients start together, after the processes are up
    stop = t0 + args.duration
    pipes, workers = [], []
    per = math.ceil(args.clients / args.processes)
    for first in range(0, args.clients, per):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=client_process,
            args=(first, min(per, args.clients - first), host, port, mix, t0, stop, send),
            daemon=True,
        )
        process.start()
        send.close()
        pipes.append(receive)
        workers.append(process)
    sampler = Sampler(server_pid, lambda: [w.pid for w in workers if w.pid], t0)
    prober = Prober(host, port, t0)
    time.sleep(max(0.0, t0 - time.monotonic()))
    sampler.start()
    prober.start()
    time.sleep(max(0.0, t0 + args.runaway_at - time.monotonic()))
    runaways, threads = start_runaways(host, port, shapes, t0, args.greedy, 0)
    records: list[Record] = []
    loadgen_cpu = 0.0
    for receive in pipes:
        if receive.poll(max(0.0, stop - time.monotonic()) + 90):
            out, cpu = receive.recv()
            records.extend(out)
            loadgen_cpu += cpu
    for process in workers:
        process.join(10)
    for thread in threads:
        thread.join(args.timeout + 30)
    ended = time.monotonic() - t0

    # After the load: does it answer, how long until idle, the runaways once more on a quiet server.
    alive = True
    try:
        select(host, port, "SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    except (SystemExit, OSError, http.client.HTTPException, ValueError):
        alive = False
    tail = idle_after(sampler, ended, limit=10.0)
    baseline = settle(sampler)
    quiet_start = time.monotonic() - t0
    quiet, quiet_threads = start_runaways(host, port, quiet_shapes, t0, 0, 1)
    for thread in quiet_threads:
        thread.join(args.timeout + 30)
    quiet_idle = idle_after(sampler, quiet_start, limit=args.timeout + 6.0)
    after = settle(sampler)
    prober.halt.set()
    sampler.halt.set()
    sampler.join(5)
    prober.join(15)
    alive = alive and bool(prober.records) and prober.records[-1][2] == 200

    shutdown = None
    if server is not None and args.stop_server:
        shutdown = stop_server(server)

    return report(
        args,
        records,
        runaways,
        quiet,
        sampler.samples,
        prober.records,
        loadgen_cpu,
        ended,
        tail,
        quiet_start,
        quiet_idle,
        baseline,
        after,
        alive,
        shutdown,
        server,
    )


def idle_after(sampler: Sampler, since: float, limit: float) -> float | None:
    """Seconds from ``since`` until the server's CPU is below IDLE_CORES over half a second."""
    deadline = sampler.t0 + since + limit
    previous = sampler.sample()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = sampler.sample()
        if cores(previous, current) < IDLE_CORES:
            return max(0.0, previous.t - since)
        previous = current
    return None


def settle(sampler: Sampler) -> Sample:
    time.sleep(1.0)
    return sampler.sample()


def stop_server(server: subprocess.Popen[bytes]) -> float | None:
    started = time.monotonic()
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - started


def report(
    args: argparse.Namespace,
    records: list[Record],
    runaways: list[Runaway],
    quiet: list[Runaway],
    samples: list[Sample],
    probes: list[tuple[float, float, int]],
    loadgen_cpu: float,
    ended: float,
    tail: float | None,
    quiet_start: float,
    quiet_idle: float | None,
    baseline: Sample,
    after: Sample,
    alive: bool,
    shutdown: float | None,
    server: subprocess.Popen[bytes] | None,
) -> int:
    limit = args.timeout + 1.0
    hit = args.runaway_at
    phases = [
        Phase("warmup", 0.0, args.warmup),
        Phase("before", args.warmup, hit),
        Phase("during", hit, hit + limit),
        Phase("after", hit + limit, args.duration),
    ]
    errors: Counter[str] = Counter()
    by_kind: dict[str, list[float]] = {}
    for _cid, kind, sent, latency, _status, error in records:
        phase = next((p for p in phases if p.start <= sent < p.end), phases[-1])
        if error:
            errors[error] += 1
            phase.errors += 1
        else:
            phase.latencies.append(latency)
            by_kind.setdefault(kind, []).append(latency * 1000)
    total = len(records)
    print(
        f"\nrequests: {total:,} in {args.duration:g} s = {total / args.duration:,.0f} req/s; "
        f"errors: {sum(errors.values())}" + (f" {dict(errors)}" if errors else "")
    )
    for phase in phases:
        print(phase.line())
    print(
        "  by kind: "
        + "; ".join(
            f"{kind} {len(v)} p50 {percentile(v, 0.5):.1f} p99 {percentile(v, 0.99):.1f} ms"
            for kind, v in sorted(by_kind.items())
        )
    )

    print(f"\nrunaways at {hit:.0f} s (limit {args.timeout:.0f} s):")
    for runaway in runaways:
        print(
            f"  {runaway.shape:<8} {runaway.address:<13} {runaway.status} in "
            f"{runaway.seconds:5.2f} s  Retry-After {runaway.retry_after}  {runaway.message}"
        )

    # The timeline, every 5 s (or every second with --verbose).
    print(
        "\n  t (s)  req/s  p99 ms  server CPU  loadgen CPU  other CPU  server RSS  PSS (MB)  procs"
        "  evaluators"
    )
    step = 1 if args.verbose else 5
    for index in range(0, len(samples) - step, step):
        a, b = samples[index], samples[index + step]
        inside = [r for r in records if a.t <= r[2] < b.t and not r[5]]
        print(
            f"  {a.t:5.0f}  {len(inside) / max(b.t - a.t, 1e-9):5.0f}  "
            f"{percentile([r[3] * 1000 for r in inside], 0.99):6.1f}  "
            f"{cores(a, b):10.2f}  {cores(a, b, 'loadgen_cpu'):11.2f}  {other(a, b):9.2f}  "
            f"{b.server_rss / 2**20:10.0f}  {b.server_pss / 2**20:8.0f}  {b.processes:5d}  "
            f"{b.evaluators:10d}"
        )
    load = [s for s in samples if s.t <= ended]
    server_cores = cores(load[0], load[-1]) if len(load) > 1 else math.nan
    loadgen_cores = cores(load[0], load[-1], "loadgen_cpu") if len(load) > 1 else math.nan
    other_cores = other(load[0], load[-1]) if len(load) > 1 else math.nan
    first = samples[0] if samples else baseline
    print(
        f"\nCPU during the load: server {server_cores:.2f} cores, load generator "
        f"{loadgen_cores:.2f} cores ({loadgen_cpu:.0f} CPU-s in its client processes), other "
        f"processes {other_cores:.2f} cores, of {os.cpu_count()}"
    )
    if other_cores > 0.25:
        print(
            f"  NOTE: other processes took {other_cores:.2f} cores during the load: the figures "
            "are of a shared machine"
        )
    slow_probes = [p for p in probes if p[2] != 200 or p[1] > 2.0]
    print(
        f"/healthz: {len(probes)} probes, {len(slow_probes)} failed or slower than 2 s, "
        f"max {max((p[1] for p in probes), default=math.nan) * 1000:.0f} ms"
    )
    print(f"after the load: CPU idle after {_seconds(tail)}; server answers: {alive}")
    print(f"quiet runaways at {quiet_start:.0f} s ({', '.join(r.shape for r in quiet)}):")
    for runaway in quiet:
        print(
            f"  {runaway.shape:<8} {runaway.status} in {runaway.seconds:5.2f} s  {runaway.message}"
        )
    growth_rss = (after.server_rss - baseline.server_rss) / 2**20
    growth_pss = (after.server_pss - baseline.server_pss) / 2**20
    print(
        f"  CPU idle {_seconds(quiet_idle)} after they started (limit + 1 = {limit:g} s); "
        f"memory before {baseline.server_pss / 2**20:.0f} MB PSS ({baseline.server_rss / 2**20:.0f}"
        f" MB RSS), after {after.server_pss / 2**20:.0f} MB PSS: {growth_pss:+.0f} MB "
        f"({growth_rss:+.0f} MB RSS); evaluators {baseline.evaluators} -> {after.evaluators}"
    )
    print(
        f"memory over the whole run: {first.server_pss / 2**20:.0f} -> "
        f"{after.server_pss / 2**20:.0f} MB PSS, peak "
        f"{max(s.server_pss for s in samples) / 2**20:.0f} MB PSS, "
        f"{max(s.server_rss for s in samples) / 2**20:.0f} MB RSS"
    )
    if shutdown is not None or args.stop_server:
        print(f"SIGTERM to exit: {_seconds(shutdown)}")

    # The verdict.
    broken = []
    before = phases[1]
    normal_errors = sum(errors.values())
    if normal_errors:
        broken.append(f"{normal_errors} errors for normal clients: {dict(errors)}")
    for phase in phases[2:]:
        allowed = args.p99_factor * before.p99() + args.p99_slack_ms
        if not phase.latencies:
            broken.append(f"no answers {phase.name} the runaways")
        elif phase.p99() > allowed:
            broken.append(
                f"p99 {phase.name} the runaways {phase.p99():.1f} ms > {allowed:.1f} ms "
                f"({args.p99_factor:g} x {before.p99():.1f} + {args.p99_slack_ms:g})"
            )
    for runaway in runaways + quiet:
        label = f"runaway {runaway.shape} ({runaway.address})"
        if runaway.status != 503:
            broken.append(f"{label} answered {runaway.status}: {runaway.message}")
        elif runaway.seconds > limit:
            broken.append(f"{label} took {runaway.seconds:.2f} s > {limit:g} s")
        elif not runaway.message or runaway.retry_after is None:
            broken.append(f"{label}: 503 without a message or Retry-After")
    greedy = [r for r in runaways if r.shape == "greedy"]
    if greedy and not any(r.status == 503 and r.seconds < 1.0 for r in greedy):
        broken.append("the greedy client was never refused at once")
    if not probes or slow_probes:
        broken.append(f"/healthz failed or was slower than 2 s {len(slow_probes)} times")
    if not alive:
        broken.append("the server does not answer after the soak")
    if quiet_idle is None or quiet_idle > limit:
        broken.append(f"the CPU was not idle within {limit:g} s of the quiet runaways")
    if growth_pss > args.rss_slack_mb:
        broken.append(f"the quiet runaways left {growth_pss:.0f} MB behind")
    if args.stop_server and (shutdown is None or shutdown > 5.0):
        broken.append(f"SIGTERM took {_seconds(shutdown)} to stop the server")
    print("\ncontract: " + ("KEPT" if not broken else "BROKEN\n  " + "\n  ".join(broken)))
    if broken and server is not None:
        print("\nthe end of the server's log:\n" + server_log(server, 3000))
    if args.server_log and server is not None:
        args.server_log.write_text(server_log(server, 1 << 30), encoding="utf-8")

    if args.json:
        figures = {
            "requests": total,
            "rps": total / args.duration,
            "errors": dict(errors),
            "phases": {
                p.name: {
                    "requests": len(p.latencies) + p.errors,
                    "errors": p.errors,
                    "p50_ms": percentile(p.latencies, 0.5) * 1000,
                    "p95_ms": percentile(p.latencies, 0.95) * 1000,
                    "p99_ms": p.p99(),
                }
                for p in phases
            },
            "runaways": [vars(r) for r in runaways],
            "quiet_runaways": [vars(r) for r in quiet],
            "server_cores": server_cores,
            "loadgen_cores": loadgen_cores,
            "other_cores": other_cores,
            "healthz": {"probes": len(probes), "bad": len(slow_probes)},
            "idle_after_load_s": tail,
            "idle_after_quiet_runaways_s": quiet_idle,
            "quiet_pss_growth_mb": growth_pss,
            "quiet_rss_growth_mb": growth_rss,
            "alive": alive,
            "shutdown_s": shutdown,
            "broken": broken,
        }
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 1 if broken else 0


def _seconds(value: float | None) -> str:
    return "never (not within the bound)" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
