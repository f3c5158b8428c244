"""The real server's lifecycle and crash containment, over HTTP (issue 9).

Each test starts ``bolyst serve`` (granian) on a loopback port over a tiny root of its own and
stops it: SIGTERM finishes the requests in flight and exits within seconds; a new version of the
data files is swapped in under load without a failed request; hostile queries are refused
before they reach the engine; an evaluator that dies costs its request a 500 that names the
cause, and the server keeps answering; ``/healthz`` does not need a free evaluator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import requests.adapters

pytestmark = pytest.mark.server

ID = "https://w3id.org/bolyst/id/"
NAME = "https://w3id.org/bolyst/ontology#name"
JSON = "application/sparql-results+json"
FILES = {
    "ontology/o.ttl": "<https://w3id.org/bolyst/ontology#Thing> a "
    "<http://www.w3.org/2002/07/owl#Class> .\n",
    "data/x.ttl": f'<{ID}x> <{NAME}> "ex" .\n',
    "shapes/s.ttl": "<https://w3id.org/bolyst/shapes#S> a "
    "<http://www.w3.org/ns/shacl#NodeShape> .\n",
}


def values(n: int, variables: str = "abcd") -> str:
    """n^len(variables) combinations to count, no data needed: 60^4 takes about a second."""
    row = " ".join(str(i) for i in range(n))
    return (
        "SELECT (COUNT(*) AS ?n) {" + "".join(f" VALUES ?{v} {{{row}}}" for v in variables) + " }"
    )


RUNAWAY = values(100, "abcde")
MEDIUM = values(40)  # 0.2 s: not long enough to lose its priority (bolyst.store.pool)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    root: Path, *args: str, **settings: object
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``bolyst serve`` on ``root``; yield its base URL and process; stop it."""
    port = free_port()
    bolyst = shutil.which("bolyst", path=str(Path(sys.executable).parent)) or "bolyst"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLYST_")}
    env.update({f"BOLYST_{key}": str(value) for key, value in settings.items()})
    command = [bolyst, "serve", "--root", str(root), "--port", str(port), "--skip-validation"]
    # A file, not a pipe: a pipe nobody reads fills up with the access log, and then every
    # request thread waits on the logging lock of the one blocked writing to it.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [*command, *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                output = log.read().decode()
                pytest.fail(f"bolyst serve exited with {process.returncode}:\n{output}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("bolyst serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


class FromAddress(requests.adapters.HTTPAdapter):
    """Connect from a loopback address of our choice: each is another client to the server."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def client(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def query(
    base: str, text: str, session: requests.Session | None = None, address: str | None = None
) -> requests.Response:
    """POST ``text`` to /sparql (from ``address``, or over ``session``)."""
    if session is None:
        with client(address or "127.0.0.1") as own:
            return query(base, text, own)
    return session.post(
        base + "/sparql",
        data=text.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": JSON},
        timeout=30,
    )


def evaluators(server: int) -> list[int]:
    """The evaluator processes (children of the zygotes) below process ``server``."""
    table: dict[int, tuple[int, bytes]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
                with open(f"/proc/{name}/comm", "rb") as comm:
                    table[int(name)] = (parent, command + b"\0" + comm.read().strip())
            except (OSError, ValueError):
                continue
    below, todo = set(), [server]
    while todo:
        pid = todo.pop()
        for child, (parent, _) in table.items():
            if parent == pid and child not in below:
                below.add(child)
                todo.append(child)
    zygotes = {p for p in below if is_zygote(table[p][1])}
    return sorted(p for p in below if table[p][0] in zygotes)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs: a zombie (ended, not yet reaped by init) does not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def test_sigterm_answers_the_requests_in_flight_and_exits(root: Path) -> None:
    with serve(root, "--workers", "2", SHUTDOWN_GRACE=2.0, QUERY_TIMEOUT=30) as (base, process):
        deadline = time.monotonic() + 10
        while len(pids := evaluators(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)  # /healthz answered: one worker is up, the other may still start
        assert len(pids) == 4
        results: dict[str, tuple[int, str, float]] = {}

        def send(name: str, text: str, address: str) -> None:
            started = time.monotonic()
            response = query(base, text, address=address)
            results[name] = (response.status_code, response.text, time.monotonic() - started)

        threads = [
            threading.Thread(target=send, args=("runaway", RUNAWAY, "127.0.0.2")),
            threading.Thread(target=send, args=("medium", MEDIUM, "127.0.0.3")),
        ]
        threads[0].start()
        time.sleep(0.3)
        threads[1].start()
        time.sleep(0.05)  # both running
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        exit_seconds = time.monotonic() - stopped
        for thread in threads:
            thread.join(5)
    assert results["medium"][0] == 200  # finished within the grace
    assert json.loads(results["medium"][1])["results"]["bindings"][0]["n"]["value"] == "2560000"
    status, text, seconds = results["runaway"]
    assert status == 503 and "shutting down" in text  # not a cut connection
    assert seconds < 0.35 + 2.0 + 1.0
    assert exit_seconds < 2.0 + 3.0
    deadline = time.monotonic() + 2
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)


def test_a_new_version_of_the_data_is_swapped_in_without_a_failed_request(root: Path) -> None:
    marker = f"SELECT ?name WHERE {{ <{ID}new> <{NAME}> ?name }}"
    with serve(root, "--workers", "2", "--reload-on-change", RELOAD_INTERVAL=0.3) as (base, _):
        tag_before = requests.get(
            base + "/sparql", params={"query": marker}, headers={"Accept": JSON}, timeout=10
        ).headers["ETag"]
        errors: list[str] = []
        seen: list[int] = []
        stop = threading.Event()

        def hammer(n: int) -> None:
            with client(f"127.0.1.{n}") as session:  # keep-alive, as real clients
                while not stop.is_set():
                    try:
                        response = query(base, marker, session)
                    except requests.RequestException as exc:
                        errors.append(repr(exc))
                        continue
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text}")
                        continue
                    seen.append(len(response.json()["results"]["bindings"]))

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(1, 7)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            new = root / "data" / "new.ttl"
            (root / "data" / ".new.tmp").write_text(f'<{ID}new> <{NAME}> "new" .\n', "utf-8")
            (root / "data" / ".new.tmp").rename(new)  # a file appears whole
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (not seen or seen[-1] != 1):
                time.sleep(0.1)
            time.sleep(1.0)  # both workers, and the old engines drained
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        tag_after = requests.get(
            base + "/sparql", params={"query": marker}, headers={"Accept": JSON}, timeout=10
        ).headers["ETag"]
    assert errors == []
    assert seen[0] == 0 and seen[-1] == 1
    assert seen[seen.index(1) :].count(0) <= 200  # the other worker within RELOAD_INTERVAL
    assert tag_after != tag_before


HOSTILE = [
    pytest.param("SELECT * WHERE " + "{" * 2500 + "}" * 2500, "nests", id="2500-groups"),
    pytest.param(
        "SELECT * WHERE { FILTER(" + "(" * 4700 + "1" + ")" * 4700 + ") }", "nests", id="parens"
    ),
    pytest.param("ASK { FILTER(" + "!" * 9400 + "true) }", "in a row", id="9400-bangs"),
    pytest.param("SELECT * WHERE { " + "[ <p> " * 3000 + "]" * 3000 + " }", "nests", id="blanks"),
    pytest.param("SELECT (" + "1+" * 30000 + "1 AS ?x) {}", "2,000 operators", id="sum"),
    pytest.param('ASK { ?s ?p "' + "x" * 70000 + '" }', "characters", id="too-long"),
]


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("root")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    settings = {"EVALUATORS": 1, "LONG_QUERIES": 0, "QUERY_TIMEOUT": 20}
    with serve(root, "--workers", "1", **settings) as (base, process):
        yield base, process.pid


@pytest.mark.parametrize(("text", "reason"), HOSTILE)
def test_hostile_queries_are_refused_and_the_server_keeps_answering(
    shared_server: tuple[str, int], text: str, reason: str
) -> None:
    base, _ = shared_server
    response = query(base, text)
    assert response.status_code == 400
    assert reason in response.text
    assert query(base, "ASK { ?s ?p ?o }").json()["boolean"] is True
    assert requests.get(base + "/healthz", timeout=5).status_code == 200


def test_a_dying_evaluator_costs_its_request_a_500_naming_the_cause(
    shared_server: tuple[str, int],
) -> None:
    base, server = shared_server
    pid = the_evaluator(server)
    results: list[requests.Response] = []
    thread = threading.Thread(target=lambda: results.append(query(base, RUNAWAY)))
    thread.start()
    time.sleep(0.3)
    os.kill(pid, signal.SIGSEGV)  # as pyoxigraph's crashes end (a segmentation fault)
    thread.join(30)
    (response,) = results
    assert response.status_code == 500
    assert "segmentation fault" in response.text and "replaced" in response.text
    assert query(base, "ASK { ?s ?p ?o }").json()["boolean"] is True
    assert the_evaluator(server) != pid


def the_evaluator(server: int) -> int:
    """The one evaluator running below ``server``: an evaluator that ended (a crash writing its
    core dump on a busy machine, or one killed at a deadline) may linger a moment as a zombie
    until its zygote reaps it, and its replacement may be a moment in coming."""
    deadline = time.monotonic() + 10
    while len(running := [pid for pid in evaluators(server) if alive(pid)]) != 1:
        assert time.monotonic() < deadline, running
        time.sleep(0.05)
    return running[0]


def test_healthz_answers_while_every_evaluator_is_busy(shared_server: tuple[str, int]) -> None:
    base, _ = shared_server
    threads = [
        threading.Thread(target=query, args=(base, RUNAWAY), kwargs={"address": address})
        for address in ("127.0.2.1", "127.0.2.2")  # one runs, one waits
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        for _ in range(10):
            started = time.monotonic()
            assert requests.get(base + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 0.5
            time.sleep(0.05)
    finally:
        for thread in threads:
            thread.join(30)


def test_an_http_worker_that_dies_is_replaced_with_its_evaluators_gone(root: Path) -> None:
    with serve(root, "--workers", "2") as (base, process):
        deadline = time.monotonic() + 10
        while len(evaluators(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = sorted(children(process.pid))
        assert len(workers) == 2
        before = set(evaluators(process.pid))
        os.kill(workers[0], signal.SIGKILL)
        killed = time.monotonic()
        # Connections the kernel had already routed to the dying worker's listening socket are
        # refused or reset in the moment of its death (measured: one, within ~10 ms): that is
        # what SIGKILL costs. After that short window, nothing may fail.
        answered, lost = 0, 0
        deadline = killed + 20
        while time.monotonic() < deadline:  # the other worker answers meanwhile
            try:
                assert requests.get(base + "/healthz", timeout=5).status_code == 200
                answered += 1
            except requests.ConnectionError:
                if time.monotonic() - killed > 1.0:
                    raise
                lost += 1
            now = set(children(process.pid))
            if len(now) == 2 and workers[0] not in now and len(evaluators(process.pid)) == 4:
                break
            time.sleep(0.1)
        assert lost <= 2
        assert len(set(children(process.pid)) - {workers[0]}) == 2  # respawned
        assert query(base, "ASK { ?s ?p ?o }").json()["boolean"] is True
        time.sleep(0.5)
        orphans = [pid for pid in before - set(evaluators(process.pid)) if alive(pid)]
        assert orphans == []  # the dead worker's zygote and evaluators went with it
        assert answered > 0


def is_zygote(command: bytes) -> bool:
    """A zygote of a pool's own (``python -c ...``) or the server's shared one (named so)."""
    return b"bolyst.store.evaluator" in command or command.endswith(b"bolyst-zygote")


def children(pid: int) -> list[int]:
    """The HTTP workers of server ``pid`` (its children but the shared zygote)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) != pid:
                        continue
                with open(f"/proc/{name}/comm", "rb") as comm:
                    if comm.read().strip() != b"bolyst-zygote":
                        found.append(int(name))
            except (OSError, ValueError):
                continue
    return found


