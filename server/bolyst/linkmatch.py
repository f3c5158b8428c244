"""Match our organisations and administrative units to other registers' identifiers.

One matcher per register; each takes our graph and the register's rows (or an endpoint) and
returns the links it made with a tally of matched, unmatched and ambiguous resources. Nothing here
reads or writes files in ``data/links/``: that is :mod:`bolyst.link`.

========================  ===================  ============================================
register                  predicate            matched on
========================  ===================  ============================================
Enhetsregisteret          ``schema:sameAs``    organisation number (refdata/organisations.csv)
SSB KLASS                 ``dct:source``       code, name and validity (municipalities, counties)
Geonorge                  ``skos:exactMatch``  unique name, period 2020-2023 (geonorge.csv)
Wikidata                  candidates only      P2504 / P300 (wikidata.csv), or an endpoint
========================  ===================  ============================================
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS
from rdflib.term import Node

from bolyst.errors import InputError
from bolyst.namespaces import ID, ONTOLOGY
from bolyst.store.remote import RemoteEndpoint

BOLYST = Namespace(ONTOLOGY)
ORG = Namespace("http://www.w3.org/ns/org#")
CV = Namespace("http://data.europa.eu/m8g/")
SDO = Namespace("https://schema.org/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")

DS = ID + "dataset/"
SRC = ID + "source/"
LINK = ID + "link/"

BRREG = "https://data.brreg.no/enhetsregisteret/api/enheter/"
KLASS = "https://data.ssb.no/api/klass/v1/"
GEONORGE = "https://data.geonorge.no/administrativeEnheter/"
WIKIDATA = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"

ORGANISATION_TYPES = (
    ORG.Organization,
    ORG.FormalOrganization,
    CV.PublicOrganisation,
    BOLYST.RegionalTraineeProgramme,
)
LEVELS = {BOLYST.Kommunenummer: "kommune", BOLYST.Fylkesnummer: "fylke"}
# The Geonorge file reflects the 2020-2023 structure (shared/refdata/SOURCES.md §6).
GEONORGE_PERIOD = (date(2020, 1, 1), date(2023, 12, 31))
Period = tuple[date | None, date | None]  # None: open at that end


@dataclass(frozen=True)
class Link:
    """One link from our ``subject`` to ``target``, and what its link record says."""

    linkset: str  # local name under .../id/dataset/, e.g. "links--enhetsregisteret"
    predicate: URIRef
    subject: URIRef
    target: URIRef
    key: str  # ends the record's IRI: the orgnr, "131-v833", the Geonorge id, the QID
    confidence: str  # local name under .../id/link-confidence/
    candidate: bool  # True: only the record is written, never the link triple
    sources: tuple[str, ...]  # dct:source: the row(s) or answer(s) it rests on
    derived_from: tuple[URIRef, ...]
    note: str

    @property
    def record(self) -> URIRef:
        short = self.linkset.removeprefix("links--").removesuffix("-places")
        return URIRef(f"{LINK}{short}--{self.subject.rsplit('/', 1)[-1]}--{self.key}")


@dataclass
class Tally:
    """What happened to the resources of ours that one register could identify."""

    name: str
    considered: set[URIRef] = field(default_factory=set)
    ambiguous: dict[URIRef, set[str]] = field(default_factory=lambda: defaultdict(set))
    unused_rows: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def counts(self, links: Iterable[Link]) -> dict[str, int]:
        links = list(links)
        matched = {link.subject for link in links} - set(self.ambiguous)
        stated = {link.subject for link in links if not link.candidate}
        return {
            "matched": len(matched),
            "candidates_only": len(matched - stated),
            "unmatched": len(self.considered - matched - set(self.ambiguous)),
            "ambiguous": len(self.ambiguous),
            "unused_rows": len(self.unused_rows),
            "dropped": len(self.dropped),
        }

    def summary(self, links: Iterable[Link]) -> str:
        c = self.counts(links)
        text = (
            f"{self.name}: matched {c['matched']} ({c['candidates_only']} as candidates only), "
            f"unmatched {c['unmatched']}, ambiguous {c['ambiguous']}; "
            f"registry rows without a match {c['unused_rows']}"
        )
        return text + (f"; left out for curated links {c['dropped']}" if c["dropped"] else "")

    def details(self, links: Iterable[Link]) -> list[str]:
        matched = {link.subject for link in links}
        out = [
            f"  ambiguous: {_short(s)} -> {', '.join(sorted(t))}"
            for s, t in sorted(self.ambiguous.items())
        ]
        out += [
            f"  unmatched: {_short(s)}"
            for s in sorted(self.considered - matched - set(self.ambiguous))
        ]
        out += [f"  registry row without a match: {row}" for row in self.unused_rows]
        return out + [f"  curated: {text}" for text in self.dropped]


@dataclass(frozen=True)
class Result:
    """What one matcher made: the links (for one file under data/links/) and its tally."""

    file: str
    links: tuple[Link, ...]
    tally: Tally


def _short(iri: URIRef) -> str:
    return iri.removeprefix(ID)


# ---------------------------------------------------------------------------------------------
# Our side: organisations and versioned administrative units
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    iri: URIRef
    level: str  # "kommune" | "fylke"
    code: str
    labels: frozenset[str]  # skos:prefLabel and skos:altLabel @nb
    period: Period


def organisations(g: Graph) -> set[URIRef]:
    return {s for t in ORGANISATION_TYPES for s in g.subjects(RDF.type, t) if isinstance(s, URIRef)}


def public_bodies(g: Graph) -> set[URIRef]:
    """The bodies that can govern a municipality or county (``cv:PublicOrganisation``)."""
    return {s for s in g.subjects(RDF.type, CV.PublicOrganisation) if isinstance(s, URIRef)}


def org_numbers(g: Graph, orgs: set[URIRef]) -> dict[URIRef, set[str]]:
    """The organisation numbers our data states (``dct:identifier`` typed Organisasjonsnummer)."""
    numbers: dict[URIRef, set[str]] = defaultdict(set)
    for s, value in g.subject_objects(DCTERMS.identifier):
        if s in orgs and isinstance(value, Literal):
            if value.datatype == BOLYST.Organisasjonsnummer:
                numbers[s].add(str(value))  # type: ignore[index]
    return numbers


def units(g: Graph) -> list[Unit]:
    """Every version of a municipality or county: whatever has an SSB code as skos:notation."""
    found = []
    for s, notation in g.subject_objects(SKOS.notation):
        if not isinstance(notation, Literal) or not isinstance(s, URIRef):
            continue
        level = LEVELS.get(URIRef(str(notation.datatype)))
        if level is None:
            continue
        labels = frozenset(
            str(label)
            for p in (SKOS.prefLabel, SKOS.altLabel)
            for label in g.objects(s, p)
            if isinstance(label, Literal) and label.language == "nb"
        )
        start = end = None
        for period in g.objects(s, DCTERMS.temporal):
            start = _date(g.value(period, DCAT.startDate)) or start
            end = _date(g.value(period, DCAT.endDate)) or end
        found.append(Unit(s, level, str(notation), labels, (start, end)))
    return sorted(found, key=lambda u: str(u.iri))


def bodies_of(g: Graph, orgs: set[URIRef]) -> dict[URIRef, set[URIRef]]:
    """Map each unit version to the bodies that govern it (``body dct:spatial unit``)."""
    bodies: dict[URIRef, set[URIRef]] = defaultdict(set)
    for body, unit in g.subject_objects(DCTERMS.spatial):
        if body in orgs and isinstance(unit, URIRef):
            bodies[unit].add(body)  # type: ignore[arg-type]
    return bodies


def _date(value: Node | None) -> date | None:
    if not isinstance(value, Literal):
        return None
    text = str(value)
    if re.fullmatch(r"\d{4}", text):
        return date(int(text), 1, 1)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def overlap(a: Period, b: Period) -> Period | None:
    """The common part of two periods, or ``None`` when they do not meet.

    >>> overlap((None, date(2017, 12, 31)), (date(2017, 1, 1), date(2017, 12, 31)))
    (datetime.date(2017, 1, 1), datetime.date(2017, 12, 31))
    >>> overlap((date(2018, 1, 1), None), (None, date(2017, 12, 31))) is None
    True
    """
    start = max((d for d in (a[0], b[0]) if d), default=None)
    end = min((d for d in (a[1], b[1]) if d), default=None)
    return None if start and end and start > end else (start, end)


# ---------------------------------------------------------------------------------------------
# Their side: registry extracts as CSV; each row is kept verbatim for the record's dct:source
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    file: str
    line: str
    values: dict[str, str]

    def quote(self) -> str:
        """The row as the records cite it (the convention of places.ttl)."""
        return f"data/refdata/{self.file}, row: {self.line}"

    def period(self) -> Period:
        start, end = self.values.get("valid_from", ""), self.values.get("valid_to", "")
        return (
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
        )


def read_rows(path: Path, required: tuple[str, ...]) -> list[Row]:
    """Read a refdata CSV (UTF-8, a header row, one record per line).

    Raises:
        InputError: the file is missing, or lacks a ``required`` column, or a row is ragged.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from exc
    header = next(csv.reader(lines[:1]), [])
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)} in the header")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            cells = next(csv.reader([line]))
            if len(cells) != len(header):
                raise InputError(
                    f"{path}, line {number}: {len(cells)} cells, {len(header)} expected"
                )
            rows.append(Row(path.name, line, dict(zip(header, cells, strict=True))))
    return rows


