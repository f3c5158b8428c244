"""A small keep-alive HTTP/1.1 client for one SPARQL server (queries and graph uploads).

Why not SPARQLWrapper (what :mod:`bolyst.store.remote` uses for other people's endpoints)? It
opens a new connection for every query and reads the whole answer before returning it. The
remote store answers every request of the endpoint, so each thread keeps its own persistent
connection here, and answers are read as a stream (a parser can stop at the row cap and the
rest is never read). A connection the server closed while it was idle is reopened once.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["HttpClient", "Response", "Unreachable"]

# Errors of a kept-alive connection the server may have closed meanwhile: send again, once.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Unreachable(OSError):
    """No connection to the server (refused, reset, unknown host)."""


@dataclass
class Response:
    """An answer whose body has not been read yet: read it from ``stream``, then ``close()``."""

    status: int
    headers: http.client.HTTPMessage
    stream: http.client.HTTPResponse
    _client: HttpClient

    @property
    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def read(self) -> bytes:
        try:
            return self.stream.read()
        finally:
            self.close()

    def close(self) -> None:
        """Give the connection back; one with unread body left is closed instead."""
        if not self.stream.isclosed():
            self._client._discard()  # the rest of the body would confuse the next request
        self.stream.close()


class HttpClient:
    """Requests to one origin (scheme, host, port) over one persistent connection per thread.

    Args:
        base_url: any URL of the server; only its origin is used for connections.
        timeout: seconds to wait on the socket (to connect, and then for each read).
        user_agent: sent with every request.
        auth: user and password for HTTP Basic authentication, if the server needs it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        user_agent: str = "bolyst",
        auth: tuple[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.timeout = timeout
        self.headers = {"User-Agent": user_agent}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()  # of every thread, for close()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request; return the answer with its body unread.

        Raises:
            Unreachable: no connection could be made or kept.
            TimeoutError: the server did not answer within ``timeout`` seconds.
        """
        parts = urllib.parse.urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {**self.headers, **(headers or {})}
        for attempt in (1, 2):
            connection, fresh = self._connection()
            try:
                if connection.sock is None:
                    connection.connect()
                connection.sock.settimeout(timeout or self.timeout)
                connection.request(method, target, body=body, headers=sent)
                answer = connection.getresponse()
            except _STALE as exc:
                self._discard()
                if fresh or attempt == 2:
                    raise Unreachable(f"{self.host}:{self.port}: {exc}") from exc
                continue
            except TimeoutError:
                self._discard()
                raise
            except (ConnectionRefusedError, socket.gaierror, OSError) as exc:
                self._discard()
                raise Unreachable(f"{self.host}:{self.port}: {exc}") from exc
            return Response(answer.status, answer.headers, answer, self)
        raise AssertionError("unreachable")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, False
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=self.timeout)
        self._local.connection = connection
        with self._lock:
            self._open.add(connection)
        return connection, True

    def _discard(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
            with self._lock:
                self._open.discard(connection)

    def close(self) -> None:
        """Close the connections of every thread (a thread that goes on opens a new one)."""
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            connection.close()
        self._local = threading.local()
