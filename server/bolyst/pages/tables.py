"""Stored queries as pages: the answer of a ``queries/*.rq`` file as a table for people.

The query runs in process on the trusted store (the files are ours; their parameters are typed,
checked and bound as substitutions by :func:`bolyst.queries.bind`). The downloads (CSV, TSV, JSON,
Turtle) are serialized by the same engine from the same bound query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bolyst.formats import GRAPH, RESULTS, Format, Kind, formats_of, kind_of
from bolyst.pages import page_queries
from bolyst.pages.resource import Link, link
from bolyst.pages.site import Site
from bolyst.queries import StoredQuery
from bolyst.store.local import Term, query_terms

_FORM = re.compile(r"\b(SELECT|CONSTRUCT|DESCRIBE|ASK)\b", re.IGNORECASE)
# The downloads each kind of answer offers, by extension: results and graphs.
DOWNLOADS = {
    RESULTS: {
        "csv": "text/csv",
        "tsv": "text/tab-separated-values",
        "json": "application/sparql-results+json",
    },
    GRAPH: {"ttl": "text/turtle", "nt": "application/n-triples", "jsonld": "application/ld+json"},
}


@dataclass(frozen=True)
class Cell:
    link: Link | None = None
    text: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Table:
    kind: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell | None, ...], ...]
    boolean: bool | None = None


def form_of(query: StoredQuery) -> str:
    """The query form (SELECT, ASK, CONSTRUCT, DESCRIBE) of a stored query, from its text.

    >>> from pathlib import Path
    >>> text = "#+ title: x\\nPREFIX a: <http://e/ask#>\\nCONSTRUCT { ?s ?p ?o } WHERE {}"
    >>> form_of(StoredQuery("q", "t", "", (), text, Path()))
    'CONSTRUCT'
    """
    code = re.sub(r"#[^\n]*|<[^<>\s]*>|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", " ", query.text)
    match = _FORM.search(code)
    return match.group(1).upper() if match else "SELECT"


def kind(query: StoredQuery) -> Kind:
    return kind_of(form_of(query))


def downloads(query: StoredQuery) -> dict[str, str]:
    """Extension -> media type of the answer's downloads."""
    return DOWNLOADS[kind(query)]


def formats(query: StoredQuery) -> tuple[Format, ...]:
    return formats_of(kind(query))


def run(site: Site, query: StoredQuery, bindings: dict[str, tuple[str, str]], lang: str) -> Table:
    """Run ``query`` with ``bindings`` and turn the answer into cells (IRIs become links)."""
    answer = query_terms(site.store, query.text, default_graphs=site.graphs, bindings=bindings)
    if answer.form == "SELECT":
        columns = answer.variables
        rows = tuple(tuple(_cell(site, row.get(c), lang) for c in columns) for row in answer.rows)
        return Table(RESULTS, columns, rows)
    if answer.form == "CONSTRUCT":
        columns = ("subject", "predicate", "object")
        rows = tuple(tuple(_cell(site, t, lang) for t in triple) for triple in answer.triples)
        return Table(GRAPH, columns, rows)
    return Table(RESULTS, (), (), boolean=answer.boolean)


def _cell(site: Site, term: Term | None, lang: str) -> Cell | None:
    if term is None:
        return None
    if term.is_iri:
        return Cell(link=link(site, term.value, lang))
    if term.is_bnode:
        return Cell(text="_:" + term.value)
    return Cell(text=site.literal(term, lang), lang=term.lang)


def editor_text(query: StoredQuery, bindings: dict[str, tuple[str, str]]) -> str:
    """The query with its bound values written in, to open in the query editor."""
    values = {name: _sparql_term(kind_, value) for name, (kind_, value) in bindings.items()}
    return page_queries.with_values(query.text, values)


def _sparql_term(kind_: str, value: str) -> str:
    """A typed parameter as SPARQL text (values were checked by their type before).

    >>> _sparql_term("iri", "https://w3id.org/x"), _sparql_term("string", 'a "b"')
    ('<https://w3id.org/x>', '"a \\\\"b\\\\""')
    >>> _sparql_term("year", "2011")
    '"2011"^^<http://www.w3.org/2001/XMLSchema#gYear>'
    """
    if kind_ == "iri":
        return f"<{value}>"
    if kind_ == "integer":
        return value
    if kind_ == "year":
        return f'"{value}"^^<http://www.w3.org/2001/XMLSchema#gYear>'
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'