# ---------------------------------------------------------------------------------------------
# Enhetsregisteret
# ---------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())


def _name_variants(name: str) -> set[str]:
    """``"A (B)"`` also stands for ``"A"`` and ``"B"``."""
    variants = {_norm(name)}
    m = re.fullmatch(r"(.*?)\s*\((.*)\)\s*", name)
    if m:
        variants |= {_norm(m[1]), _norm(m[2])}
    return variants - {""}


def match_enhetsregisteret(ours: Graph, rows: list[Row]) -> Result:
    """Our organisations to Enhetsregisteret, on the organisation number.

    A row matches the organisation whose ``dct:identifier`` states its number; failing that, the
    body of the municipality or county number in its ``kind`` column (``dct:spatial``), which
    must agree when both are there; failing that, for a row without a code, a unique name. Grades
    A and B matched on a number or code become ``schema:sameAs``; grade C, and any match on the
    name alone, only a candidate.
    """
    tally = Tally("enhetsregisteret")
    orgs = organisations(ours)
    tally.considered = set(orgs)
    by_number: dict[str, set[URIRef]] = defaultdict(set)
    for org, numbers in org_numbers(ours, orgs).items():
        for number in numbers:
            by_number[number].add(org)
    by_unit = bodies_of(ours, public_bodies(ours))
    unit_by_code = {(u.level, u.code): u.iri for u in units(ours)}
    by_name: dict[str, set[URIRef]] = defaultdict(set)
    for org in orgs:
        for p in (SKOS.prefLabel, SKOS.altLabel):
            for label in ours.objects(org, p):
                by_name[_norm(str(label))].add(org)

    links = []
    for row in rows:
        orgnr, grade = row.values["orgnr"], row.values["grade"].strip().upper()
        target = URIRef(BRREG + orgnr)
        code = re.fullmatch(r"\s*(municipality|county_council)\s*\((\d+)\)\s*", row.values["kind"])
        from_code: set[URIRef] = set()
        if code:
            unit = unit_by_code.get(("kommune" if code[1] == "municipality" else "fylke", code[2]))
            from_code = set(by_unit.get(unit, set())) if unit else set()
        named = set().union(*(by_name.get(n, set()) for n in _name_variants(row.values["name"])))
        subjects, method = by_number.get(orgnr, set()), "organisation number"
        if subjects and code and not subjects <= from_code:
            for s in subjects:
                tally.ambiguous[s].add(f"{target} (its body does not govern {code[2]})")
            continue
        if not subjects and code:
            # Several bodies may sit in a county (a university college...): the name decides.
            subjects = from_code & named if len(from_code) > 1 else from_code
            kind = "municipality" if code[1] == "municipality" else "county"
            method = f"{kind} number {code[2]} (the body of that unit) and the name"
        elif not subjects:
            subjects, method = named, f"name «{row.values['name']}»"
        if not subjects:
            tally.unused_rows.append(f"{orgnr} {row.values['name']}")
            continue
        if len(subjects) > 1:
            for s in subjects:
                tally.ambiguous[s].add(str(target))
            continue
        candidate = grade not in {"A", "B"} or method.startswith("name")
        note = f"Matched on the {method}; grade {grade} in data/refdata/organisations.csv."
        if candidate:
            note += " Not confirmed, so schema:sameAs is not stated."
        links.append(
            Link(
                linkset="links--enhetsregisteret",
                predicate=SDO.sameAs,
                subject=next(iter(subjects)),
                target=target,
                key=orgnr,
                confidence=f"grade-{grade.lower()}" if grade in {"A", "B"} else "grade-c",
                candidate=candidate,
                sources=(row.quote(),),
                derived_from=(URIRef(SRC + "refdata-organisations"),),
                note=note,
            )
        )
    return _settle("enhetsregisteret", links, tally, one_target=True)


