"""`bolyst link`: link sets from registry extracts and from a real SPARQL endpoint, and --check.

Most tests run on tests/fixtures/links/root (copied to a temporary folder); the endpoint tests start
an Oxigraph server on loopback loaded with tests/fixtures/wikidata/items.ttl. The last tests check
the shipped data: every body and unit has its registry link where a grade A/B source exists.
No test reaches the internet.
"""

from __future__ import annotations

import csv
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib import Graph, URIRef

from bolyst import link, linkcheck
from bolyst.cli import main
from bolyst.errors import RemoteError
from bolyst.linkmatch import match_wikidata_endpoint
from bolyst.load import find_sources
from bolyst.namespaces import ID, graph_iri
from bolyst.store.local import open_memory_store, select
from bolyst.store.remote import RemoteEndpoint

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
BRREG = "https://data.brreg.no/enhetsregisteret/api/enheter/"
SAME_AS = URIRef("https://schema.org/sameAs")
ORGN = ID + "organisation/"
AU = ID + "admin-unit/"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """The fixture root, with the repository's link-set descriptions and remote query."""
    base = tmp_path / "root"
    shutil.copytree(FIXTURES / "links" / "root", base)
    shutil.copy(REPO / "data" / "links" / "linksets.ttl", base / "data" / "links")
    shutil.copytree(REPO / "queries" / "remote", base / "queries" / "remote")
    return base


def counts(results: list[link.Result]) -> dict[str, dict[str, int]]:
    return {r.file: r.tally.counts(r.links) for r in results}


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["link", "--root", str(root), *args])
    return result.exit_code, result.output


def generated(root: Path, stem: str) -> Graph:
    return Graph().parse(root / "data" / "links" / f"{stem}.ttl")


# ---------------------------------------------------------------------------------------------
# From the CSV extracts
# ---------------------------------------------------------------------------------------------


def test_csv_counts(root: Path) -> None:
    got = counts(link.match_all(root))
    # organisations.csv: 4 bodies by number (A/B), Innlandet FK by county number 34 (grade C:
    # candidate); Sparebanken Hedmark has no number; 912345602 matches none of ours.
    assert got["enhetsregisteret"] == {
        "matched": 5,
        "candidates_only": 1,
        "unmatched": 1,
        "ambiguous": 0,
        "unused_rows": 1,
        "dropped": 0,
    }
    # All 6 unit versions have a KLASS row for their code, name and period.
    assert got["ssb-klass"]["matched"] == 6 and got["ssb-klass"]["unmatched"] == 0
    # Geonorge (2020-2023 units only): Hamar -> 3403, Kristiansund; Averøy and Innlandet have no
    # row; the Oslo row matches none of ours.
    assert got["geonorge"] == {
        "matched": 2,
        "candidates_only": 0,
        "unmatched": 2,
        "ambiguous": 0,
        "unused_rows": 1,
        "dropped": 0,
    }
    # wikidata.csv: Hamar (0403 and 3403: one item), Kristiansund, Hedmark county; Averøy has two
    # items for 1554 (ambiguous); Innlandet county (NO-34) has none.
    assert got["wikidata"] == {
        "matched": 3,
        "candidates_only": 3,
        "unmatched": 1,
        "ambiguous": 1,
        "unused_rows": 0,
        "dropped": 0,
    }


