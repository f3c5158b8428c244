"""bolyst with rdflib's SPARQL engine behind the same Flask app: one system of bench_backends.py.

Not a supported configuration: it measures what the endpoint would cost on rdflib's engine.
The app is the one ``bolyst serve`` runs (protocol, negotiation, policy, ETags, CORS, logging),
with its query engine replaced by :class:`RdflibEngine` (``Graph.query`` over the union of the
ontology and data files, in the HTTP worker). Run by granian: ``rdflib_app:app``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rdflib import Graph

from bolyst import create_app
from bolyst.errors import QuerySyntaxError
from bolyst.load import find_sources
from bolyst.policy import check_query
from bolyst.store import Answer

FORMATS = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "text/turtle": "turtle",
    "application/n-triples": "nt",
}


class RdflibEngine:
    """A :class:`bolyst.store.QueryEngine` on rdflib's engine, in process (no time limit)."""

    def __init__(self, root: Path, graphs: Sequence[str]) -> None:
        sources = find_sources(root)
        self.graph = Graph()
        for path in (*sources.ontology, *sources.data):
            self.graph.parse(path, format="turtle")
        self._graphs = tuple(graphs)

    def graphs(self) -> tuple[str, ...]:
        return self._graphs

    def close(self) -> None:
        pass

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
        check_query(query, known_graphs=self._graphs, base_iri=base_iri)
        try:
            result = self.graph.query(query, base=base_iri)
        except Exception as exc:  # rdflib's parser raises pyparsing errors
            raise QuerySyntaxError(str(exc)) from exc
        fmt = FORMATS.get(media_type, "json")
        if result.type in ("CONSTRUCT", "DESCRIBE"):
            assert result.graph is not None
            body = result.graph.serialize(format=fmt).encode("utf-8")
            return Answer(body, media_type, len(result.graph), False)
        body = result.serialize(format=fmt)
        rows = None if result.type == "ASK" else len(result)
        return Answer(body or b"", media_type, rows, False)


def _build() -> object:
    application = create_app()
    state = application.extensions["bolyst"]
    graphs = state["engine"].graphs()
    state["engine"].close()
    state["engine"] = RdflibEngine(Path(application.config["ROOT"]), graphs)
    return application


app = _build()