# ---------------------------------------------------------------------------------------------
# SSB KLASS
# ---------------------------------------------------------------------------------------------


def match_klass(
    ours: Graph, municipalities: list[Row], counties: list[Row], versions: list[Row]
) -> Result:
    """Each unit version to the KLASS sources of its code, on the code, the name and the period.

    Municipalities link to every version of classification 131 (among ``versions``) in which the
    code was in force under one of the unit's names; counties to classification 104. A code whose
    rows carry none of the unit's names is ambiguous (the code may have moved to another place).
    """
    tally = Tally("ssb-klass")
    by_code: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in municipalities:
        by_code[("kommune", row.values["code"])].append(row)
    for row in counties:
        by_code[("fylke", row.values["code"])].append(row)
    links = []
    for unit in units(ours):
        tally.considered.add(unit.iri)
        rows = [r for r in by_code[(unit.level, unit.code)] if overlap(unit.period, r.period())]
        if rows and not any(r.values["name"] in unit.labels for r in rows):
            tally.ambiguous[unit.iri] |= {f"{unit.code} {r.values['name']}" for r in rows}
            continue
        for row in rows:
            common = overlap(unit.period, row.period())
            if unit.level == "fylke":
                links.append(_klass_link(unit, row, None))
            elif common is not None:
                links += [
                    _klass_link(unit, row, v) for v in versions if overlap(common, v.period())
                ]
    return _settle("ssb-klass", links, tally, one_target=False)