def test_written_link_sets(root: Path) -> None:
    code, output = run(root, "--write", "--date", "2025-06-01")
    assert code == 0, output
    assert "enhetsregisteret: matched 5 (1 as candidates only), unmatched 1, ambiguous 0" in output
    brreg = generated(root, "enhetsregisteret")
    stated = {(str(s), str(o)) for s, o in brreg.subject_objects(SAME_AS)}
    assert stated == {
        (ORGN + "hamar-kommune", BRREG + "970540008"),
        (ORGN + "kristiansund-kommune", BRREG + "991891919"),
        (ORGN + "averoy-kommune", BRREG + "962378064"),
        (ORGN + "hedmark-fylkeskommune", BRREG + "942116217"),
    }
    # Grade C: a candidate record, never the sameAs triple.
    rows = brreg.query(
        """SELECT ?record ?grade WHERE {
             ?record a bolyst:LinkCandidate ; dct:subject ?s ; dct:references ?t ;
                     bolyst:confidence ?grade }""",
        initNs={"bolyst": "https://w3id.org/bolyst/ontology#", "dct": "http://purl.org/dc/terms/"},
        initBindings={
            "s": URIRef(ORGN + "innlandet-fylkeskommune"),
            "t": URIRef(BRREG + "920717152"),
        },
    )
    assert [str(r[1]) for r in rows] == [ID + "link-confidence/grade-c"]  # type: ignore[index]
    assert "void:triples 4 ." in (root / "data/links/enhetsregisteret.ttl").read_text()
    # KLASS: Hamar 0403 (1992-2019) is in the 2017 and 2018 versions; 3403 in 2020.
    klass = generated(root, "ssb-klass")
    source = URIRef("http://purl.org/dc/terms/source")
    assert {str(o) for o in klass.objects(URIRef(AU + "kommune-0403-1992"), source)} == {
        "https://data.ssb.no/api/klass/v1/versions/536",
        "https://data.ssb.no/api/klass/v1/versions/833",
    }
    assert {str(o) for o in klass.objects(URIRef(AU + "fylke-04-1971"), source)} == {
        "https://data.ssb.no/api/klass/v1/classifications/104"
    }
    # Wikidata: candidates only, no sameAs or seeAlso triple at all.
    wikidata = generated(root, "wikidata")
    assert not set(wikidata.subject_objects(SAME_AS))
    assert "void:triples 0 ." in (root / "data/links/wikidata.ttl").read_text()
    # Every file also loads into pyoxigraph (the store the endpoint serves from).
    store = ox.Store()
    for stem in ("enhetsregisteret", "ssb-klass", "geonorge", "wikidata"):
        store.load(path=str(root / "data" / "links" / f"{stem}.ttl"), format=ox.RdfFormat.TURTLE)
    assert len(store) > 100


def test_write_twice_gives_no_diff(root: Path) -> None:
    assert run(root, "--write", "--date", "2025-06-01")[0] == 0
    before = {p.name: p.read_text() for p in (root / "data" / "links").glob("*.ttl")}
    code, output = run(root, "--date", "2025-07-01")
    assert code == 0 and output.endswith("link sets up to date\n"), output
    code, output = run(root, "--write", "--date", "2025-07-01")
    assert code == 0 and "wrote" not in output
    assert {p.name: p.read_text() for p in (root / "data" / "links").glob("*.ttl")} == before


def test_changed_extract_shows_a_diff_and_a_new_date(root: Path) -> None:
    assert run(root, "--write", "--date", "2025-06-01")[0] == 0
    extract = root / "data" / "refdata" / "organisations.csv"
    lines = extract.read_text().splitlines(keepends=True)
    extract.write_text("".join(line for line in lines if not line.startswith("962378064")))
    code, output = run(root, "--date", "2025-07-01")
    assert code == 0
    assert "-orgn:averoy-kommune" in output and "+    void:triples 3 ." in output
    assert "1 file(s) would change; run with --write" in output
    assert "962378064" in (root / "data/links/enhetsregisteret.ttl").read_text()  # not written
    assert run(root, "--write", "--date", "2025-07-01")[0] == 0
    text = (root / "data/links/enhetsregisteret.ttl").read_text()
    assert "962378064" not in text and '"2025-07-01"^^xsd:date' in text
    assert '"2025-06-01"^^xsd:date' in (root / "data/links/ssb-klass.ttl").read_text()


