"""Synthetic data in our ontology, at any size: for load tests, soaks and benchmarks (issue 8).

:func:`generate` writes a complete root folder: ``ontology/``, ``shapes/`` and ``queries/`` copied
from a real root, and ``data/synthetic-*.ttl``. The data follow the patterns of data/README.md,
so they conform to the shapes: programmes with their catalogue page, sections and regions;
member organisations (with valid organisation numbers) shared between programmes; memberships
with roles and periods; observations of the properties of ``ontology/concepts.ttl`` with results
of the right value type; goals in a scheme per programme, a review and recommendations; negative
facts; every claim derived from a quote of a section. The concepts are read from the copied
ontology, so the generator follows changes of the code lists.

Deterministic: the same size and seed give byte-identical files. Fast: every line is one
triple in Turtle with prefixed names that are ours to choose (plain string formatting, streamed
to disk), so 1M triples take a few seconds, and the line count is the triple count.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "synthetic"
    >>> result = generate(out, 3000, seed=7, source_root=Path(__file__).resolve().parents[2])
    >>> 2500 < result.triples < 4000 and result.programmes >= 2
    True
"""

from __future__ import annotations

import random
import shutil
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF, SKOS

from bolyst.namespaces import ID
from bolyst.namespaces import PREFIXES as NAMESPACE_PREFIXES

__all__ = ["SynthResult", "Vocabulary", "generate", "read_vocabulary"]

FILE_TRIPLES = 100_000  # a new data file (and so a new named graph) after this many triples
COPIED = ("ontology", "shapes", "queries")
BOLYST = Namespace("https://w3id.org/bolyst/ontology#")
ORG = Namespace("http://www.w3.org/ns/org#")
DCT = Namespace("http://purl.org/dc/terms/")

# Ours, and the few prefixes of the kinds of things only the synthetic data have many of.
PREFIXES = {
    **NAMESPACE_PREFIXES,
    "review": ID + "assessment/",
    "rec": ID + "recommendation/",
    "npa": ID + "npa/",
    "unit": ID + "unit/",
    "post": ID + "post/",
    "report": ID + "report/",
    "region": ID + "region/",
}

# Parts of invented place names (transliterated in slugs as data/README.md says).
_HEADS = (
    "Nord", "Sør", "Øst", "Vest", "Midt", "Indre", "Ytre", "Øvre", "Nedre", "Stor", "Lille",
    "Lang", "Bjørke", "Furu", "Eike", "Lyng", "Sand", "Stein", "Berg", "Fjell", "Elve", "Sjø",
)  # fmt: skip
_TAILS = (
    "fjord", "dal", "vik", "sund", "nes", "heim", "land", "bygd", "øy", "vang", "mark", "haug",
    "strand", "li", "å", "voll", "rud", "set", "stad", "tun",
)  # fmt: skip
_TRADES = (
    ("Energi", "Energy"), ("Sparebank", "Savings Bank"), ("Bygg", "Construction"),
    ("Mekaniske", "Engineering"), ("Sjømat", "Seafood"), ("Treindustri", "Wood Industry"),
    ("Rådgivning", "Consulting"), ("Kraft", "Power"), ("Transport", "Transport"),
    ("Data", "IT"), ("Revisjon", "Auditing"), ("Verft", "Shipyard"), ("Meieri", "Dairy"),
)  # fmt: skip
_SECTIONS = (
    ("ingress", "Ingress", "Lead-in"),
    ("bakgrunn", "Bakgrunn", "Background"),
    ("organisering", "Organisering", "Organisation"),
    ("finansiering", "Finansiering", "Funding"),
    ("malgruppe", "Målgruppe", "Target group"),
    ("kommunens-rolle", "Kommunens rolle", "The municipality's role"),
    ("malformulering", "Målformulering", "Goals"),
    ("resultat-og-effekt", "Resultat og effekt", "Results and effect"),
    ("laeringsverdi", "Læringsverdi", "Lessons"),
)
_GOALS = (
    ("recruit", "Rekruttere høyt utdannet arbeidskraft til regionen", "Recruit a highly educated"
     " workforce to the region"),
    ("retain", "Beholde kompetansen i regionen", "Keep competence in the region"),
    ("attract", "Vise fram attraktive arbeidsplasser", "Show attractive jobs"),
    ("network", "Bygge nettverk mellom bedriftene", "Build networks between the companies"),
    ("reputation", "Styrke omdømmet til regionen", "Strengthen the region's reputation"),
    ("return", "Få utflyttede til å flytte hjem", "Bring people who moved away back home"),
)  # fmt: skip
_ROLE_SENTENCE = {
    "member": "er medlemsbedrift i",
    "board-member": "har en representant i styret til",
    "funder": "bidrar med midler til",
    "supporter": "er støttespiller for",
    "partner-company": "er partnerbedrift i",
    "trainee-employer": "rekrutterer traineer gjennom",
    "owner": "er eier av",
    "coordinator": "har den daglige driften av",
    "initiator": "tok initiativet til",
    "founder": "fikk i oppdrag å starte",
    "start-up-participant": "var med på oppstarten av",
}


