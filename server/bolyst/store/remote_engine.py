"""The query engine over a SPARQL 1.1 server: ``bolyst serve --store http://host:port/...``.

:class:`RemoteEngine` is a :class:`bolyst.store.QueryEngine` like the evaluator pool, and the
endpoint cannot tell them apart: the same policy check first (:func:`bolyst.policy.check_query`),
the same dataset, the same row cap, answers serialized by the same library in the asked format.

**The dataset.** Without ``default-graph-uri``, ``named-graph-uri`` or FROM, the embedded engine
answers over the union of the ontology and data graphs, and ``GRAPH`` sees every graph of the
dataset (shapes included). Servers disagree on what "no dataset" means: Oxigraph's default graph
is its (empty) default graph unless started with ``--union-default-graph``; Virtuoso's is the
union of *all* its graphs, its own system graphs included (``virtrdf#``: about 2,500 triples on a
fresh instance), and its ``GRAPH ?g`` sees them too, even when the query has a FROM clause and
no FROM NAMED (where SPARQL says there are no named graphs). So every query is sent with its
dataset spelled out as protocol parameters: the union for the default graph and our graphs as
the named ones; a query's own FROM / FROM NAMED are sent as parameters too; an empty side gets
:data:`NO_GRAPH`, a graph that does not exist, so that it matches nothing on every server.

**Answers.** A query is sent with ``Accept`` set to a format we can cut without parsing:
SPARQL TSV for SELECT (one solution per line, terms in N-Triples syntax) and N-Triples for
CONSTRUCT and DESCRIBE (one triple per line). The answer is read line by line up to the row cap
plus one, the connection is dropped if there is more, and pyoxigraph turns the lines into the
asked format. ASK goes as SPARQL JSON. Virtuoso needs more (:class:`Dialect`): its TSV quotes
every value and its JSON writes ``typed-literal`` and blank nodes as ``nodeID://b10000`` (which
pyoxigraph rightly refuses), and it answers ASK with a one-row table ``__ASK_RETVAL``; so for
Virtuoso SELECT and ASK come as JSON and are rewritten here.

**Relative IRIs** resolve against the endpoint's URL as on the embedded engine: the query is
sent with ``BASE <that URL>`` in front (on its first line, so error lines stay right).

**Limits.** A query that runs past its time is abandoned (503) but not stopped on the server:
Oxigraph stops when it cannot write its answer, Virtuoso at its ``MaxQueryExecutionTime``.
DESCRIBE is implementation-defined in SPARQL 1.1 and differs: Oxigraph adds the blank nodes the
triples point to, Virtuoso does not.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from bolyst.errors import (
    BolystError,
    NotAcceptable,
    Overloaded,
    QueryRejected,
    QuerySyntaxError,
    QueryTimeout,
    RemoteError,
)
from bolyst.namespaces import PREFIXES
from bolyst.policy import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, QueryInfo, check_query
from bolyst.store import Answer
from bolyst.store.httpclient import HttpClient, Response, Unreachable

__all__ = ["NO_GRAPH", "Dialect", "RemoteEngine", "detect_dialect"]

NO_GRAPH = "urn:x-bolyst:no-graph"
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
JSON = "application/sparql-results+json"
TSV = "text/tab-separated-values"
N_TRIPLES = "application/n-triples"
RESULTS_TYPES = (JSON, "application/sparql-results+xml", "text/csv", TSV)
GRAPH_TYPES = ("text/turtle", N_TRIPLES, "application/rdf+xml", "application/ld+json")
_PREFIXED = (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.N3, ox.RdfFormat.RDF_XML)
_SAFE_IRI = re.compile(r"^[^<>\"{}|^`\\\s]+$")
_BNODE_CHAR = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class Dialect:
    """What a kind of server needs. ``json_results``: ask for SELECT answers as SPARQL JSON and
    rewrite them (its TSV is not the standard's)."""

    name: str
    json_results: bool = False


STANDARD = Dialect("standard")
OXIGRAPH = Dialect("oxigraph")
VIRTUOSO = Dialect("virtuoso", json_results=True)
DIALECTS = {d.name: d for d in (STANDARD, OXIGRAPH, VIRTUOSO)}


def detect_dialect(server_header: str | None) -> Dialect:
    """Pick the dialect from the ``Server`` header.

    >>> detect_dialect("Virtuoso/07.20.3229 (Linux) x86_64-pc-linux-gnu").name
    'virtuoso'
    >>> detect_dialect("Oxigraph/0.5.13").name
    'oxigraph'
    """
    header = (server_header or "").lower()
    if header.startswith("virtuoso"):
        return VIRTUOSO
    if header.startswith("oxigraph"):
        return OXIGRAPH
    return STANDARD


class RemoteEngine:
    """A :class:`bolyst.store.QueryEngine` that forwards queries to a SPARQL 1.1 server.

    Args:
        url: the server's query endpoint (Oxigraph ``http://host:7878/query``, Virtuoso
            ``http://host:8890/sparql``).
        graphs: the named graphs of the dataset (one per source file).
        union: the graphs whose union is the default graph when a query names none.
        timeout: default seconds a query may take.
        max_rows: the most solutions or triples in an answer.
        max_length, max_depth: the policy's limits.
        dialect: ``oxigraph``, ``virtuoso`` or ``standard``; ``None``: ask the server (its
            ``Server`` header) on the first query.
        auth: user and password (HTTP Basic) if the server wants them.
    """

    def __init__(
        self,
        url: str,
        *,
        graphs: Sequence[str],
        union: Sequence[str],
        timeout: float = 10.0,
        max_rows: int = 10_000,
        max_length: int = DEFAULT_MAX_LENGTH,
        max_depth: int = DEFAULT_MAX_DEPTH,
        dialect: str | None = None,
        auth: tuple[str, str] | None = None,
        user_agent: str = "bolyst",
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_length = max_length
        self.max_depth = max_depth
        self._graphs = tuple(sorted(graphs))
        self._known = frozenset(self._graphs)
        self._union = tuple(union)
        self._dialect = DIALECTS[dialect] if dialect else None
        self.latency: float | None = None  # of the last ping()
        self.client = HttpClient(url, timeout=timeout, user_agent=user_agent, auth=auth)

    # --- the QueryEngine interface ---------------------------------------------------------

    def graphs(self) -> tuple[str, ...]:
        return self._graphs

    def close(self) -> None:
        self.client.close()

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self.ping()
        assert self._dialect is not None
        return self._dialect

    def run(
        self,
        query: str,
        *,
        media_type: str,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
        base_iri: str | None = None,
    ) -> Answer:
        """Check ``query``, send it to the server, and serialize its answer in ``media_type``.

        Raises:
            QueryRejected, UpdateRejected, QuerySyntaxError: refused (4xx), by us or the server.
            NotAcceptable: ``media_type`` cannot carry this form of result.
            QueryTimeout, Overloaded: 503. RemoteError: the server failed or is unreachable (502).
        """
        info = check_query(
            query,
            max_length=self.max_length,
            max_depth=self.max_depth,
            known_graphs=self._known,
            base_iri=base_iri,
        )
        _check_format(info, media_type)
        default, named = self._dataset(info, default_graphs, named_graphs)
        shift = 0
        if base_iri is not None and _SAFE_IRI.match(base_iri):
            prefix = f"BASE <{base_iri}> "
            query, shift = prefix + query, len(prefix)
        dialect = self.dialect
        if info.form == "ASK":
            wire = JSON
        elif info.form == "SELECT":
            wire = JSON if dialect.json_results else TSV
        else:
            wire = N_TRIPLES
        limit = self.timeout if timeout is None else timeout
        response = self._send(query, wire, default, named, limit)
        try:
            if response.status != 200:
                raise self._refusal(response, shift)
            if info.form == "ASK":
                return _boolean(response.read(), media_type, self.url)
            if info.form == "SELECT":
                if dialect.json_results:
                    return _solutions_from_json(response.read(), media_type, self.max_rows)
                return _solutions_from_tsv(response, media_type, self.max_rows)
            return _triples(response, media_type, self.max_rows)
        except TimeoutError:
            raise QueryTimeout(f"the query ran longer than {limit:g} s and was abandoned") from None
        finally:
            response.close()

    # --- beyond the interface ----------------------------------------------------------------

    def ping(self) -> str:
        """Ask the server ``ASK {}``; learn its dialect; return its ``Server`` header."""
        started = time.monotonic()
        response = self._send("ASK {}", JSON, (NO_GRAPH,), (NO_GRAPH,), self.timeout)
        body = response.read()
        if response.status != 200:
            raise RemoteError(
                f"{self.url}: HTTP {response.status} to ASK {{}}: {_first_line(body)}"
            )
        server = response.headers.get("Server", "")
        if self._dialect is None:
            self._dialect = detect_dialect(server)
        self.latency = time.monotonic() - started
        return server

    def counts(self) -> dict[str, int]:
        """Triples per graph of the dataset held by the server (0 for a missing graph)."""
        query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        answer = self.run(query, media_type=JSON, named_graphs=self._graphs, timeout=600)
        bindings = json.loads(answer.body)["results"]["bindings"]
        counts = dict.fromkeys(self._graphs, 0)
        counts.update({row["g"]["value"]: int(row["n"]["value"]) for row in bindings})
        return counts

    def _dataset(
        self, info: QueryInfo, default_graphs: Sequence[str], named_graphs: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if default_graphs or named_graphs:
            unknown = [g for g in (*default_graphs, *named_graphs) if g not in self._known]
            if unknown:
                raise QueryRejected(f"<{unknown[0]}> is not a graph of this dataset")
            default, named = tuple(default_graphs), tuple(named_graphs)
        elif info.has_dataset:
            default, named = info.from_graphs, info.from_named_graphs
        else:
            default, named = self._union, self._graphs
        return default or (NO_GRAPH,), named or (NO_GRAPH,)

    def _send(
        self,
        query: str,
        accept: str,
        default: Iterable[str],
        named: Iterable[str],
        timeout: float,
    ) -> Response:
        fields = [("query", query)]
        fields += [("default-graph-uri", g) for g in default]
        fields += [("named-graph-uri", g) for g in named]
        body = urllib.parse.urlencode(fields).encode("utf-8")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}
        try:
            return self.client.request(
                "POST", self.url, body=body, headers=headers, timeout=timeout
            )
        except TimeoutError:
            raise QueryTimeout(
                f"the query ran longer than {timeout:g} s and was abandoned"
            ) from None
        except Unreachable as exc:
            raise RemoteError(f"the SPARQL store at {self.url} is unreachable ({exc})") from exc

    def _refusal(self, response: Response, shift: int) -> BolystError:
        text = response.read().decode("utf-8", "replace").strip()
        status = response.status
        if status == 400 or (status == 500 and "SP030" in text):
            line, column = _position(text)
            if line == 1 and column is not None:
                column = max(1, column - shift)
            message = _first_line(text)
            if column is not None and line is not None:
                message = f"line {line}, column {column}: " + re.sub(
                    r"^error at \d+:\d+: ", "", message
                )
            return QuerySyntaxError(message, line=line, column=column)
        if "S1T00" in text or "timed out" in text.lower():
            return QueryTimeout(f"the SPARQL store stopped the query: {_first_line(text)}")
        if status in (429, 503):
            return Overloaded(f"the SPARQL store is busy: {_first_line(text)}")
        return RemoteError(f"the SPARQL store answered HTTP {status}: {_first_line(text)}")


def _first_line(text: str | bytes, limit: int = 300) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _position(text: str) -> tuple[int | None, int | None]:
    """Oxigraph: ``error at 1:19: ...``; Virtuoso: ``..., line 1: syntax error ...``."""
    found = re.search(r"error at (\d+):(\d+)", text)
    if found:
        return int(found.group(1)), int(found.group(2))
    found = re.search(r"\bline (\d+):", text)
    return (int(found.group(1)), None) if found else (None, None)


def _check_format(info: QueryInfo, media_type: str) -> None:
    if info.form in ("SELECT", "ASK"):
        if ox.QueryResultsFormat.from_media_type(media_type) is None:
            raise NotAcceptable(
                f"{info.form} results cannot be written as {media_type}", RESULTS_TYPES
            )
    elif ox.RdfFormat.from_media_type(media_type) is None:
        raise NotAcceptable(f"{info.form} results cannot be written as {media_type}", GRAPH_TYPES)


def _results_format(media_type: str) -> ox.QueryResultsFormat:
    found = ox.QueryResultsFormat.from_media_type(media_type)
    assert found is not None  # _check_format ran
    return found


def _boolean(body: bytes, media_type: str, url: str) -> Answer:
    """An ASK answer; Virtuoso's is a table of one integer named ``__ASK_RETVAL``."""
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise RemoteError(f"{url}: the ASK answer is not SPARQL JSON") from exc
    if "boolean" in data:
        value = bool(data["boolean"])
    else:
        rows = data.get("results", {}).get("bindings", [])
        cell: dict[str, Any] = next(iter(rows[0].values()), {}) if rows else {}
        value = str(cell.get("value", "0")).lower() in ("1", "true")
    result = ox.parse_query_results(
        b'{"head":{},"boolean":' + (b"true" if value else b"false") + b"}",
        ox.QueryResultsFormat.JSON,
    )
    return Answer(
        result.serialize(format=_results_format(media_type)) or b"", media_type, None, False
    )


def _solutions_from_tsv(response: Response, media_type: str, cap: int) -> Answer:
    """Read SPARQL TSV up to ``cap`` solutions (one per line) and write it in ``media_type``."""
    stream = response.stream
    header = stream.readline()
    lines = [header]
    truncated = False
    while True:
        line = stream.readline()
        if not line:
            break
        if len(lines) > cap:
            truncated = True  # Response.close drops the connection with the rest unread
            break
        lines.append(line if line.endswith(b"\n") else line + b"\n")
    body = b"".join(lines)
    rows = len(lines) - 1
    if media_type == TSV:
        return Answer(body, media_type, rows, truncated)
    parsed = ox.parse_query_results(body, ox.QueryResultsFormat.TSV)
    return Answer(
        parsed.serialize(format=_results_format(media_type)) or b"", media_type, rows, truncated
    )


def _solutions_from_json(body: bytes, media_type: str, cap: int) -> Answer:
    """Rewrite a lax SPARQL JSON answer (Virtuoso's) as TSV, cut at ``cap``, then serialize."""
    data = json.loads(body)
    variables = data.get("head", {}).get("vars", [])
    bindings = data.get("results", {}).get("bindings", [])
    truncated = len(bindings) > cap
    lines = ["\t".join("?" + v for v in variables)]
    for row in bindings[:cap]:
        lines.append("\t".join(_json_term(row.get(v)) for v in variables))
    tsv = ("\n".join(lines) + "\n").encode("utf-8")
    rows = len(lines) - 1
    if media_type == TSV:
        return Answer(tsv, media_type, rows, truncated)
    parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
    return Answer(
        parsed.serialize(format=_results_format(media_type)) or b"", media_type, rows, truncated
    )


def _json_term(cell: Mapping[str, str] | None) -> str:
    """One SPARQL JSON term in N-Triples syntax (TSV's), accepting Virtuoso's variants."""
    if not cell:
        return ""
    kind, value = cell.get("type"), cell.get("value", "")
    if kind == "uri":
        return f"<{value}>"
    if kind == "bnode":
        return "_:" + _BNODE_CHAR.sub("_", value.removeprefix("nodeID://"))
    text = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    lang = cell.get("xml:lang")
    if lang:
        return f'"{text}"@{lang}'
    datatype = cell.get("datatype")
    if datatype == XSD_BOOLEAN and value in ("0", "1"):  # Virtuoso's JSON writes 0 and 1
        return '"true"^^<' + XSD_BOOLEAN + ">" if value == "1" else '"false"^^<' + XSD_BOOLEAN + ">"
    if datatype and datatype != "http://www.w3.org/2001/XMLSchema#string":
        return f'"{text}"^^<{datatype}>'
    return f'"{text}"'


def _triples(response: Response, media_type: str, cap: int) -> Answer:
    """Read N-Triples up to ``cap`` triples (one per line) and write them in ``media_type``."""
    stream = response.stream
    lines: list[bytes] = []
    truncated = False
    while True:
        line = stream.readline()
        if not line:
            break
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        if len(lines) >= cap:
            truncated = True
            break
        lines.append(line if line.endswith(b"\n") else line + b"\n")
    triples = [q.triple for q in ox.parse(b"".join(lines), format=ox.RdfFormat.N_TRIPLES)]
    fmt = ox.RdfFormat.from_media_type(media_type)
    assert fmt is not None  # _check_format ran
    prefixes = _used_prefixes(triples) if fmt in _PREFIXED else None
    if fmt.supports_datasets:
        body = ox.serialize(
            [ox.Quad(t.subject, t.predicate, t.object) for t in triples],
            format=fmt,
            prefixes=prefixes,
        )
    else:
        body = ox.serialize(triples, format=fmt, prefixes=prefixes)
    return Answer(body or b"", media_type, len(triples), truncated)


def _used_prefixes(triples: Iterable[ox.Triple]) -> dict[str, str]:
    spaces: set[str] = set()
    for triple in triples:
        for term in (triple.subject, triple.predicate, triple.object):
            if isinstance(term, ox.NamedNode):
                value = term.value
                cut = max(value.rfind("/"), value.rfind("#"))
                spaces.add(value[: cut + 1])
    return {prefix: space for prefix, space in PREFIXES.items() if space in spaces}
