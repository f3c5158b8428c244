"""Regenerate the link sets in ``data/links/`` (`bolyst link`): match, render, diff, write.

The matchers are in :mod:`bolyst.linkmatch`, the checks in :mod:`bolyst.linkcheck`; the VoID
description of each set is hand-written in ``data/links/linksets.ttl``. Each generated file holds:

- ``void:triples`` (computed) and ``dct:modified`` for its link set(s);
- the link triples: grades A and B, and Geonorge's name matches;
- one link record per link (``bolyst:LinkRecord``; also ``bolyst:LinkCandidate`` for grade C,
  whose link triple is never written): subject, target, confidence, source row, note.

Curated links (``data/links/curated.ttl``) are never written: a generated link already there is
left out, one that contradicts it (same subject and predicate, another target in the same
register) is dropped, and both are reported. A checksum in each generated file's header detects
hand edits; a hand-edited file is not overwritten unless forced.

Output is deterministic (sorted; ``dct:modified`` changes only with the links), so writing twice
gives no diff.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDFS, SKOS
from rdflib.term import Node

from bolyst.linkmatch import (
    BOLYST,
    BRREG,
    DS,
    GEONORGE,
    KLASS,
    SDO,
    WIKIDATA,
    Link,
    Result,
    match_enhetsregisteret,
    match_geonorge,
    match_klass,
    match_wikidata_csv,
    match_wikidata_endpoint,
    read_rows,
)
from bolyst.load import find_sources, parse_file
from bolyst.namespaces import ID
from bolyst.store.remote import RemoteEndpoint

VOID = "http://rdfs.org/ns/void#"
CONFIDENCE = ID + "link-confidence/"
REMOTE_QUERY = "queries/remote/wikidata-items-by-code.rq"
CHECKSUM = re.compile(r"^# bolyst-link-checksum: sha256:([0-9a-f]{64})\n", re.MULTILINE)


@dataclass(frozen=True)
class FileSpec:
    """One generated file: its link sets, and the register namespace its targets live in."""

    stem: str
    title: str
    linksets: tuple[str, ...]
    namespace: str


FILES = (
    FileSpec(
        "enhetsregisteret",
        "our organisations -> Enhetsregisteret (schema:sameAs; grade C as candidates)",
        ("links--enhetsregisteret",),
        BRREG,
    ),
    FileSpec(
        "ssb-klass",
        "our municipality and county versions -> SSB KLASS (dct:source)",
        ("links--ssb-klass",),
        KLASS,
    ),
    FileSpec(
        "geonorge",
        "our 2020-2023 unit versions -> Geonorge administrative units (skos:exactMatch)",
        ("links--geonorge",),
        GEONORGE,
    ),
    FileSpec(
        "wikidata",
        "our bodies and county versions -> Wikidata (grade C: candidates only, no link triples)",
        ("links--wikidata", "links--wikidata-places"),
        WIKIDATA,
    ),
)

PREFIXES = {
    "bolyst": str(BOLYST),
    "ds": DS,
    "link": ID + "link/",
    "src": ID + "source/",
    "orgn": ID + "organisation/",
    "prog": ID + "programme/",
    "au": ID + "admin-unit/",
    "lc": CONFIDENCE,
    "void": VOID,
    "prov": str(PROV),
    "dct": str(DCTERMS),
    "skos": str(SKOS),
    "schema": str(SDO),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}


# ---------------------------------------------------------------------------------------------
# Matching everything
# ---------------------------------------------------------------------------------------------


def load_ours(root: Path) -> tuple[Graph, Graph]:
    """The ontology and data without ``data/links/``; and the curated links, as two graphs."""
    sources = find_sources(root)
    links = sources.root / "data" / "links"
    ours, curated = Graph(), Graph()
    for path in (*sources.ontology, *sources.data):
        if links not in path.parents:
            parse_file(path, into=ours, root=sources.root)
    if (links / "curated.ttl").is_file():
        parse_file(links / "curated.ttl", into=curated, root=sources.root)
    return ours, curated


def match_all(root: Path, endpoint: RemoteEndpoint | None = None) -> list[Result]:
    """Match our data against every register: from ``data/refdata/``, Wikidata optionally live.

    Raises:
        InputError: a refdata file is missing or malformed.
        RemoteError: the endpoint kept failing.
    """
    root = root.resolve()
    ours, curated = load_ours(root)
    refdata = root / "data" / "refdata"
    results = [
        match_enhetsregisteret(
            ours, read_rows(refdata / "organisations.csv", ("orgnr", "name", "kind", "grade"))
        ),
        match_klass(
            ours,
            read_rows(refdata / "municipalities.csv", ("code", "name", "valid_from", "valid_to")),
            read_rows(refdata / "counties.csv", ("code", "name", "valid_from", "valid_to")),
            read_rows(refdata / "klass-131-versions.csv", ("id", "name", "valid_from", "iri")),
        ),
        match_geonorge(ours, read_rows(refdata / "geonorge.csv", ("level", "title", "iri"))),
    ]
    if endpoint is None:
        rows = read_rows(refdata / "wikidata.csv", ("entity", "qid"))
        results.append(match_wikidata_csv(ours, rows))
    else:
        query = (root / REMOTE_QUERY).read_text(encoding="utf-8")
        results.append(match_wikidata_endpoint(ours, endpoint, query))
    return [respect_curated(result, curated) for result in results]


def respect_curated(result: Result, curated: Graph) -> Result:
    """Leave out links that curated.ttl already states or contradicts, and say so."""
    spec = next(f for f in FILES if f.stem == result.file)
    kept = []
    for link in result.links:
        stated = set(curated.objects(link.subject, link.predicate))
        rivals = sorted(str(o) for o in stated if str(o).startswith(spec.namespace))
        if link.target in stated:
            result.tally.dropped.append(f"{link.record.removeprefix(ID)}: already in curated.ttl")
        elif rivals:
            result.tally.dropped.append(
                f"{link.record.removeprefix(ID)}: curated.ttl links {link.subject.removeprefix(ID)}"
                f" to {', '.join(rivals)} instead of {link.target}"
            )
        else:
            kept.append(link)
    return Result(result.file, tuple(kept), result.tally)


# ---------------------------------------------------------------------------------------------
# Rendering: stable Turtle, one statement per line
# ---------------------------------------------------------------------------------------------

RECORD_ORDER = (
    RDF.type,
    DCTERMS.subject,
    DCTERMS.references,
    DCTERMS.isPartOf,
    BOLYST.confidence,
    DCTERMS.source,
    PROV.wasDerivedFrom,
    SKOS.editorialNote,
)


def render(spec: FileSpec, links: Iterable[Link], modified: str, sources: Iterable[str]) -> str:
    """The Turtle of one link-set file, byte for byte the same for the same input."""
    links = sorted(links, key=lambda link: (link.record, link.target))
    statements: dict[URIRef, dict[URIRef, set[Node]]] = {}

    def add(s: URIRef, p: URIRef, o: Node) -> None:
        statements.setdefault(s, {}).setdefault(p, set()).add(o)

    for name in spec.linksets:
        count = sum(1 for link in links if link.linkset == name and not link.candidate)
        add(URIRef(DS + name), URIRef(VOID + "triples"), Literal(count))
        add(URIRef(DS + name), DCTERMS.modified, Literal(modified, datatype=XSD.date))
    for link in links:
        if not link.candidate:
            add(link.subject, link.predicate, link.target)
        record = link.record
        # Every superclass stated: no inference is run on the data.
        add(record, RDF.type, BOLYST.LinkRecord)
        add(record, RDF.type, PROV.Entity)
        if link.candidate:
            add(record, RDF.type, BOLYST.LinkCandidate)
        add(record, DCTERMS.subject, link.subject)
        add(record, DCTERMS.references, link.target)
        add(record, DCTERMS.isPartOf, URIRef(DS + link.linkset))
        add(record, BOLYST.confidence, URIRef(CONFIDENCE + link.confidence))
        for quote in link.sources:
            add(record, DCTERMS.source, Literal(quote))
        for origin in link.derived_from:
            add(record, PROV.wasDerivedFrom, origin)
        add(record, SKOS.editorialNote, Literal(link.note, lang="en"))

    lines = [f"PREFIX {p + ':':<8}<{ns}>" for p, ns in PREFIXES.items()]
    # Link-set counts first, then the linked resources, then the records.
    sets = [s for s in statements if s.startswith(DS)]
    records = [s for s in statements if s.startswith(ID + "link/")]
    others = [s for s in statements if s not in sets and s not in records]
    for subject in (*sorted(sets), *sorted(others), *sorted(records)):
        lines += ["", _n3(subject)]
        order = {p: i for i, p in enumerate(RECORD_ORDER)}
        preds = sorted(statements[subject], key=lambda p: (order.get(p, len(order)), str(p)))
        for i, p in enumerate(preds):
            objects = " , ".join(sorted(_n3(o) for o in statements[subject][p]))
            verb = "a" if p == RDF.type else _n3(p)
            lines.append(f"    {verb} {objects} {'.' if i == len(preds) - 1 else ';'}")
    body = "\n".join(lines) + "\n"
    header = [
        f"# Link set file: {spec.title}.",
        "# GENERATED by `bolyst link --write`; do not edit by hand (a hand-edited file is not",
        "# overwritten): checked links go in data/links/curated.ttl. Described in linksets.ttl.",
        *(f"# Source: {s}" for s in sorted(set(sources))),
        f"# bolyst-link-checksum: sha256:{hashlib.sha256(body.encode()).hexdigest()}",
    ]
    return "\n".join(header) + "\n" + body


def _n3(term: Node) -> str:
    if isinstance(term, URIRef):
        for prefix, ns in PREFIXES.items():
            local = str(term)[len(ns) :]
            if term.startswith(ns) and re.fullmatch(
                r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?", local
            ):
                return f"{prefix}:{local}"
        return f"<{term}>"
    if isinstance(term, Literal):
        if term.datatype == XSD.integer:
            return str(int(term))
        text = str(term).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        if term.language:
            return f'"{text}"@{term.language}'
        if term.datatype is not None:
            return f'"{text}"^^{_n3(term.datatype)}'
        return f'"{text}"'
    raise TypeError(f"cannot write {term!r}")


# ---------------------------------------------------------------------------------------------
# Planning and writing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    path: Path
    old: str | None
    new: str
    hand_edited: bool

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self, root: Path) -> str:
        name = self.path.relative_to(root).as_posix()
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a/{name}" if self.old is not None else "/dev/null",
                tofile=f"b/{name}",
            )
        )


def is_hand_edited(text: str) -> bool:
    """A generated file whose body no longer matches the checksum in its header."""
    found = CHECKSUM.search(text)
    if found is None:
        return True
    body = text[found.end() :]
    return hashlib.sha256(body.encode()).hexdigest() != found[1]


def plan(root: Path, results: list[Result], today: date) -> list[FileChange]:
    """What each link-set file would become. ``dct:modified`` stays unless the links change."""
    root = root.resolve()
    changes = []
    for result in results:
        spec = next(f for f in FILES if f.stem == result.file)
        path = root / "data" / "links" / f"{spec.stem}.ttl"
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        sources = {str(o) for link in result.links for o in link.derived_from}
        new = render(spec, result.links, today.isoformat(), sources)
        if old is not None:
            previous = re.search(r'dct:modified "(\d{4}-\d{2}-\d{2})"', old)
            if previous and render(spec, result.links, previous[1], sources) == old:
                new = old
        changes.append(FileChange(path, old, new, old is not None and is_hand_edited(old)))
    return changes


def write(changes: list[FileChange], *, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the changed files; return (written, refused because edited by hand)."""
    written, refused = [], []
    for change in changes:
        if not change.changed:
            continue
        if change.hand_edited and not force:
            refused.append(change.path)
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        change.path.write_text(change.new, encoding="utf-8")
        written.append(change.path)
    return written, refused


def user_agent(version: str) -> str:
    """Who is asking, as Wikidata's User-Agent policy wants it."""
    return (
        f"bolyst-link/{version} (https://w3id.org/bolyst; open-data knowledge graph of Norway's "
        "regional trainee programmes) SPARQLWrapper/2"
    )