def test_hand_edited_file_is_not_overwritten(root: Path) -> None:
    assert run(root, "--write", "--date", "2025-06-01")[0] == 0
    path = root / "data" / "links" / "geonorge.ttl"
    edited = path.read_text().replace("id/173062>", "id/173063>")
    path.write_text(edited)
    code, output = run(root, "--write", "--date", "2025-06-01")
    assert code == 1
    assert "refused data/links/geonorge.ttl: edited by hand" in output
    assert path.read_text() == edited
    code, output = run(root, "--write", "--force", "--date", "2025-06-01")
    assert code == 0 and "wrote data/links/geonorge.ttl" in output
    assert "id/173062>" in path.read_text()


def test_curated_links_win(root: Path) -> None:
    curated = root / "data" / "links" / "curated.ttl"
    curated.write_text(
        curated.read_text()
        + f"<{ORGN}hamar-kommune> <{SAME_AS}> <http://www.wikidata.org/entity/Q104400> .\n"
        + f"<{ORGN}kristiansund-kommune> <{SAME_AS}> <{BRREG}974567890> .\n"
    )
    results = {r.file: r for r in link.match_all(root)}
    dropped = results["wikidata"].tally.dropped
    assert dropped == ["link/wikidata--hamar-kommune--q104400: already in curated.ttl"]
    conflict = results["enhetsregisteret"].tally.dropped
    assert len(conflict) == 1 and f"to {BRREG}974567890 instead of {BRREG}991891919" in conflict[0]
    subjects = {str(x.subject) for x in results["enhetsregisteret"].links}
    assert ORGN + "kristiansund-kommune" not in subjects
    assert run(root, "--write")[0] == 0
    assert curated.read_text().count("\n") == 5  # untouched


# ---------------------------------------------------------------------------------------------
# --check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [("970540008", True), ("817920632", True), ("889640782", True), ("970540007", False),
     ("912345679", False), ("97054000", False), ("9705400080", False), ("97054000x", False)],
)  # fmt: skip
def test_organisation_number_check_digit(number: str, valid: bool) -> None:
    assert linkcheck.orgnr_is_valid(number) is valid


def test_check_passes_on_generated_sets(root: Path) -> None:
    assert run(root, "--write")[0] == 0
    code, output = run(root, "--check")
    assert (code, output) == (0, "link sets ok\n")


def test_check_finds_bad_digit_malformed_iri_duplicate_and_stale_count(root: Path) -> None:
    assert run(root, "--write")[0] == 0
    bad = root / "data" / "links" / "curated.ttl"
    bad.write_text(
        bad.read_text()
        + f"<{ORGN}sparebanken-hedmark> <{SAME_AS}> <{BRREG}970540007> .\n"
        + f"<{ORGN}innlandet-fylkeskommune> <{SAME_AS}> <https://www.wikidata.org/wiki/Q104400> .\n"
        + f"<{ORGN}innlandet-fylkeskommune> <{SAME_AS}> <{BRREG}970540008> .\n"
    )
    geonorge = root / "data" / "links" / "geonorge.ttl"
    geonorge.write_text(geonorge.read_text().replace("void:triples 2 .", "void:triples 7 ."))
    code, output = run(root, "--check")
    assert code == 1
    problems = output.splitlines()
    assert problems[-1] == "4 problem(s) in the link sets"
    assert (
        "data/links/curated.ttl: organisation/sparebanken-hedmark: "
        f"{BRREG}970540007: organisation number 970540007 fails its modulus-11 check digit"
    ) in problems
    assert (
        "data/links/curated.ttl: organisation/innlandet-fylkeskommune: "
        "https://www.wikidata.org/wiki/Q104400: not a Wikidata IRI of the form "
        "http://www.wikidata.org/entity/Q[1-9][0-9]*"
    ) in problems
    assert (
        "data/links/curated.ttl, data/links/enhetsregisteret.ttl: "
        f"{BRREG}970540008: claimed by 2 of ours (schema:sameAs): "
        "organisation/hamar-kommune, organisation/innlandet-fylkeskommune"
    ) in problems
    assert (
        "data/links/geonorge.ttl: dataset/links--geonorge: void:triples says 7, the file holds 2 "
        "links (run bolyst link --write)"
    ) in problems


