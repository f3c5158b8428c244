"""The HTML pages: landing page, resource pages, the query editor; language; escaping; HTML5."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bolyst.pages.site import Site
from bolyst.queries import bind
from bolyst.store.local import select

REPO_ROOT = Path(__file__).resolve().parents[2]
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"
PAGES = (
    "/",
    "/?lang=nb",
    "/id/programme/kom-trainee",
    "/id/programme/trainee-innlandet?lang=nb",
    "/id/organisation/hamar-kommune",
    "/id/admin-unit/kommune-0403-1992",
    "/id/section/dst-kom-trainee--bakgrunn",
    "/id/observation/kom-trainee--applicants--2009",
    "/id/membership/trainee-innlandet--hamar-kommune--member",
    "/id/role/member",
    "/id/scheme/role",
    "/ontology",
    "/ontology?lang=nb",
    "/queries",
    "/queries/members-and-roles",
    "/queries/municipality-code-in-year?year=2019",
    "/query",
    "/id/programme/nowhere",
    "/no/such/page",
)


def text_of(element: Any) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_valid_html5_with_the_site_nav(
    site_client: FlaskClient, page_check: Any, path: str
) -> None:
    response = site_client.get(path, headers={"Accept": BROWSER})
    assert response.mimetype == "text/html"
    root = page_check(response.data)
    nav = [e for e in root.iter("nav") if e.get("aria-label") in ("Site", "Nettstedet")]
    assert nav, "the site navigation"
    hrefs = {a.get("href") for a in nav[0].iter("a")}
    assert {"/", "/query", "/queries", "/ontology", "/dumps/", "/dataset"} <= hrefs
    skip = root.find(".//a[@class='skip']")
    assert skip is not None and skip.get("href") == "#main"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def run_stored(site: Site, name: str) -> list[dict[str, str]]:
    from bolyst.queries import parse_stored_query

    query = parse_stored_query(REPO_ROOT / "queries" / f"{name}.rq")
    return select(site.store, query.text, default_graphs=site.graphs, bindings=bind(query, {}))


def test_landing_page_shows_the_programmes_side_by_side(
    site_app: Flask, site_client: FlaskClient, page_check: Any
) -> None:
    root = page_check(site_client.get("/").data)
    table = root.find(".//table[@class='compare']")
    assert table is not None
    heads = [text_of(th) for th in table.find("thead").iter("th")]
    programmes = run_stored(site_app.extensions["bolyst"]["site"], "programmes")
    assert heads == [r["name"] for r in programmes]
    rows = {
        text_of(tr.find("th")).split(" (")[0]: [text_of(td) for td in tr.findall("td")]
        for tr in table.find("tbody")
    }
    assert rows["Founded"] == [r["founded"] for r in programmes]
    for name in (
        "Members",
        "Membership fee",
        "Staffing",
        "Trainees",
        "Applicants",
        "Offered a job",
        "Settled after 3 years",
    ):
        assert name in rows
    rates = {
        r["programmeName"]: r
        for r in run_stored(site_app.extensions["bolyst"]["site"], "rates-side-by-side")
    }
    for column, name in enumerate(heads):
        offered = rates[name].get("jobOfferRate")
        expected = f"{round(float(offered) * 100)}%" if offered else "no figure"
        assert rows["Offered a job"][column] == expected
    assert "16 (until 2011)" in rows["Members"][2]  # KOM Trainee: «Per dags dato er 16 bedrifter»
    links = {a.get("href") for a in root.iter("a")}
    assert {"/query", "/queries", "/dumps/", "/dataset"} <= links
    assert {
        "/id/programme/trainee-innlandet",
        "/id/programme/intro-innherred",
        "/id/programme/kom-trainee",
    } <= links


def test_landing_page_charts_are_accessible_svg_with_the_data(
    site_app: Flask, site_client: FlaskClient, page_check: Any
) -> None:
    root = page_check(site_client.get("/").data)
    charts = [e for e in root.iter("svg") if e.get("role") == "img"]
    assert {c.get("id") for c in charts} == {
        "chart-rates",
        "chart-members",
        "chart-staffing",
        "chart-applicants",
    }
    for chart in charts:
        title, desc = chart.find("title"), chart.find("desc")
        assert title is not None and desc is not None and text_of(desc)
        assert chart.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    rates = next(c for c in charts if c.get("id") == "chart-rates")
    values = [r.get("data-value") for r in rates.iter("rect") if r.get("data-value")]
    expected = []
    by_name = {
        r["programmeName"]: r
        for r in run_stored(site_app.extensions["bolyst"]["site"], "rates-side-by-side")
    }
    for programme in [text_of(t) for t in rates.iter("text") if t.get("class") == "category"]:
        for key in ("jobOfferRate", "settledAfter3Years"):
            if by_name[programme].get(key):
                expected.append(f"{round(float(by_name[programme][key]) * 100)}%")
    assert values == expected
    staffing = next(c for c in charts if c.get("id") == "chart-staffing")
    widths = [float(r.get("width")) for r in staffing.iter("rect") if r.get("data-value")]
    assert [r.get("data-value") for r in staffing.iter("rect") if r.get("data-value")] == [
        "1",
        "0.8",
        "0.7",
    ]
    assert widths[0] > widths[1] > widths[2] > 0  # bars in proportion to 1.0, 0.8, 0.7 FTE


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, "", "en"),
        ({"Accept-Language": "nb-NO,nb;q=0.9,en;q=0.5"}, "", "nb"),
        ({"Accept-Language": "nn"}, "", "nb"),
        ({"Accept-Language": "de, en;q=0.1"}, "", "en"),
        ({"Accept-Language": "nb"}, "?lang=en", "en"),
        ({}, "?lang=nb", "nb"),
        ({}, "?lang=xx", "en"),
    ],
)
def test_language_from_accept_language_or_the_switch(
    site_client: FlaskClient, headers: dict[str, str], query: str, expected: str
) -> None:
    response = site_client.get("/id/programme/kom-trainee" + query, headers=headers)
    assert f'<html lang="{expected}">' in response.data.decode()
    heading = {"en": "Members and their roles", "nb": "Medlemmer og roller"}[expected]
    assert heading in response.data.decode()
    assert {"Accept-Language", "Cookie"} <= set(response.vary)


def test_the_switch_is_remembered_in_a_cookie(site_client: FlaskClient, page_check: Any) -> None:
    first = site_client.get("/id/programme/kom-trainee?lang=nb", headers={"Accept-Language": "en"})
    assert "lang=nb" in first.headers["Set-Cookie"]
    later = site_client.get("/ontology", headers={"Accept-Language": "en"})
    assert '<html lang="nb">' in later.data.decode()
    root = page_check(later.data)
    switch = root.find(".//p[@class='lang-switch']/a")
    assert switch.get("hreflang") == "en" and parse_qs(urlsplit(switch.get("href")).query) == {
        "lang": ["en"]
    }
    site_client.get("/?lang=en")
    assert '<html lang="en">' in site_client.get("/ontology").data.decode()


def test_labels_come_from_the_ontology_and_concepts_in_the_readers_language(
    site_client: FlaskClient,
) -> None:
    en = site_client.get("/id/programme/kom-trainee?lang=en").data.decode()
    nb = site_client.get("/id/programme/kom-trainee?lang=nb").data.decode()
    assert ">selling point<" in en and ">salgsargument<" in nb  # bolyst:sellingPoint (ontology)
    assert ">partner company<" in en and ">partnerbedrift<" in nb  # role:partner-company (concepts)
    assert ">job-offer rate<" in en and ">andel med jobbtilbud<" in nb  # prop:job-offer-rate
    assert "86%" in en and "86\xa0%" in nb


def test_programme_page_links_members_sources_and_the_query_behind_it(
    site_app: Flask, site_client: FlaskClient, page_check: Any
) -> None:
    root = page_check(site_client.get("/id/programme/trainee-innlandet").data)
    members = root.find(".//table/thead/..")
    assert members is not None
    hrefs = [a.get("href") for a in root.iter("a")]
    assert "/id/organisation/hamar-kommune" in hrefs  # a member
    assert "/id/section/dst-trainee-innlandet--kommunens-rolle" in hrefs  # its source section
    text = text_of(root)
    assert "Hamar kommune er medlemsbedrift, styremedlem og støttespiller" in text  # the quote
    # the query behind the page, one click into the editor, and it gives the page's statements
    editor = next(
        a.get("href") for a in root.iter("a") if (a.get("href") or "").startswith("/query?")
    )
    query = parse_qs(urlsplit(editor).query)["query"][0]
    assert (
        "VALUES (?this ?lang) { (<https://w3id.org/bolyst/id/programme/trainee-innlandet>" in query
    )
    site: Site = site_app.extensions["bolyst"]["site"]
    rows = select(site.store, query, default_graphs=site.graphs)
    assert {r["direction"] for r in rows} == {"in", "out"}
    assert any(
        r.get("valueName") == "Trainee Innlandet – Distriktssenteret's project database"
        for r in rows
    )


def test_member_page_shows_registry_identifiers_and_candidates(
    site_client: FlaskClient, page_check: Any
) -> None:
    root = page_check(site_client.get("/id/organisation/hamar-kommune").data)
    table = next(s for s in root.iter("section") if s.get("aria-labelledby") == "identifiers")
    rows = {
        text_of(tr.find("th")): tr
        for tr in table.iter("tr")
        if tr.find("th") is not None and tr.find("td") is not None
    }
    brreg = rows["The Central Coordinating Register for Legal Entities (Enhetsregisteret)"]
    assert (
        brreg.find("td/a").get("href")
        == "https://data.brreg.no/enhetsregisteret/api/enheter/970540008"
    )
    assert "candidate" not in text_of(brreg)
    wikidata = rows["Wikidata"]
    assert wikidata.find("td/a").get("href") == "http://www.wikidata.org/entity/Q104400"
    assert "candidate (unverified)" in text_of(wikidata)
    # the municipality it is, as a link to its page
    assert "/id/admin-unit/kommune-0403-1992" in {a.get("href") for a in root.iter("a")}


def test_municipality_page_links_back_and_to_geonorge(
    site_client: FlaskClient, page_check: Any
) -> None:
    root = page_check(site_client.get("/id/admin-unit/kommune-1554-1971").data)
    hrefs = {a.get("href") for a in root.iter("a")}
    assert "/id/organisation/averoy-kommune" in hrefs  # what points here
    assert "https://data.geonorge.no/administrativeEnheter/kommune/id/172981" in hrefs


def test_section_page_lists_what_was_taken_from_it(site_client: FlaskClient) -> None:
    text = site_client.get("/id/section/dst-kom-trainee--bakgrunn").data.decode()
    assert "Taken from this source" in text
    assert "/id/observation/kom-trainee--founding-year" in text


def test_query_editor_is_served_from_our_own_files(
    site_client: FlaskClient, page_check: Any
) -> None:
    response = site_client.get("/query")
    root = page_check(response.data)
    scripts = [s.get("src") for s in root.iter("script") if s.get("src")]
    assert scripts == ["/static/yasgui/yasgui.min.js", "/static/query-ui.js"]
    config = root.find(".//script[@id='query-config']")
    assert config is not None and '"endpoint": "/sparql"' in config.text
    assert '"prog": "https://w3id.org/bolyst/id/programme/"' in config.text
    assert config.text.count('"name": ') >= 27  # every stored query as an example
    options = [o.get("value") for o in root.iter("option") if o.get("value")]
    assert "members-and-roles" in options
    prefixes = site_client.get("/query/prefixes.json").get_json()
    assert prefixes["bolyst"] == "https://w3id.org/bolyst/ontology#"


def test_vendored_yasgui_is_the_pinned_release() -> None:
    folder = REPO_ROOT / "server" / "bolyst" / "static" / "yasgui"
    sums = {
        "yasgui.min.js": "55034eaac74c55f55fbd1eeed008ae38a79053651cbed2b453f1fcfd895a4b75",
        "yasgui.min.css": "085b94556b97f9928981bdedb6848fd11ad4d8d950e821f0d698c58ca538fc55",
    }
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        assert (
            digest in (folder / "VERSION").read_text()
            and digest in (REPO_ROOT / "scripts" / "fetch-yasgui.sh").read_text()
        )
    assert "Apache License" in (folder / "THIRD_PARTY_NOTICES").read_text()
    assert "url(" not in (folder / "yasgui.min.css").read_text()  # no web fonts, no remote images


# --- hostile names -------------------------------------------------------------------------------

HOSTILE_PAGES = (
    "/",
    "/?lang=nb",
    "/id/programme/hostile",
    "/id/programme/hostile?lang=nb",
    "/id/organisation/member",
    "/id/membership/hostile--member--member",
    "/id/observation/hostile--job-offer-rate",
    "/id/section/hostile--bakgrunn",
    "/id/source/hostile",
    "/id/admin-unit/kommune-9999-2020",
    "/id/property/share-settled-3y-after",
    "/ontology",
    "/queries",
    "/queries/members-of",
    "/queries/graph-of",
    "/queries/members-of?year=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
    "/query",
    "/id/programme/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
)


@pytest.mark.parametrize("path", HOSTILE_PAGES)
def test_hostile_names_are_escaped(hostile_client: FlaskClient, page_check: Any, path: str) -> None:
    response = hostile_client.get(path, headers={"Accept": BROWSER})
    body = response.data.decode()
    root = page_check(body)  # a broken-out tag would break the parse or add elements
    for element in root.iter():
        assert not any(name.startswith("on") for name in element.attrib), element.tag
        assert element.tag not in ("img", "iframe", "object", "embed"), element.tag
    scripts = [s for s in root.iter("script")]
    assert all(
        s.get("src", "").startswith("/static/") or s.get("type") == "application/json"
        for s in scripts
    )
    assert "<script>alert" not in body and "<img src=x" not in body and "<b onmouseover" not in body
    assert all(not (a.get("href") or "").startswith("javascript:") for a in root.iter("a"))


def test_hostile_names_are_shown_as_text(hostile_client: FlaskClient, page_check: Any) -> None:
    root = page_check(hostile_client.get("/id/programme/hostile?lang=en").data)
    assert text_of(root.find(".//h1")) == "<script>alert(1)</script>"
    text = text_of(root)
    assert "Quote <script>alert('q')</script> & «more»" in text  # the source's quote, as text
    assert "Member <b onmouseover=alert(1)>bold</b>" in text
    # the javascript: IRI is shown, never linked
    assert "javascript:alert(1)" in text
    landing = page_check(hostile_client.get("/?lang=en").data)
    # The programme's name (programmes.rq picks the nb label) in the table and in the SVG, as text
    heads = [text_of(th) for th in landing.find(".//table[@class='compare']/thead").iter("th")]
    assert heads == ['"><img src=x onerror=alert(1)>']
    chart_text = [text_of(t) for t in landing.iter("text")]
    assert '"><img src=x onerror=alert(1)>' in chart_text
    assert "75%" in chart_text and "50%" in chart_text
