"""The result cache in front of the query engine (bolyst.store.cache), through /sparql and alone.

The engine behind the cache is the real evaluator pool of the session app, with its ``run``
wrapped to count (and record) the queries that reach it.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client, TestResponse

from bolyst import create_app
from bolyst.config import load_config
from bolyst.errors import QueryTimeout
from bolyst.lifecycle import SwappableApp
from bolyst.store import Answer
from bolyst.store.cache import MB, ByteLRU, CachingEngine, unwrap, with_cache
from bolyst.store.pool import EvaluatorPool

ENDPOINT_ROOT = Path(__file__).resolve().parents[1] / "data" / "endpoint"
EX = "https://example.org/test#"
ID = "https://example.org/id/"
ALPHA = "https://w3id.org/bolyst/graph/data/alpha"
SRJ = "application/sparql-results+json"
DIRECT = "application/sparql-query"
SELECT = f"""PREFIX ex: <{EX}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?p ?label ?n WHERE {{ ?p a ex:Programme ; rdfs:label ?label ; ex:members ?n }}
ORDER BY ?label"""
ROWS = [
    {"p": ID + "innherred", "label": "Intro Innherred", "n": "8"},
    {"p": ID + "kom", "label": 'KOM Trainee, "Sør"\tvest', "n": "5"},
    {"p": ID + "tromso", "label": "Trainee Tromsø", "n": "12"},
]
ALPHA_ROWS = [ROWS[0], ROWS[2]]  # kom is in beta
# 40^4 combinations to count, no data needed: about 0.2 s, far past a 0.05 s limit.
SLOW = (
    "SELECT (COUNT(*) AS ?n) {"
    + "".join(f" VALUES ?{v} {{{' '.join(map(str, range(40)))}}}" for v in "abcd")
    + " }"
)


def get(client: FlaskClient, query: str, **params: str) -> TestResponse:
    pairs = [("query", query), *((k.replace("_", "-"), v) for k, v in params.items())]
    return client.get("/sparql?" + urlencode(pairs, quote_via=quote))


def rows(body: bytes) -> list[dict[str, str]]:
    bindings = json.loads(body)["results"]["bindings"]
    return [{k: cell["value"] for k, cell in row.items()} for row in bindings]


class Calls:
    """The pool's ``run`` counting and recording what reaches it, then running it for real."""

    def __init__(self, pool: EvaluatorPool) -> None:
        self.real = pool.run
        self.seen: list[dict[str, Any]] = []

    def __call__(self, query: str, **kwargs: Any) -> Answer:
        self.seen.append({"query": query, **kwargs})  # list.append: safe across threads
        return self.real(query, **kwargs)

    def __len__(self) -> int:
        return len(self.seen)


def spy_on(pool: EvaluatorPool, monkeypatch: pytest.MonkeyPatch) -> Calls:
    calls = Calls(pool)
    monkeypatch.setattr(pool, "run", calls)  # an instance attribute: still an EvaluatorPool
    return calls


@pytest.fixture
def pool(app: Flask) -> EvaluatorPool:
    engine = unwrap(app.extensions["bolyst"]["engine"])
    assert isinstance(engine, EvaluatorPool)
    return engine


@pytest.fixture
def calls(pool: EvaluatorPool, monkeypatch: pytest.MonkeyPatch) -> Calls:
    return spy_on(pool, monkeypatch)


