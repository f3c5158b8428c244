"""A polite client for someone else's SPARQL endpoint (Wikidata's, an Oxigraph server...).

Only this module imports SPARQLWrapper (see shared/guide/style.md). Politeness is built in, as
Wikidata's query service asks of its users: a descriptive User-Agent, a timeout on every request,
a bounded request rate, and retries with exponential back-off on overload (HTTP 429, 5xx) and
network errors, honouring ``Retry-After`` when the server sends one.
"""

from __future__ import annotations

import socket
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from SPARQLWrapper import GET, JSON, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import EndPointInternalError, SPARQLWrapperException

from bolyst.errors import RemoteError

# Answers worth trying again: the server is busy or briefly broken, not the query wrong.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RemoteEndpoint:
    """A SPARQL endpoint queried with SELECT; rows come back as ``{variable: value}``.

    Args:
        url: the query URL (e.g. ``https://query.wikidata.org/sparql``).
        user_agent: says who is asking and where to read about it (required by Wikidata).
        timeout: seconds to wait for one answer.
        retries: how many times to try again after a retryable failure.
        backoff: seconds before the first retry; doubled for each further one.
        min_interval: at least this many seconds between the starts of two requests.
        sleep, clock: injectable for tests.
    """

    url: str
    user_agent: str
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    min_interval: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    requests: int = field(default=0, init=False)
    _last: float | None = field(default=None, init=False, repr=False)

    def select(self, query: str) -> list[dict[str, str]]:
        """Send a SELECT query and return its rows (unbound variables are left out).

        Raises:
            RemoteError: the endpoint refused the query, or still failed after all retries.
        """
        attempt = 0
        while True:
            self._wait_for_turn()
            try:
                result = self._send(query)
            except Exception as exc:
                status, retry_after = _classify(exc)
                if status is None or attempt >= self.retries:
                    tries = f" after {attempt + 1} tries" if status is not None else ""
                    raise RemoteError(f"{self.url}: {_describe(exc)}{tries}") from exc
                delay = max(self.backoff * (2**attempt), retry_after or 0.0)
                attempt += 1
                self.sleep(delay)
                continue
            return _rows(result, self.url)

    def _wait_for_turn(self) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.min_interval:
            self.sleep(self.min_interval - (now - self._last))
            now = self.clock()
        self._last = now
        self.requests += 1

    def _send(self, query: str) -> Any:
        client = SPARQLWrapper(self.url, agent=self.user_agent)
        client.setMethod(GET)
        client.setReturnFormat(JSON)
        client.setTimeout(int(max(1, self.timeout)))
        client.setQuery(query)
        return client.queryAndConvert()


def _classify(exc: Exception) -> tuple[int | None, float | None]:
    """Whether to retry: ``(HTTP status, or 0 for a network error; Retry-After)``.

    ``(None, None)`` means do not retry.
    """
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code in RETRY_STATUS:
            return exc.code, _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return None, None
    if isinstance(exc, EndPointInternalError):
        return 500, None
    if isinstance(exc, SPARQLWrapperException):
        return None, None  # 400, 401, 404, 414: asking again will not help
    if isinstance(exc, urllib.error.URLError | socket.timeout | TimeoutError | ConnectionError):
        return 0, None
    return None, None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own back-off


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, SPARQLWrapperException):
        return str(exc).splitlines()[0]
    return f"{type(exc).__name__}: {exc}"


def _rows(result: Any, url: str) -> list[dict[str, str]]:
    if not isinstance(result, dict) or "results" not in result:
        raise RemoteError(f"{url}: the answer is not SPARQL JSON results")
    return [
        {name: str(cell["value"]) for name, cell in binding.items()}
        for binding in result["results"]["bindings"]
    ]