# --- issue 8: the data loaded once, one zygote for every worker (bolyst.store.shared) ------------


def zygotes(server: int) -> list[int]:
    """The zygotes below process ``server``: its shared one, or one per worker's pool."""
    found = []
    for pid in [*children(server), *descendants_named(server, b"bolyst-zygote")]:
        try:
            with open(f"/proc/{pid}/comm", "rb") as comm:
                name = comm.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue
        if is_zygote(command + b"\0" + name) and alive(pid):
            found.append(pid)
    return sorted(set(found))


def descendants_named(server: int, name: bytes) -> list[int]:
    found = []
    for pid in [server, *children(server)]:
        for child in os.listdir("/proc"):
            if not child.isdigit():
                continue
            try:
                with open(f"/proc/{child}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) != pid:
                        continue
                with open(f"/proc/{child}/comm", "rb") as comm:
                    if comm.read().strip() == name:
                        found.append(int(child))
            except (OSError, ValueError):
                continue
    return found


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[1])


def test_every_worker_forks_its_evaluators_from_one_shared_zygote(root: Path) -> None:
    with serve(root, "--workers", "2") as (base, process):
        deadline = time.monotonic() + 10
        while len(evaluators(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        shared = zygotes(process.pid)
        assert len(shared) == 1  # not one per worker
        assert parent_of(shared[0]) == process.pid  # forked by `bolyst serve` itself
        running = evaluators(process.pid)
        assert len(running) == 4  # two per worker
        assert {parent_of(pid) for pid in running} == {shared[0]}
        answer = query(base, f"SELECT ?n WHERE {{ <{ID}x> <{NAME}> ?n }}").json()
        assert [b["n"]["value"] for b in answer["results"]["bindings"]] == ["ex"]


def test_when_the_shared_zygote_dies_each_worker_starts_its_own(root: Path) -> None:
    with serve(root, "--workers", "2") as (base, process):
        deadline = time.monotonic() + 10
        while len(evaluators(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        [shared] = zygotes(process.pid)
        os.kill(shared, signal.SIGKILL)  # its evaluators die with it (PR_SET_PDEATHSIG)
        answers: list[int] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and answers[-3:] != [200, 200, 200]:
            # The queries the dead evaluators held fail (500, naming the cause); the next ones
            # find the zygote gone and start one of the worker's own.
            answers.append(
                query(base, "ASK { ?s ?p ?o }", address=f"127.0.2.{len(answers)}").status_code
            )
        assert answers[-3:] == [200, 200, 200], answers
        assert set(answers) <= {200, 500}
        time.sleep(0.5)
        own = zygotes(process.pid)
        assert shared not in own
        assert own and all(parent_of(pid) in children(process.pid) for pid in own)


def test_a_store_on_disk_is_served_through_the_shared_zygote_too(
    root: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    with serve(root, "--workers", "2", "--store", str(store)) as (base, process):
        assert (store / "bolyst-store.json").is_file()  # built on disk by the server
        deadline = time.monotonic() + 10
        while len(evaluators(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        [shared] = zygotes(process.pid)
        assert {parent_of(pid) for pid in evaluators(process.pid)} == {shared}
        answer = query(base, f"SELECT ?n WHERE {{ <{ID}x> <{NAME}> ?n }}").json()
        assert [b["n"]["value"] for b in answer["results"]["bindings"]] == ["ex"]