@pytest.fixture
def cache(app: Flask, pool: EvaluatorPool, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh cache of 4 MB in front of the real pool, as the app's engine for this test."""
    engine = CachingEngine(pool, 4 * MB)
    monkeypatch.setitem(app.extensions["bolyst"], "engine", engine)
    return engine


# --- through /sparql --------------------------------------------------------------------------


def test_a_repeated_query_is_answered_from_the_cache_without_the_engine(
    client: FlaskClient, cache: CachingEngine, calls: Calls
) -> None:
    first = get(client, SELECT)
    assert first.status_code == 200
    assert first.headers["X-Cache"] == "miss"
    assert "X-Cache" in first.headers["Access-Control-Expose-Headers"]
    assert rows(first.data) == ROWS
    assert len(calls) == 1
    assert calls.seen[0]["client"] == "127.0.0.1"  # the pool's per-client admission, passed on
    second = get(client, SELECT)
    assert second.status_code == 200
    assert second.headers["X-Cache"] == "hit"
    assert second.data == first.data
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    # POST carries the same request: the same answer, still without the engine.
    posted = client.post(
        "/sparql", data=SELECT.encode(), headers={"Content-Type": DIRECT, "Accept": SRJ}
    )
    assert posted.headers["X-Cache"] == "hit"
    assert posted.data == first.data
    assert len(calls) == 1
    info = cache.cache_info()
    assert (info.hits, info.misses, info.entries) == (2, 1, 1)
    assert info.size >= len(first.data)


def test_another_format_or_dataset_is_another_entry(
    client: FlaskClient, cache: CachingEngine, calls: Calls
) -> None:
    assert get(client, SELECT).headers["X-Cache"] == "miss"
    as_csv = get(client, SELECT, format="csv")
    assert as_csv.headers["X-Cache"] == "miss"
    assert as_csv.mimetype == "text/csv"
    assert [r["label"] for r in csv.DictReader(io.StringIO(as_csv.data.decode()))] == [
        r["label"] for r in ROWS
    ]
    alpha = get(client, SELECT, default_graph_uri=ALPHA)
    assert alpha.headers["X-Cache"] == "miss"
    assert rows(alpha.data) == ALPHA_ROWS
    named = get(client, SELECT, named_graph_uri=ALPHA)
    assert named.headers["X-Cache"] == "miss"
    assert rows(named.data) == []  # a named graph only: the default graph is empty
    assert len(calls) == 4
    # Each is kept on its own.
    assert get(client, SELECT, format="csv").data == as_csv.data
    again = get(client, SELECT, default_graph_uri=ALPHA)
    assert again.headers["X-Cache"] == "hit"
    assert rows(again.data) == ALPHA_ROWS
    assert len(calls) == 4
    assert cache.cache_info().entries == 4


def test_errors_are_not_cached(client: FlaskClient, cache: CachingEngine, calls: Calls) -> None:
    broken = "SELECT * WHERE { ?s ?p }"  # passes the view's policy check; the parser refuses
    for attempt in (1, 2):
        response = get(client, broken)
        assert response.status_code == 400
        assert "line 1" in response.text
        assert "X-Cache" not in response.headers
        assert len(calls) == attempt  # evaluated again: nothing was kept
    unknown = get(client, SELECT, default_graph_uri="https://w3id.org/bolyst/graph/data/nope")
    assert unknown.status_code == 400
    assert len(calls) == 3
    again = get(client, SELECT, default_graph_uri="https://w3id.org/bolyst/graph/data/nope")
    assert again.status_code == 400
    assert len(calls) == 4
    info = cache.cache_info()
    assert (info.hits, info.misses, info.entries) == (0, 4, 0)


def test_without_a_cache_every_request_reaches_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOLYST_RESULT_CACHE_MB", "0")
    app = create_app({"ROOT": str(ENDPOINT_ROOT), "TESTING": True})
    try:
        engine = app.extensions["bolyst"]["engine"]
        assert isinstance(engine, EvaluatorPool)  # not behind a cache
        calls = spy_on(engine, monkeypatch)
        client = app.test_client()
        first, second = get(client, SELECT), get(client, SELECT)
        assert first.status_code == second.status_code == 200
        assert rows(first.data) == rows(second.data) == ROWS
        assert "X-Cache" not in first.headers and "X-Cache" not in second.headers
        assert len(calls) == 2
    finally:
        app.extensions["bolyst"]["engine"].close()


def test_the_setting_reads_from_the_environment_and_sizes_the_cache(
    monkeypatch: pytest.MonkeyPatch, pool: EvaluatorPool
) -> None:
    monkeypatch.delenv("BOLYST_RESULT_CACHE_MB", raising=False)
    assert load_config()["RESULT_CACHE_MB"] == 64
    monkeypatch.setenv("BOLYST_RESULT_CACHE_MB", "3")
    assert load_config()["RESULT_CACHE_MB"] == 3
    wrapped = with_cache(pool, {"RESULT_CACHE_MB": 3})
    assert isinstance(wrapped, CachingEngine)
    assert wrapped.cache_info().max_bytes == 3 * MB
    assert with_cache(pool, {"RESULT_CACHE_MB": 0}) is pool


def test_many_threads_asking_the_same_get_the_right_answer(
    app: Flask, cache: CachingEngine, calls: Calls
) -> None:
    threads, rounds = 12, 5
    results: list[tuple[int, bytes, str | None]] = []

    def ask(n: int) -> None:
        # Each thread another client: one client may not run them all (the pool's admission).
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"127.0.3.{n}"
        for _ in range(rounds):
            response = get(client, SELECT)
            results.append((response.status_code, response.data, response.headers.get("X-Cache")))

    workers = [threading.Thread(target=ask, args=(n,)) for n in range(1, threads + 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(results) == threads * rounds
    assert {status for status, _, _ in results} == {200}
    bodies = {body for _, body, _ in results}
    assert len(bodies) == 1 and rows(bodies.pop()) == ROWS
    hits = sum(1 for _, _, said in results if said == "hit")
    assert hits == threads * rounds - len(calls)
    assert 1 <= len(calls) <= threads  # a thread misses at most once: its own answer is kept
    info = cache.cache_info()
    assert (info.hits, info.misses, info.entries) == (hits, len(calls), 1)


def test_a_new_dataset_version_starts_with_an_empty_cache(tmp_path: Path) -> None:
    for folder in ("ontology", "data", "shapes"):
        (tmp_path / folder).mkdir()
    (tmp_path / "ontology" / "o.ttl").write_text(
        f"<{EX}Thing> a <http://www.w3.org/2002/07/owl#Class> .\n", "utf-8"
    )
    (tmp_path / "data" / "x.ttl").write_text(f'<{ID}x> <{EX}name> "old" .\n', "utf-8")
    (tmp_path / "shapes" / "s.ttl").write_text("", "utf-8")
    app = SwappableApp(create_app, load_config({"ROOT": str(tmp_path), "TESTING": True}))
    client = Client(app)
    query = "/sparql?" + urlencode({"query": f"SELECT ?n WHERE {{ ?s <{EX}name> ?n }}"})
    try:
        assert client.get(query).headers["X-Cache"] == "miss"
        old = client.get(query)
        assert old.headers["X-Cache"] == "hit"
        assert rows(old.data) == [{"n": "old"}]
        old_pool = unwrap(app.state["engine"])
        (tmp_path / "data" / "x.ttl").write_text(f'<{ID}x> <{EX}name> "new" .\n', "utf-8")
        assert app.swap()
        new = client.get(query)
        assert new.headers["X-Cache"] == "miss"
        assert rows(new.data) == [{"n": "new"}]
        # Behind the caches, the old pool was retired to the new one: late queries go there.
        late = old_pool.run(f"SELECT ?n WHERE {{ ?s <{EX}name> ?n }}", media_type=SRJ)
        assert rows(late.body) == [{"n": "new"}]
    finally:
        app.state["engine"].close()


# --- the engine alone -------------------------------------------------------------------------


def test_time_limits_are_not_cached(cache: CachingEngine, calls: Calls) -> None:
    for attempt in (1, 2):
        with pytest.raises(QueryTimeout):
            cache.run(SLOW, media_type=SRJ, timeout=0.05)
        assert len(calls) == attempt
    answer = cache.run(SLOW, media_type=SRJ, timeout=30)
    assert rows(answer.body) == [{"n": str(40**4)}] and not answer.cached
    assert cache.run(SLOW, media_type=SRJ, timeout=0.05).cached  # a hit needs no time
    assert len(calls) == 3


def test_answers_that_change_each_time_are_not_cached(cache: CachingEngine, calls: Calls) -> None:
    query = "SELECT (STRUUID() AS ?u) WHERE {}"
    first, second = (cache.run(query, media_type=SRJ) for _ in range(2))
    assert not first.cached and not second.cached
    assert first.body != second.body
    assert len(calls) == 2
    assert cache.cache_info().entries == 0


def test_the_row_cap_is_part_of_the_key(
    cache: CachingEngine, calls: Calls, pool: EvaluatorPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
    full = cache.run(query, media_type=SRJ)
    assert not full.truncated and full.rows is not None and full.rows > 2
    saved = pool.max_rows
    monkeypatch.setattr(pool, "max_rows", 2)
    cut = cache.run(query, media_type=SRJ)
    assert not cut.cached and cut.truncated and cut.rows == 2
    pool.max_rows = saved  # the cap back: the full answer was kept all along
    again = cache.run(query, media_type=SRJ)
    assert again.cached and again.body == full.body
    assert len(calls) == 2
    with pytest.raises(AttributeError):
        cache.max_rows = 5  # a setting of the engine: refused here, not silently kept apart


def test_the_inner_engines_extras_read_through(cache: CachingEngine, pool: EvaluatorPool) -> None:
    assert cache.graphs() == pool.graphs()
    assert cache.stats is pool.stats  # `bolyst serve` prints them
    assert cache.drain == pool.drain and cache.wait_idle == pool.wait_idle  # the SIGTERM drain
    assert not hasattr(cache, "dialect")  # what the engine lacks, the cache lacks too
    assert unwrap(cache) is pool and unwrap(pool) is pool


# --- the LRU ----------------------------------------------------------------------------------


def test_the_lru_evicts_by_bytes_least_recently_used_first() -> None:
    lru: ByteLRU[str, bytes] = ByteLRU(160)  # entries of at most 10 bytes
    for i in range(16):
        assert lru.put(f"k{i}", b"x" * 10, 10)
    assert (lru.info().entries, lru.info().size) == (16, 160)
    assert lru.get("k0") == b"x" * 10  # k0 is now the most recent; k1 the least
    assert lru.put("k16", b"y" * 10, 10)
    assert lru.get("k1") is None
    assert lru.get("k0") is not None and lru.get("k16") == b"y" * 10
    # Bytes, not entries: ten entries of 1 byte push out one of 10.
    for i in range(10):
        assert lru.put(f"s{i}", b"s", 1)
    assert lru.get("k2") is None and lru.get("k3") is not None
    assert (lru.info().entries, lru.info().size) == (25, 160)
    # Too big for its share (over 1/16 of the budget): refused, nothing pushed out.
    assert not lru.put("huge", b"z" * 11, 11)
    assert lru.get("huge") is None and (lru.info().entries, lru.info().size) == (25, 160)
    # Storing a key again replaces its entry and its size.
    assert lru.put("k3", b"w" * 5, 5)
    assert lru.get("k3") == b"w" * 5 and lru.info().size == 155
    info = lru.info()
    assert (info.hits, info.misses) == (5, 3)
    with pytest.raises(ValueError):
        ByteLRU(0)


def test_the_lru_keeps_its_accounts_under_many_threads() -> None:
    budget = 1600
    lru: ByteLRU[int, bytes] = ByteLRU(budget)  # entries of at most 100 bytes
    wrong: list[str] = []
    lookups: list[int] = []

    def churn(seed: int) -> None:
        chance = random.Random(seed)
        looked = 0
        for _ in range(3000):
            key = chance.randrange(60)
            if chance.random() < 0.5:
                lru.put(key, bytes([key]) * (key + 1), key + 1)
            else:
                looked += 1
                value = lru.get(key)
                if value is not None and value != bytes([key]) * (key + 1):
                    wrong.append(f"{key}: {value!r}")
        lookups.append(looked)

    workers = [threading.Thread(target=churn, args=(seed,)) for seed in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert wrong == []
    info = lru.info()
    assert info.hits + info.misses == sum(lookups)  # no count lost to a race
    held = [v for key in range(60) if (v := lru.get(key)) is not None]
    assert len(held) == info.entries
    assert sum(map(len, held)) == info.size <= budget
