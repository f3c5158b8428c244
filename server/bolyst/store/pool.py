"""The safe query engine: a pool of evaluator processes that can be killed (issues 4 and 9).

pyoxigraph's evaluation has no time limit and no cancellation, and some queries crash it (a
segmentation fault takes the whole process). So no public query is evaluated in the HTTP
worker: each runs in an evaluator process (:mod:`bolyst.store.evaluator`). At the deadline the
evaluator is killed, which really stops the work and gives its memory back, and another takes
its place; a crash costs that one evaluator and its request.

**Evaluators are forked from a zygote.** The pool starts one ``python -c`` process per dataset
version (:func:`bolyst.store.evaluator.command`) that loads the data once from an N-Quads
snapshot and then forks evaluators on request; they share the loaded store copy-on-write.
Measured with 105k triples: loading took 0.54 s of CPU and 130 MB, a fork 3-7 ms. So a killed
evaluator is replaced at once, for free, while other queries keep the CPU busy. The pool
talks pickles to both over socket pairs (:class:`multiprocessing.connection.Connection`): the
server, with its threads, never forks its own image. (Not multiprocessing's ``spawn`` or
``forkserver``: both import the parent's main script again; 0.7 s per evaluator under pytest.)

**Admission control**, per pool (one pool per HTTP worker process):

- ``evaluators`` queries run at once; a query that finds none idle waits in a queue of at most
  ``queue_length`` for at most ``queue_wait`` seconds, first come first served; beyond that it
  is refused at once (:class:`~bolyst.errors.Overloaded`: 503 with ``Retry-After``);
- **one client cannot take every evaluator**: a client (its address, see :func:`client_key`)
  runs at most ``client_queries`` queries at once (default: half the evaluators, at least 1)
  and has at most as many waiting; its further queries are refused at once. While a client is
  at its limit, evaluators go to the next waiter of another client;
- **long queries step aside**: a query that has burnt ``long_query_seconds`` of CPU time is
  long: it gets a lower CPU priority (nice 5, every thread of its evaluator) and, while fewer
  than ``long_queries`` have one (or as soon as one comes free), a stand-in evaluator is
  forked, so ``evaluators`` evaluators stay for everyone else. The more CPU time it burns, the
  lower it goes: nice 10 at twice that, ``SCHED_IDLE`` and nice 19 at 4 times (0.25, 0.5 and
  1 s by default), a feedback queue as in process schedulers: the priority matters only when
  the CPU is short, and then a query that needs more than that may starve and meet the
  deadline (503) while the light queries of everyone else go on. The steps are a balance,
  measured with the soak (100 clients, 7 runaways, 100k triples, no result cache): every
  runaway burns about 1 s of CPU before it is idle, which the others feel; demoting at 0.1 s
  (nice 10 at 0.5 s) made the heaviest stored query (0.4 s of CPU alone) starve to the
  deadline (3 errors), and idle only at 3 s let the runaways double the others' p99. CPU
  time, not wall time: on a saturated CPU
  every query takes several times its CPU time (measured in the soak: the heaviest stored
  queries, 0.3 s of CPU, took up to 4.5 s), and judged by wall time they took every stand-in
  (none was left for the runaways, which then held evaluators: 503s for the others) and, at
  the lowest priority, starved; a runaway burns CPU at every chance. A query is never stopped
  for being long, only at the deadline. A long query's evaluator is discarded after the answer
  (a priority cannot be raised again without privileges);
- so one pool holds at most ``evaluators + long_queries`` evaluators, each capped at
  ``memory_mb`` of address space. With W HTTP workers the server runs at most
  W x ``evaluators`` queries at full priority, W x ``long_queries`` long ones, queues
  W x ``queue_length``, lets one client run W x ``client_queries`` (the kernel spreads
  connections over the workers), and its evaluators may use W x (``evaluators`` +
  ``long_queries``) x ``memory_mb`` at most, plus one zygote (the data) per worker.

**Lifecycle.** :meth:`EvaluatorPool.drain` (on SIGTERM) refuses new queries, lets running and
waiting ones finish within a grace period and stops the rest with a 503.
:meth:`EvaluatorPool.retire` (a new dataset version) routes new queries to the successor pool,
lets this pool's queries finish, then closes it.

Usage::

    engine = open_engine(find_sources(root), load_config())
    answer = engine.run("ASK {}", media_type="application/sparql-results+json")
    engine.close()
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import math
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from bolyst.errors import (
    BolystError,
    EvaluatorCrashed,
    NotAcceptable,
    Overloaded,
    QueryRejected,
    QueryResourceExhausted,
    QuerySyntaxError,
    QueryTimeout,
)
from bolyst.load import Sources, dataset_version, display_name
from bolyst.namespaces import graph_iri
from bolyst.policy import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, QueryInfo, check_query
from bolyst.store import Answer
from bolyst.store.evaluator import Job, Outcome, Ready, command
from bolyst.store.local import open_memory_store

__all__ = ["EvaluatorPool", "PoolStats", "client_key", "open_engine"]

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds the zygote may take to load the data
FORK_TIMEOUT = 10.0  # seconds a forked evaluator may take to say it is ready
# Queries an evaluator answers before a fresh fork replaces it: what its heap gathered (the
# allocator keeps freed memory; measured: the server's memory grew 45% in 35 s of the soak)
# goes back, for the price of a fork (3-7 ms).
RECYCLE_AFTER = 500
SLICE = 0.1  # seconds between looks at a long query's CPU time and the drain deadline
_FIRST_NICE = 5  # a long query's priority, then (nice, CPU time in long_query_seconds):
_STEPS = ((10, 2.0), (19, 4.0))  # the last step adds SCHED_IDLE
RESULTS_TYPES = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
)
GRAPH_TYPES = (
    "text/turtle",
    "application/n-triples",
    "application/rdf+xml",
    "application/ld+json",
    "application/trig",
    "application/n-quads",
)


@dataclass(frozen=True)
class PoolStats:
    """How the pool started: ``seconds`` to load the data and start all evaluators."""

    evaluators: int
    triples: int
    seconds: float
    isolated: bool


def client_key(remote_addr: str | None, forwarded_for: str | None = None, hops: int = 0) -> str:
    """Who a request comes from, for the per-client limit.

    Args:
        remote_addr: the peer's address (the WSGI ``REMOTE_ADDR``).
        forwarded_for: the ``X-Forwarded-For`` header, used only when ``hops`` > 0.
        hops: how many reverse proxies of ours append to ``X-Forwarded-For`` (0: none, the
            header is the client's to invent and is ignored).

    An IPv6 client is its /64: one host is given a whole /64 and can pick any address in it.

    >>> client_key("127.0.0.1")
    '127.0.0.1'
    >>> client_key("10.0.0.1", "198.51.100.7, 203.0.113.9", hops=1)
    '203.0.113.9'
    >>> client_key("10.0.0.1", "198.51.100.7", hops=0)
    '10.0.0.1'
    >>> client_key("2001:db8:1:2:3:4:5:6")
    '2001:db8:1:2::/64'
    """
    address = remote_addr or "-"
    if hops > 0 and forwarded_for:
        chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if chain:
            address = chain[-hops] if len(chain) >= hops else chain[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class _Moved(Exception):
    """The pool was retired for a successor while a query was on its way in."""


class _Waiter:
    """A query waiting for an evaluator: :meth:`EvaluatorPool._dispatch` fills it in."""

    def __init__(self, client: str | None) -> None:
        self.client = client
        self.event = threading.Event()
        self.evaluator: _Evaluator | None = None


class _Zygote:
    """The pool's handle on the process that holds the data and forks the evaluators: its own
    (``process``), or the server's shared one, reached through a socket (``process`` None)."""

    def __init__(
        self, process: subprocess.Popen[bytes] | None, conn: Connection, log: BinaryIO | None
    ) -> None:
        self.process = process
        self.conn = conn
        self.channel = socket.socket(
            socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(conn.fileno())
        )
        self.log = log
        self.lock = threading.Lock()  # one request at a time
        self.ready: Ready | None = None

    @classmethod
    def connect(cls, path: str) -> _Zygote:
        """Reach the shared zygote listening at ``path``; raise OSError when it does not answer."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(FORK_TIMEOUT)
            sock.connect(path)
            sock.settimeout(None)
        except OSError:
            sock.close()
            raise
        zygote = cls(None, Connection(sock.detach()), None)
        try:
            ready = zygote.conn.recv() if zygote.conn.poll(FORK_TIMEOUT) else None
        except (EOFError, OSError):
            ready = None
        if not isinstance(ready, Ready):
            zygote.close()
            raise OSError(f"the shared query engine at {path} did not answer")
        zygote.ready = ready
        return zygote

    @property
    def pid(self) -> int:
        if self.process is not None:
            return self.process.pid
        assert self.ready is not None
        return self.ready.pid

    @property
    def alive(self) -> bool:
        if self.conn.closed:
            return False
        if self.process is not None:
            return self.process.poll() is None
        return _running(self.pid)

    def fork(self, log_file: BinaryIO) -> tuple[int, Connection]:
        """Fork an evaluator; return its pid and the pool's end of its socket."""
        ours, theirs = multiprocessing.Pipe()  # a socket pair
        try:
            with self.lock:
                self.conn.send(("fork",))
                socket.send_fds(self.channel, [b"F"], [theirs.fileno(), log_file.fileno()])
                if not self.conn.poll(FORK_TIMEOUT):
                    raise EOFError
                reply = self.conn.recv()
        except (EOFError, OSError) as exc:
            ours.close()
            raise EvaluatorCrashed("the query engine's zygote has gone") from exc
        finally:
            theirs.close()
        return int(reply[1]), ours

    def reap(self, pid: int, seconds: float) -> int | None:
        """Wait at most ``seconds`` for an evaluator that was killed (or that ended) to end;
        return its exit code (``None``: not yet; the zygote reaps it later)."""
        try:
            with self.lock:
                self.conn.send(("reap", pid, seconds))
                reply = self.conn.recv()
        except (EOFError, OSError):
            return None  # the zygote has gone, and its evaluators with it (PR_SET_PDEATHSIG)
        code = reply[2]
        return None if code is None else int(code)

    def close(self) -> None:
        """Stop our own zygote; leave the shared one, which kills our evaluators when our
        connection ends."""
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.kill(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                log.error("the query engine's zygote (pid %d) outlived SIGKILL", self.process.pid)
        self.channel.close()
        self.conn.close()
        if self.log is not None:
            self.log.close()

    def tail(self) -> str:
        return _tail(self.log) if self.log is not None else ""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


class _Evaluator:
    """The pool's handle on one evaluator process (a child of the zygote)."""

    def __init__(
        self, name: str, pid: int, conn: Connection, log: BinaryIO, zygote: _Zygote
    ) -> None:
        self.name = name
        self.pid = pid
        self.conn = conn
        self.log = log  # its standard output and error: an unlinked file
        self.zygote = zygote
        self.ready: Ready | None = None
        self.lowered = False  # its priority was lowered: discarded after this query
        self.stand_in = False  # a stand-in was forked for it (counted in the pool's _long)
        self.served = 0

    def signal_kill(self) -> None:
        if self.lowered:
            _restore_priority(self.pid)  # dying takes CPU too (freeing its memory)
        try:
            os.kill(self.pid, signal.SIGKILL)  # not reaped yet: the pid cannot be another's
        except ProcessLookupError:
            pass

    def kill(self, wait: float = 0.0) -> tuple[int | None, str]:
        """Stop the process; wait at most ``wait`` seconds until it has gone; return its exit
        code (``None``: still going) and the end of its log."""
        self.signal_kill()
        exitcode = self.zygote.reap(self.pid, wait)
        self.conn.close()
        tail = _tail(self.log)
        self.log.close()
        return exitcode, tail


def _tail(log_file: BinaryIO) -> str:
    try:
        size = os.fstat(log_file.fileno()).st_size
        data = os.pread(log_file.fileno(), 4096, max(0, size - 4096))
    except (OSError, ValueError):
        return ""
    return data.decode("utf-8", "replace")


class EvaluatorPool:
    """A :class:`bolyst.store.QueryEngine` that evaluates in killable child processes.

    Args:
        snapshot: the dataset as N-Quads, one named graph per source file: an open binary file
            (unlinked, say), kept by the pool and closed by :meth:`close`; or the loaded
            store, written to such a file only when the pool needs a zygote of its own.
        graphs: the named graphs of the dataset.
        union: the graphs whose union is the default graph when a query names none.
        evaluators: how many queries run at once at full priority.
        timeout: default seconds a query may run.
        max_rows: the most solutions or triples in an answer.
        memory_mb: the address space of one evaluator, data included (0: no cap).
        queue_wait: seconds a query waits for a free evaluator.
        queue_length: how many queries may wait; more are refused at once.
        client_queries: how many queries one client may run at once (and have waiting);
            default half the evaluators, at least 1.
        long_queries: how many queries running past ``long_query_seconds`` get a stand-in
            evaluator forked for the others, at once.
        long_query_seconds: the CPU time after which a query counts as long (0: never); its
            priority falls further at 2 and 4 times that.
        max_length, max_depth: the policy's limits (:func:`bolyst.policy.check_query`).
        shared: the socket of the server's shared zygote (:mod:`bolyst.store.shared`), which
            holds this dataset version already; the pool starts its own only when that one
            does not answer.
    """

    def __init__(
        self,
        snapshot: BinaryIO | ox.Store,
        graphs: Sequence[str],
        union: Sequence[str],
        *,
        evaluators: int = 2,
        timeout: float = 10.0,
        max_rows: int = 10_000,
        memory_mb: int = 1024,
        queue_wait: float = 5.0,
        queue_length: int = 64,
        client_queries: int | None = None,
        long_queries: int = 8,
        long_query_seconds: float = 0.25,
        max_length: int = DEFAULT_MAX_LENGTH,
        max_depth: int = DEFAULT_MAX_DEPTH,
        shared: str | None = None,
    ) -> None:
        if evaluators < 1:
            raise ValueError("the pool needs at least one evaluator")
        self._source = snapshot
        self.snapshot: BinaryIO | None = None if isinstance(snapshot, ox.Store) else snapshot
        self.shared = shared
        self.size = evaluators
        self.timeout = timeout
        self.max_rows = max_rows
        self.memory_mb = memory_mb
        self.queue_wait = queue_wait
        self.queue_length = queue_length
        self.client_queries = client_queries or max(1, evaluators // 2)
        self.long_queries = max(0, long_queries)
        self.long_query_seconds = long_query_seconds
        self.max_length = max_length
        self.max_depth = max_depth
        self._graphs = tuple(sorted(graphs))
        self._known = frozenset(self._graphs)
        self._union = tuple(union)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._zygote_lock = threading.Lock()  # one (re)start of the zygote at a time
        self._idle: list[_Evaluator] = []  # never beside a waiter that may take it
        self._waiters: deque[_Waiter] = deque()
        self._members: set[_Evaluator] = set()
        self._running: dict[str, int] = {}  # per client: queries holding an evaluator
        self._queued: dict[str, int] = {}  # per client: queries waiting
        self._in_flight = 0  # queries inside evaluate(), waiting ones included
        self._long = 0  # long queries with a stand-in
        self._closed = False
        self._drain_deadline: float | None = None
        self._successor: EvaluatorPool | None = None
        started = time.perf_counter()
        self._zygote = self._start_zygote()
        try:
            pending = [self._fork() for _ in range(evaluators)]
        except BaseException:
            self.close()
            raise
        self._idle.extend(pending)
        zygote_ready = self._zygote.ready
        assert zygote_ready is not None
        self.stats = PoolStats(
            evaluators,
            zygote_ready.triples,
            time.perf_counter() - started,
            zygote_ready.isolated,
        )
        log.info(
            "started %d query evaluators in %.2f s (%d triples, loaded once; network %s)",
            evaluators,
            self.stats.seconds,
            self.stats.triples,
            "isolated" if self.stats.isolated else "NOT isolated: the policy alone guards",
        )

    # --- the QueryEngine interface ---------------------------------------------------------

    def graphs(self) -> tuple[str, ...]:
        """The named graphs of the dataset, sorted."""
        return self._graphs

    def run(
        self,
        query: str,
        *,
        media_type: str,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
        base_iri: str | None = None,
        client: str | None = None,
    ) -> Answer:
        """Check ``query``, evaluate it in an evaluator and return the serialized answer.

        Args:
            query: the SPARQL query.
            media_type: the format of the answer (one pyoxigraph writes for the query's form).
            default_graphs, named_graphs: the protocol's ``default-graph-uri`` and
                ``named-graph-uri``; when either is given they are the dataset (and override
                the query's FROM clauses). Without them, the default graph is the union of the
                ontology and data graphs, and GRAPH sees every named graph.
            timeout: seconds, from now, until the answer (default: the pool's ``timeout``).
            base_iri: resolves the query's relative IRIs (e.g. the endpoint's URL).
            client: who asks (:func:`client_key`), for the per-client limit; ``None``: no limit.

        Raises:
            QueryRejected, UpdateRejected, QuerySyntaxError: the query is refused (4xx).
            NotAcceptable: ``media_type`` cannot carry this form of result.
            QueryTimeout, Overloaded, QueryResourceExhausted: 503; EvaluatorCrashed: 500.
        """
        successor = self._successor
        if successor is not None:
            return successor.run(
                query,
                media_type=media_type,
                default_graphs=default_graphs,
                named_graphs=named_graphs,
                timeout=timeout,
                base_iri=base_iri,
                client=client,
            )
        info = check_query(
            query,
            max_length=self.max_length,
            max_depth=self.max_depth,
            known_graphs=self._known,
            base_iri=base_iri,
        )
        _check_format(info, media_type)
        default, named = self._dataset(info, default_graphs, named_graphs)
        job = Job(query, media_type, default, named, self.max_rows, base_iri)
        seconds = self.timeout if timeout is None else timeout
        try:
            outcome = self.evaluate(job, timeout=seconds, client=client)
        except _Moved:
            assert self._successor is not None
            return self._successor.run(
                query,
                media_type=media_type,
                default_graphs=default_graphs,
                named_graphs=named_graphs,
                timeout=timeout,
                base_iri=base_iri,
                client=client,
            )
        return Answer(outcome.body, media_type, outcome.rows, outcome.truncated)

    def pids(self) -> tuple[int, ...]:
        """The process ids of the evaluators now running (for probes and tests)."""
        with self._lock:
            return tuple(sorted(e.pid for e in self._members if e.ready is not None))

    @property
    def zygote_pid(self) -> int:
        """The process id of the zygote (it holds the data and forks the evaluators)."""
        return self._zygote.pid

    def load(self) -> dict[str, int]:
        """What the pool is doing now: evaluators idle, busy, long, waiting queries."""
        with self._lock:
            return {
                "evaluators": len(self._members),
                "idle": len(self._idle),
                "long": self._long,
                "waiting": len(self._waiters),
                "in_flight": self._in_flight,
            }

    def close(self) -> None:
        """Stop every evaluator and the zygote, and close the snapshot. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            members = list(self._members)
            self._idle.clear()
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.event.set()
        for evaluator in members:
            evaluator.signal_kill()
        deadline = time.monotonic() + 2.0
        for evaluator in members:  # gone, and their memory given back, before we return
            evaluator.kill(max(0.0, deadline - time.monotonic()))
        zygote = getattr(self, "_zygote", None)
        if zygote is not None:
            zygote.close()
        if self.snapshot is not None:
            self.snapshot.close()

    def drain(self, grace: float) -> None:
        """Shut down softly: refuse new queries at once (503); running and waiting ones have
        ``grace`` seconds more at most, then they are stopped with a 503 too."""
        with self._lock:
            deadline = time.monotonic() + grace
            if self._drain_deadline is None or deadline < self._drain_deadline:
                self._drain_deadline = deadline
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.event.set()  # to look at the new deadline

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no query is in the pool; return whether that happened in time."""
        deadline = time.monotonic() + timeout
        while self._in_flight > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def retire(self, successor: EvaluatorPool, *, timeout: float | None = None) -> None:
        """Hand over to ``successor`` (a new dataset version): new queries go there at once;
        those already here finish here; then this pool closes (in the background)."""
        with self._lock:
            self._successor = successor
        limit = (self.timeout + 1.0) if timeout is None else timeout

        def close_when_idle() -> None:
            if not self.wait_idle(limit):
                log.warning("closing the previous query engine with queries still running")
            self.close()

        threading.Thread(target=close_when_idle, name="bolyst-retire", daemon=True).start()

    # --- below the policy --------------------------------------------------------------------

    def evaluate(self, job: Job, *, timeout: float, client: str | None = None) -> Outcome:
        """Run ``job`` in an idle evaluator, bypassing the policy (for tests and trusted code).

        Args:
            job: what to evaluate.
            timeout: seconds until the answer, waiting for an evaluator included; then the
                evaluator is killed and replaced.
            client: who asks, for the per-client limit (``None``: no limit).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._in_flight += 1
        try:
            for attempt in (1, 2):
                evaluator = self._borrow(deadline, client)
                try:
                    cpu_at_start = _cpu_seconds(evaluator.pid) if self.long_query_seconds else 0.0
                    try:
                        evaluator.conn.send(job)
                    except OSError:
                        # It died while idle (the OOM killer?): not this query's fault.
                        self._discard(evaluator, ended=True)
                        if attempt == 2:
                            raise EvaluatorCrashed("the query evaluators keep failing") from None
                        continue
                    return self._await_outcome(evaluator, deadline, timeout, cpu_at_start)
                finally:
                    self._client_done(client)
            raise AssertionError("unreachable")
        finally:
            with self._lock:
                self._in_flight -= 1

    def _await_outcome(
        self, evaluator: _Evaluator, deadline: float, timeout: float, cpu_at_start: float
    ) -> Outcome:
        unit = self.long_query_seconds
        # CPU seconds after which the priority steps down; the first step makes the query long.
        steps = [(_FIRST_NICE, unit), *((nice, unit * factor) for nice, factor in _STEPS)]
        look_at = time.monotonic() + unit / 2 if unit > 0 else math.inf
        while True:
            now = time.monotonic()
            drain = self._drain_deadline
            until = deadline if drain is None else min(deadline, drain)
            try:
                answered = evaluator.conn.poll(max(0.0, min(until, look_at) - now))
                outcome = evaluator.conn.recv() if answered else None
            except (EOFError, OSError):
                exitcode, tail = self._discard(evaluator, ended=True)
                raise self._death(exitcode, tail) from None
            if outcome is not None:
                break
            now = time.monotonic()
            if now >= until:
                self._discard(evaluator)
                if drain is not None and drain < deadline:
                    raise Overloaded(
                        "the server is shutting down; the query was stopped", retry_after=2
                    )
                raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped")
            if now >= look_at:
                look_at = now + SLICE  # (also how soon a drain is seen)
                if evaluator.lowered and not evaluator.stand_in:
                    self._stand_in(evaluator)  # one may have come free
                used = _cpu_seconds(evaluator.pid) - cpu_at_start if steps else 0.0
                while steps and used >= steps[0][1]:
                    nice, _ = steps.pop(0)
                    if not evaluator.lowered:
                        self._make_long(evaluator)
                    else:
                        _lower_priority(evaluator.pid, nice, idle=not steps)
        assert isinstance(outcome, Outcome)
        evaluator.served += 1
        if outcome.retire or evaluator.lowered or evaluator.served >= RECYCLE_AFTER:
            self._discard(evaluator)
        else:
            self._give_back(evaluator)
        if outcome.error is not None:
            raise self._failure(outcome)
        return outcome

    def _make_long(self, evaluator: _Evaluator) -> None:
        """Lower the priority of a query that runs long; fork a stand-in while allowed."""
        with self._lock:
            if self._closed:
                return
            evaluator.lowered = True
        _lower_priority(evaluator.pid, _FIRST_NICE)
        if not self._stand_in(evaluator):
            log.info(
                "%d long queries have stand-ins: one more holds an evaluator of the %d for now",
                self.long_queries,
                self.size,
            )

    def _stand_in(self, evaluator: _Evaluator) -> bool:
        """Fork a stand-in for a long query's evaluator, if fewer than ``long_queries`` have."""
        with self._lock:
            if self._closed or self._long >= self.long_queries:
                return False
            self._long += 1
            evaluator.stand_in = True
        self._refill_later()
        return True

    def _dataset(
        self, info: QueryInfo, default_graphs: Sequence[str], named_graphs: Sequence[str]
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        if default_graphs or named_graphs:
            unknown = [g for g in (*default_graphs, *named_graphs) if g not in self._known]
            if unknown:
                raise QueryRejected(f"<{unknown[0]}> is not a graph of this dataset")
            return tuple(default_graphs), tuple(named_graphs)
        if info.has_dataset:
            return None, None  # the query's FROM / FROM NAMED, over our named graphs
        return self._union, None

    def _failure(self, outcome: Outcome) -> BolystError:
        if outcome.error == "syntax":
            where = f"line {outcome.line}, column {outcome.column}: " if outcome.line else ""
            message = outcome.message.split(": ", 1)[-1] if where else outcome.message
            return QuerySyntaxError(f"{where}{message}", line=outcome.line, column=outcome.column)
        if outcome.error == "memory":
            return QueryResourceExhausted(self._memory_text())
        return BolystError(f"the query failed: {outcome.message}")

    def _memory_text(self) -> str:
        return f"the query needed more than the {self.memory_mb} MB an evaluator may use"

    def _death(self, exitcode: int | None, tail: str) -> BolystError:
        if self._closed:
            return Overloaded("the query engine is shutting down")
        if "memory allocation of" in tail or "MemoryError" in tail:
            return QueryResourceExhausted(self._memory_text())
        cause = f"exit status {exitcode}"
        if exitcode is not None and exitcode < 0:
            try:
                name = signal.Signals(-exitcode).name
            except ValueError:
                name = f"signal {-exitcode}"
            cause = {"SIGSEGV": "a segmentation fault", "SIGKILL": "SIGKILL"}.get(name, name)
            if name == "SIGKILL":  # not ours (we kill only at the deadline): the OOM killer
                return QueryResourceExhausted(self._memory_text())
        return EvaluatorCrashed(
            f"the query evaluator crashed ({cause}) on this query; it has been replaced"
        )

    # --- admission ---------------------------------------------------------------------------

    def _borrow(self, deadline: float, client: str | None) -> _Evaluator:
        """Take an idle evaluator, or queue for one (first come, first served)."""
        with self._lock:
            self._check_open()
            running = waiting = 0
            if client is not None:
                running, waiting = self._running.get(client, 0), self._queued.get(client, 0)
                if running + waiting >= 2 * self.client_queries:
                    raise Overloaded(
                        f"you have {running} queries running and {waiting} waiting here "
                        f"already; one client may run {self.client_queries} at once: wait "
                        "for their answers",
                        retry_after=5,
                    )
            if running < self.client_queries and self._idle:
                self._take(client)
                return self._idle.pop()
            if len(self._waiters) >= self.queue_length:
                raise Overloaded(
                    f"all {self.size} query evaluators are busy and {len(self._waiters)} "
                    "queries are waiting; try again shortly"
                )
            waiter = _Waiter(client)
            self._waiters.append(waiter)
            if client is not None:
                self._queued[client] = self._queued.get(client, 0) + 1
        queued = time.monotonic()
        limit = min(deadline, queued + self.queue_wait)
        while True:
            drain = self._drain_deadline
            until = limit if drain is None else min(limit, drain)
            woken = waiter.event.wait(max(0.0, until - time.monotonic()))
            with self._lock:
                if waiter.evaluator is not None:  # handed over, perhaps just as the wait ended
                    return waiter.evaluator
                if woken and not self._closed and time.monotonic() < until:
                    waiter.event.clear()  # drain() moved the deadline: look again
                    continue
                self._waiters.remove(waiter)
                self._unqueue(client)
                self._check_open()
                if drain is not None:
                    raise Overloaded("the server is shutting down; try again shortly")
                running = self._running.get(client, 0) if client is not None else 0
            break
        waited = time.monotonic() - queued
        if running >= self.client_queries:
            raise Overloaded(
                f"you have {running} queries running here, and this one waited {waited:.1f} s "
                f"for them; one client may run {self.client_queries} at once: wait for their "
                "answers",
                retry_after=5,
            )
        raise Overloaded(
            f"all {self.size} query evaluators stayed busy for {waited:.1f} s; try again shortly"
        )

    def _check_open(self) -> None:
        """Refuse a new query when the pool is closed or draining (hold the lock)."""
        if self._successor is not None and self._closed:
            raise _Moved
        if self._closed or self._drain_deadline is not None:
            raise Overloaded("the query engine is shutting down; try again shortly")

    def _take(self, client: str | None) -> None:
        if client is not None:
            self._running[client] = self._running.get(client, 0) + 1

    def _unqueue(self, client: str | None) -> None:
        if client is not None:
            left = self._queued.get(client, 0) - 1
            if left > 0:
                self._queued[client] = left
            else:
                self._queued.pop(client, None)

    def _client_done(self, client: str | None) -> None:
        with self._lock:
            if client is not None:
                left = self._running.get(client, 0) - 1
                if left > 0:
                    self._running[client] = left
                else:
                    self._running.pop(client, None)
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle evaluators to the longest waiting queries whose client may run one more
        (hold the lock).

        A direct hand-over, not a notify: otherwise a thread that just gave an evaluator back
        takes it again before the woken waiter runs, and under load some waiters starve (seen:
        503s after 2 s of waiting at 8 clients on 2 evaluators).
        """
        while self._idle and self._waiters:
            chosen = None
            for waiter in self._waiters:
                client = waiter.client
                if client is None or self._running.get(client, 0) < self.client_queries:
                    chosen = waiter
                    break
            if chosen is None:
                return
            self._waiters.remove(chosen)
            self._unqueue(chosen.client)
            self._take(chosen.client)
            chosen.evaluator = self._idle.pop()
            chosen.event.set()

    # --- the evaluators ----------------------------------------------------------------------

    def _start_zygote(self) -> _Zygote:
        if self.shared:
            try:
                return _Zygote.connect(self.shared)
            except OSError as exc:
                log.error("%s: starting a query engine of this worker's own", exc)
                self.shared = None  # gone for good: the server that started it has
        parent, child = multiprocessing.Pipe()  # a socket pair
        log_file = tempfile.TemporaryFile(prefix="bolyst-zygote-")
        snapshot = self._snapshot().fileno()
        try:
            process = subprocess.Popen(
                command(child.fileno(), snapshot, self.memory_mb),
                pass_fds=(child.fileno(), snapshot),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # Ctrl-C on the terminal is the server's to handle
            )
        except BaseException:
            parent.close()
            log_file.close()
            raise
        finally:
            child.close()  # so that the parent's end sees EOF when the child dies
        zygote = _Zygote(process, parent, log_file)
        try:
            ok = parent.poll(START_TIMEOUT)
            ready = parent.recv() if ok else None
        except (EOFError, OSError):
            ready = None
        if not isinstance(ready, Ready):
            zygote.close()
            try:
                code = process.wait(1)
            except subprocess.TimeoutExpired:
                code = None
            raise EvaluatorCrashed(
                f"the query engine did not start (exit status {code}): {zygote.tail()[-500:]}"
            )
        zygote.ready = ready
        return zygote

    def _snapshot(self) -> BinaryIO:
        """The N-Quads a zygote of our own loads, written from the store the first time."""
        if self.snapshot is None:
            assert isinstance(self._source, ox.Store)
            self.snapshot = dump_snapshot(self._source)
        return self.snapshot

    def _fork(self) -> _Evaluator:
        """Fork an evaluator from the zygote (restarting the zygote if it died) and wait."""
        zygote = self._zygote
        if not zygote.alive:
            with self._zygote_lock:
                if self._closed:
                    raise Overloaded("the query engine is shutting down")
                if self._zygote is zygote:
                    log.error("the query engine's zygote died: %s", zygote.tail().strip())
                    zygote.close()
                    self._zygote = self._start_zygote()
                zygote = self._zygote
        log_file = tempfile.TemporaryFile(prefix="bolyst-evaluator-")
        try:
            pid, conn = zygote.fork(log_file)
        except BaseException:
            log_file.close()
            raise
        evaluator = _Evaluator(f"evaluator-{next(self._numbers)}", pid, conn, log_file, zygote)
        with self._lock:
            self._members.add(evaluator)
        try:
            ok = conn.poll(FORK_TIMEOUT)
            ready = conn.recv() if ok else None
        except (EOFError, OSError):
            ready = None
        if not isinstance(ready, Ready):
            exitcode, tail = evaluator.kill()
            with self._lock:
                self._members.discard(evaluator)
            raise EvaluatorCrashed(
                f"a query evaluator did not start (exit status {exitcode}): {tail.strip()[-500:]}"
            )
        evaluator.ready = ready
        return evaluator

    def _give_back(self, evaluator: _Evaluator) -> None:
        """Make ``evaluator`` idle (or kill it, when the pool was closed meanwhile)."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._idle.append(evaluator)
                self._dispatch()
        if closed:
            evaluator.kill()

    def _discard(self, evaluator: _Evaluator, *, ended: bool = False) -> tuple[int | None, str]:
        """Kill ``evaluator`` and, unless it had a stand-in, fork another; return how it ended
        (the exit code only when it ``ended`` by itself)."""
        exitcode, tail = evaluator.kill(1.0 if ended else 0.0)  # ended: to say why
        with self._lock:
            self._members.discard(evaluator)
            closed = self._closed
            if evaluator.stand_in:
                self._long -= 1
        if tail.strip() and not closed:
            log.warning("query evaluator %s ended: %s", evaluator.name, tail.strip())
        if not closed and not evaluator.stand_in:
            self._refill_later()
        return exitcode, tail

    def _refill_later(self) -> None:
        threading.Thread(target=self._refill, name="bolyst-refill", daemon=True).start()

    def _refill(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                evaluator = self._fork()
            except Exception:
                if self._closed:
                    return
                log.exception("could not start a query evaluator; retrying in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._give_back(evaluator)  # (or kills it, when close() ran while it started)
            return


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


def _lower_priority(pid: int, nice: int, *, idle: bool = False) -> None:
    """Set every thread of process ``pid`` to ``nice`` (per thread on Linux), and with ``idle``
    to ``SCHED_IDLE`` too: it runs only when nothing else wants a CPU. Only where the priority
    can be raised again before the process is killed (root, or RLIMIT_NICE): a process dying
    at SCHED_IDLE on a busy machine would hold its memory for as long as the machine is busy.
    """
    for tid in _threads(pid):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            pass
        if idle and _CAN_RESTORE and hasattr(os, "SCHED_IDLE"):
            try:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            except OSError:
                pass


def _restore_priority(pid: int) -> None:
    """Undo :func:`_lower_priority` where allowed (before a kill: dying takes CPU too)."""
    if not _CAN_RESTORE:
        return
    for tid in _threads(pid):
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, tid, 0)
        except OSError:
            pass


def _can_restore() -> bool:
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20
    except (AttributeError, OSError):
        return False


_CAN_RESTORE = _can_restore()


_CLOCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """The CPU time process ``pid`` has used (user + system, all threads)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK


def _check_format(info: QueryInfo, media_type: str) -> None:
    if info.form in ("SELECT", "ASK"):
        if ox.QueryResultsFormat.from_media_type(media_type) is None:
            raise NotAcceptable(
                f"{info.form} results cannot be written as {media_type}", RESULTS_TYPES
            )
    elif ox.RdfFormat.from_media_type(media_type) is None:
        raise NotAcceptable(f"{info.form} results cannot be written as {media_type}", GRAPH_TYPES)


def open_engine(
    sources: Sources, settings: Mapping[str, Any], store: ox.Store | None = None
) -> EvaluatorPool:
    """Start the query engine over a repository's files.

    Args:
        sources: the files (:func:`bolyst.load.find_sources`).
        settings: QUERY_TIMEOUT, MAX_QUERY_LENGTH, MAX_DEPTH, MAX_ROWS, EVALUATORS,
            QUERY_MEMORY_MB, QUEUE_WAIT, QUEUE_LENGTH, CLIENT_QUERIES, LONG_QUERIES,
            LONG_QUERY_SECONDS (:mod:`bolyst.config`; defaults apply).
        store: the files already loaded (one named graph per file), to save loading them again.
    """
    files = (*sources.ontology, *sources.data, *sources.shapes)
    shared = str(settings.get("ZYGOTE") or "")
    if shared and settings.get("ZYGOTE_VERSION") != dataset_version(sources):
        shared = ""  # a newer version than the server started with: a zygote of our own
    if store is None:
        store, _ = open_memory_store(files, sources.root)
    # The shared zygote holds the data already; otherwise one frozen copy for our zygote, also
    # one started again later: all see one version.
    source: BinaryIO | ox.Store = store if shared else dump_snapshot(store)
    try:
        return EvaluatorPool(
            source,
            graphs=_graphs(files, sources.root),
            union=_graphs((*sources.ontology, *sources.data), sources.root),
            evaluators=int(settings.get("EVALUATORS", 2)),
            timeout=float(settings.get("QUERY_TIMEOUT", 10.0)),
            max_rows=int(settings.get("MAX_ROWS", 10_000)),
            memory_mb=int(settings.get("QUERY_MEMORY_MB", 1024)),
            queue_wait=float(settings.get("QUEUE_WAIT", 5.0)),
            queue_length=int(settings.get("QUEUE_LENGTH", 64)),
            client_queries=int(settings.get("CLIENT_QUERIES", 0)) or None,
            long_queries=int(settings.get("LONG_QUERIES", 8)),
            long_query_seconds=float(settings.get("LONG_QUERY_SECONDS", 0.25)),
            max_length=int(settings.get("MAX_QUERY_LENGTH", DEFAULT_MAX_LENGTH)),
            max_depth=int(settings.get("MAX_DEPTH", DEFAULT_MAX_DEPTH)),
            shared=shared or None,
        )
    except BaseException:
        if not isinstance(source, ox.Store):
            source.close()
        raise


def dump_snapshot(store: ox.Store) -> BinaryIO:
    """The store as N-Quads in an unlinked file: no folder to remove, even after a SIGKILL."""
    snapshot = tempfile.TemporaryFile(prefix="bolyst-dataset-")
    try:
        store.dump(snapshot, format=ox.RdfFormat.N_QUADS)
        snapshot.flush()
    except BaseException:
        snapshot.close()
        raise
    return snapshot


def describe_bounds(settings: Mapping[str, Any]) -> list[str]:
    """The server-wide bounds of the settings (W workers, each with its own pool), and a
    warning when the evaluators could use more memory than the machine has available."""
    workers = int(settings.get("WORKERS", 2))
    evaluators = int(settings.get("EVALUATORS", 2))
    long_queries = int(settings.get("LONG_QUERIES", 8))
    client = int(settings.get("CLIENT_QUERIES", 0) or 0) or max(1, evaluators // 2)
    memory = int(settings.get("QUERY_MEMORY_MB", 1024))
    most = workers * (evaluators + long_queries) * memory
    lines = [
        f"admission: {workers} workers x {evaluators} evaluators = {workers * evaluators} "
        f"queries at once (+{workers * long_queries} stand-ins for long ones), "
        f"{workers * int(settings.get('QUEUE_LENGTH', 64))} waiting at most "
        f"{float(settings.get('QUEUE_WAIT', 5.0)):g} s, {workers * client} at once for one client",
        f"memory: evaluators capped at {memory} MB each, {most:,} MB at most in all",
    ]
    available = _available_mb()
    if memory > 0 and available is not None and most > available:
        lines.append(
            f"warning: the evaluators may take {most:,} MB but {available:,} MB are available: "
            "lower QUERY_MEMORY_MB, EVALUATORS, LONG_QUERIES or WORKERS"
        )
    return lines


def _available_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _graphs(files: Collection[Path], root: Path) -> tuple[str, ...]:
    return tuple(graph_iri(display_name(path, root)) for path in files)