def _klass_link(unit: Unit, row: Row, version: Row | None) -> Link:
    if version is None:
        target, key = URIRef(KLASS + "classifications/104"), "104"
        sources: tuple[str, ...] = (row.quote(),)
        derived: tuple[URIRef, ...] = (URIRef(SRC + "refdata-counties"),)
        note = (
            f"Matched on county number {unit.code}, the name and the validity period (KLASS 104)."
        )
    else:
        target, key = URIRef(version.values["iri"]), f"131-v{version.values['id']}"
        sources = (row.quote(), version.quote())
        derived = (
            URIRef(SRC + "refdata-municipalities"),
            URIRef(SRC + "refdata-klass-131-versions"),
        )
        note = (
            f"Matched on municipality number {unit.code}, the name and the validity period: "
            f"the code is in force in «{version.values['name']}»."
        )
    return Link(
        "links--ssb-klass", DCTERMS.source, unit.iri, target, key, "grade-a", False, sources,
        derived, note,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Geonorge
# ---------------------------------------------------------------------------------------------


def match_geonorge(ours: Graph, rows: list[Row]) -> Result:
    """Unit versions in force in 2020-2023 to Geonorge's concepts, on a unique name."""
    tally = Tally("geonorge")
    in_window = [u for u in units(ours) if overlap(u.period, GEONORGE_PERIOD)]
    tally.considered = {u.iri for u in in_window}
    links = []
    for row in rows:
        level, title, iri = row.values["level"], row.values["title"], row.values["iri"]
        found = [u for u in in_window if u.level == level and title in u.labels]
        if not found:
            tally.unused_rows.append(f"{level} {title}")
        elif len(found) > 1:
            for u in found:
                tally.ambiguous[u.iri].add(iri)
        else:
            links.append(
                Link(
                    "links--geonorge",
                    SKOS.exactMatch,
                    found[0].iri,
                    URIRef(iri),
                    iri.rsplit("/", 1)[-1],
                    "name-match",
                    False,
                    (row.quote(),),
                    (URIRef(SRC + "refdata-geonorge"),),
                    f"Matched on the name «{title}» (a unique title in the Geonorge file, which "
                    "has no codes) and the period 2020–2023 that the Geonorge concept denotes.",
                )  # fmt: skip
            )
    return _settle("geonorge", links, tally, one_target=True)


# ---------------------------------------------------------------------------------------------
# Wikidata
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Key:
    """A code we look up in Wikidata, and the resource of ours it stands for."""

    prop: str  # P2504 municipality number | P2333 organisation number | P300 ISO 3166-2
    code: str
    subject: URIRef
    linkset: str  # links--wikidata (schema:sameAs) | links--wikidata-places (rdfs:seeAlso)


def wikidata_keys(ours: Graph, *, with_orgnr: bool) -> list[Key]:
    """Our codes: municipality numbers (for the bodies, §6), county numbers, organisation numbers.

    Municipality items go to the bodies that govern the unit (``schema:sameAs`` once confirmed),
    county items to the county versions (``rdfs:seeAlso``: Wikidata does not separate versions).
    """
    orgs = organisations(ours)
    by_unit = bodies_of(ours, public_bodies(ours))
    keys = set()
    for unit in units(ours):
        if unit.level == "fylke":
            keys.add(Key("P300", f"NO-{unit.code}", unit.iri, "links--wikidata-places"))
        elif by_unit.get(unit.iri):
            keys |= {Key("P2504", unit.code, b, "links--wikidata") for b in by_unit[unit.iri]}
        else:
            keys.add(Key("P2504", unit.code, unit.iri, "links--wikidata-places"))
    if with_orgnr:
        for org, numbers in org_numbers(ours, orgs).items():
            keys |= {Key("P2333", n, org, "links--wikidata") for n in numbers}
    return sorted(keys)


def match_wikidata_csv(ours: Graph, rows: list[Row]) -> Result:
    """Candidates from an extract keyed ``municipality:0403`` / ``county:04`` (grade C)."""
    keys = wikidata_keys(ours, with_orgnr=False)
    by_code: dict[tuple[str, str], list[Key]] = defaultdict(list)
    for key in keys:
        by_code[(key.prop, key.code)].append(key)
    hits, unused = [], []
    for row in rows:
        kind, _, code = row.values["entity"].partition(":")
        found = by_code.get(("P2504", code) if kind == "municipality" else ("P300", f"NO-{code}"))
        if not found:
            unused.append(f"{row.values['entity']} {row.values['qid']}")
        hits += [(key, row.values["qid"], row.quote()) for key in found or []]
    result = _wikidata(keys, hits, (URIRef(SRC + "refdata-wikidata"),))
    result.tally.unused_rows.extend(unused)
    return result


VALUES_BLOCK = "VALUES (?property ?code) { }"


def match_wikidata_endpoint(
    ours: Graph, endpoint: RemoteEndpoint, query: str, batch: int = 50
) -> Result:
    """Candidates from a Wikidata-shaped SPARQL endpoint (``?item wdt:P2504 "0403"``...).

    ``query`` is ``queries/remote/wikidata-items-by-code.rq``. Its empty ``VALUES`` block is
    filled with our codes in batches of ``batch``; a remote endpoint cannot bind parameters, so
    every code is first checked to be digits (or ``NO-`` and digits).
    """
    if VALUES_BLOCK not in query:
        raise InputError(f"the Wikidata query has no {VALUES_BLOCK!r} line to fill")
    keys = wikidata_keys(ours, with_orgnr=True)
    by_pair: dict[tuple[str, str], list[Key]] = defaultdict(list)
    for key in keys:
        if not re.fullmatch(r"P\d+", key.prop) or not re.fullmatch(r"(NO-)?\d{2,9}", key.code):
            raise InputError(f"refusing to send {key.prop} {key.code!r} to {endpoint.url}")
        by_pair[(key.prop, key.code)].append(key)
    pairs = sorted(by_pair)
    hits = []
    for start in range(0, len(pairs), batch):
        values = " ".join(f'(<{WDT}{p}> "{c}")' for p, c in pairs[start : start + batch])
        text = query.replace(VALUES_BLOCK, f"VALUES (?property ?code) {{ {values} }}")
        for answer in endpoint.select(text):
            prop = answer.get("property", "").removeprefix(WDT)
            code, item = answer.get("code", ""), answer.get("item", "")
            quote = f'{endpoint.url} answered ?item wdt:{prop} "{code}" with {item}'
            qid = item.removeprefix(WIKIDATA) if item.startswith(WIKIDATA) else item
            hits += [(key, qid, quote) for key in by_pair.get((prop, code), [])]
    return _wikidata(keys, hits, (URIRef(endpoint.url),))


def _wikidata(
    keys: list[Key], hits: list[tuple[Key, str, str]], derived: tuple[URIRef, ...]
) -> Result:
    tally = Tally("wikidata")
    tally.considered = {k.subject for k in keys}
    grouped: dict[tuple[str, URIRef, str], set[str]] = defaultdict(set)
    for key, qid, quote in hits:
        if re.fullmatch(r"Q[1-9][0-9]*", qid):
            grouped[(key.linkset, key.subject, qid)].add(quote)
        else:
            tally.unused_rows.append(f"not a Wikidata item: {qid!r} ({quote})")
    links = [
        Link(
            linkset,
            SDO.sameAs if linkset == "links--wikidata" else RDFS.seeAlso,
            subject,
            URIRef(WIKIDATA + qid),
            qid.lower(),
            "grade-c",
            True,
            tuple(sorted(quotes)),
            derived,
            "Grade C: one non-official join (or an unchecked query) of our code to a Wikidata "
            "item. Check the item, and whether it means this body or place and period, before "
            "stating the link in data/links/curated.ttl.",
        )
        for (linkset, subject, qid), quotes in sorted(grouped.items())
    ]
    return _settle("wikidata", links, tally, one_target=True)


def _settle(file: str, links: list[Link], tally: Tally, *, one_target: bool) -> Result:
    """Drop the links of ambiguous subjects; merge a link found twice into one record.

    With ``one_target``, a subject with two targets, or a target claimed by two subjects, in the
    same link set is ambiguous: neither gets a link.
    """
    if one_target:
        targets: dict[tuple[str, URIRef], set[URIRef]] = defaultdict(set)
        subjects: dict[tuple[str, URIRef], set[URIRef]] = defaultdict(set)
        for link in links:
            targets[(link.linkset, link.subject)].add(link.target)
            subjects[(link.linkset, link.target)].add(link.subject)
        for (_, subject), found in targets.items():
            if len(found) > 1:
                tally.ambiguous[subject] |= {str(t) for t in found}
        for (_, target), found in subjects.items():
            if len(found) > 1:
                for subject in found:
                    tally.ambiguous[subject].add(f"{target} (claimed by {len(found)})")
    merged: dict[tuple[str, URIRef, URIRef], Link] = {}
    for link in links:
        if link.subject in tally.ambiguous:
            continue
        seen = merged.get((link.linkset, link.subject, link.target))
        if seen is not None:  # e.g. Hamar through 0403 and 3403: one record, both sources
            link = replace(seen, sources=tuple(sorted({*seen.sources, *link.sources})))
        merged[(link.linkset, link.subject, link.target)] = link
    return Result(file, tuple(merged[k] for k in sorted(merged)), tally)