@dataclass(frozen=True)
class Vocabulary:
    """The code lists the generator draws from (local names under our id/ namespace)."""

    properties: tuple[tuple[str, str], ...]  # (property slug, value-type slug)
    roles: tuple[str, ...]
    schemes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # scheme slug -> concepts


@dataclass(frozen=True)
class SynthResult:
    root: Path
    files: tuple[Path, ...]
    triples: int
    programmes: int
    organisations: int
    seconds: float


def read_vocabulary(ontology: Path) -> Vocabulary:
    """Read the property, role and facet concepts from ``ontology/*.ttl``."""
    graph = Graph()
    for path in sorted(ontology.glob("*.ttl")):
        graph.parse(path, format="turtle")
    scheme_base = ID + "scheme/"

    def local(iri: object) -> str:
        return str(iri).rsplit("/", 1)[-1]

    schemes: dict[str, list[str]] = {}
    for concept, scheme in graph.subject_objects(SKOS.inScheme):
        if isinstance(concept, URIRef) and str(scheme).startswith(scheme_base):
            name = str(scheme)[len(scheme_base) :]
            # dct:audience needs dct:AgentClass concepts (shp:Programme-audience).
            if name == "target-group" and (concept, RDF.type, DCT.AgentClass) not in graph:
                continue
            schemes.setdefault(name, []).append(str(concept))
    properties = sorted(
        (local(p), local(vt))
        for p, vt in graph.subject_objects(BOLYST.valueType)
        if str(p).startswith(ID + "property/")
    )
    roles = sorted(
        local(r) for r in schemes.get("role", ()) if (URIRef(r), RDF.type, ORG.Role) in graph
    )
    return Vocabulary(
        properties=tuple(properties),
        roles=tuple(r for r in roles if r in _ROLE_SENTENCE),
        schemes={k: tuple(sorted(v)) for k, v in schemes.items()},
    )


def slugify(text: str) -> str:
    """Our slug rule: lowercase ASCII, æ→ae ø→o å→a, words joined by ``-``.

    >>> slugify("Sør-Fjelldal Sjømat AS")
    'sor-fjelldal-sjomat-as'
    """
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return "-".join(words)


def _lit(text: str, lang: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"@{lang}'


def _year(year: int) -> str:
    return f'"{year}"^^xsd:gYear'


def orgnr(number: int) -> str:
    """A nine-digit organisation number with a valid modulus-11 check digit.

    >>> orgnr(97054000)
    '970540008'
    """
    base = f"{number:08d}"
    total = sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), base, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:  # no valid number with this stem: take the next one
        return orgnr(number + 1)
    return base + str(check)