def test_check_finds_a_bad_stated_organisation_number(root: Path) -> None:
    places = root / "data" / "places.ttl"
    places.write_text(places.read_text().replace('"962378064"', '"962378065"'))
    problems = [str(p) for p in linkcheck.check_links(root)]
    assert (
        "data: organisation/averoy-kommune: organisation number 962378065 is not nine digits "
        "with a valid modulus-11 check digit"
    ) in problems


# ---------------------------------------------------------------------------------------------
# From a real SPARQL endpoint: an Oxigraph server with a Wikidata-shaped fixture
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def wikidata_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "oxigraph"
    )
    if binary is None:
        pytest.skip("the oxigraph server is not installed (pip install -e '.[test]')")
    location = tmp_path_factory.mktemp("oxigraph")
    fixture = FIXTURES / "wikidata" / "items.ttl"
    subprocess.run(
        [binary, "load", "--location", str(location), "--file", str(fixture)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/query"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.server
def test_endpoint_counts_and_candidates(root: Path, wikidata_endpoint: str) -> None:
    code, output = run(
        root, "--endpoint", wikidata_endpoint, "--min-interval", "0", "--write", "--verbose"
    )
    assert code == 0, output
    # Keys: Hamar (P2504 0403, 3403; P2333), Kristiansund, Averøy (P2504; P2333), Hedmark FK
    # (P2333), the county versions 04 and 34 (P300). The fixture has one item for Hamar (through
    # all three codes), two for Kristiansund's 1505, one for Hedmark FK and for NO-04, none for
    # Averøy and NO-34.
    assert "wikidata: matched 3 (3 as candidates only), unmatched 2, ambiguous 1" in output
    wd = "http://www.wikidata.org/entity/"
    assert f"  ambiguous: organisation/kristiansund-kommune -> {wd}Q900011, {wd}Q900012" in output
    assert "  unmatched: organisation/averoy-kommune" in output
    assert "  unmatched: admin-unit/fylke-34-2020" in output
    wikidata = generated(root, "wikidata")
    references = URIRef("http://purl.org/dc/terms/references")
    subject = URIRef("http://purl.org/dc/terms/subject")
    pairs = {
        (str(wikidata.value(r, subject)), str(t)) for r, t in wikidata.subject_objects(references)
    }
    assert pairs == {
        (ORGN + "hamar-kommune", "http://www.wikidata.org/entity/Q104400"),
        (ORGN + "hedmark-fylkeskommune", "http://www.wikidata.org/entity/Q900013"),
        (AU + "fylke-04-1971", "http://www.wikidata.org/entity/Q50616"),
    }
    assert not set(wikidata.subject_objects(SAME_AS))
    text = (root / "data" / "links" / "wikidata.ttl").read_text()
    assert f'"{wikidata_endpoint} answered ?item wdt:P2333 \\"970540008\\" with ' in text
    assert run(root, "--check")[0] == 0


@pytest.mark.server
def test_endpoint_batches_requests(root: Path, wikidata_endpoint: str) -> None:
    ours, _ = link.load_ours(root)
    endpoint = RemoteEndpoint(wikidata_endpoint, "bolyst-test/0", min_interval=0)
    query = (root / link.REMOTE_QUERY).read_text()
    result = match_wikidata_endpoint(ours, endpoint, query, batch=3)
    # 10 (property, code) pairs: 4 organisation numbers, 4 municipality numbers, NO-04, NO-34.
    assert endpoint.requests == 4
    assert result.tally.counts(result.links)["matched"] == 3


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 (Retry-After: 0) twice, then a SPARQL JSON result; remembers each User-Agent."""

    agents: list[str] = []

    def do_GET(self) -> None:
        Flaky.agents.append(self.headers.get("User-Agent", ""))
        if len(Flaky.agents) <= 2:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        body = json.dumps(
            {
                "head": {"vars": ["x"]},
                "results": {"bindings": [{"x": {"type": "literal", "value": "1"}}]},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_retries_with_backoff_and_user_agent() -> None:
    Flaky.agents = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    slept: list[float] = []
    try:
        endpoint = RemoteEndpoint(
            f"http://127.0.0.1:{server.server_port}/sparql",
            link.user_agent("9.9"),
            backoff=0.5,
            min_interval=0,
            sleep=slept.append,
        )
        assert endpoint.select("SELECT ?x WHERE {}") == [{"x": "1"}]
    finally:
        server.shutdown()
        server.server_close()
    assert slept == [0.5, 1.0]  # exponential back-off; Retry-After: 0 does not shorten it
    assert len(Flaky.agents) == 3
    assert all(a.startswith("bolyst-link/9.9 (https://w3id.org/bolyst;") for a in Flaky.agents)


def test_gives_up_after_the_retries() -> None:
    slept: list[float] = []
    endpoint = RemoteEndpoint(
        f"http://127.0.0.1:{free_port()}/sparql",  # nothing listens there
        "bolyst-test/0",
        retries=3,
        backoff=0.1,
        min_interval=0,
        timeout=2,
        sleep=slept.append,
    )
    with pytest.raises(RemoteError, match="after 4 tries"):
        endpoint.select("SELECT * WHERE {}")
    assert slept == pytest.approx([0.1, 0.2, 0.4])


def test_request_rate_is_bounded() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    endpoint = RemoteEndpoint("http://127.0.0.1:9/", "bolyst-test/0", min_interval=2.0)
    endpoint.sleep, endpoint.clock = sleep, lambda: now[0]
    endpoint._wait_for_turn()
    now[0] += 0.5
    endpoint._wait_for_turn()
    assert slept == [1.5]


# ---------------------------------------------------------------------------------------------
# The shipped data
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> tuple[ox.Store, list[str]]:
    sources = find_sources(REPO)
    files = (*sources.ontology, *sources.data)
    store, _ = open_memory_store(files, sources.root)
    return store, [graph_iri(p.relative_to(sources.root).as_posix()) for p in files]


def ask(shipped: tuple[ox.Store, list[str]], query: str) -> list[dict[str, str]]:
    prefixes = """
        PREFIX bolyst: <https://w3id.org/bolyst/ontology#>
        PREFIX au: <https://w3id.org/bolyst/id/admin-unit/>
        PREFIX dct: <http://purl.org/dc/terms/>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        PREFIX schema: <https://schema.org/>
        PREFIX cv: <http://data.europa.eu/m8g/>
    """
    return select(shipped[0], prefixes + query, default_graphs=shipped[1])


def test_shipped_link_sets_are_up_to_date_and_pass_the_check() -> None:
    changes = link.plan(REPO, link.match_all(REPO), date.today())
    stale = [c.path.name for c in changes if c.changed or c.hand_edited]
    assert not stale, "run `bolyst link --write`: " + ", ".join(stale)
    assert [str(p) for p in linkcheck.check_links(REPO)] == []


def test_every_unit_has_its_ssb_code_and_klass_source(shipped: tuple[ox.Store, list[str]]) -> None:
    rows = ask(
        shipped,
        """SELECT ?unit (STR(?code) AS ?c) (COUNT(?k) AS ?n) WHERE {
             ?unit skos:inScheme ?scheme ; skos:notation ?code .
             FILTER(?scheme IN (<https://w3id.org/bolyst/id/scheme/kommune>,
                                <https://w3id.org/bolyst/id/scheme/fylke>))
             OPTIONAL { ?unit dct:source ?k
                        FILTER(STRSTARTS(STR(?k), "https://data.ssb.no/api/klass/v1/")) }
           } GROUP BY ?unit ?code""",
    )
    assert len(rows) == 20  # data/README.md: 13 municipality and 7 county versions
    assert all(int(r["n"]) >= 1 for r in rows), [r["unit"] for r in rows if r["n"] == "0"]


def test_every_body_with_a_grade_a_or_b_number_is_linked(
    shipped: tuple[ox.Store, list[str]],
) -> None:
    with (REPO / "data" / "refdata" / "organisations.csv").open(encoding="utf-8") as f:
        grades = {row["orgnr"]: row["grade"] for row in csv.DictReader(f)}
    rows = ask(
        shipped,
        """SELECT ?body ?number ?target ?candidate WHERE {
             ?body a cv:PublicOrganisation .
             OPTIONAL { ?body dct:identifier ?id BIND(STR(?id) AS ?number) }
             OPTIONAL { ?body schema:sameAs ?target
                        FILTER(STRSTARTS(STR(?target), "https://data.brreg.no/")) }
             OPTIONAL { ?c a bolyst:LinkCandidate ; dct:subject ?body ; dct:references ?candidate
                        FILTER(STRSTARTS(STR(?candidate), "https://data.brreg.no/")) }
           }""",
    )
    by_body = {r["body"]: r for r in rows}
    for number, grade in grades.items():
        holders = [r for r in rows if r.get("number") == number]
        if grade in {"A", "B"}:
            assert len(holders) == 1, number
            assert holders[0].get("target") == BRREG + number, holders[0]
        else:  # grade C: never stated, only a candidate
            assert not any(r.get("target") == BRREG + number for r in rows)
            assert any(r.get("candidate") == BRREG + number for r in rows), number
    # Every municipal and county body is linked or a candidate (Sør-Trøndelag FK is not minted).
    for name in ("hamar", "levanger", "verdal", "steinkjer", "stjordal", "kristiansund", "averoy"):
        assert by_body[ORGN + f"{name}-kommune"].get("target"), name
    for name in ("hedmark", "oppland", "innlandet", "trondelag", "more-og-romsdal"):
        assert by_body[ORGN + f"{name}-fylkeskommune"].get("target"), name
    assert by_body[ORGN + "nord-trondelag-fylkeskommune"].get("candidate") == BRREG + "938967091"


def test_reform_chains_are_queryable(shipped: tuple[ox.Store, list[str]]) -> None:
    def successors(unit: str) -> set[str]:
        path = "dct:isReplacedBy+/skos:notation"
        rows = ask(shipped, f"SELECT ?c WHERE {{ au:{unit} {path} ?n BIND(STR(?n) AS ?c) }}")
        return {r["c"] for r in rows}

    assert successors("kommune-1702-1971") == {"5004", "5006"}  # Steinkjer 1702 -> 5004 -> 5006
    assert successors("kommune-0403-1992") == {"3403"}
    assert successors("fylke-17-1971") == {"50"}  # Nord-Trøndelag -> Trøndelag (2018)
    assert successors("fylke-04-1971") == successors("fylke-05-1971") == {"34"}  # -> Innlandet
    # Today's code of what was 1702 in 2011, and the KLASS version that has it.
    rows = ask(
        shipped,
        """SELECT ?today ?klass WHERE {
             au:kommune-1702-1971 dct:isReplacedBy+ ?unit .
             ?unit skos:notation ?n ; dct:source ?klass .
             FILTER NOT EXISTS { ?unit dct:isReplacedBy ?later }
             FILTER(?klass = <https://data.ssb.no/api/klass/v1/versions/1710>)
             BIND(STR(?n) AS ?today) }""",
    )
    assert rows == [{"today": "5006", "klass": "https://data.ssb.no/api/klass/v1/versions/1710"}]
