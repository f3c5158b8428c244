"""The evaluators: child processes that hold the dataset and answer one query at a time.

:mod:`bolyst.store.pool` starts one **zygote** per dataset version and asks it for evaluators;
it kills an evaluator at the deadline. Here is what runs inside them (issue 9):

- the zygote reads the data from an N-Quads snapshot (an unlinked file the pool hands over as an
  open descriptor: nothing to clean up, even after a SIGKILL) into an in-memory pyoxigraph store,
  once, on its only thread;
- then it forks an evaluator whenever the pool asks for one. A fork shares the loaded store
  copy-on-write: measured with 105k triples, loading took 0.54 s of CPU and 130 MB per process,
  a fork 3-7 ms and next to no memory. So an evaluator killed at the deadline is replaced at
  once and for free, even while other queries saturate the CPU, and the memory a killed query
  took (its private pages) is given back with it;
- the zygote leaves the network first where the kernel allows it (new user and network
  namespaces: no interface but a loopback that is down); its evaluators inherit that, so not
  even a query that slipped past :mod:`bolyst.policy` could reach a socket (pyoxigraph does
  HTTP for ``SERVICE``);
- an evaluator's address space is capped (``RLIMIT_AS``), so a query that grows makes
  pyoxigraph abort ("memory allocation of N bytes failed", SIGABRT) instead of the machine
  running short; should the machine run short all the same (more evaluators than memory),
  evaluators are the out-of-memory killer's first victims (``oom_score_adj`` 1000), never the
  HTTP workers;
- evaluators die with the zygote (``PR_SET_PDEATHSIG``), and the zygote exits within half a
  second when the pool's process has gone, even while its evaluators are busy;
- queries run on a thread with a large stack: pyoxigraph's parser and optimizer recurse once
  per element of a long flat chain (``1+1+...``, ``{} UNION {} ...``). With the default 8 MB
  they crash at about 8,000 terms (16 KB of text); with 128 MB no query of 64 KB crashed;
- results are serialized here, with pyoxigraph, so only bytes cross the pipe. A result longer
  than the row cap is cut and re-serialized, so the document is complete and valid.

The zygote's protocol (a socket pair; pickled tuples, and descriptors passed with
``SCM_RIGHTS``): ``("fork",)`` with two descriptors (the evaluator's end of its socket pair and
its log file) answers ``("forked", pid)``; ``("reap", pid, seconds)`` waits at most that long
for that evaluator to end and answers ``("reaped", pid, returncode)`` (negative: the signal
that ended it; ``None``: not ended yet, it is reaped later without a word). The pool asks only
once it has killed an evaluator or seen its end, and never signals it after, so a pid the
kernel gives to another process is never signalled. The pool does not wait for a killed
evaluator to give its memory back (that is the dying process's own work, and at a low priority
under load it takes a while); it is gone soon after, and never runs another instruction.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Any

import pyoxigraph as ox

from bolyst.namespaces import PREFIXES

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
MAX_STACK_MB = 128
OOM_SCORE_ADJ = 1000  # the out-of-memory killer's first choice (raising it needs no privilege)
# The formats in which a prefix map makes the answer shorter and easier to read.
_PREFIXED = (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.N3, ox.RdfFormat.RDF_XML)


@dataclass(frozen=True)
class Job:
    """One query for an evaluator.

    Attributes:
        query: the query text (already checked by :func:`bolyst.policy.check_query`).
        media_type: the format of the answer.
        default_graphs: the graphs whose union is the default graph, or ``None`` for the
            query's own FROM clauses.
        named_graphs: the graphs ``GRAPH`` may match, or ``None`` for all of them (or the
            query's own FROM NAMED clauses when ``default_graphs`` is ``None`` as well).
        max_rows: the most solutions or triples an answer may have.
        base_iri: resolves relative IRIs in the query (``None``: they are an error).
    """

    query: str
    media_type: str
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    max_rows: int = 10_000
    base_iri: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an evaluator sends back: a serialized answer, or the reason there is none.

    ``error`` is ``None`` (an answer), ``"syntax"``, ``"memory"`` or ``"failed"``; ``retire``
    asks the pool to replace this evaluator (after a MemoryError its state is suspect).
    """

    body: bytes = b""
    rows: int | None = None
    truncated: bool = False
    error: str | None = None
    message: str = ""
    line: int | None = None
    column: int | None = None
    retire: bool = False


@dataclass(frozen=True)
class Ready:
    """The first message of a zygote (it holds the data) and of each evaluator it forks."""

    pid: int
    triples: int
    seconds: float
    isolated: bool


def command(conn_fd: int, snapshot_fd: int, memory_mb: int) -> list[str]:
    """The command line of a zygote: its socket, the snapshot (open descriptors), the cap."""
    code = "import sys; from bolyst.store.evaluator import cli; cli(sys.argv[1:])"
    return [sys.executable, "-c", code, str(conn_fd), str(snapshot_fd), str(memory_mb)]


def cli(argv: list[str]) -> None:
    """Run a zygote from its command line: ``CONN_FD SNAPSHOT_FD MEMORY_MB``."""
    conn_fd, snapshot_fd, memory_mb = (int(arg) for arg in argv)
    zygote(Connection(conn_fd), snapshot_fd, memory_mb)


def zygote(conn: Connection, snapshot: int, memory_mb: int) -> None:
    """Load the data, then fork evaluators on request until the pool goes away.

    Args:
        conn: the zygote's end of its socket to the pool.
        snapshot: an open descriptor of the dataset's N-Quads (read with pread: the offset is
            shared with other zygotes).
        memory_mb: the cap on each evaluator's address space, in MiB (0: none).
    """
    started = time.perf_counter()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; it stops us
    name_process(b"bolyst-zygote")
    parent = os.getppid()
    data = _read_all(snapshot)
    os.close(snapshot)
    isolated = isolate_network()  # one thread only: unshare() refuses threaded callers
    store = ox.Store()
    store.load(data, format=ox.RdfFormat.N_QUADS)
    del data
    ready = Ready(os.getpid(), len(store), time.perf_counter() - started, isolated)
    conn.send(ready)
    _Forks(store, ready, memory_mb, parent).serve([conn], None)


def shared_zygote(store: ox.Store, listener: socket.socket, memory_mb: int) -> None:
    """Fork evaluators for every pool that connects to ``listener``; never returns.

    Run in a child forked from ``bolyst serve`` before it starts its HTTP workers (and any
    thread): the data it loaded is shared copy-on-write with this zygote, its evaluators and
    the workers, so a server holds one copy of the dataset however many workers it has. Each
    worker's pool connects once; when a connection ends (the worker died or closed its pool),
    the evaluators forked for it are killed. It exits when ``bolyst serve`` has gone.
    """
    started = time.perf_counter()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name_process(b"bolyst-zygote")
    # The server stops on SIGTERM only once its workers have answered the queries in flight,
    # which need us till then; we go when the server has gone (and our evaluators with us).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    isolated = isolate_network()  # a fresh fork has one thread, as unshare() requires
    ready = Ready(os.getpid(), len(store), time.perf_counter() - started, isolated)
    try:
        _Forks(store, ready, memory_mb, parent).serve([], listener)
    finally:
        os._exit(0)


class _Forks:
    """A zygote's loop: fork and reap evaluators for the pools on its connections.

    Never a second thread here: fork() copies only the calling one.
    """

    def __init__(self, store: ox.Store, ready: Ready, memory_mb: int, parent: int) -> None:
        self.store = store
        self.ready = ready
        self.memory_mb = memory_mb
        self.parent = parent
        self.owned: dict[Connection, set[int]] = {}  # the evaluators forked for each pool
        self.channels: dict[Connection, socket.socket] = {}
        self.dying: set[int] = set()  # killed, to reap when they are gone
        self.listener: socket.socket | None = None

    def serve(self, conns: list[Connection], listener: socket.socket | None) -> None:
        """Answer the pools until the only one has gone (no ``listener``) or our parent has."""
        self.listener = listener
        for conn in conns:
            self._add(conn)
        while True:
            waitables: list[Any] = list(self.owned)
            if listener is not None:
                waitables.append(listener)
            ready = wait(waitables, 0.05 if self.dying else 0.5)
            if os.getppid() != self.parent:
                os._exit(1)  # the server (or the pool's process) has gone
            self.dying = {pid for pid in self.dying if _reap(pid, 0.0) is None}
            for item in ready:
                if item is listener:
                    self._accept(listener)
                    continue
                assert isinstance(item, Connection)
                if not self._answer(item) and listener is None:
                    os._exit(0)  # a private zygote ends with its pool

    def _add(self, conn: Connection) -> None:
        self.owned[conn] = set()
        self.channels[conn] = socket.socket(
            socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(conn.fileno())
        )

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        conn = Connection(sock.detach())
        try:
            conn.send(self.ready)
        except OSError:
            conn.close()
            return
        self._add(conn)

    def _answer(self, conn: Connection) -> bool:
        """Serve one request of ``conn``; False when the pool has gone (its evaluators too)."""
        try:
            request = conn.recv()
        except (EOFError, OSError):
            request = None
        if not isinstance(request, tuple) or not request:
            self._drop(conn)
            return False
        try:
            if request[0] == "fork":
                _, fds, _, _ = socket.recv_fds(self.channels[conn], 1, 2)
                evaluator_fd, log_fd = fds
                pid = os.fork()
                if pid == 0:
                    if self.listener is not None:
                        self.listener.close()
                    for other in self.owned:
                        self.channels[other].close()
                        other.close()
                    _evaluator(evaluator_fd, log_fd, self.store, self.ready, self.memory_mb)
                os.close(evaluator_fd)
                os.close(log_fd)
                self.owned[conn].add(pid)
                conn.send(("forked", pid))
            elif request[0] == "reap":
                pid = int(request[1])
                code = _reap(pid, float(request[2]))
                if code is None:
                    self.dying.add(pid)
                self.owned[conn].discard(pid)
                conn.send(("reaped", pid, code))
        except (EOFError, OSError, ValueError):
            self._drop(conn)
            return False
        return True

    def _drop(self, conn: Connection) -> None:
        for pid in self.owned.pop(conn, set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            self.dying.add(pid)
        channel = self.channels.pop(conn, None)
        if channel is not None:
            channel.close()
        conn.close()


def name_process(name: bytes) -> None:
    """Name this process (``ps -o comm``, /proc/PID/comm) for the people who look at it."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _reap(pid: int, seconds: float) -> int | None:
    """Wait at most ``seconds`` for child ``pid`` to end; its exit code, or None."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return 0  # not ours (any more): nothing to wait for
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.002)


def _evaluator(conn_fd: int, log_fd: int, store: ox.Store, zygote: Ready, memory_mb: int) -> None:
    """Run one evaluator, in a child just forked from the zygote; never returns."""
    started = time.perf_counter()
    name_process(b"bolyst-eval")
    try:
        zygote_pid = os.getppid()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != zygote_pid:  # the zygote died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass
    try:  # when memory runs short all the same, the kernel kills an evaluator, not the server
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as score:
            score.write(str(OOM_SCORE_ADJ))
    except OSError:
        pass
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    if memory_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (min(limit, hard) if hard >= 0 else limit, hard))
    stack_mb = MAX_STACK_MB if memory_mb <= 0 else max(16, min(MAX_STACK_MB, memory_mb // 4))
    threading.stack_size(stack_mb << 20)
    conn = Connection(conn_fd)
    ready = Ready(os.getpid(), zygote.triples, time.perf_counter() - started, zygote.isolated)
    worker = threading.Thread(
        target=_serve, args=(conn, store, ready), name="evaluator", daemon=True
    )
    worker.start()
    worker.join()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: nothing is left to save


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def isolate_network() -> bool:
    """Leave the network: move this process into new user and network namespaces.

    Returns whether it worked (Linux with unprivileged user namespaces, or root). Call it
    while the process has one thread.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (CLONE_NEWUSER | CLONE_NEWNET, CLONE_NEWNET):
            if libc.unshare(flags) == 0:
                return True
    except (OSError, AttributeError):
        pass
    return False


def _serve(conn: Connection, store: ox.Store, ready: Ready) -> None:
    conn.send(ready)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the pool has gone
        if job is None:
            return
        outcome = evaluate(store, job)
        try:
            conn.send(outcome)
        except (OSError, ValueError):
            return
        if outcome.retire:
            return


def evaluate(store: ox.Store, job: Job) -> Outcome:
    """Run ``job`` on ``store`` and serialize the answer; turn failures into an Outcome."""
    try:
        kwargs: dict[str, object] = {"base_iri": job.base_iri}
        if job.default_graphs is not None:
            kwargs["default_graph"] = _nodes(job.default_graphs)
        if job.named_graphs is not None:
            kwargs["named_graphs"] = _nodes(job.named_graphs)
        result = store.query(job.query, **kwargs)  # type: ignore[arg-type]
        if isinstance(result, ox.QueryBoolean):
            body = result.serialize(format=_results_format(job.media_type))
            return Outcome(body=body or b"", rows=None)
        if isinstance(result, ox.QuerySolutions):
            return _solutions(result, _results_format(job.media_type), job.max_rows)
        return _triples(result, _rdf_format(job.media_type), job.max_rows)
    except SyntaxError as exc:
        line, column = _position(exc.msg)
        return Outcome(error="syntax", message=exc.msg, line=line, column=column)
    except MemoryError:
        return Outcome(error="memory", message="out of memory", retire=True)
    except Exception as exc:  # pyoxigraph's evaluation errors have assorted types
        return Outcome(error="failed", message=f"{type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=64)
def _nodes(iris: tuple[str, ...]) -> list[ox.NamedNode]:
    return [ox.NamedNode(iri) for iri in iris]


def _results_format(media_type: str) -> ox.QueryResultsFormat:
    found = ox.QueryResultsFormat.from_media_type(media_type)
    if found is None:
        raise ValueError(f"no SPARQL results format for {media_type}")
    return found


def _rdf_format(media_type: str) -> ox.RdfFormat:
    found = ox.RdfFormat.from_media_type(media_type)
    if found is None:
        raise ValueError(f"no RDF format for {media_type}")
    return found


def _position(message: str) -> tuple[int | None, int | None]:
    """Read "error at LINE:COLUMN: ..." (pyoxigraph's syntax errors)."""
    head, _, _ = message.partition(": ")
    if head.startswith("error at "):
        line, _, column = head.removeprefix("error at ").partition(":")
        if line.isdigit() and column.isdigit():
            return int(line), int(column)
    return None, None


def _solutions(result: ox.QuerySolutions, fmt: ox.QueryResultsFormat, cap: int) -> Outcome:
    """Serialize at most ``cap`` solutions.

    pyoxigraph can serialize only a whole QuerySolutions, and it cannot build one from a list.
    So the first ``cap`` solutions are written as SPARQL TSV (terms in N-Triples syntax, with
    tabs and newlines escaped), parsed back by pyoxigraph and serialized in the asked format.
    """
    header = "\t".join("?" + variable.value for variable in result.variables)
    lines = [header]
    truncated = False
    for solution in result:
        if len(lines) > cap:
            truncated = True
            break
        lines.append("\t".join(_term(term) for term in solution))
    rows = len(lines) - 1
    parsed = ox.parse_query_results("\n".join(lines) + "\n", ox.QueryResultsFormat.TSV)
    return Outcome(body=parsed.serialize(format=fmt) or b"", rows=rows, truncated=truncated)


def _term(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Triple):  # str() of a triple term lacks the <<( )>> around it
        return f"<<( {term} )>>"
    return str(term)


def _triples(result: Iterable[ox.Triple], fmt: ox.RdfFormat, cap: int) -> Outcome:
    triples = list(islice(result, cap + 1))
    truncated = len(triples) > cap
    del triples[cap:]
    prefixes = _used_prefixes(triples) if fmt in _PREFIXED else None
    if fmt.supports_datasets:  # N-Quads and TriG take quads: the default graph
        quads = [ox.Quad(t.subject, t.predicate, t.object) for t in triples]
        body = ox.serialize(quads, format=fmt, prefixes=prefixes)
    else:
        body = ox.serialize(triples, format=fmt, prefixes=prefixes)
    return Outcome(body=body or b"", rows=len(triples), truncated=truncated)


def _used_prefixes(triples: Iterable[ox.Triple]) -> dict[str, str]:
    """Our prefixes whose namespace one of the triples' IRIs is in (namespaces end in / or #)."""
    spaces: set[str] = set()
    for triple in triples:
        for term in (triple.subject, triple.predicate, triple.object):
            if isinstance(term, ox.NamedNode):
                value = term.value
                cut = max(value.rfind("/"), value.rfind("#"))
                spaces.add(value[: cut + 1])
    return {prefix: space for prefix, space in PREFIXES.items() if space in spaces}
