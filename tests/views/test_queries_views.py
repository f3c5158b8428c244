"""/queries: the list, one query's page (typed parameters, table) and its downloads."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, URIRef

from bolyst.pages.site import Site
from bolyst.queries import bind, list_stored_queries
from bolyst.store.local import select

REPO_ROOT = Path(__file__).resolve().parents[2]
QUERIES = {q.name: q for q in list_stored_queries(REPO_ROOT / "queries")}
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


def answer(app: Flask, query_name: str, **given: str) -> list[dict[str, str]]:
    site: Site = app.extensions["bolyst"]["site"]
    query = QUERIES[query_name]
    return select(site.store, query.text, default_graphs=site.graphs, bindings=bind(query, given))


def text_of(element: Any) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def test_the_list_has_every_stored_query(site_client: FlaskClient, page_check: Any) -> None:
    root = page_check(site_client.get("/queries").data)
    links = {a.get("href"): text_of(a) for a in root.iter("a")}
    for name, query in QUERIES.items():
        assert links[f"/queries/{name}"] == query.title
        assert f"/queries/{name}.csv" in links
    assert QUERIES["fees"].description in text_of(root)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_csv_rows_are_the_stored_querys_answer(
    site_app: Flask, site_client: FlaskClient, name: str
) -> None:
    response = site_client.get(f"/queries/{name}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="{name}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    expected = answer(site_app, name)
    assert len(rows) == len(expected)
    cleaned = [{k: v for k, v in row.items() if v != ""} for row in rows]
    assert sorted(map(sorted, (r.items() for r in cleaned))) == sorted(
        map(sorted, (r.items() for r in expected))
    )


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_page_shows_its_answer(
    site_app: Flask, site_client: FlaskClient, page_check: Any, name: str
) -> None:
    response = site_client.get(f"/queries/{name}")
    assert response.status_code == 200
    root = page_check(response.data)
    assert text_of(root.find(".//h1")) == QUERIES[name].title
    table = root.find(".//table[@class='answer']")
    body = table.find("tbody")
    assert len(body.findall("tr")) == len(answer(site_app, name))
    downloads = {a.get("href") for a in root.iter("a") if a.get("class") == "download"}
    assert {f"/queries/{name}.{ext}" for ext in ("csv", "tsv", "json")} == downloads


def test_iris_in_the_table_link_to_our_pages(site_client: FlaskClient, page_check: Any) -> None:
    root = page_check(site_client.get("/queries/programmes").data)
    hrefs = [a.get("href") for a in root.find(".//table[@class='answer']").iter("a")]
    assert "/id/programme/kom-trainee" in hrefs


def test_tsv_and_json_downloads(site_app: Flask, site_client: FlaskClient) -> None:
    expected = answer(site_app, "members-and-roles")
    tsv = site_client.get("/queries/members-and-roles.tsv")
    assert tsv.mimetype == "text/tab-separated-values"
    assert len(tsv.data.decode().strip().splitlines()) == len(expected) + 1
    srj = site_client.get("/queries/members-and-roles.json")
    assert srj.mimetype == "application/sparql-results+json"
    bindings = json.loads(srj.data)["results"]["bindings"]
    assert len(bindings) == len(expected)
    assert site_client.get("/queries/members-and-roles.ttl").status_code == 404  # not a graph


def test_typed_parameters_bind(site_app: Flask, site_client: FlaskClient) -> None:
    # Steinkjer had code 5004 in 2019 (data/places.ttl, from KLASS)
    response = site_client.get("/queries/municipality-code-in-year.csv?year=2019&name=Steinkjer")
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert [r for r in rows if r.get("code")] and {r["code"] for r in rows} == {
        r["code"]
        for r in answer(site_app, "municipality-code-in-year", year="2019", name="Steinkjer")
    }
    assert "5004" in response.data.decode()
    page = site_client.get("/queries/municipality-code-in-year?year=2019&name=Steinkjer&lang=en")
    assert page.status_code == 200
    assert 'value="2019"' in page.data.decode()
    # the CSV link carries the parameters
    assert (
        "/queries/municipality-code-in-year.csv?name=Steinkjer&amp;year=2019" in page.data.decode()
    )


def test_empty_fields_take_the_defaults(site_app: Flask, site_client: FlaskClient) -> None:
    response = site_client.get("/queries/members-and-roles.csv?programme=")
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert len(rows) == len(answer(site_app, "members-and-roles"))


def test_a_bad_parameter_is_a_400_page_naming_it(site_client: FlaskClient, page_check: Any) -> None:
    response = site_client.get(
        "/queries/municipality-code-in-year?year=20x1", headers={"Accept": BROWSER}
    )
    assert response.status_code == 400
    root = page_check(response.data)
    field = root.find(".//input[@id='param-year']")
    assert field.get("aria-invalid") == "true"
    message = root.find(".//*[@id='error-year']")
    assert "?year" in text_of(message) and "20x1" in text_of(message)
    assert root.find(".//table[@class='answer']") is None
    unknown = site_client.get("/queries/fees?colour=blue", headers={"Accept": BROWSER})
    assert unknown.status_code == 400 and "colour" in unknown.data.decode()


def test_a_bad_parameter_in_a_download_is_400_text(site_client: FlaskClient) -> None:
    response = site_client.get("/queries/municipality-code-in-year.csv?year=20x1")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert "?year" in response.data.decode()
    iri = site_client.get("/queries/members-and-roles.csv?programme=not%20an%20iri")
    assert iri.status_code == 400 and "?programme" in iri.data.decode()


def test_unknown_query_is_404(site_client: FlaskClient) -> None:
    assert site_client.get("/queries/no-such-query").status_code == 404
    assert site_client.get("/queries/no-such-query.csv").status_code == 404


def test_the_editor_link_gives_the_same_answer(site_app: Flask, site_client: FlaskClient) -> None:
    page = site_client.get("/queries/municipality-code-in-year?year=2019&name=Steinkjer").data
    href = re.search(rb'href="(/query\?query=[^"]+)"', page)
    assert href is not None
    text = parse_qs(urlsplit(href.group(1).decode().replace("&amp;", "&")).query)["query"][0]
    assert (
        'VALUES (?name ?year) { ("Steinkjer" "2019"^^<http://www.w3.org/2001/XMLSchema#gYear>) }'
        in text
    )
    site: Site = site_app.extensions["bolyst"]["site"]
    assert select(site.store, text, default_graphs=site.graphs) == answer(
        site_app, "municipality-code-in-year", year="2019", name="Steinkjer"
    )


def test_graph_queries_answer_as_turtle(hostile_client: FlaskClient, page_check: Any) -> None:
    page = hostile_client.get("/queries/graph-of")
    root = page_check(page.data)
    downloads = {a.get("href") for a in root.iter("a") if a.get("class") == "download"}
    assert downloads == {f"/queries/graph-of.{e}" for e in ("ttl", "nt", "jsonld")}
    heads = [text_of(th) for th in root.find(".//table[@class='answer']/thead").iter("th")]
    assert heads == ["subject", "predicate", "object"]
    turtle = hostile_client.get("/queries/graph-of.ttl")
    assert turtle.mimetype == "text/turtle"
    graph = Graph().parse(data=turtle.data, format="turtle")
    assert (URIRef("https://w3id.org/bolyst/id/programme/hostile"), None, None) in graph
    assert hostile_client.get("/queries/graph-of.csv").status_code == 404


def test_parameters_get_labelled_typed_fields(hostile_client: FlaskClient, page_check: Any) -> None:
    root = page_check(hostile_client.get("/queries/members-of").data)
    fields = {i.get("name"): i for i in root.iter("input")}
    assert fields["year"].get("type") == "number"
    assert fields["limit"].get("type") == "number"
    assert fields["programme"].get("type") == "url"
    assert fields["programme"].get("placeholder") == "https://w3id.org/bolyst/id/programme/hostile"
