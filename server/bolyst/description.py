"""The dataset's description: VoID computed from the graph, DCAT-AP-NO around it.

The hand-written part (titles, publisher, themes, coverage, licence) is Turtle in
``catalog/dataset.ttl``; versions and dates come from ``CHANGELOG.md``, the one place a release
is named. :func:`describe` adds the rest: version, previous version, dates, VoID statistics and
partitions, and one ``dcat:Distribution`` per dump with its size and checksums.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from bolyst.errors import LoadError
from bolyst.load import display_name
from bolyst.namespaces import BASE, ID, ONTOLOGY
from bolyst.release import IANA, FileSpec

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
VOID = Namespace("http://rdfs.org/ns/void#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SCHEMA = Namespace("https://schema.org/")
FORMATS = Namespace("http://www.w3.org/ns/formats/")

DATASET = URIRef(ID + "dataset/bolyst-kg")
CATALOG = URIRef(ID + "catalog/bolyst")
SERVICE = URIRef(ID + "data-service/sparql")
RIGHTS = URIRef(ID + "rights/bolyst-kg")
DUMPS_URL = BASE + "dumps/"
SPARQL_URL = BASE + "sparql"
EXAMPLE_CLASS = URIRef(ONTOLOGY + "RegionalTraineeProgramme")

RECORD_PREFIXES = {
    "adms": str(ADMS),
    "dcat": str(DCAT),
    "dct": str(DCT),
    "foaf": "http://xmlns.com/foaf/0.1/",
    "owl": str(OWL),
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": str(SCHEMA),
    "spdx": str(SPDX),
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "void": str(VOID),
    "xsd": str(XSD),
}
_FEATURES = {
    "text/turtle": FORMATS.Turtle,
    "application/n-triples": FORMATS["N-Triples"],
    "application/trig": FORMATS.TriG,
    "application/n-quads": FORMATS["N-Quads"],
    "application/ld+json": FORMATS["JSON-LD"],
}

# "## 0.1.0 — 2026-11-23": a version and its release date; the newest entry comes first.
_HEADING = re.compile(r"^## (\d+\.\d+\.\d+) +[-–—] +(\d{4}-\d{2}-\d{2})\s*$")


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    released: date
    notes: str


def read_changelog(path: Path) -> tuple[ChangelogEntry, ...]:
    """The releases listed in ``CHANGELOG.md``, newest first.

    Raises:
        LoadError: no release heading, a bad date, or versions not strictly descending.
    """
    name = display_name(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LoadError(name, None, exc.strerror or str(exc)) from exc
    # Each "## " heading opens a section up to the next one; text before the first is a preface.
    sections: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            sections.append((number, line, []))
        elif sections and line.strip():
            sections[-1][2].append(line.strip().removeprefix("- ").strip())
    entries: list[ChangelogEntry] = []
    for number, heading, notes in sections:
        match = _HEADING.match(heading)
        if match is None:
            raise LoadError(name, number, "a release heading reads '## 1.2.3 — YYYY-MM-DD'")
        try:
            released = date.fromisoformat(match.group(2))
        except ValueError as exc:
            raise LoadError(name, number, f"not a date: {match.group(2)}") from exc
        entries.append(ChangelogEntry(match.group(1), released, " ".join(notes)))
    if not entries:
        raise LoadError(name, None, "no release heading ('## 1.2.3 — YYYY-MM-DD')")
    keys = [tuple(int(part) for part in e.version.split(".")) for e in entries]
    if keys != sorted(set(keys), reverse=True):
        raise LoadError(name, None, "releases must be listed newest first, each version once")
    return tuple(entries)


def version_iri(version: str) -> URIRef:
    """The IRI of one release of the dataset.

    >>> str(version_iri("0.1.0"))
    'https://w3id.org/bolyst/id/dataset/bolyst-kg/0.1.0'
    """
    return URIRef(f"{DATASET}/{version}")


@dataclass(frozen=True)
class Dump:
    """A written file, as the description needs it."""

    spec: FileSpec
    size: int
    sha256: str
    sha1: str


def describe(
    static: Graph,
    graph: Graph,
    changelog: Sequence[ChangelogEntry],
    dumps: Iterable[Dump],
    prefixes: Mapping[str, str],
) -> Graph:
    """The catalogue record: ``static`` plus version, dates, VoID of ``graph`` and distributions.

    Args:
        static: the hand-written part (``catalog/dataset.ttl``).
        graph: the whole published graph (ontology and data), for the VoID statistics.
        changelog: the releases, newest first; the first one is the release being built.
        dumps: the files written so far; those holding the whole graph become distributions.
        prefixes: namespace prefixes, used to name the vocabularies the graph uses.
    """
    record = Graph(bind_namespaces="none")
    for prefix, namespace in sorted(RECORD_PREFIXES.items()):
        record.bind(prefix, namespace)
    record += static
    current = changelog[0]
    first = changelog[-1]
    released = Literal(current.released.isoformat(), datatype=XSD.date)
    _add_version(record, changelog)
    for node in (CATALOG, DATASET):
        record.add((node, DCT.issued, Literal(first.released.isoformat(), datatype=XSD.date)))
        record.add((node, DCT.modified, released))
    record.add((DATASET, VOID.sparqlEndpoint, URIRef(SPARQL_URL)))
    record.add((SERVICE, DCAT.endpointURL, URIRef(SPARQL_URL)))
    record.add((SERVICE, DCAT.endpointDescription, URIRef(SPARQL_URL)))
    _add_void(record, graph, prefixes)
    for dump in dumps:
        if dump.spec.part == "graph":
            _add_distribution(record, dump, released)
    return record


def _add_version(record: Graph, changelog: Sequence[ChangelogEntry]) -> None:
    current = changelog[0]
    record.add((DATASET, DCAT.version, Literal(current.version)))
    record.add((DATASET, OWL.versionInfo, Literal(current.version)))
    record.add((DATASET, OWL.versionIRI, version_iri(current.version)))
    if current.notes:
        record.add((DATASET, ADMS.versionNotes, Literal(current.notes, lang="en")))
    if len(changelog) > 1:
        record.add((DATASET, DCAT.previousVersion, version_iri(changelog[1].version)))


def _add_distribution(record: Graph, dump: Dump, released: Literal) -> None:
    spec = dump.spec
    node = URIRef(ID + "distribution/" + spec.name.replace(".", "-"))
    record.add((DATASET, DCAT.distribution, node))
    record.add((DATASET, VOID.dataDump, URIRef(DUMPS_URL + spec.name)))
    if spec.media_type in _FEATURES:
        record.add((DATASET, VOID.feature, _FEATURES[spec.media_type]))
    record.add((node, RDF.type, DCAT.Distribution))
    record.add((node, DCT.title, Literal(spec.label_nb, lang="nb")))
    record.add((node, DCT.title, Literal(spec.label_en, lang="en")))
    record.add((node, DCAT.accessURL, URIRef(DUMPS_URL)))
    record.add((node, DCAT.downloadURL, URIRef(DUMPS_URL + spec.name)))
    record.add((node, DCAT.mediaType, URIRef(spec.media_type_iri)))
    if spec.format_iri:
        record.add((node, DCT["format"], URIRef(spec.format_iri)))
    if spec.gzipped:
        record.add((node, DCAT.compressFormat, URIRef(IANA + "application/gzip")))
    # DCAT-AP-NO 2.00 types dcat:byteSize as xsd:decimal (DCAT 2 says nonNegativeInteger).
    record.add((node, DCAT.byteSize, Literal(f"{dump.size}.0", datatype=XSD.decimal)))
    # DCAT-AP(-NO) 2 allows one spdx:checksum and only SHA-1; SHA-256 goes in schema:sha256
    # and in SHA256SUMS.
    checksum = BNode()
    record.add((node, SPDX.checksum, checksum))
    record.add((checksum, RDF.type, SPDX.Checksum))
    record.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha1))
    record.add((checksum, SPDX.checksumValue, Literal(dump.sha1, datatype=XSD.hexBinary)))
    record.add((node, SCHEMA.sha256, Literal(dump.sha256)))
    for prop in (DCT.license, DCT.accessRights):
        for value in record.objects(DATASET, prop):
            record.add((node, prop, value))
    record.add((node, DCT.rights, RIGHTS))
    record.add((node, DCT.issued, released))


@dataclass(frozen=True)
class VoidStats:
    triples: int
    entities: int
    subjects: int
    objects: int
    classes: Counter[Node]
    properties: Counter[Node]
    examples: tuple[Node, ...]
    vocabularies: tuple[str, ...]
    linksets: tuple[Node, ...]


def void_stats(graph: Graph, prefixes: Mapping[str, str]) -> VoidStats:
    """Count what VoID describes: triples, entities, distinct subjects and objects, classes with
    their instances, properties with their triples, example resources, vocabularies, link sets.

    Entities are the IRI subjects inside our ``void:uriSpace``.
    """
    subjects = set(graph.subjects())
    classes: Counter[Node] = Counter()
    for _, cls in set(graph.subject_objects(RDF.type)):
        classes[cls] += 1
    properties: Counter[Node] = Counter(p for _, p, _ in graph)
    vocabularies = {_namespace(str(term), prefixes) for term in (*classes, *properties)}
    return VoidStats(
        triples=len(graph),
        entities=sum(1 for s in subjects if isinstance(s, URIRef) and s.startswith(ID)),
        subjects=len(subjects),
        objects=len(set(graph.objects())),
        classes=classes,
        properties=properties,
        examples=tuple(sorted(graph.subjects(RDF.type, EXAMPLE_CLASS), key=str)),
        vocabularies=tuple(sorted(v for v in vocabularies if not v.startswith(ID))),
        linksets=tuple(sorted(graph.subjects(RDF.type, VOID.Linkset), key=str)),
    )


def _add_void(record: Graph, graph: Graph, prefixes: Mapping[str, str]) -> None:
    stats = void_stats(graph, prefixes)
    for prop, count in (
        (VOID.triples, stats.triples),
        (VOID.entities, stats.entities),
        (VOID.distinctSubjects, stats.subjects),
        (VOID.distinctObjects, stats.objects),
        (VOID.classes, len(stats.classes)),
        (VOID.properties, len(stats.properties)),
    ):
        record.add((DATASET, prop, Literal(count)))
    for cls, count in sorted(stats.classes.items(), key=lambda item: str(item[0])):
        partition = BNode()
        record.add((DATASET, VOID.classPartition, partition))
        record.add((partition, VOID["class"], cls))
        record.add((partition, VOID.entities, Literal(count)))
    for term, count in sorted(stats.properties.items(), key=lambda item: str(item[0])):
        partition = BNode()
        record.add((DATASET, VOID.propertyPartition, partition))
        record.add((partition, VOID.property, term))
        record.add((partition, VOID.triples, Literal(count)))
    for example in stats.examples:
        record.add((DATASET, VOID.exampleResource, example))
    for vocabulary in stats.vocabularies:
        record.add((DATASET, VOID.vocabulary, URIRef(vocabulary)))
    for linkset in stats.linksets:
        record.add((DATASET, VOID.subset, linkset))


def _namespace(iri: str, prefixes: Mapping[str, str]) -> str:
    """The vocabulary an IRI belongs to: the longest known namespace, else up to the last # or /.

    >>> _namespace("http://www.w3.org/ns/org#member", {})
    'http://www.w3.org/ns/org#'
    >>> _namespace("https://schema.org/name", {"schema": "https://schema.org/"})
    'https://schema.org/'
    """
    known = [ns for ns in prefixes.values() if iri.startswith(ns) and len(iri) > len(ns)]
    if known:
        return max(known, key=len)
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]