class _Writer:
    """Lines of Turtle, one triple each, into data files of at most about FILE_TRIPLES triples."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Path] = []
        self.total = 0
        self._in_file = 0
        self._out: TextIO | None = None
        self._bnodes = 0
        self.buffer: list[str] = []

    def open(self, name: str) -> None:
        self.close()
        path = self.folder / f"synthetic-{name}.ttl"
        self.files.append(path)
        self._out = path.open("w", encoding="utf-8", newline="\n")
        self._out.write(
            "# Synthetic data (bolyst synth): invented programmes in our ontology, for load tests"
            " and benchmarks. Not facts.\n"
        )
        for prefix, iri in PREFIXES.items():
            self._out.write(f"PREFIX {prefix}: <{iri}>\n")
        self._in_file = 0
        self._bnodes = 0

    def bnode(self) -> str:
        self._bnodes += 1
        return f"_:b{self._bnodes}"

    def t(self, s: str, p: str, o: str) -> None:
        self.buffer.append(f"{s} {p} {o} .\n")

    def flush(self) -> int:
        """Write the buffered triples (one entity's worth); return how many."""
        assert self._out is not None
        count = len(self.buffer)
        self._out.write("".join(self.buffer))
        self.buffer.clear()
        self.total += count
        self._in_file += count
        return count

    @property
    def full(self) -> bool:
        return self._in_file >= FILE_TRIPLES

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass
class _Org:
    slug: str
    name: str
    region: str


class _Generator:
    def __init__(self, vocab: Vocabulary, rng: random.Random, writer: _Writer) -> None:
        self.v = vocab
        self.rng = rng
        self.w = writer
        self.names: set[str] = set()
        self.orgs: list[_Org] = []
        self.org_count = 0
        self.orgnr = 81_000_000 + rng.randrange(1_000_000)

    # --- shared resources ---------------------------------------------------------------------

    def sources(self) -> None:
        w = self.w
        w.t("orgn:katalogsenteret", "a", "org:Organization")
        w.t("orgn:katalogsenteret", "skos:prefLabel", _lit("Katalogsenteret", "nb"))
        w.t("orgn:katalogsenteret", "skos:prefLabel", _lit("The Catalogue Centre", "en"))
        w.t(
            "orgn:katalogsenteret",
            "dct:identifier",
            f'"{self._orgnr()}"^^bolyst:Organisasjonsnummer',
        )
        w.t("report:synthetic-evaluation", "a", "schema:Report")
        w.t(
            "report:synthetic-evaluation",
            "dct:title",
            _lit("Evaluering av regionale traineeprogram", "nb"),
        )
        w.t("report:synthetic-evaluation", "schema:publisher", "orgn:katalogsenteret")
        w.t("report:synthetic-evaluation", "schema:datePublished", '"2012"^^xsd:gYear')
        w.flush()

    def _orgnr(self) -> str:
        self.orgnr += 1 + self.rng.randrange(97)
        return orgnr(self.orgnr)

    def _place_name(self) -> str:
        for _ in range(50):
            name = self.rng.choice(_HEADS) + self.rng.choice(_TAILS)
            if name not in self.names:
                self.names.add(name)
                return name
        name = f"{self.rng.choice(_HEADS)}{self.rng.choice(_TAILS)} {len(self.names)}"
        self.names.add(name)
        return name

    def _quote(self, subject: str, section: str, text: str) -> None:
        w = self.w
        ref, selector = w.bnode(), w.bnode()
        w.t(subject, "prov:wasDerivedFrom", ref)
        w.t(ref, "a", "oa:SpecificResource")
        w.t(ref, "oa:hasSource", section)
        w.t(ref, "oa:hasSelector", selector)
        w.t(selector, "a", "oa:TextQuoteSelector")
        w.t(selector, "oa:exact", _lit(text, "nb"))

    def _period(self, subject: str, predicate: str, start: int | None, end: int | None) -> None:
        w = self.w
        period = w.bnode()
        w.t(subject, predicate, period)
        w.t(period, "a", "dct:PeriodOfTime")
        w.t(period, "a", "time:Interval")
        if start is not None:
            w.t(period, "dcat:startDate", _year(start))
        if end is not None:
            w.t(period, "dcat:endDate", _year(end))

    def _organisation(self, region: str, region_name: str, section: str) -> _Org:
        rng, w = self.rng, self.w
        self.org_count += 1
        trade_nb, trade_en = rng.choice(_TRADES)
        public = rng.random() < 0.15
        if public:
            name_nb = f"{region_name} kommune {self.org_count}"
            name_en = f"{region_name} municipality {self.org_count}"
        else:
            name_nb = f"{region_name} {trade_nb} {self.org_count} AS"
            name_en = f"{region_name} {trade_en} {self.org_count} AS"
        slug = slugify(name_nb)
        s = f"orgn:{slug}"
        w.t(s, "a", "cv:PublicOrganisation" if public else "org:Organization")
        if not public:
            w.t(s, "a", "org:FormalOrganization")
        w.t(s, "skos:prefLabel", _lit(name_nb, "nb"))
        w.t(s, "skos:prefLabel", _lit(name_en, "en"))
        w.t(s, "dct:identifier", f'"{self._orgnr()}"^^bolyst:Organisasjonsnummer')
        w.t(s, "dct:spatial", region)
        w.t(s, "prov:wasDerivedFrom", section)
        org = _Org(slug, name_nb, region)
        self.orgs.append(org)
        return org

    # --- one programme --------------------------------------------------------------------------

    def programme(self, index: int) -> None:
        rng, w, v = self.rng, self.w, self.v
        place = self._place_name()
        region_slug = slugify(place) + "-regionen"
        region = f"region:{region_slug}"
        kind = rng.choice(("Trainee", "Intro", "Talent", "Trainee"))
        name = f"{kind} {place}"
        slug = slugify(name)
        prog, page = f"prog:{slug}", f"catalogue-{slug}"
        sec = {key: f"sec:{page}--{key}" for key, _, _ in _SECTIONS}
        founded = rng.randrange(1995, 2012)
        written = rng.randrange(max(founded + 1, 2008), 2016)

        # The page and its sections.
        src = f"src:{page}"
        w.t(src, "a", "schema:WebPage")
        w.t(src, "schema:url", f"<https://example.org/katalog/{slug}/>")
        w.t(src, "dct:title", _lit(name, "nb"))
        w.t(src, "skos:prefLabel", _lit(f"{name} – katalogen", "nb"))
        w.t(src, "skos:prefLabel", _lit(f"{name} – the catalogue", "en"))
        w.t(src, "dct:publisher", "orgn:katalogsenteret")
        w.t(src, "schema:inLanguage", '"nb"')
        w.t(src, "schema:about", prog)
        for position, (key, title_nb, title_en) in enumerate(_SECTIONS, start=1):
            s = sec[key]
            w.t(s, "a", "schema:WebPageElement")
            w.t(s, "schema:isPartOf", src)
            w.t(s, "schema:position", str(position))
            w.t(s, "dct:title", _lit(title_nb, "nb"))
            w.t(s, "skos:prefLabel", _lit(title_nb, "nb"))
            w.t(s, "skos:prefLabel", _lit(title_en, "en"))

        # Its region.
        w.t(region, "a", "dct:Location")
        w.t(region, "skos:prefLabel", _lit(f"{place}regionen", "nb"))
        w.t(region, "skos:prefLabel", _lit(f"The {place} region", "en"))
        w.t(region, "prov:wasDerivedFrom", sec["ingress"])

        # The programme.
        w.t(prog, "a", "bolyst:RegionalTraineeProgramme")
        w.t(prog, "skos:prefLabel", _lit(name, "nb"))
        w.t(prog, "skos:prefLabel", _lit(name, "en"))
        w.t(prog, "skos:altLabel", _lit(f"Traineeprogram for {place}regionen", "nb"))
        w.t(prog, "dct:description", _lit(f"Regionalt traineeprogram for {place}regionen.", "nb"))
        w.t(
            prog,
            "dct:description",
            _lit(f"Regional trainee programme for the {place} region.", "en"),
        )
        w.t(prog, "skos:historyNote", _lit(f"Startet i {founded}.", "nb"))
        w.t(prog, "skos:historyNote", _lit(f"Started in {founded}.", "en"))
        w.t(prog, "dct:spatial", region)
        for scheme, predicate, low, high in (
            ("target-group", "dct:audience", 1, 4),
            ("activity", "bolyst:activityType", 0, 5),
            ("selling-point", "bolyst:sellingPoint", 0, 3),
            ("programme-element", "bolyst:programmeElement", 2, 6),
            ("subject-area", "org:classification", 0, 1),
        ):
            concepts = v.schemes.get(scheme, ())
            count = min(len(concepts), rng.randint(low, high))
            for concept in sorted(rng.sample(concepts, count)):
                w.t(prog, predicate, f"<{concept}>")
        w.t(prog, "prov:wasDerivedFrom", sec["ingress"])
        self._quote(prog, sec["bakgrunn"], f"{name} ble startet i {founded}.")
        w.flush()

        # Members: mostly new local organisations, some from earlier programmes.
        members = [
            self._organisation(region, place, sec["bakgrunn"]) for _ in range(rng.randint(4, 14))
        ]
        if self.orgs and len(self.orgs) > len(members):
            others = self.orgs[: len(self.orgs) - len(members)]
            members += rng.sample(others, min(len(others), rng.randint(0, 6)))
        w.flush()
        seen: set[str] = set()
        for org in members:
            if org.slug in seen:
                continue
            seen.add(org.slug)
            for role in sorted(rng.sample(v.roles, rng.randint(1, 3))):
                self._membership(prog, slug, name, org, role, founded, written, sec)
        # Negative facts: organisations of earlier programmes that are not members here.
        strangers = [o for o in self.orgs[:50] if o.slug not in seen]
        for org in rng.sample(strangers, min(len(strangers), rng.randint(0, 2))):
            s = f"npa:{slug}--{org.slug}--member-of"
            w.t(s, "a", "owl:NegativePropertyAssertion")
            w.t(s, "owl:sourceIndividual", f"orgn:{org.slug}")
            w.t(s, "owl:assertionProperty", "org:memberOf")
            w.t(s, "owl:targetIndividual", prog)
            self._period(s, "dct:temporal", None, written)
            self._quote(s, sec["kommunens-rolle"], f"{org.name} er ikke medlem i {name}.")
        w.flush()

        self._observations(prog, slug, name, founded, written, sec)
        goals = self._goals(prog, slug, name, sec)
        self._assessment(prog, slug, name, sec, goals, members)
        w.flush()

    def _membership(
        self,
        prog: str,
        slug: str,
        name: str,
        org: _Org,
        role: str,
        founded: int,
        written: int,
        sec: dict[str, str],
    ) -> None:
        rng, w = self.rng, self.w
        s = f"mem:{slug}--{org.slug}--{role}"
        w.t(s, "a", "org:Membership")
        w.t(s, "org:member", f"orgn:{org.slug}")
        w.t(s, "org:organization", prog)
        w.t(s, "org:role", f"role:{role}")
        start = rng.randint(founded, written) if rng.random() < 0.6 else None
        end = written if rng.random() < 0.8 else None
        if start is not None or end is not None:
            self._period(s, "org:memberDuring", start, end)
        self._quote(s, sec["kommunens-rolle"], f"{org.name} {_ROLE_SENTENCE[role]} {name}.")

    def _observations(
        self, prog: str, slug: str, name: str, founded: int, written: int, sec: dict[str, str]
    ) -> None:
        rng, w, v = self.rng, self.w, self.v
        chosen = [p for p in v.properties if p[0] == "founding-year" or rng.random() < 0.45]
        for prop, value_type in chosen:
            discriminator = "" if value_type in ("year", "concept") else f"--{written}"
            s = f"obs:{slug}--{prop}{discriminator}"
            w.t(s, "a", "sosa:Observation")
            w.t(s, "sosa:hasFeatureOfInterest", prog)
            w.t(s, "sosa:observedProperty", f"<{ID}property/{prop}>")
            text = self._result(s, prop, value_type, founded, written)
            if text is None:
                w.buffer.clear()
                continue
            if value_type != "year":
                self._period(s, "sosa:phenomenonTime", None, written)
            if rng.random() < 0.1:
                w.t(s, "bolyst:valueQualifier", f"<{ID}qualifier/nearly>")
            section = sec["bakgrunn"] if value_type == "year" else sec["resultat-og-effekt"]
            self._quote(s, section, f"{name}: {text}.")
            w.flush()

    def _result(self, s: str, prop: str, value_type: str, founded: int, written: int) -> str | None:
        """Write the result of observation ``s``; return the sentence it came from."""
        rng, w = self.rng, self.w
        if value_type == "year":
            year = founded if prop == "founding-year" else rng.randint(founded, written)
            w.t(s, "sosa:hasSimpleResult", _year(year))
            return f"{prop} {year}"
        if value_type == "count":
            count = rng.randint(0, 40) if "count" in prop else rng.randint(1, 400)
            w.t(s, "sosa:hasSimpleResult", str(count))
            return f"{count}"
        if value_type == "rank":
            w.t(s, "sosa:hasSimpleResult", str(rng.randint(1, 10)))
            return "rangert"
        if value_type == "ratio":
            ratio = f"0.{rng.randint(10, 99)}"
            w.t(s, "sosa:hasSimpleResult", ratio)
            return f"{ratio} av traineene"
        if value_type == "fte":
            fte = f"{rng.randint(0, 2)}.{rng.choice((0, 2, 5, 8))}"
            w.t(s, "sosa:hasSimpleResult", fte)
            return f"{fte} årsverk"
        if value_type == "boolean":
            flag = rng.choice(("true", "false"))
            w.t(s, "sosa:hasSimpleResult", flag)
            return "ja" if flag == "true" else "nei"
        if value_type == "duration":
            value, unit = rng.choice(((2, "ANN"), (8, "MON"), (6, "MON"), (2, "DAY"), (4, "ANN")))
            qv = w.bnode()
            w.t(s, "sosa:hasResult", qv)
            w.t(qv, "a", "schema:QuantitativeValue")
            w.t(qv, "schema:value", str(value))
            w.t(qv, "schema:unitCode", f'"{unit}"')
            return f"{value} {unit}"
        if value_type == "money":
            price, reference = w.bnode(), w.bnode()
            amount = rng.randrange(20_000, 200_000, 500)
            w.t(s, "sosa:hasResult", price)
            w.t(price, "a", "schema:UnitPriceSpecification")
            w.t(price, "schema:price", str(amount))
            w.t(price, "schema:priceCurrency", '"NOK"')
            w.t(price, "schema:valueAddedTaxIncluded", "false")
            w.t(price, "schema:referenceQuantity", reference)
            w.t(reference, "a", "schema:QuantitativeValue")
            w.t(reference, "schema:value", "1")
            w.t(reference, "schema:unitCode", '"ANN"')
            return f"{amount} kroner"
        if value_type == "concept":
            scheme = {"legal-form": "legal-form", "funding-source": "funding-source"}.get(
                prop, "qualifier"
            )
            concepts = self.v.schemes.get(scheme, ())
            if not concepts:
                return None
            w.t(s, "sosa:hasResult", f"<{rng.choice(concepts)}>")
            return scheme
        return None

    def _goals(self, prog: str, slug: str, name: str, sec: dict[str, str]) -> list[str]:
        rng, w = self.rng, self.w
        scheme = f"scheme:goals--{slug}"
        w.t(scheme, "a", "skos:ConceptScheme")
        w.t(scheme, "skos:prefLabel", _lit(f"{name}s mål", "nb"))
        w.t(scheme, "skos:prefLabel", _lit(f"Goals of {name}", "en"))
        goals = sorted(rng.sample(_GOALS, rng.randint(2, 5)))
        main = f"goal:{slug}--{goals[0][0]}" if rng.random() < 0.5 else None
        for key, nb, en in goals:
            goal = f"goal:{slug}--{key}"
            w.t(goal, "a", "bolyst:Goal")
            w.t(goal, "skos:inScheme", scheme)
            w.t(goal, "skos:prefLabel", _lit(nb, "nb"))
            w.t(goal, "skos:prefLabel", _lit(en, "en"))
            if main is not None and goal != main:
                w.t(goal, "skos:broader", main)
            else:
                w.t(goal, "skos:topConceptOf", scheme)
                w.t(scheme, "skos:hasTopConcept", goal)
            w.t(prog, "org:purpose", goal)
            self._quote(goal, sec["malformulering"], f"{nb}.")
        if main is not None:
            w.t(prog, "bolyst:mainGoal", main)
        return [f"goal:{slug}--{key}" for key, _, _ in goals]

    def _assessment(
        self,
        prog: str,
        slug: str,
        name: str,
        sec: dict[str, str],
        goals: list[str],
        members: list[_Org],
    ) -> None:
        rng, w = self.rng, self.w
        review = f"review:{slug}"
        body = f"{name} gjør en god jobb med å synliggjøre karrieremuligheter i regionen."
        w.t(review, "a", "schema:Review")
        w.t(review, "schema:author", "orgn:katalogsenteret")
        w.t(review, "schema:itemReviewed", prog)
        w.t(review, "schema:isBasedOn", "report:synthetic-evaluation")
        w.t(review, "schema:reviewBody", _lit(body, "nb"))
        w.t(review, "schema:positiveNotes", _lit("Har skapt bolyst for unge mennesker", "nb"))
        if rng.random() < 0.5:
            w.t(review, "schema:negativeNotes", _lit("Bør definere måltall", "nb"))
        self._quote(review, sec["resultat-og-effekt"], body)
        for number in range(rng.randint(1, 3)):
            rec = f"rec:{slug}--recommendation-{number + 1}"
            text = (
                "Bør mål- og tidsfeste noen av delmålene."
                if number == 0
                else ("Bør kurse nye medlemsbedrifter i å ta imot traineer.")
            )
            w.t(rec, "a", "schema:Recommendation")
            w.t(rec, "schema:author", "orgn:katalogsenteret")
            w.t(rec, "schema:itemReviewed", prog)
            w.t(rec, "schema:reviewBody", _lit(text, "nb"))
            # The first is about the goals (queries/recommendations.rq), the others about the
            # programme and a member.
            for about in goals if number == 0 else [prog, f"orgn:{members[0].slug}"]:
                w.t(rec, "schema:about", about)
            self._quote(rec, sec["laeringsverdi"], text)


def generate(
    out: Path,
    triples: int,
    *,
    seed: int = 1,
    source_root: Path,
    progress: object = None,
) -> SynthResult:
    """Write a root folder with about ``triples`` triples of synthetic data (and the ontology).

    Args:
        out: the root folder to write (created; earlier ``data/synthetic-*.ttl`` are replaced).
        triples: how many triples the data files should hold together (the ontology's come on
            top); the generator stops after the programme that reaches it.
        seed: the random seed: the same seed and size give the same files.
        source_root: the root whose ontology/, shapes/ and queries/ are copied.
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for folder in COPIED:
        if (source_root / folder).is_dir():
            shutil.rmtree(out / folder, ignore_errors=True)
            shutil.copytree(source_root / folder, out / folder)
    data = out / "data"
    data.mkdir(exist_ok=True)
    for old in data.glob("synthetic-*.ttl"):
        old.unlink()
    vocab = read_vocabulary(out / "ontology")
    writer = _Writer(data)
    generator = _Generator(vocab, random.Random(seed), writer)
    writer.open("sources")
    generator.sources()
    number = 0
    part = 0
    try:
        while writer.total < triples:
            if number == 0 or writer.full:
                part += 1
                writer.open(f"programmes-{part:03d}")
            generator.programme(number)
            number += 1
            if callable(progress) and number % 100 == 0:
                progress(f"{writer.total:,} triples, {number} programmes")
    finally:
        writer.close()
    return SynthResult(
        out,
        tuple(writer.files),
        writer.total,
        number,
        generator.org_count,
        time.perf_counter() - started,
    )


def iter_files(root: Path) -> Iterator[Path]:
    """The synthetic data files of a root, in order."""
    yield from sorted((root / "data").glob("synthetic-*.ttl"))
