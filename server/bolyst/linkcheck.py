"""Check the link sets (`bolyst link --check`): patterns, check digits, identities, counts.

- Every IRI on a register's host in ``data/links/`` matches that register's pattern.
- Organisation numbers (in links and in ``dct:identifier``) pass the modulus-11 check; a
  ``schema:sameAs`` to Enhetsregisteret agrees with the number our data states; SSB codes have
  their length (municipality and county numbers carry no check digit).
- No two of our resources claim the same external identity: the same identity predicate
  (``schema:sameAs``, ``owl:sameAs``, ``skos:exactMatch``) to the same target, as a triple or as
  a link record (candidates included).
- Each ``void:Linkset`` states as many ``void:triples`` as its file holds links.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDFS, SKOS
from rdflib.term import Node

from bolyst.linkmatch import BOLYST, SDO
from bolyst.load import find_sources, load_dataset, union
from bolyst.namespaces import GRAPH, ID

VOID = Namespace("http://rdfs.org/ns/void#")
IDENTITY = (SDO.sameAs, OWL.sameAs, SKOS.exactMatch)

# (register, host suffix, the only shape its IRIs may have)
REGISTERS = (
    (
        "Enhetsregisteret",
        "brreg.no",
        re.compile(r"https://data\.brreg\.no/enhetsregisteret/api/enheter/(\d{9})"),
    ),
    ("Wikidata", "wikidata.org", re.compile(r"http://www\.wikidata\.org/entity/Q[1-9][0-9]*")),
    (
        "Geonorge",
        "geonorge.no",
        re.compile(
            r"https://data\.geonorge\.no/administrativeEnheter/(kommune|fylke|nasjon)/id/[1-9][0-9]*"
        ),
    ),
    (
        "SSB KLASS",
        "ssb.no",
        re.compile(
            r"https://data\.ssb\.no/api/klass/v1/"
            r"(classifications|versions|correspondencetables)/[1-9][0-9]*"
        ),
    ),
)
CODES = {BOLYST.Kommunenummer: r"\d{4}", BOLYST.Fylkesnummer: r"\d{2}"}


@dataclass(frozen=True, order=True)
class Problem:
    where: str  # the file (data/links/x.ttl) or "data"
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.subject}: {self.message}"


def orgnr_is_valid(number: str) -> bool:
    """Nine digits whose last is the modulus-11 check digit (weights 3 2 7 6 5 4 3 2).

    >>> orgnr_is_valid("970540008"), orgnr_is_valid("970540007"), orgnr_is_valid("97054000")
    (True, False, False)
    """
    if not re.fullmatch(r"\d{9}", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:8], (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    check = 11 - total % 11
    return check != 10 and (0 if check == 11 else check) == int(number[8])


def register_of(iri: str) -> tuple[str, re.Pattern[str]] | None:
    """The register whose host an IRI is on (any scheme, any subdomain), with its pattern."""
    host = (urlsplit(iri).hostname or "").lower()
    for name, suffix, pattern in REGISTERS:
        if host == suffix or host.endswith("." + suffix):
            return name, pattern
    return None


def check_iri(iri: str) -> str | None:
    """Why an IRI on a register's host is malformed, or ``None`` when it is fine (or not theirs).

    >>> check_iri("https://www.wikidata.org/wiki/Q104400")
    'not a Wikidata IRI of the form http://www.wikidata.org/entity/Q[1-9][0-9]*'
    >>> check_iri("https://data.brreg.no/enhetsregisteret/api/enheter/970540007")
    'organisation number 970540007 fails its modulus-11 check digit'
    """
    found = register_of(iri)
    if found is None:
        return None
    name, pattern = found
    match = pattern.fullmatch(iri)
    if match is None:
        return f"not a {name} IRI of the form {pattern.pattern.replace(chr(92), '')}"
    if name == "Enhetsregisteret" and not orgnr_is_valid(match[1]):
        return f"organisation number {match[1]} fails its modulus-11 check digit"
    return None


def check_links(root: Path) -> list[Problem]:
    """Every problem in ``data/links/`` (and the codes in the rest of ``data/``), sorted."""
    sources = find_sources(root)
    dataset = load_dataset((*sources.ontology, *sources.data), sources.root)
    return sorted(set(check_dataset(dataset)))


def check_dataset(dataset: Dataset) -> list[Problem]:
    problems: list[Problem] = []
    link_graphs = {
        _file(g.identifier): g
        for g in dataset.graphs()
        if str(g.identifier).startswith(GRAPH + "data/links/")
    }
    everything = union(dataset)
    # Outbound links: the objects of the link predicates (not homepages or endpoints).
    outbound = {*IDENTITY, RDFS.seeAlso, DCTERMS.source, DCTERMS.references}
    outbound |= {p for p in everything.objects(None, VOID.linkPredicate) if isinstance(p, URIRef)}
    for name, graph in link_graphs.items():
        for s, p, o in graph:
            if p in outbound and isinstance(o, URIRef) and (why := check_iri(str(o))):
                problems.append(Problem(name, _short(s), f"{o}: {why}"))
    problems += _check_codes(everything)
    problems += _check_identities(everything, link_graphs)
    problems += _check_counts(everything, link_graphs)
    return problems


def _check_codes(g: Graph) -> list[Problem]:
    problems = []
    stated: dict[Node, set[str]] = defaultdict(set)
    for s, value in g.subject_objects(DCTERMS.identifier):
        if isinstance(value, Literal) and value.datatype == BOLYST.Organisasjonsnummer:
            stated[s].add(str(value))
            if not orgnr_is_valid(str(value)):
                why = "is not nine digits with a valid modulus-11 check digit"
                problems.append(Problem("data", _short(s), f"organisation number {value} {why}"))
    for s, value in g.subject_objects(SKOS.notation):
        if not isinstance(value, Literal) or value.datatype not in CODES:
            continue
        if not re.fullmatch(CODES[URIRef(str(value.datatype))], str(value)):
            kind = "municipality" if value.datatype == BOLYST.Kommunenummer else "county"
            problems.append(Problem("data", _short(s), f"{kind} number {value!s} is malformed"))
    for s, target in g.subject_objects(SDO.sameAs):
        match = REGISTERS[0][2].fullmatch(str(target))
        if match and stated.get(s) and match[1] not in stated[s]:
            said = ", ".join(sorted(stated[s]))
            problems.append(
                Problem("data", _short(s), f"schema:sameAs {target} but dct:identifier says {said}")
            )
    return problems


def _check_identities(g: Graph, link_graphs: dict[str, Graph]) -> list[Problem]:
    claims: dict[tuple[URIRef, Node], set[Node]] = defaultdict(set)
    for p in IDENTITY:
        for s, o in g.subject_objects(p):
            if isinstance(o, URIRef) and not str(o).startswith(ID):
                claims[(p, o)].add(s)
    predicates = {ls: p for ls, p in g.subject_objects(VOID.linkPredicate) if isinstance(p, URIRef)}
    for record, subject in g.subject_objects(DCTERMS.subject):
        linkset, target = g.value(record, DCTERMS.isPartOf), g.value(record, DCTERMS.references)
        predicate = predicates.get(linkset) if linkset is not None else None
        if predicate in IDENTITY and predicate is not None and target is not None:
            claims[(predicate, target)].add(subject)
    problems = []
    for (p, o), subjects in claims.items():
        if len(subjects) > 1:
            names = ", ".join(sorted(_short(s) for s in subjects))
            where = ", ".join(sorted(n for n, lg in link_graphs.items() if (None, p, o) in lg))
            problems.append(
                Problem(
                    where or "data",
                    str(o),
                    f"claimed by {len(subjects)} of ours ({g.qname(p)}): {names}",
                )
            )
    return problems


def _check_counts(g: Graph, link_graphs: dict[str, Graph]) -> list[Problem]:
    problems = []
    for linkset, predicate in g.subject_objects(VOID.linkPredicate):
        file = str(g.value(linkset, DCTERMS.identifier) or "")
        space = g.value(g.value(linkset, VOID.objectsTarget), VOID.uriSpace)
        graph = link_graphs.get(file)
        if graph is None or space is None:
            problems.append(
                Problem("data/links/linksets.ttl", _short(linkset), "no file or no target uriSpace")
            )
            continue
        if not isinstance(predicate, URIRef):
            continue
        targets = graph.objects(None, predicate)
        actual = sum(1 for o in targets if str(o).startswith(str(space)))
        stated = [int(v) for v in g.objects(linkset, VOID.triples) if isinstance(v, Literal)]
        if stated != [actual]:
            said = ", ".join(map(str, stated)) or "nothing"
            problems.append(
                Problem(
                    file,
                    _short(linkset),
                    f"void:triples says {said}, the file holds {actual} links "
                    "(run bolyst link --write)",
                )
            )
    return problems


def _file(graph: Node) -> str:
    return str(graph).removeprefix(GRAPH) + ".ttl"


def _short(term: Node) -> str:
    return str(term).removeprefix(ID)
