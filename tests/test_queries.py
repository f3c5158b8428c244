"""Every stored query in queries/ runs on the shipped data and gives the answer the seeds state.

The expected values below are read from the catalogue pages in data/seeds/ (the section is
named beside each), not from a previous run of the query.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest

from bolyst.load import find_sources
from bolyst.namespaces import ID, graph_iri
from bolyst.queries import ParameterError, bind, list_stored_queries, parse_stored_query
from bolyst.store.local import open_memory_store, select

ROOT = Path(__file__).resolve().parents[1]
QUERIES = {q.name: q for q in list_stored_queries(ROOT / "queries")}
Rows = list[dict[str, str]]


@pytest.fixture(scope="module")
def store() -> tuple[ox.Store, list[str]]:
    sources = find_sources(ROOT)
    files = (*sources.ontology, *sources.data)
    store, _ = open_memory_store(files, sources.root)
    return store, [graph_iri(p.relative_to(sources.root).as_posix()) for p in files]


def run(store: tuple[ox.Store, list[str]], name: str, **given: str) -> Rows:
    query = QUERIES[name]
    return select(store[0], query.text, default_graphs=store[1], bindings=bind(query, given))


def pick(rows: Rows, **where: str) -> Rows:
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def values(rows: Rows, key: str) -> set[str]:
    return {r[key] for r in rows if key in r}


def check_programmes(rows: Rows) -> None:
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"Trainee Innlandet", "Intro Innherred", "KOM Trainee"}
    # Bakgrunn (000): "startet ... i 1998"; ingress (001): "stiftet i 2005"; Bakgrunn (002): 2006.
    assert {n: r["founded"] for n, r in by_name.items()} == {
        "Trainee Innlandet": "1998",
        "Intro Innherred": "2005",
        "KOM Trainee": "2006",
    }
    # Organisering (000): "ingen juridisk enhet"; ingress (001): "Stiftelsen".
    assert by_name["Trainee Innlandet"]["legalForm"] == "not a legal entity"
    assert by_name["Intro Innherred"]["legalForm"] == "foundation"
    assert set(by_name["Trainee Innlandet"]["counties"].split(", ")) == {"Hedmark", "Oppland"}
    assert by_name["Intro Innherred"]["counties"] == "Nord-Trøndelag"


def check_members_of_kom(rows: Rows) -> None:
    # Kommunens rolle and Fylkeskommunens rolle (002): supporters, partner companies, recruit
    # trainees.
    members = values(rows, "memberName")
    assert members >= {"Kristiansund kommune", "Averøy kommune", "Møre og Romsdal fylkeskommune"}
    for member in ("Kristiansund kommune", "Averøy kommune", "Møre og Romsdal fylkeskommune"):
        roles = values(pick(rows, memberName=member), "roleName")
        assert roles == {"supporter", "partner company", "trainee employer"}
    assert values(rows, "programmeName") == {"KOM Trainee"}


def check_hamar(rows: Rows) -> None:
    # Kommunens rolle (000): "medlemsbedrift, styremedlem og støttespiller som rekrutterer
    # traineer".
    assert len(rows) == 1 and rows[0]["programmeName"] == "Trainee Innlandet"
    assert set(rows[0]["roles"].split(", ")) == {
        "member",
        "board member",
        "supporter",
        "trainee employer",
    }


def check_members_per_role(rows: Rows) -> None:
    # Bakgrunn (000): the task went to three companies.
    assert pick(rows, programmeName="Trainee Innlandet", roleName="founder")[0]["members"] == "3"
    assert pick(rows, programmeName="Trainee Innlandet", roleName="initiator")[0]["members"] == "1"


def check_public_funding(rows: Rows) -> None:
    ii = pick(rows, programmeName="Intro Innherred")
    # Ingress (001): "De offentlige støttespillerne i 2011 er NAV og Nord Trøndelag Fylkeskommune.
    # Tidligere har Levanger og Verdal kommune, Invest næringsfond og Innovasjon Norge vært
    # bidragsytere."
    assert pick(ii, funderName="Arbeids- og velferdsetaten (NAV)", **{"from": "2011"})
    assert pick(ii, funderName="Nord-Trøndelag fylkeskommune", until="2011")
    for earlier in ("Levanger kommune", "Verdal kommune", "Innovasjon Norge"):
        assert pick(ii, funderName=earlier, before="2011"), earlier
    # Finansiering (000): no public grants; no public funder is named for Trainee Innlandet.
    assert not pick(rows, programmeName="Trainee Innlandet")


def check_funding(rows: Rows) -> None:
    assert pick(
        rows, programmeName="Trainee Innlandet", property="public grants received", value="false"
    )
    # Finansiering (002): "Siden 2009 har KOM trainee stått på egne ben."
    assert pick(rows, programmeName="KOM Trainee", property="self-financed since", value="2009")
    sources = values(
        pick(rows, programmeName="Intro Innherred", property="funding source"), "value"
    )
    assert {"membership fees", "public support"} <= sources


def check_fees(rows: Rows) -> None:
    # Finansiering (002): "årlig avgift på 69.500 kroner (eks. mva.)".
    kom = pick(rows, programmeName="KOM Trainee")[0]
    assert (kom["amount"], kom["currency"], kom["vatIncluded"], kom["per"]) == (
        "69500",
        "NOK",
        "false",
        "ANN",
    )
    # Finansiering (000): "medlemskontingent på til sammen 1,8 millioner": currency and period
    # unstated.
    ti = pick(rows, programmeName="Trainee Innlandet")[0]
    assert ti["amount"] == "1800000" and "vatIncluded" not in ti and "per" not in ti
    assert {"currency implied", "period unstated"} <= set(ti["qualifiers"].split(", "))


def check_rates(rows: Rows) -> None:
    by_name = {r["programmeName"]: r for r in rows}
    # Resultat og effekt: 50 % (000), 67 % and 57 % (001), 86 % (002).
    assert float(by_name["Trainee Innlandet"]["settledAfter3Years"]) == 0.5
    assert float(by_name["Intro Innherred"]["settledAfter3Years"]) == 0.57
    assert float(by_name["Intro Innherred"]["jobOfferRate"]) == 0.67
    assert float(by_name["KOM Trainee"]["jobOfferRate"]) == 0.86
    assert "settledAfter3Years" not in by_name["KOM Trainee"]


def check_applicants(rows: Rows) -> None:
    assert (
        pick(rows, programmeName="Intro Innherred", figure="applicants", value="149")[0]["until"]
        == "2011"
    )
    assert pick(rows, programmeName="Intro Innherred", figure="traineeship offers", value="5")
    kom = pick(rows, programmeName="KOM Trainee")
    assert pick(kom, figure="total applicants", value="750", **{"from": "2006"})
    assert pick(kom, figure="applicants", value="180", **{"from": "2009", "until": "2009"})
    assert pick(kom, figure="well-qualified applicants", value="130")


def check_trainee_figures(rows: Rows) -> None:
    ti = pick(rows, programmeName="Trainee Innlandet", figure="total number of trainees")
    # Bakgrunn: "92 traineer"; Resultat og effekt: "Nærmere 100 traineer".
    assert pick(ti, value="92", section="Bakgrunn")
    assert pick(ti, max="100", qualifier="nearly", section="Resultat og effekt")
    cohorts = pick(rows, programmeName="Trainee Innlandet", figure="number of cohorts")
    assert values(cohorts, "value") == {"12"} and len(values(cohorts, "section")) == 2
    assert pick(
        rows, programmeName="Intro Innherred", figure="trainees per cohort", min="5", max="7"
    )
    assert pick(rows, programmeName="KOM Trainee", figure="trainees employed in total", value="30")
    assert pick(
        rows,
        programmeName="KOM Trainee",
        figure="employed trainees still in the region",
        value="17",
    )


def check_conflicts(rows: Rows) -> None:
    ti = pick(rows, featureName="Trainee Innlandet", property="total number of trainees")
    assert ti and {ti[0]["valueA"], ti[0]["valueB"]} == {"92", "100"}


def check_staffing(rows: Rows) -> None:
    # Organisering (000): 100 % stilling; ingress (001): 80 prosent; Organisering (002): 70/60/10.
    assert (
        float(pick(rows, programmeName="Trainee Innlandet", figure="staffing (FTE)")[0]["value"])
        == 1
    )
    assert (
        float(pick(rows, programmeName="Intro Innherred", figure="staffing (FTE)")[0]["value"])
        == 0.8
    )
    kom = {r["figure"]: float(r["value"]) for r in pick(rows, programmeName="KOM Trainee")}
    assert kom == {
        "staffing (FTE)": 0.7,
        "FTE for daily operations": 0.6,
        "FTE for coaching": 0.1,
        "number of staff": 2,
    }


def check_member_counts(rows: Rows) -> None:
    assert pick(rows, programmeName="Intro Innherred", figure="number of members", value="25")
    kom = pick(rows, programmeName="KOM Trainee", figure="number of members")
    assert values(kom, "value") == {"14", "16"}
    ti = {r["figure"]: r["value"] for r in pick(rows, programmeName="Trainee Innlandet")}
    assert ti["number of business clusters among members"] == "2"
    assert ti["number of organisations among members"] == "10"
    assert ti["employees of members"] == "17000"


def check_goals(rows: Rows) -> None:
    main = pick(rows, programmeName="Trainee Innlandet", isMain="true")
    # Målformulering (000): "Hovedmålet ... er å rekruttere og beholde kompetansen i regionen."
    assert len(main) == 1 and "beholde kompetansen" in main[0]["nb"]
    assert all(r["en"] for r in rows)
    kom = pick(rows, programmeName="KOM Trainee")
    # Målformulering (002): four goals, no main goal named.
    assert len(kom) == 4 and not pick(kom, isMain="true")


def check_counties_today(rows: Rows) -> None:
    pairs = {(r["programmeName"], r["codeThen"], r["codeToday"]) for r in rows}
    assert ("Trainee Innlandet", "04", "34") in pairs
    assert ("Trainee Innlandet", "05", "34") in pairs
    assert ("Intro Innherred", "17", "50") in pairs
    assert ("KOM Trainee", "15", "15") in pairs


def check_hamar_codes(rows: Rows) -> None:
    hamar = pick(rows, bodyName="Hamar kommune")
    assert values(hamar, "code") == {"0403", "3403"}
    assert values(hamar, "orgnr") == {"970540008"}


def check_negative(rows: Rows) -> None:
    # Fylkeskommunens rolle (000): "Fylkeskommunene er ikke medlemsbedrift i traineeordningen."
    subjects = values(pick(rows, objectName="Trainee Innlandet"), "subjectName")
    assert {"Hedmark fylkeskommune", "Oppland fylkeskommune"} <= subjects
    assert pick(rows, subjectName="Trainee Innlandet", statement="no: public grants received")


def check_recommendations(rows: Rows) -> None:
    assert values(rows, "programmeName") == {"Trainee Innlandet", "Intro Innherred", "KOM Trainee"}
    hint = ID + "organisation/hogskolen-i-nord-trondelag"
    assert pick(rows, programmeName="Intro Innherred", about=hint)


def check_recommendations_about_goals(rows: Rows) -> None:
    # Målformulering (000, 002): "mål- og tidsfeste noen av delmålene"; (001): resultatindikatorer.
    assert values(rows, "programmeName") == {"Trainee Innlandet", "Intro Innherred", "KOM Trainee"}
    for recommendation in values(rows, "recommendation"):
        about = values(pick(rows, recommendation=recommendation), "about")
        assert any("/goal/" in a for a in about), recommendation


def check_assessments(rows: Rows) -> None:
    for name in ("Trainee Innlandet", "Intro Innherred", "KOM Trainee"):
        assert pick(rows, programmeName=name, kind="positive"), name
    assert any(
        "Kristiansundsregionen" in r["note"] for r in pick(rows, programmeName="KOM Trainee")
    )
    assert any("flytt heim" in r["note"] for r in pick(rows, programmeName="Trainee Innlandet"))


def check_structure(rows: Rows) -> None:
    kom = {
        r["figure"]: (r["value"], r.get("unit")) for r in pick(rows, programmeName="KOM Trainee")
    }
    # Oppbygging av programmet (002): two years, three modules of eight months, 5 two-day
    # gatherings.
    assert kom["programme length"] == ("2", "ANN")
    assert kom["number of modules"][0] == "3"
    assert kom["module length"] == ("8", "MON")
    assert kom["number of professional gatherings"][0] == "5"
    assert kom["gathering length"] == ("2", "DAY")
    assert kom["host companies per trainee"][0] == "3"
    ti = {r["figure"]: r["value"] for r in pick(rows, programmeName="Trainee Innlandet")}
    assert ti["competence programme length"] == "20" and ti["minimum years of education"] == "4"
    assert pick(rows, programmeName="Intro Innherred", qualifier="typically", value="3")


def check_elements(rows: Rows) -> None:
    assert {"mentor", "study trip"} <= values(
        pick(rows, programmeName="Intro Innherred"), "element"
    )
    assert "coaching" in values(pick(rows, programmeName="KOM Trainee"), "element")


def check_facets(rows: Rows) -> None:
    kom = pick(rows, programmeName="KOM Trainee")
    assert len(pick(kom, facet="In-migration activities")) == 10
    assert values(pick(kom, facet="Selling points"), "value") == {
        "kulturtilbud",
        "arbeidsplasser",
        "barnehagetilbud etc. for småbarnsfamilier",
    }
    assert pick(rows, programmeName="Intro Innherred", value="økt tilflytting")


def check_history(rows: Rows) -> None:
    events = {(r["year"], r["programmeName"], r["event"]) for r in rows}
    assert ("1998", "Trainee Innlandet", "founding year") in events
    assert ("1999", "Trainee Innlandet", "year of first cohort") in events
    assert ("2009", "KOM Trainee", "self-financed since") in events
    assert [r["year"] for r in rows] == sorted(r["year"] for r in rows)


def check_sources_of_kom(rows: Rows) -> None:
    seed = (ROOT / "data" / "seeds" / "002_b2438e508637602a.txt").read_text(encoding="utf-8")
    assert values(rows, "page") == {ID + "source/dst-kom-trainee"}
    quotes = values(rows, "quote")
    assert quotes and all(q in seed for q in quotes)


def check_sections(rows: Rows) -> None:
    assert len(rows) == 11 + 13 + 15
    bakgrunn = pick(rows, page=ID + "source/dst-trainee-innlandet", heading="Bakgrunn")[0]
    assert int(bakgrunn["claims"]) >= 10
    assert sum(int(r["claims"]) > 0 for r in rows) >= 30


def check_report(rows: Rows) -> None:
    roles = {(r["agentName"], r["roleName"]) for r in rows}
    # Bosettingsvirkninger ...: "Ideas2evidence har vært utførende FOU-aktør med Distriktssenteret
    # som oppdragsgiver."
    assert ("Ideas2evidence", "evaluator") in roles
    assert any(
        name.startswith("Distriktssenteret") and role == "commissioner" for name, role in roles
    )


def check_reforms(rows: Rows) -> None:
    chains = {(r["oldCode"], r["newCode"]) for r in rows}
    assert {("1702", "5004"), ("5004", "5006"), ("0403", "3403")} <= chains
    assert {("16", "50"), ("17", "50"), ("04", "34"), ("05", "34")} <= chains


SDO_SAME_AS = "https://schema.org/sameAs"


def check_registry_links(rows: Rows) -> None:
    # data/refdata/organisations.csv: Hamar kommune 970540008 (grade A), Nord-Trøndelag
    # fylkeskommune 938967091 (grade C: a candidate only); wikidata.csv: Hamar Q104400 (grade C).
    hamar = pick(rows, resource=ID + "organisation/hamar-kommune")
    brreg = "https://data.brreg.no/enhetsregisteret/api/enheter/"
    assert pick(hamar, target=brreg + "970540008", status="stated", predicate=SDO_SAME_AS)
    assert pick(hamar, target="http://www.wikidata.org/entity/Q104400", status="candidate")
    ntfk = pick(rows, resource=ID + "organisation/nord-trondelag-fylkeskommune")
    assert [(r["target"], r["status"]) for r in ntfk] == [(brreg + "938967091", "candidate")]
    # No grade C link is stated; every Wikidata link is a candidate.
    assert all(r["status"] == "candidate" for r in rows if "grade C" in r["confidence"])
    assert values(pick(rows, register="Wikidata"), "status") == {"candidate"}
    # Steinkjer 1702 (to 2017-12-31) is in KLASS 131 «Kommuneinndeling 2017» (version 536) only.
    steinkjer = pick(rows, resource=ID + "admin-unit/kommune-1702-1971")
    assert values(steinkjer, "target") == {"https://data.ssb.no/api/klass/v1/versions/536"}
    # Geonorge (SOURCES.md §6): Hamar 172779 is the post-2020 version 3403, by name only.
    geonorge = pick(rows, target="https://data.geonorge.no/administrativeEnheter/kommune/id/172779")
    assert [(r["resource"], r["confidence"]) for r in geonorge] == [
        (ID + "admin-unit/kommune-3403-2020", "name match")
    ]


def check_registry_links_of_one(rows: Rows) -> None:
    assert values(rows, "resource") == {ID + "organisation/levanger-kommune"}
    assert values(rows, "target") == {
        "https://data.brreg.no/enhetsregisteret/api/enheter/938587051",
        "http://www.wikidata.org/entity/Q216430",
    }


def check_steinkjer(year: str, code: str) -> Callable[[Rows], None]:
    def check(rows: Rows) -> None:
        assert values(rows, "code") == {code}

    return check


CASES: list[tuple[str, dict[str, str], Callable[[Rows], None]]] = [
    ("programmes", {}, check_programmes),
    ("members-and-roles", {"programme": ID + "programme/kom-trainee"}, check_members_of_kom),
    ("organisation-roles", {}, check_hamar),
    ("members-per-role", {}, check_members_per_role),
    ("public-funding", {}, check_public_funding),
    ("funding", {}, check_funding),
    ("fees", {}, check_fees),
    ("rates-side-by-side", {}, check_rates),
    ("applicants", {}, check_applicants),
    ("trainee-figures", {}, check_trainee_figures),
    ("conflicting-figures", {}, check_conflicts),
    ("staffing", {}, check_staffing),
    ("member-counts", {}, check_member_counts),
    ("goals", {}, check_goals),
    ("programmes-per-county-today", {}, check_counties_today),
    ("municipality-code-in-year", {}, check_steinkjer("2011", "1702")),
    ("municipality-code-in-year", {"year": "2019"}, check_steinkjer("2019", "5004")),
    ("municipality-code-in-year", {"year": "2024"}, check_steinkjer("2024", "5006")),
    ("member-municipalities-codes", {}, check_hamar_codes),
    ("negative-facts", {}, check_negative),
    ("recommendations", {}, check_recommendations),
    ("recommendations", {"aboutGoals": "true"}, check_recommendations_about_goals),
    ("assessments", {}, check_assessments),
    ("programme-structure", {}, check_structure),
    ("programme-elements", {}, check_elements),
    ("catalogue-facets", {}, check_facets),
    ("history", {}, check_history),
    ("sources-of", {}, check_sources_of_kom),
    ("statements-per-section", {}, check_sections),
    ("evaluation-report", {}, check_report),
    ("reform-chains", {}, check_reforms),
    ("registry-links", {}, check_registry_links),
    (
        "registry-links",
        {"resource": ID + "organisation/levanger-kommune"},
        check_registry_links_of_one,
    ),
]


@pytest.mark.parametrize(
    ("name", "given", "check"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_stored_query_answer(
    store: tuple[ox.Store, list[str]],
    name: str,
    given: dict[str, str],
    check: Callable[[Rows], None],
) -> None:
    rows = run(store, name, **given)
    assert rows, f"{name} returned no rows"
    check(rows)


def test_every_query_has_a_checked_answer() -> None:
    assert set(QUERIES) == {c[0] for c in CASES}
    assert len(QUERIES) >= 20


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_header(name: str) -> None:
    query = QUERIES[name]
    assert query.title and query.description
    assert query.text.lstrip().startswith("#+ title:")


def test_unknown_and_malformed_parameters_are_refused() -> None:
    query = QUERIES["municipality-code-in-year"]
    with pytest.raises(ParameterError, match="unknown parameter"):
        bind(query, {"yaer": "2011"})
    with pytest.raises(ParameterError, match="not a year"):
        bind(query, {"year": "2011; DROP"})
    with pytest.raises(ParameterError, match="not an absolute IRI"):
        bind(QUERIES["sources-of"], {"resource": "<bad> iri"})


def test_header_without_title_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.rq"
    path.write_text("SELECT * WHERE { ?s ?p ?o }\n")
    with pytest.raises(Exception, match="no '#\\+ title:' header"):
        parse_stored_query(path)
