"""Throwaway SPARQL servers on loopback, for the backend tests and the benchmark (issue 8).

:func:`start_oxigraph` runs the ``oxigraph`` binary of the PyPI package ``oxigraph``;
:func:`start_virtuoso` runs Debian's ``virtuoso-t`` (package ``virtuoso-opensource-7-bin``)
with an ini file generated into its directory. Both listen on free ports of 127.0.0.1 only,
keep everything under the directory they are given, and stop with :meth:`Server.stop` (also as
a context manager). Measured (shared/guide/toolchain.md §4): Oxigraph answers in about 0.1 s,
a fresh Virtuoso database in 2-7 s.

Virtuoso needs more than a start command:

- its default ini starts system-wide ports; ours binds ``127.0.0.1:PORT`` for SQL and HTTP;
- anonymous SPARQL Update and Graph Store requests are refused until the ``SPARQL`` user is
  granted ``SPARQL_UPDATE`` (done after start: a throwaway, loopback-only instance);
- it cuts every answer at ``ResultSetMaxRows`` *silently*; ours allows far more than the row
  cap of the endpoint, which cuts (and says so) itself;
- it stops on ``isql-vt ... exec="shutdown;"``; SIGTERM is the fallback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = [
    "Server",
    "ServerError",
    "free_port",
    "oxigraph_binary",
    "start_oxigraph",
    "start_virtuoso",
    "virtuoso_available",
]

VIRTUOSO = "/usr/bin/virtuoso-t"
ISQL = "/usr/bin/isql-vt"


class ServerError(RuntimeError):
    """A test server did not start (the message holds the end of its log)."""


@dataclass
class Server:
    """A running throwaway server.

    Attributes:
        kind: ``oxigraph`` or ``virtuoso``.
        query_url: the SPARQL 1.1 Protocol query endpoint.
        update_url: the SPARQL 1.1 Update endpoint.
        store_url: the Graph Store Protocol endpoint (takes ``?graph=IRI``).
        directory: where its database and log live.
    """

    kind: str
    query_url: str
    update_url: str
    store_url: str
    directory: Path
    process: subprocess.Popen[bytes]
    sql_port: int | None = None
    log_path: Path | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (politely first) and wait for it. Safe to call twice."""
        if self.process.poll() is not None:
            return
        if self.kind == "virtuoso" and self.sql_port is not None:
            subprocess.run(
                [ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", "exec=shutdown;"],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        else:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, size: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-size:]

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server binary: next to this Python, or on the PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    return str(beside) if beside.exists() else shutil.which("oxigraph")


def virtuoso_available() -> bool:
    return Path(VIRTUOSO).exists() and Path(ISQL).exists()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    probe = url + "?" + urllib.parse.urlencode({"query": "ASK {}"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the server exited with status {process.returncode}: "
                + log.read_text(encoding="utf-8", errors="replace")[-2000:]
            )
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    raise ServerError(
        f"the server did not answer within {timeout:g} s: "
        + log.read_text(encoding="utf-8", errors="replace")[-2000:]
    )


def start_oxigraph(
    directory: Path, *, port: int | None = None, timeout: float = 30.0, in_memory: bool = False
) -> Server:
    """Start ``oxigraph serve`` with its database in ``directory`` (or in memory).

    Raises:
        ServerError: the binary is missing, or the server did not answer in time.
    """
    binary = oxigraph_binary()
    if binary is None:
        raise ServerError("no oxigraph binary (pip install oxigraph)")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = directory.parent / f"{directory.name}.log"
    command = [binary, "serve", "--bind", f"127.0.0.1:{port}"]
    if not in_memory:
        command[2:2] = ["--location", str(directory)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base + "/query", process, timeout, log)
    return Server(
        "oxigraph",
        base + "/query",
        base + "/update",
        base + "/store",
        directory,
        process,
        log_path=log,
    )


_VIRTUOSO_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty}
ServerThreads = {threads}
CheckpointInterval = 0
DirsAllowed = ., {dir}
MaxQueryMem = 500M
VADInstallDir = {dir}

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
ServerThreads = {threads}
MaxClientConnections = {threads}
MaxKeepAlives = {threads}
KeepAliveTimeout = 10
EnabledDavVSP = 0

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 120
MaxQueryCostEstimationTime = 0
DefaultQuery = ASK {{}}
"""


def start_virtuoso(
    directory: Path,
    *,
    timeout: float = 90.0,
    buffers: int = 20_000,
    threads: int = 10,
) -> Server:
    """Start Debian's Virtuoso with a generated ini, its database in ``directory``.

    Args:
        directory: created if needed; holds the ini, the database (53 MB at least) and logs.
        buffers: 8 KiB pages of cache (``NumberOfBuffers``; 20,000 = 160 MiB).
        threads: HTTP and SQL server threads.

    Raises:
        ServerError: Virtuoso is not installed, or it did not answer in time.
    """
    if not virtuoso_available():
        raise ServerError(
            f"{VIRTUOSO} is missing: apt-get install --no-install-recommends "
            "virtuoso-opensource-7-bin"
        )
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini = directory / "virtuoso.ini"
    ini.write_text(
        _VIRTUOSO_INI.format(
            dir=directory,
            sql_port=sql_port,
            http_port=http_port,
            buffers=buffers,
            dirty=buffers * 3 // 4,
            threads=threads,
        ),
        encoding="utf-8",
    )
    log = directory / "virtuoso.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [VIRTUOSO, "+foreground", "+configfile", str(ini)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
    base = f"http://127.0.0.1:{http_port}"
    server = Server(
        "virtuoso",
        base + "/sparql",
        base + "/sparql",
        base + "/sparql-graph-crud",
        directory,
        process,
        sql_port=sql_port,
        log_path=directory / "virtuoso.log",
    )
    try:
        _wait_ready(base + "/sparql", process, timeout, log)
        isql(server, 'GRANT SPARQL_UPDATE TO "SPARQL";')
    except BaseException:
        server.stop()
        raise
    return server


def isql(server: Server, statement: str, timeout: float = 60.0) -> str:
    """Run one SQL statement in a Virtuoso server as ``dba``; return its output."""
    assert server.sql_port is not None
    done = subprocess.run(
        [ISQL, f"127.0.0.1:{server.sql_port}", "dba", "dba", f"exec={statement}"],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or "*** Error" in output:
        raise ServerError(f"isql {statement!r} failed: {output[-1000:]}")
    return output
