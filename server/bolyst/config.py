"""Settings as data: name, default and help. Read from a mapping or ``BOLYST_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


def _default_root() -> str:
    # An editable install runs from the checkout: server/bolyst/ -> the repository root.
    here = Path(__file__).resolve().parents[2]
    cwd = Path.cwd()
    return str(cwd if (cwd / "data").is_dir() and (cwd / "ontology").is_dir() else here)


SETTINGS = (
    Setting("ROOT", None, "Folder holding ontology/, data/, shapes/ and queries/."),
    Setting("HOST", "127.0.0.1", "Address to listen on (loopback by default)."),
    Setting("PORT", 8000, "Port to listen on."),
    Setting("WORKERS", 2, "Number of HTTP worker processes."),
    Setting(
        "CACHE_MAX_AGE",
        300,
        "Seconds a GET answer of /sparql may be reused before it is revalidated by its ETag.",
    ),
    # Where the data are queried (bolyst.store.backend); see issue 8.
    Setting(
        "STORE",
        "",
        "Empty: in memory; a folder: a pyoxigraph store on disk there; http(s)://...: the "
        "query URL of a SPARQL 1.1 server holding the graphs (`bolyst load --to URL`).",
    ),
    Setting("STORE_DIALECT", "", "Kind of remote server: oxigraph, virtuoso, standard [detected]."),
    # The query engine (bolyst.policy, bolyst.store.pool); see issues 4 and 9.
    Setting("QUERY_TIMEOUT", 10.0, "Seconds a query may run before it is stopped (503)."),
    Setting("MAX_QUERY_LENGTH", 65536, "Characters a query may have (longer: 400)."),
    Setting("MAX_DEPTH", 64, "Nesting depth of { ( [ a query may have (deeper: 400)."),
    Setting("MAX_ROWS", 10000, "Rows (solutions or triples) of an answer; more are cut off."),
    Setting("EVALUATORS", 2, "Query evaluator processes per HTTP worker (queries run at once)."),
    Setting("QUERY_MEMORY_MB", 1024, "Memory (address space) of one evaluator, data included."),
    Setting("QUEUE_WAIT", 5.0, "Seconds a query waits for a free evaluator before a 503."),
    Setting("QUEUE_LENGTH", 64, "Queries that may wait for an evaluator; more: immediate 503."),
    Setting(
        "CLIENT_QUERIES",
        0,
        "Queries one client (address) may run at once per worker, and have waiting; more: "
        "immediate 503 [0: half the evaluators, at least 1].",
    ),
    Setting(
        "LONG_QUERIES",
        8,
        "Stand-in evaluators per worker for long queries (those run on at a lower CPU "
        "priority, the lower the more CPU they burn).",
    ),
    Setting("LONG_QUERY_SECONDS", 0.25, "CPU seconds after which a query counts as long."),
    # The result cache (bolyst.store.cache): the data are read-only, so answers can be reused.
    Setting(
        "RESULT_CACHE_MB",
        64,
        "Megabytes of /sparql answers each HTTP worker keeps to answer a repeated request "
        "without running the query again [0: no cache].",
    ),
    Setting(
        "PROXY_HOPS",
        0,
        "Reverse proxies of ours that append to X-Forwarded-For, which names the client only "
        "then [0: the peer address is the client].",
    ),
    # The lifecycle (bolyst.lifecycle; issue 9).
    Setting(
        "SHUTDOWN_GRACE",
        3.0,
        "Seconds running queries get after SIGTERM before they are stopped (503).",
    ),
    Setting(
        "RELOAD_INTERVAL",
        0.0,
        "Seconds between looks at the data files for a new version, swapped in without a "
        "failed request [0: never; `bolyst serve --reload-on-change`: 2].",
    ),
    # Set by `bolyst serve` for its workers (bolyst.store.shared), not by people.
    Setting("ZYGOTE", "", "Socket of the server's shared zygote (the data, loaded once)."),
    Setting("ZYGOTE_VERSION", "", "The dataset version the shared zygote holds."),
    # The release that /dumps/, /dataset and /.well-known/void serve (bolyst.build; issue 5).
    Setting("DUMPS_DIR", None, "Folder of the release `bolyst build` writes [<ROOT>/dist]."),
)


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``BOLYST_<NAME>`` environment variables, then ``overrides``."""
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        value = os.environ.get(f"BOLYST_{setting.name}", setting.default)
        if isinstance(setting.default, int | float) and isinstance(value, str):
            value = type(setting.default)(value)
        config[setting.name] = value
    config.update(overrides or {})
    if not config["ROOT"]:
        config["ROOT"] = _default_root()
    if not config.get("DUMPS_DIR"):
        config["DUMPS_DIR"] = str(Path(config["ROOT"]) / "dist")
    return config
