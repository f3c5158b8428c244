"""The site in a real browser: landing page and charts, programme -> member -> municipality and
back, the query editor, a stored query's CSV link, the language switch, the keyboard, hostile
names, and a walk over every programme, member, municipality and stored query."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bolyst.pages.site import Site
from bolyst.queries import bind, list_stored_queries
from bolyst.store.local import select

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
QUERIES = {q.name: q for q in list_stored_queries(REPO_ROOT / "queries")}
Shoot = Callable[..., Path]


def h1(browser: Any) -> str:
    return str(browser.find_element(By.TAG_NAME, "h1").text)


def wait(browser: Any, seconds: float = 10) -> WebDriverWait:
    return WebDriverWait(browser, seconds)


def answer(live: Any, name: str, **given: str) -> list[dict[str, str]]:
    site: Site = live.app.extensions["bolyst"]["site"]
    query = QUERIES[name]
    return select(site.store, query.text, default_graphs=site.graphs, bindings=bind(query, given))


def visible(browser: Any, css: str) -> Any:
    """The displayed element matching ``css`` (YASGUI keeps hidden tabs in the page)."""
    return next(e for e in browser.find_elements(By.CSS_SELECTOR, css) if e.is_displayed())


def no_alert(browser: Any) -> bool:
    try:
        _ = browser.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_landing_page_with_its_charts(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/?lang=en")
    assert h1(browser) == "bolyst"
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg[role='img']")
    assert [c.get_attribute("id") for c in charts] == [
        "chart-rates",
        "chart-members",
        "chart-staffing",
        "chart-applicants",
    ]
    for chart in charts:
        assert chart.size["width"] > 200 and chart.size["height"] > 60  # drawn, not empty
    # The rates chart says what rates-side-by-side.rq answers, programme by programme.
    rates = {r["programmeName"]: r for r in answer(live, "rates-side-by-side")}
    texts = [t.text for t in charts[0].find_elements(By.CSS_SELECTOR, "text.value")]
    names = [t.text for t in charts[0].find_elements(By.CSS_SELECTOR, "text.category")]
    expected = []
    for name in names:
        for key in ("jobOfferRate", "settledAfter3Years"):
            value = rates[name].get(key)
            expected.append(f"{round(float(value) * 100)}%" if value else "no figure")
    assert texts == expected
    bars = charts[0].find_elements(By.CSS_SELECTOR, "rect.bar")
    assert len(bars) == sum(1 for t in expected if t != "no figure")
    assert all(b.size["width"] > 0 for b in bars)
    # The side-by-side table has the three programmes.
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.compare thead th")]
    assert heads == [r["name"] for r in answer(live, "programmes")]
    shoot(browser, "landing")


def test_programme_member_municipality_and_back(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/?lang=en")
    browser.find_element(By.LINK_TEXT, "KOM Trainee").click()
    wait(browser).until(ec.title_contains("KOM Trainee"))
    assert h1(browser) == "KOM Trainee"
    members = browser.find_element(By.ID, "members").find_element(By.XPATH, "..")
    member = members.find_element(
        By.CSS_SELECTOR, "a[href='/id/organisation/kristiansund-kommune']"
    )
    assert member.text == "Kristiansund Municipality"  # the English name, as the page is in English
    shoot(browser, "programme")
    member.click()
    wait(browser).until(lambda b: h1(b) == "Kristiansund Municipality")
    municipality = browser.find_element(By.CSS_SELECTOR, "a[href^='/id/admin-unit/kommune-1505']")
    assert municipality.text == "Kristiansund"
    municipality.click()
    wait(browser).until(lambda b: urlsplit(b.current_url).path.startswith("/id/admin-unit/"))
    assert h1(browser) == "Kristiansund"
    assert "1505" in browser.find_element(By.TAG_NAME, "main").text  # the municipality number
    shoot(browser, "municipality")
    browser.back()
    wait(browser).until(lambda b: h1(b) == "Kristiansund Municipality")
    browser.back()
    wait(browser).until(lambda b: h1(b) == "KOM Trainee")
    browser.find_element(By.LINK_TEXT, "Home").click()
    wait(browser).until(lambda b: h1(b) == "bolyst")


def test_typing_a_query_in_the_editor_shows_rows(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/query?lang=en")
    editor = wait(browser).until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".CodeMirror")))
    editor.click()
    area = browser.switch_to.active_element
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys(Keys.DELETE)
    # Our prefixes are known: the editor adds the PREFIX line for bolyst: and skos: by itself.
    area.send_keys(
        "SELECT ?name WHERE { ?p a bolyst:RegionalTraineeProgramme ; skos:prefLabel ?name "
    )
    area.send_keys(Keys.ESCAPE)
    area.send_keys("}")
    text = browser.execute_script("return window.bolystYasgui.getTab().getYasqe().getValue()")
    assert "PREFIX bolyst: <https://w3id.org/bolyst/ontology#>" in text
    assert "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>" in text
    visible(browser, ".yasqe_queryButton").click()
    wait(browser, 15).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, ".yasr table.dataTable tbody tr")) >= 6
    )
    rows = browser.find_elements(By.CSS_SELECTOR, ".yasr table.dataTable tbody tr")
    assert any("KOM Trainee" in r.text for r in rows)
    assert len(rows) == 6  # three programmes, names in nb and en
    shoot(browser, "query-editor", full=False)


def test_a_stored_query_as_example_and_as_a_chart(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/query?lang=en")
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".CodeMirror")))
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "examples")).select_by_value("staffing")
    browser.find_element(By.CSS_SELECTOR, "#examples-form button").click()
    wait(browser).until(
        lambda b: (
            "staff time"
            in b.execute_script("return window.bolystYasgui.getTab().getYasqe().getValue()")
            or "staffing"
            in b.execute_script("return window.bolystYasgui.getTab().getYasqe().getValue()")
        )
    )
    visible(browser, ".yasqe_queryButton").click()
    expected = answer(live, "staffing")
    wait(browser, 15).until(
        lambda b: (
            len(b.find_elements(By.CSS_SELECTOR, ".yasr table.dataTable tbody tr")) == len(expected)
        )
    )
    visible(browser, ".yasr_btn.select_chart").click()
    chart = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "svg.bolyst-chart"))
    )
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect.bar")) == len(expected)
    shoot(browser, "query-editor-chart", full=False)


def test_a_stored_querys_csv_link(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/queries?lang=en")
    browser.find_element(By.LINK_TEXT, QUERIES["members-and-roles"].title).click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.answer")))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.answer tbody tr")
    expected = answer(live, "members-and-roles")
    assert len(rows) == len(expected)
    shoot(browser, "stored-query")
    link = browser.find_element(By.CSS_SELECTOR, "a.download[href$='.csv']")
    assert link.text == "CSV"
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text().then(t => done([r.status,"
        " r.headers.get('content-type'), t])));",
        link.get_attribute("href"),
    )
    status, content_type, body = fetched
    assert status == 200 and content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(body)))
    assert len(table) == len(expected)
    assert {r["memberName"] for r in table} == {r["memberName"] for r in expected}


def test_language_switch_is_remembered(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/?lang=en")
    browser.find_element(By.CSS_SELECTOR, ".lang-switch a").click()
    wait(browser).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nb")
    assert browser.find_element(By.LINK_TEXT, "Forside")
    shoot(browser, "landing-nb")
    browser.find_element(By.LINK_TEXT, "Ontologi").click()
    wait(browser).until(lambda b: urlsplit(b.current_url).path == "/ontology")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nb"
    assert "Klasser" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.CSS_SELECTOR, ".lang-switch a").click()
    wait(browser).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")


def test_keyboard_skip_link_and_focus(browser: Any, live: Any, shoot: Shoot) -> None:
    browser.get(live.base + "/id/programme/intro-innherred?lang=en")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "skip"
    assert focused.location["y"] >= 0 and focused.is_displayed()
    shoot(browser, "skip-link", full=False)
    focused.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    # the next Tab lands on a link inside the page, with a visible focus ring
    browser.switch_to.active_element.send_keys(Keys.TAB)
    link = browser.switch_to.active_element
    assert link.tag_name == "a"
    ring = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", link)
    assert ring != "none"


HOSTILE = (
    "/?lang=en",
    "/id/programme/hostile?lang=en",
    "/id/programme/hostile?lang=nb",
    "/id/organisation/member",
    "/id/section/hostile--bakgrunn",
    "/id/source/hostile",
    "/id/admin-unit/kommune-9999-2020",
    "/ontology",
    "/queries",
    "/queries/members-of",
    "/query",
)


def test_hostile_names_run_no_script(browser: Any, hostile_live: Any, shoot: Shoot) -> None:
    for path in HOSTILE:
        browser.get(hostile_live.base + path)
        assert no_alert(browser), path
        assert browser.execute_script("return document.images.length") == 0, path
        handlers = browser.execute_script(
            "return [...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).length"
        )
        assert handlers == 0, path
    browser.get(hostile_live.base + "/id/programme/hostile?lang=en")
    assert h1(browser) == "<script>alert(1)</script>"
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Quote <script>alert('q')</script> & «more»" in main
    assert "Member <b onmouseover=alert(1)>bold</b>" in main
    shoot(browser, "hostile")
    assert no_alert(browser)


def test_walk_to_every_programme_member_municipality_and_query(browser: Any, live: Any) -> None:
    """Follow links only: from the landing page to every programme, from there to every member,
    from members to their municipalities (and between municipality versions), each page with a
    way home; and from the list of stored queries to the answer of each."""
    site: Site = live.app.extensions["bolyst"]["site"]
    base = live.base

    def links(prefixes: tuple[str, ...], css: str = "main a[href^='/id/']") -> set[str]:
        hrefs = browser.execute_script(  # one round trip, not one per link
            "return [...document.querySelectorAll(arguments[0])].map(a => a.href)", css
        )
        found = set()
        for href in hrefs:
            path = urlsplit(urljoin(base, href)).path
            if path.startswith(prefixes) and not path.endswith((".ttl", ".jsonld", ".nt", ".rdf")):
                found.add(path)
        return found

    def visit(path: str) -> None:
        browser.get(base + path)
        assert browser.find_element(By.CSS_SELECTOR, "header.site nav a[href='/']")  # way home
        assert "Not found" not in h1(browser), path

    visit("/?lang=en")
    programmes = links(("/id/programme/",))
    assert programmes == {
        "/" + iri[len("https://w3id.org/bolyst/") :]
        for iri, types in site.types.items()
        if "https://w3id.org/bolyst/ontology#RegionalTraineeProgramme" in types
    }
    members: set[str] = set()
    for programme in sorted(programmes):
        visit(programme)
        members |= links(("/id/",), "section[aria-labelledby='members'] tbody th a")
    expected_members = {"/" + m.member[len("https://w3id.org/bolyst/") :] for m in site.memberships}
    assert members == expected_members
    units: set[str] = set()
    for member in sorted(members):
        visit(member)
        units |= links(("/id/admin-unit/kommune-",))
    todo, seen = sorted(units), set()
    while todo:  # municipality versions link to the versions they replace and are replaced by
        unit = todo.pop()
        if unit in seen:
            continue
        seen.add(unit)
        visit(unit)
        todo.extend(sorted(links(("/id/admin-unit/kommune-",)) - seen))
    municipalities = {
        "/" + iri[len("https://w3id.org/bolyst/") :]
        for iri in site.types
        if iri.startswith("https://w3id.org/bolyst/id/admin-unit/kommune-")
    }
    assert seen == municipalities
    visit("/queries?lang=en")
    pages = sorted(links(("/queries/",), "ul.query-list h2 a"))
    assert sorted(p.rsplit("/", 1)[-1] for p in pages) == sorted(QUERIES)
    for page in pages:
        browser.get(base + page)
        rows = browser.execute_script(
            "return document.querySelectorAll('table.answer tbody tr').length"
        )
        assert rows == len(answer(live, page.rsplit("/", 1)[-1])), page
