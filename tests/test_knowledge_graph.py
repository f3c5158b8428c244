"""The shipped ontology/ and data/: they parse, conform to shapes/, quote their sources exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef

from bolyst.cli import run_validation
from bolyst.load import find_sources, load_dataset, parse_file, union

ROOT = Path(__file__).resolve().parents[1]
SOURCES = find_sources(ROOT)
OA = Namespace("http://www.w3.org/ns/oa#")
PROV = Namespace("http://www.w3.org/ns/prov#")
SDO = Namespace("https://schema.org/")
DCT = Namespace("http://purl.org/dc/terms/")
# The one encoding fix the data applies (see data/README.md): a broken no-break space.
DEBRIS = "\u1161\u1160"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return union(load_dataset((*SOURCES.ontology, *SOURCES.data), ROOT))


@pytest.mark.parametrize(
    "path",
    [*SOURCES.ontology, *SOURCES.data, *SOURCES.shapes],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_every_turtle_file_parses(path: Path) -> None:
    assert len(parse_file(path, root=ROOT)) > 0


def test_shipped_data_conforms_to_the_shapes() -> None:
    report = run_validation(SOURCES)
    assert report.conforms, report.text()


def seed_text(graph: Graph, page: URIRef) -> str:
    name = graph.value(page, DCT.identifier)
    assert name is not None, f"{page} names no seed file"
    return (ROOT / "data" / "seeds" / str(name)).read_text(encoding="utf-8").replace(DEBRIS, " ")


def test_every_quote_occurs_in_its_page(graph: Graph) -> None:
    """Quotes from the seed pages are checked word for word; other sources must be web pages."""
    checked = 0
    for selector in graph.subjects(RDF.type, OA.TextQuoteSelector):
        quote = str(graph.value(selector, OA.exact))
        resource = graph.value(None, OA.hasSelector, selector)
        source = graph.value(resource, OA.hasSource)
        page = graph.value(source, SDO.isPartOf)
        if page is None:
            # A page outside the seeds (e.g. the report's page at regjeringen.no).
            assert (source, RDF.type, SDO.WebPage) in graph, f"{quote[:40]!r}: no page"
            assert graph.value(source, SDO.url) is not None
            continue
        assert quote in seed_text(graph, page), f"not in {page}: {quote!r}"
        checked += 1
    assert checked > 100


def test_quotes_carry_no_encoding_debris(graph: Graph) -> None:
    quotes = [str(o) for o in graph.objects(None, OA.exact)]
    assert quotes and not [q for q in quotes if DEBRIS in q]


def test_every_section_belongs_to_a_page_with_a_seed(graph: Graph) -> None:
    sections = set(graph.subjects(RDF.type, SDO.WebPageElement))
    assert len(sections) == 11 + 13 + 15
    pages = {graph.value(s, SDO.isPartOf) for s in sections}
    assert len(pages) == 3
    for page in pages:
        assert isinstance(page, URIRef)
        assert seed_text(graph, page)
