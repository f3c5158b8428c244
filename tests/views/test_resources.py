"""/id/... and /ontology: content negotiation, the RDF answers, headers, the 404 page."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from rdflib import RDF, Graph, Literal, Namespace, URIRef

# rdflib 7.6 parses JSON-LD through its deprecated ConjunctiveGraph.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

ID = "https://w3id.org/bolyst/id/"
KOM = URIRef(ID + "programme/kom-trainee")
HAMAR = URIRef(ID + "organisation/hamar-kommune")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
OA = Namespace("http://www.w3.org/ns/oa#")
BOLYST = Namespace("https://w3id.org/bolyst/ontology#")
RDFLIB_FORMAT = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        (BROWSER, "text/html"),
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/ld+json"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("text/html;q=0.5, text/turtle", "text/turtle"),
        ("application/rdf+xml;q=0.9, text/turtle;q=0.1", "application/rdf+xml"),
        ("text/*", "text/html"),
        ("text/turtle;q=0, */*;q=0.1", "text/html"),
    ],
)
def test_accept_chooses_the_answer(
    site_client: FlaskClient, accept: str | None, expected: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = site_client.get("/id/programme/kom-trainee", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == expected
    assert "Accept" in response.vary


@pytest.mark.parametrize(
    ("extension", "media_type"),
    [
        ("ttl", "text/turtle"),
        ("jsonld", "application/ld+json"),
        ("nt", "application/n-triples"),
        ("rdf", "application/rdf+xml"),
    ],
)
def test_extension_wins_over_accept(
    site_client: FlaskClient, extension: str, media_type: str
) -> None:
    response = site_client.get(
        f"/id/programme/kom-trainee.{extension}", headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    assert response.mimetype == media_type
    graph = Graph().parse(data=response.data, format=RDFLIB_FORMAT[media_type])
    # The resource's own triples...
    assert (KOM, RDF.type, BOLYST.RegionalTraineeProgramme) in graph
    assert (KOM, SKOS.prefLabel, Literal("KOM Trainee", lang="nb")) in graph
    # ...its provenance, through the blank nodes (oa:SpecificResource -> section + quote)...
    sources = list(graph.objects(KOM, PROV.wasDerivedFrom))
    quotes = {
        str(q)
        for s in sources
        for sel in graph.objects(s, OA.hasSelector)
        for q in graph.objects(sel, OA.exact)
    }
    assert "KOM Trainee eies av medlemsbedriftene." not in quotes  # that one is the legal form's
    assert any("opprettet i 2006 med 14 medlemsbedrifter" in q for q in quotes)
    assert URIRef(ID + "section/dst-kom-trainee--bakgrunn") in {
        o for s in sources for o in graph.objects(s, OA.hasSource)
    }
    # ...and what points to it (a membership).
    assert (
        URIRef(ID + "membership/kom-trainee--averoy-kommune--supporter"),
        ORG.organization,
        KOM,
    ) in graph


def test_every_syntax_says_the_same(site_client: FlaskClient) -> None:
    graphs = []
    for media_type, fmt in RDFLIB_FORMAT.items():
        response = site_client.get("/id/organisation/hamar-kommune", headers={"Accept": media_type})
        graphs.append(Graph().parse(data=response.data, format=fmt))
    sizes = {len(g) for g in graphs}
    assert len(sizes) == 1 and sizes.pop() > 10
    assert all((HAMAR, SKOS.prefLabel, Literal("Hamar kommune", lang="nb")) in g for g in graphs)


def test_nothing_acceptable_is_406(site_client: FlaskClient) -> None:
    response = site_client.get("/id/programme/kom-trainee", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert b"text/turtle" in response.data  # says what would do


def test_headers_name_the_alternates_and_the_canonical_iri(site_client: FlaskClient) -> None:
    response = site_client.get("/id/programme/kom-trainee")
    link = response.headers["Link"]
    assert f'<{KOM}>; rel="canonical"' in link
    for ext, media_type in (
        ("ttl", "text/turtle"),
        ("jsonld", "application/ld+json"),
        ("nt", "application/n-triples"),
        ("rdf", "application/rdf+xml"),
    ):
        assert f'</id/programme/kom-trainee.{ext}>; rel="alternate"; type="{media_type}"' in link
    assert set(response.vary) >= {"Accept", "Accept-Language"}
    turtle = site_client.get("/id/programme/kom-trainee", headers={"Accept": "text/turtle"})
    assert turtle.headers["Content-Location"] == "/id/programme/kom-trainee.ttl"


def test_the_page_has_the_canonical_link_and_downloads(
    site_client: FlaskClient, page_check: Any
) -> None:
    response = site_client.get("/id/programme/kom-trainee")
    root = page_check(response.data)
    links = {(e.get("rel"), e.get("href")) for e in root.iter("link")}
    assert ("canonical", str(KOM)) in links
    hrefs = {e.get("href") for e in root.iter("a")}
    assert {f"/id/programme/kom-trainee.{x}" for x in ("ttl", "jsonld", "nt", "rdf")} <= hrefs


def test_unknown_iri_is_a_helpful_404(site_client: FlaskClient, page_check: Any) -> None:
    response = site_client.get("/id/programme/kom-traine", headers={"Accept": BROWSER})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    root = page_check(response.data)
    suggestions = [a.get("href") for a in root.iter("a")]
    assert "/id/programme/kom-trainee" in suggestions
    as_rdf = site_client.get("/id/programme/kom-traine", headers={"Accept": "text/turtle"})
    assert as_rdf.status_code == 404 and as_rdf.mimetype == "text/plain"
    assert "Accept" in as_rdf.vary
    assert site_client.get("/id/programme/kom-traine.ttl").status_code == 404


def test_a_dotted_iri_is_not_an_extension(site_client: FlaskClient) -> None:
    # The dataset's version IRIs end in ".0"; only known extensions are cut off.
    response = site_client.get("/id/programme/kom-trainee.html")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
    ],
)
def test_ontology_negotiates(site_client: FlaskClient, accept: str | None, expected: str) -> None:
    response = site_client.get("/ontology", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == expected
    assert '<https://w3id.org/bolyst/ontology>; rel="canonical"' in response.headers["Link"]


def test_ontology_rdf_is_the_ontology(site_client: FlaskClient) -> None:
    graph = Graph().parse(data=site_client.get("/ontology.ttl").data, format="turtle")
    owl = Namespace("http://www.w3.org/2002/07/owl#")
    assert (URIRef("https://w3id.org/bolyst/ontology"), RDF.type, owl.Ontology) in graph
    assert (BOLYST.Goal, RDF.type, owl.Class) in graph
    assert (URIRef(ID + "role/member"), SKOS.inScheme, URIRef(ID + "scheme/role")) in graph
    # only the ontology: no programme
    assert (KOM, None, None) not in graph


def test_ontology_page_documents_every_term(site_client: FlaskClient, page_check: Any) -> None:
    response = site_client.get("/ontology")
    root = page_check(response.data)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for term in (
        "RegionalTraineeProgramme",
        "Goal",
        "mainGoal",
        "valueType",
        "Kommunenummer",
        "LinkCandidate",
    ):
        assert term in ids
    text = response.data.decode()
    # definitions in both languages
    assert "A collaboration of organisations in a region" in text
    assert "Et samarbeid mellom virksomheter i en region" in text
    # concept schemes with their concepts, linked to their pages
    assert 'id="scheme-role"' in text and 'href="/id/role/member"' in text
