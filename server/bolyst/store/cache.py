"""A bounded cache of SPARQL answers in front of the query engine.

**Why.** The dataset an engine serves is read-only and versioned: a new version of the files is a
new app with a new engine (:func:`bolyst.create_app`; swapped in by :mod:`bolyst.lifecycle`).
So within one engine the same request always gets the same answer, and a repeated query need not
be evaluated again. A hit is answered from memory without touching the engine at all: no
admission, no evaluator, no trip to a remote server. :func:`with_cache` puts one
:class:`CachingEngine` in front of each app's engine, so a new version starts with an empty
cache and never sees an answer of the old one.

**Key.** The query text exactly as sent (two spellings of one query are two entries), the media
type, the protocol's default and named graphs, the base IRI and the engine's row cap: everything
the answer depends on. Not the time limit: it decides whether an answer comes, not which.

**Bound.** ``RESULT_CACHE_MB`` (:mod:`bolyst.config`) per HTTP worker, least recently used
first out. An entry weighs the bytes of its body plus the characters of its key, so that small
answers to 64 KB queries count too. An entry heavier than 1/16 of the budget is not kept: one
huge answer would push out many small ones that are asked more often.

**Never cached:** errors of any kind (refused or malformed queries, unknown graphs, time limits,
overload refusals, crashes: the last ones depend on the load of the moment, and an error is
cheap to give again), and queries calling ``NOW()``, ``RAND()``, ``UUID()`` or ``STRUUID()``,
whose answers change from one evaluation to the next. Identical queries that miss at the same
moment are each evaluated (no coalescing): admission control already bounds them.

Usage::

    engine = CachingEngine(open_engine(sources, settings), max_bytes=64 * 2**20)
    engine.run("ASK {}", media_type="application/sparql-results+json")  # evaluated
    engine.run("ASK {}", media_type="application/sparql-results+json").cached  # True
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from bolyst.store import Answer, QueryEngine
from bolyst.store.pool import EvaluatorPool

__all__ = ["ByteLRU", "CacheInfo", "CachingEngine", "unwrap", "with_cache"]

MB = 2**20
DEFAULT_MB = 64
LARGEST_SHARE = 16  # an entry may take at most 1/16 of the budget
# Functions whose value differs from one evaluation to the next (SPARQL 1.1, 17.4). A word that
# only looks like one (in a string, say) costs that query its caching, nothing else.
_VOLATILE = re.compile(r"\b(?:NOW|RAND|UUID|STRUUID)\s*\(", re.IGNORECASE)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CacheInfo:
    """The counters of a cache: lookups that found an entry or not, and what it holds."""

    hits: int
    misses: int
    entries: int
    size: int  # bytes held
    max_bytes: int


class ByteLRU(Generic[K, V]):
    """A thread-safe mapping bounded by the total size of its entries, least recently used out.

    Args:
        max_bytes: the budget; an entry larger than 1/16 of it is not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("the cache needs a positive budget")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recently used), or ``None``; counted."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: K, value: V, size: int) -> bool:
        """Keep ``value`` under ``key``, pushing out the least recently used entries as needed.

        Returns whether it was kept (not when ``size`` is over 1/16 of the budget).
        """
        if size * LARGEST_SHARE > self.max_bytes:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:  # two misses of one key raced; the later answer is as good
                self._size -= old[1]
            self._entries[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def info(self) -> CacheInfo:
        with self._lock:
            entries = len(self._entries)
            return CacheInfo(self._hits, self._misses, entries, self._size, self.max_bytes)


_Key = tuple[str, str, tuple[str, ...], tuple[str, ...], str | None, int | None]


class CachingEngine:
    """A :class:`bolyst.store.QueryEngine` that answers repeated requests from a :class:`ByteLRU`.

    Args:
        inner: the engine that evaluates (an :class:`~bolyst.store.pool.EvaluatorPool` or a
            :class:`~bolyst.store.remote_engine.RemoteEngine`); it must serve one dataset
            version for its whole life.
        max_bytes: the budget of the cache.

    Whatever else the inner engine offers (the pool's ``stats``, ``drain``, ``wait_idle``,
    ``pids``; the remote engine's ``dialect``, ...) is read through this one, so that callers
    holding the app's engine need not know about the cache. Setting attributes is refused
    (``__slots__``): a setting such as ``max_rows`` belongs on :attr:`inner`.
    """

    __slots__ = ("inner", "_lru")

    def __init__(self, inner: QueryEngine, max_bytes: int) -> None:
        self.inner = inner
        self._lru: ByteLRU[_Key, Answer] = ByteLRU(max_bytes)

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
        """The cached answer (``cached`` set), or the inner engine's, kept for the next time.

        ``client`` goes to the pool's per-client admission (:meth:`EvaluatorPool.run`) on a
        miss, and is ignored by engines without one. Raises what the inner engine raises.
        """
        key: _Key = (
            query,
            media_type,
            tuple(default_graphs),
            tuple(named_graphs),
            base_iri,
            self._row_cap(),
        )
        found = self._lru.get(key)
        if found is not None:
            return found
        run = self.inner.run
        if client is not None and isinstance(self.inner, EvaluatorPool):
            run = functools.partial(self.inner.run, client=client)
        answer = run(
            query,
            media_type=media_type,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            timeout=timeout,
            base_iri=base_iri,
        )
        if not _VOLATILE.search(query):
            self._lru.put(key, replace(answer, cached=True), _weight(key, answer))
        return answer

    def graphs(self) -> tuple[str, ...]:
        return self.inner.graphs()

    def close(self) -> None:
        self.inner.close()
        self._lru.clear()

    def cache_info(self) -> CacheInfo:
        """Hits, misses and what the cache holds now."""
        return self._lru.info()

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class lacks. `inner` itself is among them until
        # __init__ sets it (a half-built object): no recursion then, nor for private names.
        if name == "inner" or name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _row_cap(self) -> int | None:
        # Read at each request, not once: it shapes the answer, and it can be changed.
        cap = getattr(self.inner, "max_rows", None)
        return cap if isinstance(cap, int) else None


def _weight(key: _Key, answer: Answer) -> int:
    query, media_type, default_graphs, named_graphs, base_iri, _ = key
    text = (query, media_type, *default_graphs, *named_graphs, base_iri or "")
    return len(answer.body) + sum(len(part) for part in text)


def with_cache(engine: QueryEngine, settings: Mapping[str, Any]) -> QueryEngine:
    """``engine`` behind a cache of ``RESULT_CACHE_MB`` megabytes; ``engine`` itself for 0."""
    megabytes = float(settings.get("RESULT_CACHE_MB", DEFAULT_MB) or 0)
    if megabytes <= 0:
        return engine
    return CachingEngine(engine, int(megabytes * MB))


def unwrap(engine: QueryEngine) -> QueryEngine:
    """The engine behind the cache, or ``engine`` itself when there is no cache in front."""
    return engine.inner if isinstance(engine, CachingEngine) else engine
