"""The ontology's documentation (``/ontology``), generated from ``ontology/*.ttl`` itself.

Our classes, properties and datatypes (the terms ``rdfs:isDefinedBy`` the ontology), each with its
labels and definitions in Bokmål and English and its place in the standard vocabularies
(subclass of, subproperty of, domain, range); then every concept scheme with its concepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bolyst.namespaces import ONTOLOGY, ONTOLOGY_DOC
from bolyst.pages import page_queries
from bolyst.pages.i18n import LANGUAGES
from bolyst.pages.resource import Link, href_of, link
from bolyst.pages.site import Site
from bolyst.store.local import Term, Triple, graph_triples, select_terms

OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
KINDS = {
    OWL + "Class": "classes",
    RDFS + "Class": "classes",
    OWL + "ObjectProperty": "properties",
    OWL + "DatatypeProperty": "properties",
    OWL + "AnnotationProperty": "properties",
    RDFS + "Datatype": "datatypes",
}
RELATIONS = (RDFS + "subClassOf", RDFS + "subPropertyOf", RDFS + "domain", RDFS + "range")


@dataclass(frozen=True)
class Text:
    lang: str
    text: str


@dataclass
class TermDoc:
    iri: str
    anchor: str
    name: str
    labels: list[Text]
    definitions: list[Text]
    relations: list[tuple[Link, list[Link]]]
    kind: Link | None = None


@dataclass
class ConceptDoc:
    concept: Link
    code: str | None
    other_label: str | None
    definition: str | None
    broader: list[Link]


@dataclass
class SchemeDoc:
    iri: str
    anchor: str
    name: str
    href: str | None
    definition: str | None
    concepts: list[ConceptDoc]


@dataclass
class OntologyPage:
    iri: str
    title: str
    description: str | None
    version: str | None
    license: Link | None
    classes: list[TermDoc] = field(default_factory=list)
    properties: list[TermDoc] = field(default_factory=list)
    datatypes: list[TermDoc] = field(default_factory=list)
    schemes: list[SchemeDoc] = field(default_factory=list)


def anchor_of(iri: str) -> str:
    """The fragment of an ontology term, or a made-up one for a concept scheme.

    >>> anchor_of("https://w3id.org/bolyst/ontology#Goal")
    'Goal'
    >>> anchor_of("https://w3id.org/bolyst/id/scheme/role")
    'scheme-role'
    """
    if iri.startswith(ONTOLOGY):
        return iri[len(ONTOLOGY) :]
    return "scheme-" + iri.rstrip("/").rsplit("/", 1)[-1]


def build(site: Site, ontology_graphs: Iterable[str], lang: str) -> OntologyPage:
    """Document the ontology in ``ontology_graphs`` for a reader of ``lang``."""
    graphs = tuple(ontology_graphs)
    triples = graph_triples(site.store, graphs)
    about = _index(triples)
    meta = about.get(ONTOLOGY_DOC, {})
    version = meta.get(OWL + "versionInfo", [None])[0]
    licence = meta.get("http://purl.org/dc/terms/license", [None])[0]
    page = OntologyPage(
        iri=ONTOLOGY_DOC,
        title=site.name(ONTOLOGY_DOC, lang),
        description=site.text(ONTOLOGY_DOC, lang),
        version=version.value if version else None,
        license=link(site, licence.value, lang) if licence and licence.is_iri else None,
    )
    rows = select_terms(site.store, page_queries.text("ontology-terms"), default_graphs=graphs)
    seen: set[str] = set()
    for row in rows:
        iri, kind = row["term"].value, row["kind"].value
        section = KINDS.get(kind)
        if section is None or iri in seen:
            continue
        seen.add(iri)
        doc = _term(site, iri, about.get(iri, {}), lang)
        doc.kind = link(site, kind, lang)
        getattr(page, section).append(doc)
    for docs in (page.classes, page.properties, page.datatypes):
        docs.sort(key=lambda d: d.anchor.lower())
    page.schemes = _schemes(site, graphs, lang)
    return page


def _index(triples: Iterable[Triple]) -> dict[str, dict[str, list[Term]]]:
    about: dict[str, dict[str, list[Term]]] = {}
    for s, p, o in triples:
        if s.is_iri:
            about.setdefault(s.value, {}).setdefault(p.value, []).append(o)
    return about


def _texts(site: Site, values: dict[str, str], lang: str) -> list[Text]:
    order = [lang] + [x for x in LANGUAGES if x != lang]
    return [Text(x, values[x]) for x in order if x in values]


def _term(site: Site, iri: str, statements: dict[str, list[Term]], lang: str) -> TermDoc:
    definitions = {k: v[0] for k, v in site.texts.get(iri, {}).items()}
    relations = []
    for predicate in RELATIONS:
        values = [link(site, t.value, lang) for t in statements.get(predicate, []) if t.is_iri]
        if values:
            relations.append((link(site, predicate, lang), values))
    return TermDoc(
        iri=iri,
        anchor=anchor_of(iri),
        name=site.name(iri, lang),
        labels=_texts(site, site.names.get(iri, {}), lang),
        definitions=_texts(site, definitions, lang),
        relations=relations,
    )


def _schemes(site: Site, graphs: tuple[str, ...], lang: str) -> list[SchemeDoc]:
    rows = select_terms(site.store, page_queries.text("concepts"), default_graphs=graphs)
    schemes: dict[str, SchemeDoc] = {}
    concepts: dict[tuple[str, str], ConceptDoc] = {}
    for row in rows:
        scheme = row["scheme"].value
        doc = schemes.get(scheme)
        if doc is None:
            doc = schemes[scheme] = SchemeDoc(
                iri=scheme,
                anchor=anchor_of(scheme),
                name=site.name(scheme, lang),
                href=href_of(scheme),
                definition=site.text(scheme, lang),
                concepts=[],
            )
        if "concept" not in row:
            continue
        concept = row["concept"].value
        key = (scheme, concept)
        entry = concepts.get(key)
        if entry is None:
            other = [x for x in LANGUAGES if x != lang][0]
            other_label = site.names.get(concept, {}).get(other)
            entry = concepts[key] = ConceptDoc(
                concept=link(site, concept, lang),
                code=row["notation"].value if "notation" in row else None,
                other_label=other_label if other_label != site.name(concept, lang) else None,
                definition=site.text(concept, lang),
                broader=[],
            )
            doc.concepts.append(entry)
        if "broader" in row and all(b.iri != row["broader"].value for b in entry.broader):
            entry.broader.append(link(site, row["broader"].value, lang))
    for doc in schemes.values():
        doc.concepts.sort(key=lambda c: (c.code or "", c.concept.name.lower()))
    return sorted(schemes.values(), key=lambda d: d.name.lower())
