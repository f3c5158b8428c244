"""Content negotiation: Accept header (or ?format=) -> media type, per kind of answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bolyst.errors import NotAcceptable
from bolyst.formats import (
    FORMATS,
    GRAPH,
    RESULTS,
    Kind,
    best_of,
    content_type,
    formats_of,
    kind_of,
    negotiate,
)

SRJ = "application/sparql-results+json"
SRX = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TTL = "text/turtle"
NT = "application/n-triples"
RDFXML = "application/rdf+xml"
JSONLD = "application/ld+json"
TRIG = "application/trig"
NQ = "application/n-quads"

BY_ACCEPT = [
    # kind, Accept, expected media type
    (RESULTS, None, SRJ),
    (RESULTS, "", SRJ),
    (RESULTS, "   ", SRJ),
    (RESULTS, "*/*", SRJ),
    (RESULTS, "*", SRJ),
    (RESULTS, SRX, SRX),
    (RESULTS, CSV, CSV),
    (RESULTS, TSV, TSV),
    (RESULTS, "TEXT/CSV", CSV),
    (RESULTS, "text/csv; charset=utf-8", CSV),
    (RESULTS, "text/csv;header=present;q=0.9", CSV),
    (RESULTS, "text/*", CSV),
    (RESULTS, "text/*, text/csv;q=0", TSV),
    (RESULTS, f"{SRJ};q=0, */*", SRX),
    (RESULTS, f"{SRJ};q=0, {SRX};q=0, */*;q=0.5", CSV),
    (RESULTS, f"{SRJ};q=0.5, {SRX}", SRX),
    (RESULTS, f"{SRX};q=0.8, {CSV};q=0.9, */*;q=0.1", CSV),
    (RESULTS, f"{SRX}, {SRJ}", SRJ),  # equal quality: table order
    (RESULTS, "application/json", SRJ),  # alias
    (RESULTS, "application/xml", SRX),
    (RESULTS, "text/html, application/xhtml+xml, */*;q=0.8", SRJ),  # a browser
    (RESULTS, f"{SRJ},application/json,text/javascript,application/javascript", SRJ),
    (RESULTS, "application/sparql-results+xml,application/xml,text/xml", SRX),
    (RESULTS, "garbage, */*;q=0.1", SRJ),
    (GRAPH, None, TTL),
    (GRAPH, "", TTL),
    (GRAPH, "*/*", TTL),
    (GRAPH, NT, NT),
    (GRAPH, RDFXML, RDFXML),
    (GRAPH, JSONLD, JSONLD),
    (GRAPH, TRIG, TRIG),
    (GRAPH, NQ, NQ),
    (GRAPH, "application/*", NT),
    (GRAPH, f"application/*, {NT};q=0.2", RDFXML),
    (GRAPH, f"{TTL};q=0, */*", NT),
    (GRAPH, f"{RDFXML};q=0.5, text/*", TTL),
    (GRAPH, "application/turtle,text/turtle", TTL),  # SPARQLWrapper TURTLE
    (GRAPH, "application/ld+json,application/x-json+ld", JSONLD),  # SPARQLWrapper JSONLD
    (GRAPH, "application/json", JSONLD),
    (GRAPH, "application/xml", RDFXML),
    (GRAPH, "text/n3", TTL),
    (
        GRAPH,
        "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.8, */*;q=0.1",
        NT,
    ),
]


@pytest.mark.parametrize(("kind", "accept", "expected"), BY_ACCEPT)
def test_negotiate_by_accept(kind: Kind, accept: str | None, expected: str) -> None:
    assert negotiate(kind, accept, None) == expected


NOT_ACCEPTABLE = [
    (RESULTS, TTL),
    (RESULTS, "text/html"),
    (RESULTS, f"{SRJ};q=0"),
    (RESULTS, "*/*;q=0"),
    (RESULTS, "image/*"),
    (GRAPH, SRJ),
    (GRAPH, "text/csv, text/html"),
    (GRAPH, "text/*;q=0, application/*;q=0"),
]


@pytest.mark.parametrize(("kind", "accept"), NOT_ACCEPTABLE)
def test_406_names_what_would_work(kind: Kind, accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        negotiate(kind, accept, None)
    assert caught.value.status == 406
    offers = tuple(f.media_type for f in formats_of(kind))
    assert caught.value.offers == offers
    for media_type in offers:
        assert media_type in str(caught.value)


BY_NAME = [
    (RESULTS, "json", SRJ),
    (RESULTS, "JSON", SRJ),
    (RESULTS, "xml", SRX),
    (RESULTS, "csv", CSV),
    (RESULTS, "tsv", TSV),
    (RESULTS, SRX, SRX),
    (RESULTS, "  csv ", CSV),
    (GRAPH, "ttl", TTL),
    (GRAPH, "turtle", TTL),
    (GRAPH, "nt", NT),
    (GRAPH, "rdfxml", RDFXML),
    (GRAPH, "xml", RDFXML),
    (GRAPH, "rdf+xml", RDFXML),
    (GRAPH, "jsonld", JSONLD),
    (GRAPH, "json-ld", JSONLD),
    (GRAPH, "json", JSONLD),
    (GRAPH, "trig", TRIG),
    (GRAPH, "nq", NQ),
    (GRAPH, NQ, NQ),
]


@pytest.mark.parametrize(("kind", "name", "expected"), BY_NAME)
def test_format_parameter_overrides_accept(kind: Kind, name: str, expected: str) -> None:
    assert negotiate(kind, None, name) == expected
    assert negotiate(kind, "text/html;q=1, */*;q=0", name) == expected


@pytest.mark.parametrize(("kind", "name"), [(RESULTS, "ttl"), (GRAPH, "csv"), (RESULTS, "pdf")])
def test_format_parameter_that_does_not_fit(kind: Kind, name: str) -> None:
    with pytest.raises(NotAcceptable, match="use one of"):
        negotiate(kind, SRJ, name)


def test_empty_format_parameter_falls_back_to_accept() -> None:
    assert negotiate(RESULTS, CSV, "") == CSV


def test_table_is_consistent() -> None:
    media_types = [f.media_type for f in FORMATS]
    assert len(media_types) == len(set(media_types))
    for kind in (RESULTS, GRAPH):
        names = [name for f in formats_of(kind) for name in f.names]
        assert len(names) == len(set(names)), f"a name is used twice in {kind}"
    assert {f.media_type for f in formats_of(RESULTS)} == {SRJ, SRX, CSV, TSV}
    assert {f.media_type for f in formats_of(GRAPH)} == {TTL, NT, RDFXML, JSONLD, TRIG, NQ}
    assert all(f.rdflib for f in formats_of(GRAPH))


@pytest.mark.parametrize(
    ("form", "kind"),
    [("SELECT", RESULTS), ("ASK", RESULTS), ("CONSTRUCT", GRAPH), ("DESCRIBE", GRAPH)],
)
def test_kind_of(form: str, kind: Kind) -> None:
    assert kind_of(form) == kind


def test_content_type_says_utf8() -> None:
    assert content_type(SRJ) == SRJ + "; charset=utf-8"
    assert content_type("image/png") == "image/png"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/plain"),
        ("*/*", "text/plain"),
        ("application/json", "application/json"),
        ("text/plain;q=0.5, application/json", "application/json"),
        ("text/html", "text/plain"),
    ],
)
def test_best_of(accept: str | None, expected: str) -> None:
    assert best_of(accept, ("text/plain", "application/json")) == expected


def test_readme_format_names_work(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"`format=` \(([^)]*)\)", readme)
    assert listed is not None, "README.md no longer lists the format= names"
    names = re.findall(r"`([a-z]+)`", listed.group(1))
    assert len(names) == 10
    for name in names:
        kinds = [
            kind for kind in (RESULTS, GRAPH) if any(name in f.names for f in formats_of(kind))
        ]
        assert kinds, f"README.md names format={name}, which negotiate() does not know"
